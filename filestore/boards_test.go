package filestore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"corkboard/board"
	"corkboard/objectid"
)

// boardUser returns a fixed, valid user id.
func boardUser(n int) string { return fmt.Sprintf("%024x", 0xb0a4d000+n) }

// writeBoardHistory gives s boards and notifications with a history:
// boards created, filled, shared, moved about, renamed and one deleted;
// invitations sent, answered and one deleted.
func writeBoardHistory(t testing.TB, s *Store, n int) {
	t.Helper()
	ctx := context.Background()
	now := testTime()
	owner := boardUser(0)
	for i := range n {
		at := now.Add(time.Duration(i) * time.Minute)
		b, err := board.New(owner, fmt.Sprintf("Board %d <&>", i), "", at)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.CreateBoard(ctx, *b); err != nil {
			t.Fatalf("CreateBoard(%d) = %v", i, err)
		}
		step := func(call string, edit func(*board.Board) error) {
			t.Helper()
			if _, err := s.UpdateBoard(ctx, b.ID, func(e *board.Board) error { e.UpdatedAt = at; return edit(e) }); err != nil {
				t.Fatalf("board %d: UpdateBoard(%s) = %v", i, call, err)
			}
		}
		var lists []string
		step("lists and cards", func(e *board.Board) error {
			for _, name := range []string{"To do", "Doing", "Done"} {
				l, err := e.AddList(name, at)
				if err != nil {
					return err
				}
				lists = append(lists, l.ID)
				for j := range 3 {
					if _, err := e.AddCard(l.ID, fmt.Sprintf("%s %d", name, j), "notes\nmore notes", at); err != nil {
						return err
					}
				}
			}
			return nil
		})
		member := boardUser(1 + i%3)
		step("members", func(e *board.Board) error {
			if err := e.AddMember(member); err != nil {
				return err
			}
			return e.SetFavourite(member, i%2 == 0)
		})
		step("moves", func(e *board.Board) error {
			if err := e.MoveCard(e.Lists[0].Cards[0].ID, lists[2], 0); err != nil {
				return err
			}
			return e.MoveList(lists[1], 5)
		})
		step("attachment", func(e *board.Board) error {
			return e.AddAttachment(e.Lists[0].Cards[0].ID, board.Attachment{
				ID: objectid.New(at), Name: "plan.pdf", ContentType: "application/pdf", Size: 1000, CreatedAt: at,
			})
		})
		invitee := boardUser(10 + i)
		step("invite", func(e *board.Board) error { return e.Invite(owner, invitee) })
		inv := board.Notification{
			ID: objectid.New(at), UserID: invitee, Type: board.NotificationInvite, BoardID: b.ID, BoardTitle: b.Title,
			FromUserID: owner, FromUsername: "owner", CreatedAt: at,
		}
		if err := s.CreateNotification(ctx, inv); err != nil {
			t.Fatalf("CreateNotification = %v", err)
		}
		if i%2 == 1 {
			if _, err := s.HandleNotification(ctx, inv.ID, i%4 == 1, at.Add(time.Second)); err != nil {
				t.Fatalf("HandleNotification = %v", err)
			}
		}
		if i%5 == 4 {
			if err := s.DeleteBoard(ctx, b.ID); err != nil {
				t.Fatalf("DeleteBoard = %v", err)
			}
			if err := s.DeleteBoardNotifications(ctx, b.ID); err != nil {
				t.Fatalf("DeleteBoardNotifications = %v", err)
			}
		}
	}
}

