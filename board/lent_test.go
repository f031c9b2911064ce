package board_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"corkboard/auth"
	"corkboard/board"
	"corkboard/filestore"
	"corkboard/objectid"
	"corkboard/user"
)

// lendCheck is the file store, which lends the boards it holds (see
// board.Store), with a record of every board it lent and a deep copy of it
// as lent: a caller that wrote into a lent board's slices would have
// changed the stored board under every other reader, and check finds it.
type lendCheck struct {
	*filestore.Store
	mu   sync.Mutex
	lent []lentBoard
}

type lentBoard struct {
	how       string
	got, copy board.Board
}

func (s *lendCheck) lend(how string, b board.Board) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lent = append(s.lent, lentBoard{how, b, *b.Clone()})
}

func (s *lendCheck) BoardByID(ctx context.Context, id string) (board.Board, error) {
	b, err := s.Store.BoardByID(ctx, id)
	if err == nil {
		s.lend("BoardByID", b)
	}
	return b, err
}

func (s *lendCheck) UpdateBoard(ctx context.Context, id string, edit func(*board.Board) error) (board.Board, error) {
	b, err := s.Store.UpdateBoard(ctx, id, edit)
	if err == nil {
		s.lend("UpdateBoard", b)
	}
	return b, err
}

func (s *lendCheck) MarkBoardDeleting(ctx context.Context, id string, now time.Time) (board.Board, error) {
	b, err := s.Store.MarkBoardDeleting(ctx, id, now)
	if err == nil {
		s.lend("MarkBoardDeleting", b)
	}
	return b, err
}

func (s *lendCheck) BoardsBeingDeleted(ctx context.Context) ([]board.Board, error) {
	bs, err := s.Store.BoardsBeingDeleted(ctx)
	for _, b := range bs {
		s.lend("BoardsBeingDeleted", b)
	}
	return bs, err
}

func (s *lendCheck) EachBoard(ctx context.Context, fn func(board.Board) error) error {
	return s.Store.EachBoard(ctx, func(b board.Board) error {
		s.lend("EachBoard", b)
		return fn(b)
	})
}

// check fails the test if any board lent so far differs from its copy.
func (s *lendCheck) check(t *testing.T, after string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, l := range s.lent {
		if !reflect.DeepEqual(l.got, l.copy) {
			got, _ := json.Marshal(l.got)
			was, _ := json.Marshal(l.copy)
			t.Fatalf("after %s, board %d lent by %s changed:\n got %s\n was %s", after, i, l.how, got, was)
		}
	}
}

