package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// The environment variables that make this program a baseline server.
const (
	baselineEnv     = "CORKBOARD_LOAD_BASELINE"      // bare, bare-board or fsync
	baselineBodyEnv = "CORKBOARD_LOAD_BASELINE_BODY" // file holding the answer's bytes
	baselineDirEnv  = "CORKBOARD_LOAD_BASELINE_DIR"  // where fsync appends
)

// serveBaseline runs a baseline server on a loopback port, printing
// "addr=host:port" on out once it listens, until it is killed. bare answers
// every request with the bytes of one /me answer, bare-board with those of
// the board's answer (so the board is compared with a handler that writes
// as many bytes, not with a small answer); fsync also appends a
// 200-byte line to a file and fsyncs it before answering, once per request:
// the naive durable write that group commit is measured against.
func serveBaseline(kind string, out io.Writer) error {
	body, err := os.ReadFile(os.Getenv(baselineBodyEnv))
	if err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	answer := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(body)
	}
	var h http.Handler
	switch kind {
	case "bare", "bare-board":
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			answer(w)
		})
	case "fsync":
		f, err := os.OpenFile(filepath.Join(os.Getenv(baselineDirEnv), "journal"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		line := []byte(strings.Repeat("x", 199) + "\n")
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			if _, err := f.Write(line); err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			if err := f.Sync(); err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			answer(w)
		})
	default:
		return fmt.Errorf("unknown baseline %q", kind)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "addr=%s\n", ln.Addr())
	return http.Serve(ln, h)
}

// startBaseline starts this program again as the baseline server kind and
// returns its URL and a function that stops it.
func startBaseline(ctx context.Context, kind string, body []byte, tmp string) (string, func(), error) {
	exe, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp(tmp, kind+"-")
	if err != nil {
		return "", nil, err
	}
	bodyPath := filepath.Join(dir, "answer.json")
	if err := os.WriteFile(bodyPath, body, 0o600); err != nil {
		return "", nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), baselineEnv+"="+kind, baselineBodyEnv+"="+bodyPath, baselineDirEnv+"="+dir)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() {
		cmd.Process.Kill()
		cmd.Wait()
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "addr=")
	if err != nil || !ok {
		stop()
		return "", nil, fmt.Errorf("baseline %s did not say where it listens: %q %v", kind, line, err)
	}
	return "http://" + addr, stop, nil
}

// baselineRun is the baseline servers, running for the whole run, and
// what they measured so far.
type baselineRun struct {
	fx      *fixture // the first store's data, whose requests the baselines answer
	servers []baselineServer
	stops   []func()
	results []result // the servers' in order, then bcrypt's
}

type baselineServer struct {
	kind string
	url  string
	step func(context.Context, *client) error
}

// startBaselines starts the baseline servers (bare-board only when a
// scenario is compared with it), answering with fx's bodies.
func startBaselines(ctx context.Context, o options, fx *fixture, tmp string) (*baselineRun, error) {
	bl := &baselineRun{fx: fx}
	for _, b := range []struct {
		kind string
		body []byte
		step func(context.Context, *client) error
	}{{"bare", fx.meBody, stepBare}, {"bare-board", fx.boardBody, stepBareBoard}, {"fsync", fx.meBody, stepFsync}} {
		if b.kind == "bare-board" && o.only != nil && !o.only["board"] && !o.only["mixed"] {
			continue
		}
		url, stop, err := startBaseline(ctx, b.kind, b.body, tmp)
		if err != nil {
			bl.stop()
			return nil, err
		}
		bl.stops = append(bl.stops, stop)
		bl.servers = append(bl.servers, baselineServer{b.kind, url, b.step})
	}
	return bl, nil
}

// runRound measures every baseline for one slice with the scenarios'
// clients, adding to what the earlier rounds measured.
func (bl *baselineRun) runRound(ctx context.Context, o options, round int, slice time.Duration, logf func(string, ...any)) error {
	var now []result
	for _, b := range bl.servers {
		logf("baseline %s, %d clients for %v (round %d of %d)…", b.kind, o.clients, slice, round+1, o.rounds)
		dir := ""
		if round == 0 {
			dir = o.profileDir
		}
		stopDriver, err := profileDriver(dir, "baseline-"+b.kind)
		if err != nil {
			return fmt.Errorf("profiling the driver: %w", err)
		}
		res := drive(ctx, b.url, bl.fx, o.clients, slice, b.step, nil)
		if err := stopDriver(); err != nil {
			return fmt.Errorf("profiling the driver: %w", err)
		}
		res.Name = b.kind
		now = append(now, res)
	}
	logf("baseline bcrypt at cost %d on %d cores for %v (round %d of %d)…", o.bcryptCost, runtime.NumCPU(), slice, round+1, o.rounds)
	res, err := bcryptBaseline(ctx, o.bcryptCost, slice)
	if err != nil {
		return err
	}
	now = append(now, res)
	if bl.results == nil {
		bl.results = make([]result, len(now))
	}
	for i := range now {
		bl.results[i].add(now[i])
	}
	return ctx.Err()
}

// stop stops the baseline servers.
func (bl *baselineRun) stop() {
	for _, stop := range bl.stops {
		stop()
	}
	bl.stops = nil
}

// bcryptBaseline checks a password against its bcrypt hash on one
// goroutine per core for d: the most logins per second the machine's
// cores allow, with nothing else to do.
func bcryptBaseline(ctx context.Context, cost int, d time.Duration) (result, error) {
	pw := []byte("load-password-baseline")
	hash, err := bcrypt.GenerateFromPassword(pw, cost)
	if err != nil {
		return result{}, fmt.Errorf("bcrypt: %w", err)
	}
	n := runtime.NumCPU()
	lats := make([][]time.Duration, n)
	var failed error
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t0 := time.Now()
				if err := bcrypt.CompareHashAndPassword(hash, pw); err != nil {
					mu.Lock()
					failed = errors.Join(failed, err)
					mu.Unlock()
					return
				}
				lats[i] = append(lats[i], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	res := result{Name: "bcrypt", Clients: n, Seconds: elapsed.Seconds(), Status: "ok"}
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	res.Requests = len(all)
	res.ReqPerSec = float64(len(all)) / elapsed.Seconds()
	res.P50ms, res.P90ms, res.P99ms = percentiles(all)
	res.lat = all
	if failed != nil || res.Requests == 0 {
		res.Status = "FAILED"
		res.Failures = 1
		if failed != nil {
			res.Errors = []string{failed.Error()}
		}
	}
	return res, nil
}
