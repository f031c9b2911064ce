package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"corkboard/auth"
	"corkboard/objectid"
	"corkboard/user/usertest"
)

// newStore opens a fresh, empty store of the kind o opens.
func newStore(t *testing.T, o storeOpener) store {
	t.Helper()
	cfg := testConfig(t)
	return o.open(t, &cfg)
}

// otherStore is the kind of store that an export from o's kind moves to.
func otherStore(o storeOpener) storeOpener {
	if o.name == fileStore.name {
		return mongoStore
	}
	return fileStore
}

// exportNow is the time of the records these tests make.
var exportNow = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// wantNoFiles checks that st holds none of the pictures ids.
func wantNoFiles(t *testing.T, st store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		f, err := st.OpenFile(context.Background(), "pictures", id)
		if err == nil {
			f.Close()
		}
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("after a refused import, OpenFile(pictures, %s) = %v; want fs.ErrNotExist", id, err)
		}
	}
}

// wantEmpty checks that st holds no record and none of the pictures ids.
func wantEmpty(t *testing.T, st store, ids ...string) {
	t.Helper()
	if empty, err := isEmpty(context.Background(), st); err != nil || !empty {
		t.Errorf("after a refused import the store holds records (%v)", err)
	}
	wantNoFiles(t, st, ids...)
}

// TestExportFiles exports users with pictures, one without, and a session
// from each store and imports them into a store of the other kind: the
// records are the same, and so are the pictures, byte for byte.
func TestExportFiles(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		ctx := context.Background()
		src := newStore(t, o)
		small, large := usertest.PNG(t, 30, 20, 1), usertest.PNG(t, 300, 200, 2)
		ann := putPictureUser(t, src, "ann", small, exportNow)
		ben := putPictureUser(t, src, "ben", large, exportNow)
		cid := putPictureUser(t, src, "cid", nil, exportNow) // an empty file is a file too
		dee := putUser(t, src, "dee", nil, exportNow)        // no picture
		if err := src.CreateSession(ctx, auth.Session{
			ID: objectid.New(exportNow), UserID: ann.ID, Generation: 1, Roles: []string{"user"},
			CreatedAt: exportNow, LastUsedAt: exportNow, ExpiresAt: exportNow.Add(time.Hour), UserAgent: "test", IP: "192.0.2.1",
		}); err != nil {
			t.Fatal(err)
		}

		var logs bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logs, nil))
		var buf bytes.Buffer
		n, err := exportStore(ctx, src, &buf, log)
		if err != nil || n["user"] != 4 || n["session"] != 1 || n["file"] != 3 {
			t.Fatalf("exportStore = %v, %v; want 4 users, 1 session and 3 files", n, err)
		}
		if logs.Len() != 0 {
			t.Errorf("exportStore logged %s, want nothing", logs.String())
		}
		export := buf.Bytes()
		// One entry per file, in the order of the file records.
		var fileLines []string
		for _, l := range strings.Split(recordsOf(t, export), "\n") {
			if strings.HasPrefix(l, `{"kind":"file",`) {
				fileLines = append(fileLines, l)
			}
		}
		entries := readArchive(t, export)
		if len(entries) != 1+3 || len(fileLines) != 3 {
			t.Fatalf("the archive holds %d entries and %d file records, want 1+3 and 3", len(entries), len(fileLines))
		}
		for i, e := range entries[1:] {
			sum := sha256.Sum256(e.data)
			want := fmt.Sprintf(`{"kind":"file","record":{"bucket":"pictures","id":"%s","size":%d,"sha256":"%x"}}`,
				strings.TrimPrefix(e.hdr.Name, "files/pictures/"), len(e.data), sum)
			if fileLines[i] != want {
				t.Errorf("file record %d = %s; want %s, describing entry %s", i+1, fileLines[i], want, e.hdr.Name)
			}
		}

		dst := newStore(t, otherStore(o))
		if n, err := importStore(ctx, dst, bytes.NewReader(export), discardLog); err != nil || n["user"] != 4 || n["session"] != 1 || n["file"] != 3 {
			t.Fatalf("importStore = %v, %v; want 4 users, 1 session and 3 files", n, err)
		}
		for _, u := range []struct {
			id      string
			picture []byte
		}{{ann.PictureID, small}, {ben.PictureID, large}, {cid.PictureID, nil}} {
			wantPicture(t, dst, u.id, u.picture)
		}
		checkRecords(t, "records after the move", storedRecords(t, dst), storedRecords(t, src))
		if got, err := dst.UserByID(ctx, dee.ID); err != nil || got.PictureID != "" {
			t.Errorf("UserByID(dee) = %+v, %v; want the user without a picture", got, err)
		}
	})
}

