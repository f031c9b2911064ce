package user_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"corkboard/auth"
	"corkboard/user"
)

// TestCursorRoundTrip: a cursor gives back the position it was made from,
// to the nanosecond (the file store keeps nanoseconds), at the ends of the
// years a user's time can hold too.
func TestCursorRoundTrip(t *testing.T) {
	for _, p := range []user.Position{
		{CreatedAt: time.Date(2026, 11, 23, 9, 0, 0, 123_456_789, time.UTC), ID: "0123456789abcdef01234567"},
		{CreatedAt: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), ID: "000000000000000000000000"},
		{CreatedAt: time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC), ID: "ffffffffffffffffffffffff"},
		{CreatedAt: time.Date(1969, 12, 31, 23, 59, 59, 500_000_000, time.UTC), ID: "5f0c3a7e9b1d2c4e6a8b0d1f"},
		{CreatedAt: time.Date(2026, 11, 23, 10, 0, 0, 0, time.FixedZone("CET", 3600)), ID: "0123456789abcdef01234567"},
	} {
		c := user.EncodeCursor(p)
		got, err := user.DecodeCursor(c)
		if err != nil || !got.CreatedAt.Equal(p.CreatedAt) || got.ID != p.ID || got.CreatedAt.Location() != time.UTC {
			t.Errorf("DecodeCursor(EncodeCursor(%v)) = %v, %v; want the same position in UTC", p, got, err)
		}
		for _, r := range c {
			if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_') {
				t.Errorf("cursor %q holds %q, which a URL query would need to escape", c, r)
			}
		}
	}
}

// TestCursorRefused: anything EncodeCursor would not write is refused.
func TestCursorRefused(t *testing.T) {
	valid := user.EncodeCursor(user.Position{CreatedAt: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), ID: "0123456789abcdef01234567"})
	raw := func(version byte, sec uint64, nsec uint32) string {
		b := make([]byte, 25)
		b[0] = version
		for i := range 8 {
			b[1+i] = byte(sec >> (56 - 8*i))
		}
		for i := range 4 {
			b[9+i] = byte(nsec >> (24 - 8*i))
		}
		return encode(b)
	}
	for name, c := range map[string]string{
		"valid, padded":           valid + "==",
		"one character short":     valid[:len(valid)-1],
		"one character more":      valid + "A",
		"standard alphabet":       "+" + valid[1:],
		"unused bits set":         valid[:len(valid)-1] + string(flipLowBits(valid[len(valid)-1])),
		"version 2":               raw(2, 1_800_000_000, 0),
		"version 0":               raw(0, 1_800_000_000, 0),
		"nanoseconds ≥ 1 s":       raw(1, 1_800_000_000, 1_000_000_000),
		"before the year 1":       raw(1, uint64(1<<63), 0),
		"after the year 9999":     raw(1, 253402300800, 0),
		"far future (would wrap)": raw(1, 1<<63-1, 0),
		"the zero time":           raw(1, uint64(time.Time{}.Unix()), 0),
		"spaces":                  "   " + valid[3:],
		"a board id":              "0123456789abcdef01234567",
		"empty JSON":              "e30",
	} {
		if p, err := user.DecodeCursor(c); !errors.Is(err, user.ErrBadCursor) {
			t.Errorf("DecodeCursor(%s: %q) = %v, %v; want ErrBadCursor", name, c, p, err)
		}
	}
	if _, err := user.DecodeCursor(raw(1, 1_800_000_000, 999_999_999)); err != nil {
		t.Errorf("DecodeCursor of a hand-made valid cursor = %v, want nil", err)
	}
}

// encode writes b in base64url without padding, as cursors are, by hand,
// so the test does not share the code it checks.
func encode(b []byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var out strings.Builder
	for i := 0; i < len(b); i += 3 {
		var n uint32
		k := min(3, len(b)-i)
		for j := range 3 {
			n <<= 8
			if j < k {
				n |= uint32(b[i+j])
			}
		}
		for j := range k + 1 {
			out.WriteByte(alphabet[n>>(18-6*j)&63])
		}
	}
	return out.String()
}

// flipLowBits returns the base64url character with the same top two bits
// as c and its low bits set: the last character of a 25-byte cursor
// carries only two bits of data, so this spells the same bytes with its
// unused bits set.
func flipLowBits(c byte) byte {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, c)
	return alphabet[i|0x0f]
}

