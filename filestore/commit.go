package filestore

import (
	"context"
	"fmt"
)

// maxSpare caps the pending buffer kept for reuse, so that one burst does
// not pin a large buffer for the life of the process.
const maxSpare = 1 << 20

// update is the one write path. Under the write lock, decide checks the
// state (uniqueness, compare-and-swap) and returns the changes to make; they
// are encoded, applied to memory and queued as one journal line. The lock is
// released before any disk I/O, and update returns only once an fsync covers
// the line, so that concurrent writers share fsyncs (see waitDurable).
//
// decide must not keep st or modify it: it only reads. When it refuses
// (returns an error) or has nothing to change (returns no changes), update
// still waits until the state it looked at is durable, so that a refusal,
// like a success, is never based on a write a crash could undo.
func (s *Store) update(ctx context.Context, decide func(st *state) ([]change, error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.opts.SyncEachWrite {
		s.serial.Lock()
		defer s.serial.Unlock()
	}

	s.mu.Lock()
	if err := s.writableLocked(); err != nil {
		s.mu.Unlock()
		return err
	}
	changes, err := decide(&s.st)
	if err != nil || len(changes) == 0 {
		seen := s.seq
		s.mu.Unlock()
		if werr := s.waitDurable(seen); werr != nil {
			return werr
		}
		return err
	}
	seq, err := s.commitLocked(changes)
	compact := err == nil && s.claimCompactionLocked()
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if compact {
		go s.compact()
	}
	return s.waitDurable(seq)
}

// writableLocked reports why the store cannot take a write, if it cannot.
func (s *Store) writableLocked() error {
	if s.closed {
		return ErrClosed
	}
	return s.failure()
}

// commitLocked gives changes the next sequence number, applies them to
// memory and queues their journal line. The line is encoded before anything
// changes, so an encoding error leaves the store as it was.
func (s *Store) commitLocked(changes []change) (uint64, error) {
	seq := s.seq + 1
	line, err := encodeLine(seq, changes)
	if err != nil {
		return 0, fmt.Errorf("filestore: encode batch: %w", err)
	}
	if err := s.st.applyBatch(changes); err != nil {
		return 0, fmt.Errorf("filestore: invalid batch: %w", err) // a bug in this package
	}
	s.pending = append(s.pending, line...)
	s.seq = seq
	s.journalSize += int64(len(line))
	return seq, nil
}

// waitDurable returns once batch seq is written and fsynced, or the error
// that stopped the store. This is group commit: whoever holds syncMu writes
// every pending line, not just its own, and fsyncs once; the writers that
// queued behind it then find their batch already synced and return without
// touching the disk.
func (s *Store) waitDurable(seq uint64) error {
	if s.synced.Load() >= seq {
		return nil
	}
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if s.synced.Load() >= seq {
		return nil
	}
	return s.flushPending()
}

// flushPending writes and fsyncs every queued line. syncMu must be held.
func (s *Store) flushPending() error {
	if err := s.failure(); err != nil {
		return err
	}
	s.mu.Lock()
	buf, upTo := s.takePendingLocked()
	s.mu.Unlock()
	return s.flush(buf, upTo)
}

// takePendingLocked hands over the queued lines and the last batch they
// hold, and starts an empty queue. mu and syncMu must be held.
func (s *Store) takePendingLocked() ([]byte, uint64) {
	buf := s.pending
	s.pending = s.spare[:0]
	s.spare = nil
	return buf, s.seq
}

// flush appends buf to the journal, fsyncs it and records that every batch
// up to upTo is durable. A failure stops the store: after a failed fsync the
// kernel may have dropped the dirty pages, so retrying could report success
// for data that never reached the disk. syncMu must be held.
func (s *Store) flush(buf []byte, upTo uint64) error {
	if len(buf) == 0 && s.synced.Load() >= upTo {
		return nil
	}
	if s.journal == nil {
		return ErrClosed
	}
	if _, err := s.journal.Write(buf); err != nil {
		return s.fail(fmt.Errorf("write journal: %w", err))
	}
	if !s.opts.NoSync {
		if err := s.journal.Sync(); err != nil {
			return s.fail(fmt.Errorf("fsync journal: %w", err))
		}
	}
	s.synced.Store(upTo)
	if cap(buf) <= maxSpare {
		s.spare = buf[:0]
	}
	return nil
}

// fail puts the store into the failed state, if it is not already, and
// returns the failure every later write and read will get. Reads fail too:
// memory may hold batches whose writers were told they failed, and serving
// them (a promotion, a revocation that will not survive a restart) would
// be worse than answering 503 until the store is reopened from disk.
func (s *Store) fail(cause error) error {
	var err error = &unavailableError{fmt.Errorf("filestore: %w: %w", ErrFailed, cause)}
	if s.failed.CompareAndSwap(nil, &err) {
		s.log.Error("file store stopped taking writes and reads after a disk error; restart to recover", "dir", s.dir, "err", cause)
	}
	return *s.failed.Load()
}

// failure returns the error that stopped the store, or nil.
func (s *Store) failure() error {
	if p := s.failed.Load(); p != nil {
		return *p
	}
	return nil
}
