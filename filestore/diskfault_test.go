package filestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"corkboard/user"
)

// smallDisk mounts a tmpfs of the given size on a fresh directory and
// returns the directory; the mount goes away when the test ends. Mounting
// needs root, which CI has; elsewhere the test is skipped with a message.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a full disk needs root to mount a small tmpfs; CI runs as root (run `sudo go test -run " + t.Name() + " ./filestore`)")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount -t tmpfs on %s as root: %v: %s", dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fillDisk writes a file of zeros into dir until the disk is full, and
// returns its path: removing it gives the space back.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !diskRefused(err) {
				t.Fatalf("filling %s: %v, want ENOSPC", dir, err)
			}
			return path
		}
	}
}

// TestFullDiskRefusesWritesAndRecovers fills the disk under an open store:
// the write that does not fit fails as unavailable, leaves no half line in
// the journal and no trace in memory; reads go on; once space is back,
// writes succeed again without a restart; and a restart finds exactly the
// acknowledged writes.
func TestFullDiskRefusesWritesAndRecovers(t *testing.T) {
	dir := smallDisk(t, "256k")
	var logs logBuffer
	s := openStore(t, dir, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx := context.Background()
	acked := mustCreateUsers(t, s, "early", 5)

	filler := fillDisk(t, dir)
	journal := s.path(journalName(s.journalNum))
	before, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}

	// Lines this long no longer fit in the last free bytes of a page.
	var refused user.User
	for i := 0; ; i++ {
		u := testUser(fmt.Sprintf("full%03d", i), testTime())
		u.FullName = strings.Repeat("x", 100)
		err := s.CreateUser(ctx, u)
		if err == nil {
			acked = append(acked, u)
			if i > 100 {
				t.Fatalf("CreateUser succeeded %d times on a full disk", i)
			}
			continue
		}
		if !isUnavailable(err) || errors.Is(err, ErrFailed) {
			t.Fatalf("CreateUser on a full disk = %v; want an unavailable error that does not stop the store", err)
		}
		refused = u
		break
	}

	// Memory does not show the refused write; reads go on.
	if got, err := s.UserByID(ctx, refused.ID); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("UserByID(refused %s) = %+v, %v; want %v: memory shows a write that failed", refused.Username, got, err, user.ErrNotFound)
	}
	for _, u := range acked {
		if _, err := s.UserByID(ctx, u.ID); err != nil {
			t.Errorf("UserByID(%s) after a refused write = %v; reads must go on", u.Username, err)
		}
	}
	// The journal holds whole lines only: a later append must not follow
	// half a line.
	after, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(after, before) || (len(after) > 0 && after[len(after)-1] != '\n') {
		t.Fatalf("journal after the refused write ends with %q; want whole lines only", tail(after))
	}
	// While the store rests, writes fail fast and /healthz says so.
	if err := s.Check(ctx); !isUnavailable(err) {
		t.Errorf("Check right after a refused write = %v, want unavailable", err)
	}
	if !strings.Contains(logs.String(), "refused a write") {
		t.Errorf("log = %q, want an error about the refused write", logs.String())
	}

	// An upload on the full disk fails as unavailable and leaves no temp
	// file.
	if _, err := s.PutFile(ctx, "pictures", "0123456789abcdef01234567", bytes.NewReader(make([]byte, 64<<10))); !isUnavailable(err) {
		t.Errorf("PutFile on a full disk = %v, want unavailable", err)
	}
	if names := bucketNames(t, dir, "pictures"); len(names) != 0 {
		t.Errorf("bucket after a failed PutFile holds %v, want nothing", names)
	}

	// Space comes back: writes succeed again, without a restart.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	later := testUser("later", testTime())
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.CreateUser(ctx, later)
		if err == nil {
			break
		}
		if !isUnavailable(err) || time.Now().After(deadline) {
			t.Fatalf("CreateUser once space is back = %v; want success within %v", err, retryDelay)
		}
		time.Sleep(50 * time.Millisecond)
	}
	acked = append(acked, later)
	if err := s.Check(ctx); err != nil {
		t.Errorf("Check once writes succeed again = %v, want nil", err)
	}

	// A restart finds every acknowledged write and not the refused one.
	closeStore(t, s)
	s = openStore(t, dir, Options{})
	for _, u := range acked {
		if _, err := s.UserByID(ctx, u.ID); err != nil {
			t.Errorf("after restart, UserByID(%s) = %v; an acknowledged write is lost", u.Username, err)
		}
	}
	if _, err := s.UserByID(ctx, refused.ID); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("after restart, UserByID(refused) = %v, want %v", err, user.ErrNotFound)
	}
}

