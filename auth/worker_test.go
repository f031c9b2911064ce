package auth

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// workerEnv makes this test binary the bcrypt worker process (see
// TestMain), the way the corkboard binary becomes it with its argument;
// holdEnv, a duration, makes each of its comparisons take that long more,
// so that a test can act while one is under way.
const (
	workerEnv = "CORKBOARD_TEST_BCRYPT_WORKER"
	holdEnv   = "CORKBOARD_TEST_BCRYPT_HOLD"
)

func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) == "1" {
		hold, _ := time.ParseDuration(os.Getenv(holdEnv))
		slow := func(h *hasher) {
			compare := h.compare
			h.compare = func(hash, password []byte) error {
				time.Sleep(hold)
				return compare(hash, password)
			}
		}
		if err := serveWorker(os.Stdin, os.Stdout, slow); err != nil {
			fmt.Fprintf(os.Stderr, "bcrypt worker: %v\n", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// testWorker starts this test binary as the worker process.
func testWorker() *exec.Cmd { return holdingWorker(0)() }

// holdingWorker starts this test binary as a worker process whose
// comparisons each take hold more.
func holdingWorker(hold time.Duration) func() *exec.Cmd {
	return func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), workerEnv+"=1", holdEnv+"="+hold.String())
		cmd.Stderr = os.Stderr
		return cmd
	}
}

// startWorkerPasswords starts a Passwords at cost whose bcrypt runs in a
// worker process (command, or testWorker when nil), or skips the test
// where lending is not available here.
func startWorkerPasswords(t *testing.T, cost int, command func() *exec.Cmd) (*Passwords, *testLog) {
	t.Helper()
	if command == nil {
		command = testWorker
	}
	log := &testLog{}
	p, err := StartPasswords(cost, time.Minute, &WorkerProcess{Command: command, Log: slog.New(slog.NewTextHandler(log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	adm := p.Admission()
	if !adm.Lending {
		t.Skipf("bcrypt threads of low priority are not available here: %s", adm.Reason)
	}
	if p.worker == nil || adm.WorkerPID == 0 {
		t.Fatalf("Admission() = %+v: the pool is not in a worker process", adm)
	}
	return p, log
}

// processNices returns the nice value of each thread of process pid.
func processNices(t *testing.T, pid int) map[int]int {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/task", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("listing the threads of %d: %v", pid, err)
	}
	nices := make(map[int]int)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "stat"))
		if err != nil {
			continue // the thread ended meanwhile
		}
		fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		tid, _ := strconv.Atoi(e.Name())
		if nices[tid], err = strconv.Atoi(fields[19-3]); err != nil {
			t.Fatalf("thread %s of %d: stat %q: %v", e.Name(), pid, b, err)
		}
	}
	return nices
}

// TestWorkerComputesTheSame: checks and hashes in the worker process give
// the answers they give in this one, from many callers at once; the worker
// runs one thread of nice 19, and this process's GOMAXPROCS is left alone.
func TestWorkerComputesTheSame(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	p, _ := startWorkerPasswords(t, 4, nil)
	p.compare = func(hash, password []byte) error {
		t.Error("a comparison ran in the server's process, not in the worker")
		return bcrypt.CompareHashAndPassword(hash, password)
	}
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Errorf("GOMAXPROCS with a worker process = %d, want %d: the threads are not ours", got, before)
	}
	adm := p.Admission()
	if cpus := runtime.NumCPU(); adm.Normal+adm.Lent != cpus || adm.Lent != 1 || adm.Slots != cpus {
		t.Errorf("Admission() = %+v; want %d threads, one of them lent, and %d slots", adm, cpus, cpus)
	}
	lent := 0
	for _, nice := range processNices(t, adm.WorkerPID) {
		if nice == lentNice {
			lent++
		}
	}
	if lent != 1 {
		t.Errorf("worker %d has %d threads at nice %d, want 1", adm.WorkerPID, lent, lentNice)
	}

	computesTheSame(t, p)
}

// inFlight waits until the worker has n calls pending.
func inFlight(t *testing.T, wk *worker, n int) {
	t.Helper()
	eventually(t, func() (bool, string) {
		wk.mu.Lock()
		defer wk.mu.Unlock()
		got := 0
		if wk.proc != nil {
			got = len(wk.proc.calls)
		}
		return got == n, fmt.Sprintf("%d calls in flight, want %d", got, n)
	})
}

