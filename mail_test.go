package main

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// mailEnv starts corkboard on the store of o with mail going over SMTP to a
// sink of the test's own, and edit applied to the configuration.
func mailEnv(t *testing.T, o storeOpener, edit func(*config)) (*testEnv, *smtpSink) {
	t.Helper()
	sink := startSMTPSink(t)
	env := startEnv(t, o, func(c *config) {
		c.smtpHost, c.smtpPort = "127.0.0.1", sink.port()
		if edit != nil {
			edit(c)
		}
	})
	return env, sink
}

// TestPasswordReset follows the whole flow through a real SMTP conversation
// and real cookie jars: forgot, the mail, a refused mismatch, the reset,
// every session dead, the old password refused, the new one working, the
// confirmation mail, and the token refused a second time.
func TestPasswordReset(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env, sink := mailEnv(t, o, nil)
		laptop := env.newClient()
		laptop.signup("alice", "alice@example.com", "password1")
		phone := env.newClient()
		phone.login("username", "alice", "password1")

		stranger := env.newClient()
		r := stranger.do("POST", "/api/auth/forgot-password", map[string]string{"email": "Alice@Example.com"}).want(t, 202)
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("forgot-password Cache-Control = %q, want no-store", r.Header.Get("Cache-Control"))
		}
		m := sink.next("alice@example.com", "reset")
		token := m.token(t)
		if !strings.HasPrefix(strings.TrimSpace(m.Text[strings.Index(m.Text, "http"):]), "http://localhost:8080/reset-password?token=") {
			t.Errorf("reset link does not start with RESET_URL: %q", m.Text)
		}
		if m.HTML == "" || !strings.Contains(m.HTML, token) {
			t.Error("reset mail has no HTML part carrying the link")
		}

		// A mismatch is a 422, and the token stays usable.
		p := stranger.do("POST", "/api/auth/reset-password", map[string]string{"token": token, "password": "password2", "passwordConfirm": "password3"}).
			wantProblem(t, 422, "validation_failed")
		if p.Errors["passwordConfirm"] == "" {
			t.Errorf("422 errors %v do not name passwordConfirm", p.Errors)
		}
		stranger.do("POST", "/api/auth/reset-password", map[string]string{"token": token, "password": "short", "passwordConfirm": "short"}).
			wantProblem(t, 422, "validation_failed")
		r = stranger.do("POST", "/api/auth/reset-password", map[string]string{"token": token, "password": "password2", "passwordConfirm": "password2"}).want(t, 200)
		if !strings.Contains(strings.Join(r.Header.Values("Set-Cookie"), "\n"), "device_") {
			t.Error("a completed reset gave the browser no device cookie")
		}

		for name, c := range map[string]*client{"laptop": laptop, "phone": phone} {
			c.do("GET", "/api/users/me", nil).wantProblem(t, 401, "session_revoked")
			c.do("POST", "/api/auth/refresh", nil).wantProblem(t, 401, "session_revoked")
			_ = name
		}
		env.newClient().do("POST", "/api/auth/login", map[string]string{"username": "alice", "password": "password1"}).wantProblem(t, 401, "invalid_credentials")
		d := env.newClient().login("username", "alice", "password2")
		if d.User.EmailVerified == nil || !*d.User.EmailVerified {
			t.Errorf("after a reset, emailVerified = %v, want true: the mail proved the address", d.User.EmailVerified)
		}
		sink.next("alice@example.com", "changed")
		stranger.do("POST", "/api/auth/reset-password", map[string]string{"token": token, "password": "password4", "passwordConfirm": "password4"}).
			wantProblem(t, 400, "invalid_reset_token")
	})
}

// TestResetTokenRules: a reset token expires, is superseded by a newer
// request, and anything that is not a live token is a 400; a body with
// extra fields or a malformed address is a 422.
func TestResetTokenRules(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env, sink := mailEnv(t, o, nil)
		env.newClient().signup("bob", "bob@example.com", "password1")
		c := env.newClient()
		reset := func(token string) *response {
			return c.do("POST", "/api/auth/reset-password", map[string]string{"token": token, "password": "password2", "passwordConfirm": "password2"})
		}
		forgot := func() string {
			c.do("POST", "/api/auth/forgot-password", map[string]string{"email": "bob@example.com"}).want(t, 202)
			return sink.next("bob@example.com", "reset").token(t)
		}

		expired := forgot()
		env.clock.Advance(15*time.Minute + time.Second)
		reset(expired).wantProblem(t, 400, "invalid_reset_token")

		older := forgot()
		newer := forgot()
		reset(older).wantProblem(t, 400, "invalid_reset_token")

		for _, bad := range []string{"", "x", newer[:len(newer)-1], newer + "A", strings.Repeat("A", 10000), "../../etc/passwd", "%00"} {
			reset(bad).wantProblem(t, 400, "invalid_reset_token")
		}
		c.do("POST", "/api/auth/reset-password", map[string]any{"token": newer, "password": "password2", "passwordConfirm": "password2", "admin": true}).
			wantProblem(t, 422, "validation_failed")
		c.do("POST", "/api/auth/forgot-password", map[string]string{"email": "not an address"}).wantProblem(t, 422, "validation_failed")
		c.do("POST", "/api/auth/forgot-password", map[string]any{"email": map[string]any{"$ne": nil}}).wantProblem(t, 422, "validation_failed")
		reset(newer).want(t, 200) // none of the refusals used it up
	})
}

