package main

// The abuse list: what an attacker on the Internet would try first, each
// as an end-to-end test on both stores. README "Security" links here.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// forgeToken signs header and claims (JSON texts, used as they are) with
// secret, the way an attacker who knew a secret, or corkboard itself,
// would.
func forgeToken(secret []byte, header, claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	signed := enc([]byte(header)) + "." + enc([]byte(claims))
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(signed))
	return signed + "." + enc(mac.Sum(nil))
}

// claimsJSON returns the claims of token with the changes in kv (name,
// value pairs; a nil value removes the claim), as JSON.
func claimsJSON(t *testing.T, token string, kv ...any) string {
	t.Helper()
	m := claimsOf(t, token)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(m, kv[i].(string))
		} else {
			m[kv[i].(string)] = kv[i+1]
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestJWTAttacks presents every classic forgery of an access token to an
// authenticated route: each is a 401 with its code and the RFC 6750
// challenge. The ones signed with the real access secret show the rules
// that hold even for a token whose signature is good: roles in a token
// are never believed, and a token is only as alive as its session and
// its account.
func TestJWTAttacks(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, func(c *config) { c.rateLimits = false })
		alice := env.newClient()
		a := alice.signupForBody("alice")
		bob := env.newClient()
		b := bob.signup("bob", "bob@example.com", "password1")
		access, refresh := env.app.cfg.accessSecret, env.app.cfg.refreshSecret
		tok := a.AccessToken
		std := `{"alg":"HS256","typ":"JWT"}`
		now := env.clock.Now().Unix()
		h64, p64, s64 := func() (string, string, string) {
			s := strings.Split(tok, ".")
			return s[0], s[1], s[2]
		}()
		enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
		mine := claimsJSON(t, tok)

		const (
			invalid = `Bearer realm="corkboard", error="invalid_token", error_description="access token invalid"`
			expired = `Bearer realm="corkboard", error="invalid_token", error_description="access token expired"`
			revoked = `Bearer realm="corkboard", error="invalid_token", error_description="session revoked"`
		)
		cases := []struct {
			name, token, code, challenge string
		}{
			{"alg none, signed", forgeToken(access, `{"alg":"none","typ":"JWT"}`, mine), "invalid_token", invalid},
			{"alg none, no signature", enc(`{"alg":"none","typ":"JWT"}`) + "." + p64 + ".", "invalid_token", invalid},
			{"alg none, two segments", enc(`{"alg":"none"}`) + "." + p64, "invalid_token", invalid},
			{"alg HS512", forgeToken(access, `{"alg":"HS512","typ":"JWT"}`, mine), "invalid_token", invalid},
			{"alg RS256", forgeToken(access, `{"alg":"RS256","typ":"JWT"}`, mine), "invalid_token", invalid},
			{"alg hs256", forgeToken(access, `{"alg":"hs256","typ":"JWT"}`, mine), "invalid_token", invalid},
			{"typ JWS", forgeToken(access, `{"alg":"HS256","typ":"JWS"}`, mine), "invalid_token", invalid},
			{"typ at+jwt", forgeToken(access, `{"alg":"HS256","typ":"at+jwt"}`, mine), "invalid_token", invalid},
			{"kid", forgeToken(access, `{"alg":"HS256","typ":"JWT","kid":"../../dev/null"}`, mine), "invalid_token", invalid},
			{"jku", forgeToken(access, `{"alg":"HS256","jku":"https://evil.example/jwks.json"}`, mine), "invalid_token", invalid},
			{"x5u", forgeToken(access, `{"alg":"HS256","x5u":"https://evil.example/cert.pem"}`, mine), "invalid_token", invalid},
			{"jwk embedded", forgeToken(access, `{"alg":"HS256","jwk":{"kty":"oct","k":"AAAA"}}`, mine), "invalid_token", invalid},
			{"alg twice in the header", forgeToken(access, `{"alg":"none","alg":"HS256"}`, mine), "invalid_token", invalid},
			{"signed with the refresh secret", forgeToken(refresh, std, mine), "invalid_token", invalid},
			{"the refresh token itself", a.RefreshToken, "invalid_token", invalid},
			{"the refresh token, token_use dropped, original signature", strings.Split(a.RefreshToken, ".")[0] + "." +
				enc(claimsJSON(t, a.RefreshToken, "token_use", nil, "gen", nil)) + "." + strings.Split(a.RefreshToken, ".")[2], "invalid_token", invalid},
			{"signature stripped", h64 + "." + p64 + ".", "invalid_token", invalid},
			{"signature of another token", h64 + "." + p64 + "." + strings.Split(b.AccessToken, ".")[2], "invalid_token", invalid},
			{"signature with padding", tok + "=", "invalid_token", invalid},
			{"empty secret", forgeToken([]byte{0}, std, mine), "invalid_token", invalid},
			{"roles tampered, original signature", h64 + "." + enc(claimsJSON(t, tok, "roles", []string{"user", "admin"})) + "." + s64, "invalid_token", invalid},
			{"sub tampered, original signature", h64 + "." + enc(claimsJSON(t, tok, "sub", b.User.ID)) + "." + s64, "invalid_token", invalid},
			{"sid tampered, original signature", h64 + "." + enc(claimsJSON(t, tok, "sid", claimsOf(t, b.AccessToken)["sid"])) + "." + s64, "invalid_token", invalid},
			{"sub twice in the claims, original signature", h64 + "." + enc(mine[:len(mine)-1]+`,"sub":"`+b.User.ID+`"}`) + "." + s64, "invalid_token", invalid},
			{"wrong iss", forgeToken(access, std, claimsJSON(t, tok, "iss", "corkboard.evil")), "invalid_token", invalid},
			{"no iss", forgeToken(access, std, claimsJSON(t, tok, "iss", nil)), "invalid_token", invalid},
			{"iat an hour ahead", forgeToken(access, std, claimsJSON(t, tok, "iat", now+3600, "exp", now+7200)), "invalid_token", invalid},
			{"nbf an hour ahead", forgeToken(access, std, claimsJSON(t, tok, "nbf", now+3600)), "invalid_token", invalid},
			{"no exp", forgeToken(access, std, claimsJSON(t, tok, "exp", nil)), "invalid_token", invalid},
			{"token_use refresh", forgeToken(access, std, claimsJSON(t, tok, "token_use", "refresh")), "invalid_token", invalid},
			{"9 KiB", forgeToken(access, std, claimsJSON(t, tok, "pad", strings.Repeat("x", 9<<10))), "invalid_token", invalid},
			{"48 KiB of dots", strings.Repeat(".", 48<<10), "invalid_token", invalid},
			{"expired", forgeToken(access, std, claimsJSON(t, tok, "exp", now-1)), "token_expired", expired},
			{"expired, tampered", h64 + "." + enc(claimsJSON(t, tok, "exp", now-1)) + "." + s64, "invalid_token", invalid},
			// Signed with the real secret: only the server can make these,
			// and they still name a session that must be alive and belong
			// to the subject.
			{"well signed, another user's sub on my session", forgeToken(access, std, claimsJSON(t, tok, "sub", b.User.ID)), "session_revoked", revoked},
			{"well signed, a session that never was", forgeToken(access, std, claimsJSON(t, tok, "sid", "0123456789abcdef01234567")), "session_revoked", revoked},
			{"well signed, a sid that is not an id", forgeToken(access, std, claimsJSON(t, tok, "sid", `{"$ne":null}`)), "session_revoked", revoked},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				for _, header := range []string{"Authorization", "X-Access-Token"} {
					value := tc.token
					if header == "Authorization" {
						value = "Bearer " + value
					}
					r := env.newClient().do("GET", "/api/users/me", nil, header, value)
					r.wantProblem(t, http.StatusUnauthorized, tc.code)
					if got := r.Header.Get("WWW-Authenticate"); got != tc.challenge {
						t.Errorf("%s: WWW-Authenticate %q, want %q", header, got, tc.challenge)
					}
				}
			})
		}

		// Roles in a token are never believed: a well-signed token that
		// says admin, for a user who is not, gets no admin route.
		t.Run("well signed, roles admin", func(t *testing.T) {
			forged := env.newClient()
			forged.token = forgeToken(access, std, claimsJSON(t, tok, "roles", []string{"user", "moderator", "admin"}))
			forged.do("GET", "/api/test/user", nil).want(t, http.StatusOK) // the token is good...
			forged.do("GET", "/api/test/admin", nil).wantProblem(t, http.StatusForbidden, "insufficient_role")
			forged.do("GET", "/api/test/mod", nil).wantProblem(t, http.StatusForbidden, "insufficient_role")
			forged.do("PUT", "/api/users/"+a.User.ID+"/roles", map[string][]string{"roles": {"user", "admin"}}).
				wantProblem(t, http.StatusForbidden, "forbidden")
			if roles := meOf(t, alice).Roles; !slices.Equal(roles, []string{"user"}) {
				t.Errorf("alice's roles after the forged admin token: %v", roles)
			}
		})

		// The refresh route: forged refresh tokens are refused alike.
		t.Run("refresh route", func(t *testing.T) {
			for name, token := range map[string]string{
				"access token as refresh token": tok,
				"refresh claims, access secret": forgeToken(access, std, claimsJSON(t, a.RefreshToken)),
				"refresh, alg none":             enc(`{"alg":"none"}`) + "." + strings.Split(a.RefreshToken, ".")[1] + ".",
				"refresh, gen tampered":         strings.Split(a.RefreshToken, ".")[0] + "." + enc(claimsJSON(t, a.RefreshToken, "gen", 99)) + "." + strings.Split(a.RefreshToken, ".")[2],
				"refresh, kid":                  forgeToken(refresh, `{"alg":"HS256","kid":"1"}`, claimsJSON(t, a.RefreshToken)),
			} {
				r := env.newClient().refreshBody(token)
				r.wantProblem(t, http.StatusUnauthorized, "invalid_refresh_token")
				if got := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, `Bearer realm="corkboard"`) {
					t.Errorf("%s: WWW-Authenticate %q", name, got)
				}
			}
			// None of it touched alice's session.
			alice.do("GET", "/api/users/me", nil).want(t, http.StatusOK)
		})

		// A deleted account's tokens die with it, access and refresh.
		t.Run("deleted user", func(t *testing.T) {
			carol := env.newClient()
			cd := carol.signupForBody("carol")
			carol.do("DELETE", "/api/users/"+cd.User.ID, map[string]string{"currentPassword": "password1"}).want(t, http.StatusNoContent)
			r := carol.do("GET", "/api/users/me", nil)
			r.wantProblem(t, http.StatusUnauthorized, "session_revoked")
			if got := r.Header.Get("WWW-Authenticate"); got != revoked {
				t.Errorf("WWW-Authenticate %q, want %q", got, revoked)
			}
			env.newClient().refreshBody(cd.RefreshToken).want(t, http.StatusUnauthorized)
			// Re-signed by the server's own key, the dead account's id is
			// still nobody.
			again := env.newClient()
			again.token = forgeToken(access, std, claimsJSON(t, cd.AccessToken, "iat", now, "exp", now+600))
			again.do("GET", "/api/users/me", nil).wantProblem(t, http.StatusUnauthorized, "session_revoked")
		})
	})
}

