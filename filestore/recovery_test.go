package filestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"corkboard/user"
)

// buildStore makes a store in a fresh directory holding n users, one batch
// each, closes it and returns the directory, the users and the journal.
func buildStore(t *testing.T, n int) (string, []user.User, []byte) {
	t.Helper()
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	users := mustCreateUsers(t, s, "user", n)
	closeStore(t, s)
	journal, err := os.ReadFile(filepath.Join(dir, journalName(1)))
	if err != nil {
		t.Fatal(err)
	}
	return dir, users, journal
}

// nextLine returns the journal line that would follow n single-user
// batches: a valid batch n+1 creating u.
func nextLine(t *testing.T, n int, u user.User) []byte {
	t.Helper()
	line, err := appendLine(nil, uint64(n+1), []change{putUser(u)})
	if err != nil {
		t.Fatal(err)
	}
	return line
}

// appendFile appends data to the file at path.
func appendFile(t *testing.T, path string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
}

// checkUsers checks that every user in want is stored.
func checkUsers(t *testing.T, s *Store, what string, want []user.User) {
	t.Helper()
	for _, u := range want {
		if _, err := s.UserByID(context.Background(), u.ID); err != nil {
			t.Errorf("%s: UserByID(%q) of %s = %v, want nil", what, u.ID, u.Username, err)
		}
	}
}

