package filestore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"corkboard/auth"
	"corkboard/user"
)

// version1Dir is a data directory written by the file store of commit
// f8a5f25, whose snapshot and journal are format version 1. It was made once
// by a throwaway program that opened a store there and
//
//   - created alice, Bob.Builder-2 and zoe_, changed Bob's password, and
//     created sessions for each (alice's rotated once, Bob's revoked) plus a
//     short-lived one of zoe's;
//   - reopened it with CompactBytes: 1, so that a compaction wrote
//     snapshot.json (batches 1–10) and started journal-000002.jsonl;
//   - reopened it again and, into that journal (batches 11–18): changed
//     Bob's roles, rotated alice's session again, created dave and two
//     sessions of his, set their roles in one two-change batch, revoked one
//     of them, and swept zoe's expired session (a delete);
//
// then closed it and removed its LOCK file. Its users and sessions are
// version1Users and version1Sessions.
const version1Dir = "../testdata/filestore-v1"

// at parses an RFC 3339 time, for the expected values below.
func at(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// version1Users returns the users of version1Dir, as written.
func version1Users(t testing.TB) []user.User {
	hash := func(c string) string { return "$2a$10$" + strings.Repeat(c, 53) }
	return []user.User{
		{ID: "6813268aa11ce00000000001", Username: "alice", Email: "alice@example.com",
			FullName: "Alice Liddell", Color: "#336699", Roles: []string{"user", "admin"},
			PictureID: "6813268af11e000000000001", PasswordHash: hash("A"),
			CreatedAt: at(t, "2025-05-01T08:00:10.123Z"), UpdatedAt: at(t, "2025-05-01T08:00:10.123Z")},
		{ID: "6813268bb0b0000000000002", Username: "Bob.Builder-2", Email: "bob@example.com",
			FullName: "Bob", Roles: []string{"user", "moderator"}, PasswordHash: hash("b"),
			CreatedAt: at(t, "2025-05-01T08:00:11.456Z"), UpdatedAt: at(t, "2025-05-01T09:30:00.25Z")},
		{ID: "6813268c2000000000000003", Username: "zoe_", Email: "zoe@example.com",
			FullName: "Zoë Ångström-Núñez 李 <&>", Color: "teal", Roles: []string{"user", "moderator"},
			PasswordHash: hash("Z"),
			CreatedAt:    at(t, "2025-05-01T08:00:12.789Z"), UpdatedAt: at(t, "2025-05-01T08:00:12.789Z")},
		{ID: "68133eb0da7e000000000004", Username: "dave", Email: "dave@example.com",
			FullName: "Dávid Kovács", Roles: []string{"user"}, PasswordHash: hash("D"),
			CreatedAt: at(t, "2025-05-01T09:42:40.001Z"), UpdatedAt: at(t, "2025-05-01T09:42:40.001Z")},
	}
}

// version1Sessions returns the sessions of version1Dir, as written.
func version1Sessions(t testing.TB) []auth.Session {
	const alice, bob, zoe, dave = "6813268aa11ce00000000001", "6813268bb0b0000000000002", "6813268c2000000000000003", "68133eb0da7e000000000004"
	return []auth.Session{
		{ID: "681326a0a11ce000000000a1", UserID: alice, Generation: 3, Roles: []string{"user", "admin"},
			CreatedAt: at(t, "2025-05-01T08:01:20.1Z"), RotatedAt: at(t, "2025-05-01T09:31:20.1Z"),
			LastUsedAt: at(t, "2025-05-01T09:31:20.1Z"), ExpiresAt: at(t, "2025-05-08T09:31:20.1Z"),
			UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/138.0", IP: "192.0.2.10"},
		{ID: "681326a1b0b0000000000b02", UserID: bob, Generation: 1, Roles: []string{"user"},
			CreatedAt: at(t, "2025-05-01T08:01:21.2Z"), LastUsedAt: at(t, "2025-05-01T08:01:21.2Z"),
			ExpiresAt: at(t, "2025-05-08T08:01:21.2Z"), RevokedAt: at(t, "2025-05-01T08:30:00Z"),
			UserAgent: "curl/8.5.0", IP: "198.51.100.7"},
		{ID: "681326a22000000000000c03", UserID: zoe, Generation: 1, Roles: []string{"user", "moderator"},
			CreatedAt: at(t, "2025-05-01T08:01:22.3Z"), LastUsedAt: at(t, "2025-05-01T08:01:22.3Z"),
			ExpiresAt: at(t, "2025-05-08T08:01:22.3Z"), UserAgent: "Zoë's phone", IP: "2001:db8::1"},
		{ID: "68133ec0da7e000000000d05", UserID: dave, Generation: 1, Roles: []string{"user", "moderator"},
			CreatedAt: at(t, "2025-05-01T09:42:56.5Z"), LastUsedAt: at(t, "2025-05-01T09:42:56.5Z"),
			ExpiresAt: at(t, "2025-05-08T09:42:56.5Z"), UserAgent: "dave laptop", IP: "203.0.113.5"},
		{ID: "68133ec1da7e000000000d06", UserID: dave, Generation: 1, Roles: []string{"user", "moderator"},
			CreatedAt: at(t, "2025-05-01T09:42:57.6Z"), LastUsedAt: at(t, "2025-05-01T09:42:57.6Z"),
			ExpiresAt: at(t, "2025-05-08T09:42:57.6Z"), RevokedAt: at(t, "2025-05-01T09:50:00Z"),
			UserAgent: "dave tablet", IP: "203.0.113.6"},
	}
}

// version1Swept is the session of version1Dir that a sweep deleted.
const version1Swept = "681326a32000000000000c04"

// copyDir copies the regular files of src into a new temporary directory
// and returns it: Open takes a lock and writes, so tests never open a
// checked-in fixture in place.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// asJSON encodes v, for comparing records field by field: every field of a
// user and a session is in its JSON, and stored times are UTC.
func asJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkVersion1Data checks that s holds exactly the records of
// version1Dir, and the users in also.
func checkVersion1Data(t *testing.T, s *Store, what string, also ...user.User) {
	t.Helper()
	ctx := context.Background()
	want := make(map[string]string)
	for _, u := range also {
		want["user "+u.ID] = asJSON(t, u)
	}
	for _, u := range version1Users(t) {
		want["user "+u.ID] = asJSON(t, u)
		got, err := s.UserByID(ctx, u.ID)
		if err != nil || asJSON(t, got) != asJSON(t, u) {
			t.Errorf("%s: UserByID(%q) = %s, %v; want %s", what, u.ID, asJSON(t, got), err, asJSON(t, u))
		}
		// The unique indexes were rebuilt too.
		if got, err := s.UserByEmail(ctx, strings.ToUpper(u.Email)); err != nil || got.ID != u.ID {
			t.Errorf("%s: UserByEmail(%q) = %q, %v; want %q", what, strings.ToUpper(u.Email), got.ID, err, u.ID)
		}
		if got, err := s.UserByUsername(ctx, strings.ToUpper(u.Username)); err != nil || got.ID != u.ID {
			t.Errorf("%s: UserByUsername(%q) = %q, %v; want %q", what, strings.ToUpper(u.Username), got.ID, err, u.ID)
		}
	}
	for _, sess := range version1Sessions(t) {
		want["session "+sess.ID] = asJSON(t, sess)
		got, err := s.Session(ctx, sess.ID)
		if err != nil || asJSON(t, got) != asJSON(t, sess) {
			t.Errorf("%s: Session(%q) = %s, %v; want %s", what, sess.ID, asJSON(t, got), err, asJSON(t, sess))
		}
	}
	// Dave's sessions are found through the by-user index.
	if live, err := s.ListSessions(ctx, "68133eb0da7e000000000004", at(t, "2025-05-01T10:00:00Z")); err != nil ||
		len(live) != 1 || live[0].ID != "68133ec0da7e000000000d05" {
		t.Errorf("%s: ListSessions(dave) = %d sessions, %v; want only 68133ec0da7e000000000d05", what, len(live), err)
	}
	if _, err := s.Session(ctx, version1Swept); !errors.Is(err, auth.ErrSessionNotFound) {
		t.Errorf("%s: Session(%q) of the swept session = %v, want %v", what, version1Swept, err, auth.ErrSessionNotFound)
	}
	// Nothing else.
	checkDump(t, what, dump(t, s), want)
}

// TestReadVersion1 opens a data directory written by the version-1 code and
// finds every user and session with every field as written.
func TestReadVersion1(t *testing.T) {
	dir := copyDir(t, version1Dir)
	s := openStore(t, dir, Options{})
	checkVersion1Data(t, s, "after opening a version-1 directory")
}

// TestUpgradeVersion1 writes to a version-1 directory: new batches are
// appended to its version-1 journal as version-2 lines, and a compaction
// replaces its snapshot with a version-2 one. Every reopen finds every
// record.
func TestUpgradeVersion1(t *testing.T) {
	dir := copyDir(t, version1Dir)
	journal := filepath.Join(dir, journalName(2))
	before, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}

	s := openStore(t, dir, Options{})
	more := mustCreateUsers(t, s, "later", 2)
	closeStore(t, s)
	after, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	added, ok := strings.CutPrefix(string(after), string(before))
	if !ok || !strings.HasPrefix(added, `{"version":2,"seq":19,"changes":[{"op":"put","kind":"user","id":"`+more[0].ID+`",`) {
		t.Errorf("after two writes, the journal's version-1 lines are followed by %q, want version-2 lines from batch 19", added)
	}
	s = openStore(t, dir, Options{})
	checkVersion1Data(t, s, "after appending version-2 lines to a version-1 journal", more...)
	closeStore(t, s)

	// A compaction, as Open starts one when the journal is larger than
	// CompactBytes and the snapshot.
	s = openStore(t, dir, Options{CompactBytes: 1})
	waitCompactions(s)
	closeStore(t, s)
	snap, err := os.ReadFile(filepath.Join(dir, snapshotName))
	if err != nil {
		t.Fatal(err)
	}
	if head := `{"version":2,"journal":2,"seq":20,"records":{` + "\n"; !strings.HasPrefix(string(snap), head) {
		t.Errorf("snapshot after compaction starts with %.60q, want %q", snap, head)
	}
	if _, err := os.Stat(journal); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Stat(%s) after compaction = %v, want it removed", journalName(2), err)
	}
	s = openStore(t, dir, Options{})
	checkVersion1Data(t, s, "after compacting into a version-2 snapshot", more...)
}

