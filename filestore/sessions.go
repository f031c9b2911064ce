package filestore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"

	"corkboard/auth"
)

// sessionKind is the name of session records in changes and snapshots.
const sessionKind = "session"

// sessionTable holds the sessions, by id and by user.
//
// byID holds pointers, which is what a map of auth.Session held anyway:
// a Go map keeps a value larger than 128 bytes out of line, allocating
// each on its own. Holding the pointers lets a snapshot load keep the
// sessions in the slices it decoded them into, a few thousand to an
// allocation, where putting a million sessions into a map of values made
// a million allocations (half the time the map took to fill). A stored
// session is never modified through its pointer: a change stores a new
// one (add), and get returns a copy.
type sessionTable struct {
	byID   map[string]*auth.Session
	byUser map[string]*sessionSet // user id → its session ids
	// soonest is no later than the ExpiresAt of any session in byID: a
	// sweep whose now is before it has nothing to remove and need not
	// read a million sessions (under the write lock) to find that out.
	// Adding a session lowers it; only a sweep that finds nothing expired
	// raises it, to the exact earliest expiry it has just seen (see
	// DeleteExpiredSessions).
	soonest time.Time
}

// sessionSet is a user's session ids: a slice while they are few, which
// most users' are, and a map once they are many. A map for each of a
// hundred thousand users, grown step by step, was a third of the time a
// snapshot load spent putting a million sessions; a slice costs a
// fraction of it, and the map keeps removing one of a user's sessions
// O(1) however many they have.
type sessionSet struct {
	few  []string
	many map[string]struct{}
}

// maxFewSessions is the number of ids up to which a sessionSet is a
// slice; removing one scans it.
const maxFewSessions = 16

// add adds id, which the set must not hold: sessionTable.add removes a
// session before it adds it again, and a snapshot load that meets an id
// twice is given up (see applyStages). Not looking for it spares reading
// every other id's bytes, each a cache miss at a million sessions.
func (ss *sessionSet) add(id string) {
	switch {
	case ss.many != nil:
		ss.many[id] = struct{}{}
	case len(ss.few) < maxFewSessions:
		if ss.few == nil {
			ss.few = make([]string, 0, 4)
		}
		ss.few = append(ss.few, id)
	default:
		ss.many = make(map[string]struct{}, 2*maxFewSessions)
		for _, x := range ss.few {
			ss.many[x] = struct{}{}
		}
		ss.many[id] = struct{}{}
		ss.few = nil
	}
}

// remove removes id from the set, if it is there.
func (ss *sessionSet) remove(id string) {
	if ss.many != nil {
		delete(ss.many, id)
		return
	}
	if i := slices.Index(ss.few, id); i >= 0 {
		last := len(ss.few) - 1
		ss.few[i] = ss.few[last]
		ss.few[last] = ""
		ss.few = ss.few[:last]
	}
}

// len returns the number of ids in the set.
func (ss *sessionSet) len() int {
	if ss.many != nil {
		return len(ss.many)
	}
	return len(ss.few)
}

// ofUser returns the ids of the user's sessions, in no order. The table
// must not change while they are ranged over.
func (t *sessionTable) ofUser(userID string) iter.Seq[string] {
	return func(yield func(string) bool) {
		ss := t.byUser[userID]
		switch {
		case ss == nil:
		case ss.many != nil:
			for id := range ss.many {
				if !yield(id) {
					return
				}
			}
		default:
			for _, id := range ss.few {
				if !yield(id) {
					return
				}
			}
		}
	}
}

// countOfUser returns the number of the user's sessions.
func (t *sessionTable) countOfUser(userID string) int {
	if ss := t.byUser[userID]; ss != nil {
		return ss.len()
	}
	return 0
}

func (t *sessionTable) kind() string { return sessionKind }

func (t *sessionTable) reset() {
	*t = sessionTable{
		byID:   make(map[string]*auth.Session),
		byUser: make(map[string]*sessionSet),
	}
}

// reserve makes room for n sessions in an empty table, so that loading a
// snapshot does not grow the map step by step.
func (t *sessionTable) reserve(n int) {
	if len(t.byID) == 0 {
		t.byID = make(map[string]*auth.Session, n)
	}
}

func (t *sessionTable) decode(dec *json.Decoder) (any, string, error) {
	var s auth.Session
	err := dec.Decode(&s)
	return s, s.ID, err
}

// validate checks that the record is a session stored under its own id,
// and holds it to Session.Validate: the same checks an import passes, so
// that a hand-edited file cannot load what an import would refuse.
func (t *sessionTable) validate(id string, rec any) error {
	s, ok := rec.(auth.Session)
	switch {
	case !ok:
		return fmt.Errorf("session change carries a %T", rec)
	case s.ID != id:
		return fmt.Errorf("session change for id %q carries session %q", id, s.ID)
	}
	return s.Validate()
}

