package authhttp

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"testing"

	"corkboard/web"
)

// TestTokenBodyJSON checks that refreshAnswer's hand-written JSON is what
// encoding/json writes for a TokenBody, that TokenBody has no field it
// does not write, and that TokenBody itself has no AppendJSON for the
// answers that embed it to take.
func TestTokenBodyJSON(t *testing.T) {
	if n := reflect.TypeFor[TokenBody]().NumField(); n != 4 {
		t.Fatalf("TokenBody has %d fields; refreshAnswer.AppendJSON writes 4", n)
	}
	if _, ok := any(TokenBody{}).(web.JSONAppender); ok {
		t.Fatal("TokenBody is a web.JSONAppender: sign-up and login, which embed it, would answer the tokens alone")
	}
	for _, b := range []TokenBody{
		{AccessToken: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1In0.c2ln", TokenType: "Bearer", ExpiresIn: 900},
		{AccessToken: "a", TokenType: "Bearer", ExpiresIn: -1, RefreshToken: "r.e.f"},
		{},
		{AccessToken: "<&>\"\\\x00é", TokenType: "\xff", ExpiresIn: 1 << 62, RefreshToken: "\u2028"},
	} {
		var want bytes.Buffer
		json.NewEncoder(&want).Encode(b)
		rec := httptest.NewRecorder()
		web.WriteJSON(rec, 200, refreshAnswer(b))
		if rec.Body.String() != want.String() {
			t.Errorf("WriteJSON(%+v) wrote\n%s\nencoding/json writes\n%s", b, rec.Body, want.String())
		}
	}
}
