package user

import (
	"time"

	"corkboard/auth"
)

// View is a user as the API shows it. Email and roles are shown only to the
// user themself and to admins; the password hash never leaves the store.
type View struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Email    string `json:"email,omitempty"`
	// EmailVerified is shown with the email, to the user and to admins.
	EmailVerified *bool     `json:"emailVerified,omitempty"`
	FullName      string    `json:"fullName"`
	Color         string    `json:"color"`
	Roles         []string  `json:"roles,omitempty"`
	PictureURL    string    `json:"pictureURL"`
	CreatedAt     time.Time `json:"createdAt"`
}

// ViewFor returns u as seen by the caller with the given id and roles.
func ViewFor(u User, callerID string, callerRoles []string) View {
	v := View{
		ID:        u.ID,
		Username:  u.Username,
		FullName:  u.FullName,
		Color:     u.Color,
		CreatedAt: u.CreatedAt,
	}
	if u.PictureID != "" {
		v.PictureURL = "/api/files/" + u.PictureID
	}
	if callerID == u.ID || auth.HasRole(callerRoles, auth.RoleAdmin) {
		v.Email = u.Email
		// A copy of its own, not &u.EmailVerified: that would move all of
		// u to the heap, a whole User per answer (/me's path), for a bool.
		verified := u.EmailVerified
		v.EmailVerified = &verified
		v.Roles = u.Roles
	}
	return v
}