func (t *sessionTable) put(rec any) { t.add(rec.(auth.Session)) }

// add is put without the boxing.
func (t *sessionTable) add(s auth.Session) {
	t.delete(s.ID) // in case the user id changed
	t.lowerSoonest(s.ExpiresAt)
	t.byID[s.ID] = &s
	t.addByUser(&s)
}

// get returns a copy of the session with id.
func (t *sessionTable) get(id string) (auth.Session, bool) {
	if p, ok := t.byID[id]; ok {
		return *p, true
	}
	return auth.Session{}, false
}

// addByID and addByUser are add in two steps, for loading a snapshot into
// an empty table, where the two maps fill on two cores: addByID stores s,
// which nothing may modify from now on, unless a session with its id is
// there already, and reports whether it did; addByUser indexes s by user.
func (t *sessionTable) addByID(s *auth.Session) bool {
	t.lowerSoonest(s.ExpiresAt)
	n := len(t.byID)
	t.byID[s.ID] = s
	return len(t.byID) > n
}

// lowerSoonest keeps soonest no later than exp, the expiry of a session
// about to be put into byID; in an empty table, soonest becomes exp.
func (t *sessionTable) lowerSoonest(exp time.Time) {
	if len(t.byID) == 0 || exp.Before(t.soonest) {
		t.soonest = exp
	}
}

func (t *sessionTable) addByUser(s *auth.Session) {
	ids := t.byUser[s.UserID]
	if ids == nil {
		ids = &sessionSet{}
		t.byUser[s.UserID] = ids
	}
	ids.add(s.ID)
}

func (t *sessionTable) delete(id string) {
	old, ok := t.byID[id]
	if !ok {
		return
	}
	delete(t.byID, id)
	if ids := t.byUser[old.UserID]; ids != nil {
		ids.remove(id)
		if ids.len() == 0 {
			delete(t.byUser, old.UserID)
		}
	}
}

// check has nothing to find: no session key but the id must be unique,
// and put and delete keep byUser whatever the files hold.
func (t *sessionTable) check() error { return nil }

func (t *sessionTable) list() []change {
	list := make([]change, 0, len(t.byID))
	for _, s := range t.byID {
		list = append(list, putSession(*s))
	}
	return list
}

// copyLater copies the pointers to the sessions, which is all a snapshot
// needs: a stored session is never modified through its pointer.
func (t *sessionTable) copyLater() func() kindRecords {
	recs := make([]*auth.Session, 0, len(t.byID))
	for _, s := range t.byID {
		recs = append(recs, s)
	}
	return func() kindRecords {
		k := kindRecords{Kind: sessionKind, Records: make([]change, 0, len(recs))}
		for _, s := range recs {
			k.Records = append(k.Records, putChange(sessionKind, s.ID, s))
		}
		return k
	}
}

// putSession returns a change that stores s.
func putSession(s auth.Session) change { return putChange(sessionKind, s.ID, s) }

// deleteSession returns a change that deletes the session with id.
func deleteSession(id string) change { return deleteChange(sessionKind, id) }

// cloneSession returns s with its slices copied, so the copy shares nothing.
func cloneSession(s auth.Session) auth.Session {
	s.Roles = slices.Clone(s.Roles)
	return s
}

// CreateSession implements auth.SessionStore.
func (s *Store) CreateSession(ctx context.Context, sess auth.Session) error {
	sess = cleanSession(sess)
	return s.update(ctx, func(st *state) ([]change, error) {
		if err := newSessionLocked(st, sess); err != nil {
			return nil, err
		}
		return []change{putSession(sess)}, nil
	})
}

// newSessionLocked reports why sess cannot be added to st, if it cannot.
func newSessionLocked(st *state, sess auth.Session) error {
	if sess.ID == "" {
		return errors.New("filestore: create session: session without an id")
	}
	if _, ok := st.sessions.byID[sess.ID]; ok {
		return auth.ErrSessionExists
	}
	return nil
}

// cleanSession returns a copy of sess that shares no slice with the caller,
// with its times in the form the files give back.
func cleanSession(sess auth.Session) auth.Session {
	sess = cloneSession(sess)
	sess.CreatedAt = utc(sess.CreatedAt)
	sess.RotatedAt = utc(sess.RotatedAt)
	sess.LastUsedAt = utc(sess.LastUsedAt)
	sess.ExpiresAt = utc(sess.ExpiresAt)
	sess.RevokedAt = utc(sess.RevokedAt)
	return sess
}

