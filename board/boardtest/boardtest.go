// Package boardtest is the contract suite for board.Store. Every store runs
// it — the file store on a temporary directory, the MongoDB store on a fresh
// database — so that all stores keep the promises written on the methods of
// board.Store: one atomic write per change, copies in and lent boards that
// never change, the same order of boards and notifications, and a
// compare-and-swap that holds under concurrency.
package boardtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"corkboard/board"
	"corkboard/objectid"
)

// TestStore runs the board.Store contract as subtests. newStore must return
// a fresh, empty store for each subtest and arrange for its cleanup.
func TestStore(t *testing.T, newStore func(t *testing.T) board.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s board.Store)
	}{
		{"CreateAndReadBack", testCreateAndReadBack},
		{"CreateRefusesInvalid", testCreateRefusesInvalid},
		{"NotFound", testNotFound},
		{"UpdateBoard", testUpdateBoard},
		{"UpdateBoardEditError", testUpdateBoardEditError},
		{"UpdateBoardRefusesBadResult", testUpdateBoardBadResult},
		{"NoAliasing", testNoAliasing},
		{"DeleteBoard", testDeleteBoard},
		{"BoardSummaries", testBoardSummaries},
		{"SummariesFollowMembership", testSummariesFollowMembership},
		{"BoardIDsFor", testBoardIDsFor},
		{"EachBoard", testEachBoard},
		{"EachBoardStopsAtError", testEachBoardStops},
		{"ConcurrentMoves", testConcurrentMoves},
		{"Notifications", testNotifications},
		{"NotificationsRefuseInvalid", testNotificationsInvalid},
		{"HandleNotification", testHandleNotification},
		{"ConcurrentHandleNotification", testConcurrentHandle},
		{"DeleteNotifications", testDeleteNotifications},
		{"EachNotification", testEachNotification},
		{"NotificationNoAliasing", testNotificationNoAliasing},
		{"MarkBoardDeleting", testMarkBoardDeleting},
		{"MarkBoardDeletingNotFound", testMarkBoardDeletingNotFound},
		{"MarkBoardDeletingDuringUpdates", testMarkDuringUpdates},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newStore(t))
		})
	}
}

// baseTime is the suite's fixed clock. Every time the suite stores is a
// whole number of milliseconds, because MongoDB keeps no more: a store must
// give back a time equal to the one it was given, and only whole
// milliseconds survive in every store.
func baseTime() time.Time {
	return time.Date(2025, time.March, 14, 9, 26, 53, 589_000_000, time.UTC)
}

// at returns the suite's clock plus n seconds.
func at(n int) time.Time { return baseTime().Add(time.Duration(n) * time.Second) }

// uid returns a fixed, valid user id.
func uid(n int) string { return fmt.Sprintf("%024x", 0xa11ce000+n) }

var (
	owner = uid(1)
	alice = uid(2)
	bob   = uid(3)
	carol = uid(4)
)

// newBoard returns a board of owner titled title, created at now, with no
// lists.
func newBoard(t *testing.T, title string, now time.Time) board.Board {
	t.Helper()
	b, err := board.New(owner, title, "", now)
	if err != nil {
		t.Fatalf("board.New(%q) = %v", title, err)
	}
	return *b
}

// fullBoard returns a board with something in every field: lists (one of
// them empty), cards with descriptions and attachments, a member, an
// invitation and favourites, and a background URL.
func fullBoard(t *testing.T) board.Board {
	t.Helper()
	b := newBoard(t, "Holidays <&> ✈", at(0))
	must := func(call string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s = %v", call, err)
		}
	}
	_, err := b.SetBackgroundURL("https://example.com/sea.jpg?w=1&h=2")
	must("SetBackgroundURL", err)
	todo, err := b.AddList("To do", at(1))
	must("AddList", err)
	_, err = b.AddList("Empty", at(1))
	must("AddList", err)
	done, err := b.AddList("Done", at(1))
	must("AddList", err)
	for i := range 3 {
		c, err := b.AddCard(todo.ID, fmt.Sprintf("Card %d", i), "line one\nline two\ttabbed 😀", at(2+i))
		must("AddCard", err)
		if i == 1 {
			must("AddAttachment", b.AddAttachment(c.ID, board.Attachment{
				ID: objectid.New(at(5)), Name: "ticket.pdf", ContentType: "application/pdf", Size: 12345, CreatedAt: at(5),
			}))
			must("AddAttachment", b.AddAttachment(c.ID, board.Attachment{
				ID: objectid.New(at(6)), Name: "empty.txt", ContentType: "text/plain", Size: 0, CreatedAt: at(6),
			}))
		}
	}
	_, err = b.AddCard(done.ID, "Book the ferry", "", at(7))
	must("AddCard", err)
	must("AddMember", b.AddMember(alice))
	must("Invite", b.Invite(owner, bob))
	must("SetFavourite", b.SetFavourite(alice, true))
	must("SetFavourite", b.SetFavourite(owner, true))
	b.UpdatedAt = at(8)
	return b
}

