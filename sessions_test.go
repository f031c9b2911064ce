package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"corkboard/auth"
)

// tokenDoc is the body of a refresh.
type tokenDoc struct {
	AccessToken  string `json:"accessToken"`
	TokenType    string `json:"tokenType"`
	ExpiresIn    int    `json:"expiresIn"`
	RefreshToken string `json:"refreshToken"`
}

// refresh refreshes with the cookie jar's token and keeps the new access token.
func (c *client) refresh(t *testing.T) tokenDoc {
	t.Helper()
	r := c.do("POST", "/api/auth/refresh", nil).want(t, http.StatusOK)
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("refresh Cache-Control = %q, want no-store", cc)
	}
	var d tokenDoc
	r.json(t, &d)
	if d.AccessToken == "" || d.TokenType != "Bearer" || d.RefreshToken != "" {
		t.Errorf("cookie refresh body = %+v; want an access token and no refresh token", d)
	}
	c.token = d.AccessToken
	return d
}

// refreshBody refreshes with a refresh token sent in the body.
func (c *client) refreshBody(token string) *response {
	return c.do("POST", "/api/auth/refresh", map[string]string{"refreshToken": token})
}

// claimsOf decodes a token's claims without verifying it.
func claimsOf(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d segments", token, len(parts))
	}
	data, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRefreshRotation(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, nil)
		c := env.newClient()
		c.signup("erin", "erin@example.com", "password1")
		first := c.refreshCookie()
		seen := map[string]bool{first: true}
		for i := 2; i <= 4; i++ {
			env.clock.Advance(time.Minute)
			c.refresh(t)
			got := c.refreshCookie()
			if seen[got] {
				t.Fatalf("refresh %d returned a refresh token seen before", i)
			}
			seen[got] = true
			if gen := claimsOf(t, got)["gen"]; gen != float64(i) {
				t.Errorf("after %d refreshes the cookie's gen = %v, want %d", i-1, gen, i)
			}
			c.do("GET", "/api/users/me", nil).want(t, http.StatusOK)
		}
		// Refresh problems of the cookie path.
		env.newClient().do("POST", "/api/auth/refresh", nil).wantProblem(t, 401, "refresh_token_missing")
	})
}

func TestRefreshInBody(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, nil)
		c := env.newClient()
		d := c.signupForBody("frank")
		cli := env.newClient() // a CLI: its refresh sends no cookie
		r := cli.refreshBody(d.RefreshToken).want(t, 200)
		var td tokenDoc
		r.json(t, &td)
		if td.RefreshToken == "" || td.RefreshToken == d.RefreshToken || td.AccessToken == "" {
			t.Fatalf("body refresh = %+v; want new access and refresh tokens in the body", td)
		}
		// The contract: the new token in the body too, that is, in the
		// cookie as on every refresh, even to a client that sent none.
		if got := cli.refreshCookie(); got != td.RefreshToken {
			t.Errorf("after a body refresh the jar holds a token ending %q, want the new one, ending %q", tokenEnd(got), tokenEnd(td.RefreshToken))
		}
		cli.token = td.AccessToken
		cli.do("GET", "/api/users/me", nil).want(t, 200)

		var ld authDoc
		cli.do("POST", "/api/auth/login", map[string]any{"username": "frank", "password": "password1", "returnRefreshToken": true}).want(t, 200).json(t, &ld)
		if ld.RefreshToken == "" {
			t.Error("login with returnRefreshToken returned no refreshToken")
		}
	})
}

// TestRefreshInBodyKeepsCookieInStep: a client that holds the refresh
// cookie and sends the token in the body has the cookie replaced too, so
// that the cookie it keeps is never a retired token, which would count as
// reuse the next time the cookie is sent, and end the session.
func TestRefreshInBodyKeepsCookieInStep(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, nil)
		c := env.newClient()
		d := c.signupForBody("hilda")
		if got := c.refreshCookie(); got != d.RefreshToken {
			t.Fatalf("after sign-up the jar holds %q, want the body's refresh token", got)
		}
		var td tokenDoc
		c.refreshBody(d.RefreshToken).want(t, 200).json(t, &td)
		if td.RefreshToken == "" || td.RefreshToken == d.RefreshToken {
			t.Fatalf("body refresh = %+v; want a new refresh token in the body", td)
		}
		if got := c.refreshCookie(); got != td.RefreshToken {
			t.Fatalf("after a body refresh the jar holds a token ending %q, want the new one, ending %q", tokenEnd(got), tokenEnd(td.RefreshToken))
		}
		env.clock.Advance(time.Minute) // past the grace window: a retired cookie would be reuse
		c.refresh(t)
		c.do("GET", "/api/users/me", nil).want(t, 200)
	})
}

