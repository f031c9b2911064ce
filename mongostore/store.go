// Package mongostore keeps corkboard's users, sessions, boards and
// notifications in MongoDB, on go.mongodb.org/mongo-driver/v2. One Store
// implements every store interface the domain packages declare (user.Store,
// auth.SessionStore, board.Store, ...).
//
// MongoDB here may be a standalone mongod without transactions, so every state
// change is a single atomic single-document operation (a compare-and-swap
// where it matters, such as refresh-token rotation), or an ordered sequence
// that is safe to retry. A board is one document, written back whole with a
// compare-and-swap on its version (see UpdateBoard). Identifiers are the
// domain's 24-hex strings, stored as BSON ObjectIDs; times are BSON dates, so
// they keep milliseconds.
//
// A lost or slow server never hangs a request: every operation runs under
// Options.OpTimeout, and connection, timeout and server-selection failures are
// returned as errors whose Unavailable method reports true, which the HTTP
// layer answers with 503. Every other driver error is wrapped plainly and becomes a logged 500.
package mongostore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"

	"corkboard/auth"
	"corkboard/board"
	"corkboard/user"
)

// Collection names.
const (
	usersCollection         = "users"
	sessionsCollection      = "sessions"
	tokensCollection        = "tokens"
	boardsCollection        = "boards"
	notificationsCollection = "notifications"
	// ratelimitsCollection is in ratelimits.go.
)

const (
	// defaultOpTimeout bounds one store operation when Options.OpTimeout is 0.
	defaultOpTimeout = 5 * time.Second
	// openTimeout bounds Open: connecting, the first successful ping and
	// creating the indexes. The operator asked for MongoDB; if it does not
	// answer in this time, starting is pointless and saying so is kinder.
	// It is a little under the 10 s that start-up may take in all.
	openTimeout = 9 * time.Second
	// serverSelectionTimeout is how long an operation waits for a usable
	// server. The driver's default (30 s) outlives any HTTP client's
	// patience; a short one makes a lost server fail fast (503) while the
	// driver's monitor keeps reconnecting in the background, so requests
	// succeed again by themselves once the server is back.
	serverSelectionTimeout = 3 * time.Second
	// connectTimeout bounds a TCP connect plus handshake.
	connectTimeout = 3 * time.Second
)

// Options configures Open. The zero value is usable.
type Options struct {
	// Logger receives the store's few log lines (such as the TTL index
	// fallback). Nil discards them.
	Logger *slog.Logger
	// OpTimeout bounds every store operation (each round trip of an
	// iteration, for EachUser and EachSession). Zero means 5 s.
	OpTimeout time.Duration
	// NoTTLIndex makes Open create a plain index on sessions.expiresAt
	// instead of a TTL index. It is for tests: their clocks are fixed in
	// the past, and MongoDB's TTL monitor, which goes by the server's
	// clock, would delete their sessions halfway through. It does not drop
	// a TTL index that exists already.
	NoTTLIndex bool
	// Monitor, when set, is told of every command sent to the server. The
	// benchmarks use it to count round trips per request.
	Monitor *event.CommandMonitor
	// Commands, when set, counts every command sent to the server by
	// name (see CommandCounts); the program publishes it for the load
	// driver and for operators.
	Commands *CommandCounts
}

// Store keeps every record in one MongoDB database. It is safe for
// concurrent use; the driver's client pools connections.
type Store struct {
	client        *mongo.Client
	db            *mongo.Database
	users         *mongo.Collection
	sessions      *mongo.Collection
	tokens        *mongo.Collection
	boards        *mongo.Collection
	notifications *mongo.Collection
	ratelimits    *mongo.Collection
	log           *slog.Logger
	opTimeout     time.Duration

	// updateLock, when not nil, lets one update run at a time in this
	// process. It is set only when the server is FerretDB 1.x, whose
	// update and findAndModify read the matching documents, apply the
	// change in its own process and write whole documents back by _id,
	// in separate steps: two concurrent compare-and-swaps on one session
	// can both "win", and a revocation can be overwritten by a concurrent
	// rotation. MongoDB applies the filter and the change atomically per
	// document, so there the filters alone are the guard and nothing is
	// serialized. (Several processes sharing one FerretDB 1.x are still
	// not safe; it is a test stand-in, not a production target.)
	updateLock chan struct{}
	// idOnlyFilters is set with updateLock, on FerretDB 1.x: the session
	// compare-and-swaps then read the document by _id, check their
	// conditions here and write by _id, under updateLock, instead of
	// sending the conditions in the filter, and a rate limit finds its
	// first free slot by lookups by _id rather than one $in (see "Query
	// shapes" in the README). FerretDB 1.x passes a filter to SQLite only when it is
	// exactly {_id: <id>}; any other filter makes it decode and test every
	// document of the collection, so a refresh cost grew with the number of
	// sessions stored. On MongoDB the conditions stay in the filter, where
	// the server checks them atomically.
	idOnlyFilters bool

	// undos are the compensations of failed sign-ups still running (see
	// undoUser); closing tells them the store is closing.
	undos   sync.WaitGroup
	closing chan struct{}
	closed  sync.Once
}

