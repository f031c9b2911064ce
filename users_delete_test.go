package main

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"strings"
	"testing"

	"corkboard/objectid"
	"corkboard/user"
)

// TestDeleteAccount: a user deletes their own account with the password;
// every token of it dies, the login with it, and the email and username
// sign up again as a new account that the old tokens do not open. A wrong
// password, a body that is not one, or someone else's account changes
// nothing.
func TestDeleteAccount(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, nil)
		alice := env.newClient()
		a := alice.signup("alice", "alice@example.com", "password1")
		phone := env.newClient()
		phone.login("username", "alice", "password1")
		bob := env.newClient()
		b := bob.signup("bob", "bob@example.com", "password1")
		self := "/api/users/" + a.User.ID

		alice.do("DELETE", self, map[string]string{"currentPassword": "password2"}).wantProblem(t, 401, "invalid_credentials")
		alice.do("DELETE", self, nil).wantProblem(t, 401, "invalid_credentials")
		alice.do("DELETE", self, `{}`).wantProblem(t, 401, "invalid_credentials")
		alice.do("DELETE", self, `{"currentPassword":"password1","extra":1}`).wantProblem(t, 422, "validation_failed")
		alice.do("DELETE", self, `{"currentPassword":{"$ne":null}}`).wantProblem(t, 422, "validation_failed")
		alice.do("DELETE", self, `{"currentPassword":"password1"`).wantProblem(t, 400, "malformed_json")
		alice.do("DELETE", self, `{"currentPassword":"password1"}`, "Content-Type", "text/plain").wantProblem(t, 415, "unsupported_media_type")
		alice.do("DELETE", "/api/users/"+b.User.ID, map[string]string{"currentPassword": "password1"}).wantProblem(t, 403, "forbidden")
		alice.do("DELETE", "/api/users/"+b.User.ID, nil).wantProblem(t, 403, "forbidden")
		// Nothing changed.
		for _, c := range []*client{alice, phone, bob} {
			c.do("GET", "/api/users/me", nil).want(t, 200)
		}
		phone.refresh(t)

		oldCookie, phoneCookie := alice.refreshCookie(), phone.refreshCookie()
		if oldCookie == "" || phoneCookie == "" {
			t.Fatal("alice's browser or phone holds no refresh cookie")
		}
		r := alice.do("DELETE", self, map[string]string{"currentPassword": "password1"}).want(t, 204)
		if len(r.body) != 0 {
			t.Errorf("DELETE answered 204 with a body: %q", r.body)
		}
		if alice.refreshCookie() != "" {
			t.Error("after deleting their account, the browser still holds the refresh cookie")
		}
		for _, c := range []*client{alice, phone} {
			c.do("GET", "/api/users/me", nil).wantProblem(t, 401, "session_revoked")
		}
		phone.do("POST", "/api/auth/refresh", nil).wantProblem(t, 401, "session_revoked")
		alice.refreshBody(oldCookie).wantProblem(t, 401, "session_revoked")
		env.newClient().do("POST", "/api/auth/login", map[string]string{"email": "alice@example.com", "password": "password1"}).
			wantProblem(t, 401, "invalid_credentials")
		bob.do("GET", "/api/users/"+a.User.ID, nil).wantProblem(t, 404, "not_found")
		bob.do("GET", "/api/users/me", nil).want(t, 200)

		// The email and username sign up again: a new account, with a new
		// id, which none of the old tokens or cookies opens.
		again := env.newClient().signup("alice", "alice@example.com", "password1")
		if again.User.ID == a.User.ID {
			t.Fatalf("the new account has the deleted account's id %s", a.User.ID)
		}
		for _, c := range []*client{alice, phone} {
			c.do("GET", "/api/users/me", nil).wantProblem(t, 401, "session_revoked")
		}
		for _, token := range []string{oldCookie, phoneCookie} {
			env.newClient().refreshBody(token).wantProblem(t, 401, "session_revoked")
		}
		// The phone's device cookie was for the old id: it is no device
		// cookie of the new account, whose login works as for anyone.
		phone.login("username", "alice", "password1")
		if sub := claimsOf(t, phone.token)["sub"]; sub != again.User.ID {
			t.Errorf("logging in as alice now opens account %v, want the new one %s", sub, again.User.ID)
		}
	})
}

