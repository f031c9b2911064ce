package filestore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"corkboard/auth"
	"corkboard/board"
	"corkboard/objectid"
)

// encodeRecord encodes rec as writeSnapshot does.
func encodeRecord(t testing.TB, rec any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rec); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// checkFastDecode holds the hand decoders to encoding/json on data: when
// one accepts data, encoding/json (strict, as the store reads records)
// must accept it too and give the same value. It reports whether the
// session, the user and the board decoder accepted data.
func checkFastDecode(t *testing.T, data []byte) (sessionOK, userOK, boardOK bool) {
	t.Helper()
	return sameAsJSON(t, "decodeSessionFast", data, decodeSessionFast),
		sameAsJSON(t, "decodeUserFast", data, decodeUserFast),
		sameAsJSON(t, "decodeBoardFast", data, decodeBoardFast)
}

// sameAsJSON fails the test if decode, the hand decoder called name,
// accepts data and encoding/json does not, or gives another value; it
// reports whether decode accepted data.
func sameAsJSON[T any](t *testing.T, name string, data []byte, decode func([]byte, *interner) (T, bool)) bool {
	t.Helper()
	got, ok := decode(data, newInterner())
	if !ok {
		return false
	}
	var want T
	if err := decodeStrict(bytes.NewReader(data), &want); err != nil {
		t.Fatalf("%s accepted %q, which encoding/json refuses: %v", name, data, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s(%q) = %#v, encoding/json gives %#v", name, data, got, want)
	}
	return true
}

// fastDecodeSeeds returns records as the store writes them.
func fastDecodeSeeds(t testing.TB) [][]byte {
	now := testTime()
	sess := testSession(objectid.New(now), now)
	rotated := sess
	rotated.Generation, rotated.RotatedAt, rotated.RevokedAt, rotated.CredentialVersion = 41, now.Add(time.Hour), now.Add(2*time.Hour), 3
	rotated.Roles = []string{"user", "admin"}
	noRoles := sess
	noRoles.Roles = []string{}
	nilRoles := sess
	nilRoles.Roles = nil
	u := testUser("Ada", now)
	full := u
	full.EmailVerified, full.PictureID, full.CredentialVersion, full.Color = true, objectid.New(now), 7, "#3366ff"
	full.DeletingAt = now.Add(time.Minute)
	b := benchBoard(t, objectid.New(now), objectid.New(now), 1, now)
	fullBoard := b
	fullBoard.Title, fullBoard.BackgroundURL, fullBoard.Version = "Plans", "https://example.com/bg.png", 12
	fullBoard.Invited, fullBoard.FavouritedBy = []string{objectid.New(now)}, []string{b.OwnerID}
	fullBoard.Lists = slices.Clone(b.Lists)
	fullBoard.Lists[0].Cards = slices.Clone(b.Lists[0].Cards)
	fullBoard.Lists[0].Cards[0].Attachments = []board.Attachment{
		{ID: objectid.New(now), Name: "plan.pdf", ContentType: "application/pdf", Size: 1234, CreatedAt: now},
		{ID: objectid.New(now), Name: "empty.txt", ContentType: "text/plain", CreatedAt: now},
	}
	fullBoard.Lists[1].Cards = []board.Card{}
	fullBoard.UpdatedAt, fullBoard.DeletingAt = now.Add(time.Hour), now.Add(2*time.Hour)
	bareBoard := board.Board{ID: objectid.New(now), Lists: []board.List{}}
	return [][]byte{
		encodeRecord(t, sess), encodeRecord(t, rotated), encodeRecord(t, noRoles), encodeRecord(t, nilRoles),
		encodeRecord(t, u), encodeRecord(t, full),
		encodeRecord(t, b), encodeRecord(t, fullBoard), encodeRecord(t, bareBoard),
	}
}

// TestFastDecode checks that the hand decoders take the records the store
// writes, and give what encoding/json gives for those and for variants
// they must either decode alike or leave to encoding/json.
func TestFastDecode(t *testing.T) {
	seeds := fastDecodeSeeds(t)
	for i, data := range seeds {
		sessionOK, userOK, boardOK := checkFastDecode(t, data)
		if i < 4 && !sessionOK {
			t.Errorf("decodeSessionFast refused a session as the store writes it: %s", data)
		}
		if 4 <= i && i < 6 && !userOK {
			t.Errorf("decodeUserFast refused a user as the store writes it: %s", data)
		}
		if i >= 6 && !boardOK {
			t.Errorf("decodeBoardFast refused a board as the store writes it: %s", data)
		}
	}
	sess, usr, brd := string(seeds[1]), string(seeds[5]), string(seeds[7])
	variants := []string{
		strings.Replace(sess, `"userAgent":"test"`, `"userAgent":"t\u00e9st"`, 1),
		strings.Replace(sess, `"userAgent":"test"`, `"userAgent":"tést"`, 1),
		strings.Replace(sess, `"userAgent":"test"`, `"userAgent":"a\"b"`, 1),
		strings.Replace(sess, `"userAgent"`, `"UserAgent"`, 1),
		strings.Replace(sess, `"userAgent":"test"`, `"userAgent":null`, 1),
		strings.Replace(sess, `"generation":41`, `"generation":041`, 1),
		strings.Replace(sess, `"generation":41`, `"generation":4.1e1`, 1),
		strings.Replace(sess, `"generation":41`, `"generation":-41`, 1),
		strings.Replace(sess, `"generation":41`, `"generation":18446744073709551616`, 1),
		strings.Replace(sess, `"generation":41`, `"generation":41,"generation":42`, 1),
		strings.Replace(sess, `"ip"`, `"ipAddress"`, 1),
		strings.Replace(sess, `,"ip"`, ` ,"ip"`, 1),
		strings.Replace(sess, `"createdAt":"`, `"createdAt":"x`, 1),
		strings.Replace(sess, `"roles":["user","admin"]`, `"roles":["user",]`, 1),
		strings.Replace(sess, `"roles":["user","admin"]`, `"roles":[]`, 1),
		strings.Replace(sess, `"roles":["user","admin"]`, `"roles":"user"`, 1),
		sess + " ", sess + "}", sess[:len(sess)-1], "{}", "{", "",
		strings.Replace(usr, `"emailVerified":true`, `"emailVerified":false`, 1),
		strings.Replace(usr, `"emailVerified":true`, `"emailVerified":tru`, 1),
		strings.Replace(usr, `"emailVerified":true`, `"emailVerified":"true"`, 1),
		strings.Replace(usr, `"fullName":"Ada Example"`, `"fullName":"Ada\tExample"`, 1),
		strings.Replace(usr, `"fullName":"Ada Example"`, `"fullName":"Ada\u0009Example"`, 1),
		strings.Replace(brd, `"version":12`, `"version":-12`, 1),
		strings.Replace(brd, `"version":12`, `"version":9223372036854775808`, 1),
		strings.Replace(brd, `"version":12`, `"version":1.2e1`, 1),
		strings.Replace(brd, `"size":1234`, `"size":0`, 1),
		strings.Replace(brd, `"size":1234`, `"size":"1234"`, 1),
		strings.Replace(brd, `"title":"Plans"`, `"title":"Pl\u00e4ns"`, 1),
		strings.Replace(brd, `"title":"Plans"`, `"title":null`, 1),
		strings.Replace(brd, `"attachments":null`, `"attachments":[]`, 1),
		strings.Replace(brd, `"attachments":null`, `"attachments":[null]`, 1),
		strings.Replace(brd, `"cards":[]`, `"cards":null`, 1),
		strings.Replace(brd, `"cards":[]`, `"cards":[{}]`, 1),
		strings.Replace(brd, `"members":[`, `"members":[null,`, 1),
		strings.Replace(brd, `"invited":[`, `"invited":[],"invited":[`, 1),
		strings.Replace(brd, `"name":"List 0"`, `"name":"List 0","name":"List 0"`, 1),
		strings.Replace(brd, `"name":"List 0"`, `"Name":"List 0"`, 1),
		strings.Replace(brd, `"name":"List 0"`, `"name":"List 0","extra":1`, 1),
		strings.Replace(brd, `"lists":[`, `"lists":[ `, 1),
		strings.Replace(brd, `"deletingAt":"`, `"deletingAt":"y`, 1),
		strings.Replace(brd, `"lists":[`, `"lists":{`, 1),
		brd + "x", brd[:len(brd)-2],
	}
	for _, v := range variants {
		if v == sess || v == usr || v == brd {
			t.Errorf("a variant is the seed itself: the replacement found nothing in %s", v)
		}
		checkFastDecode(t, []byte(v))
	}
}

// FuzzFastDecode holds the hand decoders to encoding/json on any input.
func FuzzFastDecode(f *testing.F) {
	for _, seed := range fastDecodeSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFastDecode(t, data)
	})
}

