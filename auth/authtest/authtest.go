// Package authtest is the contract suite for auth.SessionStore. Every store
// runs it — the file store on a temporary directory, the MongoDB store on a
// fresh database — so that all stores keep the promises written on the
// methods of auth.SessionStore, above all the compare-and-swap of
// RotateSession that refresh-token rotation rests on.
package authtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"corkboard/auth"
	"corkboard/objectid"
)

// TestSessionStore runs the auth.SessionStore contract as subtests.
// newStore must return a fresh, empty store for each subtest and arrange for
// its cleanup.
func TestSessionStore(t *testing.T, newStore func(t *testing.T) auth.SessionStore) {
	tests := []struct {
		name string
		run  func(t *testing.T, s auth.SessionStore)
	}{
		{"CreateAndReadBack", testCreateAndReadBack},
		{"CreateDuplicate", testCreateDuplicate},
		{"NotFound", testNotFound},
		{"Rotate", testRotate},
		{"RotateWrongGeneration", testRotateWrongGeneration},
		{"RotateRevoked", testRotateRevoked},
		{"RotateExpired", testRotateExpired},
		{"Revoke", testRevoke},
		{"RevokeUserSessions", testRevokeUserSessions},
		{"RevokeUserSessionsExcept", testRevokeUserSessionsExcept},
		{"ListSessions", testListSessions},
		{"SetSessionRoles", testSetSessionRoles},
		{"DeleteExpiredSessions", testDeleteExpired},
		{"EachSession", testEachSession},
		{"EachSessionStopsAtError", testEachSessionStops},
		{"NoAliasing", testNoAliasing},
		{"ConcurrentRotate", testConcurrentRotate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newStore(t))
		})
	}
}

// baseTime is the suite's fixed clock.
func baseTime() time.Time {
	return time.Date(2025, time.March, 14, 9, 26, 53, 589_000_000, time.UTC)
}

// ms truncates t to the millisecond. Every time the suite stores goes
// through it, because MongoDB keeps times to the millisecond while the file
// store keeps nanoseconds: a store must give back a time Equal to the one it
// was given, and only whole milliseconds survive in every store.
func ms(t time.Time) time.Time { return t.Truncate(time.Millisecond) }

// sessionTTL is how long the suite's sessions live.
const sessionTTL = 7 * 24 * time.Hour

// newSession returns a live session of userID created at created.
func newSession(userID string, created time.Time) auth.Session {
	created = ms(created)
	return auth.Session{
		ID:         objectid.New(created),
		UserID:     userID,
		Generation: 1,
		Roles:      []string{"user"},
		CreatedAt:  created,
		LastUsedAt: created,
		ExpiresAt:  created.Add(sessionTTL),
		UserAgent:  "Mozilla/5.0 (authtest)",
		IP:         "192.0.2.10",
		// Not zero, so that a store that drops the field fails the suite.
		CredentialVersion: 3,
	}
}

// newUserID returns a fresh user id.
func newUserID() string { return objectid.New(baseTime()) }

// mustCreate stores sessions or stops the test.
func mustCreate(t *testing.T, s auth.SessionStore, sessions ...auth.Session) {
	t.Helper()
	for _, sess := range sessions {
		if err := s.CreateSession(context.Background(), sess); err != nil {
			t.Fatalf("CreateSession(%s) = %v, want nil", describe(sess), err)
		}
	}
}

// describe names a session in failure messages.
func describe(s auth.Session) string {
	return fmt.Sprintf("{ID:%s UserID:%s Generation:%d}", s.ID, s.UserID, s.Generation)
}

// wantErr checks that err is want, with errors.Is.
func wantErr(t *testing.T, call string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s = %v, want %v", call, err, want)
	}
}

