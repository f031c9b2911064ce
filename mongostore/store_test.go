package mongostore_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"corkboard/auth"
	"corkboard/auth/authtest"
	"corkboard/board"
	"corkboard/board/boardtest"
	"corkboard/mongostore"
	"corkboard/mongostore/mongotest"
	"corkboard/objectid"
	"corkboard/user"
	"corkboard/user/usertest"
)

func TestUserStore(t *testing.T) {
	mongotest.URI(t) // skip once, not once per subtest
	usertest.TestStore(t, func(t *testing.T) user.Store { return mongotest.Open(t) })
}

func TestSessionStore(t *testing.T) {
	mongotest.URI(t)
	authtest.TestSessionStore(t, func(t *testing.T) auth.SessionStore { return mongotest.Open(t) })
}

// TestSessionStoreShapes runs the session contract suite with each shape of
// the session compare-and-swaps, whatever the server (see "Query shapes" in
// the README): the conditions in one filter, as on MongoDB, and a find and
// an update by _id, as on FerretDB 1.x. FerretDB 1.x runs the first one
// correctly too (only slowly), so both are checked wherever the tests run.
// The second needs the update lock, which only FerretDB 1.x gets.
func TestSessionStoreShapes(t *testing.T) {
	mongotest.URI(t)
	for _, tc := range []struct {
		name   string
		idOnly bool
	}{{"filter", false}, {"id-only", true}} {
		t.Run(tc.name, func(t *testing.T) {
			authtest.TestSessionStore(t, func(t *testing.T) auth.SessionStore {
				s := mongotest.Open(t)
				if tc.idOnly && !mongostore.UpdatesSerialized(s) {
					t.Skip("the server is not FerretDB 1.x: id-only filters are not used on it")
				}
				mongostore.SetIDOnlyFilters(s, tc.idOnly)
				return s
			})
		})
	}
}

func TestTokenStore(t *testing.T) {
	mongotest.URI(t)
	authtest.TestTokenStore(t, func(t *testing.T) auth.TokenStore { return mongotest.Open(t) })
}

func TestFileStore(t *testing.T) {
	mongotest.URI(t)
	usertest.TestFileStore(t, func(t *testing.T) user.FileStore { return mongotest.Open(t) })
}

