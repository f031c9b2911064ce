package filestore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"corkboard/auth"
	"corkboard/auth/authtest"
	"corkboard/board"
	"corkboard/board/boardtest"
	"corkboard/objectid"
	"corkboard/user"
	"corkboard/user/usertest"
)

func TestUserStore(t *testing.T) {
	usertest.TestStore(t, func(t *testing.T) user.Store {
		return openStore(t, t.TempDir(), Options{})
	})
}

func TestSessionStore(t *testing.T) {
	authtest.TestSessionStore(t, func(t *testing.T) auth.SessionStore {
		return openStore(t, t.TempDir(), Options{})
	})
}

func TestTokenStore(t *testing.T) {
	authtest.TestTokenStore(t, func(t *testing.T) auth.TokenStore {
		return openStore(t, t.TempDir(), Options{})
	})
}

// openStore opens the store in dir and closes it when the test ends.
func openStore(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%q) = %v, want nil", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// closeStore closes s or stops the test.
func closeStore(t testing.TB, s *Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}
}

// testTime is the tests' fixed clock.
func testTime() time.Time {
	return time.Date(2025, time.March, 14, 9, 26, 53, 589_000_000, time.UTC)
}

// testUser returns a valid user named name.
func testUser(name string, now time.Time) user.User {
	return user.User{
		ID:           objectid.New(now),
		Username:     name,
		Email:        strings.ToLower(name) + "@example.com",
		FullName:     name + " Example",
		Roles:        []string{"user"},
		PasswordHash: "$2a$10$" + strings.Repeat("N", 53),
		CreatedAt:    now,
		UpdatedAt:    now,
	}
}

// testSession returns a live session of userID.
func testSession(userID string, now time.Time) auth.Session {
	return auth.Session{
		ID:         objectid.New(now),
		UserID:     userID,
		Generation: 1,
		Roles:      []string{"user"},
		CreatedAt:  now,
		LastUsedAt: now,
		ExpiresAt:  now.Add(7 * 24 * time.Hour),
		UserAgent:  "test",
		IP:         "192.0.2.1",
	}
}

// mustCreateUsers stores users named prefix0, prefix1, ... and returns them.
func mustCreateUsers(t testing.TB, s *Store, prefix string, n int) []user.User {
	t.Helper()
	users := make([]user.User, n)
	for i := range users {
		users[i] = testUser(fmt.Sprintf("%s%d", prefix, i), testTime().Add(time.Duration(i)*time.Second))
		if err := s.CreateUser(context.Background(), users[i]); err != nil {
			t.Fatalf("CreateUser(%s) = %v, want nil", users[i].Username, err)
		}
	}
	return users
}

// dump returns every record of s as its JSON encoding by id. Stored times
// are UTC, so equal encodings mean equal records.
func dump(t testing.TB, s *Store) map[string]string {
	t.Helper()
	out := make(map[string]string)
	add := func(kind, id string, v any) error {
		b, err := json.Marshal(v)
		out[kind+" "+id] = string(b)
		return err
	}
	ctx := context.Background()
	if err := s.EachUser(ctx, func(u user.User) error { return add("user", u.ID, u) }); err != nil {
		t.Fatalf("EachUser = %v", err)
	}
	if err := s.EachSession(ctx, func(sess auth.Session) error { return add("session", sess.ID, sess) }); err != nil {
		t.Fatalf("EachSession = %v", err)
	}
	return out
}

// checkDump compares two dumps record by record.
func checkDump(t testing.TB, what string, got, want map[string]string) {
	t.Helper()
	for k, w := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("%s: %s is missing, want %s", what, k, w)
		} else if g != w {
			t.Errorf("%s: %s = %s, want %s", what, k, g, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected %s = %s", what, k, g)
		}
	}
}

// writeHistory runs a mixed workload on s: users with password and role
// changes, sessions rotated, revoked, re-roled and swept.
func writeHistory(t testing.TB, s *Store, prefix string, n int) {
	t.Helper()
	ctx := context.Background()
	now := testTime()
	users := mustCreateUsers(t, s, prefix, n)
	for i, u := range users {
		step := func(call string, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s for user %s = %v, want nil", call, u.Username, err)
			}
		}
		at := now.Add(time.Duration(i) * time.Minute)
		if i%3 == 0 {
			step("SetPassword", s.SetPassword(ctx, u.ID, "$2a$10$"+strings.Repeat("Q", 53), 0, at))
		}
		if i%4 == 0 {
			step("SetRoles", s.SetRoles(ctx, u.ID, []string{"user", "moderator"}, at))
		}
		a, b, old := testSession(u.ID, at), testSession(u.ID, at), testSession(u.ID, at.Add(-30*24*time.Hour))
		for _, sess := range []auth.Session{a, b, old} {
			step("CreateSession", s.CreateSession(ctx, sess))
		}
		for gen := uint64(1); gen <= uint64(i%3)+1; gen++ {
			_, err := s.RotateSession(ctx, a.ID, gen, at.Add(time.Duration(gen)*time.Second), at.Add(48*time.Hour))
			step("RotateSession", err)
		}
		step("RevokeSession", s.RevokeSession(ctx, b.ID, at.Add(time.Hour)))
		if i%5 == 0 {
			_, err := s.RevokeUserSessions(ctx, u.ID, a.ID, at.Add(2*time.Hour))
			step("RevokeUserSessions", err)
			step("SetSessionRoles", s.SetSessionRoles(ctx, u.ID, []string{"user", "admin"}))
		}
	}
	if _, err := s.DeleteExpiredSessions(ctx, now); err != nil {
		t.Fatalf("DeleteExpiredSessions = %v, want nil", err)
	}
}

