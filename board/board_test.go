package board_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"corkboard/board"
)

// The rules of a board, as plain calls on a value: no store. Every failing
// change is also checked to leave the board exactly as it was.

var now = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// uid returns a fixed, valid user id; uid(1) is the owner in these tests.
func uid(n int) string { return fmt.Sprintf("%024x", n) }

var owner = uid(1)

func newBoard(t *testing.T) *board.Board {
	t.Helper()
	b, err := board.New(owner, "Plans", "", now)
	if err != nil {
		t.Fatalf("New(%q, Plans) = %v", owner, err)
	}
	return b
}

// build returns a board laid out as spec, "A:a,b B: C:c" (lists A, B and C;
// cards a and b in A, none in B, c in C), and the ids of its lists and
// cards by name and title.
func build(t *testing.T, spec string) (*board.Board, map[string]string) {
	t.Helper()
	b := newBoard(t)
	ids := map[string]string{}
	for _, part := range strings.Fields(spec) {
		name, cards, _ := strings.Cut(part, ":")
		l, err := b.AddList(name, now)
		if err != nil {
			t.Fatalf("AddList(%q) = %v", name, err)
		}
		ids[name] = l.ID
		for _, title := range strings.Split(cards, ",") {
			if title == "" {
				continue
			}
			c, err := b.AddCard(l.ID, title, "", now)
			if err != nil {
				t.Fatalf("AddCard(%q, %q) = %v", name, title, err)
			}
			ids[title] = c.ID
		}
	}
	return b, ids
}

// layout returns the board's lists and cards in build's notation.
func layout(b *board.Board) string {
	parts := make([]string, len(b.Lists))
	for i, l := range b.Lists {
		titles := make([]string, len(l.Cards))
		for j, c := range l.Cards {
			titles[j] = c.Title
		}
		parts[i] = l.Name + ":" + strings.Join(titles, ",")
	}
	return strings.Join(parts, " ")
}

// attachment returns a valid attachment with the id uid(n).
func attachment(n int) board.Attachment {
	return board.Attachment{ID: uid(n), Name: fmt.Sprintf("scan %d.pdf", n), ContentType: "application/pdf", Size: int64(n), CreatedAt: now}
}

// kind names what an error is, so that a table can say what it wants: "ok",
// "invalid" (*ValidationError), "limit" (*LimitError), or the sentinel's text.
func kind(err error) string {
	var invalid *board.ValidationError
	var limit *board.LimitError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &invalid):
		return "invalid"
	case errors.As(err, &limit):
		return "limit"
	}
	return err.Error()
}

var (
	invalid = &board.ValidationError{}
	limited = &board.LimitError{}
)