// TestWorkerDeath: a worker killed while it computes fails no caller (the
// checks under way are computed again in this process, with the right
// answers), and the next call after restartEvery starts a new worker.
func TestWorkerDeath(t *testing.T) {
	// The first worker's checks end only when it is killed; the next one's
	// at once.
	starts := 0
	p, log := startWorkerPasswords(t, 4, func() *exec.Cmd {
		starts++
		if starts == 1 {
			return holdingWorker(time.Hour)()
		}
		return testWorker()
	})
	hash, err := bcrypt.GenerateFromPassword([]byte("password1"), 4)
	if err != nil {
		t.Fatal(err)
	}
	first := p.Admission().WorkerPID
	type answer struct {
		ok  bool
		err error
	}
	answers := make(chan answer, 2)
	for _, pw := range []string{"password1", "password2"} {
		go func() {
			ok, err := p.Check(context.Background(), pw, string(hash), pw)
			answers <- answer{ok, err}
		}()
	}
	inFlight(t, p.worker, 2)
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	got := map[bool]int{}
	for range 2 {
		a := <-answers
		if a.err != nil {
			t.Errorf("a check under way when the worker died: %v", a.err)
		}
		got[a.ok]++
	}
	if got[true] != 1 || got[false] != 1 {
		t.Errorf("answers %v, want one match and one mismatch", got)
	}
	if n := p.gate.free; n != p.Admission().Slots {
		t.Errorf("%d of %d slots free after the answers: a dead worker's calls kept theirs", n, p.Admission().Slots)
	}

	time.Sleep(restartEvery)
	if ok, err := p.Check(context.Background(), "ip", string(hash), "password1"); !ok || err != nil {
		t.Errorf("Check after the worker died = %v, %v; want true, nil", ok, err)
	}
	if second := p.worker.pid(); second == 0 || second == first {
		t.Errorf("worker pid after a restart = %d (the dead one was %d): not started again", second, first)
	}
	for _, want := range []string{"bcrypt worker process ended", "pid=" + strconv.Itoa(first), "status=\"signal: killed\"", "pending=2", "bcrypt worker process started again"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the log does not say %q:\n%s", want, log.String())
		}
	}
}

// TestWorkerDownKeepsTheBound: while no worker runs (it died, and the next
// start is not due yet), the checks run in the server, but no more at once
// than the gate has slots; and a corrupt stored hash, too long to be a
// bcrypt hash, is compared in the worker against the dummy, never sent.
func TestWorkerDownKeepsTheBound(t *testing.T) {
	p, _ := startWorkerPasswords(t, 4, nil)
	hash := mustHash(t, p, "password1")
	var mu sync.Mutex
	running, most := 0, 0
	p.compare = func(h, pw []byte) error {
		mu.Lock()
		running++
		most = max(most, running)
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		running--
		mu.Unlock()
		return bcrypt.CompareHashAndPassword(h, pw)
	}
	p.worker.mu.Lock()
	proc := p.worker.proc
	p.worker.mu.Unlock()
	if err := syscall.Kill(proc.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-proc.exited
	p.worker.mu.Lock()
	p.worker.tried = time.Now() // the next start is not due for a second
	p.worker.mu.Unlock()
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, err := p.Check(context.Background(), fmt.Sprint("ip", i), hash, "password1"); !ok || err != nil {
				t.Errorf("Check with the worker down = %v, %v; want true, nil", ok, err)
			}
		}()
	}
	wg.Wait()
	if slots := p.Admission().Slots; most == 0 || most > slots {
		t.Errorf("%d comparisons at once in the server with the worker down, want 1 to %d (the gate's slots)", most, slots)
	}

	time.Sleep(restartEvery)
	p.compare = func(h, pw []byte) error {
		t.Error("a comparison ran in the server's process, not in the worker")
		return bcrypt.CompareHashAndPassword(h, pw)
	}
	for _, corrupt := range []string{strings.Repeat("$", maxSentHash+1), "$2a$04$" + strings.Repeat("x", 70000)} {
		if ok, err := p.Check(context.Background(), "ip", corrupt, "corkboard dummy password"); ok || err != nil {
			t.Errorf("Check against a corrupt hash of %d bytes = %v, %v; want false, nil", len(corrupt), ok, err)
		}
	}
	pid := p.worker.pid()
	if ok, err := p.Check(context.Background(), "ip", hash, "password1"); !ok || err != nil || pid == 0 || p.worker.pid() != pid {
		t.Errorf("after the corrupt hashes: Check = %v, %v, worker %d then %d; want true, nil, the same worker", ok, err, pid, p.worker.pid())
	}
}