var (
	_ user.Store        = (*Store)(nil)
	_ auth.SessionStore = (*Store)(nil)
	_ auth.TokenStore   = (*Store)(nil)
	_ user.FileStore    = (*Store)(nil)
	_ board.Store       = (*Store)(nil)
)

// Open connects to the MongoDB server at uri, waits up to 9 s for it to
// answer a ping, makes sure the indexes exist in database (creating them is
// idempotent, so every start may do it), and returns the Store. The error of a
// failed Open is one line that names the server without the credentials the
// URI may carry.
func Open(ctx context.Context, uri, database string, opts Options) (*Store, error) {
	if database == "" {
		return nil, errors.New("mongostore: open: no database name")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.OpTimeout <= 0 {
		opts.OpTimeout = defaultOpTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()

	where := redactURI(uri)
	fail := func(what string, err error) error {
		msg := scrub(fmt.Sprintf("mongostore: %s %s: %v", what, where, err), uri)
		// One line, for the one line on stderr that start-up failures get.
		return &openError{msg: strings.Join(strings.Fields(msg), " "), err: err}
	}

	co := options.Client().
		ApplyURI(uri).
		SetAppName("corkboard").
		SetServerSelectionTimeout(serverSelectionTimeout).
		SetConnectTimeout(connectTimeout)
	switch {
	case opts.Commands != nil:
		co.SetMonitor(opts.Commands.monitor(opts.Monitor))
	case opts.Monitor != nil:
		co.SetMonitor(opts.Monitor)
	}
	client, err := mongo.Connect(co)
	if err != nil {
		return nil, fail("cannot use MongoDB at", err)
	}
	// Any failure from here on must not leak the client's monitor goroutines.
	closeClient := func() {
		dctx, dcancel := context.WithTimeout(context.Background(), time.Second)
		defer dcancel()
		client.Disconnect(dctx)
	}

	if err := pingUntil(ctx, client); err != nil {
		closeClient()
		return nil, fail("cannot reach MongoDB at", err)
	}

	db := client.Database(database)
	s := &Store{
		client:        client,
		db:            db,
		users:         db.Collection(usersCollection),
		sessions:      db.Collection(sessionsCollection),
		tokens:        db.Collection(tokensCollection),
		boards:        db.Collection(boardsCollection),
		notifications: db.Collection(notificationsCollection),
		ratelimits:    db.Collection(ratelimitsCollection),
		log:           opts.Logger,
		opTimeout:     opts.OpTimeout,
		closing:       make(chan struct{}),
	}
	version, ferret, err := ferretDBVersion(ctx, client)
	if err != nil {
		closeClient()
		return nil, fail("cannot read the build info of MongoDB at", err)
	}
	if ferret && !ferretDB2(version) {
		s.log.Info("server is FerretDB 1.x, whose updates are not atomic: this process runs its updates one at a time",
			slog.String("ferretdb_version", version))
		s.updateLock = make(chan struct{}, 1)
		s.idOnlyFilters = true
	}
	if err := s.ensureIndexes(ctx, !opts.NoTTLIndex); err != nil {
		closeClient()
		return nil, fail("cannot create indexes in MongoDB at", err)
	}
	return s, nil
}

// pingUntil pings until the server answers or ctx ends. One ping gives up
// after the short server-selection timeout; retrying lets a server that is
// still starting (a container started next to ours) use the whole of Open's
// deadline.
func pingUntil(ctx context.Context, client *mongo.Client) error {
	for {
		err := client.Ping(ctx, readpref.Primary())
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || !unavailable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// ferretDBVersion reports whether the server is FerretDB, which adds
// ferretdbVersion to buildInfo, and which version it says it is (builds
// without version information say "unknown"). A server that refuses
// buildInfo is taken for MongoDB.
func ferretDBVersion(ctx context.Context, client *mongo.Client) (version string, ferret bool, err error) {
	raw, err := client.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Raw()
	if err != nil {
		if unavailable(err) {
			return "", false, err
		}
		return "", false, nil
	}
	v, err := raw.LookupErr("ferretdbVersion")
	if err != nil {
		return "", false, nil
	}
	version, _ = v.StringValueOK()
	return version, true, nil
}

// ferretDB2 reports whether a FerretDB version is 2.0 or later. FerretDB 2
// runs on PostgreSQL with the DocumentDB extension, which updates documents
// in place within one statement; an unknown version is taken for 1.x, to be
// safe.
func ferretDB2(version string) bool {
	major, _, _ := strings.Cut(strings.TrimPrefix(version, "v"), ".")
	n, err := strconv.Atoi(major)
	return err == nil && n >= 2
}

// lockUpdates waits for this process's turn to update, when updates must be
// serialized (see Store.updateLock), and returns the function that ends the
// turn. Waiting is bounded by ctx like any other part of an operation.
func (s *Store) lockUpdates(ctx context.Context) (unlock func(), err error) {
	if s.updateLock == nil {
		return func() {}, nil
	}
	select {
	case s.updateLock <- struct{}{}:
		return func() { <-s.updateLock }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// openError is Open's failure: a message scrubbed of credentials, and the
// cause for errors.Is and errors.As.
type openError struct {
	msg string
	err error
}

func (e *openError) Error() string { return e.msg }
func (e *openError) Unwrap() error { return e.err }

// redactURI returns uri with its user information (user name and password)
// replaced by "***", for messages and logs. It parses by hand because a
// MongoDB URI may list several hosts, which net/url refuses.
func redactURI(uri string) string {
	scheme, rest, ok := strings.Cut(uri, "://")
	if !ok {
		// Not a URI at all; it might still be a secret, so do not echo it.
		return "(unparsable URI)"
	}
	// The user information ends at the last "@" before the options: a
	// password with an unescaped "@" or "/" is still hidden whole.
	authority := rest
	if i := strings.IndexByte(authority, '?'); i >= 0 {
		authority = authority[:i]
	}
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		rest = "***@" + rest[at+1:]
	}
	return scheme + "://" + rest
}

// scrub removes from msg the user information of uri, and its password both
// as written and percent-decoded, in case the driver quoted any of them.
func scrub(msg, uri string) string {
	_, rest, ok := strings.Cut(uri, "://")
	if !ok {
		if uri != "" {
			msg = strings.ReplaceAll(msg, uri, "(unparsable URI)")
		}
		return msg
	}
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		rest = rest[:i]
	}
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return msg
	}
	userinfo := rest[:at]
	secrets := []string{userinfo}
	if _, pw, ok := strings.Cut(userinfo, ":"); ok && pw != "" {
		secrets = append(secrets, pw)
		if dec, err := url.PathUnescape(pw); err == nil && dec != pw {
			secrets = append(secrets, dec)
		}
	}
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "***")
		}
	}
	return msg
}