// canonical returns b as a store gives it back: a deep copy, every empty
// slice non-nil, every time in UTC.
func canonical(b board.Board) board.Board {
	c := *b.Clone()
	c.Members = nonNil(c.Members)
	c.Invited = nonNil(c.Invited)
	c.FavouritedBy = nonNil(c.FavouritedBy)
	c.Lists = nonNil(c.Lists)
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	for i := range c.Lists {
		l := &c.Lists[i]
		l.Cards = nonNil(l.Cards)
		for j := range l.Cards {
			card := &l.Cards[j]
			card.CreatedAt = card.CreatedAt.UTC()
			card.Attachments = nonNil(card.Attachments)
			for k := range card.Attachments {
				card.Attachments[k].CreatedAt = card.Attachments[k].CreatedAt.UTC()
			}
		}
	}
	return c
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// diffJSON returns "" when got and want encode to the same JSON, else both
// encodings from the first byte where they differ. JSON tells an empty
// slice ([]) from a nil one (null) and writes times in full, so equal
// encodings mean equal records, down to the promise that slices are never
// nil.
func diffJSON(got, want any) string {
	g, gerr := json.Marshal(got)
	w, werr := json.Marshal(want)
	if gerr != nil || werr != nil {
		return fmt.Sprintf("cannot encode: %v, %v", gerr, werr)
	}
	if string(g) == string(w) {
		return ""
	}
	i := 0
	for i < len(g) && i < len(w) && g[i] == w[i] {
		i++
	}
	from := max(0, i-60)
	clip := func(s []byte) string { return string(s[from:min(len(s), i+120)]) }
	return fmt.Sprintf("from byte %d:\n\tgot  …%s…\n\twant …%s…", i, clip(g), clip(w))
}

// wantBoard checks that the stored board with want's id is want, as a
// store gives it back.
func wantBoard(t *testing.T, s board.Store, what string, want board.Board) {
	t.Helper()
	got, err := s.BoardByID(context.Background(), want.ID)
	if err != nil {
		t.Errorf("%s: BoardByID(%s) = %v, want the board", what, want.ID, err)
		return
	}
	if d := diffJSON(got, canonical(want)); d != "" {
		t.Errorf("%s: BoardByID(%s) returned another board, %s", what, want.ID, d)
	}
}

// wantErr checks that err is want, with errors.Is.
func wantErr(t *testing.T, call string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s = %v, want %v", call, err, want)
	}
}

// mustCreate stores b or stops the test.
func mustCreate(t *testing.T, s board.Store, b board.Board) {
	t.Helper()
	if err := s.CreateBoard(context.Background(), b); err != nil {
		t.Fatalf("CreateBoard(%s %q) = %v, want nil", b.ID, b.Title, err)
	}
}

// mustUpdate runs edit through UpdateBoard or stops the test.
func mustUpdate(t *testing.T, s board.Store, id string, edit func(*board.Board) error) board.Board {
	t.Helper()
	b, err := s.UpdateBoard(context.Background(), id, edit)
	if err != nil {
		t.Fatalf("UpdateBoard(%s) = %v, want nil", id, err)
	}
	return b
}

func testCreateAndReadBack(t *testing.T, s board.Store) {
	full := fullBoard(t)
	mustCreate(t, s, full)
	wantBoard(t, s, "a board with every field set", full)

	// A new board has nil slices; it comes back with empty ones.
	bare := newBoard(t, "Bare", at(1))
	mustCreate(t, s, bare)
	wantBoard(t, s, "a board fresh from New", bare)

	// An uploaded background, and a version other than 0 (an import's).
	bg := newBoard(t, "Background", at(2))
	if _, err := bg.SetBackgroundFile(objectid.New(at(2))); err != nil {
		t.Fatal(err)
	}
	bg.Version = 41
	mustCreate(t, s, bg)
	wantBoard(t, s, "a board with an uploaded background and version 41", bg)

	// Times in another zone come back in UTC, the same instant.
	paris := newBoard(t, "Paris", at(3).In(time.FixedZone("CET", 3600)))
	mustCreate(t, s, paris)
	got, err := s.BoardByID(context.Background(), paris.ID)
	if err != nil || !got.CreatedAt.Equal(paris.CreatedAt) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("BoardByID(%s).CreatedAt = %v (%v), want %v in UTC", paris.ID, got.CreatedAt, err, paris.CreatedAt)
	}
}

func testCreateRefusesInvalid(t *testing.T, s board.Store) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		spoil func(*board.Board)
	}{
		{"empty title", func(b *board.Board) { b.Title = "" }},
		{"owner not first member", func(b *board.Board) { b.Members = []string{alice, owner} }},
		{"id not 24 hex", func(b *board.Board) { b.ID = "not-an-id" }},
		{"favourite of a non-member", func(b *board.Board) { b.FavouritedBy = []string{carol} }},
		{"negative version", func(b *board.Board) { b.Version = -1 }},
	} {
		b := fullBoard(t)
		tc.spoil(&b)
		if err := s.CreateBoard(ctx, b); err == nil {
			t.Errorf("CreateBoard of a board with %s = nil, want an error", tc.name)
		}
		if _, err := s.BoardByID(ctx, b.ID); !errors.Is(err, board.ErrNotFound) {
			t.Errorf("after CreateBoard of a board with %s failed, BoardByID = %v, want %v", tc.name, err, board.ErrNotFound)
		}
	}

	// An id already used is refused, and the first board stays.
	first := fullBoard(t)
	mustCreate(t, s, first)
	clash := newBoard(t, "Clash", at(9))
	clash.ID = first.ID
	if err := s.CreateBoard(ctx, clash); err == nil {
		t.Errorf("CreateBoard with the id of another board = nil, want an error")
	}
	wantBoard(t, s, "after a clashing CreateBoard", first)
	if list, err := s.BoardSummaries(ctx, owner); err != nil || len(list) != 1 {
		t.Errorf("BoardSummaries(owner) after a clashing CreateBoard = %d boards (%v), want 1", len(list), err)
	}
}