// diffSession lists the fields in which got and want differ, one per
// line; times are compared with Equal, so zero times must stay zero.
func diffSession(got, want auth.Session) string {
	var b strings.Builder
	field := func(name string, equal bool, g, w any) {
		if !equal {
			fmt.Fprintf(&b, "\t%s: got %v, want %v\n", name, g, w)
		}
	}
	field("ID", got.ID == want.ID, got.ID, want.ID)
	field("UserID", got.UserID == want.UserID, got.UserID, want.UserID)
	field("Generation", got.Generation == want.Generation, got.Generation, want.Generation)
	field("Roles", slices.Equal(got.Roles, want.Roles), got.Roles, want.Roles)
	field("CreatedAt", got.CreatedAt.Equal(want.CreatedAt), got.CreatedAt, want.CreatedAt)
	field("RotatedAt", got.RotatedAt.Equal(want.RotatedAt), got.RotatedAt, want.RotatedAt)
	field("LastUsedAt", got.LastUsedAt.Equal(want.LastUsedAt), got.LastUsedAt, want.LastUsedAt)
	field("ExpiresAt", got.ExpiresAt.Equal(want.ExpiresAt), got.ExpiresAt, want.ExpiresAt)
	field("RevokedAt", got.RevokedAt.Equal(want.RevokedAt), got.RevokedAt, want.RevokedAt)
	field("UserAgent", got.UserAgent == want.UserAgent, got.UserAgent, want.UserAgent)
	field("IP", got.IP == want.IP, got.IP, want.IP)
	field("CredentialVersion", got.CredentialVersion == want.CredentialVersion, got.CredentialVersion, want.CredentialVersion)
	return b.String()
}

// wantSession checks an answer: no error, and every field equal.
func wantSession(t *testing.T, call string, got auth.Session, err error, want auth.Session) {
	t.Helper()
	if err != nil {
		t.Errorf("%s = error %v, want session %s", call, err, describe(want))
		return
	}
	if d := diffSession(got, want); d != "" {
		t.Errorf("%s returned a different session:\n%s", call, d)
	}
}

// checkStored reads want back by id and compares.
func checkStored(t *testing.T, s auth.SessionStore, want auth.Session) {
	t.Helper()
	got, err := s.Session(context.Background(), want.ID)
	wantSession(t, fmt.Sprintf("Session(%q)", want.ID), got, err, want)
}

// checkGone checks that the session with id is not stored.
func checkGone(t *testing.T, s auth.SessionStore, id string) {
	t.Helper()
	_, err := s.Session(context.Background(), id)
	wantErr(t, fmt.Sprintf("Session(%q)", id), err, auth.ErrSessionNotFound)
}

// checkList checks ListSessions(userID, now) against want, in order.
func checkList(t *testing.T, s auth.SessionStore, userID string, now time.Time, want []auth.Session) {
	t.Helper()
	call := fmt.Sprintf("ListSessions(%q, %v)", userID, now)
	got, err := s.ListSessions(context.Background(), userID, now)
	if err != nil {
		t.Errorf("%s = %v, want nil", call, err)
		return
	}
	ids := func(list []auth.Session) []string {
		var out []string
		for _, sess := range list {
			out = append(out, sess.ID)
		}
		return out
	}
	if !slices.Equal(ids(got), ids(want)) {
		t.Errorf("%s returned sessions %q, want %q", call, ids(got), ids(want))
		return
	}
	for i := range got {
		if d := diffSession(got[i], want[i]); d != "" {
			t.Errorf("%s: session %d differs:\n%s", call, i, d)
		}
	}
}

func testCreateAndReadBack(t *testing.T, s auth.SessionStore) {
	now := baseTime()
	fresh := newSession(newUserID(), now)
	// A session with every optional time set round-trips as well.
	worn := newSession(newUserID(), now.Add(-time.Hour))
	worn.Generation = 7
	worn.Roles = []string{"user", "admin"}
	worn.RotatedAt = ms(now.Add(-time.Minute))
	worn.LastUsedAt = ms(now.Add(-time.Second))
	worn.RevokedAt = ms(now.Add(123 * time.Millisecond))
	mustCreate(t, s, fresh, worn)
	checkStored(t, s, fresh)
	checkStored(t, s, worn)
}

