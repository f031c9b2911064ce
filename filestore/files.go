package filestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"corkboard/user"
)

// File bytes live outside the journal, one file per upload:
//
//	files/<bucket>/<id>             the bytes, mode 0600, in directories of mode 0700
//	files/<bucket>/.tmp-<id>-<rand> an upload in progress, or one a crash interrupted
//
// PutFile writes a temp file in the bucket's directory, fsyncs it, renames it
// to its id and fsyncs the directory, so the bytes are durable before the
// record that points at them is committed. A crash leaves at worst a temp
// file, which Open removes, or a file no record points at yet, which
// SweepOrphanFiles removes.

// filesDir is the directory under the store's that holds the buckets.
const filesDir = "files"

// tempPrefix starts the name of every temp file of an upload. Ids are hex,
// so no stored file's name starts with a dot.
const tempPrefix = ".tmp-"

// copyBufferSize is how much of an upload is in memory at once.
const copyBufferSize = 64 << 10

// filePath returns where (bucket, id) is stored, or an error wrapping
// user.ErrInvalidFileKey: nothing a caller passes becomes a path unchecked.
func (s *Store) filePath(bucket, id string) (string, error) {
	if err := user.CheckFileKey(bucket, id); err != nil {
		return "", fmt.Errorf("filestore: %w", err)
	}
	return filepath.Join(s.dir, filesDir, bucket, id), nil
}

// PutFile implements user.FileStore. The bytes are copied through a small
// buffer, never held whole in memory.
func (s *Store) PutFile(ctx context.Context, bucket, id string, r io.Reader) (int64, error) {
	path, err := s.filePath(bucket, id)
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	// Refuse a taken id before copying anything; the check that counts is
	// the one made under filesMu before the rename.
	if _, err := os.Lstat(path); err == nil {
		return 0, fmt.Errorf("filestore: file %s/%s: %w", bucket, id, fs.ErrExist)
	}
	dir := filepath.Dir(path)
	if err := makeDir(dir, !s.opts.NoSync); err != nil {
		return 0, unavailableIfDisk(fmt.Errorf("filestore: %w", err))
	}
	tmp, err := os.CreateTemp(dir, tempPrefix+id+"-*") // mode 0600
	if err != nil {
		return 0, unavailableIfDisk(fmt.Errorf("filestore: %w", err))
	}
	n, err := s.writeTemp(ctx, tmp, r)
	if err == nil {
		err = s.commitFile(tmp.Name(), path, bucket, id)
	}
	if err != nil {
		os.Remove(tmp.Name())
		// A full or read-only disk is the service being unavailable, not
		// the upload being wrong: callers answer 503 and the client may
		// retry. The temp file is gone either way.
		return 0, unavailableIfDisk(err)
	}
	return n, nil
}

// writeTemp copies r to tmp, stopping when ctx is done, fsyncs and closes
// tmp.
func (s *Store) writeTemp(ctx context.Context, tmp *os.File, r io.Reader) (int64, error) {
	n, err := io.CopyBuffer(tmp, ctxReader{ctx, r}, make([]byte, copyBufferSize))
	if err == nil && !s.opts.NoSync {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("filestore: write file: %w", err)
	}
	return n, nil
}

// commitFile renames the synced temp file to path, unless path exists, and
// makes the rename durable. filesMu makes the check and the rename one step:
// the directory lock already keeps other processes out.
func (s *Store) commitFile(tmp, path, bucket, id string) error {
	s.filesMu.Lock()
	defer s.filesMu.Unlock()
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("filestore: file %s/%s: %w", bucket, id, fs.ErrExist)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("filestore: %w", err)
	}
	if !s.opts.NoSync {
		if err := syncDir(filepath.Dir(path)); err != nil {
			// The bytes are in place but their name may not survive a
			// crash: take them back and report the failure.
			os.Remove(path)
			return fmt.Errorf("filestore: fsync %s: %w", filepath.Dir(path), err)
		}
	}
	return nil
}

// ctxReader is r that fails with ctx's error once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// OpenFile implements user.FileStore.
func (s *Store) OpenFile(ctx context.Context, bucket, id string) (user.File, error) {
	path, err := s.filePath(bucket, id)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("filestore: file %s/%s: %w", bucket, id, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("filestore: %w", err)
	}
	return &file{File: f, size: info.Size()}, nil
}

// file is an open stored file: an *os.File, which seeks by itself, and its
// size when it was opened (a stored file never changes).
type file struct {
	*os.File
	size int64
}

func (f *file) Size() int64 { return f.size }

// DeleteFile implements user.FileStore. The removal is not fsynced: a crash
// that undoes it leaves an orphan, which SweepOrphanFiles removes.
func (s *Store) DeleteFile(ctx context.Context, bucket, id string) error {
	path, err := s.filePath(bucket, id)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.filesMu.Lock()
	defer s.filesMu.Unlock()
	if err := os.Remove(path); err != nil {
		return unavailableIfDisk(fmt.Errorf("filestore: file %s/%s: %w", bucket, id, err))
	}
	return nil
}

// removeTempFiles removes the temp files that interrupted uploads left in
// every bucket. Open calls it: no upload of this process is in flight yet,
// and the directory lock keeps every other process out.
func (s *Store) removeTempFiles(ctx context.Context) error {
	root := filepath.Join(s.dir, filesDir)
	buckets, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("filestore: %w", err)
	}
	for _, b := range buckets {
		if b.IsDir() && validBucketName(b.Name()) {
			if _, err := s.sweepBucket(ctx, b.Name(), func(string) bool { return true }, time.Now().Add(time.Hour)); err != nil {
				return err
			}
		}
	}
	return nil
}

// validBucketName reports whether name can be a bucket: one CheckFileKey
// accepts.
func validBucketName(name string) bool {
	return user.CheckFileKey(name, "000000000000000000000000") == nil
}

// SweepOrphanFiles removes, from one bucket, the stored files that no record
// points at (keep(id) is false) and the temp files of interrupted uploads,
// provided they were last written before the time given, and returns how
// many it removed. The age bound is what makes it safe while uploads run:
// an upload in progress, or one whose record is about to be committed, is
// younger than any bound a caller uses (an hour), and at start-up, before
// the server listens, a bound of now takes everything. Names that are
// neither a temp file nor an id are left alone: they are not the store's.
// Only the bucket named is looked at, so a bucket nobody declared is never
// emptied by mistake.
func (s *Store) SweepOrphanFiles(ctx context.Context, bucket string, keep func(id string) bool, before time.Time) (int, error) {
	if !validBucketName(bucket) {
		return 0, fmt.Errorf("filestore: sweep: %w", user.ErrInvalidFileKey)
	}
	return s.sweepBucket(ctx, bucket, keep, before)
}

func (s *Store) sweepBucket(ctx context.Context, bucket string, keep func(id string) bool, before time.Time) (int, error) {
	dir := filepath.Join(s.dir, filesDir, bucket)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("filestore: %w", err)
	}
	removed := 0
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		name := e.Name()
		temp := strings.HasPrefix(name, tempPrefix)
		orphan := !temp && e.Type().IsRegular() && user.CheckFileKey(bucket, name) == nil && !keep(name)
		if !temp && !orphan {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed meanwhile
		}
		if err != nil {
			return removed, fmt.Errorf("filestore: %w", err)
		}
		if !info.ModTime().Before(before) {
			continue
		}
		s.filesMu.Lock()
		err = os.Remove(filepath.Join(dir, name))
		s.filesMu.Unlock()
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("filestore: %w", err)
		}
		removed++
	}
	return removed, nil
}
