package filestore

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"corkboard/auth"
	"corkboard/board"
	"corkboard/objectid"
	"corkboard/user"
)

// A store at scale: what the start-up benchmark opens. The figures are the
// targets of the README's "At scale" section.
const (
	scaleUsers    = 100_000
	scaleSessions = 1_000_000
	scaleBoards   = 10_000
)

// scaleUserAgents are the user agents sessions are made with: a real
// service sees a few browsers over and over, not a million different ones.
var scaleUserAgents = []string{
	"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
	"corkboard-cli/1.0",
}

// scaleHash returns a string shaped like a bcrypt hash at cost 10: a
// different one per user, so that nothing is shared that would not be.
func scaleHash(rng *rand.Rand) string {
	const alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := []byte("$2a$10$")
	for range 53 {
		b = append(b, alphabet[rng.IntN(len(alphabet))])
	}
	return string(b)
}

// scaleRecords is some of what writeScaleDir wrote, for writes on it.
type scaleRecords struct {
	users    []string       // every user's id
	sessions []auth.Session // the first few sessions, live
}

// writeScaleDir writes, straight into dir's snapshot with the store's own
// encoder (a million journal writes would take minutes), a store of users,
// sessions (about sessions/users each; every session a family that has
// rotated a few times, some revoked, none expired) and boards with three
// lists of eight cards each, owned and shared by those users.
func writeScaleDir(tb testing.TB, dir string, users, sessions, boards int) scaleRecords {
	tb.Helper()
	rng := rand.New(rand.NewPCG(uint64(users), uint64(sessions)))
	start := time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC)
	// Sessions expire a month from now, the real now: the start-up sweep
	// of expired sessions must find none, or it would change the data.
	expires := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Millisecond)

	userRecs := make([]change, users)
	ids := make([]string, users)
	for i := range users {
		at := start.Add(time.Duration(i) * time.Second)
		name := fmt.Sprintf("user%d", i)
		u := user.User{
			ID:            objectid.New(at),
			Username:      name,
			Email:         name + "@example.com",
			EmailVerified: i%3 != 0,
			FullName:      "Scale User " + strconv.Itoa(i),
			Color:         "#3366ff",
			Roles:         []string{"user"},
			PasswordHash:  scaleHash(rng),
			CreatedAt:     at,
			UpdatedAt:     at.Add(time.Hour),
		}
		ids[i] = u.ID
		userRecs[i] = putUser(u)
	}

	sessionRecs := make([]change, sessions)
	for i := range sessions {
		owner := rng.IntN(users)
		created := start.Add(time.Duration(owner)*time.Second + time.Duration(rng.IntN(3600))*time.Second)
		rotated := created.Add(time.Duration(rng.IntN(86400)) * time.Second)
		sess := auth.Session{
			ID:         objectid.New(created),
			UserID:     ids[owner],
			Generation: uint64(1 + rng.IntN(40)),
			Roles:      []string{"user"},
			CreatedAt:  created,
			RotatedAt:  rotated,
			LastUsedAt: rotated,
			ExpiresAt:  expires,
			UserAgent:  scaleUserAgents[rng.IntN(len(scaleUserAgents))],
			IP:         fmt.Sprintf("198.51.100.%d", rng.IntN(256)),
		}
		if i%10 == 9 {
			sess.RevokedAt = rotated
		}
		sessionRecs[i] = putSession(sess)
	}

	boardRecs := make([]change, boards)
	for i := range boards {
		at := start.Add(time.Duration(i) * time.Minute)
		x := benchBoard(tb, ids[rng.IntN(users)], ids[rng.IntN(users)], i, at)
		boardRecs[i] = putChange(boardKind, x.ID, x)
	}

	snap := snapshot{Journal: 1, Seq: 1}
	st := newState()
	for _, t := range st.tables() {
		k := kindRecords{Kind: t.kind()}
		switch t.kind() {
		case userKind:
			k.Records = userRecs
		case sessionKind:
			k.Records = sessionRecs
		case boardKind:
			k.Records = boardRecs
		}
		snap.Kinds = append(snap.Kinds, k)
	}
	f, err := os.Create(filepath.Join(dir, snapshotName))
	if err != nil {
		tb.Fatal(err)
	}
	if err := writeSnapshot(f, &snap); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	recs := scaleRecords{users: ids}
	for _, c := range sessionRecs {
		if sess := c.Record.(auth.Session); sess.RevokedAt.IsZero() && len(recs.sessions) < 8 {
			recs.sessions = append(recs.sessions, sess)
		}
	}
	return recs
}