// loadBoth loads the snapshot at path with loadCanonicalSnapshot and with
// readSnapshot, and fails t unless they agree: the canonical loader may
// decline any file, but a file it loads must load to the same state, with
// the same header, by readSnapshot. It reports whether the canonical
// loader loaded it.
func loadBoth(t *testing.T, path string) bool {
	t.Helper()
	fast := newState()
	fsnap, _, ok := loadCanonicalSnapshot(path, &fast, false)
	if !ok {
		return false
	}
	slow := newState()
	ssnap, _, err := readSnapshot(path, &slow)
	if err == nil {
		for _, k := range ssnap.Kinds {
			if len(k.Records) > 0 && err == nil {
				err = slow.applyBatch(k.Records)
			}
		}
	}
	if err != nil {
		t.Fatalf("the canonical loader loaded %s, which readSnapshot refuses: %v", path, err)
	}
	if fsnap.Journal != ssnap.Journal || fsnap.Seq != ssnap.Seq {
		t.Fatalf("canonical loader: journal %d seq %d; readSnapshot: journal %d seq %d", fsnap.Journal, fsnap.Seq, ssnap.Journal, ssnap.Seq)
	}
	if err := sameState(&fast, &slow); err != nil {
		t.Fatalf("the canonical loader and readSnapshot load %s differently: %v", path, err)
	}
	return true
}

