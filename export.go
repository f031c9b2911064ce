package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"corkboard/auth"
	"corkboard/user"
)

// An export is the whole dataset of a store as JSON lines: a header, the
// records of each kind in the order of exportKinds, and an end record that
// counts them, so that a cut-off export cannot pass for a whole one:
//
//	{"kind":"corkboard-export","version":2}
//	{"kind":"user","record":{"id":"…","username":"alice",…}}
//	{"kind":"session","record":{"id":"…","userId":"…",…}}
//	{"kind":"end","counts":{"session":1,"user":1}}
//
// The records are the stores' own domain types, so an export carries
// everything (password hashes, session generations) that logins and
// refresh tokens need to keep working after an import. Import also reads
// version 1 exports (see exportLineV1).

// exportVersion is the version of the export format, written in its first
// line and checked on import.
const exportVersion = 2

// exportKinds lists the kinds of record an export carries, in the order it
// carries them: a kind's records may refer only to records of the kinds
// before it. Adding a kind to export and import is one entry here.
var exportKinds = []exportKind{
	kindOf[user.User]{
		name:     "user",
		each:     func(ctx context.Context, st store, fn func(user.User) error) error { return st.EachUser(ctx, fn) },
		validate: user.User.Validate,
		id:       func(u user.User) string { return u.ID },
		create:   func(ctx context.Context, st store, u user.User) error { return st.CreateUser(ctx, u) },
	},
	kindOf[auth.Session]{
		name:     "session",
		each:     func(ctx context.Context, st store, fn func(auth.Session) error) error { return st.EachSession(ctx, fn) },
		validate: auth.Session.Validate,
		id:       func(s auth.Session) string { return s.ID },
		refs:     func(s auth.Session) []ref { return []ref{{"user", s.UserID}} },
		create:   func(ctx context.Context, st store, s auth.Session) error { return st.CreateSession(ctx, s) },
	},
}

// kindOf describes the records of type T that an export carries.
type kindOf[T any] struct {
	name string // the record's "kind" in an export
	// each calls fn for every record of the kind in st.
	each func(ctx context.Context, st store, fn func(T) error) error
	// validate checks a record read from an export before anything is
	// stored: it must be one the service itself could have written.
	validate func(T) error
	id       func(T) string
	// refs returns the records that a record refers to, if any (a
	// session's user). They come before it in an export; a record whose
	// references are missing is left out of an export and refused by an
	// import.
	refs func(T) []ref
	// create stores an imported record in st.
	create func(ctx context.Context, st store, rec T) error
}

// ref names a record by kind and id.
type ref struct{ kind, id string }

// item is one record of an export, with the names the checks need.
type item struct {
	ref
	refs  []ref
	value any // a T of its kind
}

// exportKind is a kindOf[T] of any T, which is how exportKinds can list
// them together.
type exportKind interface {
	kindName() string
	items(ctx context.Context, st store, fn func(item) error) error
	read(raw json.RawMessage) (item, error)
	store(ctx context.Context, st store, it item) error
}

func (k kindOf[T]) kindName() string { return k.name }

func (k kindOf[T]) items(ctx context.Context, st store, fn func(item) error) error {
	return k.each(ctx, st, func(rec T) error { return fn(k.item(rec)) })
}

func (k kindOf[T]) item(rec T) item {
	it := item{ref: ref{k.name, k.id(rec)}, value: rec}
	if k.refs != nil {
		it.refs = k.refs(rec)
	}
	return it
}

// read decodes a record from an export, refusing unknown fields, and
// validates it.
func (k kindOf[T]) read(raw json.RawMessage) (item, error) {
	var rec T
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		return item{}, err
	}
	if err := k.validate(rec); err != nil {
		return item{}, err
	}
	return k.item(rec), nil
}

func (k kindOf[T]) store(ctx context.Context, st store, it item) error {
	return k.create(ctx, st, it.value.(T))
}

// exportKindNamed returns the export kind with the given name, or nil.
func exportKindNamed(name string) exportKind {
	for _, k := range exportKinds {
		if k.kindName() == name {
			return k
		}
	}
	return nil
}

