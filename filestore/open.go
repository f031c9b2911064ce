package filestore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// Open opens the store in dir, creating the directory (mode 0700) if it is
// missing. It fails at once with an error wrapping ErrLocked if another
// process or Store has dir open, and with one wrapping ErrCorrupt if the
// files hold anything but a torn last journal line, which it drops with a
// warning.
func Open(dir string, opts Options) (*Store, error) {
	if opts.CompactBytes <= 0 {
		opts.CompactBytes = defaultCompactBytes
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := makeDir(dir, !opts.NoSync); err != nil {
		return nil, fmt.Errorf("filestore: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s := &Store{dir: dir, opts: opts, log: log, lock: lock, st: newState()}
	if err := s.load(); err != nil {
		if s.journal != nil {
			s.journal.Close()
		}
		lock.Close()
		return nil, err
	}
	// Temp files of uploads that a crash interrupted were never
	// acknowledged.
	if err := s.removeTempFiles(context.Background()); err != nil {
		s.journal.Close()
		lock.Close()
		return nil, err
	}

	// A long journal left by the last run is compacted now, not at the
	// first write.
	s.mu.Lock()
	compact := s.claimCompactionLocked()
	s.mu.Unlock()
	if compact {
		go s.compact()
	}
	return s, nil
}

// makeDir creates dir and any missing parents with mode 0700, like
// os.MkdirAll, and with sync fsyncs the parent of each directory it creates:
// journal entries made durable inside a directory whose own entry is not
// would vanish with it after a power loss.
func makeDir(dir string, sync bool) error {
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := makeDir(parent, sync); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if sync {
		return syncDir(parent)
	}
	return nil
}

// lockDir takes an exclusive flock on dir/LOCK without waiting. flock locks
// belong to the open file, so a second Open in the same process conflicts
// too, and the kernel releases the lock when the process dies, however it
// dies.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("filestore: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("filestore: data directory %s is in use by another corkboard process (%w)", dir, ErrLocked)
		}
		return nil, fmt.Errorf("filestore: lock %s: %w", dir, err)
	}
	// The pid is for a person wondering who holds the directory; the lock
	// itself is the flock. Overwriting in place and then cutting the rest
	// avoids truncating to zero, which is slow on some file systems.
	pid := []byte(strconv.Itoa(os.Getpid()) + "\n")
	if _, err := f.WriteAt(pid, 0); err == nil {
		f.Truncate(int64(len(pid)))
	}
	return f, nil
}

