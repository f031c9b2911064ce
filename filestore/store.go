// Package filestore keeps corkboard's data in a local directory as
// human-readable JSON: one Store implements every store interface of the
// domain packages (user.Store, auth.SessionStore, board.Store, ...).
//
// The whole state lives in memory, so reads are map lookups. Every change is
// a batch appended as one JSON line to a journal file (journal-000001.jsonl,
// ...), and a write is acknowledged only after an fsync that covers its line.
// Concurrent writers share fsyncs (group commit), so throughput holds up under
// load. When the journal grows past Options.CompactBytes, a background
// compaction writes the whole state to snapshot.json (temp file, fsync,
// rename, fsync of the directory) and removes the journals it covers, so a
// write never costs more because the store is large.
//
// Open takes an exclusive lock on the directory, loads the snapshot and
// replays the journals. A torn last line — what a crash in the middle of an
// append leaves behind, and never an acknowledged write — is dropped with a
// warning; any other damage makes Open fail with ErrCorrupt rather than
// silently lose data. A journal write the disk refuses (full, read-only) is
// cut back and rolled back, and writes resume once the disk takes them; after
// a failed fsync the store stops taking writes (ErrFailed), because nothing
// can then be assumed about what reached the disk, and a restart recovers
// from the files (see rollback in commit.go).
//
// Directory layout:
//
//	LOCK                 flock(2)-ed while a process has the store open; holds its pid
//	snapshot.json        the full state, by kind, and the last journal and batch it covers
//	snapshot.json.tmp    a snapshot being written (removed at start)
//	journal-NNNNNN.jsonl batches of changes, one JSON object per line
//	files/<bucket>/<id>  the bytes of an uploaded file (see files.go)
//
// Every change puts or deletes one record of one kind, so the files treat
// all kinds alike (format version 2; version 1 files are read too, see
// format_v1.go):
//
//	{"version":2,"seq":7,"changes":[{"op":"put","kind":"user","id":"…","record":{…}},{"op":"delete","kind":"session","id":"…"}]}
//	{"version":2,"journal":3,"seq":120,"records":{"user":[…],"session":[…]}}
//
// # Files
//
// Each kind of record has its own file, named like its counterpart in
// mongostore: users.go, sessions.go, boards.go and the others hold the kind's table (its records in
// memory, with their indexes) and the Store methods of its interface. The
// rest is the same for every kind: state.go (the table interface and the
// list of tables, applying batches), format.go and format_v1.go (the files'
// formats), commit.go (the write path and group commit), compact.go
// (snapshots), open.go (locking, loading, recovery).
//
// # Adding a record kind
//
// Boards and notifications were added this way:
//
//  1. Write boards.go: the kind's name (const boardKind = "board"); a
//     boardTable type with the methods of table (kind, reset, decode,
//     validate, put, delete, check, list); and the Store methods of the
//     interface package board declares, which read the table under s.mu and
//     write through s.update, returning putChange(boardKind, …) and
//     deleteChange(boardKind, …).
//  2. In state.go, add the table to state and to state.tables: one line
//     each.
//
// The journal, snapshots, loading, compaction and recovery then handle
// boards like users and sessions, and nothing in the version 1 reader
// changes. A directory written before a kind existed simply has no records
// of it, and opens as before. Export and import have their own list of kinds (exportKinds in
// package main).
package filestore

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"

	"corkboard/auth"
	"corkboard/board"
	"corkboard/user"
)

// Errors returned by Open and by a Store, besides those of the interfaces it
// implements.
var (
	// ErrLocked: another process (or another Store in this process) has
	// the data directory open.
	ErrLocked = errors.New("data directory is locked")
	// ErrCorrupt: a snapshot or journal holds something other than a torn
	// last line; Open refuses to guess rather than drop data.
	ErrCorrupt = errors.New("corrupt data file")
	// ErrFailed: a journal fsync failed (or a refused write could not be
	// undone), so the store takes no more writes until it is reopened from
	// disk; reads go on unless memory could not be made to match the files.
	// The errors that wrap it are unavailable (see unavailableError), so
	// HTTP handlers answer 503.
	ErrFailed = errors.New("file store stopped after a disk error; restart to recover")
	// ErrClosed: the Store was closed. It is unavailable too: a request
	// still running when the server gives up waiting at shutdown gets a 503.
	ErrClosed error = &unavailableError{errors.New("file store is closed")}
)

// unavailableError marks a failure that is temporary from a client's point
// of view: the service will answer again once it is restarted or reopened.
// Its Unavailable method is how callers tell (errors.As), the way net.Error
// has Timeout; the store itself knows nothing of HTTP.
type unavailableError struct{ err error }

func (e *unavailableError) Error() string     { return e.err.Error() }
func (e *unavailableError) Unwrap() error     { return e.err }
func (e *unavailableError) Unavailable() bool { return true }

// defaultCompactBytes is the journal size that triggers a compaction when
// Options.CompactBytes is zero.
const defaultCompactBytes = 8 << 20