// sameState reports how a and b differ in their records or in the
// session index by user, which the canonical loader builds on its own.
func sameState(a, b *state) error {
	bt := b.tables()
	for i, ta := range a.tables() {
		ra, rb := recordsByID(ta), recordsByID(bt[i])
		if !reflect.DeepEqual(ra, rb) {
			return fmt.Errorf("%s records differ: %d and %d", ta.kind(), len(ra), len(rb))
		}
	}
	if !reflect.DeepEqual(sessionsByUser(&a.sessions), sessionsByUser(&b.sessions)) {
		return fmt.Errorf("session index by user differs")
	}
	if (a.check() == nil) != (b.check() == nil) {
		return fmt.Errorf("check: %v and %v", a.check(), b.check())
	}
	return nil
}

// sessionsByUser returns t's index by user as sorted lists of ids.
func sessionsByUser(t *sessionTable) map[string][]string {
	m := make(map[string][]string)
	for u := range t.byUser {
		m[u] = slices.Sorted(t.ofUser(u))
	}
	return m
}

func recordsByID(t table) map[string]any {
	m := make(map[string]any)
	for _, c := range t.list() {
		m[c.ID] = c.Record
	}
	return m
}

// TestCanonicalSnapshot writes a snapshot through compaction and checks
// that the canonical loader takes it and agrees with readSnapshot, and
// that it declines, leaving the file to readSnapshot, every variant it
// must not guess about, while Open still opens them all.
func TestCanonicalSnapshot(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{NoSync: true})
	writeHistory(t, s, "user", 30)
	writeBoardHistory(t, s, 4)
	forceCompaction(s)
	closeStore(t, s)
	path := filepath.Join(dir, snapshotName)
	if !loadBoth(t, path) {
		t.Fatalf("the canonical loader declined a snapshot the store wrote")
	}
	valid, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir, Options{NoSync: true})
	want := canonicalState(t, s)
	closeStore(t, s)

	lines := bytes.Split(valid, []byte("\n"))
	var firstSession []byte
	for i, l := range lines {
		if bytes.Equal(l, []byte(`"session":[`)) {
			firstSession = bytes.TrimSuffix(lines[i+1], []byte(","))
			break
		}
	}
	if firstSession == nil {
		t.Fatal("no sessions in the snapshot")
	}
	for _, tc := range []struct {
		name string
		data []byte
		same bool // Open loads the state of the valid snapshot
	}{
		{"pretty-printed", prettyJSON(t, valid), true},
		{"trailing blank line", append(bytes.Clone(valid), '\n'), true},
		{"no final newline", bytes.TrimSuffix(valid, []byte("\n")), true},
		{"spaces in a record", bytes.Replace(valid, []byte(`,"userId":`), []byte(`, "userId":`), 1), true},
		// The first session again, of another user: the later record
		// wins, and the index by user must not keep the first.
		{"session twice", bytes.Replace(valid, []byte(`"session":[`), append([]byte(`"session":[`+"\n"), append(otherUser(firstSession), ',')...), 1), true},
		{"escaped user agent", bytes.Replace(valid, []byte(`"userAgent":"test"`), []byte(`"userAgent":"t\u0065st"`), 1), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			p := filepath.Join(d, snapshotName)
			if err := os.WriteFile(p, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			loadBoth(t, p)
			s, err := Open(d, Options{NoSync: true})
			if err != nil {
				t.Fatalf("Open = %v, want nil", err)
			}
			got := canonicalState(t, s)
			closeStore(t, s)
			if tc.same && got != want {
				t.Errorf("Open loaded another state than from the snapshot as written")
			}
		})
	}
}