// TestRoundTrip checks what the stored documents look like and that times
// and ids survive the trip: ObjectIDs and BSON dates on disk, absent fields
// for zero times, UTC and whole milliseconds on the way back.
func TestRoundTrip(t *testing.T) {
	s := mongotest.Open(t)
	ctx := context.Background()
	// A time in another zone, with nanoseconds that MongoDB cannot keep.
	paris := time.FixedZone("CET", 3600)
	created := time.Date(2025, time.June, 1, 12, 30, 45, 123_456_789, paris)
	uid := objectid.New(created)
	sess := auth.Session{
		ID:         objectid.New(created),
		UserID:     uid,
		Generation: 1,
		Roles:      []string{"user"},
		CreatedAt:  created,
		LastUsedAt: created,
		ExpiresAt:  created.Add(time.Hour),
		UserAgent:  "test",
		IP:         "192.0.2.1",
	}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatalf("CreateSession(%+v) = %v", sess, err)
	}

	got, err := s.Session(ctx, sess.ID)
	if err != nil {
		t.Fatalf("Session(%q) = %v", sess.ID, err)
	}
	wantMS := created.Truncate(time.Millisecond).UTC()
	for _, tc := range []struct {
		name      string
		got, want time.Time
	}{
		{"CreatedAt", got.CreatedAt, wantMS},
		{"LastUsedAt", got.LastUsedAt, wantMS},
		{"ExpiresAt", got.ExpiresAt, wantMS.Add(time.Hour)},
	} {
		if !tc.got.Equal(tc.want) || tc.got.Location() != time.UTC {
			t.Errorf("Session(%q).%s = %v (%v), want %v in UTC", sess.ID, tc.name, tc.got, tc.got.Location(), tc.want)
		}
	}
	if !got.RotatedAt.IsZero() || !got.RevokedAt.IsZero() {
		t.Errorf("Session(%q) RotatedAt = %v, RevokedAt = %v; want both zero", sess.ID, got.RotatedAt, got.RevokedAt)
	}
	if got.ID != sess.ID || got.UserID != uid {
		t.Errorf("Session(%q) ID, UserID = %q, %q; want %q, %q", sess.ID, got.ID, got.UserID, sess.ID, uid)
	}

	// The raw document: ids are ObjectIDs, times are dates, zero times absent.
	raw := rawDoc(t, s, "sessions", sess.ID)
	for field, want := range map[string]bson.Type{
		"_id":        bson.TypeObjectID,
		"userId":     bson.TypeObjectID,
		"createdAt":  bson.TypeDateTime,
		"lastUsedAt": bson.TypeDateTime,
		"expiresAt":  bson.TypeDateTime,
		"generation": bson.TypeInt64,
	} {
		if v, err := raw.LookupErr(field); err != nil || v.Type != want {
			t.Errorf("stored session field %s = %v (%v), want a %v", field, v, err, want)
		}
	}
	for _, field := range []string{"rotatedAt", "revokedAt"} {
		if v, err := raw.LookupErr(field); err == nil {
			t.Errorf("stored session has %s = %v, want it absent while zero", field, v)
		}
	}

	// After rotation and revocation both times are set, in UTC.
	rotated := created.Add(time.Minute)
	if _, err := s.RotateSession(ctx, sess.ID, 1, rotated, rotated.Add(time.Hour)); err != nil {
		t.Fatalf("RotateSession(%q, 1) = %v", sess.ID, err)
	}
	revoked := created.Add(2 * time.Minute)
	if err := s.RevokeSession(ctx, sess.ID, revoked); err != nil {
		t.Fatalf("RevokeSession(%q) = %v", sess.ID, err)
	}
	got, err = s.Session(ctx, sess.ID)
	if err != nil {
		t.Fatalf("Session(%q) = %v", sess.ID, err)
	}
	if want := rotated.Truncate(time.Millisecond); !got.RotatedAt.Equal(want) || got.RotatedAt.Location() != time.UTC {
		t.Errorf("RotatedAt after rotation = %v, want %v in UTC", got.RotatedAt, want)
	}
	if want := revoked.Truncate(time.Millisecond); !got.RevokedAt.Equal(want) || got.RevokedAt.Location() != time.UTC {
		t.Errorf("RevokedAt after revocation = %v, want %v in UTC", got.RevokedAt, want)
	}

	// A user: lower-cased keys are stored beside the username as typed,
	// and an absent picture stays absent.
	u := user.User{
		ID: uid, Username: "MixedCase", Email: "mixed@example.com", Roles: []string{"user"},
		PasswordHash: "x", CreatedAt: created, UpdatedAt: created,
	}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatalf("CreateUser(%+v) = %v", u, err)
	}
	raw = rawDoc(t, s, "users", uid)
	if v := raw.Lookup("usernameKey").StringValue(); v != "mixedcase" {
		t.Errorf("stored usernameKey = %q, want %q", v, "mixedcase")
	}
	if v := raw.Lookup("username").StringValue(); v != "MixedCase" {
		t.Errorf("stored username = %q, want %q", v, "MixedCase")
	}
	if v, err := raw.LookupErr("pictureId"); err == nil {
		t.Errorf("stored pictureId = %v, want it absent", v)
	}
	gu, err := s.UserByID(ctx, uid)
	if err != nil {
		t.Fatalf("UserByID(%q) = %v", uid, err)
	}
	if !gu.CreatedAt.Equal(wantMS) || gu.CreatedAt.Location() != time.UTC || gu.PictureID != "" {
		t.Errorf("UserByID(%q) CreatedAt = %v, PictureID = %q; want %v in UTC and \"\"", uid, gu.CreatedAt, gu.PictureID, wantMS)
	}
}

// rawDoc reads the document with the given id straight from the collection.
func rawDoc(t *testing.T, s *mongostore.Store, coll, id string) bson.Raw {
	t.Helper()
	oid, err := bson.ObjectIDFromHex(id)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := s.Database().Collection(coll).FindOne(context.Background(), bson.D{{Key: "_id", Value: oid}}).Raw()
	if err != nil {
		t.Fatalf("reading %s %s: %v", coll, id, err)
	}
	return raw
}

