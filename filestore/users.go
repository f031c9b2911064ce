package filestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"corkboard/auth"
	"corkboard/user"
)

// userKind is the name of user records in changes and snapshots.
const userKind = "user"

// userTable holds the users, by id and by the keys that must be unique.
type userTable struct {
	byID    map[string]user.User
	byEmail map[string]string // strings.ToLower(email) → user id
	byName  map[string]string // strings.ToLower(username) → user id
	order   userOrder         // by age and by username, for ListUsers (userlist.go)
}

func (t *userTable) kind() string { return userKind }

func (t *userTable) reset() {
	*t = userTable{
		byID:    make(map[string]user.User),
		byEmail: make(map[string]string),
		byName:  make(map[string]string),
		order:   newUserOrder(),
	}
}

// reserve makes room for n users in an empty table (see sessionTable).
func (t *userTable) reserve(n int) {
	if len(t.byID) == 0 {
		t.byID = make(map[string]user.User, n)
		t.byEmail = make(map[string]string, n)
		t.byName = make(map[string]string, n)
	}
}

func (t *userTable) decode(dec *json.Decoder) (any, string, error) {
	var u user.User
	err := dec.Decode(&u)
	return u, u.ID, err
}

// validate checks that the record is a user stored under its own id, and
// holds it to User.Validate: the same checks an import passes, so that a
// hand-edited file cannot load (and then export) what an import would
// refuse.
func (t *userTable) validate(id string, rec any) error {
	u, ok := rec.(user.User)
	switch {
	case !ok:
		return fmt.Errorf("user change carries a %T", rec)
	case u.ID != id:
		return fmt.Errorf("user change for id %q carries user %q", id, u.ID)
	}
	return u.Validate()
}

func (t *userTable) put(rec any) { t.add(rec.(user.User)) }

// add is put without the boxing, for loading a snapshot.
func (t *userTable) add(u user.User) {
	t.delete(u.ID) // drops the old index entries, in case they changed
	t.byID[u.ID] = u
	t.byEmail[strings.ToLower(u.Email)] = u.ID
	t.byName[strings.ToLower(u.Username)] = u.ID
	if u.DeletingAt.IsZero() {
		t.order.add(u) // a user being deleted is off the list
	}
}

func (t *userTable) delete(id string) {
	old, ok := t.byID[id]
	if !ok {
		return
	}
	delete(t.byID, id)
	if old.DeletingAt.IsZero() {
		t.order.remove(old)
	}
	// Only drop an index entry that still points here: a corrupt file with
	// two users sharing an email must not lose the other one's entry
	// before check reports it.
	if k := strings.ToLower(old.Email); t.byEmail[k] == id {
		delete(t.byEmail, k)
	}
	if k := strings.ToLower(old.Username); t.byName[k] == id {
		delete(t.byName, k)
	}
}

// check finds two users with the same email or username, which files
// can hold but put cannot index.
func (t *userTable) check() error {
	for id, u := range t.byID {
		if t.byEmail[strings.ToLower(u.Email)] != id {
			return fmt.Errorf("user %s: email %q is also used by another user", id, u.Email)
		}
		if t.byName[strings.ToLower(u.Username)] != id {
			return fmt.Errorf("user %s: username %q is also used by another user", id, u.Username)
		}
	}
	if len(t.byEmail) != len(t.byID) || len(t.byName) != len(t.byID) {
		return errors.New("user indexes do not match the users")
	}
	return nil
}

func (t *userTable) list() []change { return listOf(userKind, t.byID) }

func (t *userTable) copyLater() func() kindRecords {
	return copyLaterOf(userKind, t.byID, func(u *user.User) string { return u.ID })
}

// putUser returns a change that stores u.
func putUser(u user.User) change { return putChange(userKind, u.ID, u) }

// cloneUser returns u with its slices copied, so the copy shares nothing.
func cloneUser(u user.User) user.User {
	u.Roles = slices.Clone(u.Roles)
	return u
}

// CreateUser implements user.Store.
func (s *Store) CreateUser(ctx context.Context, u user.User) error {
	u = cleanUser(u)
	return s.update(ctx, func(st *state) ([]change, error) {
		if err := newUserLocked(st, u); err != nil {
			return nil, err
		}
		return []change{putUser(u)}, nil
	})
}

// CreateAccount implements user.Store: the user and the session are one
// batch, one journal line, so a crash or a failed write keeps both or
// neither.
func (s *Store) CreateAccount(ctx context.Context, u user.User, first auth.Session) error {
	u, first = cleanUser(u), cleanSession(first)
	return s.update(ctx, func(st *state) ([]change, error) {
		if err := newUserLocked(st, u); err != nil {
			return nil, err
		}
		if err := newSessionLocked(st, first); err != nil {
			return nil, err
		}
		return []change{putUser(u), putSession(first)}, nil
	})
}

