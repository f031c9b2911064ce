package mongostore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"corkboard/auth"
	"corkboard/objectid"
	"corkboard/user"
)

// userDoc is a user as stored in the users collection.
type userDoc struct {
	ID       bson.ObjectID `bson:"_id"`
	Username string        `bson:"username"`
	// UsernameKey is Username lower-cased: the unique index and the lookup
	// key, because case-insensitive collations are not available on every
	// server that speaks MongoDB.
	UsernameKey string `bson:"usernameKey"`
	// Email is lower-cased, so its unique index is case-insensitive.
	Email         string `bson:"email"`
	EmailVerified bool   `bson:"emailVerified,omitempty"`
	FullName      string `bson:"fullName"`
	Color         string `bson:"color"`
	// Roles is always an array, never null, so queries on it behave.
	Roles []string `bson:"roles"`
	// PictureID names a stored file (a GridFS file id); absent when there is
	// no picture.
	PictureID    *bson.ObjectID `bson:"pictureId,omitempty"`
	PasswordHash string         `bson:"passwordHash"`
	// CredentialVersion is absent (0) until the first change of password;
	// BSON has no unsigned integers, and it never nears 2^63.
	CredentialVersion int64     `bson:"credentialVersion,omitempty"`
	CreatedAt         time.Time `bson:"createdAt"`
	UpdatedAt         time.Time `bson:"updatedAt"`
	// DeletingAt is absent but while the user's deletion cascade runs
	// (MarkDeleting); every filter that looks for a user demands it absent
	// (notBeingDeleted).
	DeletingAt *time.Time `bson:"deletingAt,omitempty"`
}

// notBeingDeleted is the filter condition that leaves out users marked for
// deletion: such a user is gone to every lookup and change (user.Store).
var notBeingDeleted = bson.E{Key: "deletingAt", Value: bson.D{{Key: "$exists", Value: false}}}

// liveUserID is the filter for the user with the given id unless it is
// being deleted.
func liveUserID(oid bson.ObjectID) bson.D {
	return bson.D{{Key: "_id", Value: oid}, notBeingDeleted}
}

// toUserDoc converts u for storage. It fails only on ids that no caller
// should produce, which is a programming error, not a client's.
func toUserDoc(u user.User) (userDoc, error) {
	id, ok := parseID(u.ID)
	if !ok {
		return userDoc{}, fmt.Errorf("user id %q is not a 24-hex id", u.ID)
	}
	d := userDoc{
		ID:            id,
		Username:      u.Username,
		UsernameKey:   usernameKey(u.Username),
		Email:         emailKey(u.Email),
		EmailVerified: u.EmailVerified,
		FullName:      u.FullName,
		Color:         u.Color,
		Roles:         cloneRoles(u.Roles),
		PasswordHash:  u.PasswordHash,
		CreatedAt:     u.CreatedAt,
		UpdatedAt:     u.UpdatedAt,
	}
	if !u.DeletingAt.IsZero() {
		at := u.DeletingAt
		d.DeletingAt = &at
	}
	if u.CredentialVersion > math.MaxInt64 {
		return userDoc{}, fmt.Errorf("credential version %d does not fit in a BSON int64", u.CredentialVersion)
	}
	d.CredentialVersion = int64(u.CredentialVersion)
	if u.PictureID != "" {
		pid, ok := parseID(u.PictureID)
		if !ok {
			return userDoc{}, fmt.Errorf("picture id %q is not a 24-hex id", u.PictureID)
		}
		d.PictureID = &pid
	}
	return d, nil
}

// toUser converts a stored user back. The decoder gives fresh slices, so the
// caller owns what it gets.
func (d userDoc) toUser() user.User {
	u := user.User{
		ID:                d.ID.Hex(),
		Username:          d.Username,
		Email:             d.Email,
		EmailVerified:     d.EmailVerified,
		FullName:          d.FullName,
		Color:             d.Color,
		Roles:             d.Roles,
		PasswordHash:      d.PasswordHash,
		CredentialVersion: uint64(d.CredentialVersion),
		CreatedAt:         d.CreatedAt.UTC(),
		UpdatedAt:         d.UpdatedAt.UTC(),
	}
	if d.PictureID != nil {
		u.PictureID = d.PictureID.Hex()
	}
	if d.DeletingAt != nil {
		u.DeletingAt = d.DeletingAt.UTC()
	}
	return u
}