func TestTornTail(t *testing.T) {
	const n = 3
	nul := func(k int) []byte { return make([]byte, k) }
	tests := []struct {
		name string
		tail func(next []byte) []byte // what a crash left after the good lines
	}{
		{"half a line", func(next []byte) []byte { return next[:len(next)/2] }},
		{"NUL bytes", func([]byte) []byte { return nul(4096) }},
		{"NUL bytes and a newline", func([]byte) []byte { return append(nul(100), '\n') }},
		{"half a line then NUL bytes", func(next []byte) []byte { return append(next[:20:20], nul(300)...) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, users, journal := buildStore(t, n)
			path := filepath.Join(dir, journalName(1))
			lost := testUser("lost", testTime())
			appendFile(t, path, tc.tail(nextLine(t, n, lost)))

			var logs logBuffer
			s := openStore(t, dir, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			checkUsers(t, s, "after dropping the torn tail", users)
			if _, err := s.UserByID(context.Background(), lost.ID); !errors.Is(err, user.ErrNotFound) {
				t.Errorf("UserByID(%q) of the torn batch = %v, want %v", lost.ID, err, user.ErrNotFound)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, journal) {
				t.Errorf("journal after Open is %d bytes, want it truncated back to the %d good bytes", len(got), len(journal))
			}
			if !strings.Contains(logs.String(), "torn journal tail") {
				t.Errorf("log = %q, want a warning about the torn tail", logs.String())
			}

			// Writes after recovery work and survive another reopen.
			more := mustCreateUsers(t, s, "after", 2)
			closeStore(t, s)
			logs = logBuffer{}
			s = openStore(t, dir, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			checkUsers(t, s, "after a second reopen", append(users, more...))
			if logs.String() != "" {
				t.Errorf("second Open logged %q, want nothing", logs.String())
			}
		})
	}
}

// TestUnterminatedLastLine: a last journal line that is a whole, valid
// batch lacking only its newline holds a write that may have been
// acknowledged: Open keeps it, adds the newline, and writes after it start
// a line of their own.
func TestUnterminatedLastLine(t *testing.T) {
	dir, users, journal := buildStore(t, 3)
	path := filepath.Join(dir, journalName(1))
	kept := testUser("kept", testTime())
	line := nextLine(t, 3, kept)
	appendFile(t, path, line[:len(line)-1])

	var logs logBuffer
	s := openStore(t, dir, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	checkUsers(t, s, "after Open", append(users, kept))
	if got, _ := os.ReadFile(path); !bytes.Equal(got, append(journal, line...)) {
		t.Errorf("journal after Open = %d bytes, want the kept line with its newline added (%d bytes)", len(got), len(journal)+len(line))
	}
	if !strings.Contains(logs.String(), "lacked its newline") {
		t.Errorf("log = %q, want a warning about the missing newline", logs.String())
	}
	more := mustCreateUsers(t, s, "after", 2)
	closeStore(t, s)
	s = openStore(t, dir, Options{})
	checkUsers(t, s, "after a second reopen", append(append(users, kept), more...))
}

// TestTornTailAtEveryCut cuts the journal at every byte, as a crash in the
// middle of an append could, and checks that Open always succeeds with
// exactly the batches whose lines are complete, or lack only their
// newline (which Open then adds).
func TestTornTailAtEveryCut(t *testing.T) {
	dir, users, journal := buildStore(t, 4)
	path := filepath.Join(dir, journalName(1))
	var ends []int // offset just past each line's newline
	for i, c := range journal {
		if c == '\n' {
			ends = append(ends, i+1)
		}
	}
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	// Open leaves the journal at a line boundary at or before cut, so each
	// step appends the bytes up to the next cut instead of rewriting the
	// file: truncation is slow on some file systems.
	size := 0
	for cut := 0; cut <= len(journal); cut++ {
		appendFile(t, path, journal[size:cut])
		s, err := Open(dir, Options{NoSync: true})
		if err != nil {
			t.Fatalf("Open with the journal cut at byte %d of %d = %v, want nil", cut, len(journal), err)
		}
		complete := 0
		size = 0
		for complete < len(ends) && ends[complete] <= cut+1 {
			size = ends[complete]
			complete++
		}
		for i, u := range users {
			_, err := s.UserByID(context.Background(), u.ID)
			if got, want := err == nil, i < complete; got != want {
				t.Fatalf("journal cut at byte %d: UserByID of batch %d found = %v, want %v (error %v)", cut, i+1, got, want, err)
			}
		}
		s.Close()
		if info, err := os.Stat(path); err != nil || info.Size() != int64(size) {
			t.Fatalf("journal cut at byte %d: size after Open = %d (%v), want %d", cut, info.Size(), err, size)
		}
	}
}

func TestCorruption(t *testing.T) {
	const n = 3
	// lines splits a journal into its lines, each with its newline.
	lines := func(journal []byte) [][]byte {
		ls := bytes.SplitAfter(journal, []byte("\n"))
		return ls[:len(ls)-1]
	}
	write := func(t *testing.T, dir, name string, data []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string, journal []byte, users []user.User)
	}{
		{"NUL bytes in a line before good lines", func(t *testing.T, dir string, journal []byte, _ []user.User) {
			ls := lines(journal)
			ls[1] = append(make([]byte, len(ls[1])-1), '\n')
			write(t, dir, journalName(1), bytes.Join(ls, nil))
		}},
		{"last line damaged in place", func(t *testing.T, dir string, journal []byte, _ []user.User) {
			// Complete (newline-terminated) but not JSON: not what a crash
			// mid-append leaves, so it is damage to a written, perhaps
			// acknowledged, batch, and must not be dropped as torn.
			ls := lines(journal)
			last := bytes.Clone(ls[len(ls)-1])
			last[5] = '#'
			ls[len(ls)-1] = last
			write(t, dir, journalName(1), bytes.Join(ls, nil))
		}},
		{"garbage line before good lines", func(t *testing.T, dir string, journal []byte, _ []user.User) {
			ls := lines(journal)
			ls[1] = []byte("garbage\n")
			write(t, dir, journalName(1), bytes.Join(ls, nil))
		}},
		{"line cut short before good lines", func(t *testing.T, dir string, journal []byte, _ []user.User) {
			ls := lines(journal)
			ls[1] = append(ls[1][:len(ls[1])/2:len(ls[1])/2], '\n')
			write(t, dir, journalName(1), bytes.Join(ls, nil))
		}},
		{"last line of a kind this version does not know", func(t *testing.T, dir string, _ []byte, _ []user.User) {
			appendFile(t, filepath.Join(dir, journalName(1)),
				[]byte(`{"version":2,"seq":4,"changes":[{"op":"put","kind":"board","id":"abc","record":{"id":"abc"}}]}`+"\n"))
		}},
		{"version-1 last line of a kind version 1 did not know", func(t *testing.T, dir string, _ []byte, _ []user.User) {
			appendFile(t, filepath.Join(dir, journalName(1)),
				[]byte(`{"seq":4,"changes":[{"put":"board","board":{"id":"abc"}}]}`+"\n"))
		}},
		{"version-1 put carrying another kind's record", func(t *testing.T, dir string, _ []byte, _ []user.User) {
			appendFile(t, filepath.Join(dir, journalName(1)),
				[]byte(`{"seq":4,"changes":[{"put":"user","session":{"id":"abc"}}]}`+"\n"))
		}},
		{"last line from a newer version", func(t *testing.T, dir string, _ []byte, _ []user.User) {
			appendFile(t, filepath.Join(dir, journalName(1)), []byte(`{"version":3,"seq":4,"changes":[]}`+"\n"))
		}},
		{"last line with a field this version does not know", func(t *testing.T, dir string, _ []byte, _ []user.User) {
			line := strings.Replace(string(nextLine(t, n, testUser("new", testTime()))), `"record":{`, `"record":{"nickname":"x",`, 1)
			appendFile(t, filepath.Join(dir, journalName(1)), []byte(line))
		}},
		{"put whose record has another id", func(t *testing.T, dir string, _ []byte, _ []user.User) {
			u := testUser("new", testTime())
			line, err := appendLine(nil, n+1, []change{putChange(userKind, "67d3f65df0b01dd65a6ce67a", u)})
			if err != nil {
				t.Fatal(err)
			}
			appendFile(t, filepath.Join(dir, journalName(1)), line)
		}},
		{"put without an id", func(t *testing.T, dir string, _ []byte, _ []user.User) {
			u := testUser("new", testTime())
			u.ID = ""
			appendFile(t, filepath.Join(dir, journalName(1)), nextLine(t, n, u))
		}},
		{"delete carrying a record", func(t *testing.T, dir string, _ []byte, users []user.User) {
			line := strings.Replace(string(nextLine(t, n, users[0])), `"op":"put"`, `"op":"delete"`, 1)
			appendFile(t, filepath.Join(dir, journalName(1)), []byte(line))
		}},
		{"change of an unknown op", func(t *testing.T, dir string, _ []byte, users []user.User) {
			line := strings.Replace(string(nextLine(t, n, users[0])), `"op":"put"`, `"op":"patch"`, 1)
			appendFile(t, filepath.Join(dir, journalName(1)), []byte(line))
		}},
		{"batch number gap", func(t *testing.T, dir string, _ []byte, _ []user.User) {
			appendFile(t, filepath.Join(dir, journalName(1)), nextLine(t, n+5, testUser("gap", testTime())))
		}},
		{"batch repeated", func(t *testing.T, dir string, journal []byte, _ []user.User) {
			appendFile(t, filepath.Join(dir, journalName(1)), lines(journal)[n-1])
		}},
		{"two users with one email", func(t *testing.T, dir string, _ []byte, users []user.User) {
			twin := testUser("twin", testTime())
			twin.Email = strings.ToUpper(users[0].Email)
			appendFile(t, filepath.Join(dir, journalName(1)), nextLine(t, n, twin))
		}},
		{"torn line in a journal that is not the last", func(t *testing.T, dir string, journal []byte, _ []user.User) {
			ls := lines(journal)
			write(t, dir, journalName(1), append(bytes.Clone(ls[0]), ls[1][:10]...))
			write(t, dir, journalName(2), ls[2])
		}},
		{"missing journal", func(t *testing.T, dir string, _ []byte, _ []user.User) {
			if err := os.Rename(filepath.Join(dir, journalName(1)), filepath.Join(dir, journalName(2))); err != nil {
				t.Fatal(err)
			}
		}},
		{"cut-short snapshot", func(t *testing.T, dir string, _ []byte, _ []user.User) {
			write(t, dir, snapshotName, []byte(`{"version":2,"journal":0,"seq":0,"records":{"user":[{"id":"ab`))
		}},
		{"snapshot with data after it", func(t *testing.T, dir string, _ []byte, _ []user.User) {
			write(t, dir, snapshotName, []byte(`{"version":2,"journal":0,"seq":0,"records":{"user":[],"session":[]}} {}`))
		}},
		{"snapshot of an unknown kind", func(t *testing.T, dir string, _ []byte, _ []user.User) {
			write(t, dir, snapshotName, []byte(`{"version":2,"journal":0,"seq":0,"records":{"user":[],"widget":[]}}`))
		}},
		{"snapshot with a field this version does not know", func(t *testing.T, dir string, _ []byte, _ []user.User) {
			write(t, dir, snapshotName, []byte(`{"version":2,"journal":0,"seq":0,"records":{},"checksum":"x"}`))
		}},
		{"snapshot record with a field this version does not know", func(t *testing.T, dir string, _ []byte, _ []user.User) {
			write(t, dir, snapshotName, []byte(`{"version":2,"journal":0,"seq":0,"records":{"user":[{"id":"ab","nickname":"x"}]}}`))
		}},
		{"version-2 snapshot with version-1 records", func(t *testing.T, dir string, _ []byte, _ []user.User) {
			write(t, dir, snapshotName, []byte(`{"version":2,"journal":0,"seq":0,"records":{},"users":[]}`))
		}},
		{"snapshot with the version last", func(t *testing.T, dir string, _ []byte, _ []user.User) {
			write(t, dir, snapshotName, []byte(`{"journal":0,"seq":0,"records":{"user":[]},"version":1}`))
		}},
		{"snapshot record without an id", func(t *testing.T, dir string, _ []byte, _ []user.User) {
			write(t, dir, snapshotName, []byte(`{"version":2,"journal":0,"seq":0,"records":{"user":[{"username":"x"}]}}`))
		}},
		{"snapshot without a version", func(t *testing.T, dir string, _ []byte, _ []user.User) {
			write(t, dir, snapshotName, []byte(`{"journal":0,"seq":0,"users":[],"sessions":[]}`))
		}},
		{"snapshot from a newer version", func(t *testing.T, dir string, _ []byte, _ []user.User) {
			write(t, dir, snapshotName, []byte(`{"version":3,"journal":0,"seq":0,"records":{}}`))
		}},
		{"cut-short version-1 snapshot", func(t *testing.T, dir string, _ []byte, _ []user.User) {
			write(t, dir, snapshotName, []byte(`{"version":1,"journal":0,"seq":0,"users":[{"id":"ab`))
		}},
		{"version-1 snapshot with data after it", func(t *testing.T, dir string, _ []byte, _ []user.User) {
			write(t, dir, snapshotName, []byte(`{"version":1,"journal":0,"seq":0,"users":[],"sessions":[]} {}`))
		}},
		{"version-1 snapshot of a kind version 1 did not know", func(t *testing.T, dir string, _ []byte, _ []user.User) {
			write(t, dir, snapshotName, []byte(`{"version":1,"journal":0,"seq":0,"users":[],"sessions":[],"boards":[]}`))
		}},
		{"version-1 snapshot with a version-2 field", func(t *testing.T, dir string, _ []byte, _ []user.User) {
			write(t, dir, snapshotName, []byte(`{"version":1,"journal":0,"seq":0,"users":[],"sessions":[],"records":{}}`))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, users, journal := buildStore(t, n)
			tc.damage(t, dir, journal, users)
			before := readDir(t, dir)

			for try := 1; try <= 2; try++ { // a failed Open releases the lock
				s, err := Open(dir, Options{})
				if !errors.Is(err, ErrCorrupt) {
					if s != nil {
						s.Close()
					}
					t.Fatalf("Open #%d of a damaged directory = %v, want an error wrapping %v", try, err, ErrCorrupt)
				}
				if try == 1 {
					t.Logf("Open: %v", err)
				}
			}
			after := readDir(t, dir)
			for name, data := range before {
				if !bytes.Equal(after[name], data) {
					t.Errorf("failed Open changed %s, want the damaged files left for a person to inspect", name)
				}
			}
		})
	}
}

// readDir returns the contents of dir's data files by name.
func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string][]byte)
	for _, e := range entries {
		if e.Name() == lockName {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = data
	}
	return out
}