// tokenEnd is the last 12 characters of a token, for a failure message:
// the signature's end tells tokens apart without printing one whole.
func tokenEnd(s string) string { return s[max(len(s)-12, 0):] }

func TestRefreshBadTokens(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, nil)
		c := env.newClient()
		d := c.signupForBody("gina")
		c0 := claimsOf(t, d.RefreshToken)
		forged := auth.NewTokenKey([]byte("another-refresh-secret-0123456789abcdef"), auth.UseRefresh).Sign(auth.Claims{
			Subject: d.User.ID, SessionID: c0["sid"].(string), Generation: 1,
			IssuedAt: env.clock.Now().Unix(), ExpiresAt: env.clock.Now().Add(time.Hour).Unix(),
		})
		tests := []struct{ name, token string }{
			{"garbage", "garbage"},
			{"truncated", d.RefreshToken[:len(d.RefreshToken)-10]},
			{"access token", d.AccessToken},
			{"flipped signature", d.RefreshToken[:len(d.RefreshToken)-1] + flip(d.RefreshToken[len(d.RefreshToken)-1])},
			{"four segments", d.RefreshToken + ".x"},
			{"signed with another secret", forged},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				env.newClient().refreshBody(tt.token).wantProblem(t, 401, "invalid_refresh_token")
			})
		}
		env.newClient().do("POST", "/api/auth/refresh", `{"refreshToken":`).wantProblem(t, 400, "malformed_json")
		// None of it changed anything: the real token still rotates.
		env.newClient().refreshBody(d.RefreshToken).want(t, 200)
	})
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

// TestReuseRevokesTheSession: a retired token presented after the grace
// window ends its own session (every token of its chain, and its access
// tokens), and only that one: the phone logged in separately carries on.
func TestReuseRevokesTheSession(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, nil)
		laptop := env.newClient()
		laptop.signup("hank", "hank@example.com", "password1")
		phone := env.newClient()
		phone.login("email", "hank@example.com", "password1")

		stolen := laptop.refreshCookie()
		laptop.refresh(t)
		env.clock.Advance(11 * time.Second) // past the 10 s grace window

		thief := env.newClient()
		r := thief.refreshBody(stolen)
		r.wantProblem(t, 401, "refresh_token_reused")

		laptop.do("GET", "/api/users/me", nil).wantProblem(t, 401, "session_revoked")
		laptop.do("POST", "/api/auth/refresh", nil).wantProblem(t, 401, "session_revoked")
		if laptop.refreshCookie() != "" {
			t.Error("laptop: refresh cookie not cleared after a refused refresh")
		}
		thief.refreshBody(stolen).wantProblem(t, 401, "session_revoked")

		phone.do("GET", "/api/users/me", nil).want(t, 200)
		phone.refresh(t)
		phone.do("GET", "/api/users/me", nil).want(t, 200)

		// The user logs in again on the laptop and carries on.
		laptop.login("username", "hank", "password1")
		laptop.do("GET", "/api/users/me", nil).want(t, 200)
	})
}

func TestGraceWindow(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, nil)
		tab1 := env.newClient()
		d := tab1.signupForBody("ivy")
		t1 := d.RefreshToken

		var first, second tokenDoc
		env.newClient().refreshBody(t1).want(t, 200).json(t, &first)
		env.clock.Advance(5 * time.Second)
		// A second tab presents the token the first tab just retired.
		env.newClient().refreshBody(t1).want(t, 200).json(t, &second)
		g1, g2 := claimsOf(t, first.RefreshToken)["gen"], claimsOf(t, second.RefreshToken)["gen"]
		if g1 != float64(2) || g2 != g1 || claimsOf(t, first.RefreshToken)["sid"] != claimsOf(t, second.RefreshToken)["sid"] {
			t.Fatalf("grace answer gen %v (sid %v), first rotation gen %v (sid %v); want the same successor",
				g2, claimsOf(t, second.RefreshToken)["sid"], g1, claimsOf(t, first.RefreshToken)["sid"])
		}
		// No fork: the user still has one session, and the chain goes on.
		tab1.token = second.AccessToken
		var list struct{ Sessions []map[string]any }
		tab1.do("GET", "/api/auth/sessions", nil).want(t, 200).json(t, &list)
		if len(list.Sessions) != 1 {
			t.Errorf("after a grace answer the user has %d sessions, want 1", len(list.Sessions))
		}
		var third tokenDoc
		env.newClient().refreshBody(second.RefreshToken).want(t, 200).json(t, &third)
		if g := claimsOf(t, third.RefreshToken)["gen"]; g != float64(3) {
			t.Errorf("rotating the grace answer gave gen %v, want 3", g)
		}
		// t1 is now two generations old: reuse, even inside the window.
		env.newClient().refreshBody(t1).wantProblem(t, 401, "refresh_token_reused")
	})
}