// TestResetRace: two resets racing with one token; exactly one wins.
func TestResetRace(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env, sink := mailEnv(t, o, nil)
		env.newClient().signup("cora", "cora@example.com", "password1")
		env.newClient().do("POST", "/api/auth/forgot-password", map[string]string{"email": "cora@example.com"}).want(t, 202)
		token := sink.next("cora@example.com", "reset").token(t)
		codes := make([]int, 2)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range codes {
			wg.Go(func() {
				<-start
				pw := fmt.Sprintf("password-%d", i)
				codes[i] = env.newClient().do("POST", "/api/auth/reset-password", map[string]string{"token": token, "password": pw, "passwordConfirm": pw}).StatusCode
			})
		}
		close(start)
		wg.Wait()
		slices.Sort(codes)
		if !slices.Equal(codes, []int{200, 400}) {
			t.Errorf("two racing resets with one token answered %v, want one 200 and one 400", codes)
		}
	})
}

// TestForgotPasswordRevealsNothing: known and unknown addresses get the
// same status, body and headers, also when repeated; only the mail differs.
func TestForgotPasswordRevealsNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env, sink := mailEnv(t, o, func(c *config) { c.rateLimits = false })
		env.newClient().signup("dina", "dina@example.com", "password1")
		c := env.newClient()
		answer := func(email string) string {
			r := c.do("POST", "/api/auth/forgot-password", map[string]string{"email": email})
			h := r.Header.Clone()
			h.Del("Date")
			h.Del("X-Request-Id")
			return fmt.Sprintf("%d %v %s", r.StatusCode, h, r.body)
		}
		known := answer("dina@example.com")
		for _, email := range []string{"nobody@example.com", "dina@example.com", "nobody@example.com"} {
			if got := answer(email); got != known {
				t.Errorf("forgot-password(%s) = %s\nwant the same as for a known address: %s", email, got, known)
			}
		}
		sink.next("dina@example.com", "reset")
		sink.next("dina@example.com", "reset")
		time.Sleep(100 * time.Millisecond)
		if n := sink.count("nobody@example.com"); n != 0 {
			t.Errorf("%d mails went to an address with no account", n)
		}
	})
}

// TestForgotPasswordLimit: 5 requests per client address per 15 minutes.
func TestForgotPasswordLimit(t *testing.T) {
	env, _ := mailEnv(t, fileStore, nil)
	c := env.newClient()
	for range 5 {
		c.do("POST", "/api/auth/forgot-password", map[string]string{"email": "x@example.com"}).want(t, 202)
	}
	c.do("POST", "/api/auth/forgot-password", map[string]string{"email": "x@example.com"}).wantProblem(t, 429, "rate_limited")
	env.newClientFrom("127.0.0.2").do("POST", "/api/auth/forgot-password", map[string]string{"email": "x@example.com"}).want(t, 202)
}

// TestVerifyEmail: sign-up mails a verification link; a resend supersedes
// it; the link verifies the address (the page asks for a click, then posts
// the token), once; a verified address cannot ask again.
func TestVerifyEmail(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env, sink := mailEnv(t, o, nil)
		c := env.newClient()
		d := c.signup("erin", "erin@example.com", "password1")
		if d.User.EmailVerified == nil || *d.User.EmailVerified {
			t.Fatalf("after sign-up emailVerified = %v, want false", d.User.EmailVerified)
		}
		first := sink.next("erin@example.com", "Confirm").token(t)
		c.do("POST", "/api/auth/resend-verification", nil).want(t, 202)
		second := sink.next("erin@example.com", "Confirm").token(t)

		anon := env.newClient()
		anon.do("POST", "/api/auth/verify-email", map[string]string{"token": first}).wantProblem(t, 400, "invalid_verification_token")
		anon.do("POST", "/api/auth/verify-email", map[string]string{"token": "garbage"}).wantProblem(t, 400, "invalid_verification_token")
		r := anon.do("POST", "/api/auth/verify-email", map[string]string{"token": second}).want(t, 200)
		var got struct{ User userDoc }
		r.json(t, &got)
		if got.User.EmailVerified == nil || !*got.User.EmailVerified || got.User.Email != "erin@example.com" {
			t.Errorf("verify-email answered %s, want the user with emailVerified true", r.body)
		}
		anon.do("POST", "/api/auth/verify-email", map[string]string{"token": second}).wantProblem(t, 400, "invalid_verification_token")
		c.do("POST", "/api/auth/resend-verification", nil).wantProblem(t, 409, "already_verified")
		c.do("GET", "/api/users/me", nil).want(t, 200)
		env.newClient().do("POST", "/api/auth/resend-verification", nil).wantProblem(t, 401, "missing_token")
	})
}