func testCreateDuplicate(t *testing.T, s auth.SessionStore) {
	now := baseTime()
	first := newSession(newUserID(), now)
	mustCreate(t, s, first)
	dup := newSession(newUserID(), now.Add(time.Minute))
	dup.ID = first.ID
	err := s.CreateSession(context.Background(), dup)
	wantErr(t, fmt.Sprintf("CreateSession(%s) with a used id", describe(dup)), err, auth.ErrSessionExists)
	checkStored(t, s, first)
	checkList(t, s, dup.UserID, now.Add(time.Hour), nil)
}

func testNotFound(t *testing.T, s auth.SessionStore) {
	ctx := context.Background()
	now := baseTime()
	mustCreate(t, s, newSession(newUserID(), now))
	id := objectid.New(now)

	checkGone(t, s, id)
	_, err := s.RotateSession(ctx, id, 1, now, now.Add(sessionTTL))
	wantErr(t, fmt.Sprintf("RotateSession(%q) of an unknown session", id), err, auth.ErrSessionNotFound)
	err = s.RevokeSession(ctx, id, now)
	wantErr(t, fmt.Sprintf("RevokeSession(%q) of an unknown session", id), err, auth.ErrSessionNotFound)

	// The per-user calls are not errors for a user without sessions.
	userID := newUserID()
	if n, err := s.RevokeUserSessions(ctx, userID, "", now); n != 0 || err != nil {
		t.Errorf("RevokeUserSessions(%q) of a user without sessions = %d, %v; want 0, nil", userID, n, err)
	}
	if err := s.SetSessionRoles(ctx, userID, []string{"admin"}); err != nil {
		t.Errorf("SetSessionRoles(%q) of a user without sessions = %v, want nil", userID, err)
	}
	checkList(t, s, userID, now, nil)
}

func testRotate(t *testing.T, s auth.SessionStore) {
	ctx := context.Background()
	now := baseTime()
	sess := newSession(newUserID(), now)
	mustCreate(t, s, sess)

	want := sess
	for i := range 3 {
		at := ms(now.Add(time.Duration(i+1)*time.Hour + 7*time.Millisecond))
		expires := ms(at.Add(sessionTTL))
		call := fmt.Sprintf("RotateSession(%q, %d, %v, %v)", sess.ID, want.Generation, at, expires)
		got, err := s.RotateSession(ctx, sess.ID, want.Generation, at, expires)
		want.Generation++
		want.RotatedAt, want.LastUsedAt, want.ExpiresAt = at, at, expires
		wantSession(t, call, got, err, want)
		checkStored(t, s, want)
	}
}

// wantConflict calls RotateSession, expects ErrSessionConflict and checks
// that the stored session is still want.
func wantConflict(t *testing.T, s auth.SessionStore, want auth.Session, gen uint64, now time.Time) {
	t.Helper()
	expires := ms(now.Add(sessionTTL))
	_, err := s.RotateSession(context.Background(), want.ID, gen, now, expires)
	wantErr(t, fmt.Sprintf("RotateSession(%q, %d, %v, %v) of %s", want.ID, gen, now, expires, describe(want)),
		err, auth.ErrSessionConflict)
	checkStored(t, s, want)
}

func testRotateWrongGeneration(t *testing.T, s auth.SessionStore) {
	now := baseTime()
	sess := newSession(newUserID(), now)
	sess.Generation = 5
	mustCreate(t, s, sess)
	for _, gen := range []uint64{0, 4, 6, 1 << 40} {
		wantConflict(t, s, sess, gen, ms(now.Add(time.Minute)))
	}
}

