package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Helpers for tests that run corkboard as a real process: built once per
// test run with `go build`, started with its own environment, and stopped
// by SIGTERM or SIGKILL. The crash, shutdown and soak tests share them.

var (
	binaryOnce sync.Once
	binaryDir  string
	binaryPath string
	binaryErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binaryDir != "" {
		os.RemoveAll(binaryDir)
	}
	os.Exit(code)
}

// corkboardBinary builds the program once per test run and returns its path.
func corkboardBinary(t testing.TB) string {
	t.Helper()
	binaryOnce.Do(func() {
		binaryDir, binaryErr = os.MkdirTemp("", "corkboard-bin-")
		if binaryErr != nil {
			return
		}
		// Others (a child run as another user) must be able to run it.
		os.Chmod(binaryDir, 0o755)
		binaryPath = filepath.Join(binaryDir, "corkboard")
		out, err := exec.Command("go", "build", "-o", binaryPath, ".").CombinedOutput()
		if err != nil {
			binaryErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binaryErr != nil {
		t.Fatalf("building corkboard: %v", binaryErr)
	}
	return binaryPath
}

// proc is a corkboard process started by a test.
type proc struct {
	t      testing.TB
	cmd    *exec.Cmd
	URL    string // http://127.0.0.1:port
	stderr *syncBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // its exit, once done is closed
}

// processEnv is the environment every started process gets before the
// test's own: no secrets from the developer's shell, cheap bcrypt, plain
// HTTP cookies, and no rate limits (tests drive many requests from one
// address).
func processEnv(dataDir string) map[string]string {
	return map[string]string{
		"PATH":                 os.Getenv("PATH"),
		"DATA_DIR":             dataDir,
		"BCRYPT_COST":          "4",
		"COOKIE_SECURE":        "false",
		"RATE_LIMITS":          "off",
		"ACCESS_TOKEN_SECRET":  strings.Repeat("a", 32),
		"REFRESH_TOKEN_SECRET": strings.Repeat("r", 32),
	}
}

// startProcess starts corkboard with args (after the program name; -addr
// 127.0.0.1:0 is added) and env (over processEnv's, with DATA_DIR taken
// from env), waits until /healthz answers 200, and kills the process when
// the test ends if it is still running.
func startProcess(t testing.TB, args []string, env map[string]string) *proc {
	t.Helper()
	p := launchProcess(t, args, env, nil)
	p.waitHealthy(30 * time.Second)
	return p
}

// launchProcess starts corkboard without waiting for it; attr, when not nil,
// sets the child's process attributes (another user, say).
func launchProcess(t testing.TB, args []string, env map[string]string, attr *syscall.SysProcAttr) *proc {
	t.Helper()
	full := processEnv(env["DATA_DIR"])
	for k, v := range env {
		full[k] = v
	}
	cmd := exec.Command(corkboardBinary(t), append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	for k, v := range full {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &proc{t: t, cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout = p.stderr
	cmd.Stderr = p.stderr
	cmd.SysProcAttr = dieWithTest(attr)
	// A child of the server (the bcrypt worker) shares its output; one
	// that outlives the server must not keep Wait, and the test, waiting.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting corkboard: %v", err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("corkboard (pid %d) log:\n%s", cmd.Process.Pid, lastLines(p.stderr.String(), 60))
		}
	})
	return p
}

// waitHealthy waits for the listening line, then for /healthz to answer
// 200, failing the test if the process exits first or time runs out.
func (p *proc) waitHealthy(limit time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(limit)
	for p.URL == "" {
		if m := listenRE.FindStringSubmatch(p.stderr.String()); m != nil {
			p.URL = "http://" + m[1]
			break
		}
		select {
		case <-p.done:
			p.t.Fatalf("corkboard exited before listening: %v\n%s", p.err, p.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("corkboard did not listen within %v:\n%s", limit, p.stderr.String())
		}
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	for {
		resp, err := hc.Get(p.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("GET /healthz did not answer 200 within %v (last: %v)", limit, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits for the process to be gone: what a crash or
// an OOM kill does. Killing a process that has exited is harmless.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Kill()
	<-p.done
}

// term sends SIGTERM, as systemd does to stop the service.
func (p *proc) term() {
	p.cmd.Process.Signal(syscall.SIGTERM)
}

// wait waits up to limit for the process to exit and returns its exit code
// (-1 if a signal ended it); it fails the test if it is still running.
func (p *proc) wait(limit time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	default:
		select {
		case <-p.done:
		case <-time.After(limit):
			p.t.Fatalf("corkboard still running %v after being asked to stop", limit)
		}
	}
	var exit *exec.ExitError
	if errors.As(p.err, &exit) {
		return exit.ExitCode()
	}
	if p.err != nil {
		p.t.Fatalf("waiting for corkboard: %v", p.err)
	}
	return 0
}

// log returns what the process has written to stdout and stderr so far.
func (p *proc) log() string { return p.stderr.String() }

// runToExit runs corkboard with args and env until it exits (within a
// minute) and returns its exit code and output: for starts that must fail.
func runToExit(t testing.TB, args []string, env map[string]string) (int, string) {
	t.Helper()
	p := launchProcess(t, args, env, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	select {
	case <-p.done:
	case <-ctx.Done():
		t.Fatalf("corkboard %v did not exit within a minute:\n%s", args, p.log())
	}
	return p.wait(0), p.log()
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// newAPIRequest makes a request to url for the process tests' clients: body
// nil (none), []byte (sent as it is) or a value sent as JSON; a body is
// declared application/json (callers set another Content-Type after), and
// token, when set, goes in Authorization.
func newAPIRequest(method, url string, body any, token string) (*http.Request, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req, nil
}

// dieWithTest returns attr (or new attributes) with the child set to be
// killed when the test binary dies: a test that times out or is killed
// runs no cleanup, and its servers must not stay behind listening.
func dieWithTest(attr *syscall.SysProcAttr) *syscall.SysProcAttr {
	if attr == nil {
		attr = &syscall.SysProcAttr{}
	}
	attr.Pdeathsig = syscall.SIGKILL
	return attr
}
