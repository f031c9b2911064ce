package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	mongooptions "go.mongodb.org/mongo-driver/v2/mongo/options"
)

// findRepo returns the corkboard repository's root: dir if given, else the
// nearest directory above the working directory whose go.mod declares
// module corkboard.
func findRepo(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && bytes.HasPrefix(b, []byte("module corkboard\n")) {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", errors.New("no corkboard repository above the working directory; give -repo")
		}
		d = parent
	}
}

// buildCorkboard builds the static binary the way it ships
// (CGO_ENABLED=0) into dir and returns its path.
func buildCorkboard(ctx context.Context, repo, dir string) (string, error) {
	repo, err := findRepo(repo)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "corkboard")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build in %s: %w\n%s", repo, err, out)
	}
	return bin, nil
}

// server is a corkboard process started by the driver.
type server struct {
	cmd   *exec.Cmd
	url   string // http://127.0.0.1:port
	debug string // its debug listener (profiles and counters): http://127.0.0.1:port
	// mongoURI and database are where a -store mongo server keeps its
	// data: a database of its own, dropped by dropDatabase.
	mongoURI, database string
	logPath            string // its stderr: one line per request
	done               chan struct{}
}

var (
	listenRE = regexp.MustCompile(`msg=listening addr=(\S+)`)
	debugRE  = regexp.MustCompile(`msg="serving profiles and counters" addr=(\S+)`)
)

// startCorkboard starts bin on a loopback port with store, a fresh data
// directory under tmp, rate limits off (every client is 127.0.0.1) and the
// configured bcrypt cost, and waits for /healthz to answer 200.
func startCorkboard(ctx context.Context, bin, store string, o options, tmp string) (*server, error) {
	dir, err := os.MkdirTemp(tmp, store+"-")
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "corkboard.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	// The server writes its log straight to a file: a pipe would make the
	// driver copy every request's log line, on the same cores it measures.
	defer logFile.Close()
	args := []string{"-addr", "127.0.0.1:0", "-store", store, "-data", filepath.Join(dir, "data")}
	var database string
	if store == "mongo" {
		database = "corkboard_load_" + randomHex(4)
		args = append(args, "-mongo-uri", o.mongoURI, "-mongo-db", database)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"BCRYPT_COST=" + strconv.Itoa(o.bcryptCost),
		"RATE_LIMITS=off",
		// Cookies go over plain HTTP on loopback; the clients keep their
		// refresh tokens in the body anyway.
		"COOKIE_SECURE=false",
		"ACCESS_TOKEN_SECRET=" + randomHex(32),
		"REFRESH_TOKEN_SECRET=" + randomHex(32),
		// Profiles and counters, on a loopback port of its own: the
		// driver reads the MongoDB command counters around each scenario,
		// and takes profiles with -profile.
		"DEBUG_ADDR=127.0.0.1:0",
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Killed with the driver, should the driver die without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting corkboard: %w", err)
	}
	s := &server{cmd: cmd, logPath: logPath, done: make(chan struct{}), mongoURI: o.mongoURI, database: database}
	go func() {
		cmd.Wait()
		close(s.done)
	}()
	if err := s.waitHealthy(ctx, 60*time.Second); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

func (s *server) waitHealthy(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for s.url == "" {
		b, _ := os.ReadFile(s.logPath)
		if m := listenRE.FindSubmatch(b); m != nil {
			s.url = "http://" + string(m[1])
			// The debug listener is up before the API's.
			if m := debugRE.FindSubmatch(b); m != nil {
				s.debug = "http://" + string(m[1])
			}
			break
		}
		if s.exited() {
			return fmt.Errorf("corkboard exited before listening:\n%s", lastLines(b, 20))
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("corkboard did not listen within %v:\n%s", limit, lastLines(b, 20))
		}
		time.Sleep(20 * time.Millisecond)
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	for {
		resp, err := hc.Get(s.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("GET /healthz did not answer 200 within %v (last: %v)", limit, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logTail returns the last lines of the server's log: the log file goes
// with the run's temporary directory.
func (s *server) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	return lastLines(b, 20)
}

func (s *server) pid() int { return s.cmd.Process.Pid }

func (s *server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// stop asks corkboard to stop as systemd would (SIGTERM), and kills it if
// it has not stopped within its shutdown budget.
func (s *server) stop() {
	if s.exited() {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// peakRSS returns corkboard's peak resident set size so far in bytes
// (VmHWM), or 0 once it has exited or where /proc does not tell, plus its
// running children's (the bcrypt worker process): the sum of the peaks,
// which is at least the peak of the sum. A worker that died and was
// started again counts only as the one running now.
func (s *server) peakRSS() int64 {
	pid := s.pid()
	total := procPeakRSS(pid)
	for _, child := range procChildren(pid) {
		total += procPeakRSS(child)
	}
	return total
}

// procChildren lists the children of process pid: each thread lists those
// it started, in /proc/<pid>/task/<tid>/children.
func procChildren(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var children []int
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				children = append(children, c)
			}
		}
	}
	return children
}

func procPeakRSS(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func splitComma(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// mongoCommands returns how many MongoDB commands corkboard has sent since
// it started, from its mongo.commands counters (0 on the file store, which
// publishes none, and with a binary older than the debug listener, run
// with -bin for a before-and-after comparison).
func (s *server) mongoCommands(ctx context.Context) (int64, error) {
	if s.debug == "" {
		return 0, nil
	}
	req, err := http.NewRequestWithContext(ctx, "GET", s.debug+"/debug/vars", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var vars struct {
		Commands map[string]int64 `json:"mongo.commands"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&vars); err != nil {
		return 0, fmt.Errorf("reading /debug/vars: %w", err)
	}
	var n int64
	for _, c := range vars.Commands {
		n += c
	}
	return n, nil
}

// profile saves corkboard's CPU profile and its allocations (a delta
// profile) over the next seconds into dir as name-cpu.pprof and
// name-allocs.pprof, for go tool pprof.
func (s *server) profile(ctx context.Context, dir, name string, seconds int) error {
	if s.debug == "" {
		return errors.New("corkboard has no debug listener")
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, kind := range []string{"cpu", "allocs"} {
		path := "/debug/pprof/profile"
		if kind == "allocs" {
			path = "/debug/pprof/allocs"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fetchTo(ctx, fmt.Sprintf("%s%s?seconds=%d", s.debug, path, seconds), filepath.Join(dir, name+"-"+kind+".pprof"))
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func fetchTo(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, bytes.TrimSpace(b))
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// dropDatabase drops the MongoDB database the server used, once it has
// stopped, so that runs leave nothing behind (with -keep it stays, as the
// file store's data directory does).
func (s *server) dropDatabase(ctx context.Context) error {
	if s.database == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	client, err := mongo.Connect(mongooptions.Client().ApplyURI(s.mongoURI))
	if err != nil {
		return err
	}
	defer client.Disconnect(context.Background())
	if err := client.Database(s.database).Drop(ctx); err != nil {
		return fmt.Errorf("dropping database %s: %w", s.database, err)
	}
	return nil
}

// profileDriver starts the driver's own CPU profile, into
// dir/driver-name-cpu.pprof, and returns what stops it: the driver shares
// the machine's cores with corkboard, so a step that costs the driver more
// lowers the scenario's figure as surely as one that costs corkboard more.
// Without a directory it does nothing.
func profileDriver(dir, name string) (stop func() error, err error) {
	if dir == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(filepath.Join(dir, "driver-"+name+"-cpu.pprof"))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		// As when the driver runs inside go test -cpuprofile: one CPU
		// profile at a time per process.
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}
