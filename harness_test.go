package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"corkboard/web"
)

// clock is a settable clock for tests: token expiry, grace windows and
// rate-limit windows move when the test says so, without sleeping.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock {
	return &clock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testEnv is one corkboard instance behind a TLS test server (TLS so that
// Secure cookies travel, as they do in production).
type testEnv struct {
	t     *testing.T
	srv   *httptest.Server
	clock *clock
	app   *app
	logs  *syncBuffer // everything the app logged
}

// testConfig is the configuration end-to-end tests start from.
func testConfig(t *testing.T) config {
	t.Helper()
	cfg, err := baseConfig(t.TempDir())
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	return cfg
}

// baseConfig is the configuration of tests and benchmarks, with its data
// in dataDir.
func baseConfig(dataDir string) (config, error) {
	return loadConfig(nil, func(string) string { return "" }, map[string]string{
		"DATA_DIR":             dataDir,
		"ACCESS_TOKEN_SECRET":  "test-access-secret-0123456789abcdef",
		"REFRESH_TOKEN_SECRET": "test-refresh-secret-0123456789abcdef",
		"BCRYPT_COST":          "4",
		"ADMIN_EMAILS":         "root@example.com",
	}, io.Discard)
}

// storeOpener opens a fresh store of one kind for a test.
type storeOpener struct {
	name string
	open func(t *testing.T, cfg *config) store
}

// startEnv starts corkboard on st with cfg, edited by edit when not nil.
func startEnv(t *testing.T, opener storeOpener, edit func(*config)) *testEnv {
	t.Helper()
	cfg := testConfig(t)
	if edit != nil {
		edit(&cfg)
	}
	return serveEnv(t, cfg, opener.open(t, &cfg), newClock())
}

// restartEnv starts a second corkboard over e's store and clock, with e's
// configuration edited by edit: an operator restarting with new settings.
func (e *testEnv) restartEnv(edit func(*config)) *testEnv {
	cfg := e.app.cfg
	edit(&cfg)
	return serveEnv(e.t, cfg, e.app.store, e.clock)
}

// serveEnv serves corkboard with cfg on st behind a TLS test server.
func serveEnv(t *testing.T, cfg config, st store, clk *clock) *testEnv {
	t.Helper()
	logs := new(syncBuffer)
	var out io.Writer = logs
	if testing.Verbose() {
		out = io.MultiWriter(logs, tWriter{t})
	}
	log := slog.New(web.RequestIDs(web.NewTextHandler(out)))
	a, err := newApp(cfg, st, clk.Now, log)
	if err != nil {
		t.Fatalf("newApp: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a.close(ctx)
	})
	srv := httptest.NewUnstartedServer(a.routes())
	// Clients cut off when a test ends (a flood stopped midway) would
	// otherwise fill the output with handshake errors.
	srv.Config.ErrorLog = stdlog.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return &testEnv{t: t, srv: srv, clock: clk, app: a, logs: logs}
}

// waitForLog waits up to 10 s for the app's log to contain s.
func waitForLog(t *testing.T, e *testEnv, s string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(e.logs.String(), s); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the log never mentioned %q:\n%s", s, e.logs.String())
		}
	}
}

// tWriter sends log lines to t.Log.
type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// client is one user agent: its own cookie jar, like a browser profile.
type client struct {
	env   *testEnv
	http  *http.Client
	token string // access token sent as Bearer, when set
}

func (e *testEnv) newClient() *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	// srv.Client returns one shared client: copy it, or every "browser"
	// would share the last jar.
	hc := *e.srv.Client()
	hc.Jar = jar
	hc.Timeout = time.Minute // a hang fails the test instead of stalling it
	return &client{env: e, http: &hc}
}

// newClientFrom returns a client whose connections come from the loopback
// address ip (127.0.0.2 and up: all of 127/8 is this machine), so that the
// server sees several client addresses, as it would on the Internet.
func (e *testEnv) newClientFrom(ip string) *client {
	c := e.newClient()
	tr := e.srv.Client().Transport.(*http.Transport).Clone()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	tr.DialContext = d.DialContext
	c.http.Transport = tr
	return c
}

// response is a finished HTTP exchange, body read.
type response struct {
	*http.Response
	body []byte
}

