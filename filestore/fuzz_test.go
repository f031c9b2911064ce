package filestore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"corkboard/board"
	"corkboard/objectid"
)

// The journal and snapshot readers take whatever bytes a crash, a full
// disk or a hand edit left in the data directory. The fuzz targets below
// give them arbitrary bytes and check what Open promises: it never panics,
// it either fails with an error wrapping ErrCorrupt or loads whole batches
// only, and a store it opened takes a write and opens again with it.

// fuzzHistory writes a history of several batches, some of several changes
// each (a revocation of all of a user's sessions, a sweep of expired
// sessions, a role change on every session), of users, sessions, a board
// and a notification, and returns its journal and the canonical state
// after each whole prefix of it: states[k] is the state after k batches.
func fuzzHistory(f *testing.F) (journal []byte, states []map[string]string) {
	f.Helper()
	dir := f.TempDir()
	s, err := Open(dir, Options{NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	now := testTime()
	step := func(call string, err error) {
		f.Helper()
		if err != nil {
			s.Close()
			f.Fatalf("%s = %v", call, err)
		}
	}
	alice, bob := testUser("alice", now), testUser("bob", now.Add(time.Second))
	step("CreateUser", s.CreateUser(ctx, alice))
	step("CreateUser", s.CreateUser(ctx, bob))
	sessions := []string{}
	for i := range 3 {
		sess := testSession(alice.ID, now.Add(time.Duration(i)*time.Minute))
		if i == 2 {
			sess.ExpiresAt = now.Add(-time.Hour)
			sess.CreatedAt, sess.LastUsedAt = now.Add(-2*time.Hour), now.Add(-2*time.Hour)
		}
		step("CreateSession", s.CreateSession(ctx, sess))
		sessions = append(sessions, sess.ID)
	}
	_, err = s.RotateSession(ctx, sessions[0], 1, now.Add(time.Minute), now.Add(48*time.Hour))
	step("RotateSession", err)
	_, err = s.RevokeUserSessions(ctx, alice.ID, sessions[0], now.Add(time.Minute))
	step("RevokeUserSessions", err)
	step("SetSessionRoles", s.SetSessionRoles(ctx, alice.ID, []string{"user", "moderator"}))
	b, err := board.New(alice.ID, "Plans", "", now)
	step("board.New", err)
	step("CreateBoard", s.CreateBoard(ctx, *b))
	_, err = s.UpdateBoard(ctx, b.ID, func(b *board.Board) error {
		l, err := b.AddList("To do", now)
		if err == nil {
			_, err = b.AddCard(l.ID, "Write the fuzz tests", "two\nlines", now)
		}
		if err == nil {
			err = b.Invite(alice.ID, bob.ID)
		}
		return err
	})
	step("UpdateBoard", err)
	step("CreateNotification", s.CreateNotification(ctx, board.Notification{
		ID: objectid.New(now), UserID: bob.ID, Type: board.NotificationInvite, BoardID: b.ID, BoardTitle: b.Title,
		FromUserID: alice.ID, FromUsername: alice.Username, CreatedAt: now,
	}))
	_, err = s.DeleteExpiredSessions(ctx, now)
	step("DeleteExpiredSessions", err)
	step("Close", s.Close())

	journal, err = os.ReadFile(filepath.Join(dir, journalName(1)))
	if err != nil {
		f.Fatal(err)
	}
	lines := bytes.SplitAfter(journal, []byte("\n"))
	lines = lines[:len(lines)-1] // after the last newline: nothing
	for k := 0; k <= len(lines); k++ {
		d := f.TempDir()
		if err := os.WriteFile(filepath.Join(d, journalName(1)), bytes.Join(lines[:k], nil), 0o600); err != nil {
			f.Fatal(err)
		}
		s, err := Open(d, Options{NoSync: true})
		if err != nil {
			f.Fatalf("Open of the first %d batches = %v", k, err)
		}
		states = append(states, recordsOf(s))
		s.Close()
	}
	return journal, states
}

// canonicalState is s's whole state as a snapshot would hold it, without
// the batch and journal numbers: two stores with the same records have
// the same canonical state.
func canonicalState(tb testing.TB, s *Store) string {
	tb.Helper()
	s.mu.Lock()
	snap := s.st.copyRecords()
	s.mu.Unlock()
	var buf bytes.Buffer
	if err := writeSnapshot(&buf, &snap); err != nil {
		tb.Fatalf("writeSnapshot = %v", err)
	}
	return buf.String()
}

// checkOpened checks that s, just opened in dir, takes a write, and that
// a reopen sees exactly the state with that write.
func checkOpened(t *testing.T, dir string, s *Store) {
	t.Helper()
	u := testUser("fuzzwriter", testTime())
	u.ID = objectid.New(testTime().Add(1000 * time.Hour))
	if err := s.CreateUser(context.Background(), u); err != nil {
		s.Close()
		t.Fatalf("CreateUser after Open = %v, want nil", err)
	}
	want := canonicalState(t, s)
	if err := s.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	again, err := Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatalf("reopen after a write = %v, want nil", err)
	}
	defer again.Close()
	if got := canonicalState(t, again); got != want {
		t.Fatalf("reopened state differs from the state before Close:\n got %s\nwant %s", got, want)
	}
}

// openFuzzed opens dir and checks the error contract: nil, or an error
// wrapping ErrCorrupt.
func openFuzzed(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, Options{NoSync: true})
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Open = %v, want nil or an error wrapping ErrCorrupt", err)
		}
		return nil
	}
	return s
}