// TestInterruptedCompaction recreates what a crash at each step of a
// compaction leaves behind.
func TestInterruptedCompaction(t *testing.T) {
	t.Run("after the journal switch, before the snapshot", func(t *testing.T) {
		dir := t.TempDir()
		s := openStore(t, dir, Options{})
		users := mustCreateUsers(t, s, "before", 3)
		if _, err := s.switchJournal(); err != nil {
			t.Fatalf("switchJournal() = %v", err)
		}
		users = append(users, mustCreateUsers(t, s, "after", 3)...)
		closeStore(t, s)
		if err := os.WriteFile(filepath.Join(dir, tempName), []byte(`{"version":1,"jour`), 0o600); err != nil {
			t.Fatal(err)
		}

		s = openStore(t, dir, Options{})
		checkUsers(t, s, "after replaying two journals", users)
		if _, err := os.Stat(filepath.Join(dir, tempName)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Stat(%s) after Open = %v, want the unfinished snapshot removed", tempName, err)
		}
	})

	t.Run("after the snapshot, before removing journals", func(t *testing.T) {
		dir, users, journal := buildStore(t, 3)
		s := openStore(t, dir, Options{CompactBytes: 1})
		users = append(users, mustCreateUsers(t, s, "more", 1)...)
		waitCompactions(s)
		closeStore(t, s)
		// Put back the journal the snapshot covers, as if the crash came
		// before its removal.
		if err := os.WriteFile(filepath.Join(dir, journalName(1)), journal, 0o600); err != nil {
			t.Fatal(err)
		}

		s = openStore(t, dir, Options{})
		checkUsers(t, s, "after reopening", users)
		if _, err := os.Stat(filepath.Join(dir, journalName(1))); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Stat(%s) after Open = %v, want the covered journal removed", journalName(1), err)
		}
	})
}

