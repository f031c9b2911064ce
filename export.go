package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"time"

	"corkboard/auth"
	"corkboard/board"
	"corkboard/user"
)

// An export is the whole dataset of a store in one stream. Since version 3
// it is a tar archive: first the records as JSON lines, then the bytes of
// every file a record points at, one entry each, named as the file store
// keeps them:
//
//	corkboard-export.jsonl
//	files/pictures/6a1f0a05f11e000000000001
//	files/backgrounds/6a1f0b40f11e000000000002
//	files/attachments/6a1f0b41f11e000000000003
//	…
//
// The JSON lines are a header, the records of each kind in the order of
// exportKinds, a record describing each file (its size and SHA-256), and
// an end record that counts them all, so that a cut-off export cannot pass
// for a whole one:
//
//	{"kind":"corkboard-export","version":4}
//	{"kind":"user","record":{"id":"…","username":"alice","pictureId":"6a1f…",…}}
//	{"kind":"session","record":{"id":"…","userId":"…",…}}
//	{"kind":"board","record":{"id":"…","ownerId":"…","members":[…],"lists":[…],…}}
//	{"kind":"notification","record":{"id":"…","userId":"…","boardId":"…",…}}
//	{"kind":"file","record":{"bucket":"pictures","id":"6a1f…","size":48213,"sha256":"…"}}
//	{"kind":"end","counts":{"board":1,"file":3,"notification":1,"session":1,"user":1}}
//
// A tar, because it is one stream that carries bytes as they are, with
// their length in front (JSON would need base64, a third bigger, and a
// reader that cannot stream a string), that archive/tar writes and reads
// and that `tar tvf` lists. The JSON lines come first so that an import has
// checked every record before it stores a single byte.
//
// The records are the stores' own domain types, so an export carries
// everything (password hashes, session generations, board versions) that
// logins, refresh tokens and boards need to keep working after an import.
//
// Version 4 added boards and notifications, and the files of boards
// (backgrounds and attachments), to version 3. A version-3 reader would not
// drop them silently: it refuses a record of a kind it does not know, and
// an end record that counts one. But it would refuse every version-4
// export, even one without a board, at its end record, whose counts name
// every kind; so the version says at the first line what the export may
// hold, and an older corkboard refuses it there with "not … of version 3".
// Import reads version 3 as what it is, version 4 without boards and
// notifications, and also versions 1 and 2, which were the JSON lines
// alone, without files (see exportLineV1). A record of a kind that the
// header's version did not have (a board in a version-3 export) is
// refused: no corkboard wrote one.

// exportVersion is the version of the export format, written in its first
// line and checked on import.
const exportVersion = 4

// firstArchiveVersion is the first version that is a tar archive; import
// reads archives of this version to exportVersion.
const firstArchiveVersion = 3

// Names in an export archive. A file's entry is filesEntryDir/<bucket>/<id>;
// import parses such a name back to (bucket, id) and checks them, and never
// makes a path of it.
const (
	recordsEntry  = "corkboard-export.jsonl"
	filesEntryDir = "files"
)