// TestLoginTiming: a login for an unknown user and one for a known user
// with a wrong password take the same time, within 20%, so that timing
// does not tell which addresses have accounts. It runs at the production
// bcrypt cost (10), with rate limits off, interleaving the two kinds of
// attempt and comparing their medians: a ratio within one run, which a
// loaded machine slows alike on both sides. A measurement that misses is
// taken again, twice, before the test fails.
func TestLoginTiming(t *testing.T) {
	if testing.Short() {
		t.Skip("bcrypt at cost 10, many times: not in -short")
	}
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, func(c *config) { c.rateLimits = false; c.bcryptCost = 10 })
		env.newClient().signup("timed", "timed@example.com", "password1")
		c := env.newClient()
		attempt := func(body map[string]string) time.Duration {
			start := time.Now()
			c.do("POST", "/api/auth/login", body).wantProblem(t, http.StatusUnauthorized, "invalid_credentials")
			return time.Since(start)
		}
		median := func(d []time.Duration) time.Duration {
			s := slices.Clone(d)
			slices.Sort(s)
			return s[len(s)/2]
		}
		const n = 15
		var ratio float64
		for try := 1; try <= 3; try++ {
			var known, unknown []time.Duration
			for i := range n {
				// Alternate which goes first, so neither always follows the
				// other (a warm cache, a GC cycle).
				k := map[string]string{"email": "timed@example.com", "password": fmt.Sprintf("wrong-%d", i)}
				u := map[string]string{"email": fmt.Sprintf("nobody-%d@example.com", i), "password": fmt.Sprintf("wrong-%d", i)}
				if i%2 == 0 {
					known, unknown = append(known, attempt(k)), append(unknown, attempt(u))
				} else {
					unknown, known = append(unknown, attempt(u)), append(known, attempt(k))
				}
			}
			mk, mu := median(known), median(unknown)
			ratio = float64(max(mk, mu)) / float64(min(mk, mu))
			t.Logf("try %d: median of %d logins, known user with a wrong password %v, unknown user %v: ratio %.3f", try, n, mk, mu, ratio)
			if ratio <= 1.2 {
				return
			}
		}
		t.Errorf("a wrong password and an unknown user differ by a ratio of %.3f in time, want at most 1.2", ratio)
	})
}

