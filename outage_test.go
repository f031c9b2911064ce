package main

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"corkboard/mongostore"
)

// wireServer is a mongowire process the test owns, so it can kill it.
type wireServer struct {
	bin, addr, dir string
	cmd            *exec.Cmd
}

// start runs the server and waits for the URI line it prints when ready.
func (w *wireServer) start(t *testing.T) string {
	t.Helper()
	w.cmd = exec.Command(w.bin, "-addr", w.addr, "-dir", w.dir)
	out, err := w.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", w.bin, err)
	}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case uri := <-line:
		if !strings.HasPrefix(uri, "mongodb://") {
			t.Fatalf("mongowire printed %q, want a URI", uri)
		}
		return uri
	case <-time.After(30 * time.Second):
		t.Fatal("mongowire did not start within 30 s")
		return ""
	}
}

// kill stops the server the hard way, as a crash would.
func (w *wireServer) kill() {
	if w.cmd != nil && w.cmd.Process != nil {
		w.cmd.Process.Kill()
		w.cmd.Wait()
		w.cmd = nil
	}
}

// TestMongoOutage kills the MongoDB-wire server under a running corkboard
// and starts it again: meanwhile requests get a 503 problem (not a hang,
// not a crash) and /healthz says 503; afterwards the service recovers by
// itself, with its data.
func TestMongoOutage(t *testing.T) {
	bin := os.Getenv("MONGOWIRE")
	if bin == "" {
		t.Skip("MONGOWIRE is not set: point it at a built testdata/mongowire binary (.ci/run does) to run the outage test")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	w := &wireServer{bin: bin, addr: addr, dir: t.TempDir()}
	uri := w.start(t)
	t.Cleanup(w.kill)

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	st, err := mongostore.Open(ctx, uri, "outage", mongostore.Options{NoTTLIndex: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	env := startEnv(t, fixedStore(st), func(c *config) { c.store = "mongo" })
	c := env.newClient()
	c.signup("uma", "uma@example.com", "password1")

	w.kill()
	start := time.Now()
	c.do("GET", "/api/users/me", nil).wantProblem(t, 503, "unavailable")
	t.Logf("first request after the kill answered 503 in %v", time.Since(start).Round(time.Millisecond))
	env.newClient().do("GET", "/healthz", nil).wantProblem(t, 503, "store_unavailable")
	env.newClient().do("POST", "/api/auth/login", map[string]string{"username": "uma", "password": "password1"}).wantProblem(t, 503, "unavailable")

	w.start(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := c.do("GET", "/api/users/me", nil)
		if r.StatusCode == 200 {
			break
		}
		if r.StatusCode != 503 || time.Now().After(deadline) {
			t.Fatalf("after the restart: %d %s; want 503 until it recovers, then 200", r.StatusCode, r.body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	env.newClient().do("GET", "/healthz", nil).want(t, 200)
	c.refresh(t)
}