// checkFailed checks that err is of the kind of want, and, when it is an
// error, that b is still deep-equal to before.
func checkFailed(t *testing.T, call string, err, want error, b, before *board.Board) {
	t.Helper()
	if kind(err) != kind(want) {
		t.Errorf("%s = %v (%s), want %s", call, err, kind(err), kind(want))
	}
	if err != nil && !reflect.DeepEqual(b, before) {
		t.Errorf("%s failed with %v but changed the board:\n got %+v\nwant %+v", call, err, b, before)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name, owner, title, url string
		bad                     []string // fields named, or none
	}{
		{"plain", owner, "Plans", "", nil},
		{"background URL", owner, "Plans", "https://example.com/sky.jpg", nil},
		{"http background", owner, "Plans", "http://example.com:8080/a/b.png?x=1&y=2#top", nil},
		{"100 characters of two bytes", owner, strings.Repeat("é", 100), "", nil},
		{"spaces kept", owner, "  Plans  ", "", nil},
		{"bad owner id", "alice", "Plans", "", []string{"ownerId"}},
		{"empty title", owner, "", "", []string{"title"}},
		{"blank title", owner, " \u3000 ", "", []string{"title"}},
		{"title too long", owner, strings.Repeat("é", 101), "", []string{"title"}},
		{"title not UTF-8", owner, "Pl\xffns", "", []string{"title"}},
		{"title with a newline", owner, "Plans\nfor", "", []string{"title"}},
		{"title with an escape", owner, "Plans\x1b[31m", "", []string{"title"}},
		{"javascript URL", owner, "Plans", "javascript:alert(1)", []string{"backgroundURL"}},
		{"URL breaking out of CSS url()", owner, "Plans", "https://example.com/a.png);background:url(https://evil.example/x", []string{"backgroundURL"}},
		{"URL with a quote", owner, "Plans", `https://example.com/a".png`, []string{"backgroundURL"}},
		{"data URL", owner, "Plans", "data:image/png;base64,AAAA", []string{"backgroundURL"}},
		{"ftp URL", owner, "Plans", "ftp://example.com/a.png", []string{"backgroundURL"}},
		{"relative URL", owner, "Plans", "/images/a.png", []string{"backgroundURL"}},
		{"URL without host", owner, "Plans", "https:///a.png", []string{"backgroundURL"}},
		{"opaque URL", owner, "Plans", "https:example.com", []string{"backgroundURL"}},
		{"URL with a space", owner, "Plans", "https://example.com/a b.png", []string{"backgroundURL"}},
		{"URL not ASCII", owner, "Plans", "https://example.com/é.png", []string{"backgroundURL"}},
		{"URL with a password", owner, "Plans", "https://bob:secret@example.com/a.png", []string{"backgroundURL"}},
		{"URL too long", owner, "Plans", "https://example.com/" + strings.Repeat("a", board.MaxBackgroundURL), []string{"backgroundURL"}},
		{"every field bad", "", "", "javascript:x", []string{"ownerId", "title", "backgroundURL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := board.New(tt.owner, tt.title, tt.url, now)
			if tt.bad != nil {
				var verr *board.ValidationError
				if !errors.As(err, &verr) {
					t.Fatalf("New(%q, %q, %q) = %v, want a *ValidationError", tt.owner, tt.title, tt.url, err)
				}
				got := slices.Sorted(func(yield func(string) bool) {
					for f := range verr.Fields {
						if !yield(f) {
							return
						}
					}
				})
				if want := slices.Sorted(slices.Values(tt.bad)); !slices.Equal(got, want) {
					t.Errorf("New(%q, %q, %q) names %v, want %v", tt.owner, tt.title, tt.url, verr.Fields, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("New(%q, %q, %q) = %v", tt.owner, tt.title, tt.url, err)
			}
			want := board.Board{ID: b.ID, Title: tt.title, OwnerID: owner, BackgroundURL: tt.url,
				Members: []string{owner}, CreatedAt: now, UpdatedAt: now}
			if !reflect.DeepEqual(*b, want) {
				t.Errorf("New(%q, %q, %q) = %+v, want %+v", tt.owner, tt.title, tt.url, *b, want)
			}
			if err := b.Validate(); err != nil {
				t.Errorf("the new board does not validate: %v", err)
			}
		})
	}
}

func TestSetTitle(t *testing.T) {
	tests := []struct {
		title string
		want  error
	}{
		{"Holidays", nil},
		{strings.Repeat("x", board.MaxTitle), nil},
		{"日本の旅", nil},
		{"", invalid},
		{"   ", invalid},
		{strings.Repeat("x", board.MaxTitle+1), invalid},
		{"\xc3", invalid},
		{"a\tb", invalid},
		{"a\u0085b", invalid}, // NEL, a C1 control
	}
	for _, tt := range tests {
		b := newBoard(t)
		before := b.Clone()
		err := b.SetTitle(tt.title)
		checkFailed(t, fmt.Sprintf("SetTitle(%q)", tt.title), err, tt.want, b, before)
		if err == nil && b.Title != tt.title {
			t.Errorf("SetTitle(%q) left the title %q", tt.title, b.Title)
		}
	}
}

func TestBackground(t *testing.T) {
	b := newBoard(t)
	file1, file2 := uid(0xb1), uid(0xb2)
	steps := []struct {
		call             string
		do               func() (string, error)
		want             error
		replaced, id, to string // the id handed back; BackgroundID and BackgroundURL after
	}{
		{"SetBackgroundURL(https)", func() (string, error) { return b.SetBackgroundURL("https://example.com/a.png") }, nil, "", "", "https://example.com/a.png"},
		{"SetBackgroundFile(file1)", func() (string, error) { return b.SetBackgroundFile(file1) }, nil, "", file1, ""},
		{"SetBackgroundFile(file2)", func() (string, error) { return b.SetBackgroundFile(file2) }, nil, file1, file2, ""},
		{"SetBackgroundFile(bad id)", func() (string, error) { return b.SetBackgroundFile("../../etc/passwd") }, invalid, "", file2, ""},
		{"SetBackgroundURL(javascript)", func() (string, error) { return b.SetBackgroundURL("javascript:alert(1)") }, invalid, "", file2, ""},
		{"SetBackgroundURL(http)", func() (string, error) { return b.SetBackgroundURL("http://example.com/b.png") }, nil, file2, "", "http://example.com/b.png"},
		{"SetBackgroundURL(none)", func() (string, error) { return b.SetBackgroundURL("") }, nil, "", "", ""},
	}
	for _, s := range steps {
		before := b.Clone()
		replaced, err := s.do()
		checkFailed(t, s.call, err, s.want, b, before)
		if replaced != s.replaced || b.BackgroundID != s.id || b.BackgroundURL != s.to {
			t.Errorf("%s = %q; background %q, %q; want %q; %q, %q", s.call, replaced, b.BackgroundID, b.BackgroundURL, s.replaced, s.id, s.to)
		}
		if err := b.Validate(); err != nil {
			t.Errorf("after %s: %v", s.call, err)
		}
	}
}

func TestAddAndRenameList(t *testing.T) {
	b := newBoard(t)
	todo, err := b.AddList("To do", now)
	if err != nil {
		t.Fatalf("AddList(To do) = %v", err)
	}
	done, err := b.AddList("Done", now)
	if err != nil {
		t.Fatalf("AddList(Done) = %v", err)
	}
	if todo.ID == done.ID || len(todo.ID) != 24 {
		t.Errorf("AddList gave ids %q and %q", todo.ID, done.ID)
	}
	if got := layout(b); got != "To do: Done:" {
		t.Errorf("after two AddList, layout %q, want appended lists", got)
	}
	if !reflect.DeepEqual(b.Lists[1], done) {
		t.Errorf("AddList returned %+v, the board holds %+v", done, b.Lists[1])
	}

	for _, name := range []string{"", " ", strings.Repeat("é", board.MaxListName+1), "a\nb", "\xff"} {
		before := b.Clone()
		_, err := b.AddList(name, now)
		checkFailed(t, fmt.Sprintf("AddList(%q)", name), err, invalid, b, before)
	}

	tests := []struct {
		list, name string
		want       error
	}{
		{todo.ID, "Doing", nil},
		{todo.ID, strings.Repeat("é", board.MaxListName), nil},
		{todo.ID, "", invalid},
		{todo.ID, "two\nlines", invalid},
		{uid(999), "Doing", board.ErrListNotFound},
		{"not-an-id", "Doing", board.ErrListNotFound},
		{"", "Doing", board.ErrListNotFound},
		{uid(999), "", board.ErrListNotFound}, // a missing list is answered before a bad name
	}
	for _, tt := range tests {
		before := b.Clone()
		err := b.RenameList(tt.list, tt.name)
		checkFailed(t, fmt.Sprintf("RenameList(%q, %q)", tt.list, tt.name), err, tt.want, b, before)
		if err == nil && b.Lists[0].Name != tt.name {
			t.Errorf("RenameList(%q, %q) left the name %q", tt.list, tt.name, b.Lists[0].Name)
		}
	}
}

func TestMoveList(t *testing.T) {
	tests := []struct {
		list     string
		position int
		want     error
		layout   string
	}{
		{"A", 0, nil, "A: B: C: D:"},
		{"A", 1, nil, "B: A: C: D:"},
		{"A", 3, nil, "B: C: D: A:"},
		{"A", 4, nil, "B: C: D: A:"},
		{"A", 1 << 40, nil, "B: C: D: A:"},
		{"D", 0, nil, "D: A: B: C:"},
		{"C", 1, nil, "A: C: B: D:"},
		{"B", 2, nil, "A: C: B: D:"},
		{"D", 3, nil, "A: B: C: D:"},
		{"A", -1, invalid, "A: B: C: D:"},
		{"nope", 0, board.ErrListNotFound, "A: B: C: D:"},
		{"nope", -1, board.ErrListNotFound, "A: B: C: D:"},
	}
	for _, tt := range tests {
		b, ids := build(t, "A: B: C: D:")
		id := ids[tt.list]
		if id == "" {
			id = uid(999)
		}
		before := b.Clone()
		err := b.MoveList(id, tt.position)
		call := fmt.Sprintf("MoveList(%s, %d)", tt.list, tt.position)
		checkFailed(t, call, err, tt.want, b, before)
		if got := layout(b); got != tt.layout {
			t.Errorf("%s: layout %q, want %q", call, got, tt.layout)
		}
	}
}

func TestDeleteList(t *testing.T) {
	b, ids := build(t, "A:a,b B:c")
	for i, card := range []string{"a", "a", "b", "c"} {
		if err := b.AddAttachment(ids[card], attachment(100+i)); err != nil {
			t.Fatalf("AddAttachment(%s) = %v", card, err)
		}
	}
	before := b.Clone()
	_, err := b.DeleteList(uid(999))
	checkFailed(t, "DeleteList(unknown)", err, board.ErrListNotFound, b, before)

	gone, err := b.DeleteList(ids["A"])
	if err != nil {
		t.Fatalf("DeleteList(A) = %v", err)
	}
	if want := []board.Attachment{attachment(100), attachment(101), attachment(102)}; !reflect.DeepEqual(gone, want) {
		t.Errorf("DeleteList(A) returned %+v, want the attachments of its cards %+v", gone, want)
	}
	if got := layout(b); got != "B:c" {
		t.Errorf("after DeleteList(A), layout %q, want %q", got, "B:c")
	}
	if _, err := b.DeleteList(ids["A"]); !errors.Is(err, board.ErrListNotFound) {
		t.Errorf("DeleteList(A) again = %v, want ErrListNotFound", err)
	}
	if err := b.MoveCard(ids["a"], "", 0); !errors.Is(err, board.ErrCardNotFound) {
		t.Errorf("MoveCard(a card of the deleted list) = %v, want ErrCardNotFound", err)
	}
}

func TestAddCard(t *testing.T) {
	tests := []struct {
		name               string
		title, description string
		want               error
		bad                string // the field named
	}{
		{"plain", "Buy milk", "", nil, ""},
		{"with a description", "Buy milk", "two litres\n\tsemi-skimmed\r\n", nil, ""},
		{"longest", strings.Repeat("ü", board.MaxCardTitle), strings.Repeat("ü", board.MaxDescription), nil, ""},
		{"no title", "", "text", invalid, "title"},
		{"blank title", "\t", "text", invalid, "title"},
		{"title too long", strings.Repeat("ü", board.MaxCardTitle+1), "", invalid, "title"},
		{"description too long", "Buy milk", strings.Repeat("ü", board.MaxDescription+1), invalid, "description"},
		{"description not UTF-8", "Buy milk", "\xed\xa0\x80", invalid, "description"}, // a UTF-16 surrogate
		{"description with NUL", "Buy milk", "a\x00b", invalid, "description"},
		{"description with an escape", "Buy milk", "\x1b]0;pwned\x07", invalid, "description"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, ids := build(t, "A:x B:")
			before := b.Clone()
			c, err := b.AddCard(ids["A"], tt.title, tt.description, now)
			checkFailed(t, "AddCard", err, tt.want, b, before)
			if err != nil {
				var verr *board.ValidationError
				if errors.As(err, &verr) && (len(verr.Fields) != 1 || verr.Fields[tt.bad] == "") {
					t.Errorf("AddCard(%q, %q) names %v, want only %q", tt.title, tt.description, verr.Fields, tt.bad)
				}
				return
			}
			want := board.Card{ID: c.ID, Title: tt.title, Description: tt.description, CreatedAt: now}
			if !reflect.DeepEqual(c, want) || !reflect.DeepEqual(b.Lists[0].Cards[1], want) {
				t.Errorf("AddCard(%q, %q) = %+v, board holds %+v, want %+v appended", tt.title, tt.description, c, b.Lists[0].Cards, want)
			}
		})
	}
	b, _ := build(t, "A:")
	before := b.Clone()
	_, err := b.AddCard(uid(999), "", "", now)
	checkFailed(t, "AddCard(unknown list, bad title)", err, board.ErrListNotFound, b, before)
	_, err = b.AddCard("", "Buy milk", "", now)
	checkFailed(t, "AddCard(no list)", err, board.ErrListNotFound, b, before)
}

func TestEditCard(t *testing.T) {
	s := func(s string) *string { return &s }
	tests := []struct {
		name               string
		title, description *string
		want               error
		after              board.Card // title and description after
	}{
		{"nothing", nil, nil, nil, board.Card{Title: "a", Description: "old"}},
		{"title", s("Buy milk"), nil, nil, board.Card{Title: "Buy milk", Description: "old"}},
		{"description", nil, s("new\nlines"), nil, board.Card{Title: "a", Description: "new\nlines"}},
		{"clear description", nil, s(""), nil, board.Card{Title: "a", Description: ""}},
		{"both", s("Buy milk"), s("new"), nil, board.Card{Title: "Buy milk", Description: "new"}},
		{"bad title, good description", s(""), s("new"), invalid, board.Card{Title: "a", Description: "old"}},
		{"good title, bad description", s("Buy milk"), s(strings.Repeat("d", board.MaxDescription+1)), invalid, board.Card{Title: "a", Description: "old"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, ids := build(t, "A:z,a")
			if err := b.EditCard(ids["a"], nil, s("old")); err != nil {
				t.Fatal(err)
			}
			before := b.Clone()
			err := b.EditCard(ids["a"], tt.title, tt.description)
			checkFailed(t, "EditCard", err, tt.want, b, before)
			got := b.Lists[0].Cards[1]
			if got.Title != tt.after.Title || got.Description != tt.after.Description {
				t.Errorf("EditCard: card has %q, %q; want %q, %q", got.Title, got.Description, tt.after.Title, tt.after.Description)
			}
		})
	}
	b, _ := build(t, "A:a")
	before := b.Clone()
	checkFailed(t, "EditCard(unknown)", b.EditCard(uid(999), s("x"), nil), board.ErrCardNotFound, b, before)
}

func TestMoveCard(t *testing.T) {
	const start = "A:a,b,c B:d,e C:"
	other, _ := build(t, "X:x")
	foreignList := other.Lists[0].ID
	tests := []struct {
		card, to string // to: a list's name, "" for the card's own list
		position int
		want     error
		layout   string
	}{
		{"a", "", 0, nil, start},
		{"a", "", 1, nil, "A:b,a,c B:d,e C:"},
		{"a", "", 2, nil, "A:b,c,a B:d,e C:"},
		{"a", "", 3, nil, "A:b,c,a B:d,e C:"},
		{"a", "", 1 << 40, nil, "A:b,c,a B:d,e C:"},
		{"c", "", 0, nil, "A:c,a,b B:d,e C:"},
		{"b", "A", 0, nil, "A:b,a,c B:d,e C:"}, // its own list, named
		{"a", "B", 0, nil, "A:b,c B:a,d,e C:"},
		{"a", "B", 1, nil, "A:b,c B:d,a,e C:"},
		{"a", "B", 2, nil, "A:b,c B:d,e,a C:"},
		{"a", "B", 99, nil, "A:b,c B:d,e,a C:"},
		{"e", "C", 0, nil, "A:a,b,c B:d C:e"},
		{"e", "C", 5, nil, "A:a,b,c B:d C:e"},
		{"d", "A", 3, nil, "A:a,b,c,d B:e C:"},
		{"a", "", -1, invalid, start},
		{"a", "B", -1, invalid, start},
		{"nope", "B", 0, board.ErrCardNotFound, start},
		{"nope", "nope", -1, board.ErrCardNotFound, start},
		{"a", "nope", 0, board.ErrListNotFound, start},
		{"a", "nope", -1, board.ErrListNotFound, start},
		{"a", "foreign", 0, board.ErrListNotFound, start},
	}
	for _, tt := range tests {
		b, ids := build(t, start)
		ids["foreign"] = foreignList
		card := ids[tt.card]
		if card == "" {
			card = uid(999)
		}
		to := ""
		if tt.to != "" {
			if to = ids[tt.to]; to == "" {
				to = "not-a-list"
			}
		}
		before := b.Clone()
		err := b.MoveCard(card, to, tt.position)
		call := fmt.Sprintf("MoveCard(%s, %q, %d) on %q", tt.card, tt.to, tt.position, start)
		checkFailed(t, call, err, tt.want, b, before)
		if got := layout(b); got != tt.layout {
			t.Errorf("%s: layout %q, want %q", call, got, tt.layout)
		}
		if err := b.Validate(); err != nil {
			t.Errorf("after %s: %v", call, err)
		}
	}
}

func TestMoveCardKeepsTheCard(t *testing.T) {
	b, ids := build(t, "A:a B:")
	if err := b.AddAttachment(ids["a"], attachment(7)); err != nil {
		t.Fatal(err)
	}
	card := b.Lists[0].Cards[0]
	if err := b.MoveCard(ids["a"], ids["B"], 0); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(b.Lists[1].Cards[0], card) {
		t.Errorf("MoveCard changed the card: %+v, was %+v", b.Lists[1].Cards[0], card)
	}
}

func TestDeleteCard(t *testing.T) {
	b, ids := build(t, "A:a,b,c")
	for i := range 3 {
		if err := b.AddAttachment(ids["b"], attachment(10+i)); err != nil {
			t.Fatal(err)
		}
	}
	gone, err := b.DeleteCard(ids["b"])
	if err != nil {
		t.Fatalf("DeleteCard(b) = %v", err)
	}
	if want := []board.Attachment{attachment(10), attachment(11), attachment(12)}; !reflect.DeepEqual(gone, want) {
		t.Errorf("DeleteCard(b) returned %+v, want %+v", gone, want)
	}
	if got := layout(b); got != "A:a,c" {
		t.Errorf("after DeleteCard(b), layout %q, want %q", got, "A:a,c")
	}
	gone, err = b.DeleteCard(ids["a"])
	if err != nil || gone != nil {
		t.Errorf("DeleteCard(a, no attachments) = %v, %v; want nil, nil", gone, err)
	}
	before := b.Clone()
	_, err = b.DeleteCard(ids["b"])
	checkFailed(t, "DeleteCard(b) again", err, board.ErrCardNotFound, b, before)
}

func TestAttachments(t *testing.T) {
	b, ids := build(t, "A:a,b")
	if err := b.AddAttachment(ids["a"], attachment(1)); err != nil {
		t.Fatalf("AddAttachment = %v", err)
	}
	tests := []struct {
		name string
		card string
		edit func(*board.Attachment)
		want error
	}{
		{"another", "a", func(a *board.Attachment) { a.ID = uid(2) }, nil},
		{"on another card", "b", func(a *board.Attachment) { a.ID = uid(3) }, nil},
		{"empty file", "b", func(a *board.Attachment) { a.ID, a.Size = uid(4), 0 }, nil},
		{"unknown card", "nope", func(a *board.Attachment) { a.ID = uid(5) }, board.ErrCardNotFound},
		{"id used by an attachment", "b", func(a *board.Attachment) { a.ID = uid(1) }, invalid},
		{"id used by a card", "b", func(a *board.Attachment) { a.ID = ids["a"] }, invalid},
		{"id used by the board", "b", func(a *board.Attachment) { a.ID = b.ID }, invalid},
		{"bad id", "b", func(a *board.Attachment) { a.ID = "../../etc/passwd" }, invalid},
		{"no name", "b", func(a *board.Attachment) { a.ID, a.Name = uid(6), "" }, invalid},
		{"name with a newline", "b", func(a *board.Attachment) { a.ID, a.Name = uid(6), "a\r\nb.pdf" }, invalid},
		{"name too long", "b", func(a *board.Attachment) { a.ID, a.Name = uid(6), strings.Repeat("n", board.MaxAttachmentName+1) }, invalid},
		{"no content type", "b", func(a *board.Attachment) { a.ID, a.ContentType = uid(6), "" }, invalid},
		{"content type not ASCII", "b", func(a *board.Attachment) { a.ID, a.ContentType = uid(6), "imäge/png" }, invalid},
		{"negative size", "b", func(a *board.Attachment) { a.ID, a.Size = uid(6), -1 }, invalid},
	}
	for _, tt := range tests {
		a := attachment(0)
		tt.edit(&a)
		card := ids[tt.card]
		if card == "" {
			card = uid(999)
		}
		before := b.Clone()
		err := b.AddAttachment(card, a)
		checkFailed(t, "AddAttachment "+tt.name, err, tt.want, b, before)
	}
	if got, want := attachmentIDs(b.Attachments()), []string{uid(1), uid(2), uid(3), uid(4)}; !slices.Equal(got, want) {
		t.Errorf("Attachments() = %v, want %v in board order", got, want)
	}

	if a, err := b.Attachment(ids["a"], uid(2)); err != nil || a.ID != uid(2) {
		t.Errorf("Attachment(a, 2) = %+v, %v", a, err)
	}
	if _, err := b.Attachment(ids["b"], uid(2)); !errors.Is(err, board.ErrAttachmentNotFound) {
		t.Errorf("Attachment(b, an attachment of a) = %v, want ErrAttachmentNotFound", err)
	}
	if _, err := b.Attachment(uid(999), uid(2)); !errors.Is(err, board.ErrCardNotFound) {
		t.Errorf("Attachment(unknown card) = %v, want ErrCardNotFound", err)
	}

	removes := []struct {
		card, att string
		want      error
	}{
		{ids["b"], uid(2), board.ErrAttachmentNotFound}, // on card a, not b
		{uid(999), uid(2), board.ErrCardNotFound},
		{ids["a"], uid(999), board.ErrAttachmentNotFound},
		{ids["a"], uid(1), nil},
		{ids["a"], uid(1), board.ErrAttachmentNotFound},
	}
	for _, r := range removes {
		before := b.Clone()
		got, err := b.RemoveAttachment(r.card, r.att)
		checkFailed(t, fmt.Sprintf("RemoveAttachment(%s, %s)", r.card, r.att), err, r.want, b, before)
		if err == nil && !reflect.DeepEqual(got, attachment(1)) {
			t.Errorf("RemoveAttachment returned %+v, want %+v", got, attachment(1))
		}
	}
	if got, want := attachmentIDs(b.Attachments()), []string{uid(2), uid(3), uid(4)}; !slices.Equal(got, want) {
		t.Errorf("after RemoveAttachment, Attachments() = %v, want %v", got, want)
	}

	if _, err := b.SetBackgroundFile(uid(0xbb)); err != nil {
		t.Fatal(err)
	}
	want := []board.FileRef{{board.BackgroundBucket, uid(0xbb)}, {board.AttachmentBucket, uid(2)},
		{board.AttachmentBucket, uid(3)}, {board.AttachmentBucket, uid(4)}}
	if got := b.Files(); !reflect.DeepEqual(got, want) {
		t.Errorf("Files() = %v, want %v", got, want)
	}
	if _, err := b.SetBackgroundURL("https://example.com/a.png"); err != nil {
		t.Fatal(err)
	}
	if got := b.Files(); !reflect.DeepEqual(got, want[1:]) {
		t.Errorf("with a background URL, Files() = %v, want %v", got, want[1:])
	}
	if got := newBoard(t).Files(); got != nil {
		t.Errorf("an empty board's Files() = %v, want none", got)
	}
}

func attachmentIDs(as []board.Attachment) []string {
	var ids []string
	for _, a := range as {
		ids = append(ids, a.ID)
	}
	return ids
}

func TestMembers(t *testing.T) {
	b := newBoard(t)
	alice, bob, carol := uid(2), uid(3), uid(4)
	steps := []struct {
		call string
		do   func() error
		want error
	}{
		{"Invite(owner, owner)", func() error { return b.Invite(owner, owner) }, board.ErrInviteSelf},
		{"Invite(alice, bob) before alice is a member", func() error { return b.Invite(alice, bob) }, board.ErrNotMember},
		{"Invite(owner, bad id)", func() error { return b.Invite(owner, "bob") }, invalid},
		{"Invite(owner, alice)", func() error { return b.Invite(owner, alice) }, nil},
		{"Invite(owner, alice) again", func() error { return b.Invite(owner, alice) }, board.ErrAlreadyInvited},
		{"AcceptInvite(bob), not invited", func() error { return b.AcceptInvite(bob) }, board.ErrNotInvited},
		{"DropInvite(bob), not invited", func() error { return b.DropInvite(bob) }, board.ErrNotInvited},
		{"SetFavourite(alice), invited only", func() error { return b.SetFavourite(alice, true) }, board.ErrNotMember},
		{"AcceptInvite(alice)", func() error { return b.AcceptInvite(alice) }, nil},
		{"AcceptInvite(alice) again", func() error { return b.AcceptInvite(alice) }, board.ErrNotInvited},
		{"Invite(owner, alice), a member", func() error { return b.Invite(owner, alice) }, board.ErrAlreadyMember},
		{"Invite(alice, owner)", func() error { return b.Invite(alice, owner) }, board.ErrAlreadyMember},
		{"Invite(alice, bob)", func() error { return b.Invite(alice, bob) }, nil},
		{"Invite(alice, carol)", func() error { return b.Invite(alice, carol) }, nil},
		{"DropInvite(bob)", func() error { return b.DropInvite(bob) }, nil},
		{"AcceptInvite(bob), dropped", func() error { return b.AcceptInvite(bob) }, board.ErrNotInvited},
		{"AddMember(carol), invited", func() error { return b.AddMember(carol) }, nil},
		{"AddMember(carol) again", func() error { return b.AddMember(carol) }, board.ErrAlreadyMember},
		{"AddMember(bad id)", func() error { return b.AddMember("") }, invalid},
		{"SetFavourite(alice, true)", func() error { return b.SetFavourite(alice, true) }, nil},
		{"SetFavourite(alice, true) again", func() error { return b.SetFavourite(alice, true) }, nil},
		{"SetFavourite(owner, true)", func() error { return b.SetFavourite(owner, true) }, nil},
		{"SetFavourite(carol, false), never set", func() error { return b.SetFavourite(carol, false) }, nil},
		{"SetFavourite(bob, true), no member", func() error { return b.SetFavourite(bob, true) }, board.ErrNotMember},
		{"RemoveMember(owner)", func() error { return b.RemoveMember(owner) }, board.ErrOwnerCannotLeave},
		{"RemoveMember(bob), no member", func() error { return b.RemoveMember(bob) }, board.ErrNotMember},
		{"RemoveMember(alice)", func() error { return b.RemoveMember(alice) }, nil},
		{"RemoveMember(alice) again", func() error { return b.RemoveMember(alice) }, board.ErrNotMember},
		{"SetFavourite(owner, false)", func() error { return b.SetFavourite(owner, false) }, nil},
		{"SetFavourite(owner, false) again", func() error { return b.SetFavourite(owner, false) }, nil},
		{"Invite(owner, alice) after she left", func() error { return b.Invite(owner, alice) }, nil},
	}
	for _, s := range steps {
		before := b.Clone()
		err := s.do()
		checkFailed(t, s.call, err, s.want, b, before)
		if err := b.Validate(); err != nil {
			t.Fatalf("after %s: %v", s.call, err)
		}
	}
	want := struct{ members, invited, favourites []string }{[]string{owner, carol}, []string{alice}, []string{}}
	if !slices.Equal(b.Members, want.members) || !slices.Equal(b.Invited, want.invited) || len(b.FavouritedBy) != 0 {
		t.Errorf("at the end: members %v, invited %v, favourites %v; want %v, %v, none", b.Members, b.Invited, b.FavouritedBy, want.members, want.invited)
	}
	for _, tt := range []struct {
		user                            string
		member, ownerOf, isInvited, fav bool
	}{
		{owner, true, true, false, false},
		{carol, true, false, false, false},
		{alice, false, false, true, false},
		{bob, false, false, false, false},
		{"", false, false, false, false},
	} {
		if b.IsMember(tt.user) != tt.member || b.IsOwner(tt.user) != tt.ownerOf || b.IsInvited(tt.user) != tt.isInvited || b.IsFavourite(tt.user) != tt.fav {
			t.Errorf("user %q: member %v, owner %v, invited %v, favourite %v; want %v, %v, %v, %v", tt.user,
				b.IsMember(tt.user), b.IsOwner(tt.user), b.IsInvited(tt.user), b.IsFavourite(tt.user),
				tt.member, tt.ownerOf, tt.isInvited, tt.fav)
		}
	}
}

func TestRemoveMemberDropsFavourite(t *testing.T) {
	b := newBoard(t)
	alice := uid(2)
	if err := b.AddMember(alice); err != nil {
		t.Fatal(err)
	}
	if err := b.SetFavourite(alice, true); err != nil {
		t.Fatal(err)
	}
	if !b.IsFavourite(alice) {
		t.Fatal("SetFavourite(alice, true) did not mark it")
	}
	if err := b.RemoveMember(alice); err != nil {
		t.Fatal(err)
	}
	if b.IsFavourite(alice) {
		t.Errorf("after RemoveMember(alice), FavouritedBy = %v still holds her", b.FavouritedBy)
	}
}

func TestClone(t *testing.T) {
	b, ids := build(t, "A:a,b B:c")
	if err := b.AddAttachment(ids["a"], attachment(1)); err != nil {
		t.Fatal(err)
	}
	if err := b.AddMember(uid(2)); err != nil {
		t.Fatal(err)
	}
	if err := b.Invite(owner, uid(3)); err != nil {
		t.Fatal(err)
	}
	if err := b.SetFavourite(owner, true); err != nil {
		t.Fatal(err)
	}
	// The reference is the board's JSON, which shares nothing with it.
	orig, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	c := b.Clone()
	if !reflect.DeepEqual(c, b) {
		t.Fatalf("Clone() = %+v, not deep-equal to %+v", c, b)
	}
	c.Title = "changed"
	c.Members[1] = uid(9)
	c.Invited[0] = uid(9)
	c.FavouritedBy[0] = uid(9)
	c.Lists[0].Name = "changed"
	c.Lists[0].Cards[0].Title = "changed"
	c.Lists[0].Cards[0].Attachments[0].Name = "changed"
	c.Lists = append(c.Lists[:1], c.Lists[1:]...)
	if after, _ := json.Marshal(b); string(after) != string(orig) {
		t.Errorf("changing a clone changed the board:\n got %s\nwant %s", after, orig)
	}

	// Nil stays nil and empty stays empty, so that a clone is deep-equal.
	e := newBoard(t)
	e.Invited, e.Lists = []string{}, []board.List{{ID: uid(5), Name: "L", Cards: []board.Card{}}}
	if c := e.Clone(); !reflect.DeepEqual(c, e) || c.FavouritedBy != nil || c.Invited == nil || c.Lists[0].Cards == nil {
		t.Errorf("Clone() of nil and empty slices = %+v, want %+v", c, e)
	}
}

func TestSummary(t *testing.T) {
	b := newBoard(t)
	if err := b.AddMember(uid(2)); err != nil {
		t.Fatal(err)
	}
	if err := b.SetFavourite(uid(2), true); err != nil {
		t.Fatal(err)
	}
	b.UpdatedAt = now.Add(time.Hour)
	if _, err := b.SetBackgroundURL("https://example.com/a.png"); err != nil {
		t.Fatal(err)
	}
	want := board.Summary{ID: b.ID, Title: "Plans", BackgroundURL: "https://example.com/a.png", IsFavourite: true, MemberCount: 2, UpdatedAt: now.Add(time.Hour)}
	if got := b.SummaryFor(uid(2)); got != want {
		t.Errorf("SummaryFor(a member who favourited it) = %+v, want %+v", got, want)
	}
	want.IsFavourite = false
	if got := b.SummaryFor(owner); got != want {
		t.Errorf("SummaryFor(owner) = %+v, want %+v", got, want)
	}
	if _, err := b.SetBackgroundFile(uid(0xbb)); err != nil {
		t.Fatal(err)
	}
	if got, want := b.SummaryFor(owner).BackgroundURL, "/api/files/"+uid(0xbb); got != want {
		t.Errorf("with an uploaded background, BackgroundURL = %q, want %q", got, want)
	}
	if got := newBoard(t).SummaryFor(owner).BackgroundURL; got != "" {
		t.Errorf("without a background, BackgroundURL = %q, want none", got)
	}
}

func TestSortSummaries(t *testing.T) {
	at := func(h int) time.Time { return now.Add(time.Duration(h) * time.Hour) }
	s := []board.Summary{
		{ID: "old", UpdatedAt: at(1)},
		{ID: "fav-old", IsFavourite: true, UpdatedAt: at(1)},
		{ID: "new", UpdatedAt: at(5)},
		{ID: "tie-b", UpdatedAt: at(3)},
		{ID: "fav-new", IsFavourite: true, UpdatedAt: at(9)},
		{ID: "tie-a", UpdatedAt: at(3)},
	}
	board.SortSummaries(s)
	var got []string
	for _, x := range s {
		got = append(got, x.ID)
	}
	if want := []string{"fav-new", "fav-old", "new", "tie-a", "tie-b", "old"}; !slices.Equal(got, want) {
		t.Errorf("SortSummaries: %v, want %v", got, want)
	}
}

func TestValidate(t *testing.T) {
	good := func(t *testing.T) *board.Board {
		b, ids := build(t, "A:a,b B:c")
		if err := b.AddAttachment(ids["a"], attachment(1)); err != nil {
			t.Fatal(err)
		}
		if err := b.AddMember(uid(2)); err != nil {
			t.Fatal(err)
		}
		if err := b.Invite(owner, uid(3)); err != nil {
			t.Fatal(err)
		}
		if err := b.SetFavourite(uid(2), true); err != nil {
			t.Fatal(err)
		}
		return b
	}
	if err := good(t).Validate(); err != nil {
		t.Fatalf("a board made by the methods: Validate() = %v", err)
	}
	tests := []struct {
		name  string
		spoil func(b *board.Board)
	}{
		{"bad id", func(b *board.Board) { b.ID = "x" }},
		{"empty title", func(b *board.Board) { b.Title = "" }},
		{"bad background URL", func(b *board.Board) { b.BackgroundURL = "javascript:x" }},
		{"bad background id", func(b *board.Board) { b.BackgroundID = "../x" }},
		{"two backgrounds", func(b *board.Board) { b.BackgroundID, b.BackgroundURL = uid(9), "https://example.com/a.png" }},
		{"negative version", func(b *board.Board) { b.Version = -1 }},
		{"owner not first", func(b *board.Board) { b.Members[0], b.Members[1] = b.Members[1], b.Members[0] }},
		{"no members", func(b *board.Board) { b.Members = nil }},
		{"member twice", func(b *board.Board) { b.Members = append(b.Members, uid(2)) }},
		{"bad member id", func(b *board.Board) { b.Members = append(b.Members, "bob") }},
		{"invited member", func(b *board.Board) { b.Invited = append(b.Invited, uid(2)) }},
		{"invited twice", func(b *board.Board) { b.Invited = append(b.Invited, uid(3)) }},
		{"bad invited id", func(b *board.Board) { b.Invited = append(b.Invited, "") }},
		{"favourite of a non-member", func(b *board.Board) { b.FavouritedBy = append(b.FavouritedBy, uid(3)) }},
		{"favourite twice", func(b *board.Board) { b.FavouritedBy = append(b.FavouritedBy, uid(2)) }},
		{"list id twice", func(b *board.Board) { b.Lists[1].ID = b.Lists[0].ID }},
		{"list id is the board's", func(b *board.Board) { b.Lists[1].ID = b.ID }},
		{"bad list name", func(b *board.Board) { b.Lists[0].Name = "a\nb" }},
		{"card id twice", func(b *board.Board) { b.Lists[1].Cards[0].ID = b.Lists[0].Cards[0].ID }},
		{"card id is a list's", func(b *board.Board) { b.Lists[1].Cards[0].ID = b.Lists[0].ID }},
		{"bad card title", func(b *board.Board) { b.Lists[0].Cards[0].Title = "" }},
		{"bad description", func(b *board.Board) { b.Lists[0].Cards[0].Description = "\x00" }},
		{"attachment id is a card's", func(b *board.Board) { b.Lists[0].Cards[0].Attachments[0].ID = b.Lists[0].Cards[1].ID }},
		{"bad attachment", func(b *board.Board) { b.Lists[0].Cards[0].Attachments[0].Size = -5 }},
		{"too many members", func(b *board.Board) {
			for i := range board.MaxMembers {
				b.Members = append(b.Members, uid(1000+i))
			}
		}},
		{"too many lists", func(b *board.Board) {
			for i := range board.MaxLists {
				b.Lists = append(b.Lists, board.List{ID: uid(1000 + i), Name: "L"})
			}
		}},
		{"too many cards in a list", func(b *board.Board) {
			for i := range board.MaxCardsPerList {
				b.Lists[1].Cards = append(b.Lists[1].Cards, board.Card{ID: uid(1000 + i), Title: "c"})
			}
		}},
	}
	for _, tt := range tests {
		b := good(t)
		tt.spoil(b)
		if err := b.Validate(); err == nil {
			t.Errorf("Validate() of a board with %s = nil, want an error", tt.name)
		}
	}
}

// TestRandomChanges runs thousands of random changes, valid and not, on one
// board, and after each checks the board against a model kept by hand (lists,
// cards and attachments in order, members, invitations, favourites): every
// card is in exactly one place, nothing is duplicated or lost, ids stay
// unique (Validate), each call fails exactly when the model says it must, and
// a failed call leaves the board deep-equal to its state before.
func TestRandomChanges(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 23))
	outcomes := randomChanges(t, rng.IntN, func(step int) bool { return step < 6000 })
	for name, o := range outcomes {
		failed := 0
		for k, n := range o {
			if k != "ok" {
				failed += n
			}
		}
		if o["ok"] == 0 || failed == 0 {
			t.Errorf("%s: outcomes %v; the test should see it succeed and fail", name, o)
		}
	}
}

