package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"corkboard/filestore"
	"corkboard/mongostore/mongotest"
	"corkboard/objectid"
	"corkboard/user"
	"corkboard/user/usertest"
)

// fixedStore is an opener for a store the test already opened.
func fixedStore(st store) storeOpener {
	return storeOpener{name: "fixed", open: func(*testing.T, *config) store { return st }}
}

// discardLog is the logger of exports and imports whose warnings a test
// does not look at.
var discardLog = slog.New(slog.DiscardHandler)

// exportArchive returns the export of st.
func exportArchive(t *testing.T, st store) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := exportStore(context.Background(), st, &buf, discardLog); err != nil {
		t.Fatalf("exportStore: %v", err)
	}
	return buf.Bytes()
}

// importArchive imports an export into st.
func importArchive(t *testing.T, st store, archive []byte) counts {
	t.Helper()
	n, err := importStore(context.Background(), st, bytes.NewReader(archive), discardLog)
	if err != nil {
		t.Fatalf("importStore: %v", err)
	}
	return n
}

// archiveEntry is one entry of an export archive.
type archiveEntry struct {
	hdr  tar.Header
	data []byte
}

// readArchive returns the entries of an export archive, in order.
func readArchive(t *testing.T, archive []byte) []archiveEntry {
	t.Helper()
	var entries []archiveEntry
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return entries
		}
		if err != nil {
			t.Fatalf("reading the export archive: %v", err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("reading entry %s of the export archive: %v", hdr.Name, err)
		}
		entries = append(entries, archiveEntry{*hdr, data})
	}
}

// makeArchive writes entries as a tar archive, each entry's size being
// that of its data.
func makeArchive(t *testing.T, entries ...archiveEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := e.hdr
		hdr.Size = int64(len(e.data))
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatalf("writing the header of %s: %v", hdr.Name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// archiveOf returns an export archive of the JSON lines jsonl and files.
func archiveOf(t *testing.T, jsonl string, files ...archiveEntry) []byte {
	t.Helper()
	return makeArchive(t, append([]archiveEntry{{*entryHeader(recordsEntry, 0), []byte(jsonl)}}, files...)...)
}

// recordsOf returns the JSON lines of an export archive, its first entry.
func recordsOf(t *testing.T, archive []byte) string {
	t.Helper()
	entries := readArchive(t, archive)
	if len(entries) == 0 || entries[0].hdr.Name != recordsEntry {
		t.Fatalf("the export archive does not start with %s", recordsEntry)
	}
	return string(entries[0].data)
}

// sortedLines returns the lines of jsonl sorted, so that exports of stores
// that iterate in different orders compare equal.
func sortedLines(jsonl string) []string {
	lines := strings.Split(strings.TrimSpace(jsonl), "\n")
	slices.Sort(lines)
	return lines
}

// exportLines returns the JSON lines of the export of st, sorted.
func exportLines(t *testing.T, st store) []string {
	t.Helper()
	return sortedLines(recordsOf(t, exportArchive(t, st)))
}

// putPictureUser stores picture in st and a user named name whose picture
// it is, as sign-up with a picture does: the file first, then the record.
func putPictureUser(t *testing.T, st store, name string, picture []byte, now time.Time) user.User {
	t.Helper()
	return putUser(t, st, name, bytes.NewReader(picture), now)
}

// putUser stores a user named name in st, with a picture of the bytes
// of picture unless it is nil.
func putUser(t *testing.T, st store, name string, picture io.Reader, now time.Time) user.User {
	t.Helper()
	ctx := context.Background()
	u := user.User{
		ID: objectid.New(now), Username: name, Email: name + "@example.com", FullName: name, Roles: []string{"user"},
		PasswordHash: "$2a$04$" + strings.Repeat("P", 53), CreatedAt: now, UpdatedAt: now,
	}
	if picture != nil {
		u.PictureID = objectid.New(now)
		if _, err := st.PutFile(ctx, "pictures", u.PictureID, picture); err != nil {
			t.Fatalf("PutFile(pictures, %s): %v", u.PictureID, err)
		}
	}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatalf("CreateUser(%s): %v", name, err)
	}
	return u
}

// wantPicture checks that st holds want as the picture id.
func wantPicture(t *testing.T, st store, id string, want []byte) {
	t.Helper()
	f, err := st.OpenFile(context.Background(), "pictures", id)
	if err != nil {
		t.Fatalf("OpenFile(pictures, %s): %v", id, err)
	}
	defer f.Close()
	got, err := io.ReadAll(f)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("picture %s = %d bytes, %v; want the %d bytes exported", id, len(got), err, len(want))
	}
}