func TestRestart(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	writeHistory(t, s, "user", 30)
	want := dump(t, s)
	closeStore(t, s)

	s = openStore(t, dir, Options{})
	checkDump(t, "after reopening", dump(t, s), want)

	// The reopened store takes writes, and they survive the next reopen.
	more := mustCreateUsers(t, s, "later", 3)
	want = dump(t, s)
	closeStore(t, s)
	s = openStore(t, dir, Options{})
	checkDump(t, "after a second reopen", dump(t, s), want)
	if _, err := s.UserByUsername(context.Background(), more[2].Username); err != nil {
		t.Errorf("UserByUsername(%q) after reopen = %v, want nil", more[2].Username, err)
	}
	// The unique indexes were rebuilt too.
	dup := testUser("LATER0", testTime())
	if err := s.CreateUser(context.Background(), dup); !errors.Is(err, user.ErrEmailTaken) && !errors.Is(err, user.ErrUsernameTaken) {
		t.Errorf("CreateUser(%q) after reopen = %v, want a taken error", dup.Username, err)
	}
}

// waitCompactions waits until no compaction runs. No write may run
// concurrently.
func waitCompactions(s *Store) { s.compactions.Wait() }

func TestRestartAfterCompaction(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{CompactBytes: 16 << 10})
	writeHistory(t, s, "user", 60)
	waitCompactions(s)

	st := newState()
	snap, _, err := readSnapshot(filepath.Join(dir, snapshotName), &st)
	if err != nil || snap.Journal == 0 {
		t.Fatalf("after compaction, snapshot covers journal %d (error %v), want a snapshot", snap.Journal, err)
	}
	nums, err := listJournals(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nums {
		if n <= snap.Journal {
			t.Errorf("journal %d is still there, but the snapshot covers journals up to %d", n, snap.Journal)
		}
	}
	if len(nums) == 0 {
		t.Errorf("no journal after compaction, want the current one")
	}

	want := dump(t, s)
	closeStore(t, s)
	for _, opts := range []Options{{}, {CompactBytes: 16 << 10}} {
		s = openStore(t, dir, opts)
		checkDump(t, fmt.Sprintf("after compaction and reopening with %+v", opts), dump(t, s), want)
		closeStore(t, s)
	}
}

// TestConcurrentWritesWithCompaction writes from many goroutines while
// compactions switch journals underneath, then checks that everything
// survives a reopen.
func TestConcurrentWritesWithCompaction(t *testing.T) {
	const writers, each = 8, 60
	dir := t.TempDir()
	s := openStore(t, dir, Options{CompactBytes: 8 << 10})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			now := testTime()
			for i := range each {
				u := testUser(fmt.Sprintf("w%d-%d", w, i), now)
				if err := s.CreateUser(context.Background(), u); err != nil {
					t.Errorf("CreateUser(%s) = %v, want nil", u.Username, err)
					return
				}
				sess := testSession(u.ID, now)
				if err := s.CreateSession(context.Background(), sess); err != nil {
					t.Errorf("CreateSession(%s) = %v, want nil", sess.ID, err)
				}
				if _, err := s.UserByID(context.Background(), u.ID); err != nil {
					t.Errorf("UserByID(%s) right after creating it = %v, want nil", u.ID, err)
				}
			}
		})
	}
	wg.Wait()
	want := dump(t, s)
	if len(want) != 2*writers*each {
		t.Fatalf("store holds %d records, want %d", len(want), 2*writers*each)
	}
	closeStore(t, s)
	s = openStore(t, dir, Options{})
	checkDump(t, "after reopening", dump(t, s), want)
}