// cleanUser returns a copy of u that shares no slice with the caller, with
// its times in the form the files give back.
func cleanUser(u user.User) user.User {
	u = cloneUser(u)
	u.CreatedAt, u.UpdatedAt = utc(u.CreatedAt), utc(u.UpdatedAt)
	return u
}

// newUserLocked reports why u cannot be added to st, if it cannot.
func newUserLocked(st *state, u user.User) error {
	switch {
	case u.ID == "":
		return errors.New("filestore: create user: user without an id")
	case st.users.byID[u.ID].ID != "":
		// Ids are random; a clash is a caller's bug, not a conflict
		// a client can cause.
		return fmt.Errorf("filestore: create user: id %s is already used", u.ID)
	case st.users.byEmail[strings.ToLower(u.Email)] != "":
		return user.ErrEmailTaken
	case st.users.byName[strings.ToLower(u.Username)] != "":
		return user.ErrUsernameTaken
	}
	return nil
}

// UserByID implements user.Store.
func (s *Store) UserByID(ctx context.Context, id string) (user.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.userLocked(id)
}

// UserByEmail implements user.Store.
func (s *Store) UserByEmail(ctx context.Context, email string) (user.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.userLocked(s.st.users.byEmail[strings.ToLower(email)])
}

// UserByUsername implements user.Store.
func (s *Store) UserByUsername(ctx context.Context, username string) (user.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.userLocked(s.st.users.byName[strings.ToLower(username)])
}

// userLocked returns a copy of the user with the given id. mu must be held.
func (s *Store) userLocked(id string) (user.User, error) {
	if err := s.readable(); err != nil {
		return user.User{}, err
	}
	u, ok := s.st.liveUser(id)
	if !ok {
		return user.User{}, user.ErrNotFound
	}
	return cloneUser(u), nil
}

// liveUser returns the user with the given id unless there is none or it
// is being deleted (user.Store: such a user is gone to every lookup and
// change). It does not clone. mu must be held.
func (st *state) liveUser(id string) (user.User, bool) {
	u, ok := st.users.byID[id]
	if !ok || !u.DeletingAt.IsZero() {
		return user.User{}, false
	}
	return u, true
}

// SetPassword implements user.Store. The version check and the change
// happen under one hold of the write lock: a true compare-and-swap.
func (s *Store) SetPassword(ctx context.Context, id, hash string, version uint64, now time.Time) error {
	return s.update(ctx, func(st *state) ([]change, error) {
		u, ok := st.liveUser(id)
		switch {
		case !ok:
			return nil, user.ErrNotFound
		case u.CredentialVersion != version:
			return nil, user.ErrPasswordChanged
		}
		u.PasswordHash = hash
		u.CredentialVersion = version + 1
		u.UpdatedAt = utc(now)
		return []change{putUser(u)}, nil
	})
}

// RehashPassword implements user.Store.
func (s *Store) RehashPassword(ctx context.Context, id, old, new string) error {
	return s.update(ctx, func(st *state) ([]change, error) {
		u, ok := st.liveUser(id)
		switch {
		case !ok:
			return nil, user.ErrNotFound
		case u.PasswordHash != old:
			return nil, nil // changed meanwhile: nothing to rehash
		}
		u.PasswordHash = new
		return []change{putUser(u)}, nil
	})
}

// SetProfile implements user.Store. The uniqueness check and the change
// happen under one hold of the write lock.
func (s *Store) SetProfile(ctx context.Context, id, username, fullName, color string, now time.Time) error {
	return s.update(ctx, func(st *state) ([]change, error) {
		u, ok := st.liveUser(id)
		if !ok {
			return nil, user.ErrNotFound
		}
		if other := st.users.byName[strings.ToLower(username)]; other != "" && other != id {
			return nil, user.ErrUsernameTaken
		}
		u.Username, u.FullName, u.Color, u.UpdatedAt = username, fullName, color, utc(now)
		return []change{putUser(u)}, nil
	})
}

// SetEmailVerified implements user.Store.
func (s *Store) SetEmailVerified(ctx context.Context, id string, now time.Time) error {
	return s.update(ctx, func(st *state) ([]change, error) {
		u, ok := st.liveUser(id)
		switch {
		case !ok:
			return nil, user.ErrNotFound
		case u.EmailVerified:
			return nil, nil
		}
		u.EmailVerified = true
		u.UpdatedAt = utc(now)
		return []change{putUser(u)}, nil
	})
}

// SetRoles implements user.Store.
func (s *Store) SetRoles(ctx context.Context, id string, roles []string, now time.Time) error {
	roles = slices.Clone(roles)
	return s.changeUser(ctx, id, func(u *user.User) {
		u.Roles = roles
		u.UpdatedAt = utc(now)
	})
}