// TestExportImportRoundTrip moves a dataset from the file store to MongoDB
// and back to a new file store: every record and every picture comes back
// identical, and passwords and refresh tokens issued before the move keep
// working.
func TestExportImportRoundTrip(t *testing.T) {
	mongo := mongotest.Open(t) // skips without MONGO_URI
	src, sink := mailEnv(t, fileStore, nil)
	alice := src.newClient()
	var d authDoc
	alice.do("POST", "/api/auth/signup", map[string]any{
		"username": "Alice", "email": "alice@example.com", "password": "password1", "fullName": "Alice L.", "returnRefreshToken": true,
	}).want(t, 201).json(t, &d)
	var rotated tokenDoc
	src.newClient().refreshBody(d.RefreshToken).want(t, 200).json(t, &rotated)
	root := src.newClient()
	root.signup("root", "root@example.com", "password1")
	// A verified address (and with it the admin role) travels; the
	// verification token of bob, still unused, does not: one-time tokens
	// are short-lived and never exported.
	src.newClient().do("POST", "/api/auth/reset-password", map[string]string{
		"token": sink.next("root@example.com", "administrator").token(t), "password": "password1", "passwordConfirm": "password1",
	}).want(t, 200) // verifies the address, and revokes root's session: a revoked session travels too
	src.newClient().signup("bob", "bob@example.com", "password1")
	sink.next("bob@example.com", "confirm")
	picture := usertest.PNG(t, 64, 48, 7)
	pablo := putPictureUser(t, src.app.store, "pablo", picture, src.clock.Now())

	dump := exportArchive(t, src.app.store)
	original := sortedLines(recordsOf(t, dump))
	all := strings.Join(original, "\n")
	if !strings.Contains(all, `"emailVerified":true`) || !strings.Contains(all, `"admin"`) || strings.Contains(all, `"kind":"token"`) {
		t.Errorf("export = %s\nwant root's emailVerified and admin role, and no one-time token", all)
	}
	if n := len(original); n != 1+4+3+1+1 || !slices.Contains(original, `{"kind":"end","counts":{"board":0,"file":1,"notification":0,"session":3,"user":4}}`) {
		t.Fatalf("export has %d lines, want a header, 4 users, 3 sessions, 1 file and the end record:\n%s", n, strings.Join(original, "\n"))
	}
	for _, secret := range []string{"password1", d.RefreshToken, d.AccessToken} {
		if bytes.Contains(dump, []byte(secret)) {
			t.Fatal("the export contains a password or token in plain text")
		}
	}

	if n := importArchive(t, mongo, dump); n["user"] != 4 || n["session"] != 3 || n["file"] != 1 {
		t.Errorf("import into MongoDB moved %v, want 4 users, 3 sessions and 1 file", n)
	}
	wantPicture(t, mongo, pablo.PictureID, picture)
	viaMongo := exportArchive(t, mongo)
	if got := sortedLines(recordsOf(t, viaMongo)); !slices.Equal(got, original) {
		t.Fatalf("file → mongo changed the data:\nfile:  %s\nmongo: %s", strings.Join(original, "\n"), strings.Join(got, "\n"))
	}

	back, err := filestore.Open(t.TempDir(), filestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { back.Close() })
	importArchive(t, back, viaMongo)
	wantPicture(t, back, pablo.PictureID, picture)
	if again := exportLines(t, back); !slices.Equal(again, original) {
		t.Fatalf("file → mongo → file changed the data:\nbefore: %s\nafter:  %s", strings.Join(original, "\n"), strings.Join(again, "\n"))
	}

	// The same secrets (testConfig's) on the new stores: everything works.
	for name, st := range map[string]store{"mongo": mongo, "file": back} {
		env := startEnv(t, fixedStore(st), nil)
		env.clock.Advance(time.Minute)
		c := env.newClient()
		r := c.refreshBody(rotated.RefreshToken)
		r.want(t, http.StatusOK)
		var td tokenDoc
		r.json(t, &td)
		c.token = td.AccessToken
		var me struct{ User userDoc }
		c.do("GET", "/api/users/me", nil).want(t, 200).json(t, &me)
		if me.User.Username != "Alice" || me.User.FullName != "Alice L." {
			t.Errorf("%s: /me after the move = %+v", name, me.User)
		}
		c.login("email", "bob@example.com", "password1")
		// The token retired before the move is still recognised as reuse.
		env.clock.Advance(time.Minute)
		env.newClient().refreshBody(d.RefreshToken).wantProblem(t, 401, "refresh_token_reused")
	}
}