// prettyJSON indents data, a JSON document.
func prettyJSON(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, data, "", "  "); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// otherUser returns the session record rec with another user id.
func otherUser(rec []byte) []byte {
	i := bytes.Index(rec, []byte(`"userId":"`)) + len(`"userId":"`)
	return append(append(bytes.Clone(rec[:i]), "0123456789abcdef01234567"...), rec[i+24:]...)
}

// TestCopyRecordsLater checks that a compaction, which copies sessions and
// users in bulk under the lock and makes them changes after
// (copyRecordsLater), writes the very snapshot copyRecords gives.
func TestCopyRecordsLater(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{NoSync: true})
	writeHistory(t, s, "user", 20)
	writeBoardHistory(t, s, 3)
	encode := func(snap snapshot) string {
		var buf bytes.Buffer
		if err := writeSnapshot(&buf, &snap); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	s.mu.Lock()
	want := encode(s.st.copyRecords())
	build := s.st.copyRecordsLater()
	s.mu.Unlock()
	// A write after the copy must not show in the snapshot made of it.
	mustCreateUsers(t, s, "later", 1)
	if got := encode(build()); got != want {
		t.Errorf("copyRecordsLater's snapshot differs from copyRecords':\ngot  %.600s\nwant %.600s", got, want)
	}
}

