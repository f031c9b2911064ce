package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"corkboard/board"
)

// The documents of the board routes, as a client reads them.
type (
	boardDoc struct {
		ID            string         `json:"id"`
		Title         string         `json:"title"`
		BackgroundURL string         `json:"backgroundURL"`
		OwnerID       string         `json:"ownerId"`
		Members       []memberDoc    `json:"members"`
		Lists         []boardListDoc `json:"lists"`
		IsFavourite   bool           `json:"isFavourite"`
		CreatedAt     time.Time      `json:"createdAt"`
		UpdatedAt     time.Time      `json:"updatedAt"`
	}
	memberDoc struct {
		ID         string `json:"id"`
		Username   string `json:"username"`
		Color      string `json:"color"`
		PictureURL string `json:"pictureURL"`
		Owner      bool   `json:"owner"`
	}
	boardListDoc struct {
		ID    string    `json:"id"`
		Name  string    `json:"name"`
		Cards []cardDoc `json:"cards"`
	}
	cardDoc struct {
		ID          string          `json:"id"`
		Title       string          `json:"title"`
		Description string          `json:"description"`
		Attachments []attachmentDoc `json:"attachments"`
		CreatedAt   time.Time       `json:"createdAt"`
	}
	attachmentDoc struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		ContentType string `json:"contentType"`
		Size        int64  `json:"size"`
		URL         string `json:"url"`
	}
	summaryDoc struct {
		ID            string    `json:"id"`
		Title         string    `json:"title"`
		BackgroundURL string    `json:"backgroundURL"`
		IsFavourite   bool      `json:"isFavourite"`
		MemberCount   int       `json:"memberCount"`
		UpdatedAt     time.Time `json:"updatedAt"`
	}
	notificationDoc struct {
		ID           string    `json:"id"`
		Type         string    `json:"type"`
		BoardID      string    `json:"boardId"`
		BoardTitle   string    `json:"boardTitle"`
		FromUserID   string    `json:"fromUserId"`
		FromUsername string    `json:"fromUsername"`
		Accepted     *bool     `json:"accepted"`
		CreatedAt    time.Time `json:"createdAt"`
	}
)

// boardOf decodes a {"board": …} answer.
func boardOf(t *testing.T, r *response) boardDoc {
	t.Helper()
	var d struct{ Board boardDoc }
	r.json(t, &d)
	if d.Board.ID == "" {
		t.Fatalf("%s %s: no board in %s", r.Request.Method, r.Request.URL.Path, r.body)
	}
	return d.Board
}

// createBoard creates a board titled title, inviting invite.
func (c *client) createBoard(title string, invite ...string) boardDoc {
	c.env.t.Helper()
	body := map[string]any{"title": title}
	if len(invite) > 0 {
		body["invite"] = invite
	}
	return boardOf(c.env.t, c.do("POST", "/api/boards", body).want(c.env.t, http.StatusCreated))
}

// board reads the board id.
func (c *client) board(id string) boardDoc {
	c.env.t.Helper()
	return boardOf(c.env.t, c.do("GET", "/api/boards/"+id, nil).want(c.env.t, http.StatusOK))
}

// boardJSON reads the board id as the raw bytes of the answer, to compare
// before and after requests that must change nothing.
func (c *client) boardJSON(id string) string {
	c.env.t.Helper()
	return string(c.do("GET", "/api/boards/"+id, nil).want(c.env.t, http.StatusOK).body)
}

// addList appends a list named name to the board.
func (c *client) addList(boardID, name string) boardListDoc {
	c.env.t.Helper()
	var d struct{ List boardListDoc }
	c.do("POST", "/api/boards/"+boardID+"/lists", map[string]string{"name": name}).want(c.env.t, http.StatusCreated).json(c.env.t, &d)
	return d.List
}

// addCard appends a card titled title to a list.
func (c *client) addCard(boardID, listID, title string) cardDoc {
	c.env.t.Helper()
	var d struct{ Card cardDoc }
	c.do("POST", "/api/boards/"+boardID+"/lists/"+listID+"/cards", map[string]string{"title": title}).
		want(c.env.t, http.StatusCreated).json(c.env.t, &d)
	return d.Card
}

// summaries lists the caller's boards.
func (c *client) summaries() []summaryDoc {
	c.env.t.Helper()
	var d struct{ Boards []summaryDoc }
	c.do("GET", "/api/boards", nil).want(c.env.t, http.StatusOK).json(c.env.t, &d)
	return d.Boards
}

// notifications lists the caller's notifications.
func (c *client) notifications() []notificationDoc {
	c.env.t.Helper()
	var d struct{ Notifications []notificationDoc }
	c.do("GET", "/api/notifications", nil).want(c.env.t, http.StatusOK).json(c.env.t, &d)
	return d.Notifications
}

// layout is a board's lists and cards as "list: card card" lines, to
// compare orders at a glance.
func layout(b boardDoc) string {
	var lines []string
	for _, l := range b.Lists {
		titles := []string{}
		for _, c := range l.Cards {
			titles = append(titles, c.Title)
		}
		lines = append(lines, l.Name+": "+strings.Join(titles, " "))
	}
	return strings.Join(lines, " | ")
}