// allocated returns how many bytes the heap gave out while fn ran, in
// every goroutine: a loose measure, for bounds far from what is expected.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestExportLargeFile moves an 8 MiB picture (more than any upload may be)
// to the other store through an export in a file on disk, and checks the
// bytes by hash. Export from the file store and import into it allocate
// less than a quarter of the file's size: the bytes stream through small
// buffers and are never held whole. (MongoDB's driver allocates every
// chunk it reads or writes, so it is not measured.)
func TestExportLargeFile(t *testing.T) {
	const size = 8 << 20
	const bound = size / 4
	eachStore(t, func(t *testing.T, o storeOpener) {
		ctx := context.Background()
		src := newStore(t, o)
		id := putUser(t, src, "big", usertest.RandomBytes(size, 3), exportNow).PictureID

		dump, err := os.Create(filepath.Join(t.TempDir(), "corkboard-export.tar"))
		if err != nil {
			t.Fatal(err)
		}
		defer dump.Close()
		var n counts
		a := allocated(func() { n, err = exportStore(ctx, src, dump, discardLog) })
		if err != nil || n["file"] != 1 {
			t.Fatalf("exportStore = %v, %v; want 1 file", n, err)
		}
		if o.name == fileStore.name && a > bound {
			t.Errorf("exporting an 8 MiB file allocated %d bytes, want at most %d", a, bound)
		}
		t.Logf("export from the %s store allocated %d KiB", o.name, a>>10)
		if _, err := dump.Seek(0, io.SeekStart); err != nil {
			t.Fatal(err)
		}

		other := otherStore(o)
		dst := newStore(t, other)
		a = allocated(func() { n, err = importStore(ctx, dst, dump, discardLog) })
		if err != nil || n["file"] != 1 || n["user"] != 1 {
			t.Fatalf("importStore = %v, %v; want 1 user and 1 file", n, err)
		}
		if other.name == fileStore.name && a > bound {
			t.Errorf("importing an 8 MiB file allocated %d bytes, want at most %d", a, bound)
		}
		t.Logf("import into the %s store allocated %d KiB", other.name, a>>10)

		want := sha256.New()
		io.Copy(want, usertest.RandomBytes(size, 3))
		f, err := dst.OpenFile(ctx, "pictures", id)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		got := sha256.New()
		if n, err := io.Copy(got, f); err != nil || n != size || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
			t.Errorf("the imported file = %d bytes, %v, sha256 %x; want %d bytes of sha256 %x", n, err, got.Sum(nil), size, want.Sum(nil))
		}
	})
}