// usernameKey and emailKey are the case-folded forms the unique indexes hold.
// Usernames are ASCII (the domain validates them), so ToLower is the whole
// folding.
func usernameKey(username string) string { return strings.ToLower(username) }
func emailKey(email string) string       { return strings.ToLower(email) }

// cloneRoles copies roles so the stored document never aliases the caller's
// slice, and turns nil into an empty array.
func cloneRoles(roles []string) []string {
	if roles == nil {
		return []string{}
	}
	return slices.Clone(roles)
}

// parseID converts a domain id to an ObjectID. Only the canonical form
// (lowercase, as objectid.New makes) is accepted, so that an id that one
// store would not find is not found by the other either.
func parseID(id string) (bson.ObjectID, bool) {
	if !objectid.Valid(id) {
		return bson.ObjectID{}, false
	}
	oid, err := bson.ObjectIDFromHex(id)
	return oid, err == nil
}

// CreateUser stores u. The unique indexes on email and usernameKey decide
// clashes atomically; the duplicate-key error is mapped to user.ErrEmailTaken
// or user.ErrUsernameTaken.
func (s *Store) CreateUser(ctx context.Context, u user.User) error {
	doc, err := toUserDoc(u)
	if err != nil {
		return fmt.Errorf("mongostore: create user: %w", err)
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	_, err = s.users.InsertOne(ctx, doc)
	if err == nil {
		return nil
	}
	if !mongo.IsDuplicateKeyError(err) {
		return s.fail("create user", err)
	}
	switch duplicateIndex(err) {
	case emailIndex:
		return user.ErrEmailTaken
	case usernameIndex:
		return user.ErrUsernameTaken
	case "_id_":
		return fmt.Errorf("mongostore: create user: id %s already in use: %w", u.ID, err)
	}
	// The error did not say which index (FerretDB names only the
	// collection): ask the collection. If the clash is gone already (the
	// other user deleted in between), a plain error is returned, and
	// trying again will succeed.
	return s.whichDuplicate(ctx, doc, err)
}

// whichDuplicate finds out, after a duplicate-key error whose index could not
// be read, which unique field of doc clashed.
func (s *Store) whichDuplicate(ctx context.Context, doc userDoc, dupErr error) error {
	for _, probe := range []struct {
		filter bson.D
		err    error
	}{
		{bson.D{{Key: "email", Value: doc.Email}, {Key: "_id", Value: bson.D{{Key: "$ne", Value: doc.ID}}}}, user.ErrEmailTaken},
		{bson.D{{Key: "usernameKey", Value: doc.UsernameKey}, {Key: "_id", Value: bson.D{{Key: "$ne", Value: doc.ID}}}}, user.ErrUsernameTaken},
	} {
		err := s.users.FindOne(ctx, probe.filter, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
		switch {
		case err == nil:
			return probe.err
		case !errors.Is(err, mongo.ErrNoDocuments):
			return s.fail("create user", err)
		}
	}
	return fmt.Errorf("mongostore: create user: duplicate key on an unknown index: %w", dupErr)
}

// dupIndexRE finds the index name in a duplicate-key message. MongoDB and
// FerretDB both write "E11000 duplicate key error collection: db.users
// index: email_1 dup key: { ... }".
var dupIndexRE = regexp.MustCompile(`index: (\S+) dup key`)

// duplicateIndex returns the name of the unique index a duplicate-key error
// names, or "" when it cannot tell. MongoDB 4.2+ also sends keyPattern, which
// is read first because it does not depend on message wording.
func duplicateIndex(err error) string {
	var we mongo.WriteException
	if !errors.As(err, &we) {
		return ""
	}
	for _, e := range we.WriteErrors {
		if kp, ok := e.Raw.Lookup("keyPattern").DocumentOK(); ok {
			if elems, err := kp.Elements(); err == nil && len(elems) == 1 {
				switch elems[0].Key() {
				case "email":
					return emailIndex
				case "usernameKey":
					return usernameIndex
				case "_id":
					return "_id_"
				}
			}
		}
		if m := dupIndexRE.FindStringSubmatch(e.Message); m != nil {
			return m[1]
		}
	}
	return ""
}

// findUser returns the one user matching filter that is not being deleted,
// or user.ErrNotFound.
func (s *Store) findUser(ctx context.Context, op string, filter bson.D) (user.User, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	var d userDoc
	if err := s.users.FindOne(ctx, filter).Decode(&d); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return user.User{}, user.ErrNotFound
		}
		return user.User{}, s.fail(op, err)
	}
	// A user being deleted is gone to lookups. It is tested here rather
	// than in the filter (notBeingDeleted), which comes to the same on a
	// read of one document, and keeps a lookup by id the filter {_id}
	// alone, the only one FerretDB 1.x hands to SQLite; with a second
	// condition it decodes every user (see "Query shapes" in the README).
	// The filters of writes keep the condition, checked atomically there.
	if d.DeletingAt != nil {
		return user.User{}, user.ErrNotFound
	}
	return d.toUser(), nil
}

