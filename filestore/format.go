package filestore

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"corkboard/auth"
	"corkboard/user"
)

// Record kinds, as they appear in a change's "put" and "delete" fields.
//
// Adding a kind (boards, cards, ...) takes: a constant here, a pointer field
// in change (and in change.records), its map in state with put and delete
// cases in state.apply, and a slice in snapshot filled by state.copyRecords
// and loaded by snapshot.changes.
const (
	kindUser    = "user"
	kindSession = "session"
)

// change is one step of a batch. It either puts a whole record, replacing
// any record with the same id:
//
//	{"put":"user","user":{...}}
//
// or deletes one by id:
//
//	{"delete":"session","id":"..."}
//
// Both are idempotent, so replaying a batch the state already reflects does
// no harm. Records use the domain types' own JSON tags.
type change struct {
	Put     string        `json:"put,omitempty"`
	Delete  string        `json:"delete,omitempty"`
	ID      string        `json:"id,omitempty"`
	User    *user.User    `json:"user,omitempty"`
	Session *auth.Session `json:"session,omitempty"`
}

func putUser(u user.User) change       { return change{Put: kindUser, User: &u} }
func putSession(s auth.Session) change { return change{Put: kindSession, Session: &s} }
func deleteSession(id string) change   { return change{Delete: kindSession, ID: id} }

// records counts the records c carries; a valid change carries one or none.
func (c change) records() int {
	n := 0
	for _, present := range []bool{c.User != nil, c.Session != nil} {
		if present {
			n++
		}
	}
	return n
}

// validate reports whether c is well formed: exactly one of put and delete,
// a put carrying exactly the record its kind names, with an id.
func (c change) validate() error {
	switch {
	case c.Put != "" && c.Delete == "" && c.ID == "" && c.records() == 1:
		switch {
		case c.Put == kindUser && c.User != nil:
			return requireID(c.User.ID)
		case c.Put == kindSession && c.Session != nil:
			return requireID(c.Session.ID)
		}
		return fmt.Errorf("put %q does not carry a %[1]s record", c.Put)
	case c.Delete != "" && c.Put == "" && c.records() == 0:
		if c.Delete != kindUser && c.Delete != kindSession {
			return fmt.Errorf("delete of unknown kind %q", c.Delete)
		}
		return requireID(c.ID)
	}
	return errors.New("a change must put one record or delete one by id")
}

func requireID(id string) error {
	if id == "" {
		return errors.New("record without an id")
	}
	return nil
}

// batch is one journal line: the changes of one write, applied all or
// nothing, numbered by a sequence that grows by one per batch.
type batch struct {
	Seq     uint64   `json:"seq"`
	Changes []change `json:"changes"`
}

// encodeLine encodes b as one journal line, newline included. HTML escaping
// is off so that the files stay readable.
func encodeLine(b batch) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(b); err != nil { // Encode adds the newline
		return nil, err
	}
	return buf.Bytes(), nil
}

// decodeStrict decodes exactly one JSON value from r into v, refusing
// unknown fields and trailing data: a field this version does not know
// would be silently dropped at the next compaction.
func decodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// snapshotVersion is the snapshot format this package writes and reads.
const snapshotVersion = 1

// snapshot is the content of snapshot.json: the whole state after batch Seq,
// which is the last batch of journal Journal. Journals up to Journal are
// covered by it and may be removed.
type snapshot struct {
	Version  int            `json:"version"`
	Journal  int            `json:"journal"`
	Seq      uint64         `json:"seq"`
	Users    []user.User    `json:"users"`
	Sessions []auth.Session `json:"sessions"`
}

// changes returns the snapshot's records as put changes, so that loading a
// snapshot goes through the same apply as the journal.
func (snap *snapshot) changes() []change {
	cs := make([]change, 0, len(snap.Users)+len(snap.Sessions))
	for _, u := range snap.Users {
		cs = append(cs, putUser(u))
	}
	for _, s := range snap.Sessions {
		cs = append(cs, putSession(s))
	}
	return cs
}

// writeSnapshot encodes snap to w as one JSON document with one record per
// line, sorted by id so that two snapshots of the same state are identical
// and easy to diff.
func writeSnapshot(w io.Writer, snap *snapshot) error {
	slices.SortFunc(snap.Users, func(a, b user.User) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(snap.Sessions, func(a, b auth.Session) int { return strings.Compare(a.ID, b.ID) })
	bw := bufio.NewWriterSize(w, 1<<16)
	fmt.Fprintf(bw, "{\"version\":%d,\"journal\":%d,\"seq\":%d,\n", snap.Version, snap.Journal, snap.Seq)
	if err := writeArray(bw, "users", snap.Users, ",\n"); err != nil {
		return err
	}
	if err := writeArray(bw, "sessions", snap.Sessions, "}\n"); err != nil {
		return err
	}
	return bw.Flush()
}

// writeArray writes `"name":[` and the records one per line, then `]` and
// after.
func writeArray[T any](bw *bufio.Writer, name string, recs []T, after string) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	fmt.Fprintf(bw, "%q:[", name)
	for i, r := range recs {
		buf.Reset()
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("encode %s %d: %w", name, i, err)
		}
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteByte('\n')
		bw.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	}
	if len(recs) > 0 {
		bw.WriteByte('\n')
	}
	_, err := fmt.Fprintf(bw, "]%s", after)
	return err
}

// readSnapshot reads dir's snapshot. A missing snapshot is an empty state
// covering no journal.
func readSnapshot(path string) (snapshot, int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return snapshot{Version: snapshotVersion}, 0, nil
	}
	if err != nil {
		return snapshot{}, 0, fmt.Errorf("filestore: %w", err)
	}
	defer f.Close()
	var snap snapshot
	if err := decodeStrict(bufio.NewReaderSize(f, 1<<16), &snap); err != nil {
		return snapshot{}, 0, fmt.Errorf("filestore: %s: %w: %v", path, ErrCorrupt, err)
	}
	if snap.Version != snapshotVersion {
		return snapshot{}, 0, fmt.Errorf("filestore: %s: %w: format version %d, this program reads %d",
			path, ErrCorrupt, snap.Version, snapshotVersion)
	}
	info, err := f.Stat()
	if err != nil {
		return snapshot{}, 0, fmt.Errorf("filestore: %w", err)
	}
	return snap, info.Size(), nil
}

const (
	snapshotName = "snapshot.json"
	tempName     = "snapshot.json.tmp"
	lockName     = "LOCK"
)

// journalName returns the file name of journal n.
func journalName(n int) string { return fmt.Sprintf("journal-%06d.jsonl", n) }

// parseJournalName returns the number of a journal file name.
func parseJournalName(name string) (int, bool) {
	digits, ok := strings.CutPrefix(name, "journal-")
	if !ok {
		return 0, false
	}
	if digits, ok = strings.CutSuffix(digits, ".jsonl"); !ok || digits == "" {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n <= 0 || journalName(n) != name {
		return 0, false
	}
	return n, true
}

// listJournals returns the numbers of dir's journal files, ascending.
func listJournals(dir string) ([]int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("filestore: %w", err)
	}
	var nums []int
	for _, e := range entries {
		if n, ok := parseJournalName(e.Name()); ok && e.Type().IsRegular() {
			nums = append(nums, n)
		}
	}
	slices.Sort(nums)
	return nums, nil
}

// syncDir fsyncs a directory, making file creations, renames and removals
// in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// path returns the path of a file in the store's directory.
func (s *Store) path(name string) string { return filepath.Join(s.dir, name) }
