package board

import (
	"slices"

	"corkboard/objectid"
)

// Membership. These methods keep the board's own rules (the owner stays,
// nobody is both invited and a member, only members have favourites); who
// may call them (the owner removes others, a member only themself) is the
// service's to check, with IsOwner and IsMember.

// IsMember reports whether userID is a member of the board.
func (b Board) IsMember(userID string) bool { return slices.Contains(b.Members, userID) }

// IsOwner reports whether userID owns the board.
func (b Board) IsOwner(userID string) bool { return userID != "" && userID == b.OwnerID }

// IsInvited reports whether userID has a pending invitation to the board.
func (b Board) IsInvited(userID string) bool { return slices.Contains(b.Invited, userID) }

// IsFavourite reports whether userID marked the board a favourite.
func (b Board) IsFavourite(userID string) bool { return slices.Contains(b.FavouritedBy, userID) }

// AddMember makes userID a member, and drops a pending invitation of
// theirs. It fails with ErrAlreadyMember, or a *LimitError when the board
// is full.
func (b *Board) AddMember(userID string) error {
	if !objectid.Valid(userID) {
		return invalidField("userId", msgBadID)
	}
	if b.IsMember(userID) {
		return ErrAlreadyMember
	}
	if len(b.Members) >= MaxMembers {
		return &LimitError{"membersPerBoard", MaxMembers}
	}
	b.Members = append(b.Members, userID)
	b.Invited = remove(b.Invited, userID)
	return nil
}

// RemoveMember takes userID off the board, with their favourite: the owner
// leaves or removes a member. The owner cannot be removed
// (ErrOwnerCannotLeave); someone who is not a member is ErrNotMember.
func (b *Board) RemoveMember(userID string) error {
	if b.IsOwner(userID) {
		return ErrOwnerCannotLeave
	}
	if !b.IsMember(userID) {
		return ErrNotMember
	}
	b.Members = remove(b.Members, userID)
	b.FavouritedBy = remove(b.FavouritedBy, userID)
	return nil
}

// Invite records a pending invitation of inviteeID by inviterID, who must
// be a member (ErrNotMember). Inviting oneself is ErrInviteSelf; inviting
// a member ErrAlreadyMember; inviting twice ErrAlreadyInvited. A board
// whose members or invitations are full refuses with a *LimitError: an
// invitation that could not be accepted is not sent.
func (b *Board) Invite(inviterID, inviteeID string) error {
	if inviterID == inviteeID {
		return ErrInviteSelf
	}
	if !b.IsMember(inviterID) {
		return ErrNotMember
	}
	if !objectid.Valid(inviteeID) {
		return invalidField("userId", msgBadID)
	}
	switch {
	case b.IsMember(inviteeID):
		return ErrAlreadyMember
	case b.IsInvited(inviteeID):
		return ErrAlreadyInvited
	case len(b.Members) >= MaxMembers:
		return &LimitError{"membersPerBoard", MaxMembers}
	case len(b.Invited) >= MaxInvites:
		return &LimitError{"invitesPerBoard", MaxInvites}
	}
	b.Invited = append(b.Invited, inviteeID)
	return nil
}

// AcceptInvite turns userID's pending invitation into membership. Without
// one it is ErrNotInvited. When the board filled up since the invitation,
// it is a *LimitError and the invitation stays, to be accepted later.
func (b *Board) AcceptInvite(userID string) error {
	if !b.IsInvited(userID) {
		return ErrNotInvited
	}
	if len(b.Members) >= MaxMembers {
		return &LimitError{"membersPerBoard", MaxMembers}
	}
	b.Invited = remove(b.Invited, userID)
	b.Members = append(b.Members, userID)
	return nil
}

// DropInvite removes userID's pending invitation: it was declined, or the
// user is gone. Without one it is ErrNotInvited.
func (b *Board) DropInvite(userID string) error {
	if !b.IsInvited(userID) {
		return ErrNotInvited
	}
	b.Invited = remove(b.Invited, userID)
	return nil
}

// SetFavourite marks the board a favourite of userID, a member
// (ErrNotMember otherwise), or unmarks it. It is a set, not a toggle:
// sending the same value twice leaves it so, and a retried request does
// not undo itself.
func (b *Board) SetFavourite(userID string, favourite bool) error {
	if !b.IsMember(userID) {
		return ErrNotMember
	}
	switch {
	case favourite && !b.IsFavourite(userID):
		b.FavouritedBy = append(b.FavouritedBy, userID)
	case !favourite:
		b.FavouritedBy = remove(b.FavouritedBy, userID)
	}
	return nil
}

// remove returns ids without id.
func remove(ids []string, id string) []string {
	return slices.DeleteFunc(ids, func(x string) bool { return x == id })
}