func testRotateRevoked(t *testing.T, s auth.SessionStore) {
	now := baseTime()
	sess := newSession(newUserID(), now)
	mustCreate(t, s, sess)
	revokedAt := ms(now.Add(time.Minute))
	if err := s.RevokeSession(context.Background(), sess.ID, revokedAt); err != nil {
		t.Fatalf("RevokeSession(%q) = %v", sess.ID, err)
	}
	sess.RevokedAt = revokedAt
	wantConflict(t, s, sess, sess.Generation, ms(now.Add(2*time.Minute)))
}

func testRotateExpired(t *testing.T, s auth.SessionStore) {
	ctx := context.Background()
	now := baseTime()
	sess := newSession(newUserID(), now)
	mustCreate(t, s, sess)

	wantConflict(t, s, sess, sess.Generation, sess.ExpiresAt) // now == ExpiresAt is expired
	wantConflict(t, s, sess, sess.Generation, sess.ExpiresAt.Add(time.Hour))

	justBefore := sess.ExpiresAt.Add(-time.Millisecond)
	if _, err := s.RotateSession(ctx, sess.ID, sess.Generation, justBefore, justBefore.Add(sessionTTL)); err != nil {
		t.Errorf("RotateSession(%q, %d) a millisecond before expiry = %v, want nil", sess.ID, sess.Generation, err)
	}
}

func testRevoke(t *testing.T, s auth.SessionStore) {
	ctx := context.Background()
	now := baseTime()
	sess := newSession(newUserID(), now)
	other := newSession(sess.UserID, now)
	mustCreate(t, s, sess, other)

	first := ms(now.Add(time.Minute))
	if err := s.RevokeSession(ctx, sess.ID, first); err != nil {
		t.Fatalf("RevokeSession(%q, %v) = %v, want nil", sess.ID, first, err)
	}
	sess.RevokedAt = first
	checkStored(t, s, sess)

	second := ms(now.Add(time.Hour))
	if err := s.RevokeSession(ctx, sess.ID, second); err != nil {
		t.Errorf("RevokeSession(%q, %v) of a revoked session = %v, want nil", sess.ID, second, err)
	}
	checkStored(t, s, sess) // the first RevokedAt is kept
	checkStored(t, s, other)
	checkList(t, s, sess.UserID, ms(now.Add(2*time.Hour)), []auth.Session{other})
}

func testRevokeUserSessions(t *testing.T, s auth.SessionStore) {
	ctx := context.Background()
	now := baseTime()
	alice, bob := newUserID(), newUserID()
	a1, a2, a3 := newSession(alice, now), newSession(alice, now.Add(time.Second)), newSession(alice, now.Add(2*time.Second))
	b1, b2 := newSession(bob, now), newSession(bob, now.Add(time.Second))
	a3.RevokedAt = ms(now.Add(3 * time.Second)) // already revoked: kept as it is, not counted
	mustCreate(t, s, a1, a2, a3, b1, b2)

	at := ms(now.Add(time.Hour))
	n, err := s.RevokeUserSessions(ctx, alice, "", at)
	if n != 2 || err != nil {
		t.Errorf("RevokeUserSessions(%q, \"\", %v) = %d, %v; want 2, nil", alice, at, n, err)
	}
	a1.RevokedAt, a2.RevokedAt = at, at
	for _, sess := range []auth.Session{a1, a2, a3, b1, b2} {
		checkStored(t, s, sess)
	}
	checkList(t, s, alice, at, nil)
	checkList(t, s, bob, at, []auth.Session{b2, b1})

	n, err = s.RevokeUserSessions(ctx, alice, "", ms(at.Add(time.Hour)))
	if n != 0 || err != nil {
		t.Errorf("RevokeUserSessions(%q) again = %d, %v; want 0, nil", alice, n, err)
	}
	checkStored(t, s, a1) // the first RevokedAt is kept
}