// TestAdminEmailsNeedVerification: whoever signs up first with an address
// listed in ADMIN_EMAILS does not become admin. The address is proved by a
// password reset, not a mere click (the owner clicking a link in a mail
// they did not ask for would otherwise make the squatter, who knows the
// password, an admin): the reset replaces the password and ends every
// session, so only the owner of the mailbox holds the admin account.
func TestAdminEmailsNeedVerification(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env, sink := mailEnv(t, o, nil) // ADMIN_EMAILS=root@example.com
		squatter := env.newClient()
		d := squatter.signup("root", "root@example.com", "password1")
		if slices.Contains(d.User.Roles, "admin") {
			t.Fatalf("an unverified ADMIN_EMAILS sign-up got roles %v", d.User.Roles)
		}
		squatter.do("GET", "/api/test/admin", nil).wantProblem(t, 403, "insufficient_role")
		token := sink.next("root@example.com", "administrator").token(t)
		owner := env.newClient()
		owner.do("POST", "/api/auth/reset-password", map[string]string{"token": token, "password": "owner's password", "passwordConfirm": "owner's password"}).want(t, 200)
		squatter.do("GET", "/api/test/admin", nil).wantProblem(t, 401, "session_revoked")
		squatter.do("POST", "/api/auth/login", map[string]string{"username": "root", "password": "password1"}).wantProblem(t, 401, "invalid_credentials")
		me := owner.login("username", "root", "owner's password")
		if !slices.Contains(me.User.Roles, "admin") || me.User.EmailVerified == nil || !*me.User.EmailVerified {
			t.Errorf("after the reset: roles %v, emailVerified %v; want admin and verified", me.User.Roles, me.User.EmailVerified)
		}
		owner.do("GET", "/api/test/admin", nil).want(t, 200)
	})
}

// TestMailServerDown: with the SMTP server unreachable, sign-up and
// forgot-password still answer at once; the failure is logged without the
// link; and when the server is back, the queue's retry delivers the mail,
// whose token still works: nothing is lost.
func TestMailServerDown(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close() // nobody listens there for now
		env := startEnv(t, o, func(c *config) { c.smtpHost, c.smtpPort = "127.0.0.1", port })
		c := env.newClient()
		start := time.Now()
		c.signup("fay", "fay@example.com", "password1")
		c.do("POST", "/api/auth/forgot-password", map[string]string{"email": "fay@example.com"}).want(t, 202)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("sign-up and forgot-password took %v with the mail server down: they waited for the mail", d)
		}
		waitForLog(t, env, "mail delivery failed")

		sink := startSMTPSinkOn(t, port) // the server is back before the next retry
		token := sink.next("fay@example.com", "reset").token(t)
		if logs := env.logs.String(); strings.Contains(logs, token) {
			t.Errorf("the log holds the reset token:\n%s", logs)
		}
		env.newClient().do("POST", "/api/auth/reset-password", map[string]string{"token": token, "password": "password2", "passwordConfirm": "password2"}).want(t, 200)
	})
}

// TestMailLimits: wrong reset tokens are limited per client address, and
// verification mails per account.
func TestMailLimits(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env, _ := mailEnv(t, o, nil)
		guesser := env.newClient()
		for i := range 10 {
			guesser.do("POST", "/api/auth/reset-password", map[string]string{"token": fmt.Sprintf("%043d", i), "password": "password2", "passwordConfirm": "password2"}).
				wantProblem(t, 400, "invalid_reset_token")
		}
		r := guesser.do("POST", "/api/auth/reset-password", map[string]string{"token": strings.Repeat("A", 43), "password": "password2", "passwordConfirm": "password2"})
		r.wantProblem(t, 429, "rate_limited")
		if r.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}

		c := env.newClient()
		c.signup("gus", "gus@example.com", "password1")
		for range 5 {
			c.do("POST", "/api/auth/resend-verification", nil).want(t, 202)
		}
		c.do("POST", "/api/auth/resend-verification", nil).wantProblem(t, 429, "rate_limited")
	})
}
