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
)

// Change operations.
const (
	opPut    = "put"
	opDelete = "delete"
)

// change is one step of a batch, on one record of one kind. It either puts
// a whole record, replacing any record of that kind with the same id:
//
//	{"op":"put","kind":"user","id":"…","record":{…}}
//
// or deletes one by id:
//
//	{"op":"delete","kind":"session","id":"…"}
//
// Both are idempotent, so replaying a batch the state already reflects does
// no harm. Record is a value of the kind's own type (user.User,
// auth.Session), encoded with that type's JSON tags; state.validate checks
// that Kind, ID and Record agree.
type change struct {
	Op     string `json:"op"`
	Kind   string `json:"kind"`
	ID     string `json:"id"`
	Record any    `json:"record,omitempty"`
}

// putChange returns a change that puts rec, of the given kind and id.
func putChange(kind, id string, rec any) change {
	return change{Op: opPut, Kind: kind, ID: id, Record: rec}
}

// deleteChange returns a change that deletes the record of the given kind
// and id.
func deleteChange(kind, id string) change {
	return change{Op: opDelete, Kind: kind, ID: id}
}

// rawChange is a change as read from a file: its record is still JSON,
// which only its kind can decode (see state.decode).
type rawChange struct {
	Op     string          `json:"op"`
	Kind   string          `json:"kind"`
	ID     string          `json:"id"`
	Record json.RawMessage `json:"record,omitempty"`
}

// journalVersion is the format of the journal lines this package writes.
// It reads version 1 lines too (format_v1.go).
const journalVersion = 2

// batch is one journal line: the changes of one write, applied all or
// nothing, numbered by a sequence that grows by one per batch.
//
//	{"version":2,"seq":7,"changes":[{"op":"put","kind":"session","id":"…","record":{…}}]}
//
// Every line says its format version, so a journal that an older version
// began is continued in place, and a torn last line is recognised as
// before, whatever the version of the lines ahead of it.
type batch struct {
	Version int      `json:"version"`
	Seq     uint64   `json:"seq"`
	Changes []change `json:"changes"`
}

// rawBatch is a journal line as read, of any version this package reads.
type rawBatch struct {
	Version int         `json:"version"`
	Seq     uint64      `json:"seq"`
	Changes []rawChange `json:"changes"`
}

// encodeLine encodes batch seq of changes as one journal line, newline
// included. HTML escaping is off so that the files stay readable.
func encodeLine(seq uint64, changes []change) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(batch{Version: journalVersion, Seq: seq, Changes: changes}); err != nil { // Encode adds the newline
		return nil, err
	}
	return buf.Bytes(), nil
}

// decodeBatch decodes one journal line, without its newline, of any
// version this package reads.
func decodeBatch(line []byte) (rawBatch, error) {
	switch v, err := formatVersion(line); {
	case err != nil:
		return rawBatch{}, err
	case v == 1:
		return decodeBatchV1(line)
	case v == journalVersion:
		var b rawBatch
		err := decodeStrict(bytes.NewReader(line), &b)
		return b, err
	default:
		return rawBatch{}, fmt.Errorf("journal line of format version %d; this program reads versions 1 to %d", v, journalVersion)
	}
}

// formatVersion returns the "version" field of a JSON object, or 1 if it
// has none: version 1 journal lines had no version field.
func formatVersion(data []byte) (int, error) {
	var head struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return 0, err
	}
	if head.Version == nil {
		return 1, nil
	}
	return *head.Version, nil
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

// snapshotVersion is the snapshot format this package writes. It reads
// version 1 snapshots too (format_v1.go).
const snapshotVersion = 2

// snapshot is the whole state after batch Seq, which is the last batch of
// journal Journal, as compaction writes it. Journals up to Journal are
// covered by it and may be removed.
type snapshot struct {
	Journal int
	Seq     uint64
	Kinds   []kindRecords // in the order of state.tables
}

// kindRecords is every record of one kind, as put changes.
type kindRecords struct {
	Kind    string
	Records []change
}

// snapshotFile is snapshot.json as read: its records are still JSON, by
// kind, until the kinds decode them (see state.decodeSnapshot).
type snapshotFile struct {
	Version int                          `json:"version"`
	Journal int                          `json:"journal"`
	Seq     uint64                       `json:"seq"`
	Records map[string][]json.RawMessage `json:"records"`
}

// writeSnapshot encodes snap to w as one JSON document with one record per
// line, each kind's records sorted by id, so that two snapshots of the same
// state are identical and easy to diff:
//
//	{"version":2,"journal":3,"seq":120,"records":{
//	"user":[
//	{"id":"…",…},
//	{"id":"…",…}
//	],
//	"session":[]}}
func writeSnapshot(w io.Writer, snap *snapshot) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	fmt.Fprintf(bw, "{\"version\":%d,\"journal\":%d,\"seq\":%d,\"records\":{", snapshotVersion, snap.Journal, snap.Seq)
	for i, k := range snap.Kinds {
		slices.SortFunc(k.Records, func(a, b change) int { return strings.Compare(a.ID, b.ID) })
		if i > 0 {
			bw.WriteByte(',')
		}
		if err := writeArray(bw, k.Kind, k.Records); err != nil {
			return err
		}
	}
	bw.WriteString("}}\n")
	return bw.Flush()
}

// writeArray writes a newline, `"kind":[` and the records one per line,
// then `]`.
func writeArray(bw *bufio.Writer, kind string, recs []change) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	fmt.Fprintf(bw, "\n%q:[", kind)
	for i, c := range recs {
		buf.Reset()
		if err := enc.Encode(c.Record); err != nil {
			return fmt.Errorf("encode %s %s: %w", kind, c.ID, err)
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
	_, err := bw.WriteString("]")
	return err
}

// readSnapshot reads the snapshot at path, of any version this package
// reads, and returns it with its size. A missing snapshot is an empty state
// covering no journal.
func readSnapshot(path string) (snapshotFile, int64, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return snapshotFile{Version: snapshotVersion}, 0, nil
	}
	if err != nil {
		return snapshotFile{}, 0, fmt.Errorf("filestore: %w", err)
	}
	var snap snapshotFile
	v, err := formatVersion(data)
	switch {
	case err != nil:
	case v == 1:
		snap, err = decodeSnapshotV1(data)
	case v == snapshotVersion:
		err = decodeStrict(bytes.NewReader(data), &snap)
	default:
		err = fmt.Errorf("format version %d; this program reads versions 1 to %d", v, snapshotVersion)
	}
	if err != nil {
		return snapshotFile{}, 0, fmt.Errorf("filestore: %s: %w: %v", path, ErrCorrupt, err)
	}
	return snap, int64(len(data)), nil
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
