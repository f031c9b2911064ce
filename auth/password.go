package auth

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Password length limits, in bytes. bcrypt ignores everything after byte 72,
// so a longer password is refused rather than silently truncated.
const (
	MinPasswordBytes = 8
	MaxPasswordBytes = 72
)

// ErrPasswordTooLong is returned by Hash for a password over MaxPasswordBytes.
var ErrPasswordTooLong = errors.New("password longer than 72 bytes")

// ErrBusy is returned when too many password computations are queued; the
// client gets a 503 with Retry-After, so a login flood sheds load instead of
// piling up.
var ErrBusy = errors.New("too many password checks waiting")

// MaxPasswordWait is how long a password check or hash may wait for a
// bcrypt slot before it is refused with ErrBusy (a 503 with Retry-After).
const MaxPasswordWait = 2 * time.Second

// Passwords hashes and checks passwords with bcrypt. It bounds how many
// bcrypt computations run at once (each one burns a core for tens of
// milliseconds), so that a flood of logins waits here instead of starving
// every other route of CPU, and it admits them fairly: see gate.
type Passwords struct {
	*hasher
	gate *gate
	// worker runs the computations in a process of its own
	// (StartPasswords with a WorkerProcess); pool runs them on threads of
	// their own in this process (StartPasswords without one); with
	// neither, they run on the caller's goroutine, on a core held back by
	// the gate's slot count (NewPasswords, and the fallback).
	worker *worker
	pool   *pool
	// mode says which of the three is in force, for the start-up log.
	mode  Admission
	dummy []byte // hash compared against when the user is unknown
}

// NewPasswords returns a Passwords using bcrypt cost cost, running at most
// parallel computations at once on the callers' goroutines; a caller waits
// at most maxWait for one.
func NewPasswords(cost, parallel int, maxWait time.Duration) (*Passwords, error) {
	p, err := newPasswords(cost)
	if err != nil {
		return nil, err
	}
	p.gate = newGate(parallel, maxWait)
	p.mode = Admission{Lending: false, Slots: max(parallel, 1), Reason: "fixed slot count"}
	return p, nil
}

// Admission describes how a Passwords shares the CPU with everything else.
type Admission struct {
	// Lending is true when bcrypt may use every core, on threads whose
	// priority is lowered wherever it would take a core from something
	// else, and false when it runs at normal priority on all cores but one.
	Lending bool
	// Slots is how many computations may run at once.
	Slots int
	// Normal and Lent count the pool's threads of normal and of lowered
	// priority (zero without a pool).
	Normal, Lent int
	// WorkerPID is the worker process's id when the pool runs in one, else
	// zero.
	WorkerPID int
	// Reason says why this mode is in force.
	Reason string
}

// StartPasswords returns a Passwords using bcrypt cost cost whose
// computations may use every core without starving the other requests,
// where the OS allows it: they run on a pool of threads of their own, one
// per CPU, of which one runs at the lowest priority (nice 19), so that
// the last core is lent to bcrypt only while nothing else wants it (see
// pool). It falls back to NewPasswords's mode, with GOMAXPROCS − 1 slots,
// when GOMAXPROCS is below the CPU count (a container's CPU limit, or
// GOMAXPROCS set by hand: with a CPU quota, a thread of low priority still
// spends the quota, and the kernel would then stop every thread of the
// process until the next period) or when the threads' priority cannot be
// lowered. Admission says which is in force; Close stops the pool.
//
// With a worker command, the pool runs in a worker process of its own
// (see ServeWorker), so that the server's garbage collections never wait
// for a thread of low priority; if that process cannot be started, the
// pool runs in this process, as without one.
func StartPasswords(cost int, maxWait time.Duration, worker *WorkerProcess) (*Passwords, error) {
	return startPasswords(cost, maxWait, host{setNice: setThreadNice, quota: cpuQuota, numCPU: runtime.NumCPU, worker: worker})
}

// host is what StartPasswords asks of the machine, given so that tests can
// make each answer differ: lowering a thread's priority, finding a CPU
// quota, counting the CPUs.
type host struct {
	setNice func(nice int) error
	quota   func() (limit string, limited bool)
	numCPU  func() int
	worker  *WorkerProcess // nil: the pool runs in this process
}

