package boardhttp

import (
	"bytes"
	"net/http"

	"corkboard/objectid"
	"corkboard/web"
)

// decodeEditCard reads the body of PATCH /api/boards/{id}/cards/{cardId}
// into req: a move as the web client sends it with plainMove, anything
// else as web.DecodeJSON reads it.
func decodeEditCard(w http.ResponseWriter, r *http.Request, req *editCardRequest) error {
	return web.DecodeJSONPlain(w, r, req, plainMove)
}

// plainMove reads the body of a card move as the web client sends it,
// {"listId":"L","position":N}, give or take JSON whitespace around the
// object, into req, and reports whether the body had that shape; if not,
// req is left as it was. L must have the shape of an id (objectid.Valid)
// and N be a non-negative integer of at most nine digits without a leading
// zero, so that such a body decodes to L and N whatever the decoder: it
// holds no escape, no other member, no number that could overflow, and
// nothing after the object. Anything else (another order or spacing, a
// title, a malformed body) is left to web.DecodeJSON, which stays the
// definition; FuzzMoveBody checks that the two agree.
//
// A move is the board's most frequent write (every card dragged), and
// encoding/json's decoder, with its buffers and its reflection over
// editCardRequest, takes about three times as long to read it
// (BenchmarkMoveBody).
func plainMove(body []byte, req *editCardRequest) bool {
	body = bytes.Trim(body, " \t\r\n") // JSON's whitespace, no more
	rest, ok := bytes.CutPrefix(body, []byte(`{"listId":"`))
	if !ok {
		return false
	}
	end := bytes.IndexByte(rest, '"')
	if end != 24 {
		return false // not an id: no string made for it
	}
	listID := string(rest[:end])
	if !objectid.Valid(listID) {
		return false
	}
	digits, ok := bytes.CutPrefix(rest[end:], []byte(`","position":`))
	if !ok {
		return false
	}
	digits, ok = bytes.CutSuffix(digits, []byte("}"))
	if !ok || len(digits) == 0 || len(digits) > 9 || (digits[0] == '0' && len(digits) > 1) {
		return false
	}
	position := 0
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
		position = position*10 + int(c-'0')
	}
	req.ListID, req.Position = &listID, &position
	return true
}