// randomChanges makes changes, valid and not, to one board while more(step)
// holds, drawing every choice from intn (a number in [0, n)), and after
// each checks the board against the model. It returns, by operation, how
// many calls ended in each kind of error ("ok" for none). TestRandomChanges
// draws from a seeded generator; FuzzBoardChanges from the fuzzer's bytes.
func randomChanges(t *testing.T, intn func(n int) int, more func(step int) bool) map[string]map[string]int {
	rng := intnSource(intn)
	b := newBoard(t)
	other, otherIDs := build(t, "X:x")
	if err := other.AddAttachment(otherIDs["x"], attachment(0xf0)); err != nil {
		t.Fatal(err)
	}
	foreign := map[string]string{"list": otherIDs["X"], "card": otherIDs["x"], "attachment": uid(0xf0)}
	m := newModel()
	users := []string{owner, uid(2), uid(3), uid(4), uid(5)}
	nextAttachment := 0x1000

	// pick returns an id of kind from ids, or now and then one that is
	// not on the board: another board's, a made-up one, or not an id.
	pick := func(kind string, ids []string) string {
		switch r := rng.IntN(12); {
		case r == 0:
			return foreign[kind]
		case r == 1:
			return uid(0xdead)
		case r == 2:
			return "not-an-id"
		case len(ids) == 0:
			return uid(0xbeef)
		}
		return ids[rng.IntN(len(ids))]
	}
	// position returns a position from -2 to n+2, n being a list's length.
	position := func(n int) int { return rng.IntN(n+5) - 2 }
	// text returns a name or title, valid or not, and whether it is valid.
	text := func(max int) (string, bool) {
		switch rng.IntN(10) {
		case 0:
			return "", false
		case 1:
			return "  ", false
		case 2:
			return strings.Repeat("é", max+1), false
		case 3:
			return "a\tb", false
		case 4:
			return strings.Repeat("é", max), true
		}
		return fmt.Sprintf("t%d", rng.IntN(1000)), true
	}
	description := func() (string, bool) {
		switch rng.IntN(6) {
		case 0:
			return strings.Repeat("d", board.MaxDescription+1), false
		case 1:
			return "bell\a", false
		case 2:
			return "two\nlines", true
		}
		return "", true
	}
	user := func() string {
		if rng.IntN(15) == 0 {
			return "bob"
		}
		return users[rng.IntN(len(users))]
	}

	type op struct {
		name string
		// weight is how often the op is drawn, against the others.
		weight int
		// do makes one random call and returns its error and the error
		// the model expects; apply, called on success only, updates the
		// model and checks what the call returned.
		do func() (err, want error, apply func())
	}
	ops := []op{
		{"AddList", 3, func() (error, error, func()) {
			name, ok := text(board.MaxListName)
			l, err := b.AddList(name, now)
			want := firstOf(!ok, invalid, len(m.lists) >= board.MaxLists, limited)
			return err, want, func() { m.lists = append(m.lists, mlist{id: l.ID}) }
		}},
		{"RenameList", 2, func() (error, error, func()) {
			id := pick("list", m.listIDs())
			name, ok := text(board.MaxListName)
			err := b.RenameList(id, name)
			return err, firstOf(m.list(id) < 0, board.ErrListNotFound, !ok, invalid), func() {}
		}},
		{"MoveList", 4, func() (error, error, func()) {
			id, pos := pick("list", m.listIDs()), position(len(m.lists))
			err := b.MoveList(id, pos)
			i := m.list(id)
			return err, firstOf(i < 0, board.ErrListNotFound, pos < 0, invalid), func() {
				l := m.lists[i]
				m.lists = slices.Insert(slices.Delete(m.lists, i, i+1), min(pos, len(m.lists)-1), l)
			}
		}},
		{"DeleteList", 1, func() (error, error, func()) {
			id := pick("list", m.listIDs())
			gone, err := b.DeleteList(id)
			i := m.list(id)
			return err, firstOf(i < 0, board.ErrListNotFound), func() {
				var want []string
				for _, c := range m.lists[i].cards {
					want = append(want, c.attachments...)
				}
				if got := attachmentIDs(gone); !slices.Equal(got, want) {
					t.Errorf("DeleteList returned attachments %v, want %v", got, want)
				}
				m.lists = slices.Delete(m.lists, i, i+1)
			}
		}},
		{"AddCard", 10, func() (error, error, func()) {
			id := pick("list", m.listIDs())
			title, ok := text(board.MaxCardTitle)
			desc, dok := description()
			c, err := b.AddCard(id, title, desc, now)
			i := m.list(id)
			full := i >= 0 && len(m.lists[i].cards) >= board.MaxCardsPerList || m.cards() >= board.MaxCards
			return err, firstOf(i < 0, board.ErrListNotFound, !ok || !dok, invalid, full, limited), func() {
				m.lists[i].cards = append(m.lists[i].cards, mcard{id: c.ID})
			}
		}},
		{"EditCard", 3, func() (error, error, func()) {
			id := pick("card", m.cardIDs())
			title, ok := text(board.MaxCardTitle)
			desc, dok := description()
			tp, dp := &title, &desc
			if rng.IntN(3) == 0 {
				tp, ok = nil, true
			}
			if rng.IntN(3) == 0 {
				dp, dok = nil, true
			}
			err := b.EditCard(id, tp, dp)
			li, _ := m.card(id)
			return err, firstOf(li < 0, board.ErrCardNotFound, !ok || !dok, invalid), func() {}
		}},
		{"MoveCard", 12, func() (error, error, func()) {
			id := pick("card", m.cardIDs())
			to := ""
			if rng.IntN(4) > 0 {
				to = pick("list", m.listIDs())
			}
			from, ci := m.card(id)
			dest := from
			if to != "" {
				dest = m.list(to)
			}
			n := 0
			if dest >= 0 {
				n = len(m.lists[dest].cards)
			}
			pos := position(n)
			err := b.MoveCard(id, to, pos)
			full := dest >= 0 && dest != from && n >= board.MaxCardsPerList
			return err, firstOf(from < 0, board.ErrCardNotFound, dest < 0, board.ErrListNotFound, pos < 0, invalid, full, limited), func() {
				c := m.lists[from].cards[ci]
				m.lists[from].cards = slices.Delete(m.lists[from].cards, ci, ci+1)
				cards := m.lists[dest].cards
				m.lists[dest].cards = slices.Insert(cards, min(pos, len(cards)), c)
			}
		}},
		{"DeleteCard", 2, func() (error, error, func()) {
			id := pick("card", m.cardIDs())
			gone, err := b.DeleteCard(id)
			li, ci := m.card(id)
			return err, firstOf(li < 0, board.ErrCardNotFound), func() {
				if got, want := attachmentIDs(gone), m.lists[li].cards[ci].attachments; !slices.Equal(got, want) {
					t.Errorf("DeleteCard returned attachments %v, want %v", got, want)
				}
				m.lists[li].cards = slices.Delete(m.lists[li].cards, ci, ci+1)
			}
		}},
		{"AddAttachment", 5, func() (error, error, func()) {
			id := pick("card", m.cardIDs())
			a := attachment(nextAttachment)
			nextAttachment++
			ok := true
			switch rng.IntN(8) {
			case 0:
				a.ContentType, ok = "", false
			case 1:
				if all := m.attachmentIDs(); len(all) > 0 {
					a.ID, ok = all[rng.IntN(len(all))], false
				}
			}
			err := b.AddAttachment(id, a)
			li, ci := m.card(id)
			full := li >= 0 && len(m.lists[li].cards[ci].attachments) >= board.MaxAttachmentsPerCard ||
				len(m.attachmentIDs()) >= board.MaxAttachments
			return err, firstOf(li < 0, board.ErrCardNotFound, !ok, invalid, full, limited), func() {
				c := &m.lists[li].cards[ci]
				c.attachments = append(c.attachments, a.ID)
			}
		}},
		{"RemoveAttachment", 2, func() (error, error, func()) {
			id := pick("card", m.cardIDs())
			li, ci := m.card(id)
			var own []string
			if li >= 0 {
				own = m.lists[li].cards[ci].attachments
			}
			aid := pick("attachment", own)
			if rng.IntN(6) == 0 {
				aid = pick("attachment", m.attachmentIDs()) // perhaps another card's
			}
			a, err := b.RemoveAttachment(id, aid)
			ai := slices.Index(own, aid)
			return err, firstOf(li < 0, board.ErrCardNotFound, ai < 0, board.ErrAttachmentNotFound), func() {
				if a.ID != aid {
					t.Errorf("RemoveAttachment(%s) returned %+v", aid, a)
				}
				c := &m.lists[li].cards[ci]
				c.attachments = slices.Delete(c.attachments, ai, ai+1)
			}
		}},
		{"Invite", 2, func() (error, error, func()) {
			from, to := user(), user()
			err := b.Invite(from, to)
			return err, firstOf(from == to, board.ErrInviteSelf, !slices.Contains(m.members, from), board.ErrNotMember,
				to == "bob", invalid, slices.Contains(m.members, to), board.ErrAlreadyMember,
				slices.Contains(m.invited, to), board.ErrAlreadyInvited), func() { m.invited = append(m.invited, to) }
		}},
		{"AcceptInvite", 2, func() (error, error, func()) {
			u := user()
			err := b.AcceptInvite(u)
			return err, firstOf(!slices.Contains(m.invited, u), board.ErrNotInvited), func() {
				m.invited = without(m.invited, u)
				m.members = append(m.members, u)
			}
		}},
		{"DropInvite", 1, func() (error, error, func()) {
			u := user()
			err := b.DropInvite(u)
			return err, firstOf(!slices.Contains(m.invited, u), board.ErrNotInvited), func() { m.invited = without(m.invited, u) }
		}},
		{"AddMember", 1, func() (error, error, func()) {
			u := user()
			err := b.AddMember(u)
			return err, firstOf(u == "bob", invalid, slices.Contains(m.members, u), board.ErrAlreadyMember), func() {
				m.members = append(m.members, u)
				m.invited = without(m.invited, u)
			}
		}},
		{"RemoveMember", 1, func() (error, error, func()) {
			u := user()
			err := b.RemoveMember(u)
			return err, firstOf(u == owner, board.ErrOwnerCannotLeave, !slices.Contains(m.members, u), board.ErrNotMember), func() {
				m.members = without(m.members, u)
				m.favourites = without(m.favourites, u)
			}
		}},
		{"SetFavourite", 2, func() (error, error, func()) {
			u, on := user(), rng.IntN(2) == 0
			err := b.SetFavourite(u, on)
			return err, firstOf(!slices.Contains(m.members, u), board.ErrNotMember), func() {
				if on && !slices.Contains(m.favourites, u) {
					m.favourites = append(m.favourites, u)
				} else if !on {
					m.favourites = without(m.favourites, u)
				}
			}
		}},
	}

	var draw []op
	for _, o := range ops {
		for range o.weight {
			draw = append(draw, o)
		}
	}
	outcomes := map[string]map[string]int{} // op name → kind of error → count
	for _, o := range ops {
		outcomes[o.name] = map[string]int{}
	}
	for step := 0; more(step); step++ {
		o := draw[rng.IntN(len(draw))]
		before := b.Clone()
		err, want, apply := o.do()
		if kind(err) != kind(want) {
			t.Fatalf("step %d: %s = %v (%s), want %s; board before: %+v", step, o.name, err, kind(err), kind(want), before)
		}
		if err != nil {
			if !reflect.DeepEqual(b, before) {
				t.Fatalf("step %d: %s failed with %v but changed the board:\n got %+v\nwant %+v", step, o.name, err, b, before)
			}
		} else {
			apply()
		}
		outcomes[o.name][kind(err)]++
		if got, want := m.of(b), m.String(); got != want {
			t.Fatalf("step %d: after %s (%v), the board is\n%s\nthe model\n%s", step, o.name, err, got, want)
		}
		if err := b.Validate(); err != nil {
			t.Fatalf("step %d: after %s: %v", step, o.name, err)
		}
	}
	cards, attachments := 0, 0
	for _, l := range b.Lists {
		cards += len(l.Cards)
		for _, c := range l.Cards {
			attachments += len(c.Attachments)
		}
	}
	if testing.Verbose() {
		t.Logf("at the end: %d lists, %d cards, %d attachments, %d members; outcomes %v", len(b.Lists), cards, attachments, len(b.Members), outcomes)
	}
	return outcomes
}