// dumpBoards returns every board and notification of s, and the lists of
// boards and notifications of a few users (which come from the indexes),
// as JSON by key.
func dumpBoards(t testing.TB, s *Store) map[string]string {
	t.Helper()
	out := make(map[string]string)
	add := func(key string, v any) error {
		b, err := json.Marshal(v)
		out[key] = string(b)
		return err
	}
	ctx := context.Background()
	if err := s.EachBoard(ctx, func(b board.Board) error { return add("board "+b.ID, b) }); err != nil {
		t.Fatalf("EachBoard = %v", err)
	}
	if err := s.EachNotification(ctx, func(n board.Notification) error { return add("notification "+n.ID, n) }); err != nil {
		t.Fatalf("EachNotification = %v", err)
	}
	for i := range 14 {
		u := boardUser(i)
		summaries, err := s.BoardSummaries(ctx, u)
		if err != nil {
			t.Fatalf("BoardSummaries = %v", err)
		}
		add("summaries of "+u, summaries)
		notes, err := s.Notifications(ctx, u)
		if err != nil {
			t.Fatalf("Notifications = %v", err)
		}
		add("notifications of "+u, notes)
	}
	return out
}

// TestBoardsRestart checks that boards and notifications, with their
// indexes, come back the same from the journal and from a snapshot.
func TestBoardsRestart(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	writeBoardHistory(t, s, 10)
	want := dumpBoards(t, s)
	if n := strings.Count(strings.Join(mapKeys(want), " "), "board "); n != 8 {
		t.Fatalf("history left %d boards, want 8", n)
	}
	closeStore(t, s)

	s = openStore(t, dir, Options{})
	checkDump(t, "after replaying the journal", dumpBoards(t, s), want)
	forceCompaction(s)
	closeStore(t, s)
	s = openStore(t, dir, Options{})
	checkDump(t, "after reopening from a snapshot", dumpBoards(t, s), want)
	// The indexes were rebuilt from the snapshot: a change of members
	// shows in the lists of boards.
	ctx := context.Background()
	list, err := s.BoardSummaries(ctx, boardUser(1))
	if err != nil || len(list) == 0 {
		t.Fatalf("BoardSummaries(user 1) = %v, %v", list, err)
	}
	if _, err := s.UpdateBoard(ctx, list[0].ID, func(e *board.Board) error { return e.RemoveMember(boardUser(1)) }); err != nil {
		t.Fatal(err)
	}
	if again, err := s.BoardSummaries(ctx, boardUser(1)); err != nil || len(again) != len(list)-1 {
		t.Errorf("BoardSummaries(user 1) after leaving a board = %d boards (%v), want %d", len(again), err, len(list)-1)
	}
}

func mapKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

// TestOpensWithoutBoardKinds: a data directory written before boards
// existed has no "board" or "notification" records in its snapshot; it
// opens, and takes boards from then on.
func TestOpensWithoutBoardKinds(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	users := mustCreateUsers(t, s, "user", 2)
	forceCompaction(s)
	closeStore(t, s)
	path := filepath.Join(dir, snapshotName)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	old := bytes.Replace(data, []byte(",\n\"board\":[],\n\"notification\":[]}}"), []byte("}}"), 1)
	if bytes.Equal(old, data) || bytes.Contains(old, []byte(`"board"`)) {
		t.Fatalf("could not take the board kinds out of the snapshot:\n%s", data)
	}
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, dir, Options{})
	checkUsers(t, s, "in a directory without board kinds", users)
	b, err := board.New(users[0].ID, "First board", "", testTime())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateBoard(context.Background(), *b); err != nil {
		t.Fatalf("CreateBoard in a directory without board kinds = %v", err)
	}
	closeStore(t, s)
	s = openStore(t, dir, Options{})
	if _, err := s.BoardByID(context.Background(), b.ID); err != nil {
		t.Errorf("BoardByID after reopening = %v, want the board", err)
	}
}

