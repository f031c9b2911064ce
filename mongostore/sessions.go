package mongostore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"corkboard/auth"
)

// sessionDoc is a session as stored in the sessions collection.
type sessionDoc struct {
	ID     bson.ObjectID `bson:"_id"`
	UserID bson.ObjectID `bson:"userId"`
	// Generation is an int64 because BSON has no unsigned integers; a
	// generation counts refreshes and never comes near 2^63.
	Generation int64     `bson:"generation"`
	Roles      []string  `bson:"roles"`
	CreatedAt  time.Time `bson:"createdAt"`
	// RotatedAt and RevokedAt are absent while zero (omitempty omits a zero
	// time.Time, because time.Time has IsZero). "revokedAt: null" in a
	// filter matches an absent field, which is how the compare-and-swaps
	// say "not revoked".
	RotatedAt  time.Time `bson:"rotatedAt,omitempty"`
	LastUsedAt time.Time `bson:"lastUsedAt"`
	ExpiresAt  time.Time `bson:"expiresAt"`
	RevokedAt  time.Time `bson:"revokedAt,omitempty"`
	UserAgent  string    `bson:"userAgent"`
	IP         string    `bson:"ip"`
	// CredentialVersion is absent while 0.
	CredentialVersion int64 `bson:"credentialVersion,omitempty"`
}

// toSessionDoc converts a session for storage.
func toSessionDoc(x auth.Session) (sessionDoc, error) {
	id, ok := parseID(x.ID)
	if !ok {
		return sessionDoc{}, fmt.Errorf("session id %q is not a 24-hex id", x.ID)
	}
	uid, ok := parseID(x.UserID)
	if !ok {
		return sessionDoc{}, fmt.Errorf("session user id %q is not a 24-hex id", x.UserID)
	}
	if x.Generation > math.MaxInt64 || x.CredentialVersion > math.MaxInt64 {
		return sessionDoc{}, fmt.Errorf("session generation %d or credential version %d does not fit in a BSON int64", x.Generation, x.CredentialVersion)
	}
	return sessionDoc{
		ID:         id,
		UserID:     uid,
		Generation: int64(x.Generation),
		Roles:      cloneRoles(x.Roles),
		CreatedAt:  x.CreatedAt,
		RotatedAt:  x.RotatedAt,
		LastUsedAt: x.LastUsedAt,
		ExpiresAt:  x.ExpiresAt,
		RevokedAt:  x.RevokedAt,
		UserAgent:  x.UserAgent,
		IP:         x.IP,

		CredentialVersion: int64(x.CredentialVersion),
	}, nil
}

// toSession converts a stored session back, with every time in UTC and
// absent times as the zero time.
func (d sessionDoc) toSession() auth.Session {
	return auth.Session{
		ID:         d.ID.Hex(),
		UserID:     d.UserID.Hex(),
		Generation: uint64(d.Generation),
		Roles:      d.Roles,
		CreatedAt:  utc(d.CreatedAt),
		RotatedAt:  utc(d.RotatedAt),
		LastUsedAt: utc(d.LastUsedAt),
		ExpiresAt:  utc(d.ExpiresAt),
		RevokedAt:  utc(d.RevokedAt),
		UserAgent:  d.UserAgent,
		IP:         d.IP,

		CredentialVersion: uint64(d.CredentialVersion),
	}
}

// utc returns t in UTC, keeping the zero time zero (a BSON null decodes to
// it, and so does an absent field).
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// notRevoked is the filter clause for a session that is still alive as far
// as revocation goes: the field is absent (or null).
var notRevoked = bson.E{Key: "revokedAt", Value: nil}

// CreateSession stores a new session, or fails with auth.ErrSessionExists if
// the id is taken (the _id index decides, atomically).
func (s *Store) CreateSession(ctx context.Context, x auth.Session) error {
	doc, err := toSessionDoc(x)
	if err != nil {
		return fmt.Errorf("mongostore: create session: %w", err)
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	if _, err := s.sessions.InsertOne(ctx, doc); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return auth.ErrSessionExists
		}
		return s.fail("create session", err)
	}
	return nil
}

// Session returns the session with the given id, whether live, revoked or
// expired but not yet swept, or auth.ErrSessionNotFound. It is one find by
// _id: the authentication middleware calls it on every request.
func (s *Store) Session(ctx context.Context, id string) (auth.Session, error) {
	oid, ok := parseID(id)
	if !ok {
		return auth.Session{}, auth.ErrSessionNotFound
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	var d sessionDoc
	if err := s.sessions.FindOne(ctx, bson.D{{Key: "_id", Value: oid}}).Decode(&d); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return auth.Session{}, auth.ErrSessionNotFound
		}
		return auth.Session{}, s.fail("find session", err)
	}
	return d.toSession(), nil
}

