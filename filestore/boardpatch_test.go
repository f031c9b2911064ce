package filestore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"corkboard/board"
	"corkboard/objectid"
)

// randomEdit makes one random change of every kind a board has: lists and
// cards added, renamed, edited, moved and deleted, attachments, members,
// invitations, favourites, the title and the background. It returns its
// name; an edit the board refuses (a limit, nothing to move) is no error.
func randomEdit(rng *rand.Rand, b *board.Board, now time.Time) (string, error) {
	card := func() string {
		var ids []string
		for _, l := range b.Lists {
			for _, c := range l.Cards {
				ids = append(ids, c.ID)
			}
		}
		if len(ids) == 0 {
			return objectid.New(now)
		}
		return ids[rng.IntN(len(ids))]
	}
	list := func() string {
		if len(b.Lists) == 0 {
			return objectid.New(now)
		}
		return b.Lists[rng.IntN(len(b.Lists))].ID
	}
	text := func() string { return fmt.Sprintf("text %d <&> ü \u2028", rng.IntN(1000)) }
	var err error
	name := ""
	switch rng.IntN(16) {
	case 0:
		name = "add list"
		_, err = b.AddList(text(), now)
	case 1:
		name = "rename list"
		err = b.RenameList(list(), text())
	case 2:
		name = "move list"
		err = b.MoveList(list(), rng.IntN(len(b.Lists)+1))
	case 3:
		name = "delete list"
		if len(b.Lists) > 3 {
			_, err = b.DeleteList(list())
		}
	case 4, 5:
		name = "add card"
		_, err = b.AddCard(list(), text(), text()+"\nline two", now)
	case 6:
		name = "edit card"
		t, d := text(), text()
		err = b.EditCard(card(), &t, &d)
	case 7, 8, 9:
		name = "move card to another list"
		err = b.MoveCard(card(), list(), rng.IntN(12))
	case 10:
		name = "move card in its list"
		err = b.MoveCard(card(), "", rng.IntN(12))
	case 11:
		name = "delete card"
		_, err = b.DeleteCard(card())
	case 12:
		name = "attachment"
		c := card()
		var on []board.Attachment
		for _, l := range b.Lists {
			for _, x := range l.Cards {
				if x.ID == c {
					on = x.Attachments
				}
			}
		}
		if len(on) > 0 && rng.IntN(2) == 0 {
			_, err = b.RemoveAttachment(c, on[rng.IntN(len(on))].ID)
		} else {
			err = b.AddAttachment(c, board.Attachment{ID: objectid.New(now), Name: "plan.pdf", ContentType: "application/pdf", Size: 12, CreatedAt: now})
		}
	case 13:
		name = "members and favourites"
		u := boardUser(1 + rng.IntN(3))
		if b.IsMember(u) {
			err = b.SetFavourite(u, !b.IsFavourite(u))
		} else if b.IsInvited(u) {
			err = b.AcceptInvite(u)
		} else {
			err = b.Invite(b.OwnerID, u)
		}
	case 14:
		name = "title"
		err = b.SetTitle(text())
	case 15:
		name = "background"
		_, err = b.SetBackgroundURL(fmt.Sprintf("https://example.com/%d.png", rng.IntN(9)))
	}
	var limit *board.LimitError
	if errors.Is(err, board.ErrCardNotFound) || errors.Is(err, board.ErrListNotFound) || errors.As(err, &limit) {
		err = nil
	}
	b.UpdatedAt = now
	return name, err
}