// keysOf returns the sorted keys of the JSON object raw.
func keysOf(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s is not a JSON object: %v", raw, err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestBoardHappyPaths walks every board route a member uses, the way the
// README does, and checks each answer's shape against API.md §6.
func TestBoardHappyPaths(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, func(c *config) { c.rateLimits = false })
		alice := env.newClient()
		a := alice.signup("alice", "alice@example.com", "password1")
		bob := env.newClient()
		bd := bob.signup("bob", "bob@example.com", "password1")

		// Create: the creator owns the board and is its first member.
		r := alice.do("POST", "/api/boards", map[string]any{"title": "Holiday", "backgroundURL": "https://example.com/sea.jpg"}).
			want(t, http.StatusCreated)
		var raw struct{ Board json.RawMessage }
		r.json(t, &raw)
		if got, want := keysOf(t, raw.Board), []string{"backgroundURL", "createdAt", "id", "isFavourite", "lists", "members", "ownerId", "title", "updatedAt"}; !slices.Equal(got, want) {
			t.Errorf("board keys %q, want %q", got, want)
		}
		b := boardOf(t, r)
		wantMembers := []memberDoc{{ID: a.User.ID, Username: "alice", Owner: true}}
		if b.Title != "Holiday" || b.OwnerID != a.User.ID || b.BackgroundURL != "https://example.com/sea.jpg" ||
			!reflect.DeepEqual(b.Members, wantMembers) || b.Lists == nil || len(b.Lists) != 0 || b.IsFavourite ||
			!b.CreatedAt.Equal(env.clock.Now()) || !b.UpdatedAt.Equal(b.CreatedAt) {
			t.Fatalf("created board %+v", b)
		}
		if got := alice.board(b.ID); !reflect.DeepEqual(got, b) {
			t.Errorf("GET board %+v, want the created %+v", got, b)
		}

		// Lists and cards, appended in order.
		todo := alice.addList(b.ID, "To do")
		doing := alice.addList(b.ID, "Doing")
		done := alice.addList(b.ID, "Done")
		if todo.Name != "To do" || todo.Cards == nil || len(todo.Cards) != 0 {
			t.Errorf("new list %+v", todo)
		}
		var cr struct{ Card json.RawMessage }
		env.clock.Advance(time.Minute)
		alice.do("POST", "/api/boards/"+b.ID+"/lists/"+todo.ID+"/cards", map[string]string{"title": "Book", "description": "flights\nand hotel"}).
			want(t, http.StatusCreated).json(t, &cr)
		if got, want := keysOf(t, cr.Card), []string{"attachments", "createdAt", "description", "id", "title"}; !slices.Equal(got, want) {
			t.Errorf("card keys %q, want %q", got, want)
		}
		var book cardDoc
		json.Unmarshal(cr.Card, &book)
		if book.Title != "Book" || book.Description != "flights\nand hotel" || !book.CreatedAt.Equal(env.clock.Now()) || book.Attachments == nil {
			t.Errorf("new card %+v", book)
		}
		pack := alice.addCard(b.ID, todo.ID, "Pack")
		alice.addCard(b.ID, todo.ID, "Go")
		if got, want := layout(alice.board(b.ID)), "To do: Book Pack Go | Doing:  | Done: "; got != want {
			t.Errorf("layout %q, want %q", got, want)
		}
		if got := alice.board(b.ID).UpdatedAt; !got.Equal(env.clock.Now()) {
			t.Errorf("updatedAt %v after adding cards, want %v", got, env.clock.Now())
		}

		// Moves: a card to another list at a position, within its list,
		// past the end (clamped), and a list among lists.
		patchCard := func(id string, body map[string]any) boardDoc {
			t.Helper()
			return boardOf(t, alice.do("PATCH", "/api/boards/"+b.ID+"/cards/"+id, body).want(t, http.StatusOK))
		}
		patchCard(book.ID, map[string]any{"listId": doing.ID, "position": 0})
		patchCard(pack.ID, map[string]any{"listId": doing.ID})                       // to the end of another list
		got := patchCard(pack.ID, map[string]any{"listId": doing.ID, "position": 0}) // within it, by list and position
		if want := "To do: Go | Doing: Pack Book | Done: "; layout(got) != want {
			t.Errorf("after the moves, layout %q, want %q", layout(got), want)
		}
		got = patchCard(pack.ID, map[string]any{"position": 99})
		if want := "To do: Go | Doing: Book Pack | Done: "; layout(got) != want {
			t.Errorf("after moving past the end, layout %q, want %q", layout(got), want)
		}
		got = patchCard(book.ID, map[string]any{"title": "Book it", "description": "", "listId": done.ID, "position": 5})
		if want := "To do: Go | Doing: Pack | Done: Book it"; layout(got) != want || got.Lists[2].Cards[0].Description != "" {
			t.Errorf("after edit and move in one, layout %q (%+v), want %q", layout(got), got.Lists[2].Cards, want)
		}
		got = boardOf(t, alice.do("PATCH", "/api/boards/"+b.ID+"/lists/"+done.ID, map[string]any{"name": "Finished", "position": 0}).want(t, http.StatusOK))
		if want := "Finished: Book it | To do: Go | Doing: Pack"; layout(got) != want {
			t.Errorf("after moving a list, layout %q, want %q", layout(got), want)
		}

		// An empty PATCH changes nothing, not even updatedAt.
		env.clock.Advance(time.Minute)
		for _, path := range []string{"/cards/" + book.ID, "/lists/" + done.ID, ""} {
			if same := boardOf(t, alice.do("PATCH", "/api/boards/"+b.ID+path, map[string]any{}).want(t, http.StatusOK)); !reflect.DeepEqual(same, got) {
				t.Errorf("an empty PATCH %s changed the board to %+v, was %+v", path, same, got)
			}
		}

		// Rename the board, drop its background; delete a card and a list.
		got = boardOf(t, alice.do("PATCH", "/api/boards/"+b.ID, map[string]any{"title": "Summer", "backgroundURL": ""}).want(t, http.StatusOK))
		if got.Title != "Summer" || got.BackgroundURL != "" {
			t.Errorf("after PATCH board: title %q, backgroundURL %q", got.Title, got.BackgroundURL)
		}
		alice.do("DELETE", "/api/boards/"+b.ID+"/cards/"+pack.ID, nil).want(t, http.StatusNoContent)
		alice.do("DELETE", "/api/boards/"+b.ID+"/lists/"+todo.ID, nil).want(t, http.StatusNoContent)
		if got, want := layout(alice.board(b.ID)), "Finished: Book it | Doing: "; got != want {
			t.Errorf("after the deletions, layout %q, want %q", got, want)
		}

		// Favourites are a set; the list puts favourites first, then the
		// most recently updated.
		env.clock.Advance(time.Minute)
		other := alice.createBoard("Other")
		if s := alice.summaries(); len(s) != 2 || s[0].ID != other.ID || s[1].ID != b.ID {
			t.Fatalf("summaries %+v, want Other (newer) then Summer", s)
		}
		for range 2 {
			var fav map[string]any
			alice.do("PUT", "/api/boards/"+b.ID+"/favourite", map[string]bool{"favourite": true}).want(t, http.StatusOK).json(t, &fav)
			if !reflect.DeepEqual(fav, map[string]any{"isFavourite": true}) {
				t.Errorf("PUT favourite true: %v", fav)
			}
		}
		s := alice.summaries()
		wantFirst := summaryDoc{ID: b.ID, Title: "Summer", IsFavourite: true, MemberCount: 1, UpdatedAt: alice.board(b.ID).UpdatedAt}
		if len(s) != 2 || s[0] != wantFirst || s[1].ID != other.ID {
			t.Errorf("summaries %+v, want %+v first", s, wantFirst)
		}
		if !alice.board(b.ID).IsFavourite {
			t.Error("the board view does not say isFavourite")
		}
		alice.do("PUT", "/api/boards/"+b.ID+"/favourite", map[string]bool{"favourite": false}).want(t, http.StatusOK)
		if s := alice.summaries(); s[0].ID != other.ID || s[1].IsFavourite {
			t.Errorf("after unfavouriting, summaries %+v", s)
		}

		// Invite bob (the invitation routes have their own test), who then
		// sees the board, its members, and may leave it.
		var inv struct{ Notification notificationDoc }
		alice.do("POST", "/api/boards/"+b.ID+"/invites", map[string]string{"userId": bd.User.ID}).want(t, http.StatusCreated).json(t, &inv)
		boardOf(t, bob.do("POST", "/api/notifications/"+inv.Notification.ID+"/accept", nil).want(t, http.StatusOK))
		var ms struct{ Members []memberDoc }
		bob.do("GET", "/api/boards/"+b.ID+"/members", nil).want(t, http.StatusOK).json(t, &ms)
		wantMembers = append(wantMembers, memberDoc{ID: bd.User.ID, Username: "bob"})
		if !reflect.DeepEqual(ms.Members, wantMembers) {
			t.Errorf("members %+v, want %+v", ms.Members, wantMembers)
		}
		if s := bob.summaries(); len(s) != 1 || s[0].ID != b.ID || s[0].MemberCount != 2 {
			t.Errorf("bob's summaries %+v", s)
		}
		bob.do("DELETE", "/api/boards/"+b.ID+"/members/"+bd.User.ID, nil).want(t, http.StatusNoContent)
		bob.do("GET", "/api/boards/"+b.ID, nil).wantProblem(t, http.StatusNotFound, "not_found")
		if s := bob.summaries(); len(s) != 0 {
			t.Errorf("after leaving, bob's summaries %+v", s)
		}

		// The owner cannot leave; the owner deletes the board.
		alice.do("DELETE", "/api/boards/"+b.ID+"/members/"+a.User.ID, nil).wantProblem(t, http.StatusConflict, "owner_cannot_leave")
		alice.do("DELETE", "/api/boards/"+b.ID, nil).want(t, http.StatusNoContent)
		alice.do("GET", "/api/boards/"+b.ID, nil).wantProblem(t, http.StatusNotFound, "not_found")
		if s := alice.summaries(); len(s) != 1 || s[0].ID != other.ID {
			t.Errorf("after deleting, summaries %+v", s)
		}
	})
}

