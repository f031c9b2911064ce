package mongostore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"

	"corkboard/board"
	"corkboard/mongostore"
	"corkboard/mongostore/mongotest"
	"corkboard/objectid"
)

// boardTime is these tests' clock, in whole milliseconds.
var boardTime = time.Date(2025, time.June, 1, 12, 0, 0, 0, time.UTC)

// boardUser returns a fixed, valid user id.
func boardUser(n int) string { return fmt.Sprintf("%024x", 0xb0a4d000+n) }

// sampleBoard returns a board of boardUser(0) with lists lists of cards
// cards each, the first card with an attachment, and boardUser(1) as a
// member who made it a favourite.
func sampleBoard(t testing.TB, lists, cards int) board.Board {
	t.Helper()
	b, err := board.New(boardUser(0), "Sample", "", boardTime)
	if err != nil {
		t.Fatal(err)
	}
	for i := range lists {
		l, err := b.AddList(fmt.Sprintf("List %d", i), boardTime)
		if err != nil {
			t.Fatal(err)
		}
		for j := range cards {
			if _, err := b.AddCard(l.ID, fmt.Sprintf("Card %d.%d", i, j), "A description of a realistic length, a line or two.", boardTime); err != nil {
				t.Fatal(err)
			}
		}
	}
	if lists > 0 && cards > 0 {
		err := b.AddAttachment(b.Lists[0].Cards[0].ID, board.Attachment{
			ID: objectid.New(boardTime), Name: "a.pdf", ContentType: "application/pdf", Size: 10, CreatedAt: boardTime,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := b.AddMember(boardUser(1)); err != nil {
		t.Fatal(err)
	}
	if err := b.SetFavourite(boardUser(1), true); err != nil {
		t.Fatal(err)
	}
	return *b
}

// TestBoardDocument checks what a stored board looks like: one document
// with ObjectIDs for every id, lists, cards and attachments as nested
// documents, arrays (never null) for the sets of users, and an int64
// version.
func TestBoardDocument(t *testing.T) {
	s := mongotest.Open(t)
	ctx := context.Background()
	b := sampleBoard(t, 2, 2)
	if err := s.CreateBoard(ctx, b); err != nil {
		t.Fatal(err)
	}
	raw := rawDoc(t, s, "boards", b.ID)
	for path, want := range map[string]bson.Type{
		"_id":          bson.TypeObjectID,
		"ownerId":      bson.TypeObjectID,
		"version":      bson.TypeInt64,
		"createdAt":    bson.TypeDateTime,
		"members":      bson.TypeArray,
		"invited":      bson.TypeArray,
		"favouritedBy": bson.TypeArray,
		"lists":        bson.TypeArray,
	} {
		if v, err := raw.LookupErr(path); err != nil || v.Type != want {
			t.Errorf("stored board field %s = %v (%v), want a %v", path, v, err, want)
		}
	}
	if v, err := raw.LookupErr("backgroundId"); err == nil {
		t.Errorf("stored board has backgroundId = %v, want it absent when there is none", v)
	}
	members, _ := raw.Lookup("members").Array().Values()
	if len(members) != 2 || members[0].Type != bson.TypeObjectID {
		t.Errorf("stored members = %v, want two ObjectIDs", members)
	}
	lists, _ := raw.Lookup("lists").Array().Values()
	if len(lists) != 2 {
		t.Fatalf("stored lists = %v, want 2", lists)
	}
	list := lists[0].Document()
	cards, _ := list.Lookup("cards").Array().Values()
	if list.Lookup("id").Type != bson.TypeObjectID || len(cards) != 2 {
		t.Fatalf("stored list = %v, want an ObjectID id and two cards", list)
	}
	card := cards[0].Document()
	atts, _ := card.Lookup("attachments").Array().Values()
	if card.Lookup("id").Type != bson.TypeObjectID || card.Lookup("createdAt").Type != bson.TypeDateTime || len(atts) != 1 ||
		atts[0].Document().Lookup("size").Type != bson.TypeInt64 {
		t.Errorf("stored card = %v, want an ObjectID id, a date and one attachment with an int64 size", card)
	}
}

// TestUpdateBoardRetries puts another write between UpdateBoard's read and
// its replace, as a concurrent writer in another process would: the
// compare-and-swap on the version must lose, and UpdateBoard must run edit
// again on the board as the other write left it, keeping both changes.
func TestUpdateBoardRetries(t *testing.T) {
	s := mongotest.Open(t)
	ctx := context.Background()
	b := sampleBoard(t, 1, 0)
	if err := s.CreateBoard(ctx, b); err != nil {
		t.Fatal(err)
	}
	calls := 0
	got, err := s.UpdateBoard(ctx, b.ID, func(e *board.Board) error {
		calls++
		if calls == 1 {
			otherWriter(t, s, b.ID, "Renamed by another writer")
		}
		_, err := e.AddList(fmt.Sprintf("Added by call %d", calls), boardTime)
		return err
	})
	if err != nil {
		t.Fatalf("UpdateBoard with a write in between = %v", err)
	}
	if calls != 2 {
		t.Errorf("edit ran %d times, want 2: once, then again after losing to the other write", calls)
	}
	stored, err := s.BoardByID(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Title != "Renamed by another writer" || len(stored.Lists) != 2 || stored.Lists[1].Name != "Added by call 2" ||
		stored.Version != 2 || got.Version != 2 {
		t.Errorf("after the retry: title %q, lists %d (last %q), version %d (returned %d); want the other write's title, "+
			"the second call's list, version 2", stored.Title, len(stored.Lists), stored.Lists[len(stored.Lists)-1].Name, stored.Version, got.Version)
	}
}

// otherWriter renames the board and bumps its version straight in the
// collection, as another process running UpdateBoard would.
func otherWriter(t *testing.T, s *mongostore.Store, id, title string) {
	t.Helper()
	oid, err := bson.ObjectIDFromHex(id)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Database().Collection("boards").UpdateOne(context.Background(), bson.D{{Key: "_id", Value: oid}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "title", Value: title}}}, {Key: "$inc", Value: bson.D{{Key: "version", Value: int64(1)}}}})
	if err != nil || res.MatchedCount != 1 {
		t.Fatalf("the other writer's update = %v, %+v", err, res)
	}
}

// TestUpdateBoardGivesUp: when every attempt loses to another write,
// UpdateBoard stops after a bounded number of them with board.ErrBusy and
// writes nothing of its own.
func TestUpdateBoardGivesUp(t *testing.T) {
	s := mongotest.Open(t)
	ctx := context.Background()
	b := sampleBoard(t, 1, 0)
	if err := s.CreateBoard(ctx, b); err != nil {
		t.Fatal(err)
	}
	calls := 0
	_, err := s.UpdateBoard(ctx, b.ID, func(e *board.Board) error {
		calls++
		otherWriter(t, s, b.ID, fmt.Sprintf("Other write %d", calls))
		return e.SetTitle("Never stored")
	})
	if !errors.Is(err, board.ErrBusy) {
		t.Errorf("UpdateBoard losing every attempt = %v, want %v", err, board.ErrBusy)
	}
	if calls != mongostore.MaxUpdateAttempts {
		t.Errorf("edit ran %d times, want %d", calls, mongostore.MaxUpdateAttempts)
	}
	stored, err := s.BoardByID(ctx, b.ID)
	if err != nil || stored.Title != fmt.Sprintf("Other write %d", calls) || stored.Version != int64(calls) {
		t.Errorf("after giving up: title %q, version %d (%v); want the other writer's last title, version %d",
			stored.Title, stored.Version, err, calls)
	}
}

// openCounting opens a store on a fresh database whose commands are
// recorded, by name, as the driver sends them.
func openCounting(t testing.TB) (*mongostore.Store, *commandLog) {
	t.Helper()
	uri := mongotest.URI(t)
	log := &commandLog{}
	monitor := &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) { log.add(e) }}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	s, err := mongostore.Open(ctx, uri, mongotest.NewDatabaseName(t), mongostore.Options{NoTTLIndex: true, Monitor: monitor})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Database().Drop(context.Background())
		s.Close()
	})
	return s, log
}