// exportKinds lists the kinds of record an export carries, in the order it
// carries them: a kind's records may refer only to records of the kinds
// before it. Adding a kind to export and import is one entry here, which
// also keeps its files from the start-up sweep (referencedFiles).
var exportKinds = []exportKind{
	kindOf[user.User]{
		name:  "user",
		since: 1,
		// EachUser leaves out a user being deleted, so an export carries
		// neither them nor what needs them (their sessions, the boards
		// they own), as if the deletion had finished; an import refuses
		// such a user, which no export carries.
		each:     func(ctx context.Context, st store, fn func(user.User) error) error { return st.EachUser(ctx, fn) },
		validate: validateImportedUser,
		id:       func(u user.User) string { return u.ID },
		files: func(u user.User) []fileRef {
			if u.PictureID == "" {
				return nil
			}
			return []fileRef{{user.PictureBucket, u.PictureID}}
		},
		dropFile: func(u user.User, _ fileRef) user.User { u.PictureID = ""; return u },
		create:   func(ctx context.Context, st store, u user.User) error { return st.CreateUser(ctx, u) },
	},
	kindOf[auth.Session]{
		name:     "session",
		since:    1,
		each:     func(ctx context.Context, st store, fn func(auth.Session) error) error { return st.EachSession(ctx, fn) },
		validate: auth.Session.Validate,
		id:       func(s auth.Session) string { return s.ID },
		refs:     func(s auth.Session) []ref { return []ref{{"user", s.UserID}} },
		create:   func(ctx context.Context, st store, s auth.Session) error { return st.CreateSession(ctx, s) },
	},
	// A board carries its lists, cards, attachments, members, invitations
	// and favourites, and refers to every user on it: its owner, members
	// and invitees. A board whose owner is not in the export is left out
	// (deleting a user deletes the boards they own), but a member or an
	// invitee who is not is dropped from the board, as deleting them would
	// have done, rather than lose the board for everyone else on it. Import
	// accepts neither: a board with any of its users missing is refused.
	kindOf[board.Board]{
		name:     "board",
		since:    4,
		each:     func(ctx context.Context, st store, fn func(board.Board) error) error { return st.EachBoard(ctx, fn) },
		validate: board.Board.Validate,
		id:       func(b board.Board) string { return b.ID },
		refs: func(b board.Board) []ref {
			refs := []ref{{"user", b.OwnerID}}
			for _, id := range b.Members {
				if id != b.OwnerID {
					refs = append(refs, ref{"user", id})
				}
			}
			for _, id := range b.Invited {
				refs = append(refs, ref{"user", id})
			}
			return refs
		},
		dropRef: func(b board.Board, r ref) (board.Board, bool) {
			if r.kind != "user" || b.IsOwner(r.id) {
				return b, false
			}
			c := b.Clone()
			if c.RemoveMember(r.id) != nil && c.DropInvite(r.id) != nil {
				return b, false
			}
			return *c, true
		},
		files: func(b board.Board) []fileRef {
			var files []fileRef
			for _, f := range b.Files() {
				files = append(files, fileRef{f.Bucket, f.ID})
			}
			return files
		},
		dropFile: func(b board.Board, f fileRef) board.Board {
			c := b.Clone()
			c.DropFile(board.FileRef{Bucket: f.bucket, ID: f.id})
			return *c
		},
		create: func(ctx context.Context, st store, b board.Board) error { return st.CreateBoard(ctx, b) },
	},
	// A notification refers to its recipient and its board, without which
	// it means nothing and which deleting either deletes it with. Its
	// sender is not a reference: a sender may delete their account while
	// their invitation to a board that lives on, or their answer to one,
	// is still there to read, with their name copied in.
	kindOf[board.Notification]{
		name:  "notification",
		since: 4,
		each: func(ctx context.Context, st store, fn func(board.Notification) error) error {
			return st.EachNotification(ctx, fn)
		},
		validate: board.Notification.Validate,
		id:       func(n board.Notification) string { return n.ID },
		refs:     func(n board.Notification) []ref { return []ref{{"user", n.UserID}, {"board", n.BoardID}} },
		create:   func(ctx context.Context, st store, n board.Notification) error { return st.CreateNotification(ctx, n) },
	},
}

// validateImportedUser is User.Validate, and refuses a user marked as being
// deleted: no export carries one (see exportKinds).
func validateImportedUser(u user.User) error {
	if !u.DeletingAt.IsZero() {
		return fmt.Errorf("user %q: deletingAt: an export never carries a user being deleted", u.ID)
	}
	return u.Validate()
}

// kindOf describes the records of type T that an export carries.
type kindOf[T any] struct {
	name string // the record's "kind" in an export
	// since is the first export version that carried the kind; an import
	// of an older version refuses its records.
	since int
	// each calls fn for every record of the kind in st.
	each func(ctx context.Context, st store, fn func(T) error) error
	// validate checks a record read from an export before anything is
	// stored: it must be one the service itself could have written.
	validate func(T) error
	id       func(T) string
	// refs returns the records that a record refers to, if any (a
	// session's user). They come before it in an export; a record whose
	// references are missing is left out of an export (unless dropRef
	// can do without them) and refused by an import.
	refs func(T) []ref
	// dropRef returns the record without its reference to r, which is
	// not in the export, and true; or false when the record cannot do
	// without r (a board without its owner), and it is left out. Without
	// it, every record with a missing reference is left out.
	dropRef func(T, ref) (T, bool)
	// files returns the stored files that a record points at, if any (a
	// user's picture). Their bytes travel in the export with the record.
	files func(T) []fileRef
	// dropFile returns the record without its reference to f, which is
	// missing from the store: export then carries the record as it shows
	// (a user without a picture) rather than one no import would accept.
	// Without it, a missing file fails the export.
	dropFile func(T, fileRef) T
	// create stores an imported record in st.
	create func(ctx context.Context, st store, rec T) error
}

