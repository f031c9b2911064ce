package main

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"testing"
)

// TestBoardAnswersNeverStale makes a write of every kind a board has, on
// both stores, and after each reads the board as its two members: each
// read shows the write, the answer of a write that returns the board is
// byte for byte what the next read of its writer gets, and each member
// sees their own isFavourite and the members' names as they are now. The
// board answers are made from the bytes of the lists and cards written
// before (board/boardhttp's encoder): this is the proof that none of them
// outlives a change, nor crosses from one member to the other.
func TestBoardAnswersNeverStale(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, func(c *config) { c.rateLimits = false })
		alice, bob := env.newClient(), env.newClient()
		alice.signup("alice", "alice@example.com", "password1")
		bob.signup("bob", "bob@example.com", "password1")
		bobID := meOf(t, bob).ID
		b := joinedBoard(t, alice, "Plans", bob)
		path := "/api/boards/" + b.ID
		todo := alice.addList(b.ID, "To do")
		done := alice.addList(b.ID, "Done")
		var cards []cardDoc
		for i := range 6 {
			cards = append(cards, alice.addCard(b.ID, todo.ID, fmt.Sprintf("Card %d", i)))
		}
		// Both read the board, so that the encoder holds its lists.
		alice.board(b.ID)
		bob.board(b.ID)

		favourite := map[*client]bool{alice: false, bob: false}
		check := func(step string, answer *response, writer *client, want func(b boardDoc) string) {
			t.Helper()
			for _, c := range []*client{alice, bob} {
				r := c.do("GET", path, nil).want(t, http.StatusOK)
				got := boardOf(t, r)
				if msg := want(got); msg != "" {
					t.Fatalf("after %s, %s reads a board where %s:\n%s", step, meOf(t, c).Username, msg, r.body)
				}
				if got.IsFavourite != favourite[c] {
					t.Fatalf("after %s, %s reads isFavourite %v, want %v", step, meOf(t, c).Username, got.IsFavourite, favourite[c])
				}
				if answer != nil && c == writer && !bytes.Equal(answer.body, r.body) {
					t.Fatalf("after %s, the write answered\n%s\nbut the next read of its writer is\n%s", step, answer.body, r.body)
				}
			}
		}
		cardIn := func(b boardDoc, list int, id string) int {
			if list >= len(b.Lists) {
				return -1
			}
			return slices.IndexFunc(b.Lists[list].Cards, func(c cardDoc) bool { return c.ID == id })
		}

		r := alice.do("PATCH", path, map[string]string{"title": "Plans, renamed"}).want(t, http.StatusOK)
		check("a new title", r, alice, func(b boardDoc) string {
			return unless(b.Title == "Plans, renamed", "the title is %q", b.Title)
		})
		r = bob.do("PATCH", path, map[string]string{"backgroundURL": "https://example.com/sky.png"}).want(t, http.StatusOK)
		check("a new background", r, bob, func(b boardDoc) string {
			return unless(b.BackgroundURL == "https://example.com/sky.png", "the background is %q", b.BackgroundURL)
		})
		r = alice.do("PATCH", path+"/lists/"+done.ID, map[string]string{"name": "Done <&>"}).want(t, http.StatusOK)
		check("a list renamed", r, alice, func(b boardDoc) string {
			return unless(b.Lists[1].Name == "Done <&>", "the list is named %q", b.Lists[1].Name)
		})
		r = alice.do("PATCH", path+"/lists/"+done.ID, map[string]int{"position": 0}).want(t, http.StatusOK)
		check("a list moved", r, alice, func(b boardDoc) string {
			return unless(b.Lists[0].ID == done.ID, "the lists are %s", layout(b))
		})
		r = bob.do("PATCH", path+"/cards/"+cards[0].ID, map[string]string{"title": "Card 0, edited", "description": "now\nwith notes"}).want(t, http.StatusOK)
		check("a card edited", r, bob, func(b boardDoc) string {
			i := cardIn(b, 1, cards[0].ID)
			return unless(i == 0 && b.Lists[1].Cards[0].Title == "Card 0, edited" && b.Lists[1].Cards[0].Description == "now\nwith notes",
				"the card is not as edited: %s", layout(b))
		})
		r = alice.do("PATCH", path+"/cards/"+cards[0].ID, map[string]string{"title": "Card 0, edited again"}).want(t, http.StatusOK)
		check("a card's title edited", r, alice, func(b boardDoc) string {
			return unless(b.Lists[1].Cards[0].Title == "Card 0, edited again", "the card is not as edited: %s", layout(b))
		})
		r = alice.do("PATCH", path+"/cards/"+cards[1].ID, map[string]any{"listId": done.ID, "position": 0}).want(t, http.StatusOK)
		check("a card moved to another list", r, alice, func(b boardDoc) string {
			return unless(cardIn(b, 0, cards[1].ID) == 0 && cardIn(b, 1, cards[1].ID) < 0, "the card is not first in Done: %s", layout(b))
		})
		r = alice.do("PATCH", path+"/cards/"+cards[5].ID, map[string]any{"position": 0}).want(t, http.StatusOK)
		check("a card moved in its list", r, alice, func(b boardDoc) string {
			return unless(cardIn(b, 1, cards[5].ID) == 0, "the card is not first in To do: %s", layout(b))
		})
		added := alice.addCard(b.ID, done.ID, "Card added")
		check("a card added", nil, nil, func(b boardDoc) string {
			return unless(cardIn(b, 0, added.ID) == 1, "the new card is not last in Done: %s", layout(b))
		})

		var a struct{ Attachment attachmentDoc }
		cardPath := path + "/cards/" + cards[2].ID
		alice.upload("POST", cardPath+"/attachments", part{name: "file", filename: "plan.pdf", contentType: "application/pdf", data: minimalPDF("plan")}).
			want(t, http.StatusCreated).json(t, &a)
		check("an attachment added", nil, nil, func(b boardDoc) string {
			i := cardIn(b, 1, cards[2].ID)
			return unless(i >= 0 && len(b.Lists[1].Cards[i].Attachments) == 1 && b.Lists[1].Cards[i].Attachments[0].ID == a.Attachment.ID,
				"the card has no attachment %s", a.Attachment.ID)
		})
		bob.do("DELETE", cardPath+"/attachments/"+a.Attachment.ID, nil).want(t, http.StatusNoContent)
		check("an attachment deleted", nil, nil, func(b boardDoc) string {
			i := cardIn(b, 1, cards[2].ID)
			return unless(i >= 0 && len(b.Lists[1].Cards[i].Attachments) == 0, "the card still has an attachment")
		})
		bob.do("DELETE", path+"/cards/"+cards[3].ID, nil).want(t, http.StatusNoContent)
		check("a card deleted", nil, nil, func(b boardDoc) string {
			return unless(cardIn(b, 1, cards[3].ID) < 0, "the card is still there: %s", layout(b))
		})

		for _, f := range []struct {
			c   *client
			fav bool
		}{{alice, true}, {bob, true}, {alice, false}, {bob, false}, {bob, true}} {
			f.c.do("PUT", path+"/favourite", map[string]bool{"favourite": f.fav}).want(t, http.StatusOK)
			favourite[f.c] = f.fav
			check(fmt.Sprintf("a favourite set to %v", f.fav), nil, nil, func(boardDoc) string { return "" })
		}

		bob.do("PATCH", "/api/users/"+bobID, map[string]string{"username": "robert"}).want(t, http.StatusOK)
		check("a member renamed", nil, nil, func(b boardDoc) string {
			names := []string{}
			for _, m := range b.Members {
				names = append(names, m.Username)
			}
			return unless(slices.Equal(names, []string{"alice", "robert"}), "the members are %v", names)
		})

		r = alice.do("PATCH", path+"/lists/"+todo.ID, map[string]any{"name": "Later", "position": 0}).want(t, http.StatusOK)
		check("a list renamed and moved", r, alice, func(b boardDoc) string {
			return unless(b.Lists[0].Name == "Later" && b.Lists[1].ID == done.ID, "the lists are %s", layout(b))
		})
		alice.do("DELETE", path+"/lists/"+done.ID, nil).want(t, http.StatusNoContent)
		check("a list deleted", nil, nil, func(b boardDoc) string {
			return unless(len(b.Lists) == 1 && b.Lists[0].ID == todo.ID, "the lists are %s", layout(b))
		})

		bob.do("DELETE", path+"/members/"+bobID, nil).want(t, http.StatusNoContent)
		got := alice.board(b.ID)
		if len(got.Members) != 1 || got.IsFavourite {
			t.Fatalf("after bob left, alice reads members %+v, isFavourite %v", got.Members, got.IsFavourite)
		}
		bob.do("GET", path, nil).wantProblem(t, http.StatusNotFound, "not_found")
	})
}

// unless returns "" when ok, else the message.
func unless(ok bool, format string, args ...any) string {
	if ok {
		return ""
	}
	return fmt.Sprintf(format, args...)
}