// TestForwardedForDoesNotBypassLimits: with TRUST_PROXY off, the client
// address is the socket's, so a client that writes a new X-Forwarded-For
// (or X-Real-IP, or Forwarded) on every request still runs into the
// per-address limits of login, sign-up and forgot-password. With
// TRUST_PROXY on, the last X-Forwarded-For hop, the one the proxy in
// front appended, is the address: what a client wrote before it changes
// nothing.
func TestForwardedForDoesNotBypassLimits(t *testing.T) {
	limited := []struct {
		path  string
		limit int
	}{
		{"/api/auth/login", 30},
		{"/api/auth/signup", 20},
		{"/api/auth/forgot-password", 5},
	}
	// spoof returns the headers of the i-th request of a client that
	// pretends to come from a new address each time.
	spoof := func(i int) []string {
		ip := fmt.Sprintf("198.51.100.%d", i%250+1)
		return []string{"X-Forwarded-For", ip, "X-Real-IP", ip, "Forwarded", "for=" + ip, "True-Client-IP", ip, "CF-Connecting-IP", ip}
	}
	eachStore(t, func(t *testing.T, o storeOpener) {
		t.Run("TRUST_PROXY off", func(t *testing.T) {
			env := startEnv(t, o, nil)
			c := env.newClient()
			for _, l := range limited {
				// An empty object is a 422 at once, without bcrypt: the
				// limit counts every request before the body is read.
				for i := range l.limit {
					c.do("POST", l.path, `{}`, spoof(i)...).wantProblem(t, http.StatusUnprocessableEntity, "validation_failed")
				}
				c.do("POST", l.path, `{}`, spoof(l.limit)...).wantProblem(t, http.StatusTooManyRequests, "rate_limited")
				// A client on another address is not limited.
				env.newClientFrom("127.0.0.2").do("POST", l.path, `{}`).wantProblem(t, http.StatusUnprocessableEntity, "validation_failed")
			}
		})
		t.Run("TRUST_PROXY on", func(t *testing.T) {
			env := startEnv(t, o, func(c *config) { c.trustProxy = true })
			c := env.newClient()
			for _, l := range limited {
				// The proxy appends the real address (203.0.113.7) after
				// whatever the client claimed: the claims change nothing.
				for i := range l.limit {
					c.do("POST", l.path, `{}`, "X-Forwarded-For", fmt.Sprintf("198.51.100.%d, 203.0.113.7", i+1)).
						wantProblem(t, http.StatusUnprocessableEntity, "validation_failed")
				}
				c.do("POST", l.path, `{}`, "X-Forwarded-For", "10.9.9.9, 203.0.113.7").wantProblem(t, http.StatusTooManyRequests, "rate_limited")
				c.do("POST", l.path, `{}`, "X-Forwarded-For", "203.0.113.7").wantProblem(t, http.StatusTooManyRequests, "rate_limited")
				// Another real address, as the proxy reports it, is another
				// client.
				c.do("POST", l.path, `{}`, "X-Forwarded-For", "203.0.113.7, 203.0.113.8").wantProblem(t, http.StatusUnprocessableEntity, "validation_failed")
			}
		})
	})
}

