package main

import (
	"strings"
	"testing"
)

// TestNoServerErrorOnBadInput sends hostile bodies and headers to every
// route, with and without a valid token, and requires a 4xx problem (or a
// success) every time: bad input never yields a 5xx.
func TestNoServerErrorOnBadInput(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, func(c *config) { c.rateLimits = false })
		owner := env.newClient()
		d := owner.signup("victim", "victim@example.com", "password1")
		routes := []struct{ method, path string }{
			{"POST", "/api/auth/signup"}, {"POST", "/api/auth/login"}, {"POST", "/api/auth/refresh"},
			{"POST", "/api/auth/logout"}, {"POST", "/api/auth/logout-all"}, {"GET", "/api/auth/sessions"},
			{"DELETE", "/api/auth/sessions/" + d.User.ID}, {"DELETE", "/api/auth/sessions/%00"},
			{"POST", "/api/auth/change-password"}, {"GET", "/api/users/me"}, {"GET", "/api/users/" + d.User.ID},
			{"GET", "/api/users/" + strings.Repeat("f", 500)}, {"GET", "/api/test/mod"}, {"GET", "/api/test/admin"},
			{"PATCH", "/api/users/me"}, {"GET", "/api/../../etc/passwd"}, {"TRACE", "/api/auth/login"},
		}
		bodies := []string{
			``, `null`, `0`, `"x"`, `[]`, `{`, `{}`, `{"email":{"$ne":null},"password":{"$gt":""}}`,
			`{"username":["a"],"password":1}`, `{"refreshToken":{"a":1}}`, `{"refreshToken":"a.b.c"}`,
			`{"currentPassword":"password1","newPassword":"` + strings.Repeat("p", 100) + `"}`,
			`{"email":"` + strings.Repeat("a", 5000) + `@x.io","password":"` + strings.Repeat("b", 5000) + `"}`,
			"{\"username\":\"\xff\xfe\",\"email\":\"a@b.c\",\"password\":\"password1\"}",
			`{"email":"a@b.c","password":"password1"}{"again":1}`,
		}
		headers := [][]string{
			nil,
			{"Authorization", "Bearer " + d.AccessToken},
			{"Authorization", "Bearer " + strings.Repeat("A", 9000)},
			{"Authorization", "Bearer ..", "Content-Type", "text/plain"},
			{"X-Access-Token", "e30.e30.e30", "Content-Type", "multipart/form-data; boundary=x"},
			{"Cookie", "refresh_token=" + strings.Repeat("%", 100), "Origin", "http://localhost:3000"},
		}
		c := env.newClient()
		for _, rt := range routes {
			for _, body := range bodies {
				for _, h := range headers {
					r := c.do(rt.method, rt.path, body, h...)
					if r.StatusCode >= 500 {
						t.Fatalf("%s %s body %.60q headers %.80q: status %d, body %s", rt.method, rt.path, body, h, r.StatusCode, r.body)
					}
					if r.StatusCode >= 400 && r.Header.Get("Content-Type") != "application/problem+json" {
						t.Fatalf("%s %s body %.60q: %d with Content-Type %q", rt.method, rt.path, body, r.StatusCode, r.Header.Get("Content-Type"))
					}
				}
			}
		}
		// The victim's account survived all of it (its sessions may not:
		// logout-all with its valid token is among the requests).
		env.newClient().login("email", "victim@example.com", "password1")
	})
}
