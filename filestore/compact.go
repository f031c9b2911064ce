package filestore

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// claimCompactionLocked reports whether a compaction should start now and,
// if so, marks one as running, so that there is only ever one. A compaction
// is due when the current journal is past Options.CompactBytes and larger
// than the last snapshot: rewriting a big state for a small journal would
// cost more than replaying the journal. mu must be held.
func (s *Store) claimCompactionLocked() bool {
	if s.opts.NoCompaction || s.compacting || s.closed || s.failure() != nil ||
		s.journalSize <= s.opts.CompactBytes || s.journalSize <= s.snapshotSize ||
		time.Now().UnixNano() < s.compactAfter.Load() {
		return false
	}
	s.compacting = true
	s.compactions.Add(1)
	return true
}

// compact writes a snapshot of the state and removes the journals it
// covers. Writers are held up only while the journal is switched and the
// state copied; encoding and writing the snapshot happen without locks. If
// writing the snapshot fails, nothing is lost: the journals still hold every
// change, and the next compaction covers them all.
func (s *Store) compact() {
	defer s.compactions.Done()
	defer func() {
		s.mu.Lock()
		s.compacting = false
		s.mu.Unlock()
	}()

	build, err := s.switchJournal()
	if err != nil {
		if !errors.Is(err, ErrClosed) {
			s.log.Error("compaction: switch journal", "dir", s.dir, "err", err)
			s.compactLater()
		}
		return
	}
	// Made from the copy taken under the lock, and out of syncMu: the
	// writers waiting for an fsync need not wait for it.
	snap := build()
	s.snapMu.Lock()
	size, err := s.saveSnapshot(&snap)
	if err == nil {
		s.removeJournals(snap.Journal)
	}
	s.snapMu.Unlock()
	if err != nil {
		s.log.Error("compaction: write snapshot; the journals still hold every change", "dir", s.dir, "err", err)
		s.compactLater()
		return
	}
	s.mu.Lock()
	s.snapshotSize = size
	s.mu.Unlock()
}

// compactRetryDelay is how long a failed compaction waits before the next
// is tried: on a full disk, every write would otherwise start one.
const compactRetryDelay = 10 * time.Second

// compactLater holds compactions off for compactRetryDelay.
func (s *Store) compactLater() {
	s.compactAfter.Store(time.Now().Add(compactRetryDelay).UnixNano())
}

// switchJournal directs new batches to a fresh journal and returns what
// makes a snapshot of the state as of the last batch of the old one (from a
// copy taken under the store's lock). It holds syncMu throughout,
// so that the old journal is complete and fsynced before any line reaches
// the new one: otherwise a crash could leave a torn line in a journal that
// is not the last, which Open must treat as corruption.
func (s *Store) switchJournal() (func() snapshot, error) {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if err := s.failure(); err != nil {
		return nil, err
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	buf, upTo := s.takePendingLocked()
	copied := s.st.copyRecordsLater()
	journal, next := s.journalNum, s.journalNum+1
	s.mu.Unlock()
	build := func() snapshot {
		snap := copied()
		snap.Journal, snap.Seq = journal, upTo
		return snap
	}

	if err := s.flush(buf, upTo); err != nil {
		return nil, err
	}
	// A journal that cannot be created (a full or read-only disk) costs
	// only this compaction: the old journal stays open and complete, and
	// journalNum is not moved on, so no journal number is skipped.
	f, err := s.createJournal(next)
	if err != nil {
		return nil, err
	}
	if err := s.journal.Close(); err != nil {
		// Everything in it is already fsynced.
		s.log.Warn("compaction: close old journal", "dir", s.dir, "err", err)
	}
	s.journal = f
	s.durableSize = 0
	// Lines queued since the pending buffer was taken go to the new
	// journal, so they count toward its size.
	s.mu.Lock()
	s.journalNum = next
	s.journalSize = int64(len(s.pending))
	s.mu.Unlock()
	return build, nil
}

// createJournal creates journal n for appending and makes its directory
// entry durable before any write in it can be acknowledged.
func (s *Store) createJournal(n int) (*os.File, error) {
	f, err := os.OpenFile(s.path(journalName(n)), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create journal: %w", err)
	}
	if !s.opts.NoSync {
		if err := syncDir(s.dir); err != nil {
			// The empty file must not stay: the next try creates the
			// same name with O_EXCL and would fail for ever.
			f.Close()
			os.Remove(f.Name())
			return nil, fmt.Errorf("create journal: fsync directory: %w", err)
		}
	}
	return f, nil
}

// saveSnapshot writes snap to a temporary file, fsyncs it, renames it over
// snapshot.json and fsyncs the directory, so that at every moment either
// the old or the new snapshot is whole on disk. It returns the size written.
func (s *Store) saveSnapshot(snap *snapshot) (int64, error) {
	tmp := s.path(tempName)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	cw := &countingWriter{w: f}
	err = writeSnapshot(cw, snap)
	if err == nil && !s.opts.NoSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return 0, err
	}
	if err := os.Rename(tmp, s.path(snapshotName)); err != nil {
		os.Remove(tmp)
		return 0, err
	}
	if !s.opts.NoSync {
		if err := syncDir(s.dir); err != nil {
			// The rename may not be durable yet: keep the journals.
			return 0, fmt.Errorf("fsync directory: %w", err)
		}
	}
	return cw.n, nil
}

// removeJournals removes the journals numbered up to upTo, which a durable
// snapshot covers. A journal left behind is harmless: Open removes covered
// journals too.
func (s *Store) removeJournals(upTo int) {
	nums, err := listJournals(s.dir)
	if err != nil {
		s.log.Warn("compaction: list journals", "dir", s.dir, "err", err)
		return
	}
	for _, n := range nums {
		if n > upTo {
			break
		}
		if err := os.Remove(s.path(journalName(n))); err != nil {
			s.log.Warn("compaction: remove covered journal", "dir", s.dir, "err", err)
		}
	}
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
