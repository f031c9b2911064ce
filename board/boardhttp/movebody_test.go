package boardhttp

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"corkboard/web"
	"corkboard/web/webtest"
)

// moveID is a list id of the shape every id has.
const moveID = "65a1b2c3d4e5f60718293a4b"

// move is the body {"listId":"id","position":position}, as the web client
// writes it.
func move(id, position string) string {
	return `{"listId":"` + id + `","position":` + position + `}`
}

// plainMoves are bodies that plainMove must read itself: the web client's
// move, and the same with whitespace around it, the smallest and largest
// position it takes.
var plainMoves = []string{
	move(moveID, "17"),
	" \t\r\n" + move(moveID, "0") + "\n",
	move(moveID, "999999999"),
}

// otherMoves are bodies around the plain shape that plainMove must leave
// to web.DecodeJSON: valid ones it does not take (another order, spacing,
// member, escape, a number it does not read, an id of another shape), and
// invalid ones.
var otherMoves = []string{
	`{"position":17,"listId":"` + moveID + `"}`,
	`{"listId": "` + moveID + `", "position": 17}`,
	`{"listId":"` + moveID + `","position":17,"title":"x"}`,
	`{"title":"x","listId":"` + moveID + `","position":17}`,
	move(`65a1b2c3d4e5f60718293a4\u0062`, "1"),
	move(strings.ToUpper(moveID), "1"),
	move(moveID[1:], "1"),
	move(moveID+"0", "1"),
	move("a", "1"),
	move("a-b", "1"),
	move("é", "1"),
	move("", "1"),
	move(moveID, "1234567890"),
	move(moveID, "99999999999999999999"),
	move(moveID, "-1"),
	move(moveID, "1.5"),
	move(moveID, "1e2"),
	move(moveID, "01"),
	move(moveID, `"1"`),
	move(moveID, ""),
	move(moveID, "null"),
	move(moveID, "1}"),
	move(moveID, "1} {"),
	move(moveID, "1") + "x",
	strings.TrimSuffix(move(moveID, "1"), "}"),
	`{"listId":"` + moveID + `""position":1}`,
	`{"listId":null,"position":1}`,
	`{"listid":"` + moveID + `","position":1}`,
	"\v" + move(moveID, "1"),
	move(moveID, "1") + "\u00a0",
	`{"listId":"` + moveID + `","listId":"` + moveID + `","position":1}`,
	`{}`,
	``,
}

// TestPlainMove checks that reading a move's body with plainMove gives
// what web.DecodeJSON gives, value or problem, for bodies of the plain
// shape and around it, with each Content-Type; and that plainMove takes
// exactly the plain ones.
func TestPlainMove(t *testing.T) {
	for _, body := range append(append([]string{}, plainMoves...), otherMoves...) {
		for _, ct := range []string{"application/json", "application/json; charset=utf-8", "text/plain", ""} {
			checkMoveBody(t, body, ct)
		}
	}
	// A plain move past the size limit is refused (413) before it is read.
	checkMoveBody(t, strings.Repeat(" ", web.MaxBodyBytes)+plainMoves[0], "application/json")
	for _, body := range plainMoves {
		if !plainMove([]byte(body), new(editCardRequest)) {
			t.Errorf("plainMove(%q) = false, want the plain shape read", body)
		}
	}
	for _, body := range otherMoves {
		if plainMove([]byte(body), new(editCardRequest)) {
			t.Errorf("plainMove(%q) = true, want it left to encoding/json", body)
		}
	}
}

// FuzzMoveBody checks that reading a move's body with plainMove agrees
// with web.DecodeJSON on any body and Content-Type.
func FuzzMoveBody(f *testing.F) {
	for _, body := range append(append([]string{}, plainMoves...), otherMoves...) {
		f.Add(body, "application/json")
	}
	f.Fuzz(func(t *testing.T, body, ct string) {
		checkMoveBody(t, body, ct)
	})
}

// checkMoveBody compares decodeEditCard, as EditCard reads its body, with
// web.DecodeJSON, value and problem, on one body sent with Content-Type
// ct. It also holds plainMove alone to its two rules: a body it takes
// decodes, as JSON, without a problem to what it read; a body it leaves
// leaves the request untouched.
func checkMoveBody(t *testing.T, body, ct string) {
	t.Helper()
	request := func(ct string) *http.Request {
		r := httptest.NewRequest("PATCH", "/api/boards/b/cards/c", strings.NewReader(body))
		r.Header.Set("Content-Type", ct)
		return r
	}
	var got, want editCardRequest
	gotErr := decodeEditCard(httptest.NewRecorder(), request(ct), &got)
	wantErr := web.DecodeJSON(httptest.NewRecorder(), request(ct), &want)
	if !reflect.DeepEqual(got, want) || !webtest.SameProblem(gotErr, wantErr) {
		t.Errorf("body %q, Content-Type %q: decodeEditCard %s, %v; web.DecodeJSON %s, %v",
			body, ct, showEdit(got), gotErr, showEdit(want), wantErr)
	}

	var plain, asJSON editCardRequest
	if plainMove([]byte(body), &plain) {
		err := web.DecodeJSONBody(request("application/json"), []byte(body), &asJSON)
		if err != nil || !reflect.DeepEqual(plain, asJSON) {
			t.Errorf("plainMove(%q) took %s; as JSON it is %s, %v", body, showEdit(plain), showEdit(asJSON), err)
		}
	} else if plain != (editCardRequest{}) {
		t.Errorf("plainMove(%q) left the body but changed the request: %s", body, showEdit(plain))
	}
}

// showEdit prints the fields of an editCardRequest that are set.
func showEdit(req editCardRequest) string {
	var b strings.Builder
	b.WriteString("{")
	for _, f := range []struct {
		name string
		v    *string
	}{{"title", req.Title}, {"description", req.Description}, {"listId", req.ListID}} {
		if f.v != nil {
			fmt.Fprintf(&b, " %s=%q", f.name, *f.v)
		}
	}
	if req.Position != nil {
		fmt.Fprintf(&b, " position=%d", *req.Position)
	}
	b.WriteString(" }")
	return b.String()
}

// BenchmarkMoveBody reads a move's body as the web client sends it, with
// web.DecodeJSON and with decodeEditCard, as EditCard reads it, in one
// run. The request is made once; its body is a reader set back to the
// start before each read.
func BenchmarkMoveBody(b *testing.B) {
	body := []byte(plainMoves[0])
	for _, tc := range []struct {
		name   string
		decode func(w http.ResponseWriter, r *http.Request, req *editCardRequest) error
	}{
		{"DecodeJSON", func(w http.ResponseWriter, r *http.Request, req *editCardRequest) error {
			return web.DecodeJSON(w, r, req)
		}},
		{"decodeEditCard", decodeEditCard},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			w := httptest.NewRecorder()
			r := httptest.NewRequest("PATCH", "/api/boards/b/cards/c", nil)
			r.Header.Set("Content-Type", "application/json")
			rd := &rewound{Reader: bytes.NewReader(body)}
			r.Body = rd
			for b.Loop() {
				rd.Reset(body)
				var req editCardRequest
				if err := tc.decode(w, r, &req); err != nil || req.Position == nil || *req.Position != 17 {
					b.Fatalf("%s: %v, %s", tc.name, err, showEdit(req))
				}
			}
		})
	}
}

// rewound is a request body that a benchmark sets back to its start.
type rewound struct{ *bytes.Reader }

func (rewound) Close() error { return nil }