func testRevokeUserSessionsExcept(t *testing.T, s auth.SessionStore) {
	ctx := context.Background()
	now := baseTime()
	alice, bob := newUserID(), newUserID()
	a1, a2, a3 := newSession(alice, now), newSession(alice, now.Add(time.Second)), newSession(alice, now.Add(2*time.Second))
	b1 := newSession(bob, now)
	mustCreate(t, s, a1, a2, a3, b1)

	at := ms(now.Add(time.Hour))
	n, err := s.RevokeUserSessions(ctx, alice, a2.ID, at)
	if n != 2 || err != nil {
		t.Errorf("RevokeUserSessions(%q, %q, %v) = %d, %v; want 2, nil", alice, a2.ID, at, n, err)
	}
	a1.RevokedAt, a3.RevokedAt = at, at
	for _, sess := range []auth.Session{a1, a2, a3, b1} {
		checkStored(t, s, sess)
	}
	checkList(t, s, alice, at, []auth.Session{a2})

	// except naming another user's session protects nothing of this user.
	n, err = s.RevokeUserSessions(ctx, alice, b1.ID, at)
	if n != 1 || err != nil {
		t.Errorf("RevokeUserSessions(%q, %q (another user's)) = %d, %v; want 1, nil", alice, b1.ID, n, err)
	}
	checkStored(t, s, b1)
}

func testListSessions(t *testing.T, s auth.SessionStore) {
	now := baseTime()
	alice, bob := newUserID(), newUserID()
	old := newSession(alice, now.Add(-3*time.Hour))
	mid := newSession(alice, now.Add(-2*time.Hour))
	twin := newSession(alice, now.Add(-2*time.Hour)) // same CreatedAt: ids decide
	newest := newSession(alice, now.Add(-time.Hour))
	revoked := newSession(alice, now.Add(-30*time.Minute))
	revoked.RevokedAt = ms(now.Add(-time.Minute))
	expired := newSession(alice, now.Add(-sessionTTL-time.Hour))
	atEdge := newSession(alice, now.Add(-sessionTTL)) // ExpiresAt == now: expired
	other := newSession(bob, now.Add(-time.Hour))
	mustCreate(t, s, old, mid, twin, newest, revoked, expired, atEdge, other)

	if mid.ID < twin.ID {
		mid, twin = twin, mid // mid now has the greater id, so it comes first
	}
	checkList(t, s, alice, now, []auth.Session{newest, mid, twin, old})
	checkList(t, s, bob, now, []auth.Session{other})
	checkList(t, s, newUserID(), now, nil)
	// Earlier, the expired ones were live too; the revoked one never is.
	checkList(t, s, alice, ms(now.Add(-sessionTTL-time.Minute)),
		[]auth.Session{newest, mid, twin, old, atEdge, expired})
}

func testSetSessionRoles(t *testing.T, s auth.SessionStore) {
	ctx := context.Background()
	now := baseTime()
	alice, bob := newUserID(), newUserID()
	a1, a2 := newSession(alice, now), newSession(alice, now.Add(time.Second))
	a2.RevokedAt = ms(now.Add(time.Minute))
	b1 := newSession(bob, now)
	mustCreate(t, s, a1, a2, b1)

	roles := []string{"user", "moderator"}
	if err := s.SetSessionRoles(ctx, alice, roles); err != nil {
		t.Fatalf("SetSessionRoles(%q, %q) = %v, want nil", alice, roles, err)
	}
	roles[1] = "admin" // the store must have copied the slice
	a1.Roles = []string{"user", "moderator"}
	a2.Roles = []string{"user", "moderator"}
	for _, sess := range []auth.Session{a1, a2, b1} {
		checkStored(t, s, sess)
	}
}