// FuzzJournal opens a journal made of the first k batches of a valid
// history, then the fuzzer's bytes, then (when rest is set) the history's
// remaining batches; with k = 0 and rest unset the journal is the fuzzer's
// bytes alone. Open must fail with ErrCorrupt or load whole batches only:
//   - nothing outside the records the fuzzed lines name may differ from
//     the history's state after some whole number of its batches;
//   - when the fuzzed bytes are one line, the state is the history's
//     state after k batches or fewer (the line dropped as a torn tail), or
//     that state with every change of the line applied: each record it
//     puts present, each it deletes absent. Never a part of the line.
//
// A store that opens then takes a write and reopens with it.
func FuzzJournal(f *testing.F) {
	journal, states := fuzzHistory(f)
	lines := bytes.SplitAfter(journal, []byte("\n"))
	lines = lines[:len(lines)-1]
	n := uint8(len(lines))
	f.Add(n, []byte{}, false)                         // the whole history
	f.Add(uint8(0), journal, false)                   // the same, all fuzzed
	f.Add(n-1, lines[n-1][:len(lines[n-1])-1], false) // the last newline lost
	f.Add(uint8(2), lines[2][:len(lines[2])/2], true) // torn in the middle, followed by more
	f.Add(n, make([]byte, 300), false)                // a NUL-filled tail
	f.Add(uint8(1), lines[2], true)                   // out of order
	f.Add(uint8(2), lines[1], true)                   // a batch twice
	f.Add(uint8(1), []byte("{}\n"), true)             // a line that is no batch
	f.Add(uint8(3), []byte("\n"), false)              // an empty line
	f.Add(uint8(0), []byte{}, true)
	// Batch 6 as batch 3, with a last change that puts an invalid user:
	// nothing of it may load.
	b6, err := decodeBatch(bytes.TrimSuffix(lines[5], []byte("\n")))
	if err != nil {
		f.Fatal(err)
	}
	invalid := testUser("x", testTime()) // too short a username
	rec, _ := json.Marshal(invalid)
	b6.Seq = 3
	b6.Changes = append(b6.Changes, rawChange{Op: opPut, Kind: "user", ID: invalid.ID, Record: rec})
	bad, err := json.Marshal(b6)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(2), append(bad, '\n'), false)
	f.Add(uint8(2), bad, false) // the same, unterminated
	// The board's patch (a version 3 line), out of place and altered: a
	// patch applies only to the version of the board it was made from.
	for i, l := range lines {
		if !bytes.Contains(l, []byte(`"op":"patch"`)) {
			continue
		}
		f.Add(uint8(i), l, false)                                                                // in place
		f.Add(uint8(i+1), l, false)                                                              // applied twice
		f.Add(uint8(i), bytes.Replace(l, []byte(`"base":0`), []byte(`"base":1`), 1), false)      // on another version
		f.Add(uint8(i), bytes.Replace(l, []byte(`"head":0`), []byte(`"head":1`), 1), false)      // a splice past the end
		f.Add(uint8(i), bytes.Replace(l, []byte(`"version":3`), []byte(`"version":2`), 1), true) // in a version 2 line
	}
	if v1, err := os.ReadFile(filepath.Join(version1Dir, "journal-000002.jsonl")); err == nil {
		f.Add(uint8(0), v1, false) // version 1 lines after no snapshot: out of sequence
		v1 = bytes.Replace(v1, []byte(`"seq":11`), []byte(`"seq":1`), 1)
		f.Add(uint8(0), v1, false)
	}

	f.Fuzz(func(t *testing.T, k uint8, fuzzed []byte, rest bool) {
		k = min(k, n)
		journal := bytes.Join(lines[:k], nil)
		journal = append(journal, fuzzed...)
		if rest {
			journal = append(journal, bytes.Join(lines[k:], nil)...)
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, journalName(1)), journal, 0o600); err != nil {
			t.Fatal(err)
		}
		s := openFuzzed(t, dir)
		if s == nil {
			return
		}
		got := recordsOf(s)
		if !slices.ContainsFunc(states, func(st map[string]string) bool { return maps.Equal(st, got) }) {
			// The fuzzed lines were loaded: check that they were loaded
			// whole, against the state after k batches.
			named, single := namedChanges(fuzzed)
			before := states[k]
			for key := range unionKeys(before, got) {
				if before[key] != got[key] && !named[key].named {
					s.Close()
					t.Fatalf("Open changed %s, which no fuzzed line names", key)
				}
			}
			if single {
				for key, c := range named {
					if _, present := got[key]; present != c.put {
						s.Close()
						t.Fatalf("Open loaded part of the fuzzed batch: %s present = %v, want %v (the line puts it: %v)", key, present, c.put, c.put)
					}
				}
			}
		}
		checkOpened(t, dir, s)
	})
}

