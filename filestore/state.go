package filestore

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"corkboard/auth"
	"corkboard/user"
)

// state is everything the store holds, in memory, guarded by Store.mu.
//
// Records are never modified in place: a change replaces a whole record. Slices
// given by callers are cloned before they enter the state and cloned again on
// the way out, so no caller ever holds a slice the state uses.
type state struct {
	users       map[string]user.User
	userByEmail map[string]string // strings.ToLower(email) → user id
	userByName  map[string]string // strings.ToLower(username) → user id

	sessions     map[string]auth.Session
	userSessions map[string]map[string]struct{} // user id → its session ids
}

func newState() state {
	return state{
		users:        make(map[string]user.User),
		userByEmail:  make(map[string]string),
		userByName:   make(map[string]string),
		sessions:     make(map[string]auth.Session),
		userSessions: make(map[string]map[string]struct{}),
	}
}

// applyBatch applies one batch of changes. It is the only way the state
// changes, both for live writes and for replaying the journal, so that what
// a restart rebuilds is exactly what was served. It checks every change
// before applying any, so a bad batch leaves the state as it was.
func (st *state) applyBatch(changes []change) error {
	if len(changes) == 0 {
		return errors.New("empty batch")
	}
	for i, c := range changes {
		if err := c.validate(); err != nil {
			return fmt.Errorf("change %d: %w", i, err)
		}
	}
	for _, c := range changes {
		st.apply(c)
	}
	return nil
}

// apply applies one validated change. Both puts and deletes are idempotent.
func (st *state) apply(c change) {
	switch {
	case c.Put == kindUser:
		st.putUser(*c.User)
	case c.Put == kindSession:
		st.putSession(*c.Session)
	case c.Delete == kindUser:
		st.deleteUser(c.ID)
	case c.Delete == kindSession:
		st.deleteSession(c.ID)
	}
}

func (st *state) putUser(u user.User) {
	st.deleteUser(u.ID) // drops the old index entries, in case they changed
	st.users[u.ID] = u
	st.userByEmail[strings.ToLower(u.Email)] = u.ID
	st.userByName[strings.ToLower(u.Username)] = u.ID
}

func (st *state) deleteUser(id string) {
	old, ok := st.users[id]
	if !ok {
		return
	}
	delete(st.users, id)
	// Only drop an index entry that still points here: a corrupt file with
	// two users sharing an email must not lose the other one's entry
	// before check reports it.
	if k := strings.ToLower(old.Email); st.userByEmail[k] == id {
		delete(st.userByEmail, k)
	}
	if k := strings.ToLower(old.Username); st.userByName[k] == id {
		delete(st.userByName, k)
	}
}

func (st *state) putSession(s auth.Session) {
	st.deleteSession(s.ID) // in case the user id changed
	st.sessions[s.ID] = s
	ids := st.userSessions[s.UserID]
	if ids == nil {
		ids = make(map[string]struct{})
		st.userSessions[s.UserID] = ids
	}
	ids[s.ID] = struct{}{}
}

func (st *state) deleteSession(id string) {
	old, ok := st.sessions[id]
	if !ok {
		return
	}
	delete(st.sessions, id)
	ids := st.userSessions[old.UserID]
	delete(ids, id)
	if len(ids) == 0 {
		delete(st.userSessions, old.UserID)
	}
}

// check verifies that the secondary indexes agree with the records. Apply
// keeps them so for any sequence of valid changes; a mismatch after loading
// means the files hold two users with the same email or username.
func (st *state) check() error {
	for id, u := range st.users {
		if st.userByEmail[strings.ToLower(u.Email)] != id {
			return fmt.Errorf("user %s: email %q is also used by another user", id, u.Email)
		}
		if st.userByName[strings.ToLower(u.Username)] != id {
			return fmt.Errorf("user %s: username %q is also used by another user", id, u.Username)
		}
	}
	if len(st.userByEmail) != len(st.users) || len(st.userByName) != len(st.users) {
		return errors.New("user indexes do not match the users")
	}
	return nil
}

// copyRecords returns every record, for a snapshot that
// is encoded after the lock is released.
func (st *state) copyRecords() snapshot {
	snap := snapshot{
		Version:  snapshotVersion,
		Users:    make([]user.User, 0, len(st.users)),
		Sessions: make([]auth.Session, 0, len(st.sessions)),
	}
	// No cloning: a stored record is never modified in place (every change
	// puts a whole new record, whose slices were cloned on the way in), so
	// plain copies of the structs are a consistent snapshot, and the write
	// lock is held for as short a time as a copy of the maps takes.
	for _, u := range st.users {
		snap.Users = append(snap.Users, u)
	}
	for _, s := range st.sessions {
		snap.Sessions = append(snap.Sessions, s)
	}
	return snap
}

// cloneUser returns u with its slices copied, so the copy shares nothing.
func cloneUser(u user.User) user.User {
	u.Roles = slices.Clone(u.Roles)
	return u
}

// cloneSession returns s with its slices copied, so the copy shares nothing.
func cloneSession(s auth.Session) auth.Session {
	s.Roles = slices.Clone(s.Roles)
	return s
}

// utc drops t's monotonic clock reading and location, so that the state
// holds exactly what a restart reads back from the JSON files.
func utc(t time.Time) time.Time {
	return t.Round(0).UTC()
}