func TestRevokedSessionGetsNoGrace(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, nil)
		d := env.newClient().signupForBody("jack")
		var next tokenDoc
		env.newClient().refreshBody(d.RefreshToken).want(t, 200).json(t, &next)
		env.newClient().do("POST", "/api/auth/logout", map[string]string{"refreshToken": next.RefreshToken}).want(t, 204)
		env.clock.Advance(time.Second) // well inside the grace window
		env.newClient().refreshBody(d.RefreshToken).wantProblem(t, 401, "session_revoked")
		env.newClient().refreshBody(next.RefreshToken).wantProblem(t, 401, "session_revoked")
	})
}

func TestConcurrentRefreshOneChain(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, nil)
		d := env.newClient().signupForBody("kate")

		const n = 50
		var wg sync.WaitGroup
		results := make([]*response, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = env.newClient().refreshBody(d.RefreshToken)
			}()
		}
		wg.Wait()
		sids := map[any]bool{}
		for i, r := range results {
			if r.StatusCode != 200 {
				t.Errorf("racer %d: status %d, body %s; want 200 (one rotation, the rest grace answers)", i, r.StatusCode, r.body)
				continue
			}
			var td tokenDoc
			r.json(t, &td)
			c := claimsOf(t, td.RefreshToken)
			if c["gen"] != float64(2) {
				t.Errorf("racer %d got gen %v, want 2: the chain forked or rotated twice", i, c["gen"])
			}
			sids[c["sid"]] = true
		}
		if len(sids) != 1 {
			t.Errorf("racers got %d sessions, want 1", len(sids))
		}
	})
}

func TestLogout(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, nil)
		c := env.newClient()
		c.signup("liam", "liam@example.com", "password1")
		r := c.do("POST", "/api/auth/logout", nil).want(t, 204)
		if !strings.Contains(strings.Join(r.Header.Values("Set-Cookie"), "\n"), "refresh_token=; Path=/api/auth; Max-Age=0; HttpOnly; Secure; SameSite=Lax") {
			t.Errorf("logout Set-Cookie = %q; want the cookie cleared with the same attributes", r.Header.Values("Set-Cookie"))
		}
		if c.refreshCookie() != "" {
			t.Error("cookie jar still holds the refresh token after logout")
		}
		c.do("GET", "/api/users/me", nil).wantProblem(t, 401, "session_revoked")
		c.do("POST", "/api/auth/logout", nil).want(t, 204) // again: still 204
		env.newClient().do("POST", "/api/auth/logout", nil).want(t, 204)
		env.newClient().do("POST", "/api/auth/logout", map[string]string{"refreshToken": "junk"}).want(t, 204)
	})
}

