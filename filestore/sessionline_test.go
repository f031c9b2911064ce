package filestore

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"corkboard/auth"
)

// jsonLine is appendLine's encoding/json path, what appendSessionLine
// must match.
func jsonLine(t testing.TB, seq uint64, changes []change) ([]byte, error) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(batch{Version: journalVersionPlain, Seq: seq, Changes: changes})
	return buf.Bytes(), err
}

// checkSessionLine fails if appendSessionLine writes other bytes than
// encoding/json for changes, and returns whether it wrote them.
func checkSessionLine(t testing.TB, seq uint64, changes []change) bool {
	t.Helper()
	got, ok := appendSessionLine(nil, seq, changes)
	want, err := jsonLine(t, seq, changes)
	if ok && (err != nil || !bytes.Equal(got, want)) {
		t.Fatalf("appendSessionLine wrote\n%s\nencoding/json writes\n%s (%v)", got, want, err)
	}
	return ok
}

// TestSessionLineMatchesJSON checks the journal line of session changes
// written by hand against encoding/json, for the lines it writes and the
// ones it declines, and that auth.Session has no field it does not write.
func TestSessionLineMatchesJSON(t *testing.T) {
	written := []string{"ID", "UserID", "Generation", "Roles", "CreatedAt", "RotatedAt", "LastUsedAt", "ExpiresAt",
		"RevokedAt", "UserAgent", "IP", "CredentialVersion"}
	var fields []string
	st := reflect.TypeFor[auth.Session]()
	for i := range st.NumField() {
		fields = append(fields, st.Field(i).Name)
	}
	if !reflect.DeepEqual(fields, written) {
		t.Fatalf("auth.Session has fields %v; appendSession writes %v", fields, written)
	}
	at := time.Date(2026, 11, 29, 20, 14, 34, 123456789, time.UTC)
	full := auth.Session{ID: "0123456789abcdef01234567", UserID: "89abcdef0123456789abcdef", Generation: 7, Roles: []string{"user", "admin"},
		CreatedAt: at, RotatedAt: at.Add(time.Second), LastUsedAt: at, ExpiresAt: at.Add(time.Hour), RevokedAt: at.Add(2 * time.Second),
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64) <b>&", IP: "127.0.0.1", CredentialVersion: 3}
	fresh := auth.Session{ID: "a", UserID: "b", CreatedAt: at, LastUsedAt: at, ExpiresAt: at.In(time.FixedZone("x", -3600))}
	empty := fresh
	empty.Roles = []string{}
	with := func(f func(s *auth.Session)) auth.Session { s := full; f(&s); return s }
	for _, tc := range []struct {
		name    string
		changes []change
		written bool
	}{
		{"rotation", []change{putSession(full)}, true},
		{"fresh, nil roles", []change{putSession(fresh)}, true},
		{"empty roles", []change{putSession(empty)}, true},
		{"several, with a delete", []change{putSession(full), deleteSession("x"), putSession(fresh)}, true},
		{"no changes", nil, true},
		{"zero times", []change{putSession(auth.Session{})}, true},
		{"quote in the user agent", []change{putSession(with(func(s *auth.Session) { s.UserAgent = `a"b` }))}, false},
		{"backslash", []change{putSession(with(func(s *auth.Session) { s.IP = `a\b` }))}, false},
		{"UTF-8", []change{putSession(with(func(s *auth.Session) { s.UserAgent = "é" }))}, false},
		{"invalid UTF-8", []change{putSession(with(func(s *auth.Session) { s.UserAgent = "\xff" }))}, false},
		{"control byte", []change{putSession(with(func(s *auth.Session) { s.UserAgent = "\x01" }))}, false},
		{"role", []change{putSession(with(func(s *auth.Session) { s.Roles = []string{"\u2028"} }))}, false},
		{"year 10000", []change{putSession(with(func(s *auth.Session) { s.ExpiresAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }))}, false},
		{"offset in seconds", []change{putSession(with(func(s *auth.Session) { s.CreatedAt = at.In(time.FixedZone("s", 30)) }))}, false},
		{"another kind", []change{putChange(userKind, "u", struct{}{})}, false},
		{"a patch", []change{{Op: opPatch, Kind: sessionKind, ID: "a"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if written := checkSessionLine(t, 42, tc.changes); written != tc.written {
				t.Errorf("written by hand: %v, want %v", written, tc.written)
			}
			// Whichever path wrote it, appendLine's line reads back.
			line, err := appendLine(nil, 42, tc.changes)
			if err != nil {
				if tc.name == "year 10000" {
					return // encoding/json refuses it, as before
				}
				t.Fatal(err)
			}
			checkAfterQueued(t, 42, tc.changes, line)
			if _, err := decodeBatch(bytes.TrimSuffix(line, []byte("\n"))); err != nil {
				t.Errorf("decodeBatch(%s): %v", line, err)
			}
		})
	}
}

// FuzzSessionLine checks appendSessionLine against encoding/json for a
// session put with any strings, numbers and times.
func FuzzSessionLine(f *testing.F) {
	f.Add("0123456789abcdef01234567", "user", "Mozilla/5.0", "127.0.0.1", uint64(7), uint64(0), int64(1764447274123456789), int64(0), int32(0))
	f.Add("", "", "a\"b\\c<>&", "\xff\u2028", uint64(0), uint64(1<<64-1), int64(-1), int64(1), int32(30))
	f.Fuzz(func(t *testing.T, id, role, ua, ip string, gen, cred uint64, created, revoked int64, zone int32) {
		loc := time.FixedZone("z", int(zone))
		s := auth.Session{ID: id, UserID: id, Generation: gen, Roles: []string{role}, CreatedAt: time.Unix(0, created).In(loc),
			LastUsedAt: time.Unix(created, 0).In(loc), ExpiresAt: time.Unix(0, created), RevokedAt: time.Unix(0, revoked),
			UserAgent: ua, IP: ip, CredentialVersion: cred}
		checkSessionLine(t, gen, []change{putSession(s), deleteSession(ip)})
	})
}

// BenchmarkSessionLine compares the journal line of a rotation written by
// hand with encoding/json, what it replaced, in one run.
func BenchmarkSessionLine(b *testing.B) {
	at := time.Now().UTC()
	changes := []change{putSession(auth.Session{ID: "0123456789abcdef01234567", UserID: "89abcdef0123456789abcdef", Generation: 7,
		Roles: []string{"user"}, CreatedAt: at, RotatedAt: at, LastUsedAt: at, ExpiresAt: at.Add(30 * 24 * time.Hour),
		UserAgent: "Go-http-client/1.1", IP: "127.0.0.1", CredentialVersion: 1})}
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			jsonLine(b, 7, changes)
		}
	})
	b.Run("appendLine", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			appendLine(nil, 7, changes)
		}
	})
}
