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
	// opPatch changes a stored record by a patch of its kind's own (only
	// boards have one: boardPatch), in lines of version 3.
	opPatch = "patch"
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
// no harm. Since version 3 a change may also patch a board (see boardPatch):
//
//	{"op":"patch","kind":"board","id":"…","record":{"base":41,"board":{…},"lists":[…],"cards":[…]}}
//
// which is not idempotent, but needs not be: a batch is replayed once, in
// sequence, on the state its predecessors left, and a patch checks that
// the board is at the version it was made from. Record is a value of the kind's own type (user.User,
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

// journalVersion is the format of the journal lines this package writes
// when a line patches a board; the others are written as version 2
// (journalVersionPlain), which the versions before patches read too, so
// that a journal holds lines an older program cannot read only once it
// holds a patch. It reads version 1 lines too (format_v1.go).
const (
	journalVersion      = 3
	journalVersionPlain = 2
)

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

// appendLine appends batch seq of changes to dst as one journal line,
// newline included. HTML escaping is off so that the files stay readable.
// The write path appends straight to the queue of pending lines, so that a
// refresh's line is not made in a buffer of its own first and then copied.
func appendLine(dst []byte, seq uint64, changes []change) ([]byte, error) {
	if line, ok := appendSessionLine(dst, seq, changes); ok {
		return line, nil // a refresh's line, without reflection
	}
	if line, ok := appendPatchLine(dst, seq, changes); ok {
		return line, nil // a card move's line, without reflection
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	version := journalVersionPlain
	if slices.ContainsFunc(changes, func(c change) bool { return c.Op == opPatch }) {
		version = journalVersion
	}
	if err := enc.Encode(batch{Version: version, Seq: seq, Changes: changes}); err != nil { // Encode adds the newline
		return nil, err
	}
	return append(dst, buf.Bytes()...), nil
}

// decodeBatch decodes one journal line, without its newline, of any
// version this package reads.
func decodeBatch(line []byte) (rawBatch, error) {
	switch v, err := formatVersion(line); {
	case err != nil:
		return rawBatch{}, err
	case v == 1:
		return decodeBatchV1(line)
	case v == journalVersionPlain || v == journalVersion:
		var b rawBatch
		if err := decodeStrict(bytes.NewReader(line), &b); err != nil {
			return b, err
		}
		if v == journalVersionPlain && slices.ContainsFunc(b.Changes, func(c rawChange) bool { return c.Op == opPatch }) {
			return b, errors.New("a patch in a journal line of version 2, which has none")
		}
		return b, nil
	default:
		return rawBatch{}, fmt.Errorf("journal line of format version %d; this program reads versions 1 to %d", v, journalVersion)
	}
}

// formatVersion returns the "version" field of a JSON object, or 1 if it
// has none: version 1 journal lines had no version field. Every version
// that has the field writes it first, as {"version":2,…, which is read
// without decoding the rest; any other object is searched whole.
func formatVersion(data []byte) (int, error) {
	if rest, ok := bytes.CutPrefix(data, []byte(`{"version":`)); ok {
		if end := bytes.IndexAny(rest, ",}"); end > 0 {
			if v, err := strconv.Atoi(string(rest[:end])); err == nil {
				return v, nil
			}
		}
	}
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
	dec := strictDecoder(r)
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// strictDecoder returns a decoder of r that refuses unknown fields.
func strictDecoder(r io.Reader) *json.Decoder {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	return dec
}

// snapshotVersion is the snapshot format this package writes. It reads
// version 1 snapshots too (format_v1.go).
const snapshotVersion = 2

// snapshot is the whole state after batch Seq, which is the last batch of
// journal Journal, as compaction writes it and Open reads it back. Journals
// up to Journal are covered by it and may be removed.
type snapshot struct {
	Journal int
	Seq     uint64
	Kinds   []kindRecords // in the order of state.tables when written
}

// kindRecords is every record of one kind, as put changes.
type kindRecords struct {
	Kind    string
	Records []change
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
// reads, and returns it with its size. Each record is decoded by its
// kind's table in st as the decoder reaches it, so that a large snapshot
// is read in one pass, and never whole into memory; st itself is not
// changed. A missing snapshot is an empty state covering no journal.
func readSnapshot(path string, st *state) (snapshot, int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return snapshot{}, 0, nil
	}
	if err != nil {
		return snapshot{}, 0, fmt.Errorf("filestore: %w", err)
	}
	defer f.Close()
	cr := &countingReader{r: f}
	snap, err := decodeSnapshot(bufio.NewReaderSize(cr, 1<<16), st)
	if re := (*recordError)(nil); errors.As(err, &re) {
		if line, lerr := lineAt(f, re.offset); lerr == nil {
			return snapshot{}, 0, fmt.Errorf("filestore: %s line %d: %w: %v", path, line, ErrCorrupt, re.err)
		}
	}
	if err != nil {
		return snapshot{}, 0, fmt.Errorf("filestore: %s: %w: %v", path, ErrCorrupt, err)
	}
	return snap, cr.n, nil
}

// recordError is a bad record in a snapshot, with the offset just past it,
// from which readSnapshot tells the line, for the person who must fix it.
type recordError struct {
	offset int64
	err    error
}

func (e *recordError) Error() string { return e.err.Error() }
func (e *recordError) Unwrap() error { return e.err }

// lineAt returns the number of the line of f that holds the byte just
// before offset. It reads f again, which only the error path does.
func lineAt(f *os.File, offset int64) (int, error) {
	data := make([]byte, offset)
	if _, err := f.ReadAt(data, 0); err != nil {
		return 0, err
	}
	return bytes.Count(bytes.TrimRight(data, " \t\r\n,"), []byte("\n")) + 1, nil
}

// decodeSnapshot decodes a snapshot of version 1 or 2 from r, walking it
// with the decoder's Token method so that every record can be decoded by
// its table as it comes. Version 2 holds the records in one object by kind
// name; version 1 held them in a field per kind (see snapshotV1Kinds).
func decodeSnapshot(r io.Reader, st *state) (snapshot, error) {
	var snap snapshot
	version := 0
	var v1Fields, v2Fields bool
	dec := strictDecoder(r)
	if err := expect(dec, '{'); err != nil {
		return snap, err
	}
	for dec.More() {
		key, err := nextKey(dec)
		if err != nil {
			return snap, err
		}
		switch {
		case key == "version":
			if err = dec.Decode(&version); err == nil && version != 1 && version != snapshotVersion {
				err = fmt.Errorf("format version %d; this program reads versions 1 to %d", version, snapshotVersion)
			}
		case key == "journal":
			err = dec.Decode(&snap.Journal)
		case key == "seq":
			err = dec.Decode(&snap.Seq)
		case key == "records":
			v2Fields = true
			err = decodeObject(dec, func(kind string) error { return decodeRecords(dec, st, kind, &snap) })
		case snapshotV1Kinds[key] != "":
			v1Fields = true
			err = decodeRecords(dec, st, snapshotV1Kinds[key], &snap)
		default:
			err = fmt.Errorf("json: unknown field %q", key)
		}
		if err != nil {
			return snap, err
		}
	}
	if err := expect(dec, '}'); err != nil {
		return snap, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return snap, errors.New("unexpected data after the JSON value")
	}
	switch {
	case version == 0:
		return snap, errors.New("no format version")
	case version == 1 && v2Fields:
		return snap, errors.New("version 2 records in a version 1 snapshot")
	case version == 2 && v1Fields:
		return snap, errors.New("version 1 records in a version 2 snapshot")
	}
	return snap, nil
}

// decodeRecords decodes an array of records of the named kind from dec
// and adds them to snap as put changes.
func decodeRecords(dec *json.Decoder, st *state, kind string, snap *snapshot) error {
	t := st.table(kind)
	if t == nil {
		return fmt.Errorf("records of unknown kind %q", kind)
	}
	if err := expect(dec, '['); err != nil {
		return err
	}
	k := kindRecords{Kind: kind}
	for i := 1; dec.More(); i++ {
		rec, id, err := t.decode(dec)
		if err == nil && id == "" {
			err = errors.New("record without an id")
		}
		if err == nil {
			err = t.validate(id, rec)
		}
		if err != nil {
			return &recordError{offset: dec.InputOffset(), err: fmt.Errorf("%s %d: %w", kind, i, err)}
		}
		k.Records = append(k.Records, putChange(kind, id, rec))
	}
	snap.Kinds = append(snap.Kinds, k)
	return expect(dec, ']')
}

// decodeObject reads a JSON object from dec, calling value for each key to
// decode the value that follows it.
func decodeObject(dec *json.Decoder, value func(key string) error) error {
	if err := expect(dec, '{'); err != nil {
		return err
	}
	for dec.More() {
		key, err := nextKey(dec)
		if err == nil {
			err = value(key)
		}
		if err != nil {
			return err
		}
	}
	return expect(dec, '}')
}

// expect reads the next token from dec, which must be want.
func expect(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err == nil && tok != want {
		err = fmt.Errorf("found %v where %v was expected", tok, want)
	}
	return err
}

// nextKey reads an object's next key from dec.
func nextKey(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	key, ok := tok.(string)
	if err == nil && !ok {
		err = fmt.Errorf("found %v where a key was expected", tok)
	}
	return key, err
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
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