// TestOwnerRemovesMembersAdminDeletes: the owner removes a member, a
// member may not remove another, and an admin who is no member may delete
// the board (and nothing else on it).
func TestOwnerRemovesMembersAdminDeletes(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env, sink := mailEnv(t, o, func(c *config) { c.rateLimits = false })
		alice, bob, carol := env.newClient(), env.newClient(), env.newClient()
		alice.signup("alice", "alice@example.com", "password1")
		bd := bob.signup("bob", "bob@example.com", "password1")
		cd := carol.signup("carol", "carol@example.com", "password1")
		b := joinedBoard(t, alice, "Shared", bob, carol)

		bob.do("DELETE", "/api/boards/"+b.ID+"/members/"+cd.User.ID, nil).wantProblem(t, http.StatusForbidden, "forbidden")
		alice.do("DELETE", "/api/boards/"+b.ID+"/members/"+cd.User.ID, nil).want(t, http.StatusNoContent)
		alice.do("DELETE", "/api/boards/"+b.ID+"/members/"+cd.User.ID, nil).wantProblem(t, http.StatusNotFound, "not_found")
		carol.do("GET", "/api/boards/"+b.ID, nil).wantProblem(t, http.StatusNotFound, "not_found")
		if got := alice.board(b.ID).Members; len(got) != 2 || got[1].ID != bd.User.ID {
			t.Errorf("members after removing carol: %+v", got)
		}

		admin := env.admin(sink)
		admin.do("GET", "/api/boards/"+b.ID, nil).wantProblem(t, http.StatusNotFound, "not_found")
		admin.do("PATCH", "/api/boards/"+b.ID, map[string]string{"title": "Mine"}).wantProblem(t, http.StatusNotFound, "not_found")
		admin.do("DELETE", "/api/boards/"+b.ID, nil).want(t, http.StatusNoContent)
		alice.do("GET", "/api/boards/"+b.ID, nil).wantProblem(t, http.StatusNotFound, "not_found")
		admin.do("DELETE", "/api/boards/"+b.ID, nil).wantProblem(t, http.StatusNotFound, "not_found")
	})
}

// joinedBoard has owner create a board titled title and invite members,
// who each accept; it returns the board as the owner sees it then.
func joinedBoard(t *testing.T, owner *client, title string, members ...*client) boardDoc {
	t.Helper()
	var ids []string
	for _, m := range members {
		ids = append(ids, meOf(t, m).ID)
	}
	b := owner.createBoard(title, ids...)
	for _, m := range members {
		accepted := false
		for _, n := range m.notifications() {
			if n.Type == "invite" && n.BoardID == b.ID && n.Accepted == nil {
				m.do("POST", "/api/notifications/"+n.ID+"/accept", nil).want(t, http.StatusOK)
				accepted = true
			}
		}
		if !accepted {
			t.Fatalf("no open invitation to %s for %s", b.ID, meOf(t, m).Username)
		}
	}
	return owner.board(b.ID)
}

// meOf returns the client's user.
func meOf(t *testing.T, c *client) userDoc {
	t.Helper()
	var d struct{ User userDoc }
	c.do("GET", "/api/users/me", nil).want(t, http.StatusOK).json(t, &d)
	return d.User
}