// TestListRules: the limit and the cursor are validated, both named in one
// answer; a search no username can match is an empty page; pages end with
// an empty NextCursor; views show email and roles to the user themself and
// to admins only.
func TestListRules(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, user.Config{})
	var users []user.User
	for i := range 5 {
		u, _ := f.signup(t, fmt.Sprintf("user%d", i), fmt.Sprintf("user%d@example.com", i), "password1")
		users = append(users, u)
	}
	caller := auth.Principal{UserID: users[0].ID, Roles: []string{auth.RoleUser}}

	for _, in := range []user.ListInput{
		{Limit: "0"}, {Limit: "101"}, {Limit: "x"}, {Limit: "-1"}, {Limit: "+5"}, {Limit: " 5"}, {Limit: "5 "},
		{Limit: "1000"}, {Limit: "0x10"}, {Limit: "1e1"}, {Limit: "٣"}, {Limit: "99999999999999999999"},
	} {
		_, err := f.users.ListUsers(ctx, caller, in)
		var invalid *user.ValidationError
		if !errors.As(err, &invalid) || invalid.Fields["limit"] == "" || len(invalid.Fields) != 1 {
			t.Errorf("ListUsers(limit %q) = %v, want a *ValidationError naming limit only", in.Limit, err)
		}
	}
	_, err := f.users.ListUsers(ctx, caller, user.ListInput{Limit: "0", Cursor: "not-a-cursor"})
	var invalid *user.ValidationError
	if !errors.As(err, &invalid) || invalid.Fields["limit"] == "" || invalid.Fields["cursor"] == "" {
		t.Errorf("ListUsers(bad limit and cursor) = %v, want a *ValidationError naming both", err)
	}

	for _, search := range []string{"a b", "user%", "user.*", `{"$ne":""}`, "ü", "\x00", "\xff", "us\xffer", strings.Repeat("u", 33), "user\n"} {
		page, err := f.users.ListUsers(ctx, caller, user.ListInput{Search: search})
		if err != nil || len(page.Users) != 0 || page.NextCursor != "" || page.Users == nil {
			t.Errorf("ListUsers(search %q) = %#v, %v; want an empty, non-nil list (JSON []), no cursor, no error", search, page, err)
		}
	}
	page, err := f.users.ListUsers(ctx, caller, user.ListInput{Search: strings.Repeat("U", 32)})
	if err != nil || len(page.Users) != 0 {
		t.Errorf("ListUsers(a 32-character search) = %+v, %v; want an empty list", page, err)
	}

	// Two users a page: 2, 2, 1, with a cursor after each full page but
	// the last.
	var seen []string
	in := user.ListInput{Limit: "2", Search: "USER"}
	for i, wantLen := range []int{2, 2, 1} {
		page, err := f.users.ListUsers(ctx, caller, in)
		if err != nil || len(page.Users) != wantLen {
			t.Fatalf("page %d: ListUsers(%+v) = %d users, %v; want %d", i, in, len(page.Users), err, wantLen)
		}
		if (page.NextCursor == "") != (i == 2) {
			t.Errorf("page %d: NextCursor %q; want one on every page but the last", i, page.NextCursor)
		}
		for _, v := range page.Users {
			seen = append(seen, v.ID)
			self := v.ID == caller.UserID
			if (v.Email != "") != self || (v.Roles != nil) != self || (v.EmailVerified != nil) != self {
				t.Errorf("user %s as seen by %s: email %q, roles %v, emailVerified %v; want them only for the caller", v.Username, users[0].Username, v.Email, v.Roles, v.EmailVerified)
			}
		}
		in.Cursor = page.NextCursor
	}
	if len(seen) != 5 || seen[0] == seen[1] {
		t.Errorf("paging visited %v, want the 5 users once each", seen)
	}

	// An admin sees everyone's email and roles.
	admin := auth.Principal{UserID: users[1].ID, Roles: []string{auth.RoleUser, auth.RoleAdmin}}
	page, err = f.users.ListUsers(ctx, admin, user.ListInput{Limit: "100"})
	if err != nil || len(page.Users) != 5 || page.NextCursor != "" {
		t.Fatalf("ListUsers as an admin = %d users, cursor %q, %v; want 5 and no cursor", len(page.Users), page.NextCursor, err)
	}
	for _, v := range page.Users {
		if v.Email == "" || v.Roles == nil {
			t.Errorf("user %s as seen by an admin: email %q, roles %v; want both", v.Username, v.Email, v.Roles)
		}
	}
}