func testNotFound(t *testing.T, s board.Store) {
	ctx := context.Background()
	mustCreate(t, s, fullBoard(t))
	unknown := objectid.New(at(0))
	for _, id := range []string{unknown, "", "nothex", "507F1F77BCF86CD799439011", "507f1f77bcf86cd79943901", "507f1f77bcf86cd79943901g"} {
		_, err := s.BoardByID(ctx, id)
		wantErr(t, fmt.Sprintf("BoardByID(%q)", id), err, board.ErrNotFound)
		called := false
		_, err = s.UpdateBoard(ctx, id, func(*board.Board) error { called = true; return nil })
		wantErr(t, fmt.Sprintf("UpdateBoard(%q)", id), err, board.ErrNotFound)
		if called {
			t.Errorf("UpdateBoard(%q) of a missing board called edit", id)
		}
		wantErr(t, fmt.Sprintf("DeleteBoard(%q)", id), s.DeleteBoard(ctx, id), board.ErrNotFound)
		_, err = s.NotificationByID(ctx, id)
		wantErr(t, fmt.Sprintf("NotificationByID(%q)", id), err, board.ErrNotificationNotFound)
		_, err = s.HandleNotification(ctx, id, true, at(1))
		wantErr(t, fmt.Sprintf("HandleNotification(%q)", id), err, board.ErrNotificationNotFound)
		wantErr(t, fmt.Sprintf("DeleteNotification(%q)", id), s.DeleteNotification(ctx, id), board.ErrNotificationNotFound)
		if list, err := s.BoardSummaries(ctx, id); err != nil || list == nil || len(list) != 0 {
			t.Errorf("BoardSummaries(%q) = %v, %v; want an empty slice, nil", id, list, err)
		}
		if ids, err := s.BoardIDsFor(ctx, id); err != nil || len(ids) != 0 {
			t.Errorf("BoardIDsFor(%q) = %v, %v; want none, nil", id, ids, err)
		}
		if list, err := s.Notifications(ctx, id); err != nil || list == nil || len(list) != 0 {
			t.Errorf("Notifications(%q) = %v, %v; want an empty slice, nil", id, list, err)
		}
		if err := s.DeleteNotificationsFor(ctx, id); err != nil {
			t.Errorf("DeleteNotificationsFor(%q) = %v, want nil", id, err)
		}
		if err := s.DeleteBoardNotifications(ctx, id); err != nil {
			t.Errorf("DeleteBoardNotifications(%q) = %v, want nil", id, err)
		}
	}
}

func testUpdateBoard(t *testing.T, s board.Store) {
	b := fullBoard(t)
	mustCreate(t, s, b)
	want := b

	// An edit of several changes is one write, one version.
	var listID string
	got := mustUpdate(t, s, b.ID, func(e *board.Board) error {
		if e.Version != 0 {
			t.Errorf("edit got a board of version %d, want 0", e.Version)
		}
		l, err := e.AddList("Later", at(10))
		if err != nil {
			return err
		}
		listID = l.ID
		if _, err := e.AddCard(l.ID, "Someday", "maybe", at(10)); err != nil {
			return err
		}
		e.UpdatedAt = at(10)
		return nil
	})
	if len(got.Lists) != len(want.Lists)+1 {
		t.Fatalf("after adding a list, UpdateBoard returned %d lists, want %d", len(got.Lists), len(want.Lists)+1)
	}
	want.Lists = append(slices.Clone(want.Lists), got.Lists[len(got.Lists)-1])
	want.UpdatedAt, want.Version = at(10), 1
	if d := diffJSON(got, canonical(want)); d != "" {
		t.Errorf("UpdateBoard returned another board than edited, %s", d)
	}
	wantBoard(t, s, "after one UpdateBoard", want)

	// Every write bumps the version by one; edit always sees the last.
	for v := int64(1); v < 5; v++ {
		got = mustUpdate(t, s, b.ID, func(e *board.Board) error {
			if e.Version != v {
				t.Errorf("edit %d got a board of version %d, want %d", v, e.Version, v)
			}
			return e.RenameList(listID, fmt.Sprintf("Later %d", v))
		})
		if got.Version != v+1 {
			t.Errorf("UpdateBoard %d returned version %d, want %d", v, got.Version, v+1)
		}
	}
	want.Lists[len(want.Lists)-1].Name, want.Version = "Later 4", 5
	wantBoard(t, s, "after five UpdateBoards", want)

	// The version is the store's: an edit that sets it is overruled.
	got = mustUpdate(t, s, b.ID, func(e *board.Board) error { e.Version = 100; return nil })
	if got.Version != 6 {
		t.Errorf("UpdateBoard whose edit set version 100 stored version %d, want 6", got.Version)
	}
}

func testUpdateBoardEditError(t *testing.T, s board.Store) {
	ctx := context.Background()
	b := fullBoard(t)
	mustCreate(t, s, b)
	errEdit := errors.New("the edit refuses")
	for _, tc := range []struct {
		name string
		edit func(*board.Board) error
		want error
	}{
		{"changes then fails", func(e *board.Board) error {
			// In place, deep down (on cards the edit made its own, as
			// board.Store requires), and by replacing whole slices.
			e.Lists[0].Name = "Changed"
			ownCard(e, 0, 1).Attachments[0].Name = "changed.txt"
			e.FavouritedBy[0] = owner
			e.Title = "Changed"
			e.Lists = nil
			e.Members = append(e.Members, carol)
			return errEdit
		}, errEdit},
		{"a board method's error", func(e *board.Board) error {
			if _, err := e.AddList("Half", at(20)); err != nil {
				return err
			}
			return e.MoveCard(objectid.New(at(20)), "", 0)
		}, board.ErrCardNotFound},
	} {
		_, err := s.UpdateBoard(ctx, b.ID, tc.edit)
		// Unwrapped: the very error edit returned.
		if err != tc.want {
			t.Errorf("UpdateBoard whose edit %s = %v, want exactly %v", tc.name, err, tc.want)
		}
		wantBoard(t, s, "after an edit that "+tc.name, b)
	}
	if list, err := s.BoardSummaries(ctx, carol); err != nil || len(list) != 0 {
		t.Errorf("BoardSummaries(carol) after a failed edit added her = %v, %v; want none", list, err)
	}
}

func testUpdateBoardBadResult(t *testing.T, s board.Store) {
	ctx := context.Background()
	b := fullBoard(t)
	mustCreate(t, s, b)
	for _, tc := range []struct {
		name string
		edit func(*board.Board) error
	}{
		{"empties the title", func(e *board.Board) error { e.Title = ""; return nil }},
		{"makes a non-member a favourite", func(e *board.Board) error { e.FavouritedBy = append(e.FavouritedBy, carol); return nil }},
		{"changes the id", func(e *board.Board) error { e.ID = objectid.New(at(30)); return nil }},
	} {
		_, err := s.UpdateBoard(ctx, b.ID, tc.edit)
		if err == nil || errors.Is(err, board.ErrBusy) || errors.Is(err, board.ErrNotFound) {
			t.Errorf("UpdateBoard whose edit %s = %v, want an error that is neither ErrBusy nor ErrNotFound", tc.name, err)
		}
		wantBoard(t, s, "after an edit that "+tc.name, b)
	}
}

