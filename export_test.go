package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"corkboard/filestore"
	"corkboard/mongostore/mongotest"
)

// fixedStore is an opener for a store the test already opened.
func fixedStore(st store) storeOpener {
	return storeOpener{name: "fixed", open: func(*testing.T, *config) store { return st }}
}

// exportLines returns the export of st as sorted lines, so that exports of
// stores that iterate in different orders compare equal.
func exportLines(t *testing.T, st store) []string {
	t.Helper()
	var buf bytes.Buffer
	if _, err := exportStore(context.Background(), st, &buf); err != nil {
		t.Fatalf("exportStore: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	slices.Sort(lines)
	return lines
}

// importLines imports sorted export lines into st, putting them back in
// the order an export has: the header, users, sessions, the end record.
func importLines(t *testing.T, st store, lines []string) {
	t.Helper()
	var header, users, sessions, end []string
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, `{"kind":"corkboard-export"`):
			header = append(header, l)
		case strings.HasPrefix(l, `{"kind":"user"`):
			users = append(users, l)
		case strings.HasPrefix(l, `{"kind":"session"`):
			sessions = append(sessions, l)
		default:
			end = append(end, l)
		}
	}
	in := strings.Join(slices.Concat(header, users, sessions, end), "\n") + "\n"
	if _, err := importStore(context.Background(), st, strings.NewReader(in)); err != nil {
		t.Fatalf("importStore: %v", err)
	}
}

