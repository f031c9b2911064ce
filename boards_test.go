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
		pdf := testPDF("private")
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