// testNoAliasing checks that a store copies the boards given to it, and
// never changes a board it has lent (board.Store): a board handed out by
// BoardByID, UpdateBoard or EachBoard stays as it was, every element of
// its slices included, through every later write of that board.
func testNoAliasing(t *testing.T, s board.Store) {
	ctx := context.Background()
	b := fullBoard(t)
	want := canonical(b)
	mustCreate(t, s, b)
	scribble := func(x *board.Board) {
		x.Title = "Scribbled"
		x.Members[0] = carol
		x.FavouritedBy[0] = carol
		x.Lists[0].Name = "Scribbled"
		x.Lists[0].Cards[0].Title = "Scribbled"
		x.Lists[0].Cards[1].Attachments[0].Name = "scribbled.exe"
	}
	scribble(&b) // the board given to CreateBoard
	wantBoard(t, s, "after changing the board given to CreateBoard", want)

	// lent keeps every board handed out with a deep copy of it as it was
	// handed out.
	type lentBoard struct{ got, was board.Board }
	var lent []lentBoard
	lend := func(got board.Board) { lent = append(lent, lentBoard{got, *got.Clone()}) }
	got, err := s.BoardByID(ctx, want.ID)
	if err != nil {
		t.Fatal(err)
	}
	lend(got)
	if err := s.EachBoard(ctx, func(x board.Board) error { lend(x); return nil }); err != nil {
		t.Fatal(err)
	}
	// Every kind of change, each one a write of its own, in place
	// where the edit allows it: an edit is given a copy.
	todo, done := want.Lists[0].ID, want.Lists[2].ID
	card, withFiles := want.Lists[0].Cards[0].ID, want.Lists[0].Cards[1].ID
	edits := []func(*board.Board) error{
		func(e *board.Board) error { e.Title = "Renamed"; return nil },
		func(e *board.Board) error { return e.Invite(owner, carol) },
		func(e *board.Board) error { return e.RemoveMember(alice) },
		func(e *board.Board) error { return e.RenameList(todo, "Doing") },
		func(e *board.Board) error { ownCard(e, 0, 0).Title = "Edited in place"; return nil },
		func(e *board.Board) error { ownCard(e, 0, 1).Attachments[0].Name = "renamed.pdf"; return nil },
		func(e *board.Board) error { t := "Edited"; return e.EditCard(card, &t, &t) },
		func(e *board.Board) error { _, err := e.AddCard(todo, "Added", "", at(40)); return err },
		func(e *board.Board) error {
			return e.AddAttachment(card, board.Attachment{ID: objectid.New(at(41)), Name: "a.txt", ContentType: "text/plain", Size: 1, CreatedAt: at(41)})
		},
		func(e *board.Board) error {
			_, err := e.RemoveAttachment(withFiles, e.Lists[0].Cards[1].Attachments[0].ID)
			return err
		},
		func(e *board.Board) error {
			e.DropFile(board.FileRef{Bucket: board.AttachmentBucket, ID: e.Lists[0].Cards[1].Attachments[0].ID})
			return nil
		},
		func(e *board.Board) error { return e.MoveCard(card, "", 1) },
		func(e *board.Board) error { return e.MoveList(done, 0) },
		func(e *board.Board) error { _, err := e.AddList("New", at(42)); return err },
		func(e *board.Board) error { return e.MoveCard(card, done, 0) },
		func(e *board.Board) error { return e.MoveCard(withFiles, todo, 5) },
		func(e *board.Board) error { _, err := e.DeleteCard(card); return err },
		func(e *board.Board) error { _, err := e.DeleteList(done); return err },
	}
	for i, edit := range edits {
		lend(mustUpdate(t, s, want.ID, edit))
		got, err := s.BoardByID(ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		lend(got)
		for j, l := range lent {
			if d := diffJSON(l.got, l.was); d != "" || !reflect.DeepEqual(l.got, l.was) {
				t.Fatalf("after edit %d, board %d lent before it changed: %s", i, j, d)
			}
		}
	}
}

// ownCard gives the card at li, ci of the board an edit was given a copy
// of its own, with its own attachments, and returns it: what an edit that
// writes into a card directly does first (board.Store: the copy's lists
// share their cards with the stored board).
func ownCard(e *board.Board, li, ci int) *board.Card {
	l := &e.Lists[li]
	l.Cards = slices.Clone(l.Cards)
	c := &l.Cards[ci]
	c.Attachments = slices.Clone(c.Attachments)
	return c
}

func testDeleteBoard(t *testing.T, s board.Store) {
	ctx := context.Background()
	gone, stays := fullBoard(t), fullBoard(t)
	mustCreate(t, s, gone)
	mustCreate(t, s, stays)
	if err := s.DeleteBoard(ctx, gone.ID); err != nil {
		t.Fatalf("DeleteBoard(%s) = %v", gone.ID, err)
	}
	_, err := s.BoardByID(ctx, gone.ID)
	wantErr(t, "BoardByID of a deleted board", err, board.ErrNotFound)
	wantErr(t, "DeleteBoard twice", s.DeleteBoard(ctx, gone.ID), board.ErrNotFound)
	_, err = s.UpdateBoard(ctx, gone.ID, func(*board.Board) error { return nil })
	wantErr(t, "UpdateBoard of a deleted board", err, board.ErrNotFound)
	wantBoard(t, s, "the other board, after a delete", stays)
	for _, u := range []string{owner, alice, bob} {
		if ids, err := s.BoardIDsFor(ctx, u); err != nil || !slices.Equal(ids, []string{stays.ID}) {
			t.Errorf("BoardIDsFor(%s) after a delete = %v, %v; want [%s]", u, ids, err, stays.ID)
		}
	}
	if list, err := s.BoardSummaries(ctx, alice); err != nil || len(list) != 1 || list[0].ID != stays.ID {
		t.Errorf("BoardSummaries(alice) after a delete = %v, %v; want the other board only", list, err)
	}
}

func testBoardSummaries(t *testing.T, s board.Store) {
	ctx := context.Background()
	// Boards of alice: some favourites, various update times, one tie.
	mk := func(title string, updated int, favourite bool) board.Board {
		b := newBoard(t, title, at(0))
		if err := b.AddMember(alice); err != nil {
			t.Fatal(err)
		}
		if favourite {
			if err := b.SetFavourite(alice, true); err != nil {
				t.Fatal(err)
			}
		}
		b.UpdatedAt = at(updated)
		return b
	}
	a := mk("A", 1, false)
	bb := mk("B", 3, false)
	c := mk("C", 2, true)
	d := mk("D", 0, true)
	e := mk("E", 3, false) // updated with B: the id decides
	if _, err := e.SetBackgroundFile(objectid.New(at(0))); err != nil {
		t.Fatal(err)
	}
	if _, err := a.SetBackgroundURL("https://example.com/a.png"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.AddList("Lists are not needed for a tile", at(0)); err != nil {
		t.Fatal(err)
	}
	// The owner's favourite is not alice's.
	if err := bb.SetFavourite(owner, true); err != nil {
		t.Fatal(err)
	}
	// A board alice is only invited to, and one she is not on.
	invited := newBoard(t, "Invited", at(9))
	if err := invited.Invite(owner, alice); err != nil {
		t.Fatal(err)
	}
	other := newBoard(t, "Other", at(9))
	for _, x := range []board.Board{a, bb, c, d, e, invited, other} {
		mustCreate(t, s, x)
	}

	ties := []board.Board{bb, e}
	if e.ID < bb.ID {
		ties = []board.Board{e, bb}
	}
	var want []board.Summary
	for _, x := range append([]board.Board{c, d}, append(ties, a)...) {
		want = append(want, x.SummaryFor(alice))
	}
	got, err := s.BoardSummaries(ctx, alice)
	if err != nil {
		t.Fatalf("BoardSummaries(alice) = %v", err)
	}
	if dj := diffJSON(got, want); dj != "" {
		t.Errorf("BoardSummaries(alice): want C, D (favourites), then %s, %s, A; %s", ties[0].Title, ties[1].Title, dj)
	}
	// Spot checks of what a tile shows, in case SummaryFor itself changed.
	for _, sum := range got {
		switch sum.ID {
		case e.ID:
			if sum.BackgroundURL != "/api/files/"+e.BackgroundID || sum.MemberCount != 2 || sum.IsFavourite {
				t.Errorf("summary of E = %+v, want the uploaded background's URL, 2 members, not a favourite", sum)
			}
		case c.ID:
			if !sum.IsFavourite {
				t.Errorf("summary of C = %+v, want a favourite", sum)
			}
		}
	}

	// The owner is a member of all seven, and B is their only favourite.
	got, err = s.BoardSummaries(ctx, owner)
	if err != nil || len(got) != 7 || got[0].ID != bb.ID || !got[0].IsFavourite {
		t.Errorf("BoardSummaries(owner) = %+v, %v; want 7 boards, B first as the owner's favourite", got, err)
	}
	if got, err := s.BoardSummaries(ctx, carol); err != nil || got == nil || len(got) != 0 {
		t.Errorf("BoardSummaries(carol, on no board) = %v, %v; want an empty slice", got, err)
	}
}

// testSummariesFollowMembership checks that the lists of a user's boards
// follow the members and invitations an update changes.
func testSummariesFollowMembership(t *testing.T, s board.Store) {
	ctx := context.Background()
	b := newBoard(t, "Team", at(0))
	mustCreate(t, s, b)
	ids := func(u string) []string {
		t.Helper()
		list, err := s.BoardSummaries(ctx, u)
		if err != nil {
			t.Fatalf("BoardSummaries(%s) = %v", u, err)
		}
		var out []string
		for _, x := range list {
			out = append(out, x.ID)
		}
		return out
	}
	forUser := func(u string) []string {
		t.Helper()
		list, err := s.BoardIDsFor(ctx, u)
		if err != nil {
			t.Fatalf("BoardIDsFor(%s) = %v", u, err)
		}
		return list
	}
	check := func(step string, u string, summaries, all []string) {
		t.Helper()
		if got := ids(u); !slices.Equal(got, summaries) {
			t.Errorf("after %s, BoardSummaries(%s) = %v, want %v", step, u, got, summaries)
		}
		if got := forUser(u); !slices.Equal(got, all) {
			t.Errorf("after %s, BoardIDsFor(%s) = %v, want %v", step, u, got, all)
		}
	}
	one := []string{b.ID}
	check("creating", alice, nil, nil)
	mustUpdate(t, s, b.ID, func(e *board.Board) error { return e.Invite(owner, alice) })
	check("inviting alice", alice, nil, one)
	mustUpdate(t, s, b.ID, func(e *board.Board) error { return e.AcceptInvite(alice) })
	check("alice accepting", alice, one, one)
	mustUpdate(t, s, b.ID, func(e *board.Board) error { return e.SetFavourite(alice, true) })
	check("alice's favourite", alice, one, one)
	mustUpdate(t, s, b.ID, func(e *board.Board) error { return e.RemoveMember(alice) })
	check("alice leaving", alice, nil, nil)
	check("alice leaving", owner, one, one)
}

func testBoardIDsFor(t *testing.T, s board.Store) {
	ctx := context.Background()
	member, invitedTo, favourite, none := newBoard(t, "Member", at(0)), newBoard(t, "Invited", at(0)), newBoard(t, "Favourite", at(0)), newBoard(t, "None", at(0))
	if err := member.AddMember(alice); err != nil {
		t.Fatal(err)
	}
	if err := invitedTo.Invite(owner, alice); err != nil {
		t.Fatal(err)
	}
	if err := favourite.AddMember(alice); err != nil {
		t.Fatal(err)
	}
	if err := favourite.SetFavourite(alice, true); err != nil {
		t.Fatal(err)
	}
	if err := none.AddMember(bob); err != nil {
		t.Fatal(err)
	}
	for _, b := range []board.Board{member, invitedTo, favourite, none} {
		mustCreate(t, s, b)
	}
	got, err := s.BoardIDsFor(ctx, alice)
	want := []string{member.ID, invitedTo.ID, favourite.ID}
	slices.Sort(got)
	slices.Sort(want)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("BoardIDsFor(alice) = %v, %v; want %v (member, invited, favourite; not the fourth)", got, err, want)
	}
	got, err = s.BoardIDsFor(ctx, owner)
	if err != nil || len(got) != 4 {
		t.Errorf("BoardIDsFor(owner) = %v, %v; want all 4 boards", got, err)
	}
}

func testEachBoard(t *testing.T, s board.Store) {
	ctx := context.Background()
	calls := 0
	if err := s.EachBoard(ctx, func(board.Board) error { calls++; return nil }); err != nil || calls != 0 {
		t.Errorf("EachBoard on an empty store = %v after %d calls, want nil after 0", err, calls)
	}
	want := map[string]board.Board{}
	for range 5 {
		b := fullBoard(t)
		mustCreate(t, s, b)
		want[b.ID] = canonical(b)
	}
	seen := map[string]int{}
	err := s.EachBoard(ctx, func(b board.Board) error {
		seen[b.ID]++
		if w, ok := want[b.ID]; !ok {
			t.Errorf("EachBoard visited unknown board %s", b.ID)
		} else if d := diffJSON(b, w); d != "" {
			t.Errorf("EachBoard visited board %s with other fields, %s", b.ID, d)
		}
		// fn may use the store.
		if _, err := s.BoardByID(ctx, b.ID); err != nil {
			t.Errorf("BoardByID(%s) inside EachBoard = %v", b.ID, err)
		}
		return nil
	})
	if err != nil {
		t.Errorf("EachBoard = %v, want nil", err)
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("EachBoard visited board %s %d times, want 1", id, seen[id])
		}
	}
}

