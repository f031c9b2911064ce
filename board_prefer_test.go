package main

import (
	"net/http"
	"testing"
)

// TestCardPatchReturnMinimal checks Prefer: return=minimal (RFC 7240) on
// PATCH /api/boards/{id}/cards/{cardId}: 204, no body and
// Preference-Applied: return=minimal, the write done all the same; the
// same errors as without it; and any other Prefer ignored, leaving the
// 200 {board} answer exactly as it is without one.
func TestCardPatchReturnMinimal(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, func(c *config) { c.rateLimits = false })
		alice, mallory := env.newClient(), env.newClient()
		alice.signup("alice", "alice@example.com", "password1")
		mallory.signup("mallory", "mallory@example.com", "password1")
		b := alice.createBoard("Trip")
		todo, done := alice.addList(b.ID, "To do"), alice.addList(b.ID, "Done")
		book := alice.addCard(b.ID, todo.ID, "Book")
		pack := alice.addCard(b.ID, todo.ID, "Pack")
		path := "/api/boards/" + b.ID + "/cards/"

		minimal := func(pref, id string, body map[string]any, want string) {
			t.Helper()
			r := alice.do("PATCH", path+id, body, "Prefer", pref).want(t, http.StatusNoContent)
			if len(r.body) != 0 {
				t.Errorf("Prefer %q: 204 with a body %q", pref, r.body)
			}
			if got := r.Header.Get("Preference-Applied"); got != "return=minimal" {
				t.Errorf("Prefer %q: Preference-Applied %q, want return=minimal", pref, got)
			}
			if got := layout(alice.board(b.ID)); got != want {
				t.Errorf("Prefer %q: after the PATCH, layout %q, want %q", pref, got, want)
			}
		}
		minimal("return=minimal", book.ID, map[string]any{"listId": done.ID}, "To do: Pack | Done: Book")
		minimal("respond-async, return=minimal", pack.ID, map[string]any{"listId": done.ID, "position": 0}, "To do:  | Done: Pack Book")
		minimal("Return = \"MINIMAL\"; x=1, wait=10", book.ID, map[string]any{"title": "Book it"}, "To do:  | Done: Pack Book it")
		minimal("return=minimal", book.ID, map[string]any{}, "To do:  | Done: Pack Book it")

		// Errors are the same with the preference; nothing is written.
		before := alice.boardJSON(b.ID)
		alice.do("PATCH", path+"0123456789abcdef01234567", map[string]any{"title": "x"}, "Prefer", "return=minimal").wantProblem(t, 404, "not_found")
		alice.do("PATCH", path+book.ID, map[string]any{"listId": "0123456789abcdef01234567"}, "Prefer", "return=minimal").wantProblem(t, 404, "not_found")
		alice.do("PATCH", path+book.ID, map[string]any{"title": ""}, "Prefer", "return=minimal").wantProblem(t, 422, "validation_failed")
		mallory.do("PATCH", path+book.ID, map[string]any{"title": "mine"}, "Prefer", "return=minimal").wantProblem(t, 404, "not_found")
		if after := alice.boardJSON(b.ID); after != before {
			t.Errorf("failed minimal PATCHes changed the board:\n%s\nwas\n%s", after, before)
		}

		// Without the exact preference the answer is 200 {board}, as before,
		// and the write is done.
		for i, pref := range []string{
			"", "return=representation", "return=minimalist", "return-minimal", "return",
			"return=representation, return=minimal", `foo="a, return=minimal"`, "; return=minimal",
			"handling=lenient", "minimal", "return=min imal", "\"return=minimal\"",
		} {
			want := "To do:  | Done: Pack Book it"
			pos := 0
			if i%2 == 1 {
				pos, want = 1, "To do:  | Done: Book it Pack"
			}
			r := alice.do("PATCH", path+pack.ID, map[string]any{"position": pos}, "Prefer", pref).want(t, http.StatusOK)
			if got := r.Header.Get("Preference-Applied"); got != "" {
				t.Errorf("Prefer %q: Preference-Applied %q on the full answer", pref, got)
			}
			if got := layout(boardOf(t, r)); got != want {
				t.Errorf("Prefer %q: answered layout %q, want %q", pref, got, want)
			}
			if got, read := string(r.body), alice.boardJSON(b.ID); got != read {
				t.Errorf("Prefer %q: answer\n%s\ndiffers from a read\n%s", pref, got, read)
			}
		}
	})
}