// TestNoSQLInjectionShapes sends JSON shaped like MongoDB query operators
// in every JSON body of every route (walking the route list), on the
// caller's own records: each is refused (4xx), or, where a string is
// expected and a string came, kept as that literal string; never a 5xx,
// never a login, a sign-up, a reset or a deletion that matched something.
func TestNoSQLInjectionShapes(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, func(c *config) { c.rateLimits = false })
		victim := env.newClient()
		v := victim.signup("victim", "victim@example.com", "password1")
		vBoard := victim.createBoard("Victim's")
		// A pending reset token for the victim, and a verification token
		// from the sign-up: an operator that matched any token would use it.
		env.newClient().do("POST", "/api/auth/forgot-password", map[string]string{"email": "victim@example.com"}).want(t, http.StatusAccepted)

		mallory := env.newClient()
		m := mallory.signup("mallory", "mallory@example.com", "password1")
		b := mallory.createBoard("Mine")
		l := mallory.addList(b.ID, "List")
		card := mallory.addCard(b.ID, l.ID, "Card")
		var att struct{ Attachment attachmentDoc }
		mallory.upload("POST", "/api/boards/"+b.ID+"/cards/"+card.ID+"/attachments",
			part{name: "file", filename: "a.png", data: testImage(t, "png", 4, 4, 1)}).want(t, http.StatusCreated).json(t, &att)
		spare := env.newClient().login("email", "mallory@example.com", "password1") // a session of hers to name
		ids := map[string]string{
			"/api/users/{id}":         m.User.ID,
			"/api/boards/{id}":        b.ID,
			"/api/auth/sessions/{id}": claimsOf(t, spare.AccessToken)["sid"].(string),
			"/api/notifications/{id}": "0123456789abcdef01234567",
			"/api/files/{id}":         "0123456789abcdef01234567",
			"{listId}":                l.ID,
			"{cardId}":                card.ID,
			"{userId}":                m.User.ID,
			"{attachmentId}":          att.Attachment.ID,
		}
		fill := func(path string) string {
			for k, id := range ids {
				if strings.HasPrefix(k, "/") {
					if strings.HasPrefix(path, k) {
						path = strings.Replace(path, "{id}", id, 1)
					}
					continue
				}
				path = strings.ReplaceAll(path, k, id)
			}
			return path
		}
		op := func(o string) map[string]any { return map[string]any{o: ""} }
		bodies := []any{
			map[string]any{"email": map[string]any{"$gt": ""}, "password": map[string]any{"$gt": ""}},
			map[string]any{"email": map[string]any{"$ne": nil}, "password": "password1"},
			map[string]any{"username": map[string]any{"$regex": ".*"}, "password": "password1"},
			map[string]any{"email": map[string]any{"$regex": ".*"}},
			map[string]any{"email": "victim@example.com", "password": "password1", "$where": "1 == 1"},
			map[string]any{"email.address": "victim@example.com", "password": "password1"},
			map[string]any{"username": op("$ne"), "email": op("$ne"), "password": "password1"},
			map[string]any{"token": map[string]any{"$ne": nil}, "password": "password2", "passwordConfirm": "password2"},
			map[string]any{"token": map[string]any{"$exists": true}},
			map[string]any{"refreshToken": map[string]any{"$ne": nil}},
			map[string]any{"currentPassword": map[string]any{"$ne": nil}, "newPassword": "password2"},
			map[string]any{"currentPassword": []any{"password1"}},
			map[string]any{"roles": map[string]any{"$in": []string{"admin"}}},
			map[string]any{"$set": map[string]any{"roles": []string{"admin"}}},
			map[string]any{"title": map[string]any{"$gt": ""}, "name": map[string]any{"$ne": nil}},
			map[string]any{"fullName": map[string]any{"$ne": nil}, "color": op("$where")},
			map[string]any{"position": map[string]any{"$gt": 0}, "listId": map[string]any{"$ne": nil}},
			map[string]any{"userId": map[string]any{"$ne": nil}, "invite": []any{map[string]any{"$ne": nil}}},
			map[string]any{"favourite": map[string]any{"$ne": false}, "description": map[string]any{"$ne": nil}},
		}
		routes := env.app.routeList()
		// Routes that delete go last, so that the others find their records.
		sort.SliceStable(routes, func(i, j int) bool {
			return !strings.HasPrefix(routes[i].pattern, "DELETE") && strings.HasPrefix(routes[j].pattern, "DELETE")
		})
		// These read a body that names a credential or a record to act on:
		// no injection-shaped body may succeed there.
		mustRefuse := map[string]bool{
			"POST /api/auth/signup": true, "POST /api/auth/login": true, "POST /api/auth/refresh": true,
			"POST /api/auth/change-password": true, "POST /api/auth/forgot-password": true,
			"POST /api/auth/reset-password": true, "POST /api/auth/verify-email": true,
			"DELETE /api/users/{id}": true, "PUT /api/users/{id}/roles": true, "PATCH /api/users/{id}": true,
			"POST /api/boards": true, "PATCH /api/boards/{id}": true, "POST /api/boards/{id}/lists": true,
			"POST /api/boards/{id}/lists/{listId}/cards": true, "POST /api/boards/{id}/invites": true,
		}
		for _, rt := range routes {
			method, path, _ := strings.Cut(rt.pattern, " ")
			if method == "GET" {
				continue
			}
			for _, body := range bodies {
				// A fresh login per request: some of these routes end
				// sessions when they succeed.
				mallory.token = env.newClient().login("username", "mallory", "password1").AccessToken
				r := mallory.do(method, fill(path), body)
				switch {
				case r.StatusCode >= 500:
					t.Fatalf("%s body %v: status %d: %s", rt.pattern, body, r.StatusCode, r.body)
				case mustRefuse[rt.pattern] && r.StatusCode < 400:
					t.Errorf("%s body %v: status %d, want a 4xx: %s", rt.pattern, body, r.StatusCode, r.body)
				case r.StatusCode >= 400:
					r.problem(t)
				}
			}
		}

		// The same shapes as strings are only strings.
		literal := `{"$gt":""}`
		env.newClient().do("POST", "/api/auth/login", map[string]string{"email": literal, "password": literal}).
			wantProblem(t, http.StatusUnauthorized, "invalid_credentials")
		env.newClient().do("POST", "/api/auth/login", map[string]string{"username": ".*", "password": "password1"}).
			wantProblem(t, http.StatusUnauthorized, "invalid_credentials")
		env.newClient().do("POST", "/api/auth/reset-password", map[string]string{"token": literal, "password": "password2", "passwordConfirm": "password2"}).
			wantProblem(t, http.StatusBadRequest, "invalid_reset_token")
		mallory.token = env.newClient().login("username", "mallory", "password1").AccessToken
		nb := mallory.createBoard(literal)
		if got := mallory.board(nb.ID).Title; got != literal {
			t.Errorf("a board titled %q reads back as %q", literal, got)
		}

		// The victim is untouched: same password, same roles, same board.
		vd := env.newClient().login("email", "victim@example.com", "password1")
		if vd.User.ID != v.User.ID || !slices.Equal(vd.User.Roles, []string{"user"}) {
			t.Errorf("the victim after the injections: %+v", vd.User)
		}
		victim.token = vd.AccessToken
		if got := victim.board(vBoard.ID); got.Title != "Victim's" || len(got.Members) != 1 {
			t.Errorf("the victim's board after the injections: %+v", got)
		}
		if me := meOf(t, mallory); !slices.Equal(me.Roles, []string{"user"}) {
			t.Errorf("mallory's roles after the injections: %v", me.Roles)
		}
	})
}