func testEachBoardStops(t *testing.T, s board.Store) {
	for range 5 {
		mustCreate(t, s, fullBoard(t))
	}
	errStop := errors.New("stop here")
	calls := 0
	err := s.EachBoard(context.Background(), func(board.Board) error {
		calls++
		if calls == 2 {
			return errStop
		}
		return nil
	})
	if err != errStop || calls != 2 {
		t.Errorf("EachBoard with fn failing at call 2 = %v after %d calls, want exactly %v after 2", err, calls, errStop)
	}
}

// testConcurrentMoves runs many goroutines moving the cards of one board
// between its lists at once, each move one UpdateBoard, some of them
// edits that fail after moving. Every card must end in exactly one place,
// none lost or duplicated, and the version must count exactly the edits
// that succeeded.
func testConcurrentMoves(t *testing.T, s board.Store) {
	const (
		workers = 16
		moves   = 20 // per worker
		lists   = 4
		cards   = 10 // per list
	)
	ctx := context.Background()
	b := newBoard(t, "Busy", at(0))
	titles := map[string]string{} // card id → title
	var listIDs []string
	for i := range lists {
		l, err := b.AddList(fmt.Sprintf("List %d", i), at(0))
		if err != nil {
			t.Fatal(err)
		}
		listIDs = append(listIDs, l.ID)
		for j := range cards {
			c, err := b.AddCard(l.ID, fmt.Sprintf("Card %d.%d", i, j), "", at(0))
			if err != nil {
				t.Fatal(err)
			}
			titles[c.ID] = c.Title
		}
	}
	mustCreate(t, s, b)

	errSkip := errors.New("this edit fails after moving")
	succeeded := make([]int, workers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			<-start
			for i := range moves {
				failing := i%5 == 4
				_, err := s.UpdateBoard(ctx, b.ID, func(e *board.Board) error {
					// Pick the card from the board edit is given: it is
					// the latest, whatever moved before.
					from := e.Lists[rng.IntN(len(e.Lists))]
					for len(from.Cards) == 0 {
						from = e.Lists[rng.IntN(len(e.Lists))]
					}
					card := from.Cards[rng.IntN(len(from.Cards))].ID
					to := listIDs[rng.IntN(len(listIDs))]
					if err := e.MoveCard(card, to, rng.IntN(cards*2)); err != nil {
						return err
					}
					if failing {
						return errSkip
					}
					return nil
				})
				switch {
				case failing && err == errSkip:
				case !failing && err == nil:
					succeeded[w]++
				default:
					t.Errorf("worker %d, move %d (failing %v): UpdateBoard = %v", w, i, failing, err)
				}
			}
		})
	}
	close(start)
	wg.Wait()

	got, err := s.BoardByID(ctx, b.ID)
	if err != nil {
		t.Fatalf("BoardByID after the moves = %v", err)
	}
	seen := map[string]int{}
	total := 0
	for _, l := range got.Lists {
		for _, c := range l.Cards {
			seen[c.ID]++
			total++
			if titles[c.ID] != c.Title {
				t.Errorf("card %s is titled %q after the moves, want %q", c.ID, c.Title, titles[c.ID])
			}
		}
	}
	for id := range titles {
		if seen[id] != 1 {
			t.Errorf("card %s (%s) is on the board %d times after the moves, want once", id, titles[id], seen[id])
		}
	}
	if total != len(titles) || len(seen) != len(titles) {
		t.Errorf("board holds %d cards (%d distinct) after the moves, want %d", total, len(seen), len(titles))
	}
	var sum int
	for _, n := range succeeded {
		sum += n
	}
	if want := int64(workers * moves * 4 / 5); got.Version != int64(sum) || int64(sum) != want {
		t.Errorf("after %d successful moves (want %d), the board's version is %d: a version must count the writes", sum, want, got.Version)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("board after the moves: %v", err)
	}
}

