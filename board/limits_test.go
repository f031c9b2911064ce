package board_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"corkboard/board"
)

// budget is the most a board may take, encoded: a quarter of MongoDB's
// 16 MB document limit, so that the limits hold with room to spare.
const budget = 4 << 20

// largest builds, through the methods only, the largest board the limits
// allow: every count at its limit and every string at its longest, made of
// fill. The times carry nanoseconds and a zone, the longest a time encodes.
func largest(t *testing.T, fill string) *board.Board {
	t.Helper()
	s := func(n int) string { return strings.Repeat(fill, n) }
	at := time.Date(2026, 11, 23, 9, 0, 0, 999_999_999, time.FixedZone("", -(23*3600+59*60)))
	url := "https://example.com/?"
	url += strings.Repeat("&", board.MaxBackgroundURL-len(url)) // '&' encodes as \u0026 in JSON
	b, err := board.New(owner, s(board.MaxTitle), url, at)
	if err != nil {
		t.Fatal(err)
	}
	b.Version = math.MaxInt64
	for range board.MaxLists {
		if _, err := b.AddList(s(board.MaxListName), at); err != nil {
			t.Fatal(err)
		}
	}
	descriptions := board.MaxDescriptions / board.MaxDescription
	attachments := 0
	for i := range board.MaxCards {
		desc := ""
		if i < descriptions {
			desc = s(board.MaxDescription)
		}
		c, err := b.AddCard(b.Lists[i%board.MaxLists].ID, s(board.MaxCardTitle), desc, at)
		if err != nil {
			t.Fatalf("card %d: %v", i, err)
		}
		for j := 0; j < board.MaxAttachmentsPerCard && attachments < board.MaxAttachments; j++ {
			attachments++
			a := board.Attachment{ID: uid(0x100000 + attachments), Name: s(board.MaxAttachmentName),
				ContentType: strings.Repeat("<", board.MaxContentType), Size: math.MaxInt64, CreatedAt: at}
			if err := b.AddAttachment(c.ID, a); err != nil {
				t.Fatalf("attachment %d: %v", attachments, err)
			}
		}
	}
	// Invitations first: a board whose members are full sends none.
	for i := range board.MaxInvites {
		if err := b.Invite(owner, uid(0x2000+i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range board.MaxMembers - 1 {
		if err := b.AddMember(uid(0x3000 + i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range b.Members {
		if err := b.SetFavourite(m, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Validate(); err != nil {
		t.Fatalf("the largest board does not validate: %v", err)
	}
	return b
}

// TestLargestBoardFitsBudget measures the largest board, encoded as JSON
// (the file store) and as a bound on its BSON size (MongoDB), with text that
// costs the most in each: '<', one byte of UTF-8 that JSON writes as six
// (\u003c), and '😀', four bytes in both.
func TestLargestBoardFitsBudget(t *testing.T) {
	for _, fill := range []string{"<", "😀"} {
		t.Run(fill, func(t *testing.T) {
			b := largest(t, fill)
			js, err := json.Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			var doc any
			d := json.NewDecoder(strings.NewReader(string(js)))
			d.UseNumber()
			if err := d.Decode(&doc); err != nil {
				t.Fatal(err)
			}
			bson := bsonBound(t, doc)
			t.Logf("the largest board filled with %q: %d bytes of JSON, at most %d bytes of BSON; budget %d", fill, len(js), bson, budget)
			if len(js) > budget || bson > budget {
				t.Errorf("the largest board takes %d bytes of JSON and up to %d of BSON, over the budget of %d", len(js), bson, budget)
			}
		})
	}
}

// bsonBound returns an upper bound of the BSON size of a value decoded from
// JSON. BSON writes a document as a length, then per field a type byte, the
// key with a NUL and the value, then a NUL; an array is a document whose
// keys are "0", "1", ...; a string is a length, its bytes and a NUL. Numbers
// count as eight bytes, and times, strings in JSON, count as strings, longer
// than the eight bytes of a BSON datetime.
func bsonBound(t *testing.T, v any) int {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		n := 4 + 1
		for k, x := range v {
			n += 1 + len(k) + 1 + bsonBound(t, x)
		}
		return n
	case []any:
		n := 4 + 1
		for i, x := range v {
			n += 1 + len(strconv.Itoa(i)) + 1 + bsonBound(t, x)
		}
		return n
	case string:
		return 4 + len(v) + 1
	case json.Number:
		return 8
	case bool:
		return 1
	case nil:
		return 0
	}
	t.Fatalf("bsonBound: unexpected %T", v)
	return 0
}

// checkLimit checks that err is the *LimitError of limit, and that b is
// still deep-equal to before.
func checkLimit(t *testing.T, call string, err error, limit string, max int, b, before *board.Board) {
	t.Helper()
	var lerr *board.LimitError
	if !errors.As(err, &lerr) || lerr.Limit != limit || lerr.Max != max {
		t.Errorf("%s = %v, want the limit %s of %d", call, err, limit, max)
	}
	if !reflect.DeepEqual(b, before) {
		t.Errorf("%s failed with %v but changed the board", call, err)
	}
}

func TestLimits(t *testing.T) {
	full := largest(t, "x")
	tests := []struct {
		call  string
		do    func(b *board.Board) error
		limit string
		max   int
	}{
		{"AddList", func(b *board.Board) error { _, err := b.AddList("one more", now); return err }, "listsPerBoard", board.MaxLists},
		{"AddCard", func(b *board.Board) error {
			_, err := b.AddCard(b.Lists[0].ID, "one more", "", now)
			return err
		}, "cardsPerBoard", board.MaxCards},
		{"EditCard(longer description)", func(b *board.Board) error {
			d := "x"
			return b.EditCard(b.Lists[0].Cards[len(b.Lists[0].Cards)-1].ID, nil, &d)
		}, "descriptionsPerBoard", board.MaxDescriptions},
		{"AddAttachment(a full card)", func(b *board.Board) error {
			return b.AddAttachment(b.Lists[0].Cards[0].ID, attachment(0xabc))
		}, "attachmentsPerCard", board.MaxAttachmentsPerCard},
		{"AddAttachment(a full board)", func(b *board.Board) error {
			return b.AddAttachment(b.Lists[0].Cards[len(b.Lists[0].Cards)-1].ID, attachment(0xabc))
		}, "attachmentsPerBoard", board.MaxAttachments},
		{"AddMember", func(b *board.Board) error { return b.AddMember(uid(0xabc)) }, "membersPerBoard", board.MaxMembers},
		{"Invite(members full)", func(b *board.Board) error { return b.Invite(owner, uid(0xabc)) }, "membersPerBoard", board.MaxMembers},
		{"AcceptInvite(members full)", func(b *board.Board) error { return b.AcceptInvite(b.Invited[0]) }, "membersPerBoard", board.MaxMembers},
	}
	for _, tt := range tests {
		b := full.Clone()
		before := b.Clone()
		checkLimit(t, tt.call+" on the largest board", tt.do(b), tt.limit, tt.max, b, before)
	}

	// What the largest board still allows: changes that do not grow it.
	b := full.Clone()
	first := b.Lists[0].Cards[0]
	same := strings.Repeat("y", board.MaxDescription)
	if err := b.EditCard(first.ID, nil, &same); err != nil {
		t.Errorf("EditCard(a description of the same length) on the largest board = %v", err)
	}
	if err := b.MoveCard(first.ID, b.Lists[1].ID, 0); err != nil {
		t.Errorf("MoveCard(to another list) on the largest board = %v", err)
	}
	if _, err := b.RemoveAttachment(first.ID, first.Attachments[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := b.AddAttachment(b.Lists[0].Cards[1].ID, attachment(0xabd)); err != nil {
		t.Errorf("AddAttachment after one was removed = %v", err)
	}

	// A full list, on a board far from its other limits.
	b, ids := build(t, "A: B:b")
	for i := range board.MaxCardsPerList {
		if _, err := b.AddCard(ids["A"], fmt.Sprint(i), "", now); err != nil {
			t.Fatal(err)
		}
	}
	before := b.Clone()
	_, err := b.AddCard(ids["A"], "one more", "", now)
	checkLimit(t, "AddCard(a full list)", err, "cardsPerList", board.MaxCardsPerList, b, before)
	checkLimit(t, "MoveCard(into a full list)", b.MoveCard(ids["b"], ids["A"], 0), "cardsPerList", board.MaxCardsPerList, b, before)
	if err := b.MoveCard(b.Lists[0].Cards[0].ID, "", 1000); err != nil {
		t.Errorf("MoveCard(within a full list) = %v", err)
	}

	// Descriptions, with few cards.
	b, ids = build(t, "A:")
	long := strings.Repeat("d", board.MaxDescription)
	for range board.MaxDescriptions / board.MaxDescription {
		if _, err := b.AddCard(ids["A"], "c", long, now); err != nil {
			t.Fatal(err)
		}
	}
	before = b.Clone()
	_, err = b.AddCard(ids["A"], "one more", "d", now)
	checkLimit(t, "AddCard(one description too many)", err, "descriptionsPerBoard", board.MaxDescriptions, b, before)
	if _, err := b.AddCard(ids["A"], "one more", "", now); err != nil {
		t.Errorf("AddCard(no description) with the descriptions full = %v", err)
	}

	// Invitations, with few members.
	b = newBoard(t)
	for i := range board.MaxInvites {
		if err := b.Invite(owner, uid(0x2000+i)); err != nil {
			t.Fatal(err)
		}
	}
	before = b.Clone()
	checkLimit(t, "Invite(one too many)", b.Invite(owner, uid(0xabc)), "invitesPerBoard", board.MaxInvites, b, before)
}

func TestLimitErrorSaysTheLimit(t *testing.T) {
	b, _ := build(t, "")
	for range board.MaxLists {
		if _, err := b.AddList("L", now); err != nil {
			t.Fatal(err)
		}
	}
	_, err := b.AddList("L", now)
	if got, want := fmt.Sprint(err), "a board holds at most 50 lists"; got != want {
		t.Errorf("AddList(one too many) = %q, want %q", got, want)
	}
}