func TestLogoutAllAndSessionList(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, nil)
		a := env.newClient()
		a.signup("mia", "mia@example.com", "password1")
		env.clock.Advance(time.Second)
		b := env.newClient()
		b.login("email", "mia@example.com", "password1")
		env.clock.Advance(time.Second)
		c := env.newClient()
		c.login("username", "mia", "password1")
		stranger := env.newClient()
		stranger.signup("nora", "nora@example.com", "password1")

		type sessionDoc struct {
			ID                    string
			CreatedAt, LastUsedAt time.Time
			UserAgent, IP         string
			Current               bool
		}
		var list struct{ Sessions []sessionDoc }
		a.do("GET", "/api/auth/sessions", nil, "User-Agent", "laptop-browser").want(t, 200).json(t, &list)
		if len(list.Sessions) != 3 {
			t.Fatalf("sessions = %+v, want 3", list.Sessions)
		}
		if !list.Sessions[2].Current || list.Sessions[0].Current || !list.Sessions[0].CreatedAt.After(list.Sessions[2].CreatedAt) {
			t.Errorf("sessions %+v: want newest first with the oldest (a's) marked current", list.Sessions)
		}
		if list.Sessions[0].IP != "127.0.0.1" || list.Sessions[0].UserAgent == "" {
			t.Errorf("session %+v lacks IP or user agent", list.Sessions[0])
		}

		// a ends c's session: c's access token dies at once.
		cID := list.Sessions[0].ID
		stranger.do("DELETE", "/api/auth/sessions/"+cID, nil).wantProblem(t, 404, "not_found")
		a.do("DELETE", "/api/auth/sessions/"+cID, nil).want(t, 204)
		c.do("GET", "/api/users/me", nil).wantProblem(t, 401, "session_revoked")
		a.do("DELETE", "/api/auth/sessions/"+cID, nil).wantProblem(t, 404, "not_found")
		a.do("DELETE", "/api/auth/sessions/nonsense", nil).wantProblem(t, 404, "not_found")

		// logout-all ends a's and b's; the stranger is untouched.
		r := a.do("POST", "/api/auth/logout-all", nil).want(t, 204)
		if !strings.Contains(strings.Join(r.Header.Values("Set-Cookie"), ""), "Max-Age=0") {
			t.Error("logout-all did not clear the cookie")
		}
		a.do("GET", "/api/users/me", nil).wantProblem(t, 401, "session_revoked")
		b.do("GET", "/api/users/me", nil).wantProblem(t, 401, "session_revoked")
		b.do("POST", "/api/auth/refresh", nil).wantProblem(t, 401, "session_revoked")
		stranger.do("GET", "/api/users/me", nil).want(t, 200)
	})
}

// TestChangePassword: the caller gets a fresh session, and every older one
// dies, the calling one included, so a thief holding the calling session's
// refresh token is out too; presenting an old token does not end the
// fresh session.
func TestChangePassword(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, nil)
		a := env.newClient()
		a.signup("oscar", "oscar@example.com", "password1")
		oldAccess, oldRefresh := a.token, a.refreshCookie()
		b := env.newClient()
		b.login("email", "oscar@example.com", "password1")

		a.do("POST", "/api/auth/change-password", map[string]string{"currentPassword": "wrong-one", "newPassword": "password2"}).wantProblem(t, 401, "invalid_credentials")
		p := a.do("POST", "/api/auth/change-password", map[string]string{"currentPassword": "password1", "newPassword": "short"}).wantProblem(t, 422, "validation_failed")
		if p.Errors["newPassword"] == "" {
			t.Errorf("422 errors %v do not name newPassword", p.Errors)
		}
		r := a.do("POST", "/api/auth/change-password", map[string]any{"currentPassword": "password1", "newPassword": "password2", "returnRefreshToken": true}).want(t, 200)
		var d authDoc
		r.json(t, &d)
		if d.AccessToken == "" || d.TokenType != "Bearer" || d.ExpiresIn != 900 || d.RefreshToken == "" || r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("change-password answered %s (Cache-Control %q), want new tokens and no-store", r.body, r.Header.Get("Cache-Control"))
		}
		if a.refreshCookie() == "" || a.refreshCookie() == oldRefresh {
			t.Error("change-password did not set a new refresh cookie")
		}

		// The thief's copies of the calling session's tokens are dead.
		thief := env.newClient()
		thief.do("GET", "/api/users/me", nil, "Authorization", "Bearer "+oldAccess).wantProblem(t, 401, "session_revoked")
		thief.refreshBody(oldRefresh).wantProblem(t, 401, "session_revoked")
		b.do("GET", "/api/users/me", nil).wantProblem(t, 401, "session_revoked")
		b.do("POST", "/api/auth/refresh", nil).wantProblem(t, 401, "session_revoked")

		// The fresh session works, after all of that.
		a.token = d.AccessToken
		a.do("GET", "/api/users/me", nil).want(t, 200)
		a.refresh(t)
		env.newClient().do("POST", "/api/auth/login", map[string]string{"email": "oscar@example.com", "password": "password1"}).wantProblem(t, 401, "invalid_credentials")
		env.newClient().login("email", "oscar@example.com", "password2")
	})
}

// TestConcurrentPasswordChanges: two requests that both know the old
// password race to change it; exactly one wins, the other gets 401, and
// the password is the winner's.
func TestConcurrentPasswordChanges(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, nil)
		owner := env.newClient()
		owner.signup("olga", "olga@example.com", "password1")
		thief := env.newClient()
		thief.login("username", "olga", "password1")
		start := make(chan struct{})
		codes := make([]int, 2)
		var wg sync.WaitGroup
		for i, c := range []*client{owner, thief} {
			wg.Go(func() {
				<-start
				codes[i] = c.do("POST", "/api/auth/change-password", map[string]string{"currentPassword": "password1", "newPassword": fmt.Sprintf("password-of-%d", i)}).StatusCode
			})
		}
		close(start)
		wg.Wait()
		winners := 0
		for i, code := range codes {
			switch code {
			case 200:
				winners++
				env.newClient().login("username", "olga", fmt.Sprintf("password-of-%d", i))
			case 401:
			default:
				t.Errorf("change %d answered %d, want 200 or 401", i, code)
			}
		}
		if winners != 1 {
			t.Errorf("racing changes answered %v, want exactly one 200", codes)
		}
	})
}

