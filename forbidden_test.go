package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestOthersGetForbidden calls every route that changes a user, found in
// the route list, on alice's id as bob, with a body that would be accepted
// from alice or an admin: each must answer 403 forbidden and change
// nothing.
func TestOthersGetForbidden(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, func(c *config) { c.rateLimits = false })
		alice := env.newClient()
		a := alice.signup("alice", "alice@example.com", "password1")
		bob := env.newClient()
		bob.signup("bob", "bob@example.com", "password1")
		png := testImage(t, "png", 8, 8, 1)
		// A body each route would take from someone allowed.
		bodies := map[string]func() *response{
			"PATCH /api/users/{id}": func() *response {
				return bob.do("PATCH", "/api/users/"+a.User.ID, map[string]string{"fullName": "Bob Was Here"})
			},
			"PUT /api/users/{id}/roles": func() *response {
				return bob.do("PUT", "/api/users/"+a.User.ID+"/roles", map[string][]string{"roles": {"user", "admin"}})
			},
			"PUT /api/users/{id}/picture": func() *response {
				return bob.upload("PUT", "/api/users/"+a.User.ID+"/picture", part{name: "picture", filename: "p.png", data: png})
			},
			"DELETE /api/users/{id}/picture": func() *response {
				return bob.do("DELETE", "/api/users/"+a.User.ID+"/picture", nil)
			},
			"DELETE /api/users/{id}": func() *response {
				return bob.do("DELETE", "/api/users/"+a.User.ID, map[string]string{"currentPassword": "password1"})
			},
		}
		var before struct{ User userDoc }
		alice.do("GET", "/api/users/me", nil).want(t, http.StatusOK).json(t, &before)
		for _, rt := range env.app.routeList() {
			method, path, _ := strings.Cut(rt.pattern, " ")
			if method == "GET" || !strings.HasPrefix(path, "/api/users/{id}") {
				continue
			}
			call, ok := bodies[rt.pattern]
			if !ok {
				t.Errorf("%s changes a user but this test has no request for it", rt.pattern)
				continue
			}
			call().wantProblem(t, http.StatusForbidden, "forbidden")
		}
		// An id that is not an id is nobody's: 404 for everyone, before
		// any question of who may.
		for _, rt := range env.app.routeList() {
			method, path, _ := strings.Cut(rt.pattern, " ")
			if method == "GET" || !strings.HasPrefix(path, "/api/users/{id}") {
				continue
			}
			for _, id := range []string{"nothex", "ABCDEF0123456789ABCDEF01", strings.Repeat("0", 25)} {
				bob.do(method, fillWildcards(path, id), "{}").wantProblem(t, http.StatusNotFound, "not_found")
			}
		}
		var after struct{ User userDoc }
		alice.do("GET", "/api/users/me", nil).want(t, http.StatusOK).json(t, &after)
		if !sameUser(after.User, before.User) || after.User.PictureURL != before.User.PictureURL {
			t.Errorf("alice after bob's calls: %+v, want %+v", after.User, before.User)
		}
	})
}
