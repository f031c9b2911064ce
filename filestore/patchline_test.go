package filestore

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"corkboard/board"
	"corkboard/jsonappend"
)

// checkPatchLine fails if appendPatchLine writes other bytes than
// encoding/json for changes, and returns whether it wrote them.
func checkPatchLine(t testing.TB, seq uint64, changes []change) bool {
	t.Helper()
	got, ok := appendPatchLine(nil, seq, changes)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(batch{Version: journalVersion, Seq: seq, Changes: changes})
	if ok && (err != nil || !bytes.Equal(got, buf.Bytes())) {
		t.Fatalf("appendPatchLine wrote\n%s\nencoding/json writes\n%s (%v)", got, buf.Bytes(), err)
	}
	return ok
}

// TestPatchLineMatchesJSON checks the journal line of a board patch
// written by hand against encoding/json: for the patches of a long random
// history of edits of every kind, and for the values it must decline or
// write in a particular way; and that Board, List, Card and Attachment
// have no field it does not write.
func TestPatchLineMatchesJSON(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{board.Board{}, "ID Title OwnerID BackgroundID BackgroundURL Members Invited FavouritedBy Lists Version CreatedAt UpdatedAt DeletingAt"},
		{board.Card{}, "ID Title Description Attachments CreatedAt"},
		{board.Attachment{}, "ID Name ContentType Size CreatedAt"},
		{listPatch{}, "ID Name Splice"},
		{cardSplice{}, "Head Mid Tail"},
		{boardPatch{}, "Base Board Lists Cards result"},
	} {
		rt := reflect.TypeOf(tc.v)
		var names []string
		for i := range rt.NumField() {
			names = append(names, rt.Field(i).Name)
		}
		if got := strings.Join(names, " "); got != tc.want {
			t.Errorf("%s has the fields %q; appendPatchLine (and identicalFields, for Board) write %q: update them, then this list", rt, got, tc.want)
		}
	}

	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	defer closeStore(t, s)
	ctx := context.Background()
	now := testTime()
	b := bigBoard(t, s, 40)
	rng := rand.New(rand.NewPCG(3, 4))
	written := 0
	for i := range 600 {
		before, err := s.BoardByID(ctx, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		at := now.Add(time.Duration(i) * time.Second)
		if i%7 == 0 {
			at = at.In(time.FixedZone("x", 5400)) // written with its offset
		}
		after, err := s.UpdateBoard(ctx, b.ID, func(e *board.Board) error {
			if _, err := randomEdit(rng, e, at); err != nil || i%4 == 0 {
				return err
			}
			// Three steps in four make the text plain again, which the
			// hand-written line takes; the fourth leaves what randomEdit
			// wrote (HTML, UTF-8, U+2028, newlines), which it declines.
			plain := func(s string) bool { _, ok := jsonappend.Plain(nil, s, false); return ok }
			if !plain(e.Title) {
				if err := e.SetTitle("Plain title"); err != nil {
					return err
				}
			}
			for _, l := range e.Lists {
				if !plain(l.Name) {
					if err := e.RenameList(l.ID, "Plain list"); err != nil {
						return err
					}
				}
				for _, c := range l.Cards {
					if !plain(c.Title) || !plain(c.Description) {
						title, desc := "Plain title", "Plain description"
						if err := e.EditCard(c.ID, &title, &desc); err != nil {
							return err
						}
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		c := putBoardChange(before, after)
		if c.Op != opPatch {
			t.Fatalf("step %d: the write is no patch", i)
		}
		if checkPatchLine(t, uint64(i), []change{c}) {
			written++
		}
	}
	t.Logf("%d of 600 patches written by hand", written)
	if written < 100 {
		t.Errorf("only %d of 600 patches written by hand", written)
	}

	// Values written in a particular way, or declined.
	old := bigBoard(t, s, 10)
	nb := *old.EditCopy()
	nb.Version++
	if err := nb.MoveCard(old.Lists[0].Cards[0].ID, old.Lists[1].ID, 1); err != nil {
		t.Fatal(err)
	}
	title := "Edited"
	if err := nb.EditCard(old.Lists[2].Cards[0].ID, &title, nil); err != nil {
		t.Fatal(err)
	}
	if err := nb.AddAttachment(old.Lists[2].Cards[0].ID, board.Attachment{ID: "0123456789abcdef01234567", Name: "a.pdf", ContentType: "application/pdf", Size: 7, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	p := diffBoard(old, nb)
	with := func(f func(p *boardPatch)) []change {
		q := *p
		q.Board.Members = append([]string(nil), q.Board.Members...)
		q.Lists = append([]listPatch(nil), q.Lists...)
		q.Cards = append([]board.Card(nil), q.Cards...)
		f(&q)
		return []change{{Op: opPatch, Kind: boardKind, ID: q.Board.ID, Record: &q}}
	}
	for _, tc := range []struct {
		name    string
		changes []change
		written bool
	}{
		{"a move and an edit", with(func(*boardPatch) {}), true},
		{"nil slices", with(func(q *boardPatch) {
			q.Board.Members, q.Board.Invited, q.Board.FavouritedBy, q.Lists, q.Cards = nil, nil, nil, nil, nil
		}), true},
		{"a nil splice middle", with(func(q *boardPatch) { q.Lists[0].Splice = &cardSplice{Head: 1, Tail: 2} }), true},
		{"being deleted", with(func(q *boardPatch) { q.Board.DeletingAt = now.Add(time.Hour) }), true},
		{"nil attachments", with(func(q *boardPatch) { q.Cards[0].Attachments = nil }), true},
		{"an offset", with(func(q *boardPatch) { q.Board.UpdatedAt = now.In(time.FixedZone("y", -7200)) }), true},
		{"HTML", with(func(q *boardPatch) { q.Board.Title = "<a & b>" }), true},
		{"a quote", with(func(q *boardPatch) { q.Board.Title = `say "hi"` }), false},
		{"UTF-8 in a list name", with(func(q *boardPatch) { q.Lists[1].Name = "Fertig ✓" }), false},
		{"a newline in a card", with(func(q *boardPatch) { q.Cards[0].Description = "two\nlines" }), false},
		{"an attachment's name", with(func(q *boardPatch) { q.Cards[0].Attachments = []board.Attachment{{Name: "\u2028"}} }), false},
		{"an offset in seconds", with(func(q *boardPatch) { q.Board.CreatedAt = now.In(time.FixedZone("s", 30)) }), false},
		{"lists in the board", with(func(q *boardPatch) { q.Board.Lists = []board.List{} }), false},
		{"two changes", append(with(func(*boardPatch) {}), deleteChange(boardKind, "x")), false},
		{"a put", []change{putBoard(nb)}, false},
		{"a session", []change{deleteSession("x")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if written := checkPatchLine(t, 42, tc.changes); written != tc.written {
				t.Errorf("written by hand: %v, want %v", written, tc.written)
			}
			line, err := appendLine(nil, 42, tc.changes)
			if err != nil {
				t.Fatal(err)
			}
			checkAfterQueued(t, 42, tc.changes, line)
			if _, err := decodeBatch(bytes.TrimSuffix(line, []byte("\n"))); err != nil {
				t.Errorf("decodeBatch(%s): %v", line, err)
			}
		})
	}
}

// FuzzPatchLine checks appendPatchLine against encoding/json for a patch
// with any strings, numbers and times.
func FuzzPatchLine(f *testing.F) {
	f.Add("0123456789abcdef01234567", "Board", "List", "Card", "a.pdf", 3, 2, int64(7), int64(1764447274123456789), int32(0))
	f.Add("", "a\"b\\c<>&", "\xff\u2028", "\n", "é", -1, 0, int64(-1), int64(-1), int32(30))
	f.Fuzz(func(t *testing.T, id, title, list, card, name string, head, tail int, n, at int64, zone int32) {
		tm := time.Unix(0, at).In(time.FixedZone("z", int(zone)))
		p := &boardPatch{
			Base:  n,
			Board: board.Board{ID: id, Title: title, OwnerID: id, Members: []string{id, name}, Version: n + 1, CreatedAt: tm, UpdatedAt: time.Unix(at, 0)},
			Lists: []listPatch{{ID: id, Name: list}, {ID: list, Name: title, Splice: &cardSplice{Head: head, Mid: []string{card, id}, Tail: tail}}},
			Cards: []board.Card{{ID: card, Title: title, Description: card, CreatedAt: tm,
				Attachments: []board.Attachment{{ID: id, Name: name, ContentType: list, Size: n, CreatedAt: time.Unix(0, n)}}}},
		}
		checkPatchLine(t, uint64(n), []change{{Op: opPatch, Kind: boardKind, ID: id, Record: p}})
	})
}

// checkAfterQueued fails unless appendLine, given a queue that holds a
// line already, keeps it and appends line after it: every kind of line is
// appended to the pending queue in place.
func checkAfterQueued(t *testing.T, seq uint64, changes []change, line []byte) {
	t.Helper()
	queued := []byte("{\"queued\":1}\n")
	got, err := appendLine(bytes.Clone(queued), seq, changes)
	if want := append(bytes.Clone(queued), line...); err != nil || !bytes.Equal(got, want) {
		t.Errorf("appendLine after a queued line = %q, %v; want the queued line, then %q", got, err, line)
	}
}