// TestLoginDuringPasswordChange: logins with the old password run without
// pause while the password changes. Whatever the order, once the change
// has answered, no session made by an old-password login works: those
// whose bcrypt check was still running when the password changed included.
func TestLoginDuringPasswordChange(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		// bcrypt slow enough (cost 8) that logins queued behind the
		// change's own hashing finish after it has revoked the sessions.
		env := startEnv(t, o, func(c *config) { c.rateLimits = false; c.bcryptCost = 8 })
		// The owner comes from an address of their own, as they would:
		// bcrypt admission is fair between addresses, so the flood of
		// logins from another one cannot starve the change.
		owner := env.newClientFrom("127.0.0.2")
		owner.signup("olaf", "olaf@example.com", "password1")
		changed := make(chan struct{})
		var mu sync.Mutex
		var won []*client // logins that got a session
		var wg sync.WaitGroup
		// However the test ends, the flood stops before it returns: a
		// request from a goroutine after the end would fail a finished test.
		stop := sync.OnceFunc(func() { close(changed); wg.Wait() })
		defer stop()
		for range 8 {
			wg.Go(func() {
				for {
					c := env.newClient()
					r := c.do("POST", "/api/auth/login", map[string]string{"username": "olaf", "password": "password1"})
					if r.StatusCode == 200 {
						var d authDoc
						json.Unmarshal(r.body, &d) // not r.json: no t.Fatal outside the test's goroutine
						c.token = d.AccessToken
						mu.Lock()
						won = append(won, c)
						mu.Unlock()
					}
					select {
					case <-changed:
						return
					default:
					}
				}
			})
		}
		time.Sleep(50 * time.Millisecond)
		owner.do("POST", "/api/auth/change-password", map[string]string{"currentPassword": "password1", "newPassword": "password2"}).want(t, 200)
		stop()
		for i, c := range won {
			if r := c.do("GET", "/api/users/me", nil); r.StatusCode != 401 {
				t.Errorf("old-password login %d of %d: /me = %d after the change, want 401", i+1, len(won), r.StatusCode)
			}
			if r := c.do("POST", "/api/auth/refresh", nil); r.StatusCode != 401 {
				t.Errorf("old-password login %d of %d: refresh = %d after the change, want 401", i+1, len(won), r.StatusCode)
			}
		}
		t.Logf("%d logins with the old password got a session before the change answered; all are dead", len(won))
	})
}

func TestExpiredRefreshToken(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, nil)
		c := env.newClient()
		d := c.signupForBody("pia")
		env.clock.Advance(7*24*time.Hour + time.Second)
		c.refreshBody(d.RefreshToken).wantProblem(t, 401, "invalid_refresh_token")
	})
}

func TestRateLimits(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, nil)
		env.newClient().signup("quinn", "quinn@example.com", "password1")
		c := env.newClient()
		for i := 0; i < 10; i++ {
			c.do("POST", "/api/auth/login", map[string]string{"username": "quinn", "password": "nope-nope"}).wantProblem(t, 401, "invalid_credentials")
		}
		// Locked now for that name, even with the right password.
		r := c.do("POST", "/api/auth/login", map[string]string{"username": "QUINN", "password": "password1"})
		r.wantProblem(t, 429, "rate_limited")
		if ra := r.Header.Get("Retry-After"); ra == "" || ra == "0" {
			t.Errorf("429 Retry-After = %q", ra)
		}
		// The limit is per name tried, so hitting it does not reveal that
		// the email belongs to the same account.
		c.login("email", "quinn@example.com", "password1")
		env.clock.Advance(15 * time.Minute)
		c.login("username", "quinn", "password1")

		// 30 login requests per IP per minute.
		env.clock.Advance(time.Minute)
		for i := 0; i < 30; i++ {
			c.do("POST", "/api/auth/login", map[string]string{"email": "x@example.com", "password": "whatever1"})
		}
		c.do("POST", "/api/auth/login", map[string]string{"email": "quinn@example.com", "password": "password1"}).wantProblem(t, 429, "rate_limited")

		// 20 sign-ups per IP per hour (quinn was the first).
		for i := 1; i < 20; i++ {
			env.newClient().do("POST", "/api/auth/signup", map[string]string{
				"username": "user" + string(rune('a'+i)), "email": "u" + string(rune('a'+i)) + "@example.com", "password": "password1",
			}).want(t, 201)
		}
		env.newClient().do("POST", "/api/auth/signup", map[string]string{"username": "toomany", "email": "toomany@example.com", "password": "password1"}).wantProblem(t, 429, "rate_limited")
	})
}