// TestConcurrentCardMoves: sixteen clients move the same cards between the
// lists of one board at once, through HTTP. Every card must end in exactly
// one place, none lost and none twice, and every answer must be a success
// (or, on MongoDB, a 503 busy with Retry-After after too many lost
// compare-and-swaps in a row, which the client retries).
func TestConcurrentCardMoves(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, func(c *config) { c.rateLimits = false })
		alice := env.newClient()
		alice.signup("alice", "alice@example.com", "password1")
		b := alice.createBoard("Race")
		var lists []string
		for i := range 4 {
			lists = append(lists, alice.addList(b.ID, fmt.Sprintf("L%d", i)).ID)
		}
		var cards []string
		for i := range 12 {
			cards = append(cards, alice.addCard(b.ID, lists[i%4], fmt.Sprintf("c%02d", i)).ID)
		}

		const workers, moves = 16, 15
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		busy := make(chan struct{}, workers*moves*10)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rnd := rand.New(rand.NewPCG(uint64(w), 7))
				for range moves {
					body, _ := json.Marshal(map[string]any{
						"listId":   lists[rnd.IntN(len(lists))],
						"position": rnd.IntN(6),
					})
					path := "/api/boards/" + b.ID + "/cards/" + cards[rnd.IntN(len(cards))]
					for {
						status, err := rawRequest(alice, "PATCH", path, body)
						if err != nil {
							errs <- err
							return
						}
						if status == http.StatusServiceUnavailable {
							busy <- struct{}{}
							continue
						}
						if status != http.StatusOK {
							errs <- fmt.Errorf("PATCH %s: status %d", path, status)
							return
						}
						break
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		t.Logf("%d answers were 503 busy and retried", len(busy))

		final := alice.board(b.ID)
		var seen []string
		for _, l := range final.Lists {
			for _, c := range l.Cards {
				seen = append(seen, c.ID)
			}
		}
		slices.Sort(seen)
		want := slices.Clone(cards)
		slices.Sort(want)
		if !slices.Equal(seen, want) {
			t.Errorf("after the moves the board holds cards %q, want each of %q once", seen, want)
		}
	})
}

// rawRequest sends one JSON request as c and returns its status; safe to
// call from many goroutines (it reports errors instead of failing the
// test). A 503 must carry Retry-After.
func rawRequest(c *client, method, path string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(context.Background(), method, c.env.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusServiceUnavailable && (resp.Header.Get("Retry-After") == "" || !bytes.Contains(data, []byte(`"busy"`))) {
		return 0, fmt.Errorf("%s %s: 503 without Retry-After or code busy: %s", method, path, data)
	}
	return resp.StatusCode, nil
}

// TestBoardLimitsNamed: a full board refuses with a 422 naming the limit,
// and the refused request changes nothing.
func TestBoardLimitsNamed(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, func(c *config) { c.rateLimits = false })
		alice := env.newClient()
		alice.signup("alice", "alice@example.com", "password1")
		b := alice.createBoard("Full")
		for i := range board.MaxLists {
			alice.addList(b.ID, fmt.Sprintf("list %d", i))
		}
		before := alice.boardJSON(b.ID)
		r := alice.do("POST", "/api/boards/"+b.ID+"/lists", map[string]string{"name": "one too many"})
		p := r.wantProblem(t, http.StatusUnprocessableEntity, "limit_reached")
		var lim struct{ Limit string }
		r.json(t, &lim)
		if lim.Limit != "listsPerBoard" || !strings.Contains(p.Detail, "50 lists") {
			t.Errorf("limit problem %+v, limit %q; want listsPerBoard and a sentence", p, lim.Limit)
		}
		if after := alice.boardJSON(b.ID); after != before {
			t.Error("the refused list changed the board")
		}
	})
}