func testDeleteExpired(t *testing.T, s auth.SessionStore) {
	ctx := context.Background()
	now := baseTime()
	alice := newUserID()
	expired := newSession(alice, now.Add(-sessionTTL-time.Hour))
	expiredRevoked := newSession(alice, now.Add(-sessionTTL-time.Minute))
	expiredRevoked.RevokedAt = ms(now.Add(-sessionTTL))
	atEdge := newSession(alice, now.Add(-sessionTTL)) // ExpiresAt == now: removed
	live := newSession(alice, now.Add(-time.Hour))
	revokedLive := newSession(alice, now.Add(-time.Hour))
	revokedLive.RevokedAt = ms(now.Add(-time.Minute))
	mustCreate(t, s, expired, expiredRevoked, atEdge, live, revokedLive)

	n, err := s.DeleteExpiredSessions(ctx, now)
	if n != 3 || err != nil {
		t.Errorf("DeleteExpiredSessions(%v) = %d, %v; want 3, nil", now, n, err)
	}
	for _, id := range []string{expired.ID, expiredRevoked.ID, atEdge.ID} {
		checkGone(t, s, id)
	}
	checkStored(t, s, live)
	checkStored(t, s, revokedLive)
	// What is gone is gone from the per-user answers too: before the
	// deleted sessions expired, they would have been listed.
	checkList(t, s, alice, ms(now.Add(-sessionTTL-30*time.Minute)), []auth.Session{live})
	if n, err := s.RevokeUserSessions(ctx, alice, "", now); n != 1 || err != nil {
		t.Errorf("RevokeUserSessions(%q) after the sweep = %d, %v; want 1 (only the live one), nil", alice, n, err)
	}
	if n, err := s.DeleteExpiredSessions(ctx, now); n != 0 || err != nil {
		t.Errorf("DeleteExpiredSessions(%v) again = %d, %v; want 0, nil", now, n, err)
	}
}

func testEachSession(t *testing.T, s auth.SessionStore) {
	ctx := context.Background()
	calls := 0
	if err := s.EachSession(ctx, func(auth.Session) error { calls++; return nil }); err != nil || calls != 0 {
		t.Errorf("EachSession on an empty store = %v after %d calls, want nil after 0", err, calls)
	}

	now := baseTime()
	want := make(map[string]auth.Session)
	for i := range 6 {
		sess := newSession(newUserID(), now.Add(time.Duration(i)*time.Minute))
		if i%3 == 0 {
			sess.RevokedAt = ms(now.Add(time.Hour)) // revoked ones are visited too
		}
		mustCreate(t, s, sess)
		want[sess.ID] = sess
	}
	seen := make(map[string]int)
	err := s.EachSession(ctx, func(sess auth.Session) error {
		seen[sess.ID]++
		if w, ok := want[sess.ID]; !ok {
			t.Errorf("EachSession visited unknown session %s", describe(sess))
		} else if d := diffSession(sess, w); d != "" {
			t.Errorf("EachSession visited %s with different fields:\n%s", describe(sess), d)
		}
		return nil
	})
	if err != nil {
		t.Errorf("EachSession = %v, want nil", err)
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("EachSession visited session %s %d times, want 1", id, seen[id])
		}
	}
}