// RotateSession is refresh's compare-and-swap: one findAndModify whose filter
// holds every condition (this id, generation gen, not revoked, not expired at
// now), so two refreshes racing on one token cannot both win. Only when it
// matches nothing does a second read tell auth.ErrSessionNotFound from
// auth.ErrSessionConflict.
func (s *Store) RotateSession(ctx context.Context, id string, gen uint64, now, expires time.Time) (auth.Session, error) {
	oid, ok := parseID(id)
	if !ok {
		return auth.Session{}, auth.ErrSessionNotFound
	}
	ctx, done, err := s.beginUpdate(ctx, "rotate session")
	if err != nil {
		return auth.Session{}, err
	}
	defer done()
	if gen >= math.MaxInt64 {
		// No stored generation can equal gen, and gen+1 would not fit.
		return auth.Session{}, s.conflictOrNotFound(ctx, oid)
	}
	if s.idOnlyFilters {
		return s.rotateByID(ctx, oid, gen, now, expires)
	}
	filter := bson.D{
		{Key: "_id", Value: oid},
		{Key: "generation", Value: int64(gen)},
		notRevoked,
		{Key: "expiresAt", Value: bson.D{{Key: "$gt", Value: now}}},
	}
	update := bson.D{{Key: "$set", Value: bson.D{
		{Key: "generation", Value: int64(gen) + 1},
		{Key: "rotatedAt", Value: now},
		{Key: "lastUsedAt", Value: now},
		{Key: "expiresAt", Value: expires},
	}}}
	var d sessionDoc
	err = s.sessions.FindOneAndUpdate(ctx, filter, update,
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&d)
	switch {
	case err == nil:
		return d.toSession(), nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return auth.Session{}, s.conflictOrNotFound(ctx, oid)
	default:
		return auth.Session{}, s.fail("rotate session", err)
	}
}

// rotateByID is RotateSession on FerretDB 1.x (see Store.idOnlyFilters):
// a find by _id, the compare-and-swap's conditions checked here, then an
// update by _id, every filter exactly {_id} so that FerretDB hands it to
// SQLite instead of decoding the whole collection. The caller holds the
// update lock, so no other update of this process comes between the find and
// the update; FerretDB 1.x's own findAndModify is no more atomic than that
// (it too reads, then writes back by _id).
func (s *Store) rotateByID(ctx context.Context, oid bson.ObjectID, gen uint64, now, expires time.Time) (auth.Session, error) {
	var d sessionDoc
	if err := s.sessions.FindOne(ctx, bson.D{{Key: "_id", Value: oid}}).Decode(&d); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return auth.Session{}, auth.ErrSessionNotFound
		}
		return auth.Session{}, s.fail("rotate session", err)
	}
	// The filter's conditions, as the server would test them: dates are
	// stored in whole milliseconds, and compared with now in milliseconds.
	now, expires = bsonTime(now), bsonTime(expires)
	if d.Generation != int64(gen) || !d.RevokedAt.IsZero() || !d.ExpiresAt.After(now) {
		return auth.Session{}, auth.ErrSessionConflict
	}
	res, err := s.sessions.UpdateOne(ctx, bson.D{{Key: "_id", Value: oid}}, bson.D{{Key: "$set", Value: bson.D{
		{Key: "generation", Value: int64(gen) + 1},
		{Key: "rotatedAt", Value: now},
		{Key: "lastUsedAt", Value: now},
		{Key: "expiresAt", Value: expires},
	}}})
	switch {
	case err != nil:
		return auth.Session{}, s.fail("rotate session", err)
	case res.MatchedCount == 0:
		// Deleted since the find (an expiry sweep or a user's deletion,
		// which do not take the update lock).
		return auth.Session{}, auth.ErrSessionNotFound
	}
	d.Generation = int64(gen) + 1
	d.RotatedAt, d.LastUsedAt, d.ExpiresAt = now, now, expires
	return d.toSession(), nil
}

// conflictOrNotFound explains why a compare-and-swap on session id matched
// nothing: auth.ErrSessionNotFound if there is no such session, else
// auth.ErrSessionConflict.
func (s *Store) conflictOrNotFound(ctx context.Context, id bson.ObjectID) error {
	exists, err := s.sessionExists(ctx, id)
	switch {
	case err != nil:
		return s.fail("rotate session", err)
	case exists:
		return auth.ErrSessionConflict
	default:
		return auth.ErrSessionNotFound
	}
}

// sessionExists reports whether a session with the given id is stored.
func (s *Store) sessionExists(ctx context.Context, id bson.ObjectID) (bool, error) {
	err := s.sessions.FindOne(ctx, bson.D{{Key: "_id", Value: id}},
		options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	return err == nil, err
}

// RevokeSession sets RevokedAt to now unless the session is already revoked
// (the filter on an absent revokedAt keeps the first time). It fails with
// auth.ErrSessionNotFound when there is no such session.
func (s *Store) RevokeSession(ctx context.Context, id string, now time.Time) error {
	oid, ok := parseID(id)
	if !ok {
		return auth.ErrSessionNotFound
	}
	ctx, done, err := s.beginUpdate(ctx, "revoke session")
	if err != nil {
		return err
	}
	defer done()
	if s.idOnlyFilters {
		return s.revokeByID(ctx, oid, now)
	}
	res, err := s.sessions.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: oid}, notRevoked},
		bson.D{{Key: "$set", Value: bson.D{{Key: "revokedAt", Value: now}}}})
	if err != nil {
		return s.fail("revoke session", err)
	}
	if res.MatchedCount > 0 {
		return nil
	}
	// Nothing matched: already revoked (fine, idempotent) or not there.
	exists, err := s.sessionExists(ctx, oid)
	switch {
	case err != nil:
		return s.fail("revoke session", err)
	case !exists:
		return auth.ErrSessionNotFound
	}
	return nil
}