// TestBoardRoutesHideAndForbid walks the route list: every route on one
// board ("/api/boards/{id}…") answers 404 not_found to someone who is not a
// member (an admin included, except for deleting the board), changing
// nothing, as if the board did not exist; and a member who is not the
// owner gets 403 forbidden on the owner's routes and a success on the
// others. Every route on one notification answers 404 to anyone but its
// recipient. A route added to the list without a request here fails the
// test.
func TestBoardRoutesHideAndForbid(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env, sink := mailEnv(t, o, func(c *config) { c.rateLimits = false })
		alice, bob, carol := env.newClient(), env.newClient(), env.newClient()
		alice.signup("alice", "alice@example.com", "password1")
		bob.signup("bob", "bob@example.com", "password1")
		cd := carol.signup("carol", "carol@example.com", "password1")
		eve, frank := env.newClient(), env.newClient()
		eve.signup("eve", "eve@example.com", "password1")
		fd := frank.signup("frank", "frank@example.com", "password1")
		admin := env.admin(sink)

		b := joinedBoard(t, alice, "Private", bob, carol)
		keep := alice.addList(b.ID, "Keep")
		doomed := alice.addList(b.ID, "Doomed")
		card := alice.addCard(b.ID, keep.ID, "Card")
		doomedCard := alice.addCard(b.ID, keep.ID, "Doomed card")
		png := testImage(t, "png", 8, 8, 4)
		pdf := minimalPDF("private")
		var att struct{ Attachment attachmentDoc }
		alice.upload("POST", "/api/boards/"+b.ID+"/cards/"+card.ID+"/attachments", part{name: "file", filename: "plan.pdf", data: pdf}).
			want(t, http.StatusCreated).json(t, &att)
		// An invitation of frank's, for the notification routes.
		var inv struct{ Notification notificationDoc }
		alice.do("POST", "/api/boards/"+b.ID+"/invites", map[string]string{"userId": fd.User.ID}).want(t, http.StatusCreated).json(t, &inv)
		nid := inv.Notification.ID
		other := env.newClient()
		od := other.signup("oscar", "oscar@example.com", "password1")

		boardPath := "/api/boards/" + b.ID
		requests := map[string]struct {
			call   func(c *client) *response
			member int // the status a member who is not the owner gets
		}{
			"GET /api/boards/{id}":    {func(c *client) *response { return c.do("GET", boardPath, nil) }, 200},
			"PATCH /api/boards/{id}":  {func(c *client) *response { return c.do("PATCH", boardPath, map[string]string{"title": "Renamed"}) }, 200},
			"DELETE /api/boards/{id}": {func(c *client) *response { return c.do("DELETE", boardPath, nil) }, 403},
			"PUT /api/boards/{id}/background": {func(c *client) *response {
				return c.upload("PUT", boardPath+"/background", part{name: "background", filename: "bg.png", data: png})
			}, 200},
			"PUT /api/boards/{id}/favourite": {func(c *client) *response {
				return c.do("PUT", boardPath+"/favourite", map[string]bool{"favourite": true})
			}, 200},
			"GET /api/boards/{id}/members": {func(c *client) *response { return c.do("GET", boardPath+"/members", nil) }, 200},
			"DELETE /api/boards/{id}/members/{userId}": {func(c *client) *response {
				return c.do("DELETE", boardPath+"/members/"+cd.User.ID, nil)
			}, 403},
			"POST /api/boards/{id}/invites": {func(c *client) *response {
				return c.do("POST", boardPath+"/invites", map[string]string{"userId": od.User.ID})
			}, 201},
			"POST /api/boards/{id}/lists": {func(c *client) *response {
				return c.do("POST", boardPath+"/lists", map[string]string{"name": "New"})
			}, 201},
			"PATCH /api/boards/{id}/lists/{listId}": {func(c *client) *response {
				return c.do("PATCH", boardPath+"/lists/"+keep.ID, map[string]any{"name": "Kept", "position": 1})
			}, 200},
			"DELETE /api/boards/{id}/lists/{listId}": {func(c *client) *response {
				return c.do("DELETE", boardPath+"/lists/"+doomed.ID, nil)
			}, 204},
			"POST /api/boards/{id}/lists/{listId}/cards": {func(c *client) *response {
				return c.do("POST", boardPath+"/lists/"+keep.ID+"/cards", map[string]string{"title": "New card"})
			}, 201},
			"PATCH /api/boards/{id}/cards/{cardId}": {func(c *client) *response {
				return c.do("PATCH", boardPath+"/cards/"+card.ID, map[string]any{"title": "Moved", "position": 1})
			}, 200},
			"DELETE /api/boards/{id}/cards/{cardId}": {func(c *client) *response {
				return c.do("DELETE", boardPath+"/cards/"+doomedCard.ID, nil)
			}, 204},
			"POST /api/boards/{id}/cards/{cardId}/attachments": {func(c *client) *response {
				return c.upload("POST", boardPath+"/cards/"+card.ID+"/attachments", part{name: "file", filename: "x.png", data: png})
			}, 201},
			"GET /api/boards/{id}/cards/{cardId}/attachments/{attachmentId}": {func(c *client) *response {
				return c.do("GET", boardPath+"/cards/"+card.ID+"/attachments/"+att.Attachment.ID, nil)
			}, 200},
			"DELETE /api/boards/{id}/cards/{cardId}/attachments/{attachmentId}": {func(c *client) *response {
				return c.do("DELETE", boardPath+"/cards/"+card.ID+"/attachments/"+att.Attachment.ID, nil)
			}, 204},
			"POST /api/notifications/{id}/accept": {func(c *client) *response {
				return c.do("POST", "/api/notifications/"+nid+"/accept", nil)
			}, 0},
			"POST /api/notifications/{id}/decline": {func(c *client) *response {
				return c.do("POST", "/api/notifications/"+nid+"/decline", nil)
			}, 0},
			"DELETE /api/notifications/{id}": {func(c *client) *response {
				return c.do("DELETE", "/api/notifications/"+nid, nil)
			}, 0},
		}
		var routes []string
		for _, rt := range env.app.routeList() {
			_, path, _ := strings.Cut(rt.pattern, " ")
			if !strings.HasPrefix(path, "/api/boards/{id}") && !strings.HasPrefix(path, "/api/notifications/{id}") {
				continue
			}
			if _, ok := requests[rt.pattern]; !ok {
				t.Errorf("%s is a route on one board or notification, but this test has no request for it", rt.pattern)
				continue
			}
			routes = append(routes, rt.pattern)
		}

		// Strangers: eve, the admin (who may only delete the board), and
		// for the notification routes bob, a member but not the recipient.
		before := alice.boardJSON(b.ID)
		filesBefore := [][]string{storedFiles(t, env, board.BackgroundBucket), storedFiles(t, env, board.AttachmentBucket)}
		for _, pattern := range routes {
			strangers := []*client{eve, admin}
			if strings.HasPrefix(pattern, "POST /api/notifications") || strings.HasPrefix(pattern, "DELETE /api/notifications") {
				strangers = append(strangers, bob, alice)
			}
			for _, c := range strangers {
				if c == admin && pattern == "DELETE /api/boards/{id}" {
					continue
				}
				r := requests[pattern].call(c)
				if r.StatusCode != http.StatusNotFound {
					t.Errorf("%s by a stranger: status %d, want 404; body %s", pattern, r.StatusCode, r.body)
					continue
				}
				r.wantProblem(t, http.StatusNotFound, "not_found")
			}
		}
		if after := alice.boardJSON(b.ID); after != before {
			t.Errorf("the strangers' requests changed the board:\n%s\nwas\n%s", after, before)
		}
		if got := [][]string{storedFiles(t, env, board.BackgroundBucket), storedFiles(t, env, board.AttachmentBucket)}; !reflect.DeepEqual(got, filesBefore) {
			t.Errorf("the strangers' requests left files %q, want %q", got, filesBefore)
		}
		if ns := other.notifications(); len(ns) != 0 {
			t.Errorf("a stranger's invitation reached oscar: %+v", ns)
		}
		if ns := frank.notifications(); len(ns) != 1 || ns[0].Accepted != nil {
			t.Errorf("frank's invitation after the strangers' answers: %+v", ns)
		}

		// A member who is not the owner.
		for _, pattern := range routes {
			want := requests[pattern].member
			if want == 0 {
				continue
			}
			r := requests[pattern].call(bob)
			if want == http.StatusForbidden {
				r.wantProblem(t, http.StatusForbidden, "forbidden")
				continue
			}
			r.want(t, want)
		}
		if got := alice.board(b.ID); len(got.Members) != 3 {
			t.Errorf("after bob's requests the board has members %+v, want all three", got.Members)
		}
	})
}