// SetPicture implements user.Store: the old id is read and replaced under
// one hold of the write lock.
func (s *Store) SetPicture(ctx context.Context, id, pictureID string, now time.Time) (string, error) {
	var old string
	err := s.update(ctx, func(st *state) ([]change, error) {
		u, ok := st.liveUser(id)
		if !ok {
			return nil, user.ErrNotFound
		}
		old = u.PictureID
		u.PictureID, u.UpdatedAt = pictureID, utc(now)
		return []change{putUser(u)}, nil
	})
	if err != nil {
		return "", err
	}
	return old, nil
}

// changeUser replaces the user with id by edit's change of it, or fails
// with user.ErrNotFound. edit gets a copy and must not keep its slices.
func (s *Store) changeUser(ctx context.Context, id string, edit func(*user.User)) error {
	return s.update(ctx, func(st *state) ([]change, error) {
		u, ok := st.liveUser(id)
		if !ok {
			return nil, user.ErrNotFound
		}
		edit(&u)
		return []change{putUser(u)}, nil
	})
}

// EachUser implements user.Store. It takes the ids of the users under the
// read lock, then copies the users a batch at a time under it (see
// eachUserBatch) and calls fn on each batch's copies with the lock
// released, so fn may use the store. Every user stored all through the
// listing is met once, as it is when its batch is copied, however it is
// changed meanwhile; one created while it runs may or may not be met, one
// deleted or marked for deletion before its batch is not (unless stored
// again by then).
func (s *Store) EachUser(ctx context.Context, fn func(user.User) error) error {
	if err := s.readable(); err != nil {
		return err
	}
	s.mu.RLock()
	gen := s.gen.Load()
	ids := make([]string, 0, len(s.st.users.byID))
	for id := range s.st.users.byID {
		ids = append(ids, id)
	}
	s.mu.RUnlock()
	var taken map[string]bool // made only if the store goes back to its files
	batch := make([]user.User, 0, eachUserBatch)
	for next := 0; ; {
		if err := s.readable(); err != nil {
			return err
		}
		s.mu.RLock()
		if g := s.gen.Load(); g != gen {
			// The store went back to its files (see reload), which
			// undoes the changes not yet durable: a deletion that
			// failed brings back a user whose id was not taken.
			gen = g
			if taken == nil {
				taken = make(map[string]bool, len(ids))
				for _, id := range ids {
					taken[id] = true
				}
			}
			for id := range s.st.users.byID {
				if !taken[id] {
					taken[id] = true
					ids = append(ids, id)
				}
			}
		}
		if next == len(ids) {
			s.mu.RUnlock()
			return nil
		}
		chunk := ids[next:min(next+eachUserBatch, len(ids))]
		next += len(chunk)
		for _, id := range chunk {
			if u, ok := s.st.liveUser(id); ok { // a user being deleted is not exported
				batch = append(batch, cloneUser(u))
			}
		}
		s.mu.RUnlock()
		if err := eachOf(ctx, batch, fn); err != nil {
			return err
		}
		clear(batch)
		batch = batch[:0]
	}
}

// eachUserBatch is how many users EachUser copies under one hold of the
// read lock. Copying all of them at once held it for 0.1 s at 100,000
// users, as long as every write waited, whenever the periodic sweep
// gathered the files records point at; and it made a copy of every user.
// The users are looked up by id, not met by ranging over the map between
// holds of the lock: an update puts a user into the map anew, and an entry
// added while a map is ranged over may be met or not, so a user updated
// meanwhile could be missed or met twice (a missed user's picture would
// then be swept as an orphan).
const eachUserBatch = 256

// MarkDeleting implements user.Store: one journal batch sets the mark.
func (s *Store) MarkDeleting(ctx context.Context, id string, now time.Time) (user.User, error) {
	var marked user.User
	err := s.update(ctx, func(st *state) ([]change, error) {
		u, ok := st.users.byID[id]
		switch {
		case !ok:
			return nil, user.ErrNotFound
		case !u.DeletingAt.IsZero():
			marked = u // marked already: keep the first mark
			return nil, nil
		}
		u.DeletingAt = utc(now)
		marked = u
		return []change{putUser(u)}, nil
	})
	if err != nil {
		return user.User{}, err
	}
	return cloneUser(marked), nil
}

// UsersBeingDeleted implements user.Store. It looks at every user: it
// runs at start and in the periodic sweep, not per request.
func (s *Store) UsersBeingDeleted(ctx context.Context) ([]user.User, error) {
	if err := s.failure(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var marked []user.User
	for _, u := range s.st.users.byID {
		if !u.DeletingAt.IsZero() {
			marked = append(marked, cloneUser(u))
		}
	}
	return marked, nil
}