// newNotification returns an open invitation of userID to the board
// boardID, from the owner, created at now.
func newNotification(userID, boardID string, now time.Time) board.Notification {
	return board.Notification{
		ID:           objectid.New(now),
		UserID:       userID,
		Type:         board.NotificationInvite,
		BoardID:      boardID,
		BoardTitle:   "Holidays <&> ✈",
		FromUserID:   owner,
		FromUsername: "Owner",
		CreatedAt:    now,
	}
}

// wantNotification checks a notification against want.
func wantNotification(t *testing.T, call string, got board.Notification, err error, want board.Notification) {
	t.Helper()
	if err != nil {
		t.Errorf("%s = %v, want notification %s", call, err, want.ID)
		return
	}
	want.CreatedAt, want.HandledAt = want.CreatedAt.UTC(), want.HandledAt.UTC()
	if d := diffJSON(got, want); d != "" {
		t.Errorf("%s returned another notification, %s", call, d)
	}
}

func ptr[T any](v T) *T { return &v }

func testNotifications(t *testing.T, s board.Store) {
	ctx := context.Background()
	boardID := objectid.New(at(0))
	// Four to alice, at three times (two at the same one), and one to bob.
	var mine []board.Notification
	for i, sec := range []int{5, 9, 7, 9} {
		n := newNotification(alice, boardID, at(sec))
		if i == 2 {
			n.Type, n.Accepted, n.FromUserID, n.FromUsername = board.NotificationInviteResponse, ptr(false), bob, "bob"
		}
		mine = append(mine, n)
	}
	theirs := newNotification(bob, boardID, at(8))
	for _, n := range append(slices.Clone(mine), theirs) {
		if err := s.CreateNotification(ctx, n); err != nil {
			t.Fatalf("CreateNotification(%s) = %v", n.ID, err)
		}
	}
	for _, n := range mine {
		got, err := s.NotificationByID(ctx, n.ID)
		wantNotification(t, fmt.Sprintf("NotificationByID(%s)", n.ID), got, err, n)
	}
	// Newest first; of the two at 9 s, the larger id first.
	want := []board.Notification{mine[1], mine[3], mine[2], mine[0]}
	if mine[3].ID > mine[1].ID {
		want[0], want[1] = mine[3], mine[1]
	}
	got, err := s.Notifications(ctx, alice)
	if err != nil {
		t.Fatalf("Notifications(alice) = %v", err)
	}
	if d := diffJSON(got, want); d != "" {
		t.Errorf("Notifications(alice) not newest first (createdAt, then id, descending), %s", d)
	}
	got, err = s.Notifications(ctx, bob)
	if err != nil || len(got) != 1 || got[0].ID != theirs.ID {
		t.Errorf("Notifications(bob) = %v, %v; want his one", got, err)
	}

	// An id already used is refused, and the first stays.
	clash := newNotification(bob, boardID, at(10))
	clash.ID = mine[0].ID
	if err := s.CreateNotification(ctx, clash); err == nil {
		t.Errorf("CreateNotification with the id of another = nil, want an error")
	}
	n, err := s.NotificationByID(ctx, mine[0].ID)
	wantNotification(t, "NotificationByID after a clashing create", n, err, mine[0])
}