// TestLoginLimitUnderBurst fires many wrong passwords for one account at
// once: the failure limit is taken before bcrypt runs, so no more than 10
// guesses get through, however many arrive while others are hashing.
func TestLoginLimitUnderBurst(t *testing.T) {
	env := startEnv(t, fileStore, nil)
	env.newClient().signup("burst", "burst@example.com", "password1")
	const n = 25 // under the 30-per-IP limit, so only the account limit acts
	codes := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := env.newClient().do("POST", "/api/auth/login", map[string]string{"username": "burst", "password": fmt.Sprintf("guess-%02d", i)})
			codes <- r.StatusCode
		}()
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if count[401] > 10 || count[401]+count[429]+count[503] != n {
		t.Errorf("burst of %d wrong logins got %v; want at most 10 × 401, the rest 429 (or 503 busy)", n, count)
	}
}

// TestLoginFloodIsFair: one address floods login with far more requests
// than the bcrypt slots can serve at once, and keeps doing so; a user on
// another address still logs in, with a 200, in about the time one bcrypt
// check takes, because slots are shared round-robin between addresses and
// a request waits for a slot instead of being refused by queue length.
func TestLoginFloodIsFair(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, func(c *config) { c.rateLimits = false; c.bcryptCost = 8 })
		env.newClient().signup("ursula", "ursula@example.com", "password1")
		victim := env.newClientFrom("127.0.0.2")

		start := time.Now()
		victim.login("email", "ursula@example.com", "password1")
		alone := time.Since(start)

		const flooders = 150
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[int]int{}
		for range flooders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := env.newClient()
				for {
					select {
					case <-stop:
						return
					default:
					}
					r := c.do("POST", "/api/auth/login", map[string]string{"email": "ursula@example.com", "password": "wrong-password"})
					mu.Lock()
					codes[r.StatusCode]++
					mu.Unlock()
				}
			}()
		}
		// However the test ends, the flood stops before it returns: a
		// request from a goroutine after the end would fail a finished test.
		halt := sync.OnceFunc(func() { close(stop); wg.Wait() })
		defer halt()
		time.Sleep(300 * time.Millisecond) // let the flood fill every queue
		start = time.Now()
		// The victim is served in turn, between the flood's requests. On a
		// machine starved by other work a turn can still come too late for
		// the gate's time bound (503 busy, with Retry-After), and the victim
		// then tries again, as a client should; three tries must do.
		var r *response
		for try := 0; try < 3; try++ {
			r = victim.do("POST", "/api/auth/login", map[string]string{"email": "ursula@example.com", "password": "password1"})
			if r.StatusCode != http.StatusServiceUnavailable {
				break
			}
		}
		r.want(t, http.StatusOK)
		during := time.Since(start)
		halt()
		mu.Lock()
		defer mu.Unlock()
		if codes[http.StatusUnauthorized] == 0 {
			t.Errorf("the flood got %v, want some 401s: it did not reach bcrypt", codes)
		}
		t.Logf("victim's login alone: %v; during a flood of %d concurrent logins from another address: %v; flood answers: %v",
			alone, flooders, during, codes)
	})
}

// TestChangePasswordLimit: password changes count per account, successes
// included, so one account cannot keep the bcrypt slots busy with them.
func TestChangePasswordLimit(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, nil)
		c := env.newClient()
		c.signup("vera", "vera@example.com", "password1")
		pw := "password1"
		for i := range 10 {
			next := fmt.Sprintf("password-%d", i)
			r := c.do("POST", "/api/auth/change-password", map[string]string{"currentPassword": pw, "newPassword": next}).want(t, 200)
			var d authDoc
			r.json(t, &d)
			c.token, pw = d.AccessToken, next
		}
		r := c.do("POST", "/api/auth/change-password", map[string]string{"currentPassword": pw, "newPassword": "password-x"})
		r.wantProblem(t, 429, "rate_limited")
		if r.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	})
}