// startPasswords is StartPasswords on the given host.
func startPasswords(cost int, maxWait time.Duration, h host) (*Passwords, error) {
	p, err := newPasswords(cost)
	if err != nil {
		return nil, err
	}
	procsNow := cpuBudget()
	cpus := h.numCPU()
	held := max(procsNow-1, 1)
	fallback := ""
	switch q, limited := h.quota(); {
	case cpus < 2:
		// One CPU: the only bcrypt thread would be the lent one, at nice
		// 19, and a busy server would stop logging anyone in.
		fallback = "one CPU: bcrypt runs at normal priority"
	case limited:
		// Go rounds a quota up to at least 2 Ps, so GOMAXPROCS does not
		// show every quota; and threads of low priority still spend it.
		fallback = "a CPU quota is set (" + q + ")"
	case procsNow < cpus:
		fallback = fmt.Sprintf("GOMAXPROCS %d is below the %d CPUs (a CPU limit or GOMAXPROCS set)", procsNow, cpus)
	}
	if fallback != "" {
		p.gate = newGate(held, maxWait)
		p.mode = Admission{Slots: held, Reason: fallback}
		return p, nil
	}
	var why string // why the worker process is not used
	if h.worker != nil {
		wk, normal, lent, pid, err := startWorker(*h.worker, p.hasher)
		if err == nil {
			p.worker = wk
			p.gate = newGate(normal+lent, maxWait)
			p.mode = Admission{Lending: true, Slots: normal + lent, Normal: normal, Lent: lent, WorkerPID: pid,
				Reason: fmt.Sprintf("a worker process of one thread per CPU, %d at nice %d", lent, lentNice)}
			return p, nil
		}
		why = "; " + err.Error()
	}
	normal, lent := cpus-1, 1
	if p.pool, err = startPool(normal, lent, h.setNice); err != nil {
		p.gate = newGate(held, maxWait)
		p.mode = Admission{Slots: held, Reason: err.Error() + why}
		return p, nil
	}
	p.gate = newGate(normal+lent, maxWait)
	p.mode = Admission{Lending: true, Slots: normal + lent, Normal: normal, Lent: lent,
		Reason: fmt.Sprintf("one thread per CPU, %d at nice %d; GOMAXPROCS raised by %d", lent, lentNice, normal+lent) + why}
	return p, nil
}

// Admission says how p shares the CPU.
func (p *Passwords) Admission() Admission { return p.mode }

// Close stops p's threads, if it has any, after the computations under
// way. A check or hash after Close runs on its caller's goroutine.
func (p *Passwords) Close() {
	if p.worker != nil {
		p.worker.close()
	}
	if p.pool != nil {
		p.pool.close()
	}
}

// newPasswords makes the dummy hash and the hasher for cost.
func newPasswords(cost int) (*Passwords, error) {
	h, err := newHasher(cost)
	if err != nil {
		return nil, err
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("corkboard dummy password"), cost)
	if err != nil {
		return nil, err
	}
	return &Passwords{hasher: h, dummy: dummy}, nil
}

// Hash returns the bcrypt hash of password. key names who asks (the
// client's address), for fair admission.
func (p *Passwords) Hash(ctx context.Context, key, password string) (string, error) {
	if len(password) > MaxPasswordBytes {
		return "", ErrPasswordTooLong
	}
	o, err := p.run(ctx, key, work{op: opHash, password: []byte(password)})
	if err != nil {
		return "", err
	}
	return string(o.hash), o.err
}

// run computes w once the gate admits key: in the worker process, on a
// pool thread, or on the calling goroutine (see Passwords). Its error is
// the gate's (ErrBusy) or the context's; w's own outcome is in the
// outcome.
func (p *Passwords) run(ctx context.Context, key string, w work) (outcome, error) {
	release, err := p.gate.acquire(ctx, key)
	if err != nil {
		return outcome{}, err
	}
	switch {
	case p.worker != nil:
		o, err := p.worker.do(ctx, w, release)
		if errors.Is(err, errWorkerGone) {
			// No worker computed it (it died with it, is starting again,
			// or was closed): compute here, in the slot still held,
			// rather than fail a login.
			defer release()
			return p.compute(w), nil
		}
		return o, err
	case p.pool != nil:
		var o outcome
		err := p.pool.do(ctx, func() { o = p.compute(w) }, release)
		return o, err
	default:
		defer release()
		return p.compute(w), nil
	}
}

// Check reports whether password matches hash. key names who asks (the
// client's address), for fair admission. An empty hash (the user does not
// exist) is compared against a dummy hash, so that an unknown user and a
// wrong password take the same time. A password over MaxPasswordBytes never
// matches: comparing it would compare only its first 72 bytes. The error is
// non-nil only when no comparison could be made (ErrBusy, context).
func (p *Passwords) Check(ctx context.Context, key, hash, password string) (bool, error) {
	target := []byte(hash)
	// A stored "hash" far longer than bcrypt's 60 bytes is a corrupt
	// record: it never matches, and the dummy is compared instead, so
	// that it costs what any check does and is never sent to the worker
	// (see maxSentHash).
	corrupt := len(hash) > maxSentHash
	if hash == "" || corrupt {
		target = p.dummy
	}
	tooLong := len(password) > MaxPasswordBytes
	if tooLong {
		password = password[:MaxPasswordBytes] // same work, but the answer is no
	}
	o, err := p.run(ctx, key, work{op: opCheck, hash: target, password: []byte(password)})
	if err != nil {
		return false, err
	}
	return o.match && hash != "" && !corrupt && !tooLong, nil
}

// NeedsRehash reports whether hash was made at another cost than the
// configured one, so that a successful login should store a new hash.
func (p *Passwords) NeedsRehash(hash string) bool {
	c, err := bcrypt.Cost([]byte(hash))
	return err == nil && c != p.cost
}