// intnSource gives a func(n) int the IntN method name the test's draws use.
type intnSource func(n int) int

func (f intnSource) IntN(n int) int { return f(n) }

// firstOf returns the error paired with the first true condition of
// pairs (condition, error, condition, error, ...), or nil.
func firstOf(pairs ...any) error {
	for i := 0; i < len(pairs); i += 2 {
		if pairs[i].(bool) {
			return pairs[i+1].(error)
		}
	}
	return nil
}

func without(ids []string, id string) []string {
	return slices.DeleteFunc(slices.Clone(ids), func(x string) bool { return x == id })
}

// model is what the board should hold, kept by hand with plain slices.
type model struct {
	lists                        []mlist
	members, invited, favourites []string
}

type mlist struct {
	id    string
	cards []mcard
}

type mcard struct {
	id          string
	attachments []string
}

func newModel() *model { return &model{members: []string{owner}} }

func (m *model) list(id string) int {
	return slices.IndexFunc(m.lists, func(l mlist) bool { return l.id == id })
}

func (m *model) card(id string) (int, int) {
	for i, l := range m.lists {
		if j := slices.IndexFunc(l.cards, func(c mcard) bool { return c.id == id }); j >= 0 {
			return i, j
		}
	}
	return -1, -1
}

func (m *model) listIDs() []string {
	var ids []string
	for _, l := range m.lists {
		ids = append(ids, l.id)
	}
	return ids
}