// TestFullDiskDuringCompaction: a compaction that cannot write its snapshot
// or create its journal costs nothing: writes go on into the old journal
// and a restart finds them all.
func TestFullDiskDuringCompaction(t *testing.T) {
	dir := smallDisk(t, "512k")
	var logs logBuffer
	s := openStore(t, dir, Options{CompactBytes: 4 << 10, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx := context.Background()
	acked := mustCreateUsers(t, s, "first", 3)
	filler := fillDisk(t, dir)
	// Free a little: enough for the journal to pass CompactBytes, too
	// little left then for a snapshot of everything.
	if err := os.Truncate(filler, mustSize(t, filler)-6<<10); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 40; i++ {
		u := testUser(fmt.Sprintf("tight%02d", i), testTime())
		err := s.CreateUser(ctx, u)
		if err == nil {
			acked = append(acked, u)
		} else if !isUnavailable(err) || errors.Is(err, ErrFailed) {
			t.Fatalf("CreateUser with a compaction on a nearly full disk = %v; want success or a passing unavailable error", err)
		}
		waitCompactions(s)
	}
	if err := s.failure(); err != nil {
		t.Fatalf("store stopped after a compaction ran out of space: %v", err)
	}
	if !strings.Contains(logs.String(), "compaction: ") {
		t.Fatalf("no compaction failed on the nearly full disk (log %q); the test proves nothing", logs.String())
	}
	os.Remove(filler)
	closeStore(t, s)
	s = openStore(t, dir, Options{})
	for _, u := range acked {
		if _, err := s.UserByID(ctx, u.ID); err != nil {
			t.Errorf("after restart, UserByID(%s) = %v; an acknowledged write is lost", u.Username, err)
		}
	}
}

func mustSize(t *testing.T, path string) int64 {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Size()
}

// bucketNames lists what a bucket's directory holds, temp files included.
func bucketNames(t *testing.T, dir, bucket string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, filesDir, bucket))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func tail(b []byte) []byte {
	if len(b) > 40 {
		return b[len(b)-40:]
	}
	return b
}

// TestFullDiskConcurrentWriters: writers that share a group commit which the
// disk refuses all get the error, and none of their changes shows, in
// memory or after a restart; every acknowledged write survives.
func TestFullDiskConcurrentWriters(t *testing.T) {
	dir := smallDisk(t, "256k")
	s := openStore(t, dir, Options{})
	ctx := context.Background()
	filler := fillDisk(t, dir)
	// Room for some lines but not all.
	if err := os.Truncate(filler, mustSize(t, filler)-8<<10); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var acked, refused []user.User
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 15 {
				u := testUser(fmt.Sprintf("w%di%02d", w, i), testTime())
				u.FullName = strings.Repeat("y", 100)
				err := s.CreateUser(ctx, u)
				mu.Lock()
				if err == nil {
					acked = append(acked, u)
				} else if isUnavailable(err) && !errors.Is(err, ErrFailed) {
					refused = append(refused, u)
				} else {
					t.Errorf("CreateUser(%s) = %v; want nil or a passing unavailable error", u.Username, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(acked) == 0 || len(refused) == 0 {
		t.Fatalf("%d acknowledged, %d refused; the disk should take some and refuse some", len(acked), len(refused))
	}
	check := func(when string) {
		for _, u := range acked {
			if _, err := s.UserByID(ctx, u.ID); err != nil {
				t.Errorf("%s: acknowledged %s: %v", when, u.Username, err)
			}
		}
		for _, u := range refused {
			if _, err := s.UserByUsername(ctx, u.Username); !errors.Is(err, user.ErrNotFound) {
				t.Errorf("%s: refused %s: %v, want %v", when, u.Username, err, user.ErrNotFound)
			}
		}
	}
	check("in memory")
	closeStore(t, s)
	s = openStore(t, dir, Options{})
	check("after restart")
	t.Logf("%d acknowledged, %d refused", len(acked), len(refused))
}