// Options tune a Store. The zero value is right for production.
type Options struct {
	// CompactBytes is the journal size past which a background compaction
	// writes a new snapshot; it also waits until the journal is larger than
	// the last snapshot, so that a big store is not rewritten too often.
	// Zero means 8 MiB.
	CompactBytes int64

	// NoCompaction turns compaction off, so that the store writes no new
	// snapshot or journal file: for a command that only reads (an export
	// run by another user than the service's must not leave files in the
	// directory that the service cannot open).
	NoCompaction bool

	// Logger receives a warning when a torn journal tail is dropped at
	// start and errors from failed writes and compactions. Nil discards.
	Logger *slog.Logger

	// NoSync skips every fsync, so a crash of the machine can lose
	// acknowledged writes. It exists only as a benchmark baseline and for
	// fast test set-up; never use it for real data.
	NoSync bool

	// SyncEachWrite turns group commit off: each write holds a lock while
	// it applies, writes and fsyncs its own batch, as a naive store would.
	// It is durable but slow under load, and exists only as a benchmark
	// baseline for group commit.
	SyncEachWrite bool
}

// Store is the file store. It is safe for concurrent use. Open it with Open
// and release the directory with Close.
type Store struct {
	dir  string
	opts Options
	log  *slog.Logger
	lock *os.File // the flock-ed LOCK file, held until Close

	// mu guards the in-memory state and everything the write path changes
	// under it. Reads take it shared; a write holds it only to check its
	// constraints, apply its batch and queue the encoded line, never across
	// disk I/O.
	mu           sync.RWMutex
	st           state
	seq          uint64 // the last batch number handed out
	pending      []byte // encoded batches not yet written to the journal
	journalNum   int    // the journal that pending lines go to
	journalSize  int64  // its size, pending lines included
	snapshotSize int64  // size of the last snapshot written or loaded
	closed       bool
	compacting   bool
	compactAfter atomic.Int64 // no compaction starts before this (Unix ns), after one failed

	// syncMu is held by the one goroutine that writes pending lines to the
	// journal and fsyncs it; lock order is syncMu before mu.
	syncMu      sync.Mutex
	journal     *os.File // guarded by syncMu
	durableSize int64    // the journal's bytes known to be on disk; guarded by syncMu
	spare       []byte   // a drained pending buffer kept for reuse; guarded by syncMu
	synced      atomic.Uint64
	failed      atomic.Pointer[error]
	brokenReads atomic.Bool // reads fail too: memory and the files may differ

	// rounds lets writers wait for the group commit under way without
	// queueing on syncMu (see waitDurable).
	rounds syncRounds

	// After the disk refused a journal write (see rollback): gen counts the
	// rollbacks, rollbacks[g] says how generation g ended (guarded by
	// syncMu), and writes get refused's error until retryAt (Unix ns).
	gen       atomic.Uint64
	rollbacks []rollbackInfo
	refused   atomic.Pointer[error]
	retryAt   atomic.Int64

	// snapMu is held while a compaction replaces the snapshot and removes
	// the journals it covers, and while a rollback reads them; lock order
	// is syncMu, snapMu, mu.
	snapMu sync.Mutex

	// readOnly is set on the throwaway Store a rollback loads the files
	// into: it reads them and changes nothing on disk.
	readOnly bool

	serial      sync.Mutex // held across a whole write with Options.SyncEachWrite
	compactions sync.WaitGroup

	// filesMu makes a stored file's existence check and its rename (or
	// removal) one step; see files.go.
	filesMu sync.Mutex
}

// Compile-time checks that Store implements the domain interfaces.
var (
	_ user.Store        = (*Store)(nil)
	_ auth.SessionStore = (*Store)(nil)
	_ auth.TokenStore   = (*Store)(nil)
	_ user.FileStore    = (*Store)(nil)
	_ board.Store       = (*Store)(nil)
)

// Check reports whether the store can take writes: nil when healthy, else
// the failure that stopped it or ErrClosed. It is for /healthz.
func (s *Store) Check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.failure(); err != nil {
		return err
	}
	if err := s.resting(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	return nil
}

// Close waits for a running compaction, writes and fsyncs what is pending,
// closes the journal and releases the directory lock. Writes after Close
// fail with ErrClosed; reads keep answering from memory. Closing twice is
// harmless.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()

	// No compaction can start now that closed is set, so Wait cannot race
	// with Add.
	s.compactions.Wait()

	s.syncMu.Lock()
	err := s.flushPending()
	if s.journal != nil {
		if cerr := s.journal.Close(); err == nil && cerr != nil {
			err = cerr
		}
		s.journal = nil
	}
	s.syncMu.Unlock()

	// Closing the file releases the flock.
	if cerr := s.lock.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return err
}

// eachOf calls fn with each of list, stopping at the first error or when
// ctx ends: the Each methods, once they have copied what they list under
// the read lock.
func eachOf[T any](ctx context.Context, list []T, fn func(T) error) error {
	for _, x := range list {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(x); err != nil {
			return err
		}
	}
	return nil
}