// scaleDir returns a data directory holding the store at scale, written
// once per run, or once for good in $FILESTORE_SCALE_DIR when that is set
// (generating it takes a while; a directory that already holds a snapshot
// is used as it is).
func scaleDir(b *testing.B) string {
	b.Helper()
	dir := os.Getenv("FILESTORE_SCALE_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	if _, err := os.Stat(filepath.Join(dir, snapshotName)); err == nil {
		return dir
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	_ = writeScaleDir(b, dir, scaleUsers, scaleSessions, scaleBoards)
	info, _ := os.Stat(filepath.Join(dir, snapshotName))
	b.Logf("wrote %d users, %d sessions, %d boards (%d MiB) in %v", scaleUsers, scaleSessions, scaleBoards,
		info.Size()>>20, time.Since(start).Round(time.Millisecond))
	return dir
}

// startUp does what the service does at start with the file store: open
// it, then the start-up passes of run.go (interrupted deletions of users
// and boards, the notifications sweep, the records that point at files,
// the orphan-file sweep) and the first periodic sweep of sessions and
// tokens, which the server starts at once.
func startUp(dir string) (*Store, time.Duration, error) {
	ctx := context.Background()
	started := time.Now()
	s, err := Open(dir, Options{})
	if err != nil {
		return nil, 0, err
	}
	opened := time.Since(started)
	steps := []func() error{
		func() error { _, err := s.UsersBeingDeleted(ctx); return err },
		func() error { _, err := s.BoardsBeingDeleted(ctx); return err },
		func() error { return s.EachNotification(ctx, func(board.Notification) error { return nil }) },
		func() error { return s.EachUser(ctx, func(user.User) error { return nil }) },
		func() error { return s.EachBoard(ctx, func(board.Board) error { return nil }) },
		func() error {
			for _, bucket := range []string{user.PictureBucket, board.BackgroundBucket, board.AttachmentBucket} {
				if _, err := s.SweepOrphanFiles(ctx, bucket, func(string) bool { return true }, time.Now()); err != nil {
					return err
				}
			}
			return nil
		},
		func() error { _, err := s.DeleteExpiredSessions(ctx, time.Now()); return err },
		func() error { _, err := s.DeleteExpiredTokens(ctx, time.Now()); return err },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			s.Close()
			return nil, 0, err
		}
	}
	return s, opened, nil
}

// TestScaleStartChild is the child process of BenchmarkStartAtScale: it
// runs only when $FILESTORE_SCALE_CHILD names a data directory, starts a
// store on it, and prints the time Open took, the time the whole start
// took and the process's peak resident set size, so that the figure is the
// store's own and not the benchmark's, which generated the data.
func TestScaleStartChild(t *testing.T) {
	dir := os.Getenv("FILESTORE_SCALE_CHILD")
	if dir == "" {
		t.Skip("the child process of BenchmarkStartAtScale")
	}
	started := time.Now()
	s, opened, err := startUp(dir)
	if err != nil {
		t.Fatal(err)
	}
	total := time.Since(started)
	s.mu.RLock()
	n := len(s.st.sessions.byID)
	s.mu.RUnlock()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("scale-child open_ns=%d start_ns=%d hwm_kb=%d sessions=%d\n", opened, total, peakRSS(t), n)
}

// peakRSS returns the process's peak resident set size in KiB (VmHWM).
func peakRSS(t *testing.T) int64 { return procKB(t, "/proc/self/status", "VmHWM:") }

// procKB returns the figure of field (such as "VmHWM:") in the file at
// path, one of /proc's that list a figure in kB a line.
func procKB(t *testing.T, path, field string) int64 {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatalf("no %s in %s", field, path)
	return 0
}

