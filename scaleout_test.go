package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"corkboard/mongostore/mongotest"
	"corkboard/user/usertest"
)

// instance is one corkboard process the test started.
type instance struct {
	name string
	url  string
	cmd  *exec.Cmd
	logs *syncBuffer
}

// startInstance runs the corkboard at bin on MongoDB database db at uri,
// with the secrets every instance behind one load balancer shares, and
// waits until it listens and answers /healthz. Cleanup stops it with
// SIGTERM, as a service manager would.
func startInstance(t *testing.T, bin, name, uri, db string) *instance {
	t.Helper()
	in := &instance{name: name, logs: new(syncBuffer)}
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0")
	// A working directory of its own: no .env of the developer's is read.
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(),
		"STORE=mongo", "MONGO_URI="+uri, "MONGO_DB="+db,
		"DATA_DIR="+filepath.Join(cmd.Dir, "data"),
		"ACCESS_TOKEN_SECRET=scale-out-access-secret-0123456789abcdef",
		"REFRESH_TOKEN_SECRET=scale-out-refresh-secret-0123456789abcdef",
		// Plain HTTP on loopback, behind a load balancer that says who
		// the client is.
		"COOKIE_SECURE=false", "TRUST_PROXY=true",
		"BCRYPT_COST=4",
		// Short, so that the reuse test need not wait 10 s.
		"REFRESH_REUSE_GRACE=1s",
	)
	cmd.Stdout = io.Discard
	cmd.Stderr = in.logs
	cmd.SysProcAttr = dieWithTest(cmd.SysProcAttr)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting instance %s: %v", name, err)
	}
	in.cmd = cmd
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("instance %s did not stop within 15 s of SIGTERM", name)
		}
		if t.Failed() {
			t.Logf("log of instance %s:\n%s", name, in.logs.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := listenRE.FindStringSubmatch(in.logs.String()); m != nil {
			in.url = "http://" + m[1]
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("instance %s exited at start: %v\n%s", name, err, in.logs.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance %s did not listen within 30 s:\n%s", name, in.logs.String())
		}
	}
	resp, err := http.Get(in.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("instance %s: GET /healthz = %d, want 200", name, resp.StatusCode)
	}
	return in
}

// agent is one browser behind the load balancer: a cookie jar (both
// instances are on 127.0.0.1, and cookies ignore ports, so the jar sends
// what one instance set to the other, as one site name would), the access
// token, and the client address the load balancer reports in
// X-Forwarded-For.
type agent struct {
	t     *testing.T
	http  *http.Client
	ip    string
	token string
}

func newAgent(t *testing.T, ip string) *agent {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &agent{t: t, ip: ip, http: &http.Client{Jar: jar, Timeout: time.Minute}}
}

// do sends a request to one instance. body may be nil, []byte (with a
// Content-Type among header) or a value sent as JSON.
func (g *agent) do(in *instance, method, path string, body any, header ...string) *response {
	g.t.Helper()
	req, err := newAPIRequest(method, in.url+path, body, g.token)
	if err != nil {
		g.t.Fatal(err)
	}
	req.Header.Set("X-Forwarded-For", g.ip)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := g.http.Do(req)
	if err != nil {
		g.t.Fatalf("%s %s on %s: %v", method, path, in.name, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		g.t.Fatalf("%s %s on %s: reading body: %v", method, path, in.name, err)
	}
	return &response{Response: resp, body: data}
}

// auth sends a sign-up or login and keeps the access token.
func (g *agent) auth(in *instance, path string, body map[string]any, status int) authDoc {
	g.t.Helper()
	var d authDoc
	g.do(in, "POST", path, body).want(g.t, status).json(g.t, &d)
	g.token = d.AccessToken
	return d
}

// refreshCookie returns the refresh cookie the jar holds, or "".
func (g *agent) refreshCookie(in *instance) string {
	req, _ := http.NewRequest("POST", in.url+"/api/auth/refresh", nil)
	for _, c := range g.http.Jar.Cookies(req.URL) {
		if c.Name == "refresh_token" {
			return c.Value
		}
	}
	return ""
}

// inOneWindow runs burst, which must use keys (client addresses, names) of
// its own on each call, until one run starts and ends within one window of
// length w, then hands its result to check. The shared limits count in
// windows on multiples of their length since the Unix epoch; a burst that
// straddles a boundary would see two windows' worth and prove nothing. A
// burst is short next to a window, so a second run nearly always fits.
func inOneWindow[R any](t *testing.T, w time.Duration, burst func(run int) R, check func(R)) {
	t.Helper()
	for run := range 3 {
		start := time.Now()
		r := burst(run)
		if start.UnixMilli()/w.Milliseconds() == time.Now().UnixMilli()/w.Milliseconds() {
			check(r)
			return
		}
		t.Logf("run %d crossed the boundary of a %v window; again with fresh keys", run, w)
	}
	t.Fatalf("three bursts in a row crossed a %v window boundary", w)
}

// statusCounts counts the statuses of concurrent requests.
type statusCounts struct {
	mu sync.Mutex
	n  map[int]int
}

func (c *statusCounts) add(status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = make(map[int]int)
	}
	c.n[status]++
}

// TestTwoInstances runs two corkboard processes on one MongoDB database
// and shows that what a user sees holds across them: the rate limits are
// one limit, not one per instance; a logout, a password change, a role
// change and a refresh-token reuse on one instance are in force on the
// other at its next request; a picture uploaded through one is served by
// the other.
func TestTwoInstances(t *testing.T) {
	uri := mongotest.URI(t)
	db := mongotest.NewDatabaseName(t)
	// The test's own connection: it drops the database at the end, and
	// makes the first admin (how an admin comes to be is tested
	// elsewhere).
	st := mongotest.OpenDatabase(t, db)
	bin := corkboardBinary(t)
	a := startInstance(t, bin, "A", uri, db)
	b := startInstance(t, bin, "B", uri, db)
	both := [2]*instance{a, b}

	t.Run("LoginLimitPerAddress", func(t *testing.T) {
		// 30 login requests per client address per minute, in all: 40
		// wrong logins from one address, 20 to each instance at once,
		// get exactly 30 answers and 10 refusals.
		inOneWindow(t, time.Minute, func(run int) map[int]int {
			ip := fmt.Sprintf("203.0.113.%d", 10+run)
			var counts statusCounts
			var wg sync.WaitGroup
			for _, in := range both {
				wg.Add(1)
				go func() {
					defer wg.Done()
					g := newAgent(t, ip)
					for i := range 20 {
						r := g.do(in, "POST", "/api/auth/login", map[string]any{
							"email": fmt.Sprintf("nobody-%d-%s-%d@example.com", run, in.name, i), "password": "wrong-password",
						})
						if r.StatusCode == http.StatusTooManyRequests {
							if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
								t.Errorf("429 on %s: Retry-After %q, want 1 to 60 seconds", in.name, r.Header.Get("Retry-After"))
							}
						}
						counts.add(r.StatusCode)
					}
				}()
			}
			wg.Wait()
			return counts.n
		}, func(n map[int]int) {
			// A 503 (bcrypt busy) was counted by the request limit too.
			if n[429] != 10 || n[401]+n[503] != 30 {
				t.Errorf("40 logins from one address across two instances: %v; want 30 × 401 (or 503 busy) and 10 × 429", n)
			}
		})
	})

	t.Run("FailedLoginsPerNameAndAddress", func(t *testing.T) {
		newAgent(t, "192.0.2.1").auth(a, "/api/auth/signup", map[string]any{"username": "nina", "email": "nina@example.com", "password": "password1"}, 201)
		inOneWindow(t, 15*time.Minute, func(run int) []int {
			g := newAgent(t, fmt.Sprintf("192.0.2.%d", 10+run))
			var got []int
			for i := range 12 {
				got = append(got, g.do(both[i%2], "POST", "/api/auth/login", map[string]any{"username": "nina", "password": "wrong-password"}).StatusCode)
			}
			// Locked for that name from that address, even with the
			// right password, on either instance.
			got = append(got, g.do(b, "POST", "/api/auth/login", map[string]any{"username": "nina", "password": "password1"}).StatusCode)
			return got
		}, func(got []int) {
			want := []int{401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 429, 429, 429}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("wrong logins for one name from one address, alternating instances: %v; want %v", got, want)
			}
		})
		// Another address still gets in.
		newAgent(t, "192.0.2.99").auth(b, "/api/auth/login", map[string]any{"username": "nina", "password": "password1"}, 200)
	})

	t.Run("FailedLoginsPerName", func(t *testing.T) {
		newAgent(t, "192.0.2.1").auth(b, "/api/auth/signup", map[string]any{"username": "omar", "email": "omar@example.com", "password": "password1"}, 201)
		// 100 failures per name from all addresses: 12 addresses at once,
		// 9 guesses each (under the per-address limits), across both
		// instances, get exactly 100 answers.
		inOneWindow(t, 15*time.Minute, func(run int) map[int]int {
			var counts statusCounts
			var wg sync.WaitGroup
			for k := range 12 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					g := newAgent(t, fmt.Sprintf("198.51.%d.%d", 100+run, k+1))
					for i := range 9 {
						counts.add(g.do(both[(k+i)%2], "POST", "/api/auth/login", map[string]any{"username": "omar", "password": "wrong-password"}).StatusCode)
					}
				}()
			}
			wg.Wait()
			return counts.n
		}, func(n map[int]int) {
			if n[401]+n[503] != 100 || n[429] != 8 {
				t.Errorf("108 wrong logins for one name from 12 addresses across two instances: %v; want 100 × 401 (or 503 busy) and 8 × 429", n)
			}
		})
	})

	t.Run("SignupLimitPerAddress", func(t *testing.T) {
		// 20 sign-ups per client address per hour, in all.
		inOneWindow(t, time.Hour, func(run int) []int {
			g := newAgent(t, fmt.Sprintf("203.0.113.%d", 100+run))
			var got []int
			for i := range 23 {
				name := fmt.Sprintf("signup%d_%d", run, i)
				got = append(got, g.do(both[i%2], "POST", "/api/auth/signup", map[string]any{"username": name, "email": name + "@example.com", "password": "password1"}).StatusCode)
			}
			return got
		}, func(got []int) {
			var n201, n429 int
			for i, s := range got {
				switch {
				case i < 20 && s == 201:
					n201++
				case i >= 20 && s == 429:
					n429++
				}
			}
			if n201 != 20 || n429 != 3 {
				t.Errorf("23 sign-ups from one address, alternating instances: %v; want 20 × 201, then 3 × 429", got)
			}
		})
	})

	t.Run("LogoutOnOneIsLogoutOnAll", func(t *testing.T) {
		g := newAgent(t, "192.0.2.20")
		g.auth(a, "/api/auth/signup", map[string]any{"username": "lena", "email": "lena@example.com", "password": "password1"}, 201)
		g.do(b, "GET", "/api/users/me", nil).want(t, 200)
		var d tokenDoc
		g.do(b, "POST", "/api/auth/refresh", nil).want(t, 200).json(t, &d) // rotated on B
		g.token = d.AccessToken
		cookie := g.refreshCookie(a)
		g.do(a, "GET", "/api/users/me", nil).want(t, 200)

		g.do(a, "POST", "/api/auth/logout", nil).want(t, 204)
		g.do(b, "GET", "/api/users/me", nil).wantProblem(t, 401, "session_revoked")
		// The cookie, replayed by hand (the jar dropped it at logout).
		newAgent(t, g.ip).do(b, "POST", "/api/auth/refresh", nil, "Cookie", "refresh_token="+cookie).wantProblem(t, 401, "session_revoked")
	})

	t.Run("PasswordChangeOnOneEndsSessionsOnAll", func(t *testing.T) {
		laptop, phone := newAgent(t, "192.0.2.30"), newAgent(t, "192.0.2.31")
		laptop.auth(a, "/api/auth/signup", map[string]any{"username": "otto", "email": "otto@example.com", "password": "password1"}, 201)
		phone.auth(b, "/api/auth/login", map[string]any{"email": "otto@example.com", "password": "password1"}, 200)
		phone.do(b, "GET", "/api/users/me", nil).want(t, 200)
		oldAccess, oldCookie := laptop.token, laptop.refreshCookie(a)

		laptop.auth(a, "/api/auth/change-password", map[string]any{"currentPassword": "password1", "newPassword": "password2"}, 200)
		phone.do(b, "GET", "/api/users/me", nil).wantProblem(t, 401, "session_revoked")
		phone.do(b, "POST", "/api/auth/refresh", nil).wantProblem(t, 401, "session_revoked")
		newAgent(t, "192.0.2.32").do(b, "GET", "/api/users/me", nil, "Authorization", "Bearer "+oldAccess).wantProblem(t, 401, "session_revoked")
		newAgent(t, "192.0.2.32").do(b, "POST", "/api/auth/refresh", nil, "Cookie", "refresh_token="+oldCookie).wantProblem(t, 401, "session_revoked")
		// The new session is good everywhere, and so is the new password.
		laptop.do(b, "GET", "/api/users/me", nil).want(t, 200)
		newAgent(t, "192.0.2.33").do(b, "POST", "/api/auth/login", map[string]any{"email": "otto@example.com", "password": "password1"}).wantProblem(t, 401, "invalid_credentials")
		newAgent(t, "192.0.2.33").auth(b, "/api/auth/login", map[string]any{"email": "otto@example.com", "password": "password2"}, 200)
	})

	t.Run("RoleChangeOnOneIsInForceOnAll", func(t *testing.T) {
		root := newAgent(t, "192.0.2.40")
		rd := root.auth(a, "/api/auth/signup", map[string]any{"username": "root", "email": "root@example.com", "password": "password1"}, 201)
		ctx := context.Background()
		if err := st.SetRoles(ctx, rd.User.ID, []string{"user", "admin"}, time.Now()); err != nil {
			t.Fatal(err)
		}
		mod := newAgent(t, "192.0.2.41")
		md := mod.auth(b, "/api/auth/signup", map[string]any{"username": "mona", "email": "mona@example.com", "password": "password1"}, 201)
		mod.do(b, "GET", "/api/test/mod", nil).wantProblem(t, 403, "insufficient_role")

		root.do(a, "PUT", "/api/users/"+md.User.ID+"/roles", map[string]any{"roles": []string{"moderator"}}).want(t, 200)
		mod.do(b, "GET", "/api/test/mod", nil).want(t, 200)
		// The admin demotes the moderator on A; B refuses at once, with
		// the access token the moderator already holds.
		root.do(a, "PUT", "/api/users/"+md.User.ID+"/roles", map[string]any{"roles": []string{}}).want(t, 200)
		mod.do(b, "GET", "/api/test/mod", nil).wantProblem(t, 403, "insufficient_role")
		mod.do(a, "GET", "/api/test/mod", nil).wantProblem(t, 403, "insufficient_role")
	})

	t.Run("PictureUploadedOnOneServedByAll", func(t *testing.T) {
		g := newAgent(t, "192.0.2.50")
		d := g.auth(a, "/api/auth/signup", map[string]any{"username": "pia", "email": "pia@example.com", "password": "password1"}, 201)
		png := usertest.PNG(t, 64, 48, 7)
		body, ct := multipartBody(t, part{name: "picture", filename: "me.png", contentType: "image/png", data: png})
		var u struct{ User userDoc }
		g.do(a, "PUT", "/api/users/"+d.User.ID+"/picture", body, "Content-Type", ct).want(t, 200).json(t, &u)
		if !strings.HasPrefix(u.User.PictureURL, "/api/files/") {
			t.Fatalf("picture upload answered %+v, want a pictureURL", u.User)
		}
		var me struct{ User userDoc }
		g.do(b, "GET", "/api/users/me", nil).want(t, 200).json(t, &me)
		if me.User.PictureURL != u.User.PictureURL {
			t.Errorf("B says pictureURL %q, A said %q", me.User.PictureURL, u.User.PictureURL)
		}
		r := newAgent(t, "192.0.2.51").do(b, "GET", u.User.PictureURL, nil).want(t, 200)
		if !bytes.Equal(r.body, png) || r.Header.Get("Content-Type") != "image/png" {
			t.Errorf("B served %d bytes of %s, want the %d bytes of image/png uploaded on A", len(r.body), r.Header.Get("Content-Type"), len(png))
		}
	})

	t.Run("ReuseOnOneRevokesOnAll", func(t *testing.T) {
		g := newAgent(t, "192.0.2.60")
		g.auth(a, "/api/auth/signup", map[string]any{"username": "rudi", "email": "rudi@example.com", "password": "password1"}, 201)
		stolen := g.refreshCookie(a)
		var d tokenDoc
		g.do(a, "POST", "/api/auth/refresh", nil).want(t, 200).json(t, &d) // rotated on A
		g.token = d.AccessToken
		time.Sleep(1500 * time.Millisecond) // past the 1 s grace window

		newAgent(t, "192.0.2.61").do(b, "POST", "/api/auth/refresh", map[string]any{"refreshToken": stolen}).wantProblem(t, 401, "refresh_token_reused")
		g.do(a, "GET", "/api/users/me", nil).wantProblem(t, 401, "session_revoked")
		g.do(a, "POST", "/api/auth/refresh", nil).wantProblem(t, 401, "session_revoked")
	})
}