// ref names a record by kind and id.
type ref struct{ kind, id string }

// fileRef names a stored file by the bucket and id of user.FileStore.
type fileRef struct{ bucket, id string }

func (f fileRef) String() string { return f.bucket + "/" + f.id }

// entryName is the name of the file's entry in an export archive.
func (f fileRef) entryName() string { return filesEntryDir + "/" + f.bucket + "/" + f.id }

// item is one record of an export, with the names the checks need.
type item struct {
	ref
	refs  []ref
	files []fileRef
	value any // a T of its kind
}

// exportKind is a kindOf[T] of any T, which is how exportKinds can list
// them together.
type exportKind interface {
	kindName() string
	sinceVersion() int
	items(ctx context.Context, st store, fn func(item) error) error
	read(raw json.RawMessage) (item, error)
	withoutRef(it item, r ref) (item, bool)
	withoutFile(it item, f fileRef) (item, error)
	store(ctx context.Context, st store, it item) error
}

func (k kindOf[T]) kindName() string { return k.name }

func (k kindOf[T]) sinceVersion() int { return k.since }

func (k kindOf[T]) items(ctx context.Context, st store, fn func(item) error) error {
	return k.each(ctx, st, func(rec T) error { return fn(k.item(rec)) })
}

func (k kindOf[T]) item(rec T) item {
	it := item{ref: ref{k.name, k.id(rec)}, value: rec}
	if k.refs != nil {
		it.refs = k.refs(rec)
	}
	if k.files != nil {
		it.files = k.files(rec)
	}
	return it
}

// read decodes a record from an export, refusing unknown fields, and
// validates it, the names of its files included.
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
	it := k.item(rec)
	for _, f := range it.files {
		if err := user.CheckFileKey(f.bucket, f.id); err != nil {
			return item{}, fmt.Errorf("%s %s: %w", it.kind, it.id, err)
		}
	}
	return it, nil
}

func (k kindOf[T]) withoutRef(it item, r ref) (item, bool) {
	if k.dropRef == nil {
		return it, false
	}
	rec, ok := k.dropRef(it.value.(T), r)
	if !ok {
		return it, false
	}
	return k.item(rec), true
}