func TestJournalFormat(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	u := testUser("alice", testTime())
	sess := testSession(u.ID, testTime())
	if err := s.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(context.Background(), sess); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteExpiredSessions(context.Background(), sess.ExpiresAt); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, journalName(1)))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	wantPrefixes := []string{
		`{"version":2,"seq":1,"changes":[{"op":"put","kind":"user","id":"` + u.ID + `","record":{"id":"` + u.ID + `","username":"alice",`,
		`{"version":2,"seq":2,"changes":[{"op":"put","kind":"session","id":"` + sess.ID + `","record":{"id":"` + sess.ID + `",`,
		`{"version":2,"seq":3,"changes":[{"op":"delete","kind":"session","id":"` + sess.ID + `"}]}` + "\n",
		"",
	}
	if len(lines) != len(wantPrefixes) {
		t.Fatalf("journal has %d lines, want 3:\n%s", len(lines)-1, data)
	}
	for i, want := range wantPrefixes {
		if !strings.HasPrefix(lines[i], want) {
			t.Errorf("journal line %d = %s, want it to start with %s", i+1, lines[i], want)
		}
	}
}

// TestJournalKeyOrder checks that a journal line is read whatever the order
// of its keys, as a person editing the file may leave them, although the
// store writes the version first.
func TestJournalKeyOrder(t *testing.T) {
	dir, users, _ := buildStore(t, 1)
	u := testUser("edited", testTime())
	rec, err := json.Marshal(u)
	if err != nil {
		t.Fatal(err)
	}
	line := `{"changes":[{"record":` + string(rec) + `,"id":"` + u.ID + `","kind":"user","op":"put"}],"seq":2,"version":2}` + "\n"
	appendFile(t, filepath.Join(dir, journalName(1)), []byte(line))
	s := openStore(t, dir, Options{})
	checkUsers(t, s, "after a line with its keys reordered", append(users, u))
}

// TestSnapshotFormat checks the text of a snapshot: a header line, then
// each kind's records, one per line, sorted by id, with nothing escaped
// that JSON does not require.
func TestSnapshotFormat(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	ctx := context.Background()
	users := mustCreateUsers(t, s, "user", 2)
	zoe := testUser("zoe", testTime())
	zoe.FullName = "Zoë <&> Ångström"
	sess := testSession(zoe.ID, testTime())
	if err := s.CreateUser(ctx, zoe); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	closeStore(t, s)
	// Reopening with a tiny CompactBytes compacts at once.
	s = openStore(t, dir, Options{CompactBytes: 1})
	waitCompactions(s)
	closeStore(t, s)

	// plain encodes v as the files do, without HTML escaping.
	plain := func(v any) string {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		return strings.TrimSuffix(buf.String(), "\n")
	}
	users = append(users, zoe)
	slices.SortFunc(users, func(a, b user.User) int { return strings.Compare(a.ID, b.ID) })
	var lines []string
	for _, u := range users {
		lines = append(lines, plain(u))
	}
	want := `{"version":2,"journal":1,"seq":4,"records":{` + "\n" +
		`"user":[` + "\n" + strings.Join(lines, ",\n") + "\n],\n" +
		`"session":[` + "\n" + plain(sess) + "\n],\n" +
		`"token":[],` + "\n" +
		`"board":[],` + "\n" +
		`"notification":[]}}` + "\n"
	got, err := os.ReadFile(filepath.Join(dir, snapshotName))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("snapshot =\n%s\nwant\n%s", got, want)
	}
}

func TestPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s := openStore(t, dir, Options{CompactBytes: 1})
	mustCreateUsers(t, s, "user", 3)
	waitCompactions(s)
	closeStore(t, s)

	check := func(path string, want fs.FileMode) {
		t.Helper()
		info, err := os.Stat(path)
		if err != nil {
			t.Errorf("Stat(%q) = %v", path, err)
			return
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("mode of %s = %v, want %v", path, got, want)
		}
	}
	check(dir, 0o700)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		check(filepath.Join(dir, e.Name()), 0o600)
	}
	if _, err := os.Stat(filepath.Join(dir, snapshotName)); err != nil {
		t.Errorf("no snapshot after compaction: %v", err)
	}
}

func TestLock(t *testing.T) {
	dir := t.TempDir()
	first := openStore(t, dir, Options{})

	second, err := Open(dir, Options{})
	if !errors.Is(err, ErrLocked) {
		if second != nil {
			second.Close()
		}
		t.Fatalf("second Open(%q) while the first is open = %v, want %v", dir, err, ErrLocked)
	}
	if want := "data directory " + dir + " is in use by another corkboard process"; !strings.Contains(err.Error(), want) {
		t.Errorf("second Open(%q) error = %q, want it to say %q", dir, err, want)
	}

	closeStore(t, first)
	openStore(t, dir, Options{})
}