// TestAdminDeletesAccount: an admin deletes someone else with no body; the
// admin's own session and cookie are untouched; a missing or malformed id
// is a 404; an admin deleting themself needs the password.
func TestAdminDeletesAccount(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env, sink := mailEnv(t, o, nil)
		bob := env.newClient()
		b := bob.signup("bob", "bob@example.com", "password1")
		root := env.admin(sink)
		var me struct{ User userDoc }
		root.do("GET", "/api/users/me", nil).want(t, 200).json(t, &me)

		root.do("DELETE", "/api/users/"+objectid.New(env.clock.Now()), nil).wantProblem(t, 404, "not_found")
		for _, id := range []string{"nope", strings.ToUpper(b.User.ID), b.User.ID + "0", "%20"} {
			root.do("DELETE", "/api/users/"+id, nil).wantProblem(t, 404, "not_found")
		}
		root.do("DELETE", "/api/users/"+me.User.ID, nil).wantProblem(t, 401, "invalid_credentials")

		cookie := root.refreshCookie()
		r := root.do("DELETE", "/api/users/"+b.User.ID, nil).want(t, 204)
		if sc := r.Header.Values("Set-Cookie"); len(sc) != 0 {
			t.Errorf("an admin deleting someone else got Set-Cookie %q, want none", sc)
		}
		if root.refreshCookie() != cookie {
			t.Error("an admin deleting someone else lost their own refresh cookie")
		}
		bob.do("GET", "/api/users/me", nil).wantProblem(t, 401, "session_revoked")
		bob.do("POST", "/api/auth/refresh", nil).wantProblem(t, 401, "session_revoked")
		root.do("GET", "/api/users/me", nil).want(t, 200)
		root.do("DELETE", "/api/users/"+b.User.ID, `{}`).wantProblem(t, 404, "not_found")

		root.do("DELETE", "/api/users/"+me.User.ID, map[string]string{"currentPassword": "password1"}).want(t, 204)
		root.do("GET", "/api/users/me", nil).wantProblem(t, 401, "session_revoked")
	})
}

// TestDeleteAccountLimit: wrong passwords at deletion are limited like
// change-password's, per account.
func TestDeleteAccountLimit(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, nil)
		carol := env.newClient()
		c := carol.signup("carol", "carol@example.com", "password1")
		self := "/api/users/" + c.User.ID
		for range 10 {
			carol.do("DELETE", self, map[string]string{"currentPassword": "wrong password"}).wantProblem(t, 401, "invalid_credentials")
		}
		r := carol.do("DELETE", self, map[string]string{"currentPassword": "password1"})
		r.wantProblem(t, 429, "rate_limited")
		if r.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
		carol.do("GET", "/api/users/me", nil).want(t, 200)
		env.newClient().login("username", "carol", "password1")
	})
}

// TestDeleteAccountPicture: the account's picture goes with it, whether
// the user or an admin deletes it; other pictures stay.
func TestDeleteAccountPicture(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env, sink := mailEnv(t, o, nil)
		root := env.admin(sink)
		pictureOf := func(c *client, id string, seed uint64) string {
			t.Helper()
			r := c.upload("PUT", "/api/users/"+id+"/picture", part{name: "picture", filename: "p.png", data: testImage(t, "png", 8, 8, seed)})
			var got struct{ User userDoc }
			r.want(t, http.StatusOK).json(t, &got)
			fileID := strings.TrimPrefix(got.User.PictureURL, "/api/files/")
			if !objectid.Valid(fileID) {
				t.Fatalf("pictureURL %q names no file", got.User.PictureURL)
			}
			return fileID
		}
		dave, erin, frank := env.newClient(), env.newClient(), env.newClient()
		d := dave.signup("dave", "dave@example.com", "password1")
		e := erin.signup("erin", "erin@example.com", "password1")
		f := frank.signup("frank", "frank@example.com", "password1")
		daves, erins, franks := pictureOf(dave, d.User.ID, 1), pictureOf(erin, e.User.ID, 2), pictureOf(frank, f.User.ID, 3)

		dave.do("DELETE", "/api/users/"+d.User.ID, map[string]string{"currentPassword": "password1"}).want(t, http.StatusNoContent)
		root.do("DELETE", "/api/users/"+e.User.ID, nil).want(t, http.StatusNoContent)
		ctx := context.Background()
		for _, id := range []string{daves, erins} {
			getFile(t, env, "/api/files/"+id).want(t, http.StatusNotFound)
			if _, err := env.app.store.OpenFile(ctx, user.PictureBucket, id); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("OpenFile(a deleted user's picture %s) = %v, want fs.ErrNotExist", id, err)
			}
		}
		getFile(t, env, "/api/files/"+franks).want(t, http.StatusOK)
		if got := storedFiles(t, env, user.PictureBucket); len(got) != 1 || got[0] != franks {
			t.Errorf("stored pictures after two deletions: %q, want only frank's %s", got, franks)
		}
	})
}
