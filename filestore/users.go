package filestore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"corkboard/user"
)

// CreateUser implements user.Store.
func (s *Store) CreateUser(ctx context.Context, u user.User) error {
	u = cloneUser(u)
	u.CreatedAt, u.UpdatedAt = utc(u.CreatedAt), utc(u.UpdatedAt)
	return s.update(ctx, func(st *state) ([]change, error) {
		switch {
		case u.ID == "":
			return nil, errors.New("filestore: CreateUser: user without an id")
		case st.users[u.ID].ID != "":
			// Ids are random; a clash is a caller's bug, not a conflict
			// a client can cause.
			return nil, fmt.Errorf("filestore: CreateUser: id %s is already used", u.ID)
		case st.userByEmail[strings.ToLower(u.Email)] != "":
			return nil, user.ErrEmailTaken
		case st.userByName[strings.ToLower(u.Username)] != "":
			return nil, user.ErrUsernameTaken
		}
		return []change{putUser(u)}, nil
	})
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
	return s.userLocked(s.st.userByEmail[strings.ToLower(email)])
}

// UserByUsername implements user.Store.
func (s *Store) UserByUsername(ctx context.Context, username string) (user.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.userLocked(s.st.userByName[strings.ToLower(username)])
}

// userLocked returns a copy of the user with the given id. mu must be held.
func (s *Store) userLocked(id string) (user.User, error) {
	if err := s.failure(); err != nil {
		return user.User{}, err
	}
	u, ok := s.st.users[id]
	if !ok {
		return user.User{}, user.ErrNotFound
	}
	return cloneUser(u), nil
}

// SetPassword implements user.Store.
func (s *Store) SetPassword(ctx context.Context, id, hash string, now time.Time) error {
	return s.changeUser(ctx, id, func(u *user.User) {
		u.PasswordHash = hash
		u.UpdatedAt = utc(now)
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

// changeUser replaces the user with id by edit's change of it, or fails
// with user.ErrNotFound. edit gets a copy and must not keep its slices.
func (s *Store) changeUser(ctx context.Context, id string, edit func(*user.User)) error {
	return s.update(ctx, func(st *state) ([]change, error) {
		u, ok := st.users[id]
		if !ok {
			return nil, user.ErrNotFound
		}
		edit(&u)
		return []change{putUser(u)}, nil
	})
}

// EachUser implements user.Store. It calls fn on copies taken under the
// read lock and released before the first call, so fn may use the store.
func (s *Store) EachUser(ctx context.Context, fn func(user.User) error) error {
	if err := s.failure(); err != nil {
		return err
	}
	s.mu.RLock()
	users := make([]user.User, 0, len(s.st.users))
	for _, u := range s.st.users {
		users = append(users, cloneUser(u))
	}
	s.mu.RUnlock()
	for _, u := range users {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(u); err != nil {
			return err
		}
	}
	return nil
}