// TestWorkerHello: the hello carries the server's padding hashes, and a
// hello that is cut short, or whose padding is not a hash of its cost, is
// refused.
func TestWorkerHello(t *testing.T) {
	h, err := newHasher(7)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeHello(encodeHello(h))
	if err != nil {
		t.Fatal(err)
	}
	if got.cost != 7 || len(got.pads) != 3 {
		t.Fatalf("decoded hello: cost %d, %d pads; want 7 and 3", got.cost, len(got.pads))
	}
	for c, pad := range h.pads {
		if !bytes.Equal(got.pads[c], pad) {
			t.Errorf("pad of cost %d = %q, want %q", c, got.pads[c], pad)
		}
	}
	good := encodeHello(h)
	swapped := bytes.Clone(good)
	copy(swapped[2:], good[2+61:2+122]) // the cost-5 pad where the cost-4 one goes
	for name, b := range map[string][]byte{
		"empty":         nil,
		"other version": append([]byte{9}, good[1:]...),
		"cost 3":        {workerVersion, 3},
		"cost 32":       {workerVersion, 32},
		"cut short":     good[:len(good)-1],
		"a byte more":   append(bytes.Clone(good), 0),
		"pads swapped":  swapped,
	} {
		if _, err := decodeHello(b); err == nil {
			t.Errorf("%s: decodeHello(%x) accepted", name, b)
		}
	}
}

// TestWorkerCancelKeepsSlot: a caller who gives up gets its context's
// error at once, but its slot stays taken until the worker has finished
// the computation, so the worker never runs more than it has threads.
func TestWorkerCancelKeepsSlot(t *testing.T) {
	p, _ := startWorkerPasswords(t, 4, holdingWorker(time.Second))
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := p.Check(ctx, "ip", "", "password1")
		errc <- err
	}()
	inFlight(t, p.worker, 1)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Check after cancel = %v, want context.Canceled", err)
	}
	slots := p.Admission().Slots
	p.gate.mu.Lock()
	free := p.gate.free
	p.gate.mu.Unlock()
	if free != slots-1 {
		t.Errorf("%d of %d slots free while the cancelled check still runs, want %d", free, slots, slots-1)
	}
	inFlight(t, p.worker, 0)
	eventually(t, func() (bool, string) {
		p.gate.mu.Lock()
		defer p.gate.mu.Unlock()
		return p.gate.free == slots, fmt.Sprintf("%d of %d slots free after the computation ended", p.gate.free, slots)
	})
}

// TestWorkerClose: Close ends the worker process (it is reaped, not left
// behind), and a check after Close still works, in this process.
func TestWorkerClose(t *testing.T) {
	p, _ := startWorkerPasswords(t, 4, nil)
	hash := mustHash(t, p, "password1")
	p.worker.mu.Lock()
	proc := p.worker.proc
	p.worker.mu.Unlock()
	p.Close()
	p.Close() // twice is harmless
	select {
	case <-proc.exited:
	default:
		t.Fatal("the worker process is still running after Close")
	}
	if st := proc.cmd.ProcessState; st == nil || !st.Success() {
		t.Errorf("the worker ended with %v, want a clean exit once its input closed", st)
	}
	if err := syscall.Kill(proc.cmd.Process.Pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("signal 0 to the closed worker %d: %v, want ESRCH (reaped)", proc.cmd.Process.Pid, err)
	}
	if ok, err := p.Check(context.Background(), "ip", hash, "password1"); !ok || err != nil {
		t.Errorf("Check after Close = %v, %v; want true, nil", ok, err)
	}
}