// counts is how many records of each kind an export holds or an export or
// import moved.
type counts map[string]int

// String says the counts in words, "3 users and 5 sessions".
func (n counts) String() string {
	var parts []string
	for _, k := range exportKinds {
		parts = append(parts, fmt.Sprintf("%d %ss", n[k.kindName()], k.kindName()))
	}
	last := len(parts) - 1
	if last == 0 {
		return parts[0]
	}
	return strings.Join(parts[:last], ", ") + " and " + parts[last]
}

// LogValue logs the counts as users=3 sessions=5.
func (n counts) LogValue() slog.Value {
	var attrs []slog.Attr
	for _, k := range exportKinds {
		attrs = append(attrs, slog.Int(k.kindName()+"s", n[k.kindName()]))
	}
	return slog.GroupValue(attrs...)
}

// exportLine is one line of an export: the header, a record, or the end.
type exportLine struct {
	Kind    string          `json:"kind"`
	Version int             `json:"version,omitempty"` // the header's
	Record  json.RawMessage `json:"record,omitempty"`  // a record of Kind
	Counts  counts          `json:"counts,omitempty"`  // the end record's
}

const (
	kindHeader = "corkboard-export"
	kindEnd    = "end"
)

// exportStore writes the whole dataset of st to w: the header, every
// record of each kind in turn, and the end record. The kinds are read one
// after another, so on a store that is serving requests a record may
// appear whose reference did not exist when its kind was read (a session
// whose user signed up after the users were exported); it is left out
// rather than exported as an orphan.
func exportStore(ctx context.Context, st store, w io.Writer) (counts, error) {
	n := make(counts)
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(exportLine{Kind: kindHeader, Version: exportVersion}); err != nil {
		return n, err
	}
	exported := make(map[ref]bool)
	for _, k := range exportKinds {
		name := k.kindName()
		n[name] = 0
		err := k.items(ctx, st, func(it item) error {
			for _, r := range it.refs {
				if !exported[r] {
					return nil
				}
			}
			raw, err := json.Marshal(it.value)
			if err != nil {
				return err
			}
			exported[it.ref] = true
			n[name]++
			return enc.Encode(exportLine{Kind: name, Record: raw})
		})
		if err != nil {
			return n, fmt.Errorf("exporting %ss: %w", name, err)
		}
	}
	if err := enc.Encode(exportLine{Kind: kindEnd, Counts: n}); err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// errStop ends an Each walk early.
var errStop = errors.New("stop")

// isEmpty reports whether st holds no record of any exported kind.
func isEmpty(ctx context.Context, st store) (bool, error) {
	for _, k := range exportKinds {
		err := k.items(ctx, st, func(item) error { return errStop })
		if errors.Is(err, errStop) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
	return true, nil
}

// dataset is a whole export, read and checked: its records in the order
// they came, which puts every record after those it refers to.
type dataset struct {
	items []item
}

// readExport reads an export from r and checks all of it: the header
// first, the end record last with matching counts, every record well
// formed and valid, ids unique within their kind, every record after those
// it refers to. Nothing is stored until the whole input has passed, so a
// truncated or crafted file changes nothing. It holds the dataset in
// memory (a few hundred bytes a record).
func readExport(r io.Reader) (dataset, error) {
	var d dataset
	dec := json.NewDecoder(bufio.NewReader(r))
	dec.DisallowUnknownFields()
	var header exportLine
	if err := dec.Decode(&header); errors.Is(err, io.EOF) {
		return d, errors.New("the export is incomplete: it has no end record (was the export interrupted?)")
	} else if err != nil {
		return d, fmt.Errorf("record 1: %v", err)
	}
	if header.Kind != kindHeader || (header.Version != 1 && header.Version != exportVersion) || header.Record != nil || header.Counts != nil {
		return d, fmt.Errorf("record 1 is not a corkboard export header of version 1 to %d", exportVersion)
	}
	// decode reads the next line in the version of the header.
	decode := func(l *exportLine) error { return dec.Decode(l) }
	if header.Version == 1 {
		decode = func(l *exportLine) error {
			var l1 exportLineV1
			err := dec.Decode(&l1)
			*l = l1.upgrade()
			return err
		}
	}

	seen := make(map[ref]bool)
	held := make(counts)
	ended := false
	for line := 2; ; line++ {
		var l exportLine
		err := decode(&l)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return d, fmt.Errorf("record %d: %v", line, err)
		}
		if ended {
			return d, fmt.Errorf("record %d: data after the end record", line)
		}
		if l.Kind == kindEnd && l.Record == nil {
			if err := checkCounts(l.Counts, held); err != nil {
				return d, fmt.Errorf("record %d: %v", line, err)
			}
			ended = true
			continue
		}
		k := exportKindNamed(l.Kind)
		if k == nil || l.Record == nil || l.Version != 0 || l.Counts != nil {
			return d, fmt.Errorf("record %d: unknown or empty record of kind %q", line, l.Kind)
		}
		it, err := k.read(l.Record)
		if err != nil {
			return d, fmt.Errorf("record %d: %v", line, err)
		}
		if seen[it.ref] {
			return d, fmt.Errorf("record %d: %s %s appears twice", line, it.kind, it.id)
		}
		for _, r := range it.refs {
			if !seen[r] {
				return d, fmt.Errorf("record %d: %s %s comes before its %s %s, or it is missing", line, it.kind, it.id, r.kind, r.id)
			}
		}
		seen[it.ref] = true
		held[it.kind]++
		d.items = append(d.items, it)
	}
	if !ended {
		return d, errors.New("the export is incomplete: it has no end record (was the export interrupted?)")
	}
	return d, nil
}

// checkCounts compares the counts of an end record with the records read.
func checkCounts(end, held counts) error {
	for kind := range end {
		if exportKindNamed(kind) == nil {
			return fmt.Errorf("the end record counts records of unknown kind %q", kind)
		}
	}
	for _, k := range exportKinds {
		if end[k.kindName()] != held[k.kindName()] {
			return fmt.Errorf("the end record counts %v, the export holds %v", end, held)
		}
	}
	return nil
}

// importStore reads a whole export from r, checks it, and stores it in st,
// which must be empty: an import never merges into or overwrites data.
// Bad input stores nothing. Only a store failure part-way (a lost database
// connection, a full disk) can leave a partial import, and the error then
// says how to start over.
func importStore(ctx context.Context, st store, r io.Reader) (counts, error) {
	n := make(counts)
	d, err := readExport(r)
	if err != nil {
		return n, err
	}
	empty, err := isEmpty(ctx, st)
	if err != nil {
		return n, err
	}
	if !empty {
		return n, errors.New("the target store is not empty; import only into a new store")
	}
	for _, it := range d.items {
		if err := exportKindNamed(it.kind).store(ctx, st, it); err != nil {
			return n, fmt.Errorf("storing %s %s: %w; the store now holds part of the import: empty it (MongoDB: drop the database; "+
				"file store: remove snapshot.json and journal-*.jsonl from the data directory, keeping secrets.json) and import again",
				it.kind, it.id, err)
		}
		n[it.kind]++
	}
	return n, nil
}

// exportLineV1 is a line of a version 1 export, which named a record's
// field and its count after its kind:
//
//	{"kind":"corkboard-export","version":1}
//	{"kind":"user","user":{…}}
//	{"kind":"session","session":{…}}
//	{"kind":"end","users":1,"sessions":1}
//
// Version 1 had these two kinds only; nothing here changes when a kind is
// added.
type exportLineV1 struct {
	Kind     string          `json:"kind"`
	User     json.RawMessage `json:"user,omitempty"`
	Session  json.RawMessage `json:"session,omitempty"`
	Users    int             `json:"users,omitempty"`
	Sessions int             `json:"sessions,omitempty"`
}

// upgrade returns l as a version 2 line.
func (l exportLineV1) upgrade() exportLine {
	switch l.Kind {
	case "user":
		return exportLine{Kind: l.Kind, Record: l.User}
	case "session":
		return exportLine{Kind: l.Kind, Record: l.Session}
	case kindEnd:
		return exportLine{Kind: l.Kind, Counts: counts{"user": l.Users, "session": l.Sessions}}
	}
	return exportLine{Kind: l.Kind}
}
