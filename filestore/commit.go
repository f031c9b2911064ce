package filestore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"
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
	gen := s.gen.Load()
	changes, err := decide(&s.st)
	if err != nil || len(changes) == 0 {
		seen := s.seq
		s.mu.Unlock()
		if werr := s.waitDurable(seen, gen); werr != nil {
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
	return s.waitDurable(seq, gen)
}

// writableLocked reports why the store cannot take a write, if it cannot:
// closed, stopped for good, or resting after a journal write the disk
// refused (see rollback).
func (s *Store) writableLocked() error {
	if s.closed {
		return ErrClosed
	}
	if err := s.failure(); err != nil {
		return err
	}
	return s.resting()
}

// resting returns the error of the last refused journal write while the
// store waits before trying the disk again, or nil.
func (s *Store) resting() error {
	if p := s.refused.Load(); p != nil && time.Now().UnixNano() < s.retryAt.Load() {
		return *p
	}
	return nil
}

// commitLocked gives changes the next sequence number, applies them to
// memory and queues their journal line. The line is encoded before anything
// changes, so an encoding error leaves the store as it was.
//
// The line is appended to the pending queue's buffer in place, but the
// queue's length only moves once the batch is applied: after a failure,
// what was appended lies past the queue's end, where nothing reads it.
func (s *Store) commitLocked(changes []change) (uint64, error) {
	seq := s.seq + 1
	pending, err := appendLine(s.pending, seq, changes)
	if err != nil {
		return 0, fmt.Errorf("filestore: encode batch: %w", err)
	}
	if err := s.st.applyBatch(changes); err != nil {
		return 0, fmt.Errorf("filestore: invalid batch: %w", err) // a bug in this package
	}
	s.journalSize += int64(len(pending) - len(s.pending))
	s.pending = pending
	s.seq = seq
	return seq, nil
}

// waitDurable returns once batch seq of generation gen is written and
// fsynced, or the error that kept it off the disk. This is group commit:
// one writer at a time, the leader, writes every pending line, not just its
// own, and fsyncs once; the writers that waited meanwhile then find their
// batch already synced and return without touching the disk.
//
// The others wait for the leader's round to end (syncRound), not for
// syncMu: queued on the mutex, they would wake one by one, each only once
// the one before it had run, and those whose batch the round covered would
// still wait behind a writer that took the mutex for the next round, a
// whole fsync more. Under load (64 clients refreshing) that queue, not the
// disk, set the pace; the mutex profile showed it.
//
// A generation ends when a refused journal write rolls the state back (see
// rollback): its batches after the last durable one are gone, and their
// numbers are given out again, so a batch is checked against the
// generation it was made in.
func (s *Store) waitDurable(seq, gen uint64) error {
	for {
		// synced is loaded before gen: a rollback moves gen on before any
		// batch of the next generation is synced, so an unchanged gen
		// means the synced value is of this generation.
		if s.synced.Load() >= seq && s.gen.Load() == gen {
			return nil
		}
		s.rounds.mu.Lock()
		if done := s.rounds.running; done != nil {
			s.rounds.mu.Unlock()
			<-done // then look again: the round may have covered seq
			continue
		}
		done := make(chan struct{})
		s.rounds.running = done
		s.rounds.mu.Unlock()

		err := s.syncRound(seq, gen)

		s.rounds.mu.Lock()
		s.rounds.running = nil
		s.rounds.mu.Unlock()
		close(done)
		return err
	}
}

// syncRounds lets writers wait for the group commit under way.
type syncRounds struct {
	mu      sync.Mutex
	running chan struct{} // closed when the round under way ends; nil if none
}

// syncRound makes batch seq of generation gen durable if no one has, as
// the leader of a group commit: under syncMu, it writes and fsyncs every
// pending line.
func (s *Store) syncRound(seq, gen uint64) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if err := s.rolledBack(seq, gen); err != nil || s.gen.Load() != gen {
		return err
	}
	if s.synced.Load() >= seq {
		return nil
	}
	return s.flushPending()
}

// rolledBack returns the error that undid batch seq of generation gen, or
// nil if the batch is not of an ended generation or was durable before it
// ended. syncMu must be held.
func (s *Store) rolledBack(seq, gen uint64) error {
	if gen >= uint64(len(s.rollbacks)) {
		return nil
	}
	if r := s.rollbacks[gen]; seq > r.durable {
		return r.err
	}
	return nil
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
		return s.rollback(fmt.Errorf("write journal: %w", err), false)
	}
	if !s.opts.NoSync {
		if err := s.journal.Sync(); err != nil {
			return s.rollback(fmt.Errorf("fsync journal: %w", err), true)
		}
	}
	s.durableSize += int64(len(buf))
	s.synced.Store(upTo)
	if cap(buf) <= maxSpare {
		s.spare = buf[:0]
	}
	return nil
}

// retryDelay is how long the store refuses writes after the disk refused a
// journal write, before it tries the disk again: each refusal costs a
// reload of the state from the files, so a full disk under load costs one
// reload a second, not one per request.
const retryDelay = time.Second