// TestWorkerThatCannotStart: a worker command that does not run, or runs
// something that does not answer the hello, leaves the pool in this
// process, with the worker's failure in the reason.
func TestWorkerThatCannotStart(t *testing.T) {
	defer func(wait time.Duration) { workerReadyWait = wait }(workerReadyWait)
	workerReadyWait = 500 * time.Millisecond
	for name, command := range map[string]func() *exec.Cmd{
		"no such program": func() *exec.Cmd { return exec.Command(filepath.Join(t.TempDir(), "missing")) },
		"exits at once":   func() *exec.Cmd { return exec.Command("true") },
		"says nonsense":   func() *exec.Cmd { return exec.Command("echo", "hello") },
		"never answers":   func() *exec.Cmd { return exec.Command("sleep", "3600") },
		"refuses": func() *exec.Cmd { // the ready frame of a worker whose pool did not start
			return exec.Command("sh", "-c", `head -c 6 >/dev/null; printf '\000\000\000\007\002\000\000nope'; sleep 1`)
		},
	} {
		t.Run(name, func(t *testing.T) {
			p, err := StartPasswords(4, time.Minute, &WorkerProcess{Command: command})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			adm := p.Admission()
			if p.worker != nil || adm.WorkerPID != 0 {
				t.Fatalf("Admission() = %+v: a worker that cannot start is in use", adm)
			}
			if !strings.Contains(adm.Reason, "bcrypt worker") {
				t.Errorf("reason %q does not say why the worker is not used", adm.Reason)
			}
			if ok, err := p.Check(context.Background(), "ip", mustHash(t, p, "password1"), "password1"); !ok || err != nil {
				t.Errorf("Check without the worker = %v, %v; want true, nil", ok, err)
			}
		})
	}
}

// FuzzWorkerFrames: the protocol's decoders never panic, and what the
// encoders write decodes to what was encoded.
func FuzzWorkerFrames(f *testing.F) {
	f.Add(encodeRequest(7, work{op: opCheck, hash: []byte("$2a$10$hash"), password: []byte("password1")}))
	f.Add(encodeAnswer(7, opHash, outcome{hash: []byte("$2a$10$hash")}))
	f.Add(encodeAnswer(8, opCheck, outcome{err: errors.New("boom")}))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 1, 1, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		// Whatever a server would send decodes to what it sent: a hash of
		// up to maxSentHash bytes and a password of any bytes, cut from b.
		cut := min(len(b)/2, maxSentHash)
		sent := work{op: opCheck, hash: b[:cut], password: b[cut:]}
		if id, w, err := decodeRequest(encodeRequest(42, sent)); err != nil || id != 42 || w.op != sent.op || !bytes.Equal(w.hash, sent.hash) || !bytes.Equal(w.password, sent.password) {
			t.Errorf("request %+v decodes to %d %+v, %v", sent, id, w, err)
		}
		var framed bytes.Buffer
		fw := bufio.NewWriter(&framed)
		if err := writeFrame(fw, b); err != nil || fw.Flush() != nil {
			t.Fatal(err)
		}
		frame := bytes.Clone(framed.Bytes())
		got, err := readFrame(bufio.NewReader(&framed))
		switch {
		case len(b) > maxWorkerFrame && err == nil:
			t.Errorf("a frame of %d bytes read back", len(b))
		case len(b) <= maxWorkerFrame && (err != nil || !bytes.Equal(got, b)):
			t.Errorf("frame %x read back as %x, %v", b, got, err)
		}
		if len(b) > 0 {
			if _, err := readFrame(bufio.NewReader(bytes.NewReader(frame[:len(frame)-1]))); err == nil {
				t.Errorf("a frame cut short by a byte read back")
			}
		}
		if id, w, err := decodeRequest(b); err == nil {
			if again := encodeRequest(id, w); !bytes.Equal(again, b) {
				t.Errorf("request %x decodes to %d %+v, which encodes to %x", b, id, w, again)
			}
		}
		if id, o, err := decodeAnswer(b); err == nil {
			op := byte(opHash)
			if len(b) > 8 && b[8] == statusMismatch {
				op = opCheck
			}
			if again := encodeAnswer(id, op, o); !bytes.Equal(again, b) {
				t.Errorf("answer %x decodes to %d %+v, which encodes to %x", b, id, o, again)
			}
		}
	})
}