// UserByID returns the user with the given id, or user.ErrNotFound (also for
// an id that is not a valid id at all).
func (s *Store) UserByID(ctx context.Context, id string) (user.User, error) {
	oid, ok := parseID(id)
	if !ok {
		return user.User{}, user.ErrNotFound
	}
	return s.findUser(ctx, "find user", bson.D{{Key: "_id", Value: oid}})
}

// UserByEmail returns the user with the given email, compared
// case-insensitively, or user.ErrNotFound.
func (s *Store) UserByEmail(ctx context.Context, email string) (user.User, error) {
	return s.findUser(ctx, "find user by email", bson.D{{Key: "email", Value: emailKey(email)}})
}

// UserByUsername returns the user with the given username, compared
// case-insensitively, or user.ErrNotFound.
func (s *Store) UserByUsername(ctx context.Context, username string) (user.User, error) {
	return s.findUser(ctx, "find user by username", bson.D{{Key: "usernameKey", Value: usernameKey(username)}})
}

// updateUser applies set to the user with the given id, or fails with
// user.ErrNotFound.
func (s *Store) updateUser(ctx context.Context, op, id string, set bson.D) error {
	oid, ok := parseID(id)
	if !ok {
		return user.ErrNotFound
	}
	ctx, done, err := s.beginUpdate(ctx, op)
	if err != nil {
		return err
	}
	defer done()
	res, err := s.users.UpdateOne(ctx, liveUserID(oid), bson.D{{Key: "$set", Value: set}})
	if err != nil {
		return s.fail(op, err)
	}
	if res.MatchedCount == 0 {
		return user.ErrNotFound
	}
	return nil
}

// SetPassword is the compare-and-swap on the credential version: one
// single-document update whose filter holds the version checked, so of two
// concurrent changes from the same version exactly one matches. A user
// stored before credential versions existed has no such field, which
// counts as version 0.
func (s *Store) SetPassword(ctx context.Context, id, hash string, version uint64, now time.Time) error {
	oid, ok := parseID(id)
	if !ok {
		return user.ErrNotFound
	}
	if version >= math.MaxInt64 {
		return fmt.Errorf("mongostore: set password: credential version %d is out of range", version)
	}
	versionIs := bson.E{Key: "credentialVersion", Value: int64(version)}
	if version == 0 {
		versionIs = bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "credentialVersion", Value: int64(0)}},
			bson.D{{Key: "credentialVersion", Value: bson.D{{Key: "$exists", Value: false}}}},
		}}
	}
	ctx, done, err := s.beginUpdate(ctx, "set password")
	if err != nil {
		return err
	}
	defer done()
	res, err := s.users.UpdateOne(ctx, append(liveUserID(oid), versionIs), bson.D{{Key: "$set", Value: bson.D{
		{Key: "passwordHash", Value: hash},
		{Key: "credentialVersion", Value: int64(version) + 1},
		{Key: "updatedAt", Value: now},
	}}})
	if err != nil {
		return s.fail("set password", err)
	}
	if res.MatchedCount == 1 {
		return nil
	}
	return s.missingOr(ctx, "set password", oid, user.ErrPasswordChanged)
}

