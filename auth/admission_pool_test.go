package auth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// startLending starts a Passwords at cost 4 that lends idle cores to
// bcrypt, or skips the test where the OS does not allow it (the fallback
// has tests of its own).
func startLending(t *testing.T, maxWait time.Duration) *Passwords {
	t.Helper()
	p, err := StartPasswords(4, maxWait, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	if adm := p.Admission(); !adm.Lending {
		t.Skipf("bcrypt threads of low priority are not available here: %s", adm.Reason)
	}
	return p
}

// threadNice returns the nice value of this process's thread tid, from
// /proc/self/task/<tid>/stat (field 19, counted after the command name,
// which may hold spaces).
func threadNice(t *testing.T, tid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/stat", tid))
	if err != nil {
		t.Fatalf("reading thread %d's stat: %v", tid, err)
	}
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	nice, err := strconv.Atoi(fields[19-3])
	if err != nil {
		t.Fatalf("thread %d's stat %q: nice: %v", tid, b, err)
	}
	return nice
}

// TestPoolComputesTheSame: checks and hashes on the pool's threads give the
// answers they give on the caller's goroutine, from many callers at once
// (so that both the normal and the lent threads serve some).
func TestPoolComputesTheSame(t *testing.T) {
	computesTheSame(t, startLending(t, time.Minute))
}

// computesTheSame checks p's hashes with bcrypt itself, and p's answers to
// checks of every kind (right, wrong, unknown user, a password past the
// 72-byte limit, a hash of another cost, no hash at all) from eight
// callers at once.
func computesTheSame(t *testing.T, p *Passwords) {
	t.Helper()
	ctx := context.Background()
	hash := mustHash(t, p, "correct horse")
	if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte("correct horse")); err != nil {
		t.Fatalf("the hash does not verify with bcrypt itself: %v", err)
	}
	if c, _ := bcrypt.Cost([]byte(hash)); c != p.cost {
		t.Errorf("hashed at cost %d, want %d", c, p.cost)
	}
	long := mustHash(t, p, strings.Repeat("a", 72))
	old, err := bcrypt.GenerateFromPassword([]byte("old hash"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, hash, password string
		want                 bool
	}{
		{"right password", hash, "correct horse", true},
		{"wrong password", hash, "correct horsf", false},
		{"unknown user (dummy hash)", "", "corkboard dummy password", false},
		{"73 bytes sharing the first 72", long, strings.Repeat("a", 73), false},
		{"a hash at another cost", string(old), "old hash", true},
		{"not a hash", "$2a$04$short", "whatever1", false},
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, tt := range tests {
				got, err := p.Check(ctx, fmt.Sprint("ip", i), tt.hash, tt.password)
				if err != nil || got != tt.want {
					t.Errorf("caller %d, %s: Check = %v, %v; want %v, nil", i, tt.name, got, err, tt.want)
				}
			}
		}()
	}
	wg.Wait()
	if _, err := p.Hash(ctx, "ip", strings.Repeat("a", 73)); !errors.Is(err, ErrPasswordTooLong) {
		t.Errorf("Hash of 73 bytes = %v, want ErrPasswordTooLong", err)
	}
}