func testEachSessionStops(t *testing.T, s auth.SessionStore) {
	for i := range 5 {
		mustCreate(t, s, newSession(newUserID(), baseTime().Add(time.Duration(i)*time.Second)))
	}
	errStop := errors.New("stop here")
	calls := 0
	err := s.EachSession(context.Background(), func(auth.Session) error {
		calls++
		if calls == 2 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) || calls != 2 {
		t.Errorf("EachSession with fn failing at call 2 = %v after %d calls, want %v after 2", err, calls, errStop)
	}
}

// testNoAliasing checks that a store copies slices in and out.
func testNoAliasing(t *testing.T, s auth.SessionStore) {
	ctx := context.Background()
	now := baseTime()
	sess := newSession(newUserID(), now)
	sess.Roles = []string{"user", "moderator"}
	want := sess
	want.Roles = slices.Clone(sess.Roles)

	mustCreate(t, s, sess)
	sess.Roles[0] = "admin" // the slice given to CreateSession
	checkStored(t, s, want)

	got, err := s.Session(ctx, want.ID)
	if err != nil {
		t.Fatalf("Session(%q) = %v", want.ID, err)
	}
	got.Roles[0] = "admin" // a slice received from Session
	checkStored(t, s, want)

	at := ms(now.Add(time.Minute))
	rotated, err := s.RotateSession(ctx, want.ID, want.Generation, at, ms(at.Add(sessionTTL)))
	if err != nil {
		t.Fatalf("RotateSession(%q) = %v", want.ID, err)
	}
	rotated.Roles[0] = "admin" // a slice received from RotateSession
	want.Generation++
	want.RotatedAt, want.LastUsedAt, want.ExpiresAt = at, at, ms(at.Add(sessionTTL))
	checkStored(t, s, want)

	list, err := s.ListSessions(ctx, want.UserID, at)
	if err != nil || len(list) != 1 {
		t.Fatalf("ListSessions(%q) = %d sessions, %v; want 1, nil", want.UserID, len(list), err)
	}
	list[0].Roles[0] = "admin" // a slice received from ListSessions
	checkStored(t, s, want)

	err = s.EachSession(ctx, func(sess auth.Session) error {
		sess.Roles[0] = "admin" // a slice received from EachSession
		return nil
	})
	if err != nil {
		t.Fatalf("EachSession = %v", err)
	}
	checkStored(t, s, want)
}

// testConcurrentRotate races 50 refreshes of one token: the compare-and-swap
// must let exactly one through, or two live token chains would fork.
func testConcurrentRotate(t *testing.T, s auth.SessionStore) {
	const racers = 50
	now := baseTime()
	sess := newSession(newUserID(), now)
	sess.Generation = 3
	mustCreate(t, s, sess)

	at := ms(now.Add(time.Minute))
	expires := ms(at.Add(sessionTTL))
	errs := make([]error, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			_, errs[i] = s.RotateSession(context.Background(), sess.ID, sess.Generation, at, expires)
		})
	}
	close(start)
	wg.Wait()

	winners := 0
	for _, err := range errs {
		switch {
		case err == nil:
			winners++
		case !errors.Is(err, auth.ErrSessionConflict):
			t.Errorf("concurrent RotateSession(%q, %d) = %v, want nil or %v", sess.ID, sess.Generation, err, auth.ErrSessionConflict)
		}
	}
	if winners != 1 {
		t.Errorf("%d of %d concurrent RotateSession(%q, %d) calls succeeded, want exactly 1", winners, racers, sess.ID, sess.Generation)
	}
	sess.Generation++
	sess.RotatedAt, sess.LastUsedAt, sess.ExpiresAt = at, at, expires
	checkStored(t, s, sess)
}

// TestTokenStore runs the auth.TokenStore contract as subtests. newStore
// must return a fresh, empty store for each subtest.
func TestTokenStore(t *testing.T, newStore func(t *testing.T) auth.TokenStore) {
	tests := []struct {
		name string
		run  func(t *testing.T, s auth.TokenStore)
	}{
		{"TakeOnce", testTakeOnce},
		{"TakeWrongPurposeOrExpired", testTakeRefused},
		{"Supersede", testSupersede},
		{"ConcurrentTake", testConcurrentTake},
		{"DeleteExpiredTokens", testDeleteExpiredTokens},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newStore(t))
		})
	}
}

func newToken(t *testing.T, s auth.TokenStore, userID, purpose string, ttl time.Duration) (string, auth.OneTimeToken) {
	t.Helper()
	token, rec := auth.NewOneTimeToken(userID, purpose, ms(baseTime()), ttl)
	if err := s.PutToken(context.Background(), rec); err != nil {
		t.Fatalf("PutToken(%s) = %v", purpose, err)
	}
	return token, rec
}