func testNotificationsInvalid(t *testing.T, s board.Store) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		spoil func(*board.Notification)
	}{
		{"unknown type", func(n *board.Notification) { n.Type = "poke" }},
		{"recipient not an id", func(n *board.Notification) { n.UserID = "alice" }},
		{"board not an id", func(n *board.Notification) { n.BoardID = "" }},
		{"empty board title", func(n *board.Notification) { n.BoardTitle = "" }},
		{"response without an answer", func(n *board.Notification) { n.Type = board.NotificationInviteResponse }},
		{"open invite with an answer", func(n *board.Notification) { n.Accepted = ptr(true) }},
		{"handled without a time", func(n *board.Notification) { n.Handled, n.Accepted = true, ptr(true) }},
		{"no creation time", func(n *board.Notification) { n.CreatedAt = time.Time{} }},
	} {
		n := newNotification(alice, objectid.New(at(0)), at(1))
		tc.spoil(&n)
		if err := s.CreateNotification(ctx, n); err == nil {
			t.Errorf("CreateNotification of one with %s = nil, want an error", tc.name)
		}
		if _, err := s.NotificationByID(ctx, n.ID); !errors.Is(err, board.ErrNotificationNotFound) {
			t.Errorf("after a refused CreateNotification (%s), NotificationByID = %v, want %v", tc.name, err, board.ErrNotificationNotFound)
		}
	}
}

func testHandleNotification(t *testing.T, s board.Store) {
	ctx := context.Background()
	n := newNotification(alice, objectid.New(at(0)), at(1))
	if err := s.CreateNotification(ctx, n); err != nil {
		t.Fatal(err)
	}
	got, err := s.HandleNotification(ctx, n.ID, false, at(2))
	want := n
	want.Handled, want.Accepted, want.HandledAt = true, ptr(false), at(2)
	wantNotification(t, "HandleNotification(declined)", got, err, want)
	got, err = s.NotificationByID(ctx, n.ID)
	wantNotification(t, "NotificationByID after handling", got, err, want)

	_, err = s.HandleNotification(ctx, n.ID, true, at(3))
	wantErr(t, "HandleNotification a second time", err, board.ErrAlreadyHandled)
	got, err = s.NotificationByID(ctx, n.ID)
	wantNotification(t, "NotificationByID after a second HandleNotification", got, err, want)
}

