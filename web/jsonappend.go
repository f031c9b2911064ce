package web

import (
	"encoding/json"
	"strconv"
	"sync"

	"corkboard/jsonappend"
)

// JSONAppender is implemented by the answers of the busiest routes (GET
// /api/users/me, POST /api/auth/refresh), which write their JSON by hand:
// encoding/json's reflection over them was 3-5% of those routes' CPU under
// load. AppendJSON appends exactly the bytes json.Marshal gives for the
// value, or reports false, having appended anything, for a value it leaves
// to encoding/json (WriteJSON then encodes it as usual). Each implementation
// has a test comparing the two.
//
// Give the method only to a type that nothing embeds: a struct embedding
// it would take the promoted method, and be written as the embedded value
// alone.
type JSONAppender interface {
	AppendJSON(b []byte) ([]byte, bool)
}

// answerBuffers holds the buffers WriteJSON builds hand-written answers in.
var answerBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxAnswerBuffer caps the buffers answerBuffers keeps.
const maxAnswerBuffer = 16 << 10

// writeAppended writes a's JSON and a newline to w, as json.Encoder does,
// and reports false if a left its value to encoding/json.
func writeAppended(w interface{ Write([]byte) (int, error) }, a JSONAppender) bool {
	bp := answerBuffers.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= maxAnswerBuffer {
			answerBuffers.Put(bp)
		}
	}()
	b, ok := a.AppendJSON((*bp)[:0])
	*bp = b
	if !ok {
		return false
	}
	b = append(b, '\n')
	*bp = b
	w.Write(b) // as json.Encoder: a failed write is the client's loss
	return true
}

// AppendJSONString appends s as a JSON string, exactly as encoding/json
// writes it (HTML characters escaped). Printable ASCII without '"', '\\',
// '<', '>' and '&', which ids, tokens and most names are, is copied as it
// is (jsonappend.Plain); anything else is encoded by encoding/json itself.
func AppendJSONString(b []byte, s string) []byte {
	if b, ok := jsonappend.Plain(b, s, true); ok {
		return b
	}
	q, _ := json.Marshal(s) // a string always encodes
	return append(b, q...)
}

// AppendJSONStrings appends ss as a JSON array of strings; nil is null, as
// encoding/json writes a nil slice.
func AppendJSONStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendJSONString(b, s)
	}
	return append(b, ']')
}

// AppendJSONInt appends n as encoding/json writes an integer.
func AppendJSONInt(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) }