// TestInvalidBoardRefused: a board or notification edited by hand into one
// the methods could not have made stops Open with a message naming the
// file, the line and what is wrong, like a bad user.
func TestInvalidBoardRefused(t *testing.T) {
	for _, e := range []struct {
		name, old, new, want string
	}{
		{"favourite of a non-member", `"favouritedBy":[]`, `"favouritedBy":["` + boardUser(99) + `"]`, "favourite"},
		{"owner not first", `"members":["` + boardUser(0) + `"`, `"members":["` + boardUser(98) + `"`, "owner"},
		{"negative version", `"version":0`, `"version":-1`, "version"},
		{"notification of no type", `"type":"invite"`, `"type":"spam"`, "type"},
	} {
		t.Run(e.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openStore(t, dir, Options{})
			b, err := board.New(boardUser(0), "Board", "", testTime())
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if err := s.CreateBoard(ctx, *b); err != nil {
				t.Fatal(err)
			}
			n := board.Notification{ID: objectid.New(testTime()), UserID: boardUser(5), Type: board.NotificationInvite,
				BoardID: b.ID, BoardTitle: b.Title, FromUserID: boardUser(0), FromUsername: "owner", CreatedAt: testTime()}
			if err := s.CreateNotification(ctx, n); err != nil {
				t.Fatal(err)
			}
			closeStore(t, s)
			file := filepath.Join(dir, journalName(1))
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(data, []byte(e.old)) {
				t.Fatalf("%s has no %s:\n%s", file, e.old, data)
			}
			if err := os.WriteFile(file, bytes.Replace(data, []byte(e.old), []byte(e.new), 1), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err = Open(dir, Options{})
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open after editing %s = %v, want ErrCorrupt", file, err)
			}
			for _, want := range []string{file, "line", e.want} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Open error %q does not name %q", err, want)
				}
			}
		})
	}
}

// TestIsNormalCard checks normalizeBoard's quick look against normalCard:
// a card is taken as it is exactly when normalCard returns it unchanged
// (compared by reflect.DeepEqual, which tells a nil slice from an empty
// one and a time's location and monotonic reading apart), and what
// normalCard returns is taken as it is.
func TestIsNormalCard(t *testing.T) {
	utcNow := time.Date(2026, 11, 30, 12, 0, 0, 123456789, time.UTC)
	paris := time.FixedZone("Paris", 3600)
	att := func(at time.Time) board.Attachment {
		return board.Attachment{ID: objectid.New(utcNow), Name: "a.png", ContentType: "image/png", Size: 1, CreatedAt: at}
	}
	for _, tc := range []struct {
		name string
		card board.Card
	}{
		{"normal, no attachments", board.Card{ID: "c1", Title: "t", CreatedAt: utcNow, Attachments: []board.Attachment{}}},
		{"normal, two attachments", board.Card{ID: "c2", CreatedAt: utcNow, Attachments: []board.Attachment{att(utcNow), att(utcNow.Add(time.Second))}}},
		{"nil attachments", board.Card{ID: "c3", CreatedAt: utcNow}},
		{"a reading of time.Now", board.Card{ID: "c4", CreatedAt: time.Now(), Attachments: []board.Attachment{}}},
		{"other location, same instant", board.Card{ID: "c5", CreatedAt: utcNow.In(paris), Attachments: []board.Attachment{}}},
		{"local location", board.Card{ID: "c6", CreatedAt: utcNow.Local(), Attachments: []board.Attachment{}}},
		{"zero time", board.Card{ID: "c7", Attachments: []board.Attachment{}}},
		{"second attachment in another location", board.Card{ID: "c8", CreatedAt: utcNow, Attachments: []board.Attachment{att(utcNow), att(utcNow.In(paris))}}},
		{"attachment with a monotonic reading", board.Card{ID: "c9", CreatedAt: utcNow, Attachments: []board.Attachment{att(time.Now())}}},
	} {
		c := tc.card
		n := normalCard(c)
		if got, same := isNormalCard(&c), reflect.DeepEqual(n, c); got != same {
			t.Errorf("%s: isNormalCard %v, but normalCard returns it unchanged: %v", tc.name, got, same)
		}
		if !isNormalCard(&n) {
			t.Errorf("%s: normalCard returns %+v, not in normal form", tc.name, n)
		}
	}
}