// TestExportMissingFile exports a user whose picture is missing from the
// store: the export warns and carries the user without it, and imports.
func TestExportMissingFile(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		ctx := context.Background()
		src := newStore(t, o)
		picture := usertest.PNG(t, 16, 16, 4)
		kept := putPictureUser(t, src, "kept", picture, exportNow)
		lost := putPictureUser(t, src, "lost", picture, exportNow)
		if err := src.DeleteFile(ctx, "pictures", lost.PictureID); err != nil {
			t.Fatal(err)
		}

		var logs bytes.Buffer
		var buf bytes.Buffer
		n, err := exportStore(ctx, src, &buf, slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil || n["user"] != 2 || n["file"] != 1 {
			t.Fatalf("exportStore = %v, %v; want 2 users and 1 file", n, err)
		}
		if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "file=pictures/"+lost.PictureID) ||
			!strings.Contains(logs.String(), "id="+lost.ID) {
			t.Errorf("exportStore logged %q, want a warning naming user %s and file pictures/%s", logs.String(), lost.ID, lost.PictureID)
		}
		if records := recordsOf(t, buf.Bytes()); strings.Contains(records, lost.PictureID) {
			t.Errorf("the export still names the missing picture:\n%s", records)
		}

		dst := newStore(t, otherStore(o))
		importArchive(t, dst, buf.Bytes())
		if got, err := dst.UserByID(ctx, lost.ID); err != nil || got.PictureID != "" {
			t.Errorf("UserByID(lost) = %+v, %v; want the user without a picture", got, err)
		}
		wantPicture(t, dst, kept.PictureID, picture)
		wantNoFiles(t, dst, lost.PictureID)
	})
}

