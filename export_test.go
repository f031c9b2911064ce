package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
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
	if _, _, err := exportStore(context.Background(), st, &buf); err != nil {
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
	if _, _, err := importStore(context.Background(), st, strings.NewReader(in)); err != nil {
		t.Fatalf("importStore: %v", err)
	}
}

// TestExportImportRoundTrip moves a dataset from the file store to MongoDB
// and back to a new file store: every record comes back identical, and
// passwords and refresh tokens issued before the move keep working.
func TestExportImportRoundTrip(t *testing.T) {
	mongo := mongotest.Open(t) // skips without MONGO_URI
	src := startEnv(t, fileStore, nil)
	alice := src.newClient()
	var d authDoc
	alice.do("POST", "/api/auth/signup", map[string]any{
		"username": "Alice", "email": "alice@example.com", "password": "password1", "fullName": "Alice L.", "returnRefreshToken": true,
	}).want(t, 201).json(t, &d)
	var rotated tokenDoc
	src.newClient().refreshBody(d.RefreshToken).want(t, 200).json(t, &rotated)
	root := src.newClient()
	root.signup("root", "root@example.com", "password1")
	root.do("POST", "/api/auth/logout", nil).want(t, 204) // a revoked session travels too
	src.newClient().signup("bob", "bob@example.com", "password1")

	original := exportLines(t, src.app.store)
	if n := len(original); n != 1+3+3+1 || !slices.Contains(original, `{"kind":"end","users":3,"sessions":3}`) {
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
		{"wrong counts", strings.Join(lines[:3], "\n") + "\n" + `{"kind":"end","users":2,"sessions":1}`, "end record counts"},
		{"unknown kind", strings.Join(lines[:3], "\n") + "\n" + `{"kind":"board"}` + "\n" + lines[3], "unknown or empty record"},
		{"session before its user", strings.Join([]string{lines[0], sessionLine, userLine, lines[3]}, "\n"), "before its user"},
		{"user twice", strings.Join([]string{lines[0], userLine, userLine, sessionLine, `{"kind":"end","users":2,"sessions":1}`}, "\n"), "appears twice"},
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
