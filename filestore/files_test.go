package filestore

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"corkboard/objectid"
	"corkboard/user"
	"corkboard/user/usertest"
)

// dirNames lists the names in dir, or stops the test.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("ReadDir(%q) = %v", dir, err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestFileLayout checks where the bytes go and with which modes, and that
// interrupted uploads leave no temp file behind.
func TestFileLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s := openStore(t, dir, Options{})
	ctx := context.Background()
	data := usertest.PNG(t, 100, 100, 1)
	id := objectid.New(testTime())
	if _, err := s.PutFile(ctx, "pictures", id, bytes.NewReader(data)); err != nil {
		t.Fatalf("PutFile = %v", err)
	}
	path := filepath.Join(dir, "files", "pictures", id)
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("ReadFile(%q) = %d bytes, %v; want the %d bytes put", path, len(got), err, len(data))
	}
	for p, want := range map[string]fs.FileMode{
		filepath.Join(dir, "files"):             0o700,
		filepath.Join(dir, "files", "pictures"): 0o700,
		path:                                    0o600,
	} {
		info, err := os.Stat(p)
		if err != nil || info.Mode().Perm() != want {
			t.Errorf("mode of %s = %v (%v), want %v", p, info.Mode().Perm(), err, want)
		}
	}

	// A reader that fails, then a context canceled, half-way through.
	failed := objectid.New(testTime())
	_, err = s.PutFile(ctx, "pictures", failed, usertest.FailingReader(bytes.NewReader(data), int64(len(data)/2)))
	if err == nil {
		t.Fatalf("PutFile from a failing reader = nil error")
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	_, err = s.PutFile(cctx, "pictures", failed, usertest.CancelingReader(bytes.NewReader(data), int64(len(data)/2), cancel))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("PutFile with a context canceled half-way = %v, want context.Canceled", err)
	}
	// A taken id is refused; its temp file goes too.
	if _, err := s.PutFile(ctx, "pictures", id, bytes.NewReader(data)); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("PutFile of a taken id = %v, want fs.ErrExist", err)
	}
	if names := dirNames(t, filepath.Join(dir, "files", "pictures")); !slices.Equal(names, []string{id}) {
		t.Errorf("files/pictures holds %q after the failed uploads, want only %q", names, id)
	}
}

// TestOpenRemovesTempFiles: a crash mid-upload leaves a temp file, which the
// next Open removes; stored files stay.
func TestOpenRemovesTempFiles(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	id := objectid.New(testTime())
	if _, err := s.PutFile(context.Background(), "pictures", id, bytes.NewReader([]byte("kept"))); err != nil {
		t.Fatalf("PutFile = %v", err)
	}
	closeStore(t, s)
	bucketDir := filepath.Join(dir, "files", "pictures")
	temp := filepath.Join(bucketDir, tempPrefix+objectid.New(testTime())+"-123")
	if err := os.WriteFile(temp, []byte("half an upl"), 0o600); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, dir, Options{})
	if names := dirNames(t, bucketDir); !slices.Equal(names, []string{id}) {
		t.Errorf("after Open, files/pictures holds %q, want only %q", names, id)
	}
	f, err := s.OpenFile(context.Background(), "pictures", id)
	if err != nil {
		t.Fatalf("OpenFile of the stored file after reopening = %v", err)
	}
	f.Close()
}

func TestSweepOrphanFiles(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	ctx := context.Background()
	put := func(bucket string) string {
		t.Helper()
		id := objectid.New(testTime())
		if _, err := s.PutFile(ctx, bucket, id, bytes.NewReader([]byte(bucket))); err != nil {
			t.Fatalf("PutFile(%s) = %v", bucket, err)
		}
		return id
	}
	kept, orphan, otherKept := put("pictures"), put("pictures"), put("backgrounds")
	pictures := filepath.Join(dir, "files", "pictures")
	temp := tempPrefix + objectid.New(testTime()) + "-1"
	for _, name := range []string{temp, "README"} {
		if err := os.WriteFile(filepath.Join(pictures, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	keep := func(id string) bool { return id == kept || id == otherKept }
	// Files younger than the bound stay: they may be uploads in flight.
	if n, err := s.SweepOrphanFiles(ctx, "pictures", keep, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Errorf("SweepOrphanFiles(an hour ago) = %d, %v; want 0, nil", n, err)
	}
	n, err := s.SweepOrphanFiles(ctx, "pictures", keep, time.Now().Add(time.Second))
	if err != nil || n != 2 {
		t.Errorf("SweepOrphanFiles = %d, %v; want 2 (one orphan, one temp file), nil", n, err)
	}
	want := []string{"README", kept}
	slices.Sort(want)
	if names := dirNames(t, pictures); !slices.Equal(names, want) {
		t.Errorf("files/pictures holds %q after the sweep, want %q", names, want)
	}
	if _, err := s.OpenFile(ctx, "pictures", orphan); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenFile of the swept orphan = %v, want fs.ErrNotExist", err)
	}
	// Only the bucket named is swept.
	if names := dirNames(t, filepath.Join(dir, "files", "backgrounds")); !slices.Equal(names, []string{otherKept}) {
		t.Errorf("files/backgrounds holds %q after the sweep, want %q", names, otherKept)
	}
	if _, err := s.SweepOrphanFiles(ctx, "../x", keep, time.Now()); !errors.Is(err, user.ErrInvalidFileKey) {
		t.Errorf("SweepOrphanFiles(\"../x\") = %v, want ErrInvalidFileKey", err)
	}

	// On a store with no files yet, there is nothing to do.
	empty := openStore(t, t.TempDir(), Options{})
	if n, err := empty.SweepOrphanFiles(ctx, "pictures", keep, time.Now()); n != 0 || err != nil {
		t.Errorf("SweepOrphanFiles on an empty store = %d, %v; want 0, nil", n, err)
	}
}