func (m *model) cardIDs() []string {
	var ids []string
	for _, l := range m.lists {
		for _, c := range l.cards {
			ids = append(ids, c.id)
		}
	}
	return ids
}

func (m *model) cards() int { return len(m.cardIDs()) }

func (m *model) attachmentIDs() []string {
	var ids []string
	for _, l := range m.lists {
		for _, c := range l.cards {
			ids = append(ids, c.attachments...)
		}
	}
	return ids
}

// String writes the model in the same form as of writes a board.
func (m *model) String() string {
	var s strings.Builder
	for _, l := range m.lists {
		fmt.Fprintf(&s, "%s:", l.id)
		for _, c := range l.cards {
			fmt.Fprintf(&s, " %s%v", c.id, c.attachments)
		}
		s.WriteString("\n")
	}
	fmt.Fprintf(&s, "members %v invited %v favourites %v", m.members, m.invited, m.favourites)
	return s.String()
}

// of writes b in the form of model.String.
func (m *model) of(b *board.Board) string {
	var s strings.Builder
	for _, l := range b.Lists {
		fmt.Fprintf(&s, "%s:", l.ID)
		for _, c := range l.Cards {
			fmt.Fprintf(&s, " %s%v", c.ID, attachmentIDs(c.Attachments))
		}
		s.WriteString("\n")
	}
	members, invited, favourites := b.Members, b.Invited, b.FavouritedBy
	if len(invited) == 0 {
		invited = nil
	}
	if len(favourites) == 0 {
		favourites = nil
	}
	fmt.Fprintf(&s, "members %v invited %v favourites %v", members, invited, favourites)
	return s.String()
}