// TestForeignOrigins: a page on an origin outside CORS_ORIGINS gets no
// CORS headers (so the browser keeps the answer from it), no preflight
// approval, and no use of the routes that set or use the refresh cookie;
// the "null" origin (sandboxed frames, file: pages, some redirects) is
// such an origin, as are look-alikes of the listed ones.
func TestForeignOrigins(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, func(c *config) { c.rateLimits = false })
		c := env.newClient()
		c.signup("olga", "olga@example.com", "password1")
		login := map[string]string{"email": "olga@example.com", "password": "password1"}
		for _, origin := range []string{
			"https://evil.example", "null", "http://localhost:3000.evil.example", "http://localhost:30000",
			"http://localhost:3000/", "https://localhost:3000", "http://LOCALHOST:3000", "http://localhost", "*",
		} {
			t.Run(origin, func(t *testing.T) {
				for _, req := range []struct {
					method, path string
					body         any
				}{
					{"GET", "/api/test/all", nil}, {"GET", "/api/users/me", nil}, {"POST", "/api/auth/login", login},
					{"OPTIONS", "/api/auth/login", nil}, {"OPTIONS", "/api/users/me", nil},
				} {
					h := []string{"Origin", origin}
					if req.method == "OPTIONS" {
						h = append(h, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization, content-type")
					}
					r := c.do(req.method, req.path, req.body, h...)
					for _, name := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers"} {
						if got := r.Header.Get(name); got != "" {
							t.Errorf("%s %s from %q: %s %q, want none", req.method, req.path, origin, name, got)
						}
					}
					if !slices.Contains(r.Header.Values("Vary"), "Origin") {
						t.Errorf("%s %s: Vary %q lacks Origin", req.method, req.path, r.Header.Values("Vary"))
					}
				}
				// The CSRF guard of API.md §3 on every route that sets or
				// uses the refresh cookie.
				evil := env.newClient()
				evil.do("POST", "/api/auth/login", login, "Origin", origin).wantProblem(t, http.StatusForbidden, "origin_not_allowed")
				evil.do("POST", "/api/auth/signup", map[string]string{"username": "intruder", "email": "i@example.com", "password": "password1"},
					"Origin", origin).wantProblem(t, http.StatusForbidden, "origin_not_allowed")
				c.do("POST", "/api/auth/refresh", nil, "Origin", origin).wantProblem(t, http.StatusForbidden, "origin_not_allowed")
				c.do("POST", "/api/auth/logout", nil, "Origin", origin).wantProblem(t, http.StatusForbidden, "origin_not_allowed")
				if evil.refreshCookie() != "" {
					t.Errorf("a login from %q set the refresh cookie", origin)
				}
			})
		}
		// The listed origin still works, and the session survived.
		r := c.do("POST", "/api/auth/refresh", nil, "Origin", "http://localhost:3000").want(t, http.StatusOK)
		if r.Header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" || r.Header.Get("Access-Control-Allow-Credentials") != "true" {
			t.Errorf("the listed origin got %v", r.Header)
		}
	})
}

