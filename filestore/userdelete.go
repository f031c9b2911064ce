package filestore

import (
	"context"

	"corkboard/auth"
	"corkboard/user"
)

// tokenPurposes are the purposes a one-time token may have
// (auth.OneTimeToken.Validate refuses any other): a user holds at most one
// token of each, found through the table's index by user and purpose, so
// that deleting a user costs the same however many tokens the store holds.
var tokenPurposes = []string{auth.PurposeReset, auth.PurposeVerify}

// DeleteUser implements user.Store. The user, its sessions and its one-time
// tokens are deleted in one batch, one journal line: a crash keeps all of
// them or none, and a restart never finds a session or a token whose user
// is gone. When the user is missing, whatever sessions and tokens are left
// under the id (a login that read the user just before it was deleted may
// have stored one since) are deleted, and ErrNotFound is returned.
func (s *Store) DeleteUser(ctx context.Context, id string) (user.User, error) {
	found := false
	var gone user.User
	err := s.update(ctx, func(st *state) ([]change, error) {
		var changes []change
		if gone, found = st.users.byID[id]; found {
			changes = append(changes, deleteChange(userKind, id))
		}
		for sid := range st.sessions.ofUser(id) {
			changes = append(changes, deleteSession(sid))
		}
		for _, purpose := range tokenPurposes {
			if tid, ok := st.tokens.byPurpose[purposeKey(id, purpose)]; ok {
				changes = append(changes, deleteChange(tokenKind, tid))
			}
		}
		return changes, nil
	})
	switch {
	case err != nil:
		return user.User{}, err
	case !found:
		return user.User{}, user.ErrNotFound
	}
	return cloneUser(gone), nil
}