// commandLog records commands sent to the server.
type commandLog struct {
	mu       sync.Mutex
	names    []string
	commands []bson.Raw
}

func (l *commandLog) add(e *event.CommandStartedEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.names = append(l.names, e.CommandName)
	l.commands = append(l.commands, append(bson.Raw(nil), e.Command...))
}

// take returns the commands recorded since the last take, and forgets them.
func (l *commandLog) take() ([]string, []bson.Raw) {
	l.mu.Lock()
	defer l.mu.Unlock()
	names, commands := l.names, l.commands
	l.names, l.commands = nil, nil
	return names, commands
}

// TestBoardCommands counts the commands behind a board's page, a move of a
// card and the list of a user's boards, in a store of many boards: one
// find; one find and one update; one find, projected without the lists.
func TestBoardCommands(t *testing.T) {
	s, log := openCounting(t)
	ctx := context.Background()
	var mine board.Board
	for i := range 30 {
		b := sampleBoard(t, 3, 5)
		if i%10 == 0 {
			mine = b
		}
		if err := s.CreateBoard(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	log.take()

	if _, err := s.BoardByID(ctx, mine.ID); err != nil {
		t.Fatal(err)
	}
	if names, _ := log.take(); fmt.Sprint(names) != "[find]" {
		t.Errorf("BoardByID sent %v, want [find]", names)
	}

	card := mine.Lists[0].Cards[0].ID
	to := mine.Lists[2].ID
	if _, err := s.UpdateBoard(ctx, mine.ID, func(e *board.Board) error { return e.MoveCard(card, to, 1) }); err != nil {
		t.Fatal(err)
	}
	if names, _ := log.take(); fmt.Sprint(names) != "[find update]" {
		t.Errorf("a move of a card sent %v, want [find update]", names)
	}

	list, err := s.BoardSummaries(ctx, boardUser(1))
	if err != nil || len(list) != 30 {
		t.Fatalf("BoardSummaries = %d boards, %v; want 30", len(list), err)
	}
	names, commands := log.take()
	if fmt.Sprint(names) != "[find]" {
		t.Errorf("BoardSummaries sent %v, want [find]", names)
	} else {
		proj, err := commands[0].LookupErr("projection")
		if err != nil {
			t.Errorf("BoardSummaries' find %v has no projection, want one without the lists", commands[0])
		} else if _, err := proj.Document().LookupErr("lists"); err == nil {
			t.Errorf("BoardSummaries' projection %v names lists, want only the tile's fields", proj)
		}
		if filter := commands[0].Lookup("filter").Document(); filter.Lookup("members").Type != bson.TypeObjectID {
			t.Errorf("BoardSummaries' filter = %v, want {members: ObjectID}", filter)
		}
	}
}

// BenchmarkBoard reads a board and moves one of its cards in databases of
// 10 and of 1,000 boards, and counts the commands each sends: one find by
// _id; one find and one replace by _id and version. Like the file store's
// BenchmarkBoard, it works on both databases in turn in every iteration and
// reports the time of a call at each size and their ratio. On MongoDB both
// calls go through the _id index, whatever the number of boards. FerretDB
// 1.24 on SQLite, which the tests run on, scans its table for a find by
// _id and decodes every document for a filter of two fields, so there the
// cost grows with the collection (at 10,000 boards a move outlasts the 5 s
// operation timeout), which is why this benchmark stops at 1,000.
func BenchmarkBoard(b *testing.B) {
	sizes := []int{10, 1_000}
	stores := make([]*mongostore.Store, len(sizes))
	logs := make([]*commandLog, len(sizes))
	ids := make([]string, len(sizes))
	ctx := context.Background()
	for k, n := range sizes {
		s, log := openCounting(b)
		stores[k], logs[k] = s, log
		all := make([]string, n)
		var wg sync.WaitGroup
		const workers = 4
		for w := range workers {
			wg.Go(func() {
				for i := w; i < n; i += workers {
					x := sampleBoard(b, 3, 8)
					if err := s.CreateBoard(ctx, x); err != nil {
						b.Error(err)
						return
					}
					all[i] = x.ID
				}
			})
		}
		wg.Wait()
		ids[k] = all[n/2]
	}
	for _, op := range []struct {
		name string
		call func(k int) error
	}{
		{"read", func(k int) error { _, err := stores[k].BoardByID(ctx, ids[k]); return err }},
		{"move", func(k int) error { _, err := stores[k].UpdateBoard(ctx, ids[k], moveOne); return err }},
	} {
		b.Run(op.name, func(b *testing.B) {
			for _, log := range logs {
				log.take()
			}
			spent := make([]time.Duration, len(sizes))
			for b.Loop() {
				for k := range sizes {
					start := time.Now()
					if err := op.call(k); err != nil {
						b.Fatal(err)
					}
					spent[k] += time.Since(start)
				}
			}
			for k, n := range sizes {
				b.ReportMetric(float64(spent[k])/float64(time.Millisecond)/float64(b.N), fmt.Sprintf("ms@%d", n))
			}
			b.ReportMetric(float64(spent[1])/float64(spent[0]), "ratio")
			names, _ := logs[0].take()
			b.ReportMetric(float64(len(names))/float64(b.N), "commands/op")
		})
	}
}

// moveOne moves the first card of the longest list to the end of the
// shortest, so that however many moves run, and in however many runs, the
// board keeps its size and shape and every iteration does the same work.
func moveOne(e *board.Board) error {
	from, to := 0, 0
	for i, l := range e.Lists {
		if len(l.Cards) > len(e.Lists[from].Cards) {
			from = i
		}
		if len(l.Cards) < len(e.Lists[to].Cards) {
			to = i
		}
	}
	return e.MoveCard(e.Lists[from].Cards[0].ID, e.Lists[to].ID, len(e.Lists[to].Cards))
}