// testConcurrentHandle: of many racing answers to one
// invitation, exactly one wins, and its answer is the one stored.
func testConcurrentHandle(t *testing.T, s board.Store) {
	ctx := context.Background()
	n := newNotification(alice, objectid.New(at(0)), at(1))
	if err := s.CreateNotification(ctx, n); err != nil {
		t.Fatal(err)
	}
	const racers = 8
	errs := make([]error, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			_, errs[i] = s.HandleNotification(ctx, n.ID, i%2 == 0, at(2+i))
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("HandleNotification calls %d and %d both won", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, board.ErrAlreadyHandled):
			t.Errorf("racing HandleNotification %d = %v, want nil or %v", i, err, board.ErrAlreadyHandled)
		}
	}
	if winner < 0 {
		t.Fatalf("no HandleNotification won")
	}
	got, err := s.NotificationByID(ctx, n.ID)
	want := n
	want.Handled, want.Accepted, want.HandledAt = true, ptr(winner%2 == 0), at(2+winner)
	wantNotification(t, fmt.Sprintf("NotificationByID after the race won by %d", winner), got, err, want)
}

func testDeleteNotifications(t *testing.T, s board.Store) {
	ctx := context.Background()
	b1, b2 := objectid.New(at(0)), objectid.New(at(0))
	all := map[string]board.Notification{}
	for i, spec := range []struct{ user, board string }{{alice, b1}, {alice, b2}, {bob, b1}, {bob, b2}, {carol, b2}, {alice, b1}} {
		n := newNotification(spec.user, spec.board, at(i))
		if err := s.CreateNotification(ctx, n); err != nil {
			t.Fatal(err)
		}
		all[n.ID] = n
	}
	remaining := func() map[string]bool {
		t.Helper()
		out := map[string]bool{}
		if err := s.EachNotification(ctx, func(n board.Notification) error { out[n.ID] = true; return nil }); err != nil {
			t.Fatalf("EachNotification = %v", err)
		}
		return out
	}
	check := func(step string, keep func(board.Notification) bool) {
		t.Helper()
		got := remaining()
		for id, n := range all {
			if got[id] != keep(n) {
				t.Errorf("after %s, notification to %s about %s is there: %v, want %v", step, n.UserID, n.BoardID, got[id], keep(n))
			}
		}
	}
	var one board.Notification
	for _, n := range all {
		if n.UserID == carol {
			one = n
		}
	}
	if err := s.DeleteNotification(ctx, one.ID); err != nil {
		t.Fatalf("DeleteNotification = %v", err)
	}
	wantErr(t, "DeleteNotification twice", s.DeleteNotification(ctx, one.ID), board.ErrNotificationNotFound)
	check("deleting carol's", func(n board.Notification) bool { return n.UserID != carol })

	if err := s.DeleteNotificationsFor(ctx, alice); err != nil {
		t.Fatalf("DeleteNotificationsFor(alice) = %v", err)
	}
	check("deleting alice's", func(n board.Notification) bool { return n.UserID == bob })
	if list, err := s.Notifications(ctx, alice); err != nil || len(list) != 0 {
		t.Errorf("Notifications(alice) after deleting hers = %v, %v; want none", list, err)
	}

	if err := s.DeleteBoardNotifications(ctx, b1); err != nil {
		t.Fatalf("DeleteBoardNotifications(b1) = %v", err)
	}
	check("deleting board 1's", func(n board.Notification) bool { return n.UserID == bob && n.BoardID == b2 })
	if list, err := s.Notifications(ctx, bob); err != nil || len(list) != 1 || list[0].BoardID != b2 {
		t.Errorf("Notifications(bob) after deleting board 1's = %v, %v; want the one about board 2", list, err)
	}
}

func testEachNotification(t *testing.T, s board.Store) {
	ctx := context.Background()
	calls := 0
	if err := s.EachNotification(ctx, func(board.Notification) error { calls++; return nil }); err != nil || calls != 0 {
		t.Errorf("EachNotification on an empty store = %v after %d calls, want nil after 0", err, calls)
	}
	want := map[string]board.Notification{}
	for i := range 5 {
		n := newNotification(uid(10+i), objectid.New(at(0)), at(i))
		if err := s.CreateNotification(ctx, n); err != nil {
			t.Fatal(err)
		}
		want[n.ID] = n
	}
	seen := map[string]int{}
	err := s.EachNotification(ctx, func(n board.Notification) error {
		seen[n.ID]++
		wantNotification(t, "EachNotification", n, nil, want[n.ID])
		return nil
	})
	if err != nil {
		t.Errorf("EachNotification = %v, want nil", err)
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("EachNotification visited %s %d times, want 1", id, seen[id])
		}
	}
	errStop := errors.New("stop here")
	calls = 0
	err = s.EachNotification(ctx, func(board.Notification) error {
		calls++
		if calls == 2 {
			return errStop
		}
		return nil
	})
	if err != errStop || calls != 2 {
		t.Errorf("EachNotification with fn failing at call 2 = %v after %d calls, want exactly %v after 2", err, calls, errStop)
	}
}

func testNotificationNoAliasing(t *testing.T, s board.Store) {
	ctx := context.Background()
	n := newNotification(alice, objectid.New(at(0)), at(1))
	n.Type, n.Accepted = board.NotificationInviteResponse, ptr(true)
	want := n
	want.Accepted = ptr(true)
	if err := s.CreateNotification(ctx, n); err != nil {
		t.Fatal(err)
	}
	*n.Accepted = false // the answer given to CreateNotification
	got, err := s.NotificationByID(ctx, n.ID)
	wantNotification(t, "NotificationByID after changing what CreateNotification got", got, err, want)
	*got.Accepted = false // an answer handed out
	got, err = s.NotificationByID(ctx, n.ID)
	wantNotification(t, "NotificationByID after changing what NotificationByID gave", got, err, want)
	list, err := s.Notifications(ctx, alice)
	if err != nil || len(list) != 1 {
		t.Fatalf("Notifications(alice) = %v, %v", list, err)
	}
	*list[0].Accepted = false
	got, err = s.NotificationByID(ctx, n.ID)
	wantNotification(t, "NotificationByID after changing what Notifications gave", got, err, want)
}
