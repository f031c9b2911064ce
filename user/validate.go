package user

import (
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"unicode/utf8"

	"corkboard/auth"
	"corkboard/objectid"
)

// Field limits (API.md §3).
const (
	minUsername = 3
	maxUsername = 32
	maxFullName = 100
	maxColor    = 32
	maxEmail    = 254 // RFC 5321's limit on a forward path
)

// NormalizeEmail trims and lower-cases an email address. Addresses are
// stored and compared in this form.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// checkEmail returns why email (already normalized) is not acceptable, or "".
func checkEmail(email string) string {
	if email == "" {
		return "is required"
	}
	if len(email) > maxEmail {
		return "must be at most 254 characters"
	}
	// A plain address only: net/mail would also accept `Name <a@b>`, which
	// round-trips to a different string.
	a, err := mail.ParseAddress(email)
	if err != nil || a.Name != "" || a.Address != email {
		return "must be a plain email address like name@example.com"
	}
	return ""
}

// checkUsername returns why username is not acceptable, or "".
func checkUsername(username string) string {
	if username == "" {
		return "is required"
	}
	if len(username) < minUsername || len(username) > maxUsername {
		return "must be 3 to 32 characters"
	}
	if !usernameChars(username) {
		return "may contain only letters, digits, '_', '.' and '-'"
	}
	return ""
}

// usernameChars reports whether s holds only characters a username may
// hold: ASCII letters, digits, '_', '.' and '-'.
func usernameChars(s string) bool {
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// checkPassword returns why a new password is not acceptable, or "". The
// limits are in bytes: bcrypt reads bytes, and ignores all after the 72nd.
func checkPassword(password string) string {
	switch {
	case password == "":
		return "is required"
	case len(password) < auth.MinPasswordBytes:
		return "must be at least 8 bytes"
	case len(password) > auth.MaxPasswordBytes:
		return "must be at most 72 bytes"
	}
	return ""
}

// checkText returns why an optional free-text field is not acceptable, or "".
func checkText(s string, maxRunes int) string {
	if !utf8.ValidString(s) {
		return "must be valid UTF-8"
	}
	if utf8.RuneCountInString(s) > maxRunes {
		return fmt.Sprintf("must be at most %d characters", maxRunes)
	}
	return ""
}

// Validate reports whether u is a well-formed stored user: the checks a
// record from outside (an import) must pass before it is stored, so that
// both stores only ever hold what sign-up could have written.
func (u User) Validate() error {
	bad := func(field, msg string) error { return fmt.Errorf("user %q: %s %s", u.ID, field, msg) }
	switch {
	case !objectid.Valid(u.ID):
		return bad("id", "is not a 24-hex id")
	case u.PictureID != "" && !objectid.Valid(u.PictureID):
		return bad("pictureId", "is not a 24-hex id")
	case u.Email != NormalizeEmail(u.Email):
		return bad("email", "is not trimmed and lower-cased")
	case !strings.HasPrefix(u.PasswordHash, "$2"):
		return bad("passwordHash", "is not a bcrypt hash")
	case !auth.StorableTime(u.CreatedAt, false) || !auth.StorableTime(u.UpdatedAt, false):
		return bad("createdAt/updatedAt", "must be set, within years 1-9999 UTC")
	case !auth.StorableTime(u.DeletingAt, true):
		return bad("deletingAt", "must be within years 1-9999 UTC")
	}
	for field, msg := range map[string]string{
		"username": checkUsername(u.Username),
		"email":    checkEmail(u.Email),
		"fullName": checkText(u.FullName, maxFullName),
		"color":    checkText(u.Color, maxColor),
	} {
		if msg != "" {
			return bad(field, msg)
		}
	}
	for _, r := range u.Roles {
		if !auth.KnownRole(r) {
			return bad("roles", "holds unknown role "+strconv.Quote(r))
		}
	}
	return nil
}