// TestImportRefusesBadFiles imports exports whose files do not match their
// records, or whose archive is damaged or crafted, into each store: each
// is refused with a clear error, and the store is left empty, of files
// too, though the first files had been stored before the fault came.
func TestImportRefusesBadFiles(t *testing.T) {
	src := newStore(t, fileStore)
	ann := putPictureUser(t, src, "ann", usertest.PNG(t, 30, 20, 5), exportNow)
	ben := putPictureUser(t, src, "ben", usertest.PNG(t, 60, 40, 6), exportNow)
	good := exportArchive(t, src)
	entries := readArchive(t, good) // records, then the two files in some order
	if len(entries) != 3 {
		t.Fatalf("the export holds %d entries, want 3", len(entries))
	}
	records := string(entries[0].data)
	last := entries[2]
	lastID := strings.TrimPrefix(last.hdr.Name, "files/pictures/")
	ids := []string{ann.PictureID, ben.PictureID}

	// edit returns the good archive with its entries changed by fn, which
	// gets copies.
	edit := func(fn func(es []archiveEntry) []archiveEntry) []byte {
		es := make([]archiveEntry, len(entries))
		for i, e := range entries {
			es[i] = archiveEntry{e.hdr, bytes.Clone(e.data)}
		}
		return makeArchive(t, fn(es)...)
	}
	// editRecords returns the good archive with old replaced by new in
	// its records, once.
	editRecords := func(old, new string) []byte {
		if !strings.Contains(records, old) {
			t.Fatalf("the records hold no %s", old)
		}
		return edit(func(es []archiveEntry) []archiveEntry {
			es[0].data = []byte(strings.Replace(records, old, new, 1))
			return es
		})
	}
	fileLine := func(id string) string {
		for _, l := range strings.Split(records, "\n") {
			if strings.HasPrefix(l, `{"kind":"file",`) && strings.Contains(l, id) {
				return l + "\n"
			}
		}
		t.Fatalf("no file record for %s", id)
		return ""
	}
	stray := []byte("bytes no record describes")
	strayID := objectid.New(exportNow)
	strayLine := fmt.Sprintf(`{"kind":"file","record":{"bucket":"pictures","id":"%s","size":%d,"sha256":"%x"}}`+"\n", strayID, len(stray), sha256.Sum256(stray))
	renamed := func(name string) []byte {
		return edit(func(es []archiveEntry) []archiveEntry { es[2].hdr.Name = name; return es })
	}
	lastAt := bytes.Index(good, last.data)

	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"a file's bytes changed", edit(func(es []archiveEntry) []archiveEntry { es[2].data[len(es[2].data)/2] ^= 1; return es }), "its bytes have sha256"},
		{"a file longer than its record", edit(func(es []archiveEntry) []archiveEntry { es[2].data = append(es[2].data, 0); return es }), "the archive holds"},
		{"a file shorter than its record", edit(func(es []archiveEntry) []archiveEntry { es[2].data = es[2].data[1:]; return es }), "the archive holds"},
		{"a record with another hash", editRecords(fmt.Sprintf("%x", sha256.Sum256(last.data)), fmt.Sprintf("%x", sha256.Sum256(nil))), "its bytes have sha256"},
		{"a file entry without a record", edit(func(es []archiveEntry) []archiveEntry {
			return append(es, archiveEntry{*entryHeader("files/pictures/"+strayID, 0), stray})
		}), "no file record describes it"},
		{"a file entry twice", edit(func(es []archiveEntry) []archiveEntry { return append(es, es[2]) }), "appears twice"},
		{"a file missing from the archive", edit(func(es []archiveEntry) []archiveEntry { return es[:2] }), "is missing from the export archive"},
		{"cut inside a file", good[:lastAt+len(last.data)/2], "cut short"},
		{"cut inside the records", good[:bytes.Index(good, []byte(`{"kind":"end"`))], "cut short"},
		{"cut inside a tar header", good[:lastAt-300], "cut short"},
		{"entry ../x", renamed("../" + lastID), "is not named files/<bucket>/<id>"},
		{"entry files/pictures/../../x", renamed("files/pictures/../../" + lastID), "is not named files/<bucket>/<id>"},
		{"entry /etc/x", renamed("/etc/" + lastID), "is not named files/<bucket>/<id>"},
		{"entry /files/pictures/id", renamed("/files/pictures/" + lastID), "is not named files/<bucket>/<id>"},
		{"entry ./files/pictures/id", renamed("./files/pictures/" + lastID), "is not named files/<bucket>/<id>"},
		{"entry files/Pictures/id", renamed("files/Pictures/" + lastID), "is not named files/<bucket>/<id>"},
		{"entry files/pictures/id/x", renamed("files/pictures/" + lastID + "/x"), "is not named files/<bucket>/<id>"},
		{"a symbolic link", edit(func(es []archiveEntry) []archiveEntry {
			es[2].hdr.Typeflag, es[2].hdr.Linkname, es[2].data = tar.TypeSymlink, "/etc/passwd", nil
			return es
		}), "is not a plain file"},
		{"a directory first", edit(func(es []archiveEntry) []archiveEntry {
			return append([]archiveEntry{{tar.Header{Typeflag: tar.TypeDir, Name: "files/", Mode: 0o700}, nil}}, es...)
		}), "starts with"},
		{"the records after a file", edit(func(es []archiveEntry) []archiveEntry { es[0], es[1] = es[1], es[0]; return es }), "starts with"},
		{"a file record no record points at", edit(func(es []archiveEntry) []archiveEntry {
			es[0].data = []byte(strings.Replace(records, `{"kind":"end","counts":{"board":0,"file":2`, strayLine+`{"kind":"end","counts":{"board":0,"file":3`, 1))
			return append(es, archiveEntry{*entryHeader("files/pictures/"+strayID, 0), stray})
		}), "pointed at by no record"},
		{"a picture no file record describes", edit(func(es []archiveEntry) []archiveEntry {
			es[0].data = []byte(strings.Replace(strings.Replace(records, fileLine(lastID), "", 1), `"counts":{"board":0,"file":2`, `"counts":{"board":0,"file":1`, 1))
			return es[:2]
		}), "which no file record describes"},
		{"a file record twice", editRecords(fileLine(lastID), fileLine(lastID)+fileLine(lastID)), "appears twice"},
		{"a file record with a path for a bucket", editRecords(`"bucket":"pictures"`, `"bucket":"../x"`), "invalid file bucket"},
		{"a file record with a bad hash", editRecords(`"sha256":"`, `"sha256":"XY`), "64 lowercase hex"},
		{"a file record with a negative size", editRecords(`"size":`, `"size":-`), "negative size"},
		{"a file record with an unknown field", editRecords(`"record":{"bucket"`, `"record":{"path":"/etc/passwd","bucket"`), "unknown field"},
		{"a picture id that is no id", editRecords(`"pictureId":"`, `"pictureId":"../`), "is not a 24-hex id"},
		{"wrong file count", editRecords(`"counts":{"board":0,"file":2`, `"counts":{"board":0,"file":1`), "end record counts"},
	}
	eachStore(t, func(t *testing.T, o storeOpener) {
		ctx := context.Background()
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				st := newStore(t, o)
				n, err := importStore(ctx, st, bytes.NewReader(tt.in), discardLog)
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("import of an export with %s = %v, %v; want an error saying %q", tt.name, n, err, tt.want)
				}
				wantEmpty(t, st, ids...)
			})
		}
		// The good archive still imports.
		importArchive(t, newStore(t, o), good)
	})
}