// TestDropFile drops the references to missing files from a board with a
// background and three attachments on two cards: each drop removes exactly
// its reference and changes nothing else, and a file the board does not
// point at (an unknown id, or a known id in another bucket) changes
// nothing.
func TestDropFile(t *testing.T) {
	b, ids := build(t, "A:a,b B:c")
	for _, add := range []struct {
		card string
		n    int
	}{{"a", 1}, {"a", 2}, {"c", 3}} {
		if err := b.AddAttachment(ids[add.card], attachment(add.n)); err != nil {
			t.Fatalf("AddAttachment(%s, %d) = %v", add.card, add.n, err)
		}
	}
	if _, err := b.SetBackgroundFile(uid(0xbb)); err != nil {
		t.Fatal(err)
	}
	if err := b.AddMember(uid(2)); err != nil {
		t.Fatal(err)
	}
	if err := b.SetFavourite(uid(2), true); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		f    board.FileRef
		want bool
		// change makes the expected board from the one before.
		change func(*board.Board)
	}{
		{"an unknown attachment", board.FileRef{Bucket: board.AttachmentBucket, ID: uid(9)}, false, nil},
		{"the background's id as an attachment", board.FileRef{Bucket: board.AttachmentBucket, ID: uid(0xbb)}, false, nil},
		{"an attachment's id as the background", board.FileRef{Bucket: board.BackgroundBucket, ID: uid(2)}, false, nil},
		{"an attachment's id in another bucket", board.FileRef{Bucket: "pictures", ID: uid(2)}, false, nil},
		{"the second attachment of a card", board.FileRef{Bucket: board.AttachmentBucket, ID: uid(2)}, true, func(b *board.Board) {
			b.Lists[0].Cards[0].Attachments = []board.Attachment{attachment(1)}
		}},
		{"the same again", board.FileRef{Bucket: board.AttachmentBucket, ID: uid(2)}, false, nil},
		{"the background", board.FileRef{Bucket: board.BackgroundBucket, ID: uid(0xbb)}, true, func(b *board.Board) { b.BackgroundID = "" }},
		{"no background, by an empty id", board.FileRef{Bucket: board.BackgroundBucket}, false, nil},
		{"the only attachment of a card", board.FileRef{Bucket: board.AttachmentBucket, ID: uid(3)}, true, func(b *board.Board) {
			b.Lists[1].Cards[0].Attachments = []board.Attachment{}
		}},
	}
	for _, s := range steps {
		want := b.Clone()
		if s.change != nil {
			s.change(want)
		}
		if got := b.DropFile(s.f); got != s.want {
			t.Errorf("DropFile(%s: %v) = %v, want %v", s.name, s.f, got, s.want)
		}
		if !reflect.DeepEqual(b, want) {
			t.Errorf("after DropFile(%s: %v) the board is\n%+v\nwant\n%+v", s.name, s.f, b, want)
		}
		if slices.Contains(b.Files(), s.f) {
			t.Errorf("after DropFile(%s: %v), Files() = %v still holds it", s.name, s.f, b.Files())
		}
		if err := b.Validate(); err != nil {
			t.Errorf("after DropFile(%s): %v", s.name, err)
		}
	}
	if got, want := b.Files(), []board.FileRef{{Bucket: board.AttachmentBucket, ID: uid(1)}}; !reflect.DeepEqual(got, want) {
		t.Errorf("at the end Files() = %v, want %v", got, want)
	}
}

