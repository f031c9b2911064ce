package filestore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// state is everything the store holds, in memory, guarded by Store.mu: one
// table per kind of record, each defined in the file named after its kind
// (users.go, sessions.go, boards.go, ...).
//
// Records are never modified in place: a change replaces a whole record. Slices
// given by callers are cloned before they enter the state and cloned again on
// the way out, so no caller ever holds a slice the state uses.
type state struct {
	users         userTable
	sessions      sessionTable
	tokens        tokenTable
	boards        boardTable
	notifications notificationTable
}

// tables lists the state's tables, one line per kind of record. Whatever
// treats every kind alike goes through this list: decoding, checking and
// applying changes, checking indexes after loading, and snapshots, which
// list the kinds in this order.
func (st *state) tables() []table {
	return []table{
		&st.users,
		&st.sessions,
		&st.tokens,
		&st.boards,
		&st.notifications,
	}
}

// A table holds the records of one kind, with its indexes. Its methods take
// and return records as values of the kind's own type (user.User,
// auth.Session) in an any.
type table interface {
	// kind returns the kind's name in changes and snapshots ("user").
	kind() string

	// reset empties the table, making its maps.
	reset()

	// decode decodes the next JSON value of dec, a decoder that refuses
	// unknown fields, as a record read from a file, and returns it with
	// its id.
	decode(dec *json.Decoder) (rec any, id string, err error)

	// validate checks a put of rec under id before any change of its batch
	// is applied, whether the store made the change or read it from a
	// file. It is where checks of the record itself belong; a check added
	// here must still accept every record an earlier version stored, or
	// the data directory would no longer open.
	validate(id string, rec any) error

	// put stores a validated record, replacing the one with its id if
	// there is one; delete removes the record with id if there is one.
	// Both keep the indexes up to date, and both are idempotent.
	put(rec any)
	delete(id string)

	// check reports, after loading, whether the indexes agree with the
	// records: put and delete keep them so for any sequence of valid
	// changes, but files can hold two records that clash on a unique key.
	check() error

	// list returns every record as a put change, for a snapshot, without
	// cloning: a stored record is never modified in place.
	list() []change
}

// A patchTable is a table whose records a change may also patch (op
// "patch"): only boards, whose writes are big records with small changes.
type patchTable interface {
	table

	// decodePatch decodes the next JSON value of dec, a decoder that
	// refuses unknown fields, as a patch read from a file.
	decodePatch(dec *json.Decoder) (patch any, err error)

	// applyPatch returns the record patch makes of old (ok false: there
	// is no record with the patch's id), checked as validate checks a put
	// of it, or why it cannot.
	applyPatch(id string, old any, ok bool, patch any) (any, error)

	// get returns the record with id.
	get(id string) (any, bool)
}

// newState returns an empty state.
func newState() state {
	var st state
	for _, t := range st.tables() {
		t.reset()
	}
	return st
}

// table returns the table of the named kind, or nil if there is none.
func (st *state) table(kind string) table {
	for _, t := range st.tables() {
		if t.kind() == kind {
			return t
		}
	}
	return nil
}

// applyBatch applies one batch of changes. It is the only way the state
// changes, both for live writes and for loading the files, so that what a
// restart rebuilds is exactly what was served. It checks every change
// before applying any, so a bad batch leaves the state as it was.
func (st *state) applyBatch(changes []change) error {
	if len(changes) == 0 {
		return errors.New("empty batch")
	}
	// Patches become the puts of the records they make, each of the
	// record as the changes before it in the batch left it.
	puts := make([]change, len(changes))
	for i, c := range changes {
		if c.Op == opPatch {
			rec, err := st.patched(c, puts[:i])
			if err != nil {
				return fmt.Errorf("change %d: %w", i, err)
			}
			puts[i] = putChange(c.Kind, c.ID, rec)
			continue
		}
		if err := st.validate(c); err != nil {
			return fmt.Errorf("change %d: %w", i, err)
		}
		puts[i] = c
	}
	for _, c := range puts {
		if t := st.table(c.Kind); c.Op == opPut {
			t.put(c.Record)
		} else {
			t.delete(c.ID)
		}
	}
	return nil
}

// validate reports whether c is well formed: a known kind, an id, and
// either a put whose record its kind accepts or a delete without one.
func (st *state) validate(c change) error {
	t := st.table(c.Kind)
	switch {
	case t == nil:
		return fmt.Errorf("unknown kind %q", c.Kind)
	case c.ID == "":
		return fmt.Errorf("%s change without an id", c.Kind)
	case c.Op == opPut && c.Record != nil:
		return t.validate(c.ID, c.Record)
	case c.Op == opDelete && c.Record == nil:
		return nil
	case c.Op == opPatch && c.Record != nil:
		_, err := st.patched(c, nil)
		return err
	}
	return errors.New("a change must put one record, patch one or delete one by id")
}

