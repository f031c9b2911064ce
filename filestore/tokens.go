package filestore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"corkboard/auth"
)

// tokenKind is the name of one-time token records in changes and snapshots.
const tokenKind = "token"

// tokenTable holds the one-time tokens (reset and verification), by id (the
// token's hash) and by user and purpose, of which there is at most one.
type tokenTable struct {
	byID      map[string]auth.OneTimeToken
	byPurpose map[string]string // userID + " " + purpose → token id
}

func purposeKey(userID, purpose string) string { return userID + " " + purpose }

func (t *tokenTable) kind() string { return tokenKind }

func (t *tokenTable) reset() {
	*t = tokenTable{byID: make(map[string]auth.OneTimeToken), byPurpose: make(map[string]string)}
}

func (t *tokenTable) decode(dec *json.Decoder) (any, string, error) {
	var tok auth.OneTimeToken
	err := dec.Decode(&tok)
	return tok, tok.ID, err
}

// validate checks that the record is a token stored under its own id, and
// holds it to OneTimeToken.Validate.
func (t *tokenTable) validate(id string, rec any) error {
	tok, ok := rec.(auth.OneTimeToken)
	switch {
	case !ok:
		return fmt.Errorf("token change carries a %T", rec)
	case tok.ID != id:
		return fmt.Errorf("token change for id %.8s… carries token %.8s…", id, tok.ID)
	}
	return tok.Validate()
}

func (t *tokenTable) put(rec any) {
	tok := rec.(auth.OneTimeToken)
	t.delete(tok.ID)
	t.byID[tok.ID] = tok
	t.byPurpose[purposeKey(tok.UserID, tok.Purpose)] = tok.ID
}

func (t *tokenTable) delete(id string) {
	old, ok := t.byID[id]
	if !ok {
		return
	}
	delete(t.byID, id)
	if k := purposeKey(old.UserID, old.Purpose); t.byPurpose[k] == id {
		delete(t.byPurpose, k)
	}
}

// check finds two tokens of one user and purpose, which files can hold but
// put cannot index.
func (t *tokenTable) check() error {
	if len(t.byPurpose) != len(t.byID) {
		return fmt.Errorf("two one-time tokens of the same user and purpose")
	}
	return nil
}

func (t *tokenTable) list() []change { return listOf(tokenKind, t.byID) }

// PutToken implements auth.TokenStore: the new token and the deletion of
// the one it supersedes are one batch.
func (s *Store) PutToken(ctx context.Context, tok auth.OneTimeToken) error {
	tok.CreatedAt, tok.ExpiresAt = utc(tok.CreatedAt), utc(tok.ExpiresAt)
	return s.update(ctx, func(st *state) ([]change, error) {
		if _, ok := st.tokens.byID[tok.ID]; ok {
			return nil, fmt.Errorf("filestore: put token: id %.8s… is already used", tok.ID)
		}
		var changes []change
		if old, ok := st.tokens.byPurpose[purposeKey(tok.UserID, tok.Purpose)]; ok {
			changes = append(changes, deleteChange(tokenKind, old))
		}
		return append(changes, putChange(tokenKind, tok.ID, tok)), nil
	})
}

// TakeToken implements auth.TokenStore. The check and the deletion happen
// under one hold of the write lock.
func (s *Store) TakeToken(ctx context.Context, id, purpose string, now time.Time) (auth.OneTimeToken, error) {
	var taken auth.OneTimeToken
	err := s.update(ctx, func(st *state) ([]change, error) {
		tok, ok := st.tokens.byID[id]
		if !ok || tok.Purpose != purpose || !now.Before(tok.ExpiresAt) {
			return nil, auth.ErrTokenNotFound
		}
		taken = tok
		return []change{deleteChange(tokenKind, id)}, nil
	})
	return taken, err
}

// DeleteExpiredTokens implements auth.TokenStore, in one batch.
func (s *Store) DeleteExpiredTokens(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := s.update(ctx, func(st *state) ([]change, error) {
		var changes []change
		for id, tok := range st.tokens.byID {
			if !tok.ExpiresAt.After(now) {
				changes = append(changes, deleteChange(tokenKind, id))
			}
		}
		n = len(changes)
		return changes, nil
	})
	return n, err
}