// rollback undoes what a failed journal write or fsync leaves behind, so
// that neither the files nor memory hold a batch whose writer is told it
// failed. syncMu must be held.
//
// The journal is cut back to its last durable byte, so no torn half line
// stays for the next append to follow (Open would call that corruption, or
// the next line would be lost with it). Memory, which already holds the
// failed batches and any queued behind them, is rebuilt from the files;
// those batches' writers get the error, and the generation moves on.
//
// After a refused write (a full disk, a read-only file system, a quota) the
// store rests for retryDelay and then takes writes again: nothing it
// acknowledged was touched, and the files are as they were. After a failed
// fsync it stops taking writes until a restart: Linux may have dropped the
// dirty pages and marked them clean, so the page cache can no longer be
// trusted to say what is on the disk, and a later fsync that succeeds
// proves nothing about the earlier data. Reads go on from the rebuilt
// memory, which holds only what was fsynced before. If the journal cannot
// be cut back or the files cannot be read, the store stops serving reads
// too, as memory then holds changes the files may not.
func (s *Store) rollback(cause error, fsyncFailed bool) error {
	var err error = &unavailableError{fmt.Errorf("filestore: the disk refused a journal write, nothing was changed: %w", cause)}
	if terr := s.truncateJournal(); terr != nil {
		ferr := s.fail(fmt.Errorf("%w; then cut back the journal: %w", cause, terr))
		s.breakReads()
		return ferr
	}
	if lerr := s.reload(err); lerr != nil {
		ferr := s.fail(fmt.Errorf("%w; then reload the state: %w", cause, lerr))
		s.breakReads()
		return ferr
	}
	if fsyncFailed {
		return s.fail(cause)
	}
	s.refused.Store(&err)
	s.retryAt.Store(time.Now().Add(retryDelay).UnixNano())
	s.log.Error("file store refused a write: the disk did not take the journal line; nothing acknowledged is lost, writes are retried",
		"dir", s.dir, "err", cause, "retry_in", retryDelay)
	return err
}

// truncateJournal cuts the journal back to its last durable byte and makes
// the cut durable. syncMu must be held.
func (s *Store) truncateJournal() error {
	if err := s.journal.Truncate(s.durableSize); err != nil {
		return err
	}
	if !s.opts.NoSync {
		return s.journal.Sync()
	}
	return nil
}

// reload rebuilds memory from the files, which hold exactly the batches up
// to the last synced one, and ends the generation: every batch after that
// one gets err. syncMu must be held; snapMu keeps a compaction from
// replacing the snapshot and removing journals while they are read.
func (s *Store) reload(err error) error {
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	r := &Store{dir: s.dir, opts: s.opts, log: s.log, st: newState(), readOnly: true}
	if _, _, lerr := r.loadState(); lerr != nil {
		return lerr
	}
	durable := s.synced.Load()
	if r.seq != durable {
		return fmt.Errorf("the files hold batches up to %d, want %d", r.seq, durable)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st = r.st
	s.seq = durable
	s.pending = s.pending[:0]
	s.journalSize = s.durableSize
	s.rollbacks = append(s.rollbacks, rollbackInfo{durable: durable, err: err})
	s.gen.Add(1)
	return nil
}

// rollbackInfo records how a generation ended: its batches up to durable
// are on disk, the rest were undone with err.
type rollbackInfo struct {
	durable uint64
	err     error
}

// breakReads makes reads fail too: memory holds changes that the files may
// not, and serving them would be worse than answering 503.
func (s *Store) breakReads() { s.brokenReads.Store(true) }

// readable returns why reads cannot be served, or nil: only after a failure
// that left memory and the files apart.
func (s *Store) readable() error {
	if s.brokenReads.Load() {
		return s.failure()
	}
	return nil
}

// diskRefused reports whether err is the disk refusing a write, as opposed
// to a bug or bad input: full, read-only, over quota, not permitted, or an
// I/O error. Such an error is unavailable to callers: it passes.
func diskRefused(err error) bool {
	for _, e := range []error{syscall.ENOSPC, syscall.EDQUOT, syscall.EROFS, syscall.EACCES, syscall.EPERM, syscall.EIO, syscall.EFBIG} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// unavailableIfDisk marks err unavailable when the disk refused a write.
func unavailableIfDisk(err error) error {
	if err != nil && diskRefused(err) {
		return &unavailableError{err}
	}
	return err
}

// fail puts the store into the failed state, if it is not already, and
// returns the failure every later write will get; reads fail too if
// breakReads was called (see rollback).
func (s *Store) fail(cause error) error {
	var err error = &unavailableError{fmt.Errorf("filestore: %w: %w", ErrFailed, cause)}
	if s.failed.CompareAndSwap(nil, &err) {
		s.log.Error("file store stopped taking writes after a disk error; restart to recover", "dir", s.dir, "err", cause)
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