// patched returns the record the patch c makes of the record as the
// changes before it in its batch, earlier, leave it.
func (st *state) patched(c change, earlier []change) (any, error) {
	t, ok := st.table(c.Kind).(patchTable)
	switch {
	case !ok:
		return nil, fmt.Errorf("a patch of kind %q, which has none", c.Kind)
	case c.ID == "":
		return nil, fmt.Errorf("%s change without an id", c.Kind)
	case c.Record == nil:
		return nil, errors.New("a patch without its record")
	}
	old, found := t.get(c.ID)
	for _, e := range slices.Backward(earlier) {
		if e.Kind == c.Kind && e.ID == c.ID {
			old, found = e.Record, e.Op == opPut
			break
		}
	}
	return t.applyPatch(c.ID, old, found, c.Record)
}

// decode turns changes read from a journal into changes to apply, each
// record decoded by its kind. applyBatch checks the rest.
func (st *state) decode(raws []rawChange) ([]change, error) {
	changes := make([]change, len(raws))
	for i, rc := range raws {
		c := change{Op: rc.Op, Kind: rc.Kind, ID: rc.ID}
		if rc.Record != nil {
			t := st.table(rc.Kind)
			if t == nil {
				return nil, fmt.Errorf("change %d: unknown kind %q", i, rc.Kind)
			}
			var rec any
			var err error
			if pt, ok := t.(patchTable); ok && rc.Op == opPatch {
				rec, err = pt.decodePatch(strictDecoder(bytes.NewReader(rc.Record)))
			} else {
				rec, _, err = t.decode(strictDecoder(bytes.NewReader(rc.Record)))
			}
			if err != nil {
				return nil, fmt.Errorf("change %d: %s %s: %w", i, rc.Kind, rc.ID, err)
			}
			c.Record = rec
		}
		changes[i] = c
	}
	return changes, nil
}

// check verifies that every table's indexes agree with its records.
func (st *state) check() error {
	for _, t := range st.tables() {
		if err := t.check(); err != nil {
			return err
		}
	}
	return nil
}

// copyRecords returns every record, for a snapshot that is encoded after
// the lock is released. Nothing is cloned: a stored record is never
// modified in place (every change puts a whole new record, whose slices
// were cloned on the way in), so plain copies of the structs are a
// consistent snapshot, and the write lock is held only while they are
// listed.
func (st *state) copyRecords() snapshot {
	var snap snapshot
	for _, t := range st.tables() {
		snap.Kinds = append(snap.Kinds, kindRecords{Kind: t.kind(), Records: t.list()})
	}
	return snap
}

// copyRecordsLater is copyRecords in two steps, so that writers wait only
// for the first: it copies every record now, and returns a function that
// makes the snapshot of them later, without the lock. Tables of many
// records (sessions, users) copy them into one slice of their own type,
// which is a copy of memory; boxing each record into a change, which
// copyRecords does under the lock, held every reader and writer up for
// seconds at a million sessions.
func (st *state) copyRecordsLater() func() snapshot {
	var parts []func() kindRecords
	for _, t := range st.tables() {
		if b, ok := t.(bulkCopier); ok {
			parts = append(parts, b.copyLater())
			continue
		}
		k := kindRecords{Kind: t.kind(), Records: t.list()}
		parts = append(parts, func() kindRecords { return k })
	}
	return func() snapshot {
		var snap snapshot
		for _, part := range parts {
			snap.Kinds = append(snap.Kinds, part())
		}
		return snap
	}
}

// bulkCopier is a table that copies its records for a snapshot in bulk
// (see copyRecordsLater).
type bulkCopier interface {
	copyLater() func() kindRecords
}

// copyLaterOf copies the records of m, a table's records by id, and
// returns a function that makes them put changes of the kind, for a
// snapshot to encode and nothing else; id gives a record's id.
func copyLaterOf[T any](kind string, m map[string]T, id func(*T) string) func() kindRecords {
	recs := make([]T, 0, len(m))
	for _, rec := range m {
		recs = append(recs, rec)
	}
	return func() kindRecords {
		// Each change carries a pointer into recs rather than a copy
		// of the record: that costs no allocation per record, and the
		// snapshot, which only encodes them, writes the same JSON.
		k := kindRecords{Kind: kind, Records: make([]change, 0, len(recs))}
		for i := range recs {
			k.Records = append(k.Records, putChange(kind, id(&recs[i]), &recs[i]))
		}
		return k
	}
}

// listOf returns a put change of the given kind for every record of m, a
// table's records by id.
func listOf[T any](kind string, m map[string]T) []change {
	list := make([]change, 0, len(m))
	for id, rec := range m {
		list = append(list, putChange(kind, id, rec))
	}
	return list
}

// utc drops t's monotonic clock reading and location, so that the state
// holds exactly what a restart reads back from the JSON files.
func utc(t time.Time) time.Time {
	return t.Round(0).UTC()
}
