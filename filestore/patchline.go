package filestore

import (
	"strconv"
	"time"

	"corkboard/board"
	"corkboard/jsonappend"
)

// appendPatchLine appends the journal line of batch seq as appendLine's
// encoding/json writes it, without reflection, when the batch is one patch
// of a board (a card move, an edit of a card) whose strings are printable
// ASCII without '"' or '\\' and whose times encoding/json writes as RFC
// 3339. It reports false for anything else, which appendLine leaves to
// encoding/json.
//
// appendLine runs under the store's write lock, which every writer of
// every board waits for in turn; encoding/json's reflection over a move's
// patch (the board's own fields, its lists, the splices) was a sixth of a
// move's time there. TestPatchLineMatchesJSON and FuzzPatchLine hold the
// two encodings together.
func appendPatchLine(b []byte, seq uint64, changes []change) ([]byte, bool) {
	if len(changes) != 1 {
		return b, false
	}
	c := changes[0]
	p, isPatch := c.Record.(*boardPatch)
	if c.Op != opPatch || c.Kind != boardKind || !isPatch || p == nil {
		return b, false
	}
	w := lineWriter{b: b, ok: true}
	w.raw(`{"version":`)
	w.b = strconv.AppendInt(w.b, journalVersion, 10)
	w.raw(`,"seq":`)
	w.b = strconv.AppendUint(w.b, seq, 10)
	w.raw(`,"changes":[{"op":"patch","kind":"board","id":`)
	w.str(c.ID)
	w.raw(`,"record":{"base":`)
	w.b = strconv.AppendInt(w.b, p.Base, 10)
	w.raw(`,"board":`)
	w.board(&p.Board)
	w.raw(`,"lists":`)
	if p.Lists == nil {
		w.raw("null")
	} else {
		w.raw("[")
		for i, l := range p.Lists {
			if i > 0 {
				w.raw(",")
			}
			w.raw(`{"id":`)
			w.str(l.ID)
			w.raw(`,"name":`)
			w.str(l.Name)
			if s := l.Splice; s != nil {
				w.raw(`,"splice":{"head":`)
				w.b = strconv.AppendInt(w.b, int64(s.Head), 10)
				w.raw(`,"mid":`)
				w.strs(s.Mid)
				w.raw(`,"tail":`)
				w.b = strconv.AppendInt(w.b, int64(s.Tail), 10)
				w.raw("}")
			}
			w.raw("}")
		}
		w.raw("]")
	}
	w.raw(`,"cards":`)
	if p.Cards == nil {
		w.raw("null")
	} else {
		w.raw("[")
		for i := range p.Cards {
			if i > 0 {
				w.raw(",")
			}
			w.card(&p.Cards[i])
		}
		w.raw("]")
	}
	w.raw("}}]}\n")
	return w.b, w.ok
}

// lineWriter appends JSON for appendPatchLine; ok turns false, for good,
// at the first value it leaves to encoding/json.
type lineWriter struct {
	b  []byte
	ok bool
}

func (w *lineWriter) raw(s string) { w.b = append(w.b, s...) }

func (w *lineWriter) str(s string) {
	if w.ok {
		w.b, w.ok = jsonappend.Plain(w.b, s, false)
	}
}

func (w *lineWriter) time(t time.Time) {
	if w.ok {
		w.b, w.ok = jsonappend.Time(w.b, t)
	}
}

// strs appends a []string: null when nil, as encoding/json does.
func (w *lineWriter) strs(s []string) {
	if s == nil {
		w.raw("null")
		return
	}
	w.raw("[")
	for i, x := range s {
		if i > 0 {
			w.raw(",")
		}
		w.str(x)
	}
	w.raw("]")
}

// board appends b with board.Board's JSON tags, its lists as null: a
// patch's board has none (any other is left to encoding/json).
func (w *lineWriter) board(b *board.Board) {
	if b.Lists != nil {
		w.ok = false
		return
	}
	w.raw(`{"id":`)
	w.str(b.ID)
	w.raw(`,"title":`)
	w.str(b.Title)
	w.raw(`,"ownerId":`)
	w.str(b.OwnerID)
	w.raw(`,"backgroundId":`)
	w.str(b.BackgroundID)
	w.raw(`,"backgroundURL":`)
	w.str(b.BackgroundURL)
	w.raw(`,"members":`)
	w.strs(b.Members)
	w.raw(`,"invited":`)
	w.strs(b.Invited)
	w.raw(`,"favouritedBy":`)
	w.strs(b.FavouritedBy)
	w.raw(`,"lists":null,"version":`)
	w.b = strconv.AppendInt(w.b, b.Version, 10)
	w.raw(`,"createdAt":`)
	w.time(b.CreatedAt)
	w.raw(`,"updatedAt":`)
	w.time(b.UpdatedAt)
	if !b.DeletingAt.IsZero() {
		w.raw(`,"deletingAt":`)
		w.time(b.DeletingAt)
	}
	w.raw("}")
}

// card appends c with board.Card's JSON tags.
func (w *lineWriter) card(c *board.Card) {
	w.raw(`{"id":`)
	w.str(c.ID)
	w.raw(`,"title":`)
	w.str(c.Title)
	w.raw(`,"description":`)
	w.str(c.Description)
	w.raw(`,"attachments":`)
	if c.Attachments == nil {
		w.raw("null")
	} else {
		w.raw("[")
		for i, a := range c.Attachments {
			if i > 0 {
				w.raw(",")
			}
			w.raw(`{"id":`)
			w.str(a.ID)
			w.raw(`,"name":`)
			w.str(a.Name)
			w.raw(`,"contentType":`)
			w.str(a.ContentType)
			w.raw(`,"size":`)
			w.b = strconv.AppendInt(w.b, a.Size, 10)
			w.raw(`,"createdAt":`)
			w.time(a.CreatedAt)
			w.raw("}")
		}
		w.raw("]")
	}
	w.raw(`,"createdAt":`)
	w.time(c.CreatedAt)
	w.raw("}")
}