// ensureIndexes creates the indexes the store relies on. Creating an index
// with the same keys, name and options as an existing one is a no-op, so this
// runs at every start. Each index is its own createIndexes command: FerretDB
// 1.24 panics and drops the connection when one command lists two or more
// indexes that all exist already, and the extra round trips happen only at
// start.
func (s *Store) ensureIndexes(ctx context.Context, ttl bool) error {
	for _, ix := range []struct {
		coll *mongo.Collection
		key  string
		opts *options.IndexOptionsBuilder
	}{
		// Uniqueness is enforced by the server, not by a check-then-insert,
		// which two concurrent sign-ups would both pass. Both keys are stored
		// lower-cased because a case-insensitive collation is not available
		// everywhere (FerretDB refuses it), and a plain index serves an
		// equality lookup on a lower-cased key just as well.
		{s.users, "email", options.Index().SetName(emailIndex).SetUnique(true)},
		{s.users, "usernameKey", options.Index().SetName(usernameIndex).SetUnique(true)},
		// The user list, newest first (userlist.go); a search also scans
		// a range of usernameKey_1.
		{s.users, "-createdAt,-_id", options.Index().SetName(ageIndex)},
		// userId serves ListSessions, RevokeUserSessions and SetSessionRoles.
		{s.sessions, "userId", options.Index().SetName("userId_1")},
		// A one-time token is found by its hash; a user has one per purpose.
		{s.tokens, "hash", options.Index().SetName("hash_1").SetUnique(true)},
		{s.tokens, "userId,purpose", options.Index().SetName("userId_1_purpose_1").SetUnique(true)},
		// The sweep of expired tokens.
		{s.tokens, "expiresAt", options.Index().SetName(expiresIndex)},
		// A user's boards (BoardSummaries) are found through members, a
		// multikey index: one entry per member of each board. BoardIDsFor
		// adds the boards a user is invited to.
		{s.boards, "members", options.Index().SetName("members_1")},
		{s.boards, "invited", options.Index().SetName("invited_1")},
		// A user's notifications, newest first: the index read backwards
		// gives {createdAt: -1, _id: -1} without a sort in memory.
		{s.notifications, "userId,createdAt,_id", options.Index().SetName("userId_1_createdAt_1__id_1")},
		// The notifications of a deleted board.
		{s.notifications, "boardId", options.Index().SetName("boardId_1")},
		// The rate-limit slots of one key, for Reset.
		{s.ratelimits, "k", options.Index().SetName("k_1")},
	} {
		var keys bson.D
		for _, k := range strings.Split(ix.key, ",") {
			if desc, ok := strings.CutPrefix(k, "-"); ok { // descending
				keys = append(keys, bson.E{Key: desc, Value: -1})
				continue
			}
			keys = append(keys, bson.E{Key: k, Value: 1})
		}
		_, err := ix.coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: keys, Options: ix.opts})
		if err != nil {
			return fmt.Errorf("%s.%s: %w", ix.coll.Name(), ix.key, err)
		}
	}
	// A TTL index lets MongoDB delete expired sessions and rate-limit
	// slots by itself. It is only a convenience: reads check expiry and
	// the sweeps delete, so a server without TTL indexes (FerretDB answers
	// NotImplemented) gets a plain index for the sweep instead.
	for _, ix := range []struct {
		coll        *mongo.Collection
		field, name string
	}{
		{s.sessions, "expiresAt", expiresIndex},
		{s.ratelimits, "exp", "exp_1"},
	} {
		if err := s.ensureExpiryIndex(ctx, ix.coll, ix.field, ix.name, ttl); err != nil {
			return err
		}
	}
	return nil
}