// TestExportImportCommands runs `corkboard export` and `corkboard import`
// as a user would, between two file-store directories.
func TestExportImportCommands(t *testing.T) {
	srcDir, dstDir := t.TempDir(), t.TempDir()
	st, err := filestore.Open(srcDir, filestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	env := startEnv(t, fixedStore(st), nil)
	env.newClient().signup("carol", "carol@example.com", "password1")
	want := exportLines(t, st)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	runCmd := func(stdin io.Reader, args ...string) (string, error) {
		var stdout bytes.Buffer
		err := run(context.Background(), append([]string{"corkboard"}, args...), func(string) string { return "" }, stdin, &stdout, io.Discard)
		return stdout.String(), err
	}
	dump, err := runCmd(strings.NewReader(""), "export", "-data", srcDir)
	if err != nil {
		t.Fatalf("corkboard export: %v", err)
	}
	if _, err := runCmd(strings.NewReader(dump), "import", "-data", dstDir); err != nil {
		t.Fatalf("corkboard import: %v", err)
	}
	dst, err := filestore.Open(dstDir, filestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := exportLines(t, dst)
	dst.Close()
	if !slices.Equal(got, want) {
		t.Errorf("export | import changed the data:\nwant %s\ngot  %s", strings.Join(want, "\n"), strings.Join(got, "\n"))
	}

	// Importing again would merge: refused, and nothing changes.
	if _, err := runCmd(strings.NewReader(dump), "import", "-data", dstDir); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("second import = %v, want a 'not empty' error", err)
	}
	// Bad input: a clear error, and the target store stays empty. Each
	// case changes one thing in the records of the good dump, which go
	// back into an archive unless the case is plain text.
	records := recordsOf(t, []byte(dump))
	lines := strings.Split(strings.TrimSpace(records), "\n") // header, user, session, end
	userLine, sessionLine := lines[1], lines[2]
	tests := []struct {
		name, in, want string
		plain          bool // in is the whole input, not records to put in an archive
	}{
		{"empty", "", "no end record", true},
		{"garbage", "garbage", "record 1", true},
		{"version-4 records outside an archive", records, "not a corkboard export header of version 1 or 2", true},
		{"no header", strings.Join(lines[1:], "\n"), "not a corkboard export header", false},
		{"future version", `{"kind":"corkboard-export","version":99}` + "\n" + strings.Join(lines[1:], "\n"), "not a corkboard export header", false},
		{"version-2 header in an archive", `{"kind":"corkboard-export","version":2}` + "\n" + strings.Join(lines[1:], "\n"), "not a corkboard export header of version 3 or 4", false},
		{"cut before the end record", strings.Join(lines[:3], "\n"), "no end record", false},
		{"cut inside a record", records[:len(records)-30], "record 4", false},
		{"wrong counts", strings.Join(lines[:3], "\n") + "\n" + `{"kind":"end","counts":{"session":1,"user":2}}`, "end record counts", false},
		{"counts of an unknown kind", strings.Join(lines[:3], "\n") + "\n" + `{"kind":"end","counts":{"session":1,"user":1,"widget":0}}`, "unknown kind", false},
		{"version-1 end record", strings.Join(lines[:3], "\n") + "\n" + `{"kind":"end","users":1,"sessions":1}`, "record 4", false},
		{"version-1 record", strings.Join([]string{lines[0], strings.Replace(userLine, `"record":`, `"user":`, 1), sessionLine, lines[3]}, "\n"), "record 2", false},
		{"unknown kind", strings.Join(lines[:3], "\n") + "\n" + `{"kind":"widget"}` + "\n" + lines[3], "unknown or empty record", false},
		{"session before its user", strings.Join([]string{lines[0], sessionLine, userLine, lines[3]}, "\n"), "before its user", false},
		{"user twice", strings.Join([]string{lines[0], userLine, userLine, sessionLine, `{"kind":"end","counts":{"session":1,"user":2}}`}, "\n"), "appears twice", false},
		{"record with an unknown field", strings.Replace(records, `"record":{`, `"record":{"admin":true,`, 1), "unknown field", false},
		{"path in an id", strings.Replace(records, `"id":"`, `"id":"../../x`, 1), "is not a 24-hex id", false},
		{"year 10000", strings.Replace(records, `"createdAt":"2026-11-23T09:00:00Z"`, `"createdAt":"9999-12-31T23:59:59-00:01"`, 1), "within years 1-9999", false},
		{"unknown role", strings.Replace(records, `"roles":["user"]`, `"roles":["root"]`, 1), "unknown role", false},
		{"not a bcrypt hash", strings.Replace(records, `"passwordHash":"$2`, `"passwordHash":"x`, 1), "not a bcrypt hash", false},
		{"generation 0", strings.Replace(records, `"generation":1`, `"generation":0`, 1), "generation", false},
		{"bad email", strings.Replace(records, `"email":"carol@example.com"`, `"email":"Carol <carol@example.com>"`, 1), "email", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			in := tt.in
			if !tt.plain {
				in = string(archiveOf(t, in))
			}
			if _, err := runCmd(strings.NewReader(in), "import", "-data", dir); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("import of a dump with %s = %v, want an error saying %q", tt.name, err, tt.want)
			}
			st, err := filestore.Open(dir, filestore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if empty, err := isEmpty(context.Background(), st); err != nil || !empty {
				t.Errorf("after a refused import the store is not empty (%v)", err)
			}
		})
	}
}