func TestFailedWrite(t *testing.T) {
	dir := t.TempDir()
	var logs logBuffer
	s := openStore(t, dir, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx := context.Background()
	alice := mustCreateUsers(t, s, "alice", 1)[0]

	// Simulate the disk refusing writes: every later journal write fails.
	s.syncMu.Lock()
	s.journal.Close()
	s.syncMu.Unlock()

	bob := testUser("bob", testTime())
	err := s.CreateUser(ctx, bob)
	if !errors.Is(err, ErrFailed) || !isUnavailable(err) {
		t.Fatalf("CreateUser after a journal write failed = %v, want an unavailable error wrapping %v", err, ErrFailed)
	}
	err = s.SetRoles(ctx, alice.ID, []string{"admin"}, testTime())
	if !errors.Is(err, ErrFailed) {
		t.Errorf("SetRoles after the store failed = %v, want %v", err, ErrFailed)
	}
	if err := s.Check(ctx); !errors.Is(err, ErrFailed) {
		t.Errorf("Check after the store failed = %v, want %v", err, ErrFailed)
	}
	// The closed journal cannot be cut back either, so reads fail too:
	// memory holds bob and alice's admin role, which the
	// callers were told had failed and which a restart would not bring back.
	if got, err := s.UserByID(ctx, alice.ID); !errors.Is(err, ErrFailed) {
		t.Errorf("UserByID(%q) after the store failed = %+v, %v; want %v", alice.ID, got, err, ErrFailed)
	}
	if _, err := s.Session(ctx, "67d3f65df0b01dd65a6ce67a"); !errors.Is(err, ErrFailed) {
		t.Errorf("Session after the store failed = %v, want %v", err, ErrFailed)
	}
	if !strings.Contains(logs.String(), "stopped taking writes") {
		t.Errorf("log = %q, want an error about the failure", logs.String())
	}
	s.Close()

	// The files hold what was acknowledged, and only that.
	s = openStore(t, dir, Options{})
	if got, err := s.UserByID(ctx, alice.ID); err != nil || !slices.Equal(got.Roles, alice.Roles) {
		t.Errorf("UserByID(%q) after reopening = %+v, %v; want the user as acknowledged", alice.ID, got, err)
	}
	if _, err := s.UserByID(ctx, bob.ID); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("UserByID(%q) of the failed write after reopening = %v, want %v", bob.ID, err, user.ErrNotFound)
	}
}

func TestClosedAndCanceled(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	u := testUser("alice", testTime())
	if err := s.CreateUser(ctx, u); !errors.Is(err, context.Canceled) {
		t.Errorf("CreateUser with a canceled context = %v, want %v", err, context.Canceled)
	}
	if _, err := s.UserByID(context.Background(), u.ID); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("UserByID(%q) after a canceled CreateUser = %v, want %v", u.ID, err, user.ErrNotFound)
	}
	if err := s.Check(context.Background()); err != nil {
		t.Errorf("Check on a healthy store = %v, want nil", err)
	}

	closeStore(t, s)
	if err := s.CreateUser(context.Background(), u); !errors.Is(err, ErrClosed) {
		t.Errorf("CreateUser after Close = %v, want %v", err, ErrClosed)
	}
	if err := s.Check(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Check after Close = %v, want %v", err, ErrClosed)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
}

// logBuffer is a bytes.Buffer safe for concurrent log writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// isUnavailable reports whether err says "unavailable, retry" by its
// behaviour, as the HTTP layer reads it.
func isUnavailable(err error) bool {
	var u interface{ Unavailable() bool }
	return errors.As(err, &u) && u.Unavailable()
}

func TestFileStore(t *testing.T) {
	usertest.TestFileStore(t, func(t *testing.T) user.FileStore {
		return openStore(t, t.TempDir(), Options{})
	})
}

func TestBoardStore(t *testing.T) {
	boardtest.TestStore(t, func(t *testing.T) board.Store {
		return openStore(t, t.TempDir(), Options{})
	})
}

// TestNoCompaction: a store opened with NoCompaction (the export command)
// writes no snapshot or journal, however long the journal it opens; the
// same directory opened without it compacts at once.
func TestNoCompaction(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{CompactBytes: 1 << 30})
	writeHistory(t, s, "user", 60)
	closeStore(t, s)
	listing := func() []string {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return names
	}
	before := listing()

	s = openStore(t, dir, Options{CompactBytes: 4 << 10, NoCompaction: true})
	writeHistory(t, s, "more", 10)
	waitCompactions(s)
	closeStore(t, s)
	if after := listing(); !slices.Equal(after, before) {
		t.Errorf("with NoCompaction the directory went from %v to %v, want no new file", before, after)
	}

	s = openStore(t, dir, Options{CompactBytes: 4 << 10})
	waitCompactions(s)
	closeStore(t, s)
	if after := listing(); !slices.Contains(after, snapshotName) {
		t.Errorf("without NoCompaction the directory holds %v, want a snapshot: the test would prove nothing", after)
	}
}