// ensureExpiryIndex creates a TTL index on coll.field, or when ttl is off
// or the server does not support TTL indexes, a plain index of the same
// name for the sweep. Both carry the same name, so each start finds
// whichever exists: MongoDB refuses to create one while the other is there
// (IndexOptionsConflict), and either one serves the sweep.
func (s *Store) ensureExpiryIndex(ctx context.Context, coll *mongo.Collection, field, name string, ttl bool) error {
	if ttl {
		_, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{
			Keys: bson.D{{Key: field, Value: 1}}, Options: options.Index().SetName(name).SetExpireAfterSeconds(0),
		})
		if err == nil {
			return nil
		}
		if unavailable(err) {
			return fmt.Errorf("%s.%s: %w", coll.Name(), field, err)
		}
		s.log.Info("TTL indexes not supported; expired records are removed by the sweep",
			slog.String("collection", coll.Name()), slog.String("error", err.Error()))
	}
	_, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys: bson.D{{Key: field, Value: 1}}, Options: options.Index().SetName(name),
	})
	var se mongo.ServerError
	if err != nil && !(errors.As(err, &se) && se.HasErrorCode(indexOptionsConflict)) {
		return fmt.Errorf("%s.%s: %w", coll.Name(), field, err)
	}
	return nil
}

// indexOptionsConflict is MongoDB's error code for "an index with this name
// and keys exists with other options".
const indexOptionsConflict = 85

// Index names. Naming them explicitly lets CreateUser tell which unique
// index a duplicate-key error names.
const (
	emailIndex    = "email_1"
	usernameIndex = "usernameKey_1"
	expiresIndex  = "expiresAt_1"
)

// Close disconnects from the server, waiting up to 5 s for operations in
// flight. Operations after Close fail with an unavailable error.
func (s *Store) Close() error {
	s.closed.Do(func() { close(s.closing) })
	s.undos.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.client.Disconnect(ctx); err != nil {
		return s.fail("close", err)
	}
	return nil
}

// Check pings the server, for /healthz: nil means the store can serve
// requests; the error is an unavailable one when the server is out of
// reach.
func (s *Store) Check(ctx context.Context) error {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	if err := s.client.Ping(ctx, readpref.Primary()); err != nil {
		return s.fail("ping", err)
	}
	return nil
}

// Database returns the database the Store works in. It is for tests and
// tools (dropping a test database, inspecting raw documents); the
// application goes through the Store's methods.
func (s *Store) Database() *mongo.Database { return s.db }

// beginUpdate is opContext for an operation that changes existing
// documents: it also waits for this process's update turn when updates must
// be serialized (see Store.updateLock). done ends both.
func (s *Store) beginUpdate(ctx context.Context, op string) (_ context.Context, done func(), err error) {
	ctx, cancel := s.opContext(ctx)
	unlock, err := s.lockUpdates(ctx)
	if err != nil {
		cancel()
		return nil, nil, s.fail(op, err)
	}
	return ctx, func() { unlock(); cancel() }, nil
}

// opContext bounds one operation by the store's OpTimeout, so that a lost
// server gives an error instead of a hang.
func (s *Store) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.opTimeout)
}