// revokeByID is RevokeSession on FerretDB 1.x (see Store.idOnlyFilters and
// rotateByID): a find by _id, then, unless the session is revoked already,
// an update by _id. The caller holds the update lock.
func (s *Store) revokeByID(ctx context.Context, oid bson.ObjectID, now time.Time) error {
	var d sessionDoc
	if err := s.sessions.FindOne(ctx, bson.D{{Key: "_id", Value: oid}}).Decode(&d); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return auth.ErrSessionNotFound
		}
		return s.fail("revoke session", err)
	}
	if !d.RevokedAt.IsZero() {
		return nil // the first revocation's time stays
	}
	res, err := s.sessions.UpdateOne(ctx, bson.D{{Key: "_id", Value: oid}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "revokedAt", Value: now}}}})
	switch {
	case err != nil:
		return s.fail("revoke session", err)
	case res.MatchedCount == 0:
		return auth.ErrSessionNotFound
	}
	return nil
}

// RevokeUserSessions revokes every unrevoked session of the user except the
// one whose id is except (which may be ""), in one updateMany, and returns
// how many it revoked. updateMany is not atomic across documents, but each
// document is revoked at most once and a retry finishes the job, which is
// all "log out everywhere" needs.
func (s *Store) RevokeUserSessions(ctx context.Context, userID, except string, now time.Time) (int, error) {
	uid, ok := parseID(userID)
	if !ok {
		return 0, nil
	}
	filter := bson.D{{Key: "userId", Value: uid}, notRevoked}
	if eid, ok := parseID(except); ok {
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$ne", Value: eid}}})
	}
	ctx, done, err := s.beginUpdate(ctx, "revoke user sessions")
	if err != nil {
		return 0, err
	}
	defer done()
	res, err := s.sessions.UpdateMany(ctx, filter,
		bson.D{{Key: "$set", Value: bson.D{{Key: "revokedAt", Value: now}}}})
	if err != nil {
		return 0, s.fail("revoke user sessions", err)
	}
	return int(res.ModifiedCount), nil
}

// ListSessions returns the user's live sessions at now (not revoked, not
// expired), newest first (CreatedAt descending, then id descending; an
// ObjectID orders as its lowercase hex does).
func (s *Store) ListSessions(ctx context.Context, userID string, now time.Time) ([]auth.Session, error) {
	list := []auth.Session{}
	uid, ok := parseID(userID)
	if !ok {
		return list, nil
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	cur, err := s.sessions.Find(ctx,
		bson.D{
			{Key: "userId", Value: uid},
			notRevoked,
			{Key: "expiresAt", Value: bson.D{{Key: "$gt", Value: now}}},
		},
		options.Find().SetSort(bson.D{{Key: "createdAt", Value: -1}, {Key: "_id", Value: -1}}))
	if err != nil {
		return nil, s.fail("list sessions", err)
	}
	var docs []sessionDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, s.fail("list sessions", err)
	}
	for _, d := range docs {
		list = append(list, d.toSession())
	}
	return list, nil
}

// SetSessionRoles replaces the Roles snapshot of every session of the user.
func (s *Store) SetSessionRoles(ctx context.Context, userID string, roles []string) error {
	uid, ok := parseID(userID)
	if !ok {
		return nil
	}
	ctx, done, err := s.beginUpdate(ctx, "set session roles")
	if err != nil {
		return err
	}
	defer done()
	_, err = s.sessions.UpdateMany(ctx, bson.D{{Key: "userId", Value: uid}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "roles", Value: cloneRoles(roles)}}}})
	if err != nil {
		return s.fail("set session roles", err)
	}
	return nil
}

// DeleteExpiredSessions removes every session whose ExpiresAt is not after
// now, revoked or not, and returns how many it removed. It is the sweep that
// makes the TTL index optional.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	ctx, done, err := s.beginUpdate(ctx, "delete expired sessions")
	if err != nil {
		return 0, err
	}
	defer done()
	res, err := s.sessions.DeleteMany(ctx, bson.D{{Key: "expiresAt", Value: bson.D{{Key: "$lte", Value: now}}}})
	if err != nil {
		return 0, s.fail("delete expired sessions", err)
	}
	return int(res.DeletedCount), nil
}

// EachSession calls fn for every stored session, in no particular order,
// stopping at the first error fn returns (which it returns unwrapped). Each
// round trip is bounded by OpTimeout, not the whole walk.
func (s *Store) EachSession(ctx context.Context, fn func(auth.Session) error) error {
	return each(ctx, s, s.sessions, "list sessions", func(d sessionDoc) error { return fn(d.toSession()) })
}