// load rebuilds the state from the snapshot and the journals after it, and
// opens the last journal for appending.
func (s *Store) load() error {
	// A temporary snapshot is one that a crash interrupted before its
	// rename; the snapshot it was meant to replace is whole.
	if err := os.Remove(s.path(tempName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("filestore: %w", err)
	}
	nums, covered, err := s.loadState()
	if err != nil {
		return err
	}
	return s.openJournal(nums, covered)
}

// loadState rebuilds the state from the snapshot and the journals after it,
// and returns the numbers of those journals and the last one the snapshot
// covers. Unless s.readOnly, it removes covered journals and repairs a torn
// last line; a read-only load fails on a torn line instead.
func (s *Store) loadState() (nums []int, covered int, err error) {
	// A snapshot this package wrote loads on every core (snapload.go);
	// any other is read as before, from a fresh state.
	snap, size, ok := loadCanonicalSnapshot(s.path(snapshotName), &s.st, !s.readOnly)
	if !ok {
		s.st = newState()
		var err error
		if snap, size, err = readSnapshot(s.path(snapshotName), &s.st); err != nil {
			return nil, 0, err
		}
		// Loading a snapshot goes through the same applyBatch as the journal.
		for _, k := range snap.Kinds {
			if len(k.Records) == 0 {
				continue
			}
			if err := s.st.applyBatch(k.Records); err != nil {
				return nil, 0, fmt.Errorf("filestore: %s: %w: %v", s.path(snapshotName), ErrCorrupt, err)
			}
		}
	}
	s.snapshotSize = size

	nums, err = s.dropCoveredJournals(snap.Journal)
	if err != nil {
		return nil, 0, err
	}
	last := snap.Seq
	for i, n := range nums {
		if want := snap.Journal + 1 + i; n != want {
			return nil, 0, fmt.Errorf("filestore: %s: %w: %s is missing", s.path(journalName(n)), ErrCorrupt, journalName(want))
		}
		if last, err = s.replay(n, last, snap.Seq, i == len(nums)-1); err != nil {
			return nil, 0, err
		}
	}
	if err := s.st.check(); err != nil {
		return nil, 0, fmt.Errorf("filestore: %s: %w: %v", s.dir, ErrCorrupt, err)
	}
	s.seq = last
	s.synced.Store(last)
	return nums, snap.Journal, nil
}

// dropCoveredJournals removes the journals a snapshot covers, which a crash
// during compaction can leave behind, and returns the numbers of the rest.
func (s *Store) dropCoveredJournals(covered int) ([]int, error) {
	nums, err := listJournals(s.dir)
	if err != nil {
		return nil, err
	}
	i := 0
	for i < len(nums) && nums[i] <= covered {
		i++
	}
	if i == 0 || s.readOnly {
		return nums[i:], nil
	}
	// The snapshot's rename must be durable before the journals it
	// replaces go.
	if !s.opts.NoSync {
		if err := syncDir(s.dir); err != nil {
			return nil, fmt.Errorf("filestore: %w", err)
		}
	}
	for _, n := range nums[:i] {
		if err := os.Remove(s.path(journalName(n))); err != nil {
			return nil, fmt.Errorf("filestore: %w", err)
		}
	}
	return nums[i:], nil
}

// replay applies journal n's batches that follow batch last (batches up to
// covered are already in the snapshot) and returns the last batch applied.
// Only in the last journal may the last line be torn: it is dropped and the
// file truncated before it. Any other bad line is corruption.
func (s *Store) replay(n int, last, covered uint64, isLast bool) (uint64, error) {
	path := s.path(journalName(n))
	f, err := os.Open(path)
	if err != nil {
		return last, fmt.Errorf("filestore: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<16)
	var off int64
	for lineNo := 1; ; lineNo++ {
		line, err := r.ReadBytes('\n')
		if err != nil && err != io.EOF {
			return last, fmt.Errorf("filestore: %w", err)
		}
		if len(line) == 0 {
			return last, nil
		}
		b, torn, perr := parseLine(line)
		// A last line that lacks only its newline, but is otherwise a
		// whole batch that follows the one before and applies, is kept:
		// its write may have been acknowledged (a write is fsynced whole,
		// but a file system or a hand edit may still lose the final byte).
		// The newline is added, so the next batch starts a line of its own.
		unterminated := torn && isLast && atEOF(r) && s.completeBatch(line, last, covered)
		if unterminated {
			b, perr = decodeBatch(line)
		}
		if perr != nil {
			if torn && isLast && atEOF(r) {
				return last, s.dropTornTail(path, off, lineNo, perr)
			}
			return last, fmt.Errorf("filestore: %s line %d: %w: %v", path, lineNo, ErrCorrupt, perr)
		}
		off += int64(len(line))
		if b.Seq <= covered {
			if unterminated {
				return last, s.terminateLine(path)
			}
			continue
		}
		if b.Seq != last+1 {
			return last, fmt.Errorf("filestore: %s line %d: %w: batch %d follows batch %d", path, lineNo, ErrCorrupt, b.Seq, last)
		}
		changes, err := s.st.decode(b.Changes)
		if err == nil {
			err = s.st.applyBatch(changes)
		}
		if err != nil {
			return last, fmt.Errorf("filestore: %s line %d: %w: %v", path, lineNo, ErrCorrupt, err)
		}
		last = b.Seq
		if unterminated {
			// The last line, by definition: add its newline and stop
			// (reading on would read the newline just added).
			return last, s.terminateLine(path)
		}
	}
}

// parseLine decodes one journal line. torn reports damage that a crash in
// the middle of an append leaves: a line without its newline, or one with
// NUL bytes (a block the file system allocated but the write never filled).
// A complete line of other invalid JSON is damage to data that was already
// written, perhaps acknowledged: corruption, never dropped quietly.
func parseLine(line []byte) (b rawBatch, torn bool, err error) {
	body, complete := bytes.CutSuffix(line, []byte("\n"))
	if !complete {
		return b, true, errors.New("incomplete line (no trailing newline)")
	}
	b, err = decodeBatch(body)
	if err != nil && !json.Valid(body) {
		return b, bytes.IndexByte(body, 0) >= 0, errors.New("line is not valid JSON")
	}
	return b, false, err
}

// completeBatch reports whether line, which has no newline, is nonetheless
// a whole batch: valid, the next in sequence after last (or covered by the
// snapshot), with changes that decode and validate.
func (s *Store) completeBatch(line []byte, last, covered uint64) bool {
	b, err := decodeBatch(line)
	if err != nil || (b.Seq > covered && b.Seq != last+1) {
		return false
	}
	changes, err := s.st.decode(b.Changes)
	if err != nil {
		return false
	}
	for _, c := range changes {
		if s.st.validate(c) != nil {
			return false
		}
	}
	return true
}

// terminateLine appends the newline that the journal at path's last line
// lacks, and makes it durable.
func (s *Store) terminateLine(path string) error {
	if s.readOnly {
		return fmt.Errorf("filestore: %s: the last line lacks its newline", path)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("filestore: %w", err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("\n")); err != nil {
		return fmt.Errorf("filestore: end the last journal line: %w", err)
	}
	if !s.opts.NoSync {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("filestore: end the last journal line: %w", err)
		}
	}
	s.log.Warn("the last journal line lacked its newline; kept the batch and added the newline", "file", path)
	return nil
}

// atEOF reports whether r has nothing left to read.
func atEOF(r *bufio.Reader) bool {
	_, err := r.Peek(1)
	return err == io.EOF
}

// dropTornTail truncates the journal at path to its first off bytes, the
// lines before the torn one. The torn line was never acknowledged: a write
// is acknowledged only after its whole line, newline included, is fsynced.
func (s *Store) dropTornTail(path string, off int64, lineNo int, reason error) error {
	if s.readOnly {
		return fmt.Errorf("filestore: %s line %d: torn: %w", path, lineNo, reason)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("filestore: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("filestore: %w", err)
	}
	if err := f.Truncate(off); err != nil {
		return fmt.Errorf("filestore: drop torn journal tail: %w", err)
	}
	if !s.opts.NoSync {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("filestore: drop torn journal tail: %w", err)
		}
	}
	s.log.Warn("dropped a torn journal tail left by a crash; it held no acknowledged write",
		"file", path, "line", lineNo, "bytes", info.Size()-off, "reason", reason.Error())
	return nil
}

// openJournal opens the last journal for appending, or creates the first
// one after the snapshot when there is none.
func (s *Store) openJournal(nums []int, covered int) error {
	if len(nums) == 0 {
		s.journalNum = covered + 1
		f, err := s.createJournal(s.journalNum)
		if err != nil {
			return fmt.Errorf("filestore: %w", err)
		}
		s.journal = f
		return nil
	}
	s.journalNum = nums[len(nums)-1]
	f, err := os.OpenFile(s.path(journalName(s.journalNum)), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("filestore: %w", err)
	}
	s.journal = f
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("filestore: %w", err)
	}
	s.journalSize = info.Size()
	s.durableSize = info.Size()
	// A process killed between a write and its fsync leaves lines that
	// were never acknowledged but are now served: make them durable before
	// anything is built on them.
	if !s.opts.NoSync {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("filestore: fsync %s: %w", journalName(s.journalNum), err)
		}
	}
	return nil
}