func (k kindOf[T]) withoutFile(it item, f fileRef) (item, error) {
	if k.dropFile == nil {
		return it, fmt.Errorf("%s %s points at file %s, which is missing from the store", it.kind, it.id, f)
	}
	return k.item(k.dropFile(it.value.(T), f)), nil
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

// fileRecord describes a file of an export: the line of kind "file" that
// comes before its bytes, against which import checks them.
type fileRecord struct {
	Bucket string `json:"bucket"`
	ID     string `json:"id"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // lowercase hex
}

func (r fileRecord) ref() fileRef { return fileRef{r.Bucket, r.ID} }

// validate checks a file record read from an export.
func (r fileRecord) validate() error {
	if err := user.CheckFileKey(r.Bucket, r.ID); err != nil {
		return err
	}
	if r.Size < 0 {
		return fmt.Errorf("file %s: negative size %d", r.ref(), r.Size)
	}
	if len(r.SHA256) != sha256.Size*2 || strings.ToLower(r.SHA256) != r.SHA256 {
		return fmt.Errorf("file %s: sha256 is not 64 lowercase hex digits", r.ref())
	}
	if _, err := hex.DecodeString(r.SHA256); err != nil {
		return fmt.Errorf("file %s: sha256 is not 64 lowercase hex digits", r.ref())
	}
	return nil
}

// counts is how many records of each kind an export holds or an export or
// import moved, files included under kindFile.
type counts map[string]int

// countedKinds are the names an end record of the given export version
// counts: the record kinds that version carries, then files.
func countedKinds(version int) []string {
	var names []string
	for _, k := range exportKinds {
		if k.sinceVersion() <= version {
			names = append(names, k.kindName())
		}
	}
	return append(names, kindFile)
}

// String says the counts in words, "3 users, 5 sessions, 1 boards, 2
// notifications and 2 files".
func (n counts) String() string {
	var parts []string
	for _, k := range countedKinds(exportVersion) {
		parts = append(parts, fmt.Sprintf("%d %ss", n[k], k))
	}
	last := len(parts) - 1
	return strings.Join(parts[:last], ", ") + " and " + parts[last]
}

// LogValue logs the counts as users=3 sessions=5 boards=1 notifications=2
// files=2.
func (n counts) LogValue() slog.Value {
	var attrs []slog.Attr
	for _, k := range countedKinds(exportVersion) {
		attrs = append(attrs, slog.Int(k+"s", n[k]))
	}
	return slog.GroupValue(attrs...)
}

// exportLine is one line of an export: the header, a record (of a file
// too), or the end.
type exportLine struct {
	Kind    string          `json:"kind"`
	Version int             `json:"version,omitempty"` // the header's
	Record  json.RawMessage `json:"record,omitempty"`  // a record of Kind
	Counts  counts          `json:"counts,omitempty"`  // the end record's
}

const (
	kindHeader = "corkboard-export"
	kindFile   = "file"
	kindEnd    = "end"
)

// exportBufferSize is how much of a file's bytes an export or import holds
// at once, besides the copy buffers of the stores.
const exportBufferSize = 64 << 10

// exportStore writes the whole dataset of st to w as an export archive and
// returns what it holds.
//
// The kinds are read one after another, so on a store that is serving
// requests a record may appear whose reference did not exist when its kind
// was read (a session whose user signed up after the users were exported);
// it is left out rather than exported as an orphan, or, when its kind can
// do without the reference (a board without a member who is not in the
// export), exported without it, with a warning in log. A record that points at
// a file missing from the store (a picture replaced while the export ran,
// or one lost by hand) is exported without that reference, with a warning
// in log: the record then looks as it already does to clients, without a
// picture, and the export stays one that import accepts. Failing instead
// would leave a store with one lost file unable to move at all.
//
// The JSON lines are built in memory (a few hundred bytes a record), since
// a tar entry's size comes before its bytes; file bytes never are. A file
// is read twice: once for the size and hash that its record, ahead of the
// bytes, holds, then to copy it into the archive, hashing it again, so
// that a file that changed in between fails the export instead of making
// one that import refuses. The records of a kind are all read before their
// files, so that no database cursor waits on file reads.
func exportStore(ctx context.Context, st store, w io.Writer, log *slog.Logger) (counts, error) {
	n := make(counts)
	var lines bytes.Buffer
	enc := json.NewEncoder(&lines)
	if err := enc.Encode(exportLine{Kind: kindHeader, Version: exportVersion}); err != nil {
		return n, err
	}
	exported := make(map[ref]bool)
	described := make(map[fileRef]bool)
	var files []fileRecord
	for _, k := range exportKinds {
		name := k.kindName()
		n[name] = 0
		var items []item
		err := k.items(ctx, st, func(it item) error {
			for _, r := range it.refs {
				if exported[r] {
					continue
				}
				without, ok := k.withoutRef(it, r)
				if !ok {
					return nil
				}
				log.Warn("export: a record refers to a record that is not in the export; it is exported without that reference",
					"kind", it.kind, "id", it.id, "ref", r.kind+" "+r.id)
				it = without
			}
			exported[it.ref] = true
			items = append(items, it)
			return nil
		})
		if err != nil {
			return n, fmt.Errorf("exporting %ss: %w", name, err)
		}
		for _, it := range items {
			for _, f := range it.files {
				if described[f] {
					continue
				}
				rec, err := describeFile(ctx, st, f)
				if errors.Is(err, fs.ErrNotExist) {
					if it, err = k.withoutFile(it, f); err != nil {
						return n, fmt.Errorf("exporting %ss: %w", name, err)
					}
					log.Warn("export: a record points at a file that is missing from the store; it is exported without it",
						"kind", it.kind, "id", it.id, "file", f.String())
					continue
				}
				if err != nil {
					return n, fmt.Errorf("exporting %s %s: file %s: %w", it.kind, it.id, f, err)
				}
				described[f] = true
				files = append(files, rec)
			}
			raw, err := json.Marshal(it.value)
			if err != nil {
				return n, err
			}
			if err := enc.Encode(exportLine{Kind: name, Record: raw}); err != nil {
				return n, err
			}
			n[name]++
		}
	}
	for _, rec := range files {
		raw, err := json.Marshal(rec)
		if err != nil {
			return n, err
		}
		if err := enc.Encode(exportLine{Kind: kindFile, Record: raw}); err != nil {
			return n, err
		}
	}
	n[kindFile] = len(files)
	if err := enc.Encode(exportLine{Kind: kindEnd, Counts: n}); err != nil {
		return n, err
	}

	bw := bufio.NewWriterSize(w, exportBufferSize)
	tw := tar.NewWriter(bw)
	if err := tw.WriteHeader(entryHeader(recordsEntry, int64(lines.Len()))); err != nil {
		return n, err
	}
	if _, err := tw.Write(lines.Bytes()); err != nil {
		return n, err
	}
	for _, rec := range files {
		if err := copyFile(ctx, st, tw, rec); err != nil {
			return n, fmt.Errorf("exporting file %s: %w", rec.ref(), err)
		}
	}
	if err := tw.Close(); err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// entryHeader is the tar header of an entry of an export: a plain file,
// readable by its owner only (an export holds password hashes), dated to
// the Unix epoch so that two exports of the same data are the same bytes.
func entryHeader(name string, size int64) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o600, ModTime: time.Unix(0, 0)}
}

// describeFile reads the file f from st for its size and hash.
func describeFile(ctx context.Context, st store, f fileRef) (fileRecord, error) {
	file, err := st.OpenFile(ctx, f.bucket, f.id)
	if err != nil {
		return fileRecord{}, err
	}
	defer file.Close()
	h := sha256.New()
	size, err := io.Copy(h, file)
	if err != nil {
		return fileRecord{}, err
	}
	return fileRecord{Bucket: f.bucket, ID: f.id, Size: size, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// copyFile streams the file that rec describes from st into tw and checks
// that its bytes are still the ones described.
func copyFile(ctx context.Context, st store, tw *tar.Writer, rec fileRecord) error {
	f, err := st.OpenFile(ctx, rec.Bucket, rec.ID)
	if err != nil {
		return err
	}
	defer f.Close()
	if f.Size() != rec.Size {
		return fmt.Errorf("it changed during the export, from %d to %d bytes", rec.Size, f.Size())
	}
	if err := tw.WriteHeader(entryHeader(rec.ref().entryName(), rec.Size)); err != nil {
		return err
	}
	h := sha256.New()
	if _, err := io.CopyBuffer(tw, io.TeeReader(f, h), make([]byte, exportBufferSize)); err != nil {
		return err
	}
	if hex.EncodeToString(h.Sum(nil)) != rec.SHA256 {
		return errors.New("its bytes changed during the export")
	}
	return nil
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

// dataset is the records of a whole export, read and checked: its records
// in the order they came, which puts every record after those it refers
// to, and the descriptions of its files.
type dataset struct {
	items []item
	files []fileRecord
}

// importStore reads a whole export of any version from r, checks it, and
// stores it in st, which must be empty: an import never merges into or
// overwrites data. The first bytes tell the versions apart: a tar header
// (versions 3 and 4) or JSON lines (versions 1 and 2).
//
// Every record is read and checked before anything is stored, so bad
// records change nothing; the records are held in memory meanwhile (a few
// hundred bytes each). File bytes cannot wait in memory: each file is
// streamed from r into the store, checked against its record on the way,
// and the records are stored once every file is in, as the service itself
// stores a file before the record that points at it. An import that fails
// deletes the files it stored. Only a store failure part-way through the
// records (a lost database connection, a full disk) can leave a partial
// import, and the error then says how to start over.
//
// Versions 1 and 2 carried no files: their records keep their file
// references, which point at nothing in st, and log says how many.
func importStore(ctx context.Context, st store, r io.Reader, log *slog.Logger) (counts, error) {
	n := make(counts)
	br := bufio.NewReaderSize(r, exportBufferSize)
	var tr *tar.Reader
	var d dataset
	var err error
	if isTar(br) {
		tr = tar.NewReader(br)
		d, err = readArchiveRecords(tr)
	} else {
		d, err = readRecords(br, false)
	}
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

	var put []fileRef
	if tr != nil {
		put, err = importFiles(ctx, st, tr, d)
	} else if refs := fileRefs(d); refs > 0 {
		log.Warn("import: this export's version carried no files; its records keep their references to them, which point at nothing in this store",
			"references", refs)
	}
	if err == nil {
		n[kindFile] = len(put)
		err = storeRecords(ctx, st, d, n)
	}
	if err != nil {
		n[kindFile] = 0
		if derr := deleteFiles(ctx, st, put); derr != nil {
			err = errors.Join(err, derr)
		}
		return n, err
	}
	return n, nil
}

// fileRefs counts the references to files that the records of d hold.
func fileRefs(d dataset) int {
	refs := 0
	for _, it := range d.items {
		refs += len(it.files)
	}
	return refs
}

// storeRecords stores the records of d in st, counting them in n.
func storeRecords(ctx context.Context, st store, d dataset, n counts) error {
	for _, it := range d.items {
		if err := exportKindNamed(it.kind).store(ctx, st, it); err != nil {
			return fmt.Errorf("storing %s %s: %w; the store now holds part of the import: empty it (MongoDB: drop the database; "+
				"file store: remove snapshot.json, journal-*.jsonl and files/ from the data directory, keeping secrets.json) and import again",
				it.kind, it.id, err)
		}
		n[it.kind]++
	}
	return nil
}

// deleteFiles deletes the files that a failed import stored, so that the
// store is left as empty as it was found and the same export can be
// imported again. It goes on when ctx is done (an import interrupted by
// Ctrl-C), each store operation having its own time limit.
func deleteFiles(ctx context.Context, st store, files []fileRef) error {
	ctx = context.WithoutCancel(ctx)
	var errs []error
	for _, f := range files {
		if err := st.DeleteFile(ctx, f.bucket, f.id); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%d of the %d files the import stored could not be deleted again; empty the store before importing again: %w",
			len(errs), len(files), errors.Join(errs...))
	}
	return nil
}

// isTar reports whether r starts with a tar header: the magic "ustar" at
// offset 257, which archive/tar writes in each of its formats (ustar, pax,
// GNU). Anything else is read as JSON lines, which start with '{'.
func isTar(r *bufio.Reader) bool {
	const magicAt, magic = 257, "ustar"
	head, _ := r.Peek(magicAt + len(magic))
	return len(head) == magicAt+len(magic) && string(head[magicAt:]) == magic
}

// cutShort makes the error of a read that met the end of the input too
// soon say so.
func cutShort(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("the export is cut short (was it interrupted?): %w", err)
	}
	return err
}

// readArchiveRecords reads the first entry of an export archive, the
// records, and checks them.
func readArchiveRecords(tr *tar.Reader) (dataset, error) {
	hdr, err := tr.Next()
	if err != nil {
		return dataset{}, fmt.Errorf("reading the export archive: %w", cutShort(err))
	}
	if hdr.Name != recordsEntry || hdr.Typeflag != tar.TypeReg {
		return dataset{}, fmt.Errorf("the export archive starts with %q, not with the file %s", hdr.Name, recordsEntry)
	}
	d, err := readRecords(tr, true)
	if err != nil {
		return d, fmt.Errorf("%s: %w", recordsEntry, err)
	}
	return d, nil
}

// readRecords reads the JSON lines of an export from r and checks all of
// them: the header first, of version 3 or 4 inArchive and of version 1 or
// 2 otherwise; the end record last with matching counts; every record of a
// kind the header's version carries, well formed and valid, ids unique
// within their kind, every record after those it refers to; and in an
// archive, every file that a record points at described by a file record,
// and every file record pointed at.
func readRecords(r io.Reader, inArchive bool) (dataset, error) {
	var d dataset
	dec := json.NewDecoder(bufio.NewReader(r))
	dec.DisallowUnknownFields()
	var header exportLine
	if err := dec.Decode(&header); errors.Is(err, io.EOF) {
		return d, errors.New("the export is incomplete: it has no end record (was the export interrupted?)")
	} else if err != nil {
		return d, fmt.Errorf("record 1: %w", cutShort(err))
	}
	versionOK := header.Version == 1 || header.Version == 2
	want := fmt.Sprintf("of version 1 or 2 (version %d and later are tar archives)", firstArchiveVersion)
	if inArchive {
		versionOK = header.Version >= firstArchiveVersion && header.Version <= exportVersion
		want = fmt.Sprintf("of version %d or %d", firstArchiveVersion, exportVersion)
	}
	if header.Kind != kindHeader || !versionOK || header.Record != nil || header.Counts != nil {
		return d, fmt.Errorf("record 1 is not a corkboard export header %s", want)
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
	described := make(map[fileRef]bool)
	held := make(counts)
	ended := false
	for line := 2; ; line++ {
		var l exportLine
		err := decode(&l)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return d, fmt.Errorf("record %d: %w", line, cutShort(err))
		}
		if ended {
			return d, fmt.Errorf("record %d: data after the end record", line)
		}
		if l.Kind == kindEnd && l.Record == nil {
			if err := checkCounts(l.Counts, held, header.Version); err != nil {
				return d, fmt.Errorf("record %d: %v", line, err)
			}
			ended = true
			continue
		}
		if inArchive && l.Kind == kindFile && l.Record != nil && l.Version == 0 && l.Counts == nil {
			rec, err := readFileRecord(l.Record)
			if err != nil {
				return d, fmt.Errorf("record %d: %v", line, err)
			}
			if described[rec.ref()] {
				return d, fmt.Errorf("record %d: file %s appears twice", line, rec.ref())
			}
			described[rec.ref()] = true
			held[kindFile]++
			d.files = append(d.files, rec)
			continue
		}
		k := exportKindNamed(l.Kind)
		if k == nil || l.Record == nil || l.Version != 0 || l.Counts != nil {
			return d, fmt.Errorf("record %d: unknown or empty record of kind %q", line, l.Kind)
		}
		if k.sinceVersion() > header.Version {
			return d, fmt.Errorf("record %d: an export of version %d carries no records of kind %q", line, header.Version, l.Kind)
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
	if inArchive {
		return d, checkFiles(d)
	}
	return d, nil
}

// readFileRecord decodes a file record, refusing unknown fields, and
// validates it.
func readFileRecord(raw json.RawMessage) (fileRecord, error) {
	var rec fileRecord
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		return rec, err
	}
	return rec, rec.validate()
}

// checkFiles checks that the records of d point at exactly the files that
// its file records describe: a file that none points at would be stored
// for nothing, and one that none describes could not be checked.
func checkFiles(d dataset) error {
	described := make(map[fileRef]bool, len(d.files))
	for _, rec := range d.files {
		described[rec.ref()] = true
	}
	pointed := make(map[fileRef]string, len(d.files)) // file → the record pointing at it
	for _, it := range d.items {
		for _, f := range it.files {
			if !described[f] {
				return fmt.Errorf("%s %s points at file %s, which no file record describes", it.kind, it.id, f)
			}
			// Every file has one owner: deleting one record deletes its
			// bytes, which must not be another's.
			if other, ok := pointed[f]; ok {
				return fmt.Errorf("%s %s points at file %s, which %s points at too", it.kind, it.id, f, other)
			}
			pointed[f] = it.kind + " " + it.id
		}
	}
	for _, rec := range d.files {
		if _, ok := pointed[rec.ref()]; !ok {
			return fmt.Errorf("file %s is pointed at by no record", rec.ref())
		}
	}
	return nil
}

// checkCounts compares the counts of an end record of the given export
// version with the records read.
func checkCounts(end, held counts, version int) error {
	names := countedKinds(version)
	for kind := range end {
		if !slices.Contains(names, kind) {
			return fmt.Errorf("the end record counts records of unknown kind %q", kind)
		}
	}
	for _, k := range names {
		if end[k] != held[k] {
			return fmt.Errorf("the end record counts %v, the export holds %v", end, held)
		}
	}
	return nil
}

// importFiles stores the files of an export archive, the entries after
// the records, each streamed from tr into st through a checkedReader. It
// returns the files it stored, which the caller deletes if the import
// fails. Every entry must be a plain file named files/<bucket>/<id> that a
// file record describes, and come once; every file described must come.
func importFiles(ctx context.Context, st store, tr *tar.Reader, d dataset) ([]fileRef, error) {
	want := make(map[fileRef]fileRecord, len(d.files))
	for _, rec := range d.files {
		want[rec.ref()] = rec
	}
	var put []fileRef
	got := make(map[fileRef]bool, len(d.files))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return put, fmt.Errorf("reading the export archive after %d files: %w", len(got), cutShort(err))
		}
		f, err := parseFileEntry(hdr)
		if err != nil {
			return put, err
		}
		rec, ok := want[f]
		switch {
		case !ok:
			return put, fmt.Errorf("archive entry %q: no file record describes it", hdr.Name)
		case got[f]:
			return put, fmt.Errorf("archive entry %q appears twice", hdr.Name)
		case hdr.Size != rec.Size:
			return put, fmt.Errorf("file %s: the archive holds %d bytes of it, its record says %d", f, hdr.Size, rec.Size)
		}
		got[f] = true
		cr := &checkedReader{r: tr, rec: rec, hash: sha256.New()}
		_, err = st.PutFile(ctx, f.bucket, f.id, cr)
		if err == nil {
			put = append(put, f)
			err = cr.checked()
		}
		if cr.err != nil {
			return put, fmt.Errorf("file %s: %w", f, cr.err)
		}
		if err != nil {
			return put, fmt.Errorf("storing file %s: %w", f, err)
		}
	}
	for _, rec := range d.files {
		if !got[rec.ref()] {
			return put, fmt.Errorf("file %s is missing from the export archive (was the export cut short?)", rec.ref())
		}
	}
	return put, nil
}

// parseFileEntry returns the file that an archive entry holds, from its
// name, files/<bucket>/<id>, checked by user.CheckFileKey. Any other name
// (../x, /etc/x, files/pictures/../../x) and any entry but a plain file
// are refused. The name never becomes a path: the store makes its own
// from the checked bucket and id.
func parseFileEntry(hdr *tar.Header) (fileRef, error) {
	parts := strings.Split(hdr.Name, "/")
	if len(parts) != 3 || parts[0] != filesEntryDir || user.CheckFileKey(parts[1], parts[2]) != nil {
		return fileRef{}, fmt.Errorf("archive entry %q is not named %s/<bucket>/<id>", hdr.Name, filesEntryDir)
	}
	if hdr.Typeflag != tar.TypeReg {
		return fileRef{}, fmt.Errorf("archive entry %q is not a plain file", hdr.Name)
	}
	return fileRef{parts[1], parts[2]}, nil
}

// checkedReader reads the bytes of one file from an export archive,
// hashing them on the way. Where they end it answers io.EOF only if they
// are the ones its record describes, and an error otherwise, so that
// PutFile, which keeps nothing when its reader fails, keeps nothing of a
// file that fails the check.
type checkedReader struct {
	r    io.Reader
	rec  fileRecord
	n    int64
	hash hash.Hash
	ok   bool  // the bytes ended and matched
	err  error // why the bytes are refused, once they are
}

func (c *checkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.ok {
		return 0, io.EOF
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.hash.Write(p[:n])
	switch {
	case c.n > c.rec.Size:
		c.err = fmt.Errorf("it is longer than the %d bytes its record says", c.rec.Size)
	case errors.Is(err, io.EOF):
		if c.err = c.verify(); c.err == nil {
			c.ok = true
			return n, io.EOF
		}
	case err != nil:
		c.err = cutShort(err)
	}
	if c.err != nil {
		return n, c.err
	}
	return n, nil
}

// verify compares the bytes read, all of them, with the record.
func (c *checkedReader) verify() error {
	if c.n != c.rec.Size {
		return fmt.Errorf("it has %d bytes, its record says %d", c.n, c.rec.Size)
	}
	if sum := hex.EncodeToString(c.hash.Sum(nil)); sum != c.rec.SHA256 {
		return fmt.Errorf("its bytes have sha256 %s, its record says %s", sum, c.rec.SHA256)
	}
	return nil
}

// checked reports whether the bytes were read to their end and matched;
// a store that stopped short would otherwise keep a file never checked.
func (c *checkedReader) checked() error {
	if !c.ok {
		return errors.New("the store did not read the file to its end")
	}
	return nil
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

// upgrade returns l as a line of the versions after it.
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