// TestExportImportRoundTrip moves a dataset from the file store to MongoDB
// and back to a new file store: every record comes back identical, and
// passwords and refresh tokens issued before the move keep working.
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

	original := exportLines(t, src.app.store)
	all := strings.Join(original, "\n")
	if !strings.Contains(all, `"emailVerified":true`) || !strings.Contains(all, `"admin"`) || strings.Contains(all, `"kind":"token"`) {
		t.Errorf("export = %s\nwant root's emailVerified and admin role, and no one-time token", all)
	}
	if n := len(original); n != 1+3+3+1 || !slices.Contains(original, `{"kind":"end","counts":{"session":3,"user":3}}`) {
		t.Fatalf("export has %d lines, want a header, 3 users, 3 sessions and the end record:\n%s", n, strings.Join(original, "\n"))
	}
	for _, secret := range []string{"password1", d.RefreshToken, d.AccessToken} {
		if strings.Contains(strings.Join(original, ""), secret) {
			t.Fatal("the export contains a password or token in plain text")
		}
	}

	importLines(t, mongo, original)
	viaMongo := exportLines(t, mongo)
	if !slices.Equal(viaMongo, original) {
		t.Fatalf("file → mongo changed the data:\nfile:  %s\nmongo: %s", strings.Join(original, "\n"), strings.Join(viaMongo, "\n"))
	}

	back, err := filestore.Open(t.TempDir(), filestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { back.Close() })
	importLines(t, back, viaMongo)
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
	// case changes one thing in the good dump.
	lines := strings.Split(strings.TrimSpace(dump), "\n") // header, user, session, end
	userLine, sessionLine := lines[1], lines[2]
	tests := []struct{ name, in, want string }{
		{"empty", "", "no end record"},
		{"garbage", "garbage", "record 1"},
		{"no header", strings.Join(lines[1:], "\n"), "not a corkboard export header"},
		{"future version", `{"kind":"corkboard-export","version":99}` + "\n" + strings.Join(lines[1:], "\n"), "not a corkboard export header"},
		{"cut before the end record", strings.Join(lines[:3], "\n"), "no end record"},
		{"cut inside a record", dump[:len(dump)-30], "record 4"},
		{"wrong counts", strings.Join(lines[:3], "\n") + "\n" + `{"kind":"end","counts":{"session":1,"user":2}}`, "end record counts"},
		{"counts of an unknown kind", strings.Join(lines[:3], "\n") + "\n" + `{"kind":"end","counts":{"board":0,"session":1,"user":1}}`, "unknown kind"},
		{"version-1 end record", strings.Join(lines[:3], "\n") + "\n" + `{"kind":"end","users":1,"sessions":1}`, "record 4"},
		{"version-1 record", strings.Join([]string{lines[0], strings.Replace(userLine, `"record":`, `"user":`, 1), sessionLine, lines[3]}, "\n"), "record 2"},
		{"unknown kind", strings.Join(lines[:3], "\n") + "\n" + `{"kind":"board"}` + "\n" + lines[3], "unknown or empty record"},
		{"session before its user", strings.Join([]string{lines[0], sessionLine, userLine, lines[3]}, "\n"), "before its user"},
		{"user twice", strings.Join([]string{lines[0], userLine, userLine, sessionLine, `{"kind":"end","counts":{"session":1,"user":2}}`}, "\n"), "appears twice"},
		{"record with an unknown field", strings.Replace(dump, `"record":{`, `"record":{"admin":true,`, 1), "unknown field"},
		{"path in an id", strings.Replace(dump, `"id":"`, `"id":"../../x`, 1), "is not a 24-hex id"},
		{"year 10000", strings.Replace(dump, `"createdAt":"2026-11-23T09:00:00Z"`, `"createdAt":"9999-12-31T23:59:59-00:01"`, 1), "within years 1-9999"},
		{"unknown role", strings.Replace(dump, `"roles":["user"]`, `"roles":["root"]`, 1), "unknown role"},
		{"not a bcrypt hash", strings.Replace(dump, `"passwordHash":"$2`, `"passwordHash":"x`, 1), "not a bcrypt hash"},
		{"generation 0", strings.Replace(dump, `"generation":1`, `"generation":0`, 1), "generation"},
		{"bad email", strings.Replace(dump, `"email":"carol@example.com"`, `"email":"Carol <carol@example.com>"`, 1), "email"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := runCmd(strings.NewReader(tt.in), "import", "-data", dir); err == nil || !strings.Contains(err.Error(), tt.want) {
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

// exportedRecords returns the records of an export of either version by
// kind and id, each as the JSON the export holds.
func exportedRecords(t *testing.T, export []byte) map[string]string {
	t.Helper()
	out := make(map[string]string)
	for _, line := range bytes.Split(bytes.TrimSpace(export), []byte("\n")) {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(line, &fields); err != nil {
			t.Fatalf("export line %s: %v", line, err)
		}
		var kind string
		json.Unmarshal(fields["kind"], &kind)
		rec, ok := fields["record"] // version 2
		if !ok {
			rec, ok = fields[kind] // version 1
		}
		if !ok {
			continue // header or end
		}
		var id struct{ ID string }
		if err := json.Unmarshal(rec, &id); err != nil {
			t.Fatal(err)
		}
		out[kind+" "+id.ID] = string(rec)
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

// TestExportFormat exports the file store fixture: a header of version 2,
// users, sessions, and the end record with the counts by kind. The records
// are those the version-1 export of the same data holds, byte for byte, and
// importing the export into an empty store and exporting that gives the
// same lines again.
func TestExportFormat(t *testing.T) {
	ctx := context.Background()
	var buf bytes.Buffer
	n, err := exportStore(ctx, openFixture(t, "testdata/filestore-v1"), &buf)
	if err != nil || n["user"] != 4 || n["session"] != 5 {
		t.Fatalf("exportStore(fixture) = %v, %v; want 4 users and 5 sessions", n, err)
	}
	export := buf.Bytes()
	lines := strings.Split(strings.TrimSpace(string(export)), "\n")
	wantPrefix := []string{`{"kind":"corkboard-export","version":2}`}
	for range 4 {
		wantPrefix = append(wantPrefix, `{"kind":"user","record":{"id":"`)
	}
	for range 5 {
		wantPrefix = append(wantPrefix, `{"kind":"session","record":{"id":"`)
	}
	wantPrefix = append(wantPrefix, `{"kind":"end","counts":{"session":5,"user":4}}`)
	if len(lines) != len(wantPrefix) {
		t.Fatalf("export has %d lines, want %d:\n%s", len(lines), len(wantPrefix), export)
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
	checkRecords(t, "records exported now vs by version 1", exportedRecords(t, export), exportedRecords(t, v1))

	dst := openFileStore(t, t.TempDir())
	if n, err := importStore(ctx, dst, bytes.NewReader(export)); err != nil || n["user"] != 4 || n["session"] != 5 {
		t.Fatalf("importStore(export) = %v, %v; want 4 users and 5 sessions", n, err)
	}
	want := slices.Sorted(slices.Values(lines))
	if got := exportLines(t, dst); !slices.Equal(got, want) {
		t.Errorf("export | import | export changed the data:\nbefore: %s\nafter:  %s", strings.Join(want, "\n"), strings.Join(got, "\n"))
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
	n, err := importStore(ctx, st, bytes.NewReader(v1))
	if err != nil || n["user"] != 4 || n["session"] != 5 {
		t.Fatalf("importStore(%s) = %v, %v; want 4 users and 5 sessions", version1Export, n, err)
	}
	var buf bytes.Buffer
	if _, err := exportStore(ctx, st, &buf); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, "records after importing a version-1 export", exportedRecords(t, buf.Bytes()), exportedRecords(t, v1))

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
			if _, err := importStore(ctx, st, strings.NewReader(tt.in)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("import of a version-1 export with %s = %v, want an error saying %q", tt.name, err, tt.want)
			}
			if empty, err := isEmpty(ctx, st); err != nil || !empty {
				t.Errorf("after a refused import the store is not empty (%v)", err)
			}
		})
	}
}
