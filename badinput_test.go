package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestNoServerErrorOnBadInput sends hostile bodies and headers to every
// route, with and without a valid token, and requires a 4xx problem (or a
// success) every time: bad input never yields a 5xx. Each request with a
// valid token gets a session of its own, so that logout-all or a session
// delete among the requests cannot leave the later ones stopped at the
// authentication middleware: every authenticated handler sees every body.
func TestNoServerErrorOnBadInput(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, func(c *config) { c.rateLimits = false })
		owner := env.newClient()
		d := owner.signup("victim", "victim@example.com", "password1")
		sid := claimsOf(t, d.AccessToken)["sid"].(string)
		// Every route of the route list, each path value filled with ids
		// of the victim's own records and with ids that are not ids, plus
		// requests that match no route.
		routes := requestsFor(t, env.app.routeList(), []string{d.User.ID, sid, strings.Repeat("f", 500), "%00"})
		routes = append(routes, []struct{ method, path string }{
			{"PATCH", "/api/users/me"}, {"GET", "/api/../../etc/passwd"}, {"TRACE", "/api/auth/login"},
			// Hostile query strings on the route that reads one.
			{"GET", "/api/users?limit=%zz"}, {"GET", "/api/users?limit=1&limit=2"}, {"GET", "/api/users?limit=-1"},
			{"GET", "/api/users?cursor=" + strings.Repeat("A", 5000)}, {"GET", "/api/users?cursor=%00%ff"},
			{"GET", "/api/users?search=" + strings.Repeat("a", 5000)}, {"GET", "/api/users?search=%24where&search=x"},
			{"GET", "/api/users?search=.*&limit=100"}, {"GET", "/api/users?a;b=c"},
		}...)
		bodies := []string{
			``, `null`, `0`, `"x"`, `[]`, `{`, `{}`, `{"email":{"$ne":null},"password":{"$gt":""}}`,
			`{"username":["a"],"password":1}`, `{"refreshToken":{"a":1}}`, `{"refreshToken":"a.b.c"}`,
			`{"currentPassword":"password1","newPassword":"` + strings.Repeat("p", 100) + `"}`,
			`{"email":"` + strings.Repeat("a", 5000) + `@x.io","password":"` + strings.Repeat("b", 5000) + `"}`,
			"{\"username\":\"\xff\xfe\",\"email\":\"a@b.c\",\"password\":\"password1\"}",
			`{"email":"a@b.c","password":"password1"}{"again":1}`,
			// A card move of the plain shape the web client sends, which the
			// card PATCH reads without encoding/json, and one just outside it
			// (an id in capitals).
			`{"listId":"0123456789abcdef01234567","position":999999999}`,
			`{"listId":"0123456789ABCDEF01234567","position":0}`,
			// Multipart bodies for boundary x: cut short inside a picture,
			// a part with no name, an unknown part, and a whole one.
			"--x\r\nContent-Disposition: form-data; name=\"picture\"; filename=\"../../a.png\"\r\n\r\n\x89PNG\r\n\x1a\n\x00\x00",
			"--x\r\nContent-Type: image/png\r\n\r\nGIF89a\r\n--x--\r\n",
			"--x\r\nContent-Disposition: form-data; name=\"owner\"\r\n\r\nroot\r\n--x--\r\n",
			"--x\r\nContent-Disposition: form-data; name=\"picture\"; filename=\"a.gif\"\r\n\r\nGIF89a\x01\x00\x01\x00\x00\x00\x00;\r\n--x--\r\n",
		}
		const validToken = "(a fresh valid token)"
		headers := [][]string{
			nil,
			{"Authorization", validToken},
			{"Authorization", validToken, "Content-Type", "multipart/form-data; boundary=x"},
			{"Authorization", "Bearer " + strings.Repeat("A", 9000)},
			{"Authorization", "Bearer ..", "Content-Type", "text/plain"},
			{"X-Access-Token", "e30.e30.e30", "Content-Type", "multipart/form-data; boundary=x"},
			{"Cookie", "refresh_token=" + strings.Repeat("%", 100), "Origin", "http://localhost:3000"},
			// A Prefer (RFC 7240, read by the card PATCH) with an open
			// quote, a dangling escape and thousands of empty preferences.
			{"Authorization", validToken, "Prefer", `return="minimal\", ` + strings.Repeat(`;,="\`, 2000)},
		}
		c := env.newClient()
		reached := make(map[string]bool) // routes whose handler answered a valid token with something else than 401
		// The victim's token is replaced by a fresh login (a bcrypt check)
		// only after a request to a route that may end sessions.
		token := ""
		endsSessions := func(method, path string) bool {
			for _, p := range []string{"POST /api/auth/logout-all", "DELETE /api/auth/sessions/", "POST /api/auth/change-password", "DELETE /api/users/"} {
				if strings.HasPrefix(method+" "+path, p) {
					return true
				}
			}
			return false
		}
		for _, rt := range routes {
			for _, body := range bodies {
				for _, h := range headers {
					if len(h) >= 2 && h[1] == validToken {
						if token == "" {
							token = env.newClient().login("email", "victim@example.com", "password1").AccessToken
						}
						h = append([]string{"Authorization", "Bearer " + token}, h[2:]...)
						if endsSessions(rt.method, rt.path) {
							token = ""
						}
					}
					r := c.do(rt.method, rt.path, body, h...)
					if r.StatusCode >= 500 {
						t.Fatalf("%s %s body %.60q headers %.80q: status %d, body %s", rt.method, rt.path, body, h, r.StatusCode, r.body)
					}
					if r.StatusCode >= 400 && r.Header.Get("Content-Type") != "application/problem+json" {
						t.Fatalf("%s %s body %.60q: %d with Content-Type %q", rt.method, rt.path, body, r.StatusCode, r.Header.Get("Content-Type"))
					}
					if len(h) >= 2 && h[0] == "Authorization" && strings.HasPrefix(h[1], "Bearer ey") && r.StatusCode != 401 {
						reached[rt.method+" "+rt.path] = true
					}
				}
			}
		}
		for _, rt := range env.app.routeList() {
			method, path, _ := strings.Cut(rt.pattern, " ")
			if !reached[method+" "+fillWildcards(path, d.User.ID)] && !reached[method+" "+fillWildcards(path, sid)] {
				t.Errorf("%s: no request with a valid token got past authentication", rt.pattern)
			}
		}
		// The victim's account survived all of it.
		env.newClient().login("email", "victim@example.com", "password1")
	})
}

// requestsFor returns a request line for every route in list and every
// value in values put in for its path wildcards ({id}, {userId}, ...), so
// that a test walking it covers each route without listing routes itself.
func requestsFor(t *testing.T, list []route, values []string) []struct{ method, path string } {
	t.Helper()
	var out []struct{ method, path string }
	for _, rt := range list {
		method, path, ok := strings.Cut(rt.pattern, " ")
		if !ok {
			t.Fatalf("route %q has no method", rt.pattern)
		}
		if !strings.Contains(path, "{") {
			out = append(out, struct{ method, path string }{method, path})
			continue
		}
		for _, v := range values {
			out = append(out, struct{ method, path string }{method, fillWildcards(path, v)})
		}
	}
	return out
}

// fillWildcards replaces every {name} in a route pattern's path with v.
// {$}, which only anchors the path's end (GET /{$}), is dropped.
func fillWildcards(path, v string) string {
	var b strings.Builder
	for {
		open := strings.IndexByte(path, '{')
		if open < 0 {
			return b.String() + path
		}
		end := strings.IndexByte(path[open:], '}')
		b.WriteString(path[:open])
		if path[open:open+end+1] != "{$}" {
			b.WriteString(v)
		}
		path = path[open+end+1:]
	}
}

// TestRequestsForCoversEveryRoute checks the helper the hostile-input test
// relies on: every route of the list yields requests that the mux routes
// to that very pattern.
func TestRequestsForCoversEveryRoute(t *testing.T) {
	env := startEnv(t, fileStore, nil)
	list := env.app.routeList()
	mux := http.NewServeMux()
	for _, rt := range list {
		mux.Handle(rt.pattern, http.NotFoundHandler())
	}
	seen := make(map[string]bool)
	for _, req := range requestsFor(t, list, []string{"0123456789abcdef01234567"}) {
		r := httptest.NewRequest(req.method, req.path, nil)
		_, pattern := mux.Handler(r)
		if pattern == "" {
			t.Errorf("%s %s matches no route", req.method, req.path)
		}
		seen[pattern] = true
	}
	for _, rt := range list {
		if !seen[rt.pattern] {
			t.Errorf("route %q gets no request", rt.pattern)
		}
	}
}