// RehashPassword replaces the password hash old by new, if it is still
// old: one update whose filter holds the old hash.
func (s *Store) RehashPassword(ctx context.Context, id, old, new string) error {
	oid, ok := parseID(id)
	if !ok {
		return user.ErrNotFound
	}
	ctx, done, err := s.beginUpdate(ctx, "rehash password")
	if err != nil {
		return err
	}
	defer done()
	res, err := s.users.UpdateOne(ctx, append(liveUserID(oid), bson.E{Key: "passwordHash", Value: old}),
		bson.D{{Key: "$set", Value: bson.D{{Key: "passwordHash", Value: new}}}})
	if err != nil {
		return s.fail("rehash password", err)
	}
	if res.MatchedCount == 1 {
		return nil
	}
	return s.missingOr(ctx, "rehash password", oid, nil)
}

// missingOr tells, after a conditional update matched nothing, whether the
// user is gone (user.ErrNotFound) or the condition failed (otherwise).
func (s *Store) missingOr(ctx context.Context, op string, oid bson.ObjectID, otherwise error) error {
	err := s.users.FindOne(ctx, liveUserID(oid), options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return user.ErrNotFound
	case err != nil:
		return s.fail(op, err)
	}
	return otherwise
}

// CreateAccount stores a new user and its first session. MongoDB here may
// have no transactions, so the two inserts are followed, when either fails
// for any reason but a clash of the user's unique keys, by a compensation
// that deletes the user again: a sign-up that answers an error leaves no
// account behind. Both inserts run whatever becomes of the request (a
// client that goes away must not leave half a sign-up), under the store's
// operation timeout. (Should this process die between the two inserts,
// the user is left without a session, which logging in repairs.)
func (s *Store) CreateAccount(ctx context.Context, u user.User, first auth.Session) error {
	ctx = context.WithoutCancel(ctx)
	err := s.CreateUser(ctx, u)
	switch {
	case errors.Is(err, user.ErrEmailTaken), errors.Is(err, user.ErrUsernameTaken):
		return err // a clash: nothing was stored
	case err == nil:
		err = s.CreateSession(ctx, first)
	}
	if err != nil {
		s.undoUser(u.ID)
	}
	return err
}

