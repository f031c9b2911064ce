package filestore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Version 1 of the journal and snapshot formats, written by the first file
// store, is still read, so that a data directory written by that version
// opens as it is: its journal lines are turned here into the version 2
// form, and decodeSnapshot reads its snapshots with the help of
// snapshotV1Kinds. New batches are appended as version 2 lines, after the
// version 1 lines of the same journal, and the first compaction rewrites
// the snapshot as version 2. Version 1 knew two kinds of record, users and
// sessions, and carried a record in a field named after its kind:
//
//	{"seq":3,"changes":[{"put":"user","user":{…}},{"delete":"session","id":"…"}]}
//	{"version":1,"journal":2,"seq":40,"users":[…],"sessions":[…]}
//
// The records themselves have the same JSON in both versions. Nothing here
// needs to change when a kind is added.

// batchV1 is a version 1 journal line. It has no version field.
type batchV1 struct {
	Seq     uint64     `json:"seq"`
	Changes []changeV1 `json:"changes"`
}

// changeV1 is a version 1 change: a put names its kind and carries the
// record, with its id, in the field of that name; a delete names its kind
// and the id.
type changeV1 struct {
	Put     string          `json:"put,omitempty"`
	Delete  string          `json:"delete,omitempty"`
	ID      string          `json:"id,omitempty"`
	User    json.RawMessage `json:"user,omitempty"`
	Session json.RawMessage `json:"session,omitempty"`
}

// decodeBatchV1 decodes a version 1 journal line.
func decodeBatchV1(line []byte) (rawBatch, error) {
	var b1 batchV1
	if err := decodeStrict(bytes.NewReader(line), &b1); err != nil {
		return rawBatch{}, err
	}
	b := rawBatch{Version: 1, Seq: b1.Seq, Changes: make([]rawChange, len(b1.Changes))}
	for i, c := range b1.Changes {
		rc, err := c.upgrade()
		if err != nil {
			return rawBatch{}, fmt.Errorf("change %d: %w", i, err)
		}
		b.Changes[i] = rc
	}
	return b, nil
}

// upgrade returns c as a version 2 change. It makes the checks version 1
// made: exactly one of put and delete, and a put carrying exactly the
// record its kind names.
func (c changeV1) upgrade() (rawChange, error) {
	records := map[string]json.RawMessage{"user": c.User, "session": c.Session}
	carried := 0
	for _, raw := range records {
		if raw != nil {
			carried++
		}
	}
	switch {
	case c.Put != "" && c.Delete == "" && c.ID == "" && carried == 1:
		raw := records[c.Put]
		if raw == nil {
			return rawChange{}, fmt.Errorf("put %q does not carry a %[1]s record", c.Put)
		}
		// A version 1 put had no id of its own: it is the record's.
		var rec struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw, &rec); err != nil {
			return rawChange{}, err
		}
		return rawChange{Op: opPut, Kind: c.Put, ID: rec.ID, Record: raw}, nil
	case c.Delete != "" && c.Put == "" && carried == 0:
		return rawChange{Op: opDelete, Kind: c.Delete, ID: c.ID}, nil
	}
	return rawChange{}, errors.New("a change must put one record or delete one by id")
}

// snapshotV1Kinds maps the fields of a version 1 snapshot that held
// records to the kinds of those records. decodeSnapshot reads both
// versions; the other fields (version, journal, seq) are the same in both.
var snapshotV1Kinds = map[string]string{"users": "user", "sessions": "session"}