// TestServiceLeavesLentBoardsAlone runs every method of the Service that
// reads or writes a board, on the file store, and checks after each one
// that no board the store lent has changed: the Service treats every board
// it is lent as read-only, as board.Store requires.
func TestServiceLeavesLentBoardsAlone(t *testing.T) {
	ctx := context.Background()
	fs, err := filestore.Open(t.TempDir(), filestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	st := &lendCheck{Store: fs}
	now := time.Now().UTC()
	var users []auth.Principal
	for i, name := range []string{"owner", "member", "invitee"} {
		u := user.User{
			ID: objectid.New(now.Add(time.Duration(i) * time.Second)), Username: name, Email: name + "@example.com",
			Color: "#3366ff", Roles: []string{"user"}, PasswordHash: "$2a$10$" + strings.Repeat("N", 53),
			CreatedAt: now, UpdatedAt: now,
		}
		if err := fs.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		users = append(users, auth.Principal{UserID: u.ID, Roles: u.Roles, Account: u})
	}
	owner, member, invitee := users[0], users[1], users[2]
	svc := board.NewService(board.Deps{Store: st, Users: fs, Files: fs}, time.Now, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ptr := func(s string) *string { return &s }
	num := func(n int) *int { return &n }
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		st.check(t, what)
	}

	v, err := svc.Create(ctx, owner, board.CreateInput{Title: "Trip", Invite: []string{member.UserID}})
	must("Create", err)
	id := v.View.ID
	todo, err := svc.AddList(ctx, owner, id, "To do")
	must("AddList", err)
	done, err := svc.AddList(ctx, owner, id, "Done")
	must("AddList", err)
	var cards []string
	for _, title := range []string{"Tickets", "Hotel", "Ferry", "Bags"} {
		c, err := svc.AddCard(ctx, owner, id, todo.ID, title, "A description.")
		must("AddCard", err)
		cards = append(cards, c.ID)
	}
	ns, err := svc.Notifications(ctx, member)
	must("Notifications", err)
	if len(ns) != 1 {
		t.Fatalf("the member has %d notifications, want the invitation", len(ns))
	}
	_, err = svc.Accept(ctx, member, ns[0].ID)
	must("Accept", err)
	_, err = svc.Board(ctx, member, id)
	must("Board", err)
	_, err = svc.Boards(ctx, member)
	must("Boards", err)
	_, err = svc.Members(ctx, member, id)
	must("Members", err)
	_, err = svc.Update(ctx, owner, id, board.UpdateInput{Title: ptr("Trip!"), BackgroundURL: ptr("https://example.com/a.jpg")})
	must("Update", err)
	_, err = svc.Update(ctx, owner, id, board.UpdateInput{})
	must("Update of nothing", err)
	_, err = svc.SetFavourite(ctx, member, id, true)
	must("SetFavourite", err)
	_, err = svc.EditList(ctx, owner, id, todo.ID, board.EditListInput{Name: ptr("Doing"), Position: num(1)})
	must("EditList", err)
	_, err = svc.EditList(ctx, owner, id, todo.ID, board.EditListInput{})
	must("EditList of nothing", err)
	_, err = svc.EditCard(ctx, member, id, cards[0], board.EditCardInput{Title: ptr("Train tickets"), ListID: &done.ID})
	must("EditCard", err)
	_, err = svc.EditCard(ctx, member, id, cards[1], board.EditCardInput{Position: num(2)})
	must("EditCard in its list", err)
	_, err = svc.EditCard(ctx, member, id, cards[1], board.EditCardInput{})
	must("EditCard of nothing", err)
	must("EditCardMinimal", svc.EditCardMinimal(ctx, member, id, cards[2], board.EditCardInput{Description: ptr("Early."), ListID: &done.ID, Position: num(0)}))

	fileID, _, err := svc.StoreFile(ctx, board.AttachmentBucket, strings.NewReader("attached bytes"))
	must("StoreFile", err)
	a, err := svc.AddAttachment(ctx, member, id, cards[3], board.AttachmentInput{FileID: fileID, FileName: "plan.txt", ContentType: "text/plain", Size: 14})
	must("AddAttachment", err)
	must("CheckMember", svc.CheckMember(ctx, member, id))
	must("CheckCard", svc.CheckCard(ctx, member, id, cards[3]))
	_, f, err := svc.OpenAttachment(ctx, member, id, cards[3], a.ID)
	must("OpenAttachment", err)
	f.Close()
	bgID, _, err := svc.StoreFile(ctx, board.BackgroundBucket, strings.NewReader("background bytes"))
	must("StoreFile", err)
	_, err = svc.SetBackground(ctx, owner, id, bgID)
	must("SetBackground", err)
	must("DeleteAttachment", svc.DeleteAttachment(ctx, member, id, cards[3], a.ID))
	must("DeleteCard", svc.DeleteCard(ctx, member, id, cards[1]))

	_, err = svc.Invite(ctx, owner, id, invitee.UserID)
	must("Invite", err)
	ns, err = svc.Notifications(ctx, invitee)
	must("Notifications", err)
	must("Decline", svc.Decline(ctx, invitee, ns[0].ID))
	must("RemoveMember", svc.RemoveMember(ctx, owner, id, member.UserID))
	must("DeleteList", svc.DeleteList(ctx, owner, id, done.ID))

	second, err := svc.Create(ctx, member, board.CreateInput{Title: "The member's", Invite: []string{owner.UserID}})
	must("Create", err)
	must("ForgetUser", svc.ForgetUser(ctx, member.UserID))
	if _, err := fs.BoardByID(ctx, second.View.ID); err == nil {
		t.Fatal("the board of a forgotten user is still there")
	}
	_, err = svc.SweepNotifications(ctx)
	must("SweepNotifications", err)
	must("EachBoard", st.EachBoard(ctx, func(board.Board) error { return nil }))
	if _, err := st.MarkBoardDeleting(ctx, id, now); err != nil {
		t.Fatal(err)
	}
	_, err = svc.FinishDeletions(ctx, time.Now().Add(time.Hour))
	must("FinishDeletions", err)
	third, err := svc.Create(ctx, owner, board.CreateInput{Title: "Last"})
	must("Create", err)
	must("Delete", svc.Delete(ctx, owner, third.View.ID))
	if len(st.lent) < 40 {
		t.Fatalf("the store lent %d boards, fewer than the calls made", len(st.lent))
	}
}