// TestLoadedSessionsKeptApart checks that the sessions a snapshot load
// keeps in the slices it decoded them into are never changed in place:
// a compaction's copy taken before rotations, revocations and deletions
// of loaded sessions writes the sessions as they were, and the store then
// serves the changed ones.
func TestLoadedSessionsKeptApart(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{NoSync: true})
	writeHistory(t, s, "user", 20)
	forceCompaction(s)
	closeStore(t, s)

	s = openStore(t, dir, Options{NoSync: true})
	defer closeStore(t, s)
	encode := func(snap snapshot) string {
		var buf bytes.Buffer
		if err := writeSnapshot(&buf, &snap); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	s.mu.Lock()
	want := encode(s.st.copyRecords())
	build := s.st.copyRecordsLater()
	var live []auth.Session
	for _, p := range s.st.sessions.byID {
		if p.RevokedAt.IsZero() {
			live = append(live, *p)
		}
	}
	s.mu.Unlock()
	if len(live) < 3 {
		t.Fatalf("%d live sessions, want 3 or more", len(live))
	}
	ctx := context.Background()
	now := testTime().Add(time.Minute)
	rotated, err := s.RotateSession(ctx, live[0].ID, live[0].Generation, now, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeSession(ctx, live[1].ID, now); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSessionRoles(ctx, live[2].UserID, []string{"user", "admin"}); err != nil {
		t.Fatal(err)
	}
	if got := encode(build()); got != want {
		t.Errorf("a change of a loaded session showed in a copy taken before it")
	}
	if got, err := s.Session(ctx, live[0].ID); err != nil || got.Generation != rotated.Generation {
		t.Errorf("Session after RotateSession = generation %d, %v; want %d", got.Generation, err, rotated.Generation)
	}
	if got, err := s.Session(ctx, live[1].ID); err != nil || got.RevokedAt.IsZero() {
		t.Errorf("Session after RevokeSession = revoked at %v, %v; want revoked", got.RevokedAt, err)
	}
}

// TestSessionSet runs random adds and removes on a sessionSet, across
// the size where it turns from a slice into a map, and on a map beside
// it, and checks that both always hold the same ids; then that a store's
// index by user holds a user's many sessions through the same.
func TestSessionSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 20 {
		var ss sessionSet
		want := make(map[string]bool)
		for range 400 {
			id := fmt.Sprintf("s%d", rng.IntN(3*maxFewSessions))
			if rng.IntN(3) == 0 {
				ss.remove(id)
				delete(want, id)
			} else if !want[id] {
				ss.add(id)
				want[id] = true
			}
			var tbl sessionTable
			tbl.byUser = map[string]*sessionSet{"u": &ss}
			got := slices.Sorted(tbl.ofUser("u"))
			if ss.len() != len(want) || len(got) != len(want) {
				t.Fatalf("round %d: the set holds %d ids (len %d), want %d", round, len(got), ss.len(), len(want))
			}
			for _, id := range got {
				if !want[id] {
					t.Fatalf("round %d: the set holds %s, which was removed or never added", round, id)
				}
			}
		}
	}

	s := openStore(t, t.TempDir(), Options{NoSync: true})
	defer closeStore(t, s)
	ctx := context.Background()
	now := testTime()
	u := testUser("many", now)
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 3 * maxFewSessions {
		sess := testSession(u.ID, now.Add(time.Duration(i)*time.Second))
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sess.ID)
	}
	if err := s.RevokeSession(ctx, ids[0], now); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListSessions(ctx, u.ID, now)
	if err != nil || len(list) != len(ids)-1 {
		t.Fatalf("ListSessions = %d sessions, %v; want %d", len(list), err, len(ids)-1)
	}
	if n, err := s.RevokeUserSessions(ctx, u.ID, ids[1], now); err != nil || n != len(ids)-2 {
		t.Fatalf("RevokeUserSessions = %d, %v; want %d", n, err, len(ids)-2)
	}
	if _, err := s.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	s.mu.RLock()
	left, indexed := len(s.st.sessions.byID), s.st.sessions.countOfUser(u.ID)
	s.mu.RUnlock()
	if left != 0 || indexed != 0 {
		t.Errorf("after DeleteUser: %d sessions, %d indexed under the user; want none", left, indexed)
	}
}

// TestStringArena makes strings of many sizes in one arena, over many
// blocks, and checks that every one still holds what it was made of once
// all are made: a block must never be written over.
func TestStringArena(t *testing.T) {
	var a stringArena
	rng := rand.New(rand.NewPCG(3, 4))
	var want []string
	var got []string
	buf := make([]byte, 0, arenaBlock)
	for i := range 50_000 {
		n := rng.IntN(64)
		if i%1000 == 0 {
			n = arenaBlock/8 + rng.IntN(10) // too big for a block
		}
		buf = buf[:0]
		for j := range n {
			buf = append(buf, byte('a'+(i+j)%26))
		}
		got = append(got, a.str(buf))
		want = append(want, string(buf))
		clear(buf) // the arena must have copied it
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("string %d reads %q, want %q", i, got[i], want[i])
		}
	}
}