// Session implements auth.SessionStore. It is a map read under a shared
// lock: the middleware calls it on every authenticated request.
func (s *Store) Session(ctx context.Context, id string) (auth.Session, error) {
	if err := s.readable(); err != nil {
		return auth.Session{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	sess, ok := s.st.sessions.get(id)
	if !ok {
		return auth.Session{}, auth.ErrSessionNotFound
	}
	return cloneSession(sess), nil
}

// RotateSession implements auth.SessionStore. The check and the change
// happen under one hold of the write lock, which makes it a true
// compare-and-swap: of many concurrent calls with the same gen, one wins.
func (s *Store) RotateSession(ctx context.Context, id string, gen uint64, now, expires time.Time) (auth.Session, error) {
	var rotated auth.Session
	err := s.update(ctx, func(st *state) ([]change, error) {
		sess, ok := st.sessions.get(id)
		switch {
		case !ok:
			return nil, auth.ErrSessionNotFound
		case !sess.Live(now) || sess.Generation != gen:
			return nil, auth.ErrSessionConflict
		}
		sess.Generation = gen + 1
		sess.RotatedAt = utc(now)
		sess.LastUsedAt = utc(now)
		sess.ExpiresAt = utc(expires)
		rotated = sess
		return []change{putSession(sess)}, nil
	})
	if err != nil {
		return auth.Session{}, err
	}
	return cloneSession(rotated), nil
}

// RevokeSession implements auth.SessionStore.
func (s *Store) RevokeSession(ctx context.Context, id string, now time.Time) error {
	return s.update(ctx, func(st *state) ([]change, error) {
		sess, ok := st.sessions.get(id)
		if !ok {
			return nil, auth.ErrSessionNotFound
		}
		if !sess.RevokedAt.IsZero() {
			return nil, nil // keep the first revocation time
		}
		sess.RevokedAt = utc(now)
		return []change{putSession(sess)}, nil
	})
}

// RevokeUserSessions implements auth.SessionStore. All the revocations are
// one batch, so a crash keeps all or none of them.
func (s *Store) RevokeUserSessions(ctx context.Context, userID, except string, now time.Time) (int, error) {
	var n int
	err := s.update(ctx, func(st *state) ([]change, error) {
		var changes []change
		for id := range st.sessions.ofUser(userID) {
			sess, _ := st.sessions.get(id)
			if id == except || !sess.RevokedAt.IsZero() {
				continue
			}
			sess.RevokedAt = utc(now)
			changes = append(changes, putSession(sess))
		}
		n = len(changes)
		return changes, nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// ListSessions implements auth.SessionStore.
func (s *Store) ListSessions(ctx context.Context, userID string, now time.Time) ([]auth.Session, error) {
	if err := s.readable(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	list := make([]auth.Session, 0, s.st.sessions.countOfUser(userID))
	for id := range s.st.sessions.ofUser(userID) {
		if sess := s.st.sessions.byID[id]; sess.Live(now) {
			list = append(list, cloneSession(*sess))
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(list, func(a, b auth.Session) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), strings.Compare(b.ID, a.ID))
	})
	return list, nil
}

// SetSessionRoles implements auth.SessionStore. All the sessions change in
// one batch.
func (s *Store) SetSessionRoles(ctx context.Context, userID string, roles []string) error {
	return s.update(ctx, func(st *state) ([]change, error) {
		var changes []change
		for id := range st.sessions.ofUser(userID) {
			sess, _ := st.sessions.get(id)
			sess.Roles = slices.Clone(roles)
			changes = append(changes, putSession(sess))
		}
		return changes, nil
	})
}

// DeleteExpiredSessions implements auth.SessionStore. The removals are one
// batch of deletes. When the earliest expiry the table knows of is after
// now, nothing has expired, and no session is read: the sweep at start,
// with a million sessions loaded, and every sweep until the first of
// them expires, cost nothing. A sweep that reads them all and finds none
// expired records the earliest expiry it saw; one that finds some leaves
// the bound where it was (its deletes may yet fail to commit), and the
// next sweep reads them all again.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := s.update(ctx, func(st *state) ([]change, error) {
		t := &st.sessions
		if len(t.byID) == 0 || t.soonest.After(now) {
			return nil, nil
		}
		var changes []change
		soonest := time.Time{}
		for id, sess := range t.byID {
			switch {
			case !sess.ExpiresAt.After(now):
				changes = append(changes, deleteSession(id))
			case soonest.IsZero() || sess.ExpiresAt.Before(soonest):
				soonest = sess.ExpiresAt
			}
		}
		if len(changes) == 0 {
			t.soonest = soonest // the exact earliest expiry, after now
		}
		n = len(changes)
		return changes, nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// EachSession implements auth.SessionStore. Like EachUser, it calls fn on
// copies, without holding a lock.
func (s *Store) EachSession(ctx context.Context, fn func(auth.Session) error) error {
	if err := s.readable(); err != nil {
		return err
	}
	s.mu.RLock()
	list := make([]auth.Session, 0, len(s.st.sessions.byID))
	for _, sess := range s.st.sessions.byID {
		list = append(list, cloneSession(*sess))
	}
	s.mu.RUnlock()
	return eachOf(ctx, list, fn)
}