// version1Export is an export that `corkboard export` of commit f8a5f25
// (export format version 1) wrote from a copy of the file store in
// testdata/filestore-v1: 4 users, then 5 sessions, then the end record.
const version1Export = "testdata/export-v1.jsonl"

// openFixture opens a copy of the file store fixture in dir, which Open
// would lock and write to, and closes it when the test ends.
func openFixture(t *testing.T, dir string) store {
	t.Helper()
	cp := t.TempDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(cp, e.Name()), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return openFileStore(t, cp)
}

// openFileStore opens a file store in dir and closes it when the test ends.
func openFileStore(t *testing.T, dir string) store {
	t.Helper()
	st, err := filestore.Open(dir, filestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// exportedRecords returns the records of the JSON lines of an export of
// any version by kind and id, each as the JSON the export holds. File
// records are left out.
func exportedRecords(t *testing.T, jsonl []byte) map[string]string {
	t.Helper()
	out := make(map[string]string)
	for _, line := range bytes.Split(bytes.TrimSpace(jsonl), []byte("\n")) {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(line, &fields); err != nil {
			t.Fatalf("export line %s: %v", line, err)
		}
		var kind string
		json.Unmarshal(fields["kind"], &kind)
		rec, ok := fields["record"] // versions 2 and 3
		if !ok {
			rec, ok = fields[kind] // version 1
		}
		if !ok || kind == kindFile {
			continue // header, end or file
		}
		var id struct{ ID string }
		if err := json.Unmarshal(rec, &id); err != nil {
			t.Fatal(err)
		}
		out[kind+" "+id.ID] = string(rec)
	}
	return out
}

// storedRecords returns the records that st holds, in the form of
// exportedRecords.
func storedRecords(t *testing.T, st store) map[string]string {
	t.Helper()
	out := make(map[string]string)
	for _, k := range exportKinds {
		err := k.items(context.Background(), st, func(it item) error {
			raw, err := json.Marshal(it.value)
			out[it.kind+" "+it.id] = string(raw)
			return err
		})
		if err != nil {
			t.Fatalf("reading the %ss of the store: %v", k.kindName(), err)
		}
	}
	return out
}

// checkRecords compares the records of two exports.
func checkRecords(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for k, w := range want {
		if g := got[k]; g != w {
			t.Errorf("%s: %s = %s, want %s", what, k, g, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected %s = %s", what, k, g)
		}
	}
}

// alicePicture is the picture id of alice in testdata/filestore-v1, whose
// bytes the fixture does not hold.
const alicePicture = "6813268af11e000000000001"

// TestExportFormat exports the file store fixture, with alice's picture
// stored: an archive of the JSON lines, then the picture's bytes. The
// lines are a header of version 4, users, sessions, the picture's file
// record, and the end record with the counts by kind, boards and
// notifications at 0 (the fixture has none). The records are those the
// version-1 export of the same data holds, byte for byte, and importing
// the export into an empty store and exporting that gives the same lines
// and bytes again.
func TestExportFormat(t *testing.T) {
	ctx := context.Background()
	src := openFixture(t, "testdata/filestore-v1")
	picture := usertest.PNG(t, 20, 10, 1)
	if _, err := src.PutFile(ctx, "pictures", alicePicture, bytes.NewReader(picture)); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := exportStore(ctx, src, &buf, discardLog)
	if err != nil || n["user"] != 4 || n["session"] != 5 || n["file"] != 1 {
		t.Fatalf("exportStore(fixture) = %v, %v; want 4 users, 5 sessions and 1 file", n, err)
	}
	export := buf.Bytes()
	entries := readArchive(t, export)
	if len(entries) != 2 || entries[0].hdr.Name != recordsEntry || entries[1].hdr.Name != "files/pictures/"+alicePicture {
		t.Fatalf("the export archive holds %d entries, want %s and files/pictures/%s", len(entries), recordsEntry, alicePicture)
	}
	for _, e := range entries {
		if e.hdr.Typeflag != tar.TypeReg || e.hdr.Mode != 0o600 || !e.hdr.ModTime.Equal(time.Unix(0, 0)) {
			t.Errorf("entry %s: type %c, mode %o, time %v; want a plain file of mode 600 dated 1970-01-01", e.hdr.Name, e.hdr.Typeflag, e.hdr.Mode, e.hdr.ModTime)
		}
	}
	if !bytes.Equal(entries[1].data, picture) {
		t.Errorf("the archive holds %d bytes of the picture, not the %d stored", len(entries[1].data), len(picture))
	}
	lines := strings.Split(strings.TrimSpace(string(entries[0].data)), "\n")
	wantPrefix := []string{`{"kind":"corkboard-export","version":4}`}
	for range 4 {
		wantPrefix = append(wantPrefix, `{"kind":"user","record":{"id":"`)
	}
	for range 5 {
		wantPrefix = append(wantPrefix, `{"kind":"session","record":{"id":"`)
	}
	sum := sha256.Sum256(picture)
	wantPrefix = append(wantPrefix,
		fmt.Sprintf(`{"kind":"file","record":{"bucket":"pictures","id":"%s","size":%d,"sha256":"%x"}}`, alicePicture, len(picture), sum),
		`{"kind":"end","counts":{"board":0,"file":1,"notification":0,"session":5,"user":4}}`)
	if len(lines) != len(wantPrefix) {
		t.Fatalf("export has %d lines, want %d:\n%s", len(lines), len(wantPrefix), entries[0].data)
	}
	for i, want := range wantPrefix {
		if !strings.HasPrefix(lines[i], want) {
			t.Errorf("export line %d = %s, want it to start with %s", i+1, lines[i], want)
		}
	}

	v1, err := os.ReadFile(version1Export)
	if err != nil {
		t.Fatal(err)
	}
	checkRecords(t, "records exported now vs by version 1", exportedRecords(t, entries[0].data), exportedRecords(t, v1))

	dst := openFileStore(t, t.TempDir())
	if n, err := importStore(ctx, dst, bytes.NewReader(export), discardLog); err != nil || n["user"] != 4 || n["session"] != 5 || n["file"] != 1 {
		t.Fatalf("importStore(export) = %v, %v; want 4 users, 5 sessions and 1 file", n, err)
	}
	want := slices.Sorted(slices.Values(lines))
	again := exportArchive(t, dst)
	if got := sortedLines(recordsOf(t, again)); !slices.Equal(got, want) {
		t.Errorf("export | import | export changed the data:\nbefore: %s\nafter:  %s", strings.Join(want, "\n"), strings.Join(got, "\n"))
	}
	if e := readArchive(t, again); len(e) != 2 || !bytes.Equal(e[1].data, picture) {
		t.Errorf("export | import | export lost the picture")
	}
}

// TestImportVersion1 imports an export written by version 1, and refuses
// bad version-1 input as it refuses bad version-2 input.
func TestImportVersion1(t *testing.T) {
	ctx := context.Background()
	v1, err := os.ReadFile(version1Export)
	if err != nil {
		t.Fatal(err)
	}
	st := openFileStore(t, t.TempDir())
	n, err := importStore(ctx, st, bytes.NewReader(v1), discardLog)
	if err != nil || n["user"] != 4 || n["session"] != 5 || n["file"] != 0 {
		t.Fatalf("importStore(%s) = %v, %v; want 4 users, 5 sessions and no file", version1Export, n, err)
	}
	checkRecords(t, "records after importing a version-1 export", storedRecords(t, st), exportedRecords(t, v1))

	lines := strings.Split(strings.TrimSpace(string(v1)), "\n") // header, 4 users, 5 sessions, end
	userLine, sessionLine, end := lines[1], lines[5], lines[10]
	tests := []struct{ name, in, want string }{
		{"cut before the end record", strings.Join(lines[:10], "\n"), "no end record"},
		{"wrong counts", strings.Join(lines[:10], "\n") + "\n" + `{"kind":"end","users":4,"sessions":4}`, "end record counts"},
		{"session before its user", strings.Join([]string{lines[0], sessionLine, userLine, end}, "\n"), "before its user"},
		{"user twice", strings.Join([]string{lines[0], userLine, userLine, `{"kind":"end","users":2}`}, "\n"), "appears twice"},
		{"user line carrying no user", strings.Join([]string{lines[0], strings.Replace(userLine, `"user":`, `"session":`, 1), `{"kind":"end","users":1}`}, "\n"), "unknown or empty record"},
		{"version-2 record", strings.Join([]string{lines[0], strings.Replace(userLine, `"user":`, `"record":`, 1), `{"kind":"end","users":1}`}, "\n"), "record 2"},
		{"version-2 end record", strings.Join([]string{lines[0], `{"kind":"end","counts":{"session":0,"user":0}}`}, "\n"), "record 2"},
		{"record with an unknown field", strings.Replace(string(v1), `"user":{`, `"user":{"admin":true,`, 1), "unknown field"},
		{"invalid record", strings.Replace(string(v1), `"roles":["user"]`, `"roles":["root"]`, 1), "unknown role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := openFileStore(t, t.TempDir())
			if _, err := importStore(ctx, st, strings.NewReader(tt.in), discardLog); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("import of a version-1 export with %s = %v, want an error saying %q", tt.name, err, tt.want)
			}
			if empty, err := isEmpty(ctx, st); err != nil || !empty {
				t.Errorf("after a refused import the store is not empty (%v)", err)
			}
		})
	}
}