// version2Export is an export that `corkboard export` of commit 75be83d
// (export format version 2) wrote: 2 users, the first with a picture id,
// then 2 sessions, then the end record.
const version2Export = "testdata/export-v2.jsonl"

// TestImportVersion2 imports an export written by version 2 into each
// store: the records are the same, and the picture reference, whose bytes
// version 2 did not carry, is kept, with a warning. A file record in a
// version-2 export is refused.
func TestImportVersion2(t *testing.T) {
	v2, err := os.ReadFile(version2Export)
	if err != nil {
		t.Fatal(err)
	}
	eachStore(t, func(t *testing.T, o storeOpener) {
		ctx := context.Background()
		st := newStore(t, o)
		var logs bytes.Buffer
		n, err := importStore(ctx, st, bytes.NewReader(v2), slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil || n["user"] != 2 || n["session"] != 2 || n["file"] != 0 {
			t.Fatalf("importStore(%s) = %v, %v; want 2 users, 2 sessions and no file", version2Export, n, err)
		}
		checkRecords(t, "records after importing a version-2 export", storedRecords(t, st), exportedRecords(t, v2))
		if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "references=1") {
			t.Errorf("importStore logged %q, want a warning about 1 reference to a file the export did not carry", logs.String())
		}

		lines := strings.Split(strings.TrimSpace(string(v2)), "\n") // header, 2 users, 2 sessions, end
		file := fmt.Sprintf(`{"kind":"file","record":{"bucket":"pictures","id":"6a1f0a05f11e000000000001","size":0,"sha256":"%x"}}`, sha256.Sum256(nil))
		for _, tt := range []struct{ name, in, want string }{
			{"file record", strings.Join(slices.Insert(slices.Clone(lines), 5, file), "\n"), "unknown or empty record of kind \"file\""},
			{"version-2 lines in an archive", string(archiveOf(t, string(v2))), "not a corkboard export header of version 3 or 4"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				st := newStore(t, o)
				if _, err := importStore(ctx, st, strings.NewReader(tt.in), discardLog); err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("import of a version-2 export with a %s = %v, want an error saying %q", tt.name, err, tt.want)
				}
				wantEmpty(t, st)
			})
		}
	})
}

// TestExportImportCommandsFiles moves a user with a picture between two
// file-store directories with `corkboard export` and `corkboard import`.
func TestExportImportCommandsFiles(t *testing.T) {
	srcDir, dstDir := t.TempDir(), t.TempDir()
	st := openFileStore(t, srcDir)
	picture := usertest.PNG(t, 50, 50, 8)
	u := putPictureUser(t, st, "dora", picture, exportNow)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	runCmd := func(stdin io.Reader, stdout io.Writer, args ...string) error {
		return run(context.Background(), append([]string{"corkboard"}, args...), func(string) string { return "" }, stdin, stdout, io.Discard)
	}
	var dump bytes.Buffer
	if err := runCmd(strings.NewReader(""), &dump, "export", "-data", srcDir); err != nil {
		t.Fatalf("corkboard export: %v", err)
	}
	if err := runCmd(&dump, io.Discard, "import", "-data", dstDir); err != nil {
		t.Fatalf("corkboard import: %v", err)
	}
	dst := openFileStore(t, dstDir)
	wantPicture(t, dst, u.PictureID, picture)
	if got, err := dst.UserByID(context.Background(), u.ID); err != nil || got.PictureID != u.PictureID {
		t.Errorf("UserByID(dora) = %+v, %v; want her with picture %s", got, err, u.PictureID)
	}
}