// json decodes the body into v, failing the test if it is not JSON.
func (r *response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("%s %s: body %q is not JSON: %v", r.Request.Method, r.Request.URL.Path, r.body, err)
	}
}

// problem decodes a problem+json body, checking its media type.
func (r *response) problem(t *testing.T) problemDoc {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("%s %s: Content-Type %q, want application/problem+json (body %s)", r.Request.Method, r.Request.URL.Path, ct, r.body)
	}
	var p problemDoc
	r.json(t, &p)
	return p
}

type problemDoc struct {
	Type   string            `json:"type"`
	Title  string            `json:"title"`
	Status int               `json:"status"`
	Detail string            `json:"detail"`
	Code   string            `json:"code"`
	Errors map[string]string `json:"errors"`
}

// do sends a request. body may be nil, a string (sent as is, JSON type),
// or any other value (encoded as JSON).
func (c *client) do(method, path string, body any, header ...string) *response {
	c.env.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			c.env.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, c.env.srv.URL+path, rd)
	if err != nil {
		c.env.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.env.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		c.env.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return &response{Response: resp, body: data}
}

// want fails the test unless the response has the given status.
func (r *response) want(t *testing.T, status int) *response {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d; body: %s", r.Request.Method, r.Request.URL.Path, r.StatusCode, status, r.body)
	}
	return r
}

// wantProblem fails the test unless the response is a problem with the
// given status and code.
func (r *response) wantProblem(t *testing.T, status int, code string) problemDoc {
	t.Helper()
	r.want(t, status)
	p := r.problem(t)
	if p.Code != code || p.Status != status {
		t.Fatalf("%s %s: problem %+v, want status %d code %q", r.Request.Method, r.Request.URL.Path, p, status, code)
	}
	return p
}

// userDoc is the user object of a response.
type userDoc struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Email    string `json:"email"`
	// EmailVerified is nil when the answer leaves it out.
	EmailVerified *bool     `json:"emailVerified"`
	FullName      string    `json:"fullName"`
	Color         string    `json:"color"`
	Roles         []string  `json:"roles"`
	PictureURL    string    `json:"pictureURL"`
	CreatedAt     time.Time `json:"createdAt"`
}

// authDoc is the body of sign-up and login.
type authDoc struct {
	User         userDoc `json:"user"`
	AccessToken  string  `json:"accessToken"`
	TokenType    string  `json:"tokenType"`
	ExpiresIn    int     `json:"expiresIn"`
	RefreshToken string  `json:"refreshToken"`
}

// signup creates an account and keeps its access token on the client.
func (c *client) signup(username, email, password string) authDoc {
	c.env.t.Helper()
	r := c.do("POST", "/api/auth/signup", map[string]any{"username": username, "email": email, "password": password}).want(c.env.t, http.StatusCreated)
	var d authDoc
	r.json(c.env.t, &d)
	c.token = d.AccessToken
	return d
}

// signupForBody signs up username (email username@example.com, password
// "password1") as a client without cookies would, asking for the refresh
// token in the body, and keeps the access token.
func (c *client) signupForBody(username string) authDoc {
	c.env.t.Helper()
	r := c.do("POST", "/api/auth/signup", map[string]any{
		"username": username, "email": username + "@example.com", "password": "password1", "returnRefreshToken": true,
	}).want(c.env.t, http.StatusCreated)
	var d authDoc
	r.json(c.env.t, &d)
	if d.RefreshToken == "" {
		c.env.t.Fatalf("signup of %s with returnRefreshToken returned no refreshToken", username)
	}
	c.token = d.AccessToken
	return d
}

// login logs in with an email or username and keeps the access token.
func (c *client) login(field, value, password string) authDoc {
	c.env.t.Helper()
	r := c.do("POST", "/api/auth/login", map[string]any{field: value, "password": password}).want(c.env.t, http.StatusOK)
	var d authDoc
	r.json(c.env.t, &d)
	c.token = d.AccessToken
	return d
}

// refreshCookie returns the refresh cookie the jar holds for /api/auth, or "".
func (c *client) refreshCookie() string {
	u, _ := url.Parse(c.env.srv.URL + "/api/auth/refresh")
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == "refresh_token" {
			return ck.Value
		}
	}
	return ""
}