// undoUser deletes a user whose sign-up failed, at once. Whether an insert
// that failed for want of the server happened is unknown, though, and it
// may still be on its way: unless the first delete removed the user, the
// delete is repeated in the background until it has, or the window in
// which the insert could land has passed (twice the operation timeout);
// Close stops it.
func (s *Store) undoUser(id string) {
	oid, _ := parseID(id)
	var lastErr error
	del := func() bool {
		ctx, cancel := s.opContext(context.Background())
		defer cancel()
		res, err := s.users.DeleteOne(ctx, bson.D{{Key: "_id", Value: oid}})
		lastErr = err
		return err == nil && res.DeletedCount == 1
	}
	if del() {
		return
	}
	s.undos.Add(1)
	go func() {
		defer s.undos.Done()
		deadline := time.Now().Add(2 * s.opTimeout)
		for {
			if del() {
				return
			}
			if time.Now().After(deadline) {
				if lastErr != nil { // else the insert never happened
					s.log.Error("sign-up: could not remove the user whose sign-up failed; remove it by hand if it exists",
						"user_id", id, "error", lastErr.Error())
				}
				return
			}
			select {
			case <-s.closing:
				s.log.Error("sign-up: closing before the user whose sign-up failed was removed; remove it by hand if it exists", "user_id", id)
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()
}

// SetProfile replaces the user's username, full name and color, in one
// update. On MongoDB the unique index on usernameKey decides a clash (the
// only unique key it changes). FerretDB 1.x answers such a clash on an
// update with an internal error instead of a duplicate-key error, so a
// check for another user with the name runs first, inside the update turn
// that the store takes on FerretDB (see Store.updateLock).
func (s *Store) SetProfile(ctx context.Context, id, username, fullName, color string, now time.Time) error {
	oid, ok := parseID(id)
	if !ok {
		return user.ErrNotFound
	}
	ctx, done, err := s.beginUpdate(ctx, "set profile")
	if err != nil {
		return err
	}
	defer done()
	key := usernameKey(username)
	err = s.users.FindOne(ctx, bson.D{{Key: "usernameKey", Value: key}, {Key: "_id", Value: bson.D{{Key: "$ne", Value: oid}}}},
		options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	switch {
	case err == nil:
		return user.ErrUsernameTaken
	case !errors.Is(err, mongo.ErrNoDocuments):
		return s.fail("set profile", err)
	}
	res, err := s.users.UpdateOne(ctx, liveUserID(oid), bson.D{{Key: "$set", Value: bson.D{
		{Key: "username", Value: username},
		{Key: "usernameKey", Value: key},
		{Key: "fullName", Value: fullName},
		{Key: "color", Value: color},
		{Key: "updatedAt", Value: now},
	}}})
	switch {
	case mongo.IsDuplicateKeyError(err):
		return user.ErrUsernameTaken
	case err != nil:
		return s.fail("set profile", err)
	case res.MatchedCount == 0:
		return user.ErrNotFound
	}
	return nil
}

// SetEmailVerified marks the user's address verified, or fails with
// user.ErrNotFound. Verifying twice keeps the first UpdatedAt.
func (s *Store) SetEmailVerified(ctx context.Context, id string, now time.Time) error {
	oid, ok := parseID(id)
	if !ok {
		return user.ErrNotFound
	}
	ctx, done, err := s.beginUpdate(ctx, "verify email")
	if err != nil {
		return err
	}
	defer done()
	res, err := s.users.UpdateOne(ctx, append(liveUserID(oid), bson.E{Key: "emailVerified", Value: bson.D{{Key: "$ne", Value: true}}}),
		bson.D{{Key: "$set", Value: bson.D{{Key: "emailVerified", Value: true}, {Key: "updatedAt", Value: now}}}})
	if err != nil {
		return s.fail("verify email", err)
	}
	if res.MatchedCount == 1 {
		return nil
	}
	return s.missingOr(ctx, "verify email", oid, nil)
}

// SetRoles replaces the user's roles and sets UpdatedAt to now, or fails
// with user.ErrNotFound.
func (s *Store) SetRoles(ctx context.Context, id string, roles []string, now time.Time) error {
	return s.updateUser(ctx, "set roles", id, bson.D{
		{Key: "roles", Value: cloneRoles(roles)},
		{Key: "updatedAt", Value: now},
	})
}

// SetPicture swaps the user's picture id in one findAndModify, which hands
// back the document as it was: the old id comes from the same atomic step
// as the change, so two concurrent replacements each delete the bytes they
// replaced, never the other's.
func (s *Store) SetPicture(ctx context.Context, id, pictureID string, now time.Time) (string, error) {
	const op = "set picture"
	oid, ok := parseID(id)
	if !ok {
		return "", user.ErrNotFound
	}
	change := bson.D{{Key: "$set", Value: bson.D{{Key: "updatedAt", Value: now}}}}
	if pictureID == "" {
		change = append(change, bson.E{Key: "$unset", Value: bson.D{{Key: "pictureId", Value: ""}}})
	} else {
		pid, ok := parseID(pictureID)
		if !ok {
			return "", fmt.Errorf("mongostore: %s: picture id %q is not a 24-hex id", op, pictureID)
		}
		change[0].Value = append(change[0].Value.(bson.D), bson.E{Key: "pictureId", Value: pid})
	}
	ctx, done, err := s.beginUpdate(ctx, op)
	if err != nil {
		return "", err
	}
	defer done()
	var before struct {
		PictureID *bson.ObjectID `bson:"pictureId,omitempty"`
	}
	err = s.users.FindOneAndUpdate(ctx, liveUserID(oid), change,
		// No projection: FerretDB 1.x answers NotImplemented to one on
		// findAndModify, and the document is small.
		options.FindOneAndUpdate().SetReturnDocument(options.Before)).Decode(&before)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return "", user.ErrNotFound
	case err != nil:
		return "", s.fail(op, err)
	case before.PictureID == nil:
		return "", nil
	}
	return before.PictureID.Hex(), nil
}

// EachUser calls fn for every stored user, in no particular order, stopping
// at the first error fn returns (which it returns unwrapped). Each round trip
// to the server is bounded by OpTimeout, not the whole walk, so a large
// export is not cut short.
func (s *Store) EachUser(ctx context.Context, fn func(user.User) error) error {
	return eachWhere(ctx, s, s.users, "list users", bson.D{notBeingDeleted}, func(d userDoc) error { return fn(d.toUser()) })
}

// MarkDeleting implements user.Store in one findAndModify whose filter
// demands no mark yet, so the first mark's time stays; when it matches
// nothing, a plain read tells a user marked already from none.
func (s *Store) MarkDeleting(ctx context.Context, id string, now time.Time) (user.User, error) {
	const op = "mark user deleting"
	oid, ok := parseID(id)
	if !ok {
		return user.User{}, user.ErrNotFound
	}
	ctx, done, err := s.beginUpdate(context.WithoutCancel(ctx), op)
	if err != nil {
		return user.User{}, err
	}
	defer done()
	var d userDoc
	err = s.users.FindOneAndUpdate(ctx, liveUserID(oid), bson.D{{Key: "$set", Value: bson.D{{Key: "deletingAt", Value: now}}}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		err = s.users.FindOne(ctx, bson.D{{Key: "_id", Value: oid}}).Decode(&d)
	}
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return user.User{}, user.ErrNotFound
	case err != nil:
		return user.User{}, s.fail(op, err)
	}
	return d.toUser(), nil
}

// UsersBeingDeleted implements user.Store. The query has no index of its
// own: it runs at start and in the periodic sweep, not per request, and
// an index on a field that nearly every document lacks would buy little.
func (s *Store) UsersBeingDeleted(ctx context.Context) ([]user.User, error) {
	var marked []user.User
	err := eachWhere(ctx, s, s.users, "list users being deleted",
		bson.D{{Key: "deletingAt", Value: bson.D{{Key: "$exists", Value: true}}}},
		func(d userDoc) error { marked = append(marked, d.toUser()); return nil })
	return marked, err
}

// each walks every document of coll, decoding each into a D and handing it
// to fn.
func each[D any](ctx context.Context, s *Store, coll *mongo.Collection, op string, fn func(D) error) error {
	return eachWhere(ctx, s, coll, op, bson.D{}, fn)
}

// eachWhere is each over the documents of coll that match filter.
func eachWhere[D any](ctx context.Context, s *Store, coll *mongo.Collection, op string, filter bson.D, fn func(D) error) error {
	fctx, cancel := s.opContext(ctx)
	cur, err := coll.Find(fctx, filter)
	cancel()
	if err != nil {
		return s.fail(op, err)
	}
	defer func() {
		cctx, cancel := s.opContext(context.WithoutCancel(ctx))
		defer cancel()
		cur.Close(cctx)
	}()
	for {
		nctx, cancel := s.opContext(ctx)
		ok := cur.Next(nctx)
		cancel()
		if !ok {
			break
		}
		var d D
		if err := cur.Decode(&d); err != nil {
			return fmt.Errorf("mongostore: %s: %w", op, err)
		}
		if err := fn(d); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return s.fail(op, err)
	}
	return nil
}