// TestRehashAfterCostChange: after the operator raises BCRYPT_COST, a
// user's next successful login stores a hash of the new cost, without
// touching the credential version (the user's other sessions live on).
func TestRehashAfterCostChange(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, nil) // cost 4
		phone := env.newClient()
		phone.signup("xena", "xena@example.com", "password1")
		raised := env.restartEnv(func(c *config) { c.bcryptCost = 5 })
		raised.newClient().login("email", "xena@example.com", "password1")
		u, err := env.app.store.UserByEmail(context.Background(), "xena@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if cost, err := bcrypt.Cost([]byte(u.PasswordHash)); err != nil || cost != 5 || u.CredentialVersion != 0 {
			t.Errorf("after a login at cost 5: stored hash cost %d (%v), credential version %d; want 5 and 0", cost, err, u.CredentialVersion)
		}
		phone.do("GET", "/api/users/me", nil).want(t, 200)
		raised.newClient().login("email", "xena@example.com", "password1")
	})
}

func TestRateLimitsOff(t *testing.T) {
	env := startEnv(t, fileStore, func(c *config) { c.rateLimits = false })
	c := env.newClient()
	for i := 0; i < 40; i++ {
		c.do("POST", "/api/auth/login", map[string]string{"email": "x@example.com", "password": "whatever1"}).wantProblem(t, 401, "invalid_credentials")
	}
}

func TestCSRFGuard(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, nil)
		c := env.newClient()
		c.signup("rita", "rita@example.com", "password1")
		c.do("POST", "/api/auth/refresh", nil, "Origin", "https://evil.example").wantProblem(t, 403, "origin_not_allowed")
		c.do("POST", "/api/auth/logout", nil, "Origin", "https://evil.example").wantProblem(t, 403, "origin_not_allowed")
		c.do("GET", "/api/users/me", nil).want(t, 200) // the refused logout changed nothing
		c.do("POST", "/api/auth/refresh", nil, "Origin", "http://localhost:3000").want(t, 200)

		// Login, sign-up and change-password set the refresh cookie too: a
		// foreign page must not log a browser into the attacker's account
		// (login CSRF) nor change a password with a stolen access token
		// from another origin.
		evil := env.newClient()
		evil.do("POST", "/api/auth/login", map[string]string{"email": "rita@example.com", "password": "password1"},
			"Origin", "https://evil.example").wantProblem(t, 403, "origin_not_allowed")
		evil.do("POST", "/api/auth/signup", map[string]string{"username": "mallory", "email": "m@example.com", "password": "password1"},
			"Origin", "https://evil.example").wantProblem(t, 403, "origin_not_allowed")
		c.do("POST", "/api/auth/change-password", map[string]string{"currentPassword": "password1", "newPassword": "password2"},
			"Origin", "https://evil.example").wantProblem(t, 403, "origin_not_allowed")
		if evil.refreshCookie() != "" {
			t.Error("a refused cross-origin login or sign-up set the refresh cookie")
		}
		env.newClient().login("email", "rita@example.com", "password1") // the password did not change
		env.newClient().do("POST", "/api/auth/login", map[string]string{"username": "mallory", "password": "password1"}).
			wantProblem(t, 401, "invalid_credentials") // the refused sign-up made no account

		// A cross-site form or a no-cors fetch sends no application/json:
		// JSON routes answer 415 and do nothing.
		for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded"} {
			evil.do("POST", "/api/auth/login", `{"email":"rita@example.com","password":"password1"}`, "Content-Type", ct).
				wantProblem(t, 415, "unsupported_media_type")
			evil.do("POST", "/api/auth/signup", `{"username":"mallory","email":"m@example.com","password":"password1"}`, "Content-Type", ct).
				wantProblem(t, 415, "unsupported_media_type")
		}
		if evil.refreshCookie() != "" {
			t.Error("a login without Content-Type: application/json set the refresh cookie")
		}
	})
}

func TestSweepRemovesExpiredSessions(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, nil)
		old := env.newClient()
		d := old.signup("sam", "sam@example.com", "password1")
		sid := claimsOf(t, d.AccessToken)["sid"].(string)
		env.clock.Advance(7*24*time.Hour + time.Second)
		fresh := env.newClient()
		fresh.login("username", "sam", "password1")

		if n, err := env.app.sessionSvc.SweepExpired(context.Background()); err != nil || n != 1 {
			t.Errorf("SweepExpired = %d, %v; want 1, nil", n, err)
		}

		if _, err := env.app.store.Session(context.Background(), sid); !errors.Is(err, auth.ErrSessionNotFound) {
			t.Errorf("expired session after the sweep: %v, want ErrSessionNotFound", err)
		}
		fresh.do("GET", "/api/users/me", nil).want(t, 200)
	})
}