// TestSweepRemovesEndedRateLimitWindows: on MongoDB the periodic sweep
// deletes the counts of ended windows, which FerretDB's missing TTL
// indexes would otherwise keep for ever; counts of a window still running
// stay.
func TestSweepRemovesEndedRateLimitWindows(t *testing.T) {
	env := startEnv(t, mongoStore, nil)
	// A sign-up at 9:00 counts in the window of 9:00 to 10:00, kept ten
	// minutes past its end for clocks that lag; a login a second past
	// 10:10 counts in a minute and two quarters that have begun.
	env.newClient().signup("sven", "sven@example.com", "password1")
	env.clock.Advance(time.Hour + 10*time.Minute + time.Second)
	env.newClient().do("POST", "/api/auth/login", map[string]string{"username": "sven", "password": "wrong-password"}).wantProblem(t, 401, "invalid_credentials")
	slots := env.app.store.(interface{ Database() *mongo.Database }).Database().Collection("ratelimits")
	count := func() int64 {
		t.Helper()
		n, err := slots.CountDocuments(context.Background(), bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 4 {
		t.Fatalf("before the sweep: %d rate-limit slots, want 4 (one sign-up, one login request, two login failures)", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); env.app.sweepEvery(ctx, time.Hour) }()
	waitForLog(t, env, "swept rate-limit counts of ended windows")
	cancel()
	<-done
	if n := count(); n != 3 {
		t.Errorf("after the sweep: %d rate-limit slots, want the 3 of the login", n)
	}
}