// TestInvalidRecordsRefused: the store trusts its own files no more than an
// import. A record edited by hand into something an import would refuse (an
// unknown role, an id that is not 24 hex characters, a year-0 date) stops
// Open with a message naming the file, the line and the field, whether the
// record is in the journal or in the snapshot.
func TestInvalidRecordsRefused(t *testing.T) {
	edits := []struct {
		name, old, new, field string
	}{
		{"unknown role", `"roles":["user"]`, `"roles":["root"]`, "roles"},
		{"id not 24 hex", `"userId":"`, `"userId":"xyz`, "userId"},
		{"year-0 date", `"createdAt":"2025-`, `"createdAt":"0000-`, "createdAt"},
	}
	for _, where := range []string{"journal", "snapshot"} {
		for _, e := range edits {
			t.Run(where+"/"+e.name, func(t *testing.T) {
				dir := t.TempDir()
				s := openStore(t, dir, Options{})
				users := mustCreateUsers(t, s, "user", 3)
				if err := s.CreateSession(context.Background(), testSession(users[0].ID, testTime())); err != nil {
					t.Fatal(err)
				}
				if where == "snapshot" {
					forceCompaction(s) // every record into snapshot.json
				}
				closeStore(t, s)
				file := filepath.Join(dir, journalName(1))
				if where == "snapshot" {
					file = filepath.Join(dir, snapshotName)
				}
				data, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				i := bytes.Index(data, []byte(e.old))
				if i < 0 {
					t.Fatalf("%s has no %s", file, e.old)
				}
				line := bytes.Count(data[:i], []byte("\n")) + 1
				data = append(data[:i:i], append([]byte(e.new), data[i+len(e.old):]...)...)
				if err := os.WriteFile(file, data, 0o600); err != nil {
					t.Fatal(err)
				}
				_, err = Open(dir, Options{})
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Open after editing %s = %v, want ErrCorrupt", file, err)
				}
				for _, want := range []string{file, fmt.Sprintf("line %d", line), e.field} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("Open error %q does not name %q", err, want)
					}
				}
			})
		}
	}
}

// forceCompaction writes a snapshot of everything s holds now, as a
// background compaction would, and removes the journals it covers.
func forceCompaction(s *Store) {
	s.compactions.Wait()
	s.mu.Lock()
	s.compacting = true
	s.compactions.Add(1)
	s.mu.Unlock()
	s.compact()
}