// TestInvalidIDs checks that an id that is not 24 lowercase hex characters
// is simply not found, never a driver error, and that writes refuse it.
func TestInvalidIDs(t *testing.T) {
	s := mongotest.Open(t)
	ctx := context.Background()
	now := time.Now()
	for _, id := range []string{"", "nothex", "507F1F77BCF86CD799439011", "507f1f77bcf86cd79943901", "507f1f77bcf86cd79943901g"} {
		if _, err := s.UserByID(ctx, id); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("UserByID(%q) = %v, want %v", id, err, user.ErrNotFound)
		}
		if err := s.SetPassword(ctx, id, "h", 0, now); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("SetPassword(%q) = %v, want %v", id, err, user.ErrNotFound)
		}
		if err := s.SetRoles(ctx, id, nil, now); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("SetRoles(%q) = %v, want %v", id, err, user.ErrNotFound)
		}
		if _, err := s.Session(ctx, id); !errors.Is(err, auth.ErrSessionNotFound) {
			t.Errorf("Session(%q) = %v, want %v", id, err, auth.ErrSessionNotFound)
		}
		if _, err := s.RotateSession(ctx, id, 1, now, now); !errors.Is(err, auth.ErrSessionNotFound) {
			t.Errorf("RotateSession(%q) = %v, want %v", id, err, auth.ErrSessionNotFound)
		}
		if err := s.RevokeSession(ctx, id, now); !errors.Is(err, auth.ErrSessionNotFound) {
			t.Errorf("RevokeSession(%q) = %v, want %v", id, err, auth.ErrSessionNotFound)
		}
		if n, err := s.RevokeUserSessions(ctx, id, "", now); n != 0 || err != nil {
			t.Errorf("RevokeUserSessions(%q) = %d, %v; want 0, nil", id, n, err)
		}
		if list, err := s.ListSessions(ctx, id, now); len(list) != 0 || err != nil {
			t.Errorf("ListSessions(%q) = %v, %v; want none, nil", id, list, err)
		}
		u := user.User{ID: id, Username: "u" + fmt.Sprint(len(id)), Email: "x@example.com"}
		if err := s.CreateUser(ctx, u); err == nil || errors.Is(err, user.ErrEmailTaken) {
			t.Errorf("CreateUser with id %q = %v, want an invalid-id error", id, err)
		}
	}
}

// TestReopen opens the same database twice: index creation is idempotent,
// and the second Store sees the first one's data and its unique indexes.
func TestReopen(t *testing.T) {
	name := mongotest.NewDatabaseName(t)
	first := mongotest.OpenDatabase(t, name)
	u := user.User{ID: objectid.New(time.Now()), Username: "alice", Email: "alice@example.com", Roles: []string{"user"}}
	if err := first.CreateUser(context.Background(), u); err != nil {
		t.Fatalf("CreateUser = %v", err)
	}
	second := mongotest.OpenDatabase(t, name)
	// A third Store asks for the TTL index where a plain one exists: it
	// must fall back to the existing index, not fail.
	var logs strings.Builder
	third, err := mongostore.Open(context.Background(), mongotest.URI(t), name,
		mongostore.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("Open(%q) with a TTL index over a plain one = %v, want nil", name, err)
	}
	third.Close()
	t.Logf("third Open logged: %s", logs.String())
	if _, err := second.UserByEmail(context.Background(), "Alice@Example.com"); err != nil {
		t.Errorf("UserByEmail on the reopened database = %v, want the user", err)
	}
	clash := u
	clash.ID, clash.Username = objectid.New(time.Now()), "bob"
	if err := second.CreateUser(context.Background(), clash); !errors.Is(err, user.ErrEmailTaken) {
		t.Errorf("CreateUser with a taken email on the reopened database = %v, want %v", err, user.ErrEmailTaken)
	}
	if err := second.Check(context.Background()); err != nil {
		t.Errorf("Check = %v, want nil", err)
	}
}

// TestOpenUnreachable needs no server: it opens a port nobody listens on and
// expects a prompt, one-line error that names the server but not the
// credentials in the URI.
func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	for _, uri := range []string{
		"mongodb://user:secret@127.0.0.1:1/",
		"mongodb://user:s%40cr3t%2Fpw@127.0.0.1:1/?authSource=admin",
		"mongodb://user:secret@127.0.0.1:1/?connectTimeoutMS=secret", // refused before connecting
	} {
		t.Run(uri, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			s, err := mongostore.Open(context.Background(), uri, "corkboard_test_unreachable", mongostore.Options{})
			elapsed := time.Since(start)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) = nil error, want one", uri)
			}
			t.Logf("Open(%q) failed after %v: %v", uri, elapsed.Round(time.Millisecond), err)
			if elapsed > 15*time.Second {
				t.Errorf("Open(%q) took %v to fail, want about 10 s at most", uri, elapsed)
			}
			msg := err.Error()
			for _, secret := range []string{"secret", "s@cr3t", "s%40cr3t", "cr3t", "user:"} {
				if strings.Contains(msg, secret) {
					t.Errorf("Open(%q) error %q contains %q", uri, msg, secret)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("Open(%q) error %q spans lines, want one", uri, msg)
			}
			if !strings.Contains(msg, "127.0.0.1:1") {
				t.Errorf("Open(%q) error %q does not name the server", uri, msg)
			}
		})
	}
}