// TestUTCStamp holds utcStamp to time.Time.UnmarshalJSON on the form the
// store writes and on near misses: what utcStamp accepts must be what
// UnmarshalJSON gives, and the form the store writes must be accepted.
func TestUTCStamp(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var stamps []string
	for range 2000 {
		tm := time.Unix(rng.Int64N(253402300799+62135596800)-62135596800, 0).UTC()
		switch rng.IntN(3) {
		case 1:
			tm = tm.Add(time.Duration(rng.IntN(1e9)))
		case 2:
			tm = tm.Add(time.Duration(rng.IntN(1000)) * time.Millisecond)
		}
		data, err := tm.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		s := string(data[1 : len(data)-1])
		if _, ok := utcStamp([]byte(s)); !ok {
			t.Errorf("utcStamp refused %s, as a UTC time encodes", s)
		}
		stamps = append(stamps, s)
	}
	stamps = append(stamps,
		"2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "2000-02-29T12:00:00Z", "1900-02-29T12:00:00Z",
		"2024-04-31T00:00:00Z", "2024-13-01T00:00:00Z", "2024-00-01T00:00:00Z", "2024-01-00T00:00:00Z",
		"2024-01-01T24:00:00Z", "2024-01-01T23:60:00Z", "2024-01-01T23:59:60Z", "0000-01-01T00:00:00Z",
		"9999-12-31T23:59:59.999999999Z", "2024-01-01T00:00:00.Z", "2024-01-01T00:00:00.1234567891Z",
		"2024-01-01T00:00:00.100Z", "2024-01-01T00:00:00,1Z", "2024-01-01T00:00:00+00:00", "2024-01-01t00:00:00Z",
		"2024-01-01T00:00:00z", "2024-1-01T00:00:00Z", "+024-01-01T00:00:00Z", "2024-01-01T00:00:0aZ",
		"2024-01-01T00:00:00.-1Z", "2024-01-01T00:00:00.1a2Z", "2024-01-01 00:00:00Z", "Z", "")
	for _, s := range stamps {
		got, ok := utcStamp([]byte(s))
		var want time.Time
		err := want.UnmarshalJSON([]byte(`"` + s + `"`))
		if ok && (err != nil || !reflect.DeepEqual(got, want)) {
			t.Errorf("utcStamp(%s) = %v; UnmarshalJSON gives %v, %v", s, got, want, err)
		}
	}
}

// BenchmarkDecodeSession decodes and validates a session record as a
// snapshot load does.
func BenchmarkDecodeSession(b *testing.B) {
	line := []byte(`{"id":"6774859286ab727aaf0b2c0d","userId":"677485809cffc090a4a85986","generation":19,"roles":["user"],"createdAt":"2025-01-01T00:00:18Z","rotatedAt":"2025-01-01T00:38:09Z","lastUsedAt":"2025-01-01T00:38:09Z","expiresAt":"2026-12-29T19:10:39.064Z","revokedAt":"2025-01-01T00:38:09Z","userAgent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36","ip":"198.51.100.114"}`)
	in := newInterner()
	for b.Loop() {
		s, ok := decodeSessionFast(line, in)
		if !ok || s.Validate() != nil {
			b.Fatal("not decoded")
		}
	}
}

// TestPlainASCII8 holds plainASCII8 to the byte-at-a-time rule of str, on
// words of printable bytes with each byte value put at each place.
func TestPlainASCII8(t *testing.T) {
	plain := func(c byte) bool { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\' }
	rng := rand.New(rand.NewPCG(3, 4))
	var w [8]byte
	for range 2000 {
		for i := range w {
			w[i] = byte(0x20 + rng.IntN(0x5f))
			for !plain(w[i]) {
				w[i] = byte(0x20 + rng.IntN(0x5f))
			}
		}
		for pos := range w {
			for c := range 256 {
				v := w
				v[pos] = byte(c)
				want := true
				for _, b := range v {
					want = want && plain(b)
				}
				if got := plainASCII8(binary.LittleEndian.Uint64(v[:])); got != want {
					t.Fatalf("plainASCII8(%q) = %v, want %v", v, got, want)
				}
			}
		}
	}
}

// BenchmarkDecodeBoard decodes and validates a board record of three lists
// of eight cards, as a snapshot load does.
func BenchmarkDecodeBoard(b *testing.B) {
	now := testTime()
	line := encodeRecord(b, benchBoard(b, objectid.New(now), objectid.New(now), 1, now))
	in := newInterner()
	for b.Loop() {
		brd, ok := decodeBoardFast(line, in)
		if !ok || brd.Validate() != nil {
			b.Fatal("not decoded")
		}
	}
}