// TestBoardBadInput sends every kind of bad input to the board routes:
// each gets a clear 4xx problem naming what is wrong, and changes nothing.
func TestBoardBadInput(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, func(c *config) { c.rateLimits = false })
		alice := env.newClient()
		a := alice.signup("alice", "alice@example.com", "password1")
		b := alice.createBoard("Mine")
		l1, l2 := alice.addList(b.ID, "One"), alice.addList(b.ID, "Two")
		c1 := alice.addCard(b.ID, l1.ID, "Card")
		alice.addCard(b.ID, l2.ID, "Other card")
		elsewhere := alice.createBoard("Elsewhere")
		x := alice.addList(elsewhere.ID, "X")
		xc := alice.addCard(elsewhere.ID, x.ID, "X card")

		bp := "/api/boards/" + b.ID
		unknown := "0123456789abcdef01234567"
		long := func(n int) string { return strings.Repeat("é", n) }
		manyIDs := make([]string, board.MaxInvites+1)
		for i := range manyIDs {
			manyIDs[i] = fmt.Sprintf("%024x", i+1)
		}
		cases := []struct {
			method, path string
			body         any
			status       int
			code         string
			fields       []string // the fields errors must name
		}{
			{"GET", "/api/boards/nothex", nil, 404, "not_found", nil},
			{"GET", "/api/boards/" + unknown, nil, 404, "not_found", nil},
			{"GET", "/api/boards/" + strings.ToUpper(b.ID), nil, 404, "not_found", nil},
			{"PATCH", "/api/boards/%2e%2e", map[string]string{"title": "x"}, 404, "not_found", nil},
			{"PATCH", bp + "/lists/nothex", map[string]string{"name": "x"}, 404, "not_found", nil},
			{"PATCH", bp + "/lists/" + unknown, map[string]string{"name": "x"}, 404, "not_found", nil},
			{"PATCH", bp + "/lists/" + x.ID, map[string]string{"name": "x"}, 404, "not_found", nil},
			{"DELETE", bp + "/lists/" + x.ID, nil, 404, "not_found", nil},
			{"POST", bp + "/lists/" + unknown + "/cards", map[string]string{"title": "x"}, 404, "not_found", nil},
			{"POST", bp + "/lists/" + x.ID + "/cards", map[string]string{"title": "x"}, 404, "not_found", nil},
			{"PATCH", bp + "/cards/" + unknown, map[string]string{"title": "x"}, 404, "not_found", nil},
			{"PATCH", bp + "/cards/" + xc.ID, map[string]string{"title": "x"}, 404, "not_found", nil},
			{"DELETE", bp + "/cards/" + xc.ID, nil, 404, "not_found", nil},
			{"DELETE", bp + "/cards/" + l1.ID, nil, 404, "not_found", nil},
			{"PATCH", bp + "/cards/" + c1.ID, map[string]any{"listId": x.ID}, 404, "not_found", nil},
			{"PATCH", bp + "/cards/" + c1.ID, map[string]any{"listId": x.ID, "position": 0}, 404, "not_found", nil},
			{"PATCH", bp + "/cards/" + c1.ID, map[string]any{"listId": ""}, 404, "not_found", nil},
			{"PATCH", bp + "/cards/" + c1.ID, map[string]any{"listId": c1.ID, "title": "x"}, 404, "not_found", nil},
			{"POST", bp + "/cards/" + unknown + "/attachments", nil, 404, "not_found", nil},
			{"GET", bp + "/cards/" + c1.ID + "/attachments/" + unknown, nil, 404, "not_found", nil},
			{"DELETE", bp + "/cards/" + c1.ID + "/attachments/nothex", nil, 404, "not_found", nil},
			{"DELETE", bp + "/members/" + unknown, nil, 404, "not_found", nil},
			{"DELETE", bp + "/members/nothex", nil, 404, "not_found", nil},
			{"POST", "/api/notifications/nothex/accept", nil, 404, "not_found", nil},
			{"DELETE", "/api/notifications/" + unknown, nil, 404, "not_found", nil},

			{"PATCH", bp + "/cards/" + c1.ID, map[string]any{"position": -1}, 422, "validation_failed", []string{"position"}},
			{"PATCH", bp + "/lists/" + l1.ID, map[string]any{"position": -1}, 422, "validation_failed", []string{"position"}},
			{"PATCH", bp + "/cards/" + c1.ID, map[string]any{"position": "1"}, 422, "validation_failed", []string{"position"}},
			{"PATCH", bp + "/cards/" + c1.ID, map[string]any{"position": 1.5}, 422, "validation_failed", []string{"position"}},
			{"PATCH", bp + "/cards/" + c1.ID, `{"position": 1e40}`, 422, "validation_failed", []string{"position"}},
			{"PATCH", bp + "/cards/" + c1.ID, map[string]any{"title": 5}, 422, "validation_failed", []string{"title"}},
			{"PATCH", bp + "/cards/" + c1.ID, map[string]any{"listId": []string{l2.ID}}, 422, "validation_failed", []string{"listId"}},
			{"PATCH", bp + "/cards/" + c1.ID, map[string]any{"title": ""}, 422, "validation_failed", []string{"title"}},
			{"PATCH", bp + "/cards/" + c1.ID, map[string]any{"title": long(201)}, 422, "validation_failed", []string{"title"}},
			{"PATCH", bp + "/cards/" + c1.ID, map[string]any{"title": "", "position": -1}, 422, "validation_failed", []string{"position", "title"}},
			{"PATCH", bp + "/cards/" + c1.ID, map[string]any{"description": long(10001)}, 422, "validation_failed", []string{"description"}},
			{"PATCH", bp + "/cards/" + c1.ID, map[string]any{"title": "ok", "listId": l2.ID, "position": -3}, 422, "validation_failed", []string{"position"}},
			{"POST", bp + "/lists/" + l1.ID + "/cards", map[string]any{"title": " "}, 422, "validation_failed", []string{"title"}},
			{"POST", bp + "/lists/" + l1.ID + "/cards", map[string]any{"title": "x", "description": long(10001)}, 422, "validation_failed", []string{"description"}},
			{"POST", bp + "/lists/" + l1.ID + "/cards", map[string]any{"title": "x", "listId": l2.ID}, 422, "validation_failed", []string{"listId"}},
			{"POST", bp + "/lists", map[string]any{}, 422, "validation_failed", []string{"name"}},
			{"POST", bp + "/lists", map[string]any{"name": long(101)}, 422, "validation_failed", []string{"name"}},
			{"POST", bp + "/lists", map[string]any{"name": "a\nb"}, 422, "validation_failed", []string{"name"}},
			{"POST", bp + "/lists", map[string]any{"name": "x", "boardId": elsewhere.ID}, 422, "validation_failed", []string{"boardId"}},
			{"PATCH", bp + "/lists/" + l1.ID, map[string]any{"name": ""}, 422, "validation_failed", []string{"name"}},
			{"PATCH", bp, map[string]any{"title": "   "}, 422, "validation_failed", []string{"title"}},
			{"PATCH", bp, map[string]any{"title": "", "backgroundURL": "javascript:alert(1)"}, 422, "validation_failed", []string{"backgroundURL", "title"}},
			{"PATCH", bp, map[string]any{"ownerId": unknown}, 422, "validation_failed", []string{"ownerId"}},
			{"PUT", bp + "/favourite", map[string]any{}, 422, "validation_failed", []string{"favourite"}},
			{"PUT", bp + "/favourite", map[string]any{"favourite": "yes"}, 422, "validation_failed", []string{"favourite"}},
			{"POST", bp + "/invites", map[string]any{"userId": a.User.ID}, 422, "validation_failed", []string{"userId"}},
			{"POST", bp + "/invites", map[string]any{"userId": 5}, 422, "validation_failed", []string{"userId"}},
			{"POST", bp + "/invites", map[string]any{"userId": "../" + unknown}, 422, "validation_failed", []string{"userId"}},
			{"POST", bp + "/invites", map[string]any{"userId": unknown}, 404, "not_found", nil},
			{"POST", "/api/boards", map[string]any{"title": ""}, 422, "validation_failed", []string{"title"}},
			{"POST", "/api/boards", map[string]any{"title": long(101)}, 422, "validation_failed", []string{"title"}},
			{"POST", "/api/boards", map[string]any{"title": map[string]any{"$ne": nil}}, 422, "validation_failed", []string{"title"}},
			{"POST", "/api/boards", map[string]any{"title": "x", "backgroundURL": "data:image/png;base64,AAAA"}, 422, "validation_failed", []string{"backgroundURL"}},
			{"POST", "/api/boards", map[string]any{"title": "x", "invite": "someone"}, 422, "validation_failed", []string{"invite"}},
			{"POST", "/api/boards", map[string]any{"title": "x", "invite": []string{a.User.ID}}, 422, "validation_failed", []string{"invite"}},
			{"POST", "/api/boards", map[string]any{"title": "x", "invite": []string{unknown, unknown}}, 422, "validation_failed", []string{"invite"}},
			{"POST", "/api/boards", map[string]any{"title": "x", "invite": []string{"nothex"}}, 422, "validation_failed", []string{"invite"}},
			{"POST", "/api/boards", map[string]any{"title": "x", "invite": []string{unknown}}, 404, "not_found", nil},
			{"POST", "/api/boards", map[string]any{"title": "x", "invite": manyIDs}, 422, "limit_reached", nil},
			{"POST", bp + "/lists", `{"name":"x"}{"name":"y"}`, 400, "malformed_json", nil},
			{"POST", bp + "/lists", `{"name":`, 400, "malformed_json", nil},
			{"PATCH", bp + "/cards/" + c1.ID, `[]`, 422, "validation_failed", nil},
		}
		before := map[string]string{b.ID: alice.boardJSON(b.ID), elsewhere.ID: alice.boardJSON(elsewhere.ID)}
		for _, tc := range cases {
			r := alice.do(tc.method, tc.path, tc.body)
			p := r.wantProblem(t, tc.status, tc.code)
			var names []string
			for f := range p.Errors {
				names = append(names, f)
			}
			slices.Sort(names)
			if tc.fields != nil && !slices.Equal(names, tc.fields) {
				t.Errorf("%s %s %.80v: errors name %q, want %q", tc.method, tc.path, tc.body, names, tc.fields)
			}
		}
		for id, want := range before {
			if got := alice.boardJSON(id); got != want {
				t.Errorf("board %s changed by bad input:\n%s\nwas\n%s", id, got, want)
			}
		}
		if s := alice.summaries(); len(s) != 2 {
			t.Errorf("bad input created boards: %+v", s)
		}
	})
}