// recordsOf returns every record of s, encoded, by "kind id".
func recordsOf(s *Store) map[string]string {
	s.mu.Lock()
	snap := s.st.copyRecords()
	s.mu.Unlock()
	out := make(map[string]string)
	for _, k := range snap.Kinds {
		for _, c := range k.Records {
			b, err := json.Marshal(c.Record)
			if err != nil {
				b = []byte(err.Error())
			}
			out[k.Kind+" "+c.ID] = string(b)
		}
	}
	return out
}

func unionKeys(a, b map[string]string) map[string]bool {
	out := make(map[string]bool, len(a)+len(b))
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// namedChange is what the last change to one record in the fuzzed lines
// does to it.
type namedChange struct{ named, put bool }

// namedChanges reads the fuzzed bytes leniently, as lines of JSON in either
// journal version, and returns the records their changes name ("kind id")
// with what the last change to each does. single reports whether the bytes
// are exactly one line that names something, the case in which the test
// can tell a whole batch from a part of one.
func namedChanges(data []byte) (named map[string]namedChange, single bool) {
	named = make(map[string]namedChange)
	batches := 0
	for _, line := range bytes.Split(data, []byte("\n")) {
		var b struct {
			Changes []map[string]json.RawMessage `json:"changes"`
		}
		if json.Unmarshal(line, &b) != nil {
			continue
		}
		batches++
		for _, c := range b.Changes {
			str := func(key string) string {
				var v string
				json.Unmarshal(c[key], &v)
				return v
			}
			var op, kind, id string
			switch {
			case str("op") != "":
				op, kind, id = str("op"), str("kind"), str("id")
			case str("put") != "":
				op, kind = opPut, str("put")
				var rec struct {
					ID string `json:"id"`
				}
				json.Unmarshal(c[kind], &rec)
				id = rec.ID
			default:
				op, kind, id = opDelete, str("delete"), str("id")
			}
			named[kind+" "+id] = namedChange{named: true, put: op == opPut || op == opPatch}
		}
	}
	nl := bytes.Count(data, []byte("\n"))
	return named, batches == 1 && (nl == 0 || nl == 1 && data[len(data)-1] == '\n')
}

// FuzzSnapshot opens arbitrary bytes as the snapshot, with no journal.
// Open never panics and fails with ErrCorrupt or loads a state that takes
// a write and reopens; what it loads from anything but a JSON document is
// a bug, and so is a state the canonical loader (snapload.go) loads
// differently from readSnapshot.
func FuzzSnapshot(f *testing.F) {
	journal, _ := fuzzHistory(f)
	dir := f.TempDir()
	if err := os.WriteFile(filepath.Join(dir, journalName(1)), journal, 0o600); err != nil {
		f.Fatal(err)
	}
	s, err := Open(dir, Options{NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	s.mu.Lock()
	snap := s.st.copyRecords()
	s.mu.Unlock()
	snap.Journal, snap.Seq = 1, s.seq
	s.Close()
	if err := writeSnapshot(&buf, &snap); err != nil {
		f.Fatal(err)
	}
	valid := buf.Bytes()
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add(bytes.Replace(valid, []byte(`"version":2`), []byte(`"version":1`), 1))
	f.Add(bytes.Replace(valid, []byte(`"version":2`), []byte(`"version":3`), 1))
	f.Add(append(slices.Clone(valid), "{}"...))
	f.Add([]byte(`{"version":2,"journal":0,"seq":0,"records":{}}`))
	f.Add([]byte(`{"version":2,"journal":0,"seq":0,"records":{"user":[{}]}}`))
	f.Add([]byte(`{"version":2,"journal":-1,"seq":0,"records":{"user":null}}`))
	f.Add([]byte(`{"version":1,"journal":1,"seq":1,"users":[],"records":{}}`))
	if v1, err := os.ReadFile(filepath.Join(version1Dir, "snapshot.json")); err == nil {
		f.Add(v1)
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, snapshotName), data, 0o600); err != nil {
			t.Fatal(err)
		}
		// The loader for snapshots in the layout the store writes must
		// load what readSnapshot loads, or leave the file to it.
		loadBoth(t, filepath.Join(dir, snapshotName))
		s := openFuzzed(t, dir)
		if s == nil {
			return
		}
		if !json.Valid(data) {
			s.Close()
			t.Fatalf("Open accepted a snapshot that is not JSON")
		}
		checkOpened(t, dir, s)
	})
}