// BenchmarkStartAtScale starts a store of 100,000 users, 1,000,000
// sessions and 10,000 boards. "child" runs each start in a fresh process
// (this test binary, as TestScaleStartChild) and reports the time Open
// took, the time the whole start took, the CPU time the child used (on a
// busy machine a better guide than the wall clock), and its peak RSS; "open"
// opens the store in this process, for -cpuprofile and -memprofile.
// Set $FILESTORE_SCALE_DIR to keep the generated directory between runs.
func BenchmarkStartAtScale(b *testing.B) {
	dir := scaleDir(b)
	b.Run("child", func(b *testing.B) {
		var openNS, startNS, cpuNS, hwm float64
		for b.Loop() {
			cmd := exec.Command(os.Args[0], "-test.run=^TestScaleStartChild$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), "FILESTORE_SCALE_CHILD="+dir)
			out, err := cmd.CombinedOutput()
			if err != nil {
				b.Fatalf("child: %v\n%s", err, out)
			}
			var o, st, kb, n int64
			i := bytes.Index(out, []byte("scale-child "))
			if i < 0 {
				b.Fatalf("child printed no figures:\n%s", out)
			}
			if _, err := fmt.Sscanf(string(out[i:]), "scale-child open_ns=%d start_ns=%d hwm_kb=%d sessions=%d", &o, &st, &kb, &n); err != nil {
				b.Fatalf("child figures: %v\n%s", err, out)
			}
			if n != scaleSessions {
				b.Fatalf("child loaded %d sessions, want %d", n, scaleSessions)
			}
			cpuNS += float64(cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime())
			openNS += float64(o)
			startNS += float64(st)
			hwm = max(hwm, float64(kb))
		}
		b.ReportMetric(openNS/float64(b.N)/1e6, "open-ms")
		b.ReportMetric(startNS/float64(b.N)/1e6, "start-ms")
		b.ReportMetric(cpuNS/float64(b.N)/1e6, "cpu-ms")
		b.ReportMetric(hwm/1024, "peak-RSS-MiB")
	})
	b.Run("open", func(b *testing.B) {
		for b.Loop() {
			s, err := Open(dir, Options{})
			if err != nil {
				b.Fatal(err)
			}
			s.Close()
		}
		runtime.GC()
	})
}

// BenchmarkWriteAtScale shows what a write costs in a store of 1,000 users
// and in one of 100,000, each with ten sessions a user and a board for
// every ten users: a sign-up (a user and a session, with the uniqueness
// checks), a refresh (a session rotated) and a profile edit (a new
// username, checked and re-indexed). Both stores are open at once and
// each iteration writes to each in turn, so both meet the same load from
// whatever else the machine runs (see interleave): the ratio of the
// 100,000 store's time to the 1,000 store's is the result. The writes run
// with fsync, as served, and without, where the work in memory and the
// journal append are all that is measured.
func BenchmarkWriteAtScale(b *testing.B) {
	sizes := []int{1_000, 100_000}
	dirs := make([]string, len(sizes))
	recs := make([]scaleRecords, len(sizes))
	for i, n := range sizes {
		dirs[i] = b.TempDir()
		recs[i] = writeScaleDir(b, dirs[i], n, 10*n, n/10)
	}
	ctx := context.Background()
	for _, mode := range []struct {
		name string
		opts Options
	}{{"fsync", Options{}}, {"nosync", Options{NoSync: true}}} {
		stores := make([]*Store, len(sizes))
		for i, dir := range dirs {
			stores[i] = openStore(b, dir, mode.opts)
		}
		b.Run("signup-"+mode.name, func(b *testing.B) {
			interleave(b, sizes, func(i int) error {
				now := time.Now()
				id := objectid.New(now)
				u := benchUser("new"+id, now)
				u.ID = id
				sess := testSession(u.ID, now)
				return stores[i].CreateAccount(ctx, u, sess)
			})
		})
		b.Run("refresh-"+mode.name, func(b *testing.B) {
			turn := make([]int, len(sizes))
			interleave(b, sizes, func(i int) error {
				list := recs[i].sessions
				s := &list[turn[i]%len(list)]
				turn[i]++
				now := time.Now()
				rotated, err := stores[i].RotateSession(ctx, s.ID, s.Generation, now, now.Add(24*time.Hour))
				if err != nil {
					return err
				}
				*s = rotated
				return nil
			})
		})
		b.Run("profile-"+mode.name, func(b *testing.B) {
			turn := make([]int, len(sizes))
			interleave(b, sizes, func(i int) error {
				users := recs[i].users
				n := turn[i]
				turn[i]++
				// Each user a new name each time: the index by name
				// moves its entry on every edit.
				return stores[i].SetProfile(ctx, users[(n*7919)%len(users)], fmt.Sprintf("edit%dx%d", n%len(users), n), "Edited Name", "#336699", time.Now())
			})
		})
		for _, s := range stores {
			closeStore(b, s)
		}
	}
}

// BenchmarkCompactionPause measures how long a compaction of the store at
// scale holds the store's lock, during which every read and write waits:
// "boxed" copies the records as put changes under the lock (copyRecords,
// as compaction did), "typed" copies them into slices of their own type
// and makes the changes after (copyRecordsLater, as it does now). Each
// iteration times both, so both meet the same load; "ratio" is typed's
// time over boxed's.
func BenchmarkCompactionPause(b *testing.B) {
	s := openStore(b, scaleDir(b), Options{NoCompaction: true})
	var boxed, typed time.Duration
	for b.Loop() {
		start := time.Now()
		s.mu.Lock()
		snap := s.st.copyRecords()
		s.mu.Unlock()
		boxed += time.Since(start)
		snap = snapshot{}

		start = time.Now()
		s.mu.Lock()
		build := s.st.copyRecordsLater()
		s.mu.Unlock()
		typed += time.Since(start)
		snap = build()
		_ = snap
	}
	b.ReportMetric(float64(boxed.Milliseconds())/float64(b.N), "boxed-ms")
	b.ReportMetric(float64(typed.Milliseconds())/float64(b.N), "typed-ms")
	b.ReportMetric(float64(typed)/float64(boxed), "ratio")
}