// TestLogoutAndRefreshBodies covers the bodies refresh and logout may get:
// logout ends the cookie's session whatever the body holds, and an empty
// chunked body means "use the cookie".
func TestLogoutAndRefreshBodies(t *testing.T) {
	env := startEnv(t, fileStore, nil)
	for i, tc := range []struct{ body, contentType string }{
		{"bye", "text/plain"},
		{"x=1", "application/x-www-form-urlencoded"},
		{"{", "application/json"},
		{`{"refreshToken":7}`, "application/json"},
	} {
		c := env.newClient()
		name := "leaver" + strconv.Itoa(i)
		c.signup(name, name+"@example.com", "password1")
		c.do("POST", "/api/auth/logout", tc.body, "Content-Type", tc.contentType).want(t, 204)
		c.do("GET", "/api/users/me", nil).wantProblem(t, 401, "session_revoked")
	}

	c := env.newClient()
	c.signup("chunky", "chunky@example.com", "password1")
	req, _ := http.NewRequest("POST", env.srv.URL+"/api/auth/refresh", io.NopCloser(strings.NewReader("")))
	req.ContentLength = -1 // sent chunked, with nothing in it
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("refresh with an empty chunked body and a cookie = %d, want 200", resp.StatusCode)
	}
}

func TestReuseInBodyClearsCookie(t *testing.T) {
	env := startEnv(t, fileStore, nil)
	c := env.newClient()
	d := c.signupForBody("tom")
	c.refresh(t) // rotates through the cookie; d.RefreshToken is now retired
	env.clock.Advance(11 * time.Second)
	c.refreshBody(d.RefreshToken).wantProblem(t, 401, "refresh_token_reused")
	if c.refreshCookie() != "" {
		t.Error("reuse detected through the body left the refresh cookie in place")
	}
}

func TestNoGraceWhenGraceIsZero(t *testing.T) {
	env := startEnv(t, fileStore, func(c *config) { c.reuseGrace = 0 })
	d := env.newClient().signupForBody("ursula")
	env.newClient().refreshBody(d.RefreshToken).want(t, 200)
	// Same instant as the rotation: with the grace window off, this is reuse.
	env.newClient().refreshBody(d.RefreshToken).wantProblem(t, 401, "refresh_token_reused")
}

// TestDeviceCookies: a stranger's failed logins from one address lock out
// only that address; a spread attack over many addresses reaches the
// per-name ceiling, past which a new browser is refused but the owner's
// browser, holding the device cookie of an earlier login, still gets in.
// Each client connects from its own loopback address.
func TestDeviceCookies(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, nil)
		env.newClient().signup("wanda", "wanda@example.com", "password1")
		creds := func(pw string) map[string]string {
			return map[string]string{"email": "wanda@example.com", "password": pw}
		}

		laptop := env.newClientFrom("127.0.0.3")
		laptop.login("email", "wanda@example.com", "password1")
		u, _ := url.Parse(env.srv.URL + "/api/auth/login")
		hasDevice := false
		for _, c := range laptop.http.Jar.Cookies(u) {
			hasDevice = hasDevice || strings.HasPrefix(c.Name, "device_")
		}
		if !hasDevice {
			t.Fatal("a successful login left no device cookie for the login route")
		}

		stranger := env.newClientFrom("127.0.0.2")
		for range 10 {
			stranger.do("POST", "/api/auth/login", creds("wrong-password")).wantProblem(t, 401, "invalid_credentials")
		}
		stranger.do("POST", "/api/auth/login", creds("password1")).wantProblem(t, 429, "rate_limited")
		env.newClientFrom("127.0.0.4").login("email", "wanda@example.com", "password1") // the owner, elsewhere, new browser

		for i := range 10 {
			spread := env.newClientFrom(fmt.Sprintf("127.0.1.%d", i+1))
			for range 9 {
				spread.do("POST", "/api/auth/login", creds("wrong-password")).wantProblem(t, 401, "invalid_credentials")
			}
		}
		env.newClientFrom("127.0.0.50").do("POST", "/api/auth/login", creds("password1")).wantProblem(t, 429, "rate_limited")
		laptop.login("email", "wanda@example.com", "password1") // the device cookie still gets in
	})
}
