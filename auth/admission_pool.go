package auth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
)

// lentNice is the nice value of the threads that run bcrypt on lent
// cores: the lowest priority there is. The kernel gives a nice-19 thread
// about 1/70 of a core that a nice-0 thread also wants, and a nice-0
// thread that wakes up preempts it at once, so such a thread uses only
// what nobody else in the machine wants.
const lentNice = 19

// pool runs bcrypt computations on OS threads of its own, so that the
// kernel rather than the Go scheduler decides who gets a core.
//
// The Go scheduler cannot take a core back from a bcrypt computation: it
// preempts a running goroutine only every 10 ms or so, and a comparison at
// cost 10 runs for about 60 ms. The kernel can: each worker goroutine is
// locked to its own thread, and the workers that run on lent cores lower
// their thread's priority to lentNice. The runtime gets one extra P per
// worker (see lendProcs), so that a busy worker never holds a P that the
// HTTP goroutines need: they keep every P they had, on threads of normal
// priority, and the kernel hands them a core the moment they wake.
//
// Jobs go to a worker of normal priority first and to a lent one only when
// every normal one is busy.
type pool struct {
	jobs  chan job // taken by the workers of normal priority
	spare chan job // taken by the workers on lent cores
	quit  chan struct{}
	wg    sync.WaitGroup
	// setNice lowers the calling thread's priority: setThreadNice, or a
	// failure in the tests of the fallback.
	setNice func(nice int) error
	procs   int // Ps lent to the runtime for the workers; given back at close

	mu      sync.Mutex
	threads []int // the workers' OS thread ids, for tests
	closed  bool
}

// job is one computation handed to a worker. release gives back the
// gate's slot; the worker calls it when run has returned, whether or not
// the caller still waits, so that the gate never admits more computations
// than there are workers.
type job struct {
	run     func()
	release func()
	done    chan struct{} // closed when run has returned
}

// startPool starts normal workers at normal priority and lent workers at
// lentNice, each locked to its own thread, and adds one P per worker to
// GOMAXPROCS. It fails, having stopped what it started, when a thread's
// priority cannot be lowered (another OS, or a sandbox that forbids it).
func startPool(normal, lent int, setNice func(int) error) (*pool, error) {
	pl := &pool{jobs: make(chan job), spare: make(chan job), quit: make(chan struct{}), setNice: setNice}
	started := make(chan error)
	for i := range normal + lent {
		nice, ch := 0, pl.jobs
		if i >= normal {
			nice, ch = lentNice, pl.spare
		}
		pl.wg.Add(1)
		go pl.work(nice, ch, started)
	}
	var errs []error
	for range normal + lent {
		errs = append(errs, <-started)
	}
	if err := errors.Join(errs...); err != nil {
		pl.close()
		return nil, err
	}
	pl.procs = normal + lent
	lendProcs(pl.procs)
	return pl, nil
}

// work is one worker. Its goroutine stays locked to its thread until it
// returns, and it never unlocks: a goroutine that ends locked takes its
// thread with it, so a thread whose priority was lowered (which an
// unprivileged process cannot raise again) is never handed back to the
// runtime to run other goroutines slowly.
//
// A worker never keeps the process's main thread: the runtime never ends
// that thread (it parks it instead), and its nice value is the one ps and
// top show for the whole process. A worker that finds itself there holds
// it until a replacement has locked another thread, and then lets it go.
func (pl *pool) work(nice int, jobs <-chan job, started chan<- error) {
	defer pl.wg.Done()
	runtime.LockOSThread()
	if threadID() == os.Getpid() {
		moved := make(chan struct{})
		pl.wg.Add(1)
		go func() {
			defer pl.wg.Done()
			runtime.LockOSThread()
			close(moved)
			pl.serve(nice, jobs, started)
		}()
		<-moved
		runtime.UnlockOSThread()
		return
	}
	pl.serve(nice, jobs, started)
}

// serve lowers the calling thread's priority to nice, when not 0, says so
// on started, and runs jobs until the pool closes. The goroutine must be
// locked to its thread.
func (pl *pool) serve(nice int, jobs <-chan job, started chan<- error) {
	if nice != 0 {
		if err := pl.setNice(nice); err != nil {
			started <- fmt.Errorf("lowering a bcrypt thread's priority to nice %d: %w", nice, err)
			return
		}
	}
	pl.mu.Lock()
	pl.threads = append(pl.threads, threadID())
	pl.mu.Unlock()
	started <- nil
	for {
		select {
		case j := <-jobs:
			j.run()
			j.release()
			close(j.done)
		case <-pl.quit:
			return
		}
	}
}

// do runs run on a worker and waits for it, or for ctx. release is the
// gate's slot, given back when run returns. A caller who gives up gets the
// context's error at once; the computation under way finishes on its
// worker (bcrypt cannot be interrupted) and only then frees the slot. Once
// the pool is closed (the server is shutting down), run runs on the
// calling goroutine.
func (pl *pool) do(ctx context.Context, run, release func()) error {
	j := job{run: run, release: release, done: make(chan struct{})}
	select {
	case pl.jobs <- j:
	default:
		select {
		case pl.jobs <- j:
		case pl.spare <- j:
		case <-pl.quit:
			defer release()
			run()
			return nil
		case <-ctx.Done():
			release()
			return ctx.Err()
		}
	}
	select {
	case <-j.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close stops the workers, waiting for the computations under way, ends
// their threads and gives back the Ps lent for them. It may be called more
// than once.
func (pl *pool) close() {
	pl.mu.Lock()
	if pl.closed {
		pl.mu.Unlock()
		return
	}
	pl.closed = true
	pl.mu.Unlock()
	close(pl.quit)
	pl.wg.Wait()
	if pl.procs > 0 {
		lendProcs(-pl.procs)
	}
}

// procs counts the Ps that running pools have added to GOMAXPROCS, which
// belongs to the whole process: several apps in one process (tests) each
// add their own and take back only those.
var procs struct {
	sync.Mutex
	lent int
}

// lendProcs adds n Ps to GOMAXPROCS (takes them back when n < 0).
func lendProcs(n int) {
	procs.Lock()
	defer procs.Unlock()
	procs.lent += n
	runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + n)
}

// cpuBudget returns GOMAXPROCS as it would be without the Ps lent to the
// pools.
func cpuBudget() int {
	procs.Lock()
	defer procs.Unlock()
	return runtime.GOMAXPROCS(0) - procs.lent
}