// TestTornVersion1TailAtEveryCut cuts the version-1 journal of version1Dir
// at every byte: Open always succeeds, drops only the torn line (a line
// lacking only its newline is kept, and the newline added), and leaves the
// journal at the end of the last complete line.
func TestTornVersion1TailAtEveryCut(t *testing.T) {
	dir := copyDir(t, version1Dir)
	path := filepath.Join(dir, journalName(2))
	journal, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	size := 0
	for cut := 0; cut <= len(journal); cut++ {
		appendFile(t, path, journal[size:cut])
		s, err := Open(dir, Options{NoSync: true})
		if err != nil {
			t.Fatalf("Open with the version-1 journal cut at byte %d of %d = %v, want nil", cut, len(journal), err)
		}
		s.Close()
		size = bytes.LastIndexByte(journal[:cut], '\n') + 1
		if cut < len(journal) && journal[cut] == '\n' {
			size = cut + 1 // a whole line lacking only its newline is kept, and the newline added
		}
		if info, err := os.Stat(path); err != nil || info.Size() != int64(size) {
			t.Fatalf("journal cut at byte %d: size after Open = %d (%v), want %d", cut, info.Size(), err, size)
		}
	}
	s := openStore(t, dir, Options{})
	checkVersion1Data(t, s, "after the whole journal is back")
}