// TestDeleteBoardCascade: deleting a board deletes its files, its
// invitations and every notification about it, and its favourites.
func TestDeleteBoardCascade(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, func(c *config) { c.rateLimits = false })
		alice, bob, carol := env.newClient(), env.newClient(), env.newClient()
		alice.signup("alice", "alice@example.com", "password1")
		bob.signup("bob", "bob@example.com", "password1")
		cd := carol.signup("carol", "carol@example.com", "password1")
		b := joinedBoard(t, alice, "Doomed", bob)
		keep := alice.createBoard("Kept")
		bob.do("PUT", "/api/boards/"+b.ID+"/favourite", map[string]bool{"favourite": true}).want(t, http.StatusOK)
		alice.upload("PUT", "/api/boards/"+b.ID+"/background", part{name: "background", filename: "a.png", data: testImage(t, "png", 8, 8, 2)}).want(t, http.StatusOK)
		c := alice.addCard(b.ID, alice.addList(b.ID, "L").ID, "C")
		for i := range 2 {
			alice.upload("POST", "/api/boards/"+b.ID+"/cards/"+c.ID+"/attachments", part{name: "file", filename: "a.pdf", data: minimalPDF(fmt.Sprint(i))}).want(t, http.StatusCreated)
		}
		alice.do("POST", "/api/boards/"+b.ID+"/invites", map[string]string{"userId": cd.User.ID}).want(t, http.StatusCreated)
		if len(alice.notifications()) != 1 || len(carol.notifications()) != 1 {
			t.Fatal("the setup did not make the notifications")
		}

		bob.do("DELETE", "/api/boards/"+b.ID, nil).wantProblem(t, http.StatusForbidden, "forbidden")
		alice.do("DELETE", "/api/boards/"+b.ID, nil).want(t, http.StatusNoContent)
		for _, bucket := range []string{board.BackgroundBucket, board.AttachmentBucket} {
			if got := storedFiles(t, env, bucket); len(got) != 0 {
				t.Errorf("after deleting the board the store holds %s %q", bucket, got)
			}
		}
		for name, c := range map[string]*client{"alice": alice, "bob": bob, "carol": carol} {
			if ns := c.notifications(); len(ns) != 0 {
				t.Errorf("%s's notifications about the deleted board: %+v", name, ns)
			}
			c.do("GET", "/api/boards/"+b.ID, nil).wantProblem(t, http.StatusNotFound, "not_found")
		}
		if s := bob.summaries(); len(s) != 0 {
			t.Errorf("bob's boards after the deletion: %+v", s)
		}
		if s := alice.summaries(); len(s) != 1 || s[0].ID != keep.ID {
			t.Errorf("alice's boards after the deletion: %+v", s)
		}
	})
}