// FuzzBoardChanges runs the model test of TestRandomChanges on choices
// taken from the fuzzer's bytes, two bytes a choice, up to 300 changes: a
// sequence of adds, renames, moves and deletes of lists, cards and
// attachments, and of member changes, valid and not. After every change
// each card is in exactly one place and every id is unique (the model
// comparison and Validate), and a failed change leaves the board
// deep-equal to before. Positions are the order of the Lists and Cards
// slices, so they are dense (0..n-1) by construction; the model checks
// the order itself.
func FuzzBoardChanges(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x00\x00\x00\x01\x00\x00\x00\x05\x00\x02\x00\x03"))
	// Many adds of lists and cards, then moves: the weights put AddList
	// first and AddCard after the list ops.
	f.Add(bytes.Repeat([]byte{0, 0, 0, 5, 0, 1, 0, 9, 0, 7, 0, 3}, 20))
	rng := rand.New(rand.NewPCG(1, 2))
	for range 4 {
		seed := make([]byte, 600)
		for i := range seed {
			seed[i] = byte(rng.IntN(256))
		}
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		intn := func(n int) int {
			if len(data) < 2 {
				data = nil
				return 0
			}
			v := int(data[0])<<8 | int(data[1])
			data = data[2:]
			return v % n
		}
		randomChanges(t, intn, func(step int) bool { return len(data) > 0 && step < 300 })
	})
}