func testTakeOnce(t *testing.T, s auth.TokenStore) {
	ctx := context.Background()
	token, rec := newToken(t, s, newUserID(), auth.PurposeReset, time.Hour)
	got, err := s.TakeToken(ctx, auth.OneTimeTokenID(token), auth.PurposeReset, baseTime())
	if err != nil || got != rec {
		t.Fatalf("TakeToken = %+v, %v; want %+v", got, err, rec)
	}
	_, err = s.TakeToken(ctx, rec.ID, auth.PurposeReset, baseTime())
	wantErr(t, "TakeToken a second time", err, auth.ErrTokenNotFound)
}

func testTakeRefused(t *testing.T, s auth.TokenStore) {
	ctx := context.Background()
	_, rec := newToken(t, s, newUserID(), auth.PurposeVerify, time.Hour)
	_, err := s.TakeToken(ctx, rec.ID, auth.PurposeReset, baseTime())
	wantErr(t, "TakeToken of a verify token as a reset token", err, auth.ErrTokenNotFound)
	_, err = s.TakeToken(ctx, rec.ID, auth.PurposeVerify, baseTime().Add(time.Hour))
	wantErr(t, "TakeToken at its expiry", err, auth.ErrTokenNotFound)
	_, err = s.TakeToken(ctx, auth.OneTimeTokenID("never issued"), auth.PurposeVerify, baseTime())
	wantErr(t, "TakeToken of an unknown token", err, auth.ErrTokenNotFound)
	if _, err := s.TakeToken(ctx, rec.ID, auth.PurposeVerify, baseTime()); err != nil {
		t.Errorf("TakeToken within its lifetime after refused takes = %v, want it still there", err)
	}
}

func testSupersede(t *testing.T, s auth.TokenStore) {
	ctx := context.Background()
	uid := newUserID()
	_, first := newToken(t, s, uid, auth.PurposeReset, time.Hour)
	_, verify := newToken(t, s, uid, auth.PurposeVerify, time.Hour)
	_, second := newToken(t, s, uid, auth.PurposeReset, time.Hour)
	_, err := s.TakeToken(ctx, first.ID, auth.PurposeReset, baseTime())
	wantErr(t, "TakeToken of a superseded token", err, auth.ErrTokenNotFound)
	for _, rec := range []auth.OneTimeToken{second, verify} {
		if _, err := s.TakeToken(ctx, rec.ID, rec.Purpose, baseTime()); err != nil {
			t.Errorf("TakeToken(%s) after a newer reset token = %v, want it there", rec.Purpose, err)
		}
	}
}

func testConcurrentTake(t *testing.T, s auth.TokenStore) {
	_, rec := newToken(t, s, newUserID(), auth.PurposeReset, time.Hour)
	const n = 16
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = s.TakeToken(context.Background(), rec.ID, auth.PurposeReset, baseTime())
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, auth.ErrTokenNotFound):
			t.Errorf("racing TakeToken = %v, want nil or ErrTokenNotFound", err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d racing TakeToken calls got the token, want exactly 1", won, n)
	}
}

func testDeleteExpiredTokens(t *testing.T, s auth.TokenStore) {
	ctx := context.Background()
	_, short := newToken(t, s, newUserID(), auth.PurposeReset, time.Minute)
	_, long := newToken(t, s, newUserID(), auth.PurposeReset, time.Hour)
	n, err := s.DeleteExpiredTokens(ctx, baseTime().Add(time.Minute))
	if err != nil || n != 1 {
		t.Errorf("DeleteExpiredTokens = %d, %v; want 1, nil", n, err)
	}
	if _, err := s.TakeToken(ctx, short.ID, auth.PurposeReset, baseTime()); !errors.Is(err, auth.ErrTokenNotFound) {
		t.Errorf("expired token after the sweep: %v, want ErrTokenNotFound", err)
	}
	if _, err := s.TakeToken(ctx, long.ID, auth.PurposeReset, baseTime()); err != nil {
		t.Errorf("live token after the sweep: %v, want it there", err)
	}
}