// TestEachManyBatches walks more documents than fit in the first batch of a
// cursor, so that EachUser and EachSession fetch more under their own
// per-round-trip deadlines.
func TestEachManyBatches(t *testing.T) {
	s := mongotest.Open(t)
	ctx := context.Background()
	const n = 250 // the first batch holds 101 documents
	now := time.Now()
	uid := objectid.New(now)
	for i := range n {
		u := user.User{ID: objectid.New(now), Username: fmt.Sprintf("user%03d", i), Email: fmt.Sprintf("user%03d@example.com", i), Roles: []string{"user"}}
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatalf("CreateUser(%d) = %v", i, err)
		}
		sess := auth.Session{ID: objectid.New(now), UserID: uid, CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatalf("CreateSession(%d) = %v", i, err)
		}
	}
	users := make(map[string]bool)
	if err := s.EachUser(ctx, func(u user.User) error { users[u.ID] = true; return nil }); err != nil || len(users) != n {
		t.Errorf("EachUser = %v after %d distinct users, want nil after %d", err, len(users), n)
	}
	sessions := make(map[string]bool)
	if err := s.EachSession(ctx, func(x auth.Session) error { sessions[x.ID] = true; return nil }); err != nil || len(sessions) != n {
		t.Errorf("EachSession = %v after %d distinct sessions, want nil after %d", err, len(sessions), n)
	}
}

func BenchmarkUserByID(b *testing.B) {
	s := mongotest.Open(b)
	ctx := context.Background()
	now := time.Now()
	u := user.User{ID: objectid.New(now), Username: "bench", Email: "bench@example.com", Roles: []string{"user"}, CreatedAt: now, UpdatedAt: now}
	if err := s.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.UserByID(ctx, u.ID); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRotateSession(b *testing.B) {
	s := mongotest.Open(b)
	ctx := context.Background()
	now := time.Now()
	sess := auth.Session{ID: objectid.New(now), UserID: objectid.New(now), Generation: 1, CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateSession(ctx, sess); err != nil {
		b.Fatal(err)
	}
	gen := sess.Generation
	for b.Loop() {
		if _, err := s.RotateSession(ctx, sess.ID, gen, now, now.Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
		gen++
	}
}

// TestCreateAccountClientGone: a sign-up whose request is cancelled at any
// moment (the client went away) either stores the user and its session,
// or answers an error and leaves no user behind.
func TestCreateAccountClientGone(t *testing.T) {
	s := mongotest.Open(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	var failed []string
	for i := range 60 {
		u := user.User{ID: objectid.New(now), Username: fmt.Sprintf("gone%d", i), Email: fmt.Sprintf("gone%d@example.com", i),
			Roles: []string{"user"}, PasswordHash: "$2a$04$" + strings.Repeat("g", 53), CreatedAt: now, UpdatedAt: now}
		sess := auth.Session{ID: objectid.New(now), UserID: u.ID, Generation: 1, Roles: []string{"user"},
			CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour)}
		ctx, cancel := context.WithCancel(context.Background())
		go func() { time.Sleep(time.Duration(i%6) * 500 * time.Microsecond); cancel() }()
		err := s.CreateAccount(ctx, u, sess)
		cancel()
		if err != nil {
			failed = append(failed, u.ID)
			continue
		}
		if _, err := s.UserByID(context.Background(), u.ID); err != nil {
			t.Errorf("CreateAccount %d succeeded but UserByID = %v", i, err)
		}
		if _, err := s.Session(context.Background(), sess.ID); err != nil {
			t.Errorf("CreateAccount %d succeeded but Session = %v", i, err)
		}
	}
	// The compensations run in the background; Close waits for them.
	time.Sleep(time.Second)
	for _, id := range failed {
		if _, err := s.UserByID(context.Background(), id); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("a sign-up answered an error but left user %s behind (%v)", id, err)
		}
	}
	t.Logf("%d of 60 cancelled sign-ups answered an error", len(failed))
}

func TestBoardStore(t *testing.T) {
	mongotest.URI(t)
	boardtest.TestStore(t, func(t *testing.T) board.Store { return mongotest.Open(t) })
}