// TestSecurityHeadersEverywhere walks the route list and checks the
// headers of every answer, successes and errors alike: nosniff, no
// referrer, no framing, HSTS when cookies are Secure, and no-store on
// every JSON answer (those with tokens first of all). Stored files and
// the demo client's pages set their own cache rules and policies.
func TestSecurityHeadersEverywhere(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		for _, secure := range []bool{true, false} {
			t.Run(fmt.Sprintf("COOKIE_SECURE=%v", secure), func(t *testing.T) {
				env := startEnv(t, o, func(c *config) { c.rateLimits = false; c.cookieSecure = secure })
				c := env.newClient()
				d := c.signup("hanna", "hanna@example.com", "password1")
				pic := c.upload("PUT", "/api/users/"+d.User.ID+"/picture", part{name: "picture", filename: "p.png", data: testImage(t, "png", 4, 4, 2)}).want(t, http.StatusOK)
				var withPic struct{ User userDoc }
				pic.json(t, &withPic)
				b := c.createBoard("Headers")
				check := func(r *response, what string) {
					t.Helper()
					h := r.Header
					want := map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}
					if secure {
						want["Strict-Transport-Security"] = "max-age=31536000"
					}
					for k, v := range want {
						if got := h.Get(k); got != v {
							t.Errorf("%s (%d): %s %q, want %q", what, r.StatusCode, k, got, v)
						}
					}
					if !secure && h.Get("Strict-Transport-Security") != "" {
						t.Errorf("%s: HSTS %q with COOKIE_SECURE off", what, h.Get("Strict-Transport-Security"))
					}
					if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") && !strings.Contains(csp, "sandbox") {
						t.Errorf("%s: Content-Security-Policy %q neither forbids framing nor sandboxes", what, csp)
					}
					ct := h.Get("Content-Type")
					// The OpenAPI document is the same for everyone and may
					// be cached; every other JSON answer is someone's.
					public := r.Request.URL.Path == "/api/openapi.json" && r.StatusCode == http.StatusOK
					if !public && (ct == "" || strings.HasPrefix(ct, "application/json") || ct == "application/problem+json") && h.Get("Cache-Control") != "no-store" {
						t.Errorf("%s (%d, %q): Cache-Control %q, want no-store", what, r.StatusCode, ct, h.Get("Cache-Control"))
					}
				}
				// Token answers first: sign-up, login, refresh, change-password.
				check(c.do("POST", "/api/auth/signup", map[string]any{"username": "ines", "email": "ines@example.com", "password": "password1"}).want(t, http.StatusCreated), "sign-up")
				check(c.do("POST", "/api/auth/login", map[string]string{"username": "hanna", "password": "password1"}).want(t, http.StatusOK), "login")
				check(c.do("POST", "/api/auth/refresh", nil).want(t, http.StatusOK), "refresh")
				r := c.do("POST", "/api/auth/change-password", map[string]string{"currentPassword": "password1", "newPassword": "password2"}).want(t, http.StatusOK)
				check(r, "change-password")
				var tokens authDoc
				r.json(t, &tokens)
				c.token = tokens.AccessToken
				check(c.do("GET", "/api/users/me", nil).want(t, http.StatusOK), "me")
				check(c.do("GET", withPic.User.PictureURL, nil).want(t, http.StatusOK), "picture")

				// Every route: anonymous, with a valid token and an empty
				// body, and with one that is not JSON.
				reqs := requestsFor(t, env.app.routeList(), []string{b.ID, d.User.ID, "0123456789abcdef01234567", "x"})
				sort.SliceStable(reqs, func(i, j int) bool { return reqs[i].method == "GET" && reqs[j].method != "GET" })
				for _, req := range reqs {
					for _, who := range []*client{env.newClient(), c} {
						check(who.do(req.method, req.path, `{}`), req.method+" "+req.path)
						check(who.do(req.method, req.path, `{`, "Content-Type", "text/plain"), req.method+" "+req.path+" (not JSON)")
					}
				}
				check(c.do("GET", "/api/nothing", nil), "unknown path")
				check(c.do("PUT", "/healthz", nil), "wrong method")
				check(c.do("OPTIONS", "/api/auth/login", nil, "Origin", "http://localhost:3000", "Access-Control-Request-Method", "POST"), "preflight")
			})
		}
	})
}
