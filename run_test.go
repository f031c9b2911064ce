package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the server's log writes and the
// test's reads at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestRunServesAndShutsDown starts the real program on a loopback port,
// uses it, and stops it the way SIGTERM does (by cancelling its context).
func TestRunServesAndShutsDown(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"DATA_DIR": dir, "BCRYPT_COST": "4", "COOKIE_SECURE": "false"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"corkboard", "-addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, strings.NewReader(""), io.Discard, &stderr)
	}()

	addr := waitForListen(t, &stderr, done)
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]string
	json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if resp.StatusCode != 200 || h["status"] != "ok" || h["store"] != "file" {
		t.Fatalf("GET /healthz = %d %v, want 200 ok file", resp.StatusCode, h)
	}
	resp, err = http.Post("http://"+addr+"/api/auth/signup", "application/json",
		strings.NewReader(`{"username":"runner","email":"runner@example.com","password":"password1"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("signup status %d, want 201", resp.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v after shutdown, want nil; log:\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return within 15 s of shutdown")
	}
	logs := stderr.String()
	for _, want := range []string{"token secrets are not configured", "pattern=\"POST /api/auth/signup\"", "status=201", "stopped"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "password1") {
		t.Errorf("log contains a password:\n%s", logs)
	}
	info, err := os.Stat(filepath.Join(dir, "secrets.json"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("secrets.json: %v, mode %v; want mode 0600", err, info.Mode().Perm())
	}
}

// TestDebugListener checks that -debug-addr serves the profiles and the
// counters on a listener of its own, that the counters leave out the
// command line (which can carry a connection string's password), and that
// the API's listener serves neither.
func TestDebugListener(t *testing.T) {
	addr, debugAddr, stop := runWithDebug(t, "-mongo-uri", "mongodb://corkboard:hunter2@127.0.0.1:1/")
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	if st, body := get("http://" + debugAddr + "/debug/vars"); st != 200 || !strings.Contains(body, `"memstats"`) || strings.Contains(body, "hunter2") || strings.Contains(body, `"cmdline"`) {
		t.Errorf("GET /debug/vars = %d, %.300s; want 200 with memstats and without the command line", st, body)
	}
	if st, body := get("http://" + debugAddr + "/debug/pprof/heap?debug=1"); st != 200 || !strings.Contains(body, "heap profile") {
		t.Errorf("GET /debug/pprof/heap = %d, %.200s; want the heap profile", st, body)
	}
	// The mutex profile is sampled only while the debug listener is on
	// (the rate is process-wide; tests that profile nothing leave it off).
	if st, body := get("http://" + debugAddr + "/debug/pprof/mutex?debug=1"); st != 200 || !strings.Contains(body, "--- mutex:") {
		t.Errorf("GET /debug/pprof/mutex = %d, %.200s; want the mutex profile", st, body)
	}
	if rate := runtime.SetMutexProfileFraction(-1); rate != mutexProfileRate {
		t.Errorf("mutex profile rate %d with -debug-addr, want %d", rate, mutexProfileRate)
	}
	if st, _ := get("http://" + debugAddr + "/debug/pprof/cmdline"); st == 200 {
		t.Errorf("GET /debug/pprof/cmdline = 200; the command line must not be served")
	}
	for _, path := range []string{"/debug/vars", "/debug/pprof/"} {
		if st, _ := get("http://" + addr + path); st != 404 {
			t.Errorf("API listener GET %s = %d, want 404", path, st)
		}
	}
	stop()
	if rate := runtime.SetMutexProfileFraction(-1); rate != 0 {
		t.Errorf("mutex profile rate %d after run returned, want 0 (off again)", rate)
	}
}

// TestRunGivesBackBcryptThreadsOnFailure: a serve that fails after the
// app is built (here, its port is taken) still stops the bcrypt threads
// and gives back the Ps lent to them, since run may be called again in the
// same process.
func TestRunGivesBackBcryptThreadsOnFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	procs := runtime.GOMAXPROCS(0)
	env := map[string]string{"DATA_DIR": t.TempDir(), "BCRYPT_COST": "4"}
	err = run(context.Background(), []string{"corkboard", "-addr", ln.Addr().String()}, func(k string) string { return env[k] }, strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("run on a taken port = %v, want address already in use", err)
	}
	if got := runtime.GOMAXPROCS(0); got != procs {
		t.Errorf("GOMAXPROCS after the failed run = %d, want %d: the bcrypt pool was not closed", got, procs)
	}
}

// runWithDebug runs the program on the file store (unless args say
// otherwise) with the API and the debug listener on free loopback ports,
// and returns both addresses and a function that stops it and checks that
// it returned cleanly.
func runWithDebug(t *testing.T, args ...string) (addr, debugAddr string, stop func()) {
	t.Helper()
	env := map[string]string{"DATA_DIR": t.TempDir(), "BCRYPT_COST": "4"}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"corkboard", "-addr", "127.0.0.1:0", "-debug-addr", "127.0.0.1:0"}, args...),
			func(k string) string { return env[k] }, strings.NewReader(""), io.Discard, &stderr)
	}()
	addr = waitForListen(t, &stderr, done)
	m := debugListenRE.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no debug listener in the log:\n%s", stderr.String())
	}
	return addr, m[1], func() {
		t.Helper()
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("run returned %v", err)
		}
	}
}

var debugListenRE = regexp.MustCompile(`msg="serving profiles and counters" addr=(\S+)`)

var listenRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// waitForListen waits for run's "listening" log line and returns the address.
func waitForListen(t *testing.T, stderr *syncBuffer, done <-chan error) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := listenRE.FindStringSubmatch(stderr.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("run returned early: %v\n%s", err, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("server did not log its address:\n%s", stderr.String())
	return ""
}

func TestRunRefusesBadConfiguration(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string // in the error
	}{
		{"unknown store", []string{"-store", "redis"}, nil, `unknown store "redis"`},
		{"mongo without URI", []string{"-store", "mongo"}, nil, "needs a connection string"},
		{"unreachable mongo", []string{"-store", "mongo", "-mongo-uri", "mongodb://corkboard:hunter2@127.0.0.1:1/"}, nil, "cannot reach MongoDB at mongodb://***@127.0.0.1:1/"},
		{"short access secret", nil, map[string]string{"ACCESS_TOKEN_SECRET": "short"}, "ACCESS_TOKEN_SECRET is 5 bytes"},
		{"equal secrets", nil, map[string]string{"ACCESS_TOKEN_SECRET": strings.Repeat("s", 32), "REFRESH_TOKEN_SECRET": strings.Repeat("s", 32)}, "must differ"},
		{"bad duration", nil, map[string]string{"ACCESS_TOKEN_TTL": "15 minutes"}, "ACCESS_TOKEN_TTL"},
		{"negative duration", nil, map[string]string{"REFRESH_REUSE_GRACE": "-1s"}, "REFRESH_REUSE_GRACE"},
		{"bcrypt cost", nil, map[string]string{"BCRYPT_COST": "3"}, "BCRYPT_COST"},
		{"cookie secure", nil, map[string]string{"COOKIE_SECURE": "maybe"}, "COOKIE_SECURE"},
		{"samesite", nil, map[string]string{"COOKIE_SAMESITE": "sometimes"}, "COOKIE_SAMESITE"},
		{"samesite none over http", nil, map[string]string{"COOKIE_SAMESITE": "None", "COOKIE_SECURE": "false"}, "COOKIE_SECURE=true"},
		{"rate limits", nil, map[string]string{"RATE_LIMITS": "sometimes"}, "RATE_LIMITS"},
		{"reset url", nil, map[string]string{"RESET_URL": "javascript:alert(1)"}, "RESET_URL"},
		{"unknown flag", []string{"-nope"}, nil, "flag provided but not defined"},
		{"bad port", nil, map[string]string{"PORT": "eighty"}, "PORT"},
		{"stray argument", []string{"extra"}, nil, `unexpected argument "extra"`},
		{"debug addr on the network", []string{"-debug-addr", "0.0.0.0:6060"}, nil, "loopback"},
		{"debug addr without a port", nil, map[string]string{"DEBUG_ADDR": "127.0.0.1"}, "-debug-addr"},
		{"debug addr by name", nil, map[string]string{"DEBUG_ADDR": "example.com:6060"}, "loopback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"DATA_DIR": t.TempDir()}
			for k, v := range tt.env {
				env[k] = v
			}
			args := append([]string{"corkboard"}, tt.args...)
			err := run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(""), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("run(%v, env %v) = %v; want an error containing %q", tt.args, tt.env, err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q is more than one line, or shows a password", err)
			}
		})
	}
}

func TestRunHelpAndBadFlag(t *testing.T) {
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"corkboard", "-h"}, func(string) string { return "" }, strings.NewReader(""), io.Discard, &stderr)
	if err != nil || !strings.Contains(stderr.String(), "-mongo-uri") {
		t.Errorf("run -h = %v, stderr %q; want nil and the usage", err, stderr.String())
	}
	stderr.Reset()
	err = run(context.Background(), []string{"corkboard", "-bogus"}, func(string) string { return "" }, strings.NewReader(""), io.Discard, &stderr)
	if err == nil || stderr.Len() != 0 {
		t.Errorf("run -bogus = %v, stderr %q; want an error and nothing else on stderr", err, stderr.String())
	}
}

func TestConfigPrecedence(t *testing.T) {
	dotenv := map[string]string{"ADDR": ":1111", "STORE": "mongo", "MONGO_URI": "mongodb://dotenv", "BCRYPT_COST": "12"}
	environ := map[string]string{"ADDR": ":2222", "MONGO_URI": "mongodb://env"}
	cfg, err := loadConfig([]string{"-addr", ":3333"}, func(k string) string { return environ[k] }, dotenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.addr != ":3333" || cfg.store != "mongo" || cfg.mongoURI != "mongodb://env" || cfg.bcryptCost != 12 {
		t.Errorf("got addr %q store %q uri %q cost %d; want flag > env > .env", cfg.addr, cfg.store, cfg.mongoURI, cfg.bcryptCost)
	}
	cfg, err = loadConfig(nil, func(k string) string { return map[string]string{"PORT": "9090"}[k] }, map[string]string{"ADDR": ":1111"}, io.Discard)
	if err != nil || cfg.addr != ":9090" {
		t.Errorf("PORT=9090 in the environment, ADDR in .env: addr %q (%v), want :9090", cfg.addr, err)
	}
}

func TestReadDotenv(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".env")
	os.WriteFile(path, []byte("# comment\n\nexport A=1\nB = \"two words\" # note\nC='x=y'\nD=5m # five minutes\nE=a#b\n"), 0o600)
	got, err := readDotenv(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "1", "B": "two words", "C": "x=y", "D": "5m", "E": "a#b"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("readDotenv: %s = %q, want %q", k, got[k], v)
		}
	}
	os.WriteFile(path, []byte("JUSTAWORD\n"), 0o600)
	if _, err := readDotenv(path); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("readDotenv of a bad line = %v, want an error naming line 1", err)
	}
	if got, err := readDotenv(filepath.Join(t.TempDir(), "missing")); err != nil || got != nil {
		t.Errorf("readDotenv of a missing file = %v, %v; want nil, nil", got, err)
	}
}