// TestPoolThreads: the pool runs one thread per CPU, the lent ones at nice
// 19 and the others at nice 0; it adds one P per thread to GOMAXPROCS while
// it runs; Close ends every thread and gives the Ps back, and a check after
// Close still works, on the caller's goroutine.
func TestPoolThreads(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	p := startLending(t, time.Minute)
	adm := p.Admission()
	cpus := runtime.NumCPU()
	if adm.Normal+adm.Lent != cpus || adm.Lent != 1 || adm.Slots != cpus {
		t.Errorf("Admission() = %+v; want %d threads, one of them lent, and %d slots", adm, cpus, cpus)
	}
	if got := runtime.GOMAXPROCS(0); got != before+cpus {
		t.Errorf("GOMAXPROCS with the pool running = %d, want %d + %d", got, before, cpus)
	}
	p.pool.mu.Lock()
	tids := append([]int(nil), p.pool.threads...)
	p.pool.mu.Unlock()
	if len(tids) != cpus {
		t.Fatalf("pool threads %v, want %d", tids, cpus)
	}
	lent := 0
	for _, tid := range tids {
		if tid == os.Getpid() {
			t.Errorf("thread %d, the process's main thread, is in the pool", tid)
		}
		switch n := threadNice(t, tid); n {
		case lentNice:
			lent++
		case 0:
		default:
			t.Errorf("thread %d at nice %d, want 0 or %d", tid, n, lentNice)
		}
	}
	if lent != adm.Lent {
		t.Errorf("%d threads at nice %d, want %d", lent, lentNice, adm.Lent)
	}

	p.Close()
	p.Close() // twice is harmless
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Errorf("GOMAXPROCS after Close = %d, want %d again", got, before)
	}
	// A goroutine that ends locked to its thread takes the thread with it;
	// the thread exits a moment after the goroutine.
	deadline := time.Now().Add(10 * time.Second)
	for _, tid := range tids {
		for {
			_, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", tid))
			if errors.Is(err, os.ErrNotExist) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("thread %d still there 10 s after Close (stat: %v): the pool leaked it", tid, err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if ok, err := p.Check(context.Background(), "ip", mustHash(t, p, "password1"), "password1"); !ok || err != nil {
		t.Errorf("Check after Close = %v, %v; want true, nil", ok, err)
	}
}

// blockingCompare makes p's comparisons report the password they compare
// on entered and then wait for a value on proceed. However the test ends,
// proceed is closed before p closes (Close waits for the computations).
func blockingCompare(t *testing.T, p *Passwords, entered chan<- string, proceed chan struct{}) (end func()) {
	end = sync.OnceFunc(func() { close(proceed) })
	t.Cleanup(end)
	p.compare = func(hash, pw []byte) error {
		entered <- string(pw)
		<-proceed
		return bcrypt.CompareHashAndPassword(hash, pw)
	}
	return end
}

// TestPoolCancelAndBound: with every thread busy, a caller whose context
// ends gets the context's error at once, even while its own computation
// still runs (and still holds its slot until it ends); a caller who waits
// for a slot gets ErrBusy after the bound; and every slot comes back.
func TestPoolCancelAndBound(t *testing.T) {
	p := startLending(t, 100*time.Millisecond)
	slots := p.Admission().Slots
	entered, proceed := make(chan string, 64), make(chan struct{})
	end := blockingCompare(t, p, entered, proceed)

	ctx, cancel := context.WithCancel(context.Background())
	results := make(chan error, slots)
	for i := range slots {
		c := context.Background()
		if i == 0 {
			c = ctx
		}
		go func() { _, err := p.Check(c, "busy", "", "password1"); results <- err }()
	}
	for range slots {
		<-entered
	}
	cancel()
	select {
	case err := <-results:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Check whose context ended during its computation = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Check whose context ended during its computation still waits 10 s later")
	}
	p.gate.mu.Lock()
	free := p.gate.free
	p.gate.mu.Unlock()
	if free != 0 {
		t.Errorf("%d slots free while every computation still runs, want 0", free)
	}
	// Bounded by a context too, so that a gate that admitted it anyway
	// fails the test rather than hangs it.
	busyCtx, busyCancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer busyCancel()
	if _, err := p.Check(busyCtx, "other", "", "password1"); !errors.Is(err, ErrBusy) {
		t.Errorf("Check with every thread busy past the bound = %v, want ErrBusy", err)
	}
	waitCtx, waitCancel := context.WithCancel(context.Background())
	waiting := make(chan error, 1)
	go func() { _, err := p.Hash(waitCtx, "other", "password1"); waiting <- err }()
	waitQueued(t, p.gate, 1)
	waitCancel()
	if err := <-waiting; !errors.Is(err, context.Canceled) {
		t.Errorf("Hash cancelled while waiting for a slot = %v, want context.Canceled", err)
	}

	end()
	for range slots - 1 {
		if err := <-results; err != nil {
			t.Errorf("Check = %v once its computation could go on, want nil", err)
		}
	}
	p.Close() // waits for the cancelled caller's computation, too
	p.gate.mu.Lock()
	defer p.gate.mu.Unlock()
	if p.gate.free != slots || len(p.gate.held) != 0 || len(p.gate.queue) != 0 {
		t.Errorf("gate after every computation ended: free %d, held %v, %d waiting; want %d, none, none", p.gate.free, p.gate.held, len(p.gate.queue), slots)
	}
}

// TestPoolFair: with the pool, the gate still serves round-robin by key:
// the next free thread goes to the client that waits behind a flood from
// another, not to the flood.
func TestPoolFair(t *testing.T) {
	p := startLending(t, time.Minute)
	slots := p.Admission().Slots
	entered, proceed := make(chan string, 64), make(chan struct{})
	end := blockingCompare(t, p, entered, proceed)
	ctx := context.Background()
	var wg sync.WaitGroup
	check := func(key, pw string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.Check(ctx, key, "", pw); err != nil {
				t.Errorf("Check(%s) = %v", key, err)
			}
		}()
	}
	for range slots {
		check("flood", "holding")
	}
	for range slots {
		<-entered
	}
	for range 5 {
		check("flood", "flooding")
	}
	waitQueued(t, p.gate, 5)
	check("other", "other")
	waitQueued(t, p.gate, 6)
	proceed <- struct{}{} // one computation ends: one slot comes free
	if got := <-entered; got != "other" {
		t.Errorf("the slot freed behind a flood went to %q, want other", got)
	}
	end()
	wg.Wait()
}

// TestStartPasswordsFallback: where a thread's priority cannot be lowered,
// or GOMAXPROCS is below the CPU count, StartPasswords holds a core back
// as before: no pool, no extra P, GOMAXPROCS − 1 slots, the reason given;
// and it still checks passwords.
func TestStartPasswordsFallback(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	goroutines := runtime.NumGoroutine()
	p, err := startPasswords(4, time.Minute, host{
		setNice: func(int) error { return errors.New("setpriority: operation not permitted") },
		quota:   func() (string, bool) { return "", false },
		numCPU:  runtime.NumCPU,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	adm := p.Admission()
	if adm.Lending || p.pool != nil || adm.Slots != max(procs-1, 1) || !strings.Contains(adm.Reason, "not permitted") {
		t.Errorf("Admission() when the priority cannot be lowered = %+v (pool %v); want no lending, %d slots, the error as reason", adm, p.pool != nil, max(procs-1, 1))
	}
	if got := runtime.GOMAXPROCS(0); got != procs {
		t.Errorf("GOMAXPROCS after the fallback = %d, want %d unchanged", got, procs)
	}
	for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > goroutines; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines 10 s after the fallback, %d before: the threads started were not stopped", runtime.NumGoroutine(), goroutines)
		}
	}
	if ok, err := p.Check(context.Background(), "ip", mustHash(t, p, "password1"), "password1"); !ok || err != nil {
		t.Errorf("Check in the fallback = %v, %v; want true, nil", ok, err)
	}

	cpus := runtime.NumCPU()
	if cpus < 2 {
		t.Skip("one CPU: GOMAXPROCS cannot be below it")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(cpus - 1))
	limited, err := StartPasswords(4, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer limited.Close()
	if adm := limited.Admission(); adm.Lending || adm.Slots != max(cpus-2, 1) || !strings.Contains(adm.Reason, "GOMAXPROCS") {
		t.Errorf("Admission() with GOMAXPROCS %d on %d CPUs = %+v; want no lending, %d slots, GOMAXPROCS as reason", cpus-1, cpus, adm, max(cpus-2, 1))
	}
}

// TestStartPasswordsHoldsBackWhenLendingWouldStall: with one CPU the only
// bcrypt thread would be the lent one, at nice 19, so a busy server would
// stop logging anyone in; under a CPU quota (which Go's GOMAXPROCS does
// not always show: it never goes below 2) a thread of low priority still
// spends the quota. Both hold a core back as before, with no thread
// started and no P added, and say why.
func TestStartPasswordsHoldsBackWhenLendingWouldStall(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	niced := 0
	for _, tc := range []struct {
		name   string
		cpus   int
		quota  string
		reason string
	}{
		{"one CPU", 1, "", "one CPU"},
		{"a quota", runtime.NumCPU(), "cpu.max 150000 100000", "cpu.max 150000 100000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := startPasswords(4, time.Minute, host{
				setNice: func(int) error { niced++; return nil },
				quota:   func() (string, bool) { return tc.quota, tc.quota != "" },
				numCPU:  func() int { return tc.cpus },
			})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			adm := p.Admission()
			if adm.Lending || p.pool != nil || adm.Slots != max(procs-1, 1) || !strings.Contains(adm.Reason, tc.reason) {
				t.Errorf("Admission() = %+v (pool %v); want no lending, %d slots, a reason naming %q", adm, p.pool != nil, max(procs-1, 1), tc.reason)
			}
			if got := runtime.GOMAXPROCS(0); got != procs {
				t.Errorf("GOMAXPROCS = %d, want %d unchanged", got, procs)
			}
		})
	}
	if niced != 0 {
		t.Errorf("%d threads were given a nice value; want none", niced)
	}
}