// TestDeleteUserCascade: deleting a user (DELETE /api/users/{id}) deletes
// the boards they own, with their files and notifications, takes them off
// the boards they were a member of or invited to, and deletes their
// notifications; forgetting them again is harmless.
func TestDeleteUserCascade(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, func(c *config) { c.rateLimits = false })
		alice, bob, carol, dave := env.newClient(), env.newClient(), env.newClient(), env.newClient()
		a := alice.signup("alice", "alice@example.com", "password1")
		bd := bob.signup("bob", "bob@example.com", "password1")
		carol.signup("carol", "carol@example.com", "password1")
		dd := dave.signup("dave", "dave@example.com", "password1")
		ctx := context.Background()

		// Alice owns one board, with files, bob as member and dave invited.
		own := joinedBoard(t, alice, "Alice's", bob)
		alice.upload("PUT", "/api/boards/"+own.ID+"/background", part{name: "background", filename: "a.png", data: testImage(t, "png", 8, 8, 2)}).want(t, http.StatusOK)
		c := alice.addCard(own.ID, alice.addList(own.ID, "L").ID, "C")
		alice.upload("POST", "/api/boards/"+own.ID+"/cards/"+c.ID+"/attachments", part{name: "file", filename: "a.pdf", data: minimalPDF("a")}).want(t, http.StatusCreated)
		alice.do("POST", "/api/boards/"+own.ID+"/invites", map[string]string{"userId": dd.User.ID}).want(t, http.StatusCreated)
		// She is a member of bob's board (with a favourite) and invited to carol's.
		bobs := joinedBoard(t, bob, "Bob's", alice)
		alice.do("PUT", "/api/boards/"+bobs.ID+"/favourite", map[string]bool{"favourite": true}).want(t, http.StatusOK)
		bob.addCard(bobs.ID, bob.addList(bobs.ID, "L").ID, "Bob's card")
		carols := carol.createBoard("Carol's", a.User.ID)

		alice.do("DELETE", "/api/users/"+a.User.ID, map[string]string{"currentPassword": "password1"}).want(t, http.StatusNoContent)

		bob.do("GET", "/api/boards/"+own.ID, nil).wantProblem(t, http.StatusNotFound, "not_found")
		for _, bucket := range []string{board.BackgroundBucket, board.AttachmentBucket} {
			if got := storedFiles(t, env, bucket); len(got) != 0 {
				t.Errorf("after deleting alice the store holds %s %q", bucket, got)
			}
		}
		if ns := dave.notifications(); len(ns) != 0 {
			t.Errorf("dave's invitation to alice's deleted board is still there: %+v", ns)
		}
		got := bob.board(bobs.ID)
		if len(got.Members) != 1 || got.Members[0].ID != bd.User.ID || layout(got) != "L: Bob's card" {
			t.Errorf("bob's board after alice went: members %+v, layout %q", got.Members, layout(got))
		}
		for _, id := range []string{bobs.ID, carols.ID} {
			stored, err := env.app.store.BoardByID(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if stored.IsMember(a.User.ID) || stored.IsInvited(a.User.ID) || stored.IsFavourite(a.User.ID) {
				t.Errorf("board %q still knows alice: %+v", stored.Title, stored)
			}
		}
		if ns, err := env.app.store.Notifications(ctx, a.User.ID); err != nil || len(ns) != 0 {
			t.Errorf("alice's notifications after her deletion: %+v, %v", ns, err)
		}
		ids, err := env.app.store.BoardIDsFor(ctx, a.User.ID)
		if err != nil || len(ids) != 0 {
			t.Errorf("boards still listing alice: %q, %v", ids, err)
		}
		if err := env.app.boardSvc.ForgetUser(ctx, a.User.ID); err != nil {
			t.Errorf("forgetting alice a second time: %v", err)
		}
		if s := bob.summaries(); len(s) != 1 || s[0].ID != bobs.ID {
			t.Errorf("bob's boards: %+v", s)
		}
	})
}

// TestBoardRoutesHostileBodies sends hostile bodies and content types to
// every board and notification route that reads a body, with the ids of
// real records in its path (the route-wide hostile-input test fills paths
// with ids of nothing on a board), and requires a problem or a success,
// never a 5xx.
func TestBoardRoutesHostileBodies(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, func(c *config) { c.rateLimits = false })
		alice, bob := env.newClient(), env.newClient()
		alice.signup("alice", "alice@example.com", "password1")
		bd := bob.signup("bob", "bob@example.com", "password1")
		b := alice.createBoard("Hostile", bd.User.ID)
		l := alice.addList(b.ID, "L")
		c := alice.addCard(b.ID, l.ID, "C")
		var att struct{ Attachment attachmentDoc }
		alice.upload("POST", "/api/boards/"+b.ID+"/cards/"+c.ID+"/attachments", part{name: "file", filename: "a.pdf", data: minimalPDF("x")}).
			want(t, http.StatusCreated).json(t, &att)
		nid := bob.notifications()[0].ID
		values := map[string]string{"{id}": b.ID, "{listId}": l.ID, "{cardId}": c.ID, "{userId}": bd.User.ID, "{attachmentId}": att.Attachment.ID}
		bodies := []string{
			``, `null`, `0`, `"x"`, `[]`, `{`, `{}`, `{"title":{"$ne":null}}`, `{"name":["a"],"position":"1"}`,
			`{"position":-9223372036854775808}`, `{"position":9223372036854775807,"listId":"` + l.ID + `"}`,
			`{"favourite":null}`, `{"userId":{"$gt":""}}`, `{"invite":[null]}`, `{"title":"` + strings.Repeat("t", 5000) + `"}`,
			"{\"name\":\"\xff\xfe\"}", `{"title":"a"}{"again":1}`,
		}
		contentTypes := []string{"application/json", "text/plain", "multipart/form-data; boundary=x", ""}
		for _, rt := range env.app.routeList() {
			method, path, _ := strings.Cut(rt.pattern, " ")
			if method == "GET" || method == "DELETE" || (!strings.HasPrefix(path, "/api/boards") && !strings.HasPrefix(path, "/api/notifications")) {
				continue
			}
			for k, v := range values {
				path = strings.ReplaceAll(path, k, v)
			}
			client := alice
			if strings.HasPrefix(path, "/api/notifications") {
				path = strings.ReplaceAll(rt.pattern[len(method)+1:], "{id}", nid)
				client = bob
			}
			for _, body := range bodies {
				for _, ct := range contentTypes {
					r := client.do(method, path, body, "Content-Type", ct)
					if r.StatusCode >= 500 || (r.StatusCode >= 400 && r.Header.Get("Content-Type") != "application/problem+json") {
						t.Errorf("%s %s body %.60q Content-Type %q: status %d, Content-Type %q, body %s",
							method, path, body, ct, r.StatusCode, r.Header.Get("Content-Type"), r.body)
					}
				}
			}
		}
	})
}