// TestBoardPatchReplay makes a long random history of board edits of every
// kind and checks, after each, that the journal line is a patch that
// rebuilds exactly the board the edit made, and at the end that a
// restart, from the journal and then from a snapshot, rebuilds exactly the
// state served: replay equals the live state.
func TestBoardPatchReplay(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	ctx := context.Background()
	now := testTime()
	b, err := board.New(boardUser(0), "Patched", "", now)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateBoard(ctx, *b); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 600 {
		before, err := s.BoardByID(ctx, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		at := now.Add(time.Duration(i) * time.Second)
		var name string
		var want *board.Board // a deep copy of the board the edit made
		after, err := s.UpdateBoard(ctx, b.ID, func(e *board.Board) error {
			var err error
			name, err = randomEdit(rng, e, at)
			want = e.Clone()
			return err
		})
		if err != nil {
			t.Fatalf("step %d (%s): UpdateBoard = %v", i, name, err)
		}
		// The store journalled a patch, not the whole board (a fallback
		// would hide a patch that does not rebuild the board).
		// The store keeps and serves the board its patch rebuilds: it
		// must be the one the edit made.
		want.Version = before.Version + 1
		normalizeBoard(want, nil)
		if !sameBoard(*want, after) {
			t.Fatalf("step %d (%s): the store keeps %+v; the edit made %+v", i, name, after, *want)
		}
		c := putBoardChange(before, after)
		if c.Op != opPatch {
			t.Fatalf("step %d (%s): the store would journal the whole board: the patch does not rebuild it", i, name)
		}
		if r := c.Record.(*boardPatch).result; r == nil || !sameBoard(*r, after) {
			t.Fatalf("step %d (%s): the board the store would keep is not the one the edit made", i, name)
		}
		p := diffBoard(before, after)
		rebuilt, err := applyBoardPatch(before, true, p)
		if err != nil || !sameBoard(rebuilt, after) {
			t.Fatalf("step %d (%s): the patch rebuilds %+v, %v; want %+v", i, name, rebuilt, err, after)
		}
		// What a replay reads is the JSON: the patch must survive it.
		line, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var read boardPatch
		if err := decodeStrict(bytes.NewReader(line), &read); err != nil {
			t.Fatalf("step %d (%s): the patch does not decode: %v\n%s", i, name, err, line)
		}
		if again, err := applyBoardPatch(before, true, &read); err != nil || !sameBoard(again, after) {
			t.Fatalf("step %d (%s): the patch read back rebuilds %+v, %v; want %+v", i, name, again, err, after)
		}
	}
	want := dumpBoards(t, s)
	closeStore(t, s)

	s = openStore(t, dir, Options{})
	checkDump(t, "after replaying a journal of patches", dumpBoards(t, s), want)
	forceCompaction(s)
	closeStore(t, s)
	s = openStore(t, dir, Options{})
	checkDump(t, "after reopening from a snapshot", dumpBoards(t, s), want)
	closeStore(t, s)
}

// TestPatchCheckRefuses checks that the check of a patch, which walks the
// replay's steps without building the board, refuses a board that differs
// anywhere from the one the replay rebuilds: in a moved card, a card the
// patch names, the order of the cards kept in place, a list, or the
// board's own fields.
func TestPatchCheckRefuses(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	defer closeStore(t, s)
	old := bigBoard(t, s, 50)
	nb := *old.EditCopy()
	title := "Edited"
	if err := nb.MoveCard(old.Lists[0].Cards[2].ID, old.Lists[1].ID, 3); err != nil {
		t.Fatal(err)
	}
	if err := nb.EditCard(old.Lists[2].Cards[4].ID, &title, nil); err != nil {
		t.Fatal(err)
	}
	p := diffBoard(old, nb)
	r, err := applyBoardPatch(old, true, p)
	if err != nil || !checkBoardPatch(old, p, nb) || !checkBoardPatch(old, p, r) {
		t.Fatalf("the patch of a move and an edit: %v, or refused", err)
	}
	for _, tc := range []struct {
		name   string
		change func(b *board.Board)
	}{
		{"the moved card's title", func(b *board.Board) { b.Lists[1].Cards[3].Title = "Other" }},
		{"the edited card's description", func(b *board.Board) { b.Lists[2].Cards[4].Description = "Other" }},
		{"two cards kept in place swapped", func(b *board.Board) {
			cs := b.Lists[0].Cards
			cs[0], cs[5] = cs[5], cs[0]
		}},
		{"a card of the moved-from list dropped", func(b *board.Board) { b.Lists[0].Cards = b.Lists[0].Cards[1:] }},
		{"a list renamed", func(b *board.Board) { b.Lists[3].Name = "Other" }},
		{"the board's title", func(b *board.Board) { b.Title = "Other" }},
	} {
		bad := r
		bad.Lists = slices.Clone(r.Lists)
		for i := range bad.Lists {
			bad.Lists[i].Cards = slices.Clone(bad.Lists[i].Cards)
		}
		tc.change(&bad)
		if checkBoardPatch(old, p, bad) {
			t.Errorf("checkBoardPatch takes a rebuilt board with %s changed for the one the patch makes", tc.name)
		}
	}
}

// bigBoard stores a board of cards cards in five lists and returns it.
func bigBoard(t *testing.T, s *Store, cards int) board.Board {
	t.Helper()
	now := testTime()
	b, err := board.New(boardUser(0), "Big", "", now)
	if err != nil {
		t.Fatal(err)
	}
	for l := range 5 {
		if _, err := b.AddList(fmt.Sprintf("List %d", l), now); err != nil {
			t.Fatal(err)
		}
	}
	for i := range cards {
		if _, err := b.AddCard(b.Lists[i%5].ID, fmt.Sprintf("Task %03d: check what the load run says", i),
			"A card of ordinary size, with a sentence or two of description.", now); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateBoard(context.Background(), *b); err != nil {
		t.Fatal(err)
	}
	return *b
}

// TestBoardMoveJournalsLittle checks that a card move on a board of 500
// cards journals a patch of under 2 KB, not the board's 100 KB and more.
func TestBoardMoveJournalsLittle(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	defer closeStore(t, s)
	b := bigBoard(t, s, 500)
	path := filepath.Join(dir, journalName(1))
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateBoard(context.Background(), b.ID, func(e *board.Board) error {
		return e.MoveCard(e.Lists[0].Cards[40].ID, e.Lists[3].ID, 17)
	}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	line := data[before.Size():]
	t.Logf("a card move on a board of 500 cards journals %d bytes", len(line))
	if len(line) > 2048 || !bytes.Contains(line, []byte(`"op":"patch"`)) || !bytes.HasPrefix(line, []byte(`{"version":3,`)) {
		t.Errorf("a card move journalled %d bytes, want a version 3 patch of under 2 KB:\n%.400s", len(line), line)
	}
}

// TestBoardPatchRefused checks that a journal line whose patch does not
// apply to the board as stored (a hand edit, or a line out of place) makes
// Open fail with ErrCorrupt rather than load a guess.
func TestBoardPatchRefused(t *testing.T) {
	dir0 := t.TempDir()
	s := openStore(t, dir0, Options{})
	b := bigBoard(t, s, 20)
	if _, err := s.UpdateBoard(context.Background(), b.ID, func(e *board.Board) error {
		return e.MoveCard(e.Lists[0].Cards[1].ID, e.Lists[2].ID, 1)
	}); err != nil {
		t.Fatal(err)
	}
	closeStore(t, s)
	journal, err := os.ReadFile(filepath.Join(dir0, journalName(1)))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(journal, []byte("\n"))
	good := string(lines[1])
	if !strings.Contains(good, `"op":"patch"`) {
		t.Fatalf("the move journalled %s, want a patch", good)
	}
	first, second := b.Lists[0].Cards[1].ID, b.Lists[0].Cards[2].ID
	for _, tt := range []struct{ name, old, new string }{
		{"another base version", `"base":0`, `"base":7`},
		{"an unknown card", `"mid":["` + first + `"]`, `"mid":["` + objectid.New(testTime()) + `"]`},
		{"a card twice", `"mid":["` + first + `"]`, `"mid":["` + first + `","` + second + `"]`},
		{"a splice past the end", `"tail":3`, `"tail":30`},
		{"a negative splice", `"head":1`, `"head":-1`},
		{"lists in the board", `"lists":null`, `"lists":[]`},
		{"another board", `"kind":"board","id":"` + b.ID + `"`, `"kind":"board","id":"` + objectid.New(testTime()) + `"`},
		{"a patch of a user", `"kind":"board"`, `"kind":"user"`},
		{"a patch in a version 2 line", `{"version":3,`, `{"version":2,`},
		{"an unknown field", `"base":0`, `"base":0,"extra":1`},
		{"an invalid result", `"title":"Big"`, `"title":""`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(good, tt.old) {
				t.Fatalf("the line has no %s: %s", tt.old, good)
			}
			dir := t.TempDir()
			bad := string(lines[0]) + strings.Replace(good, tt.old, tt.new, 1)
			if err := os.WriteFile(filepath.Join(dir, journalName(1)), []byte(bad), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open(dir, Options{})
			if err == nil {
				s.Close()
				t.Fatalf("Open of a journal with %s = nil, want ErrCorrupt", tt.name)
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open of a journal with %s = %v, want ErrCorrupt", tt.name, err)
			}
		})
	}
}

// TestWholeBoardJournalLoads checks that a journal written before patches,
// where every write of a board put the whole board in a version 2 line,
// still opens, and that the next write patches the board it loaded.
func TestWholeBoardJournalLoads(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	b := bigBoard(t, s, 30)
	closeStore(t, s)
	edited := cleanBoard(*b.Clone())
	if err := edited.MoveCard(edited.Lists[0].Cards[0].ID, edited.Lists[1].ID, 3); err != nil {
		t.Fatal(err)
	}
	edited.Version = 1
	line, err := appendLine(nil, 2, []change{putBoard(edited)})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(line, []byte(`{"version":2,`)) {
		t.Fatalf("a whole board is journalled as %.40s, want version 2", line)
	}
	appendFile(t, filepath.Join(dir, journalName(1)), line)

	s = openStore(t, dir, Options{})
	got, err := s.BoardByID(context.Background(), b.ID)
	if err != nil || !sameBoard(got, edited) {
		t.Fatalf("BoardByID after a whole-board line = %+v, %v; want %+v", got, err, edited)
	}
	after, err := s.UpdateBoard(context.Background(), b.ID, func(e *board.Board) error {
		return e.MoveCard(e.Lists[1].Cards[0].ID, e.Lists[2].ID, 0)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := dumpBoards(t, s)
	closeStore(t, s)
	s = openStore(t, dir, Options{})
	defer closeStore(t, s)
	checkDump(t, "after a patch of a board a whole-board line put", dumpBoards(t, s), want)
	if again, _ := s.BoardByID(context.Background(), b.ID); !sameBoard(again, after) {
		t.Errorf("reopened board = %+v, want %+v", again, after)
	}
}

// TestPatchFieldsCovered pins the fields of the board's cards, lists and
// attachments: sameCard and listPatch name them one by one, so a field
// added to one of these types without them would be left out of patches,
// and its edits lost. Update both, then this list.
func TestPatchFieldsCovered(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{board.Card{}, "ID Title Description Attachments CreatedAt"},
		{board.List{}, "ID Name Cards"},
		{board.Attachment{}, "ID Name ContentType Size CreatedAt"},
	} {
		rt := reflect.TypeOf(tc.v)
		var names []string
		for i := range rt.NumField() {
			names = append(names, rt.Field(i).Name)
		}
		if got := strings.Join(names, " "); got != tc.want {
			t.Errorf("%s has the fields %q; sameCard and listPatch handle %q: update them", rt, got, tc.want)
		}
	}
}

// TestDiffFindsMovedCards checks the patch of moves across lists, whose
// cards diffBoard finds among those that left the other lists: a card
// moved as it was is not named again, a card moved and edited is, and
// several moves in one edit, or a card moved back and forth, still give
// a patch that rebuilds the board.
func TestDiffFindsMovedCards(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	defer closeStore(t, s)
	old := bigBoard(t, s, 50)
	card := func(l, c int) string { return old.Lists[l].Cards[c].ID }
	title := "Moved and edited"
	for _, tc := range []struct {
		name  string
		edit  func(b *board.Board) error
		named []string // the cards the patch must name
	}{
		{"one move", func(b *board.Board) error { return b.MoveCard(card(3, 7), old.Lists[0].ID, 2) }, nil},
		{"one move to a list before it", func(b *board.Board) error { return b.MoveCard(card(0, 7), old.Lists[3].ID, 40) }, nil},
		{"a move and an edit of the card", func(b *board.Board) error {
			if err := b.MoveCard(card(2, 1), old.Lists[1].ID, 0); err != nil {
				return err
			}
			return b.EditCard(card(2, 1), &title, nil)
		}, []string{card(2, 1)}},
		{"three moves", func(b *board.Board) error {
			for _, m := range []struct {
				id   string
				to   int
				post int
			}{{card(0, 0), 4, 9}, {card(4, 3), 1, 0}, {card(1, 9), 0, 20}} {
				if err := b.MoveCard(m.id, old.Lists[m.to].ID, m.post); err != nil {
					return err
				}
			}
			return nil
		}, nil},
		{"there and back", func(b *board.Board) error {
			if err := b.MoveCard(card(1, 5), old.Lists[2].ID, 3); err != nil {
				return err
			}
			return b.MoveCard(card(1, 5), old.Lists[1].ID, 6)
		}, nil},
	} {
		nb := *old.EditCopy()
		if err := tc.edit(&nb); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		p := diffBoard(old, nb)
		var named []string
		for _, c := range p.Cards {
			named = append(named, c.ID)
		}
		if !slices.Equal(named, tc.named) {
			t.Errorf("%s: the patch names cards %v, want %v", tc.name, named, tc.named)
		}
		if !checkBoardPatch(old, p, nb) {
			t.Errorf("%s: the patch does not rebuild the board", tc.name)
		}
	}
}

// TestCardIndexLeftFirst checks cardIndex's look among the cards that left
// their lists: a card there is found without the look through every list
// (or its map), every look, with those cards or without, gives the card
// the full look gives, and a card that is not on the board is not found.
func TestCardIndexLeftFirst(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	defer closeStore(t, s)
	lists := bigBoard(t, s, 250).Lists
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		var left []cardSpan
		total := 0 // find looks among them only up to maxLeft cards
		for range rng.IntN(4) {
			l := rng.IntN(len(lists))
			lo := rng.IntN(len(lists[l].Cards))
			sp := cardSpan{l, lo, min(lo+1+rng.IntN(12), len(lists[l].Cards))}
			left, total = append(left, sp), total+sp.hi-sp.lo
		}
		var id string
		fromLeft := false
		switch rng.IntN(3) {
		case 0: // a card that left
			if len(left) > 0 {
				fromLeft = true
				sp := left[rng.IntN(len(left))]
				id = lists[sp.list].Cards[sp.lo+rng.IntN(sp.hi-sp.lo)].ID
				break
			}
			fallthrough
		case 1: // any card
			l := lists[rng.IntN(len(lists))]
			id = l.Cards[rng.IntN(len(l.Cards))].ID
		default: // none of the board's
			id = objectid.New(testTime())
		}
		want, wantOK := newCardIndex(lists, nil).find(id, -1, 0)
		x := newCardIndex(lists, left)
		got, ok := x.find(id, -1, 0)
		if ok != wantOK || got.ID != want.ID || (ok && got.ID != id) {
			t.Fatalf("find(%s) with %v left = %s, %v; want %s, %v", id, left, got.ID, ok, want.ID, wantOK)
		}
		if fromLeft && total <= maxLeft && (x.looks != 0 || x.byID != nil) {
			t.Fatalf("find(%s): a card that left was looked for through the lists (%d looks)", id, x.looks)
		}
	}
}
