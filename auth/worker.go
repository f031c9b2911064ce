package auth

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"runtime"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// The bcrypt worker process.
//
// Lending the last core to bcrypt on a thread of low priority inside the
// server (see pool) has a cost that only shows in the tail of the other
// requests' latencies: the Go runtime owns those threads too. Every garbage
// collection stops the world, which means stopping the bcrypt threads at a
// safe point, and a thread of nice 19 on a core that the server's own
// threads keep busy is the last to get there; meanwhile every request
// waits. A worker process is outside the runtime's reach: the server's
// collections never wait for it, the server keeps GOMAXPROCS at the CPU
// count, and the kernel alone decides between the server's threads and the
// worker's. The worker runs the same pool (one thread per CPU, the last at
// nice 19), started from the same binary, fed over a pipe.
//
// The protocol is private to one binary talking to itself: frames of a
// 4-byte big-endian length and a body. The server writes a hello (version,
// cost) and the worker answers ready (or why not). Then each request is an
// id, an op and its bytes, and each answer the id, a status and its bytes;
// answers come in the order the computations finish.

// Ops and statuses of the worker protocol.
const (
	workerVersion = 1

	opCheck = 1 // compare a password with a hash, then pad up to the cost
	opHash  = 2 // hash a password at the cost

	statusOK       = 0 // opCheck: the password matches; opHash: the hash follows
	statusMismatch = 1 // opCheck: it does not
	statusError    = 2 // the message follows
)

// maxWorkerFrame bounds a frame: a hash of 60 bytes and a password of at
// most 72, with room to spare. A longer frame means the stream is corrupt.
const maxWorkerFrame = 1 << 12

// errWorkerGone is what a call gets when the worker process died or could
// not be reached; the caller then computes on its own goroutine.
var errWorkerGone = errors.New("bcrypt worker process gone")

// work is one bcrypt computation, described so that it can run in this
// process or be sent to the worker process.
type work struct {
	op       byte
	hash     []byte // opCheck: the stored hash, or the dummy
	password []byte
}

// outcome is what a computation gives.
type outcome struct {
	match bool   // opCheck
	hash  []byte // opHash
	err   error  // opHash: bcrypt's error
}

// hasher computes work at a configured cost. It is what both the server
// (without a worker process) and the worker process run.
type hasher struct {
	cost int
	// pads[c] is a dummy hash at cost c, for every cost below the
	// configured one: see compute.
	pads map[int][]byte
	// compare is bcrypt.CompareHashAndPassword, computed in steps; tests
	// count its calls.
	compare func(hash, password []byte) error
}

// newHasher makes the padding hashes for cost.
func newHasher(cost int) (*hasher, error) {
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("bcrypt cost %d is outside %d-%d", cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	// Together these cost about as much as one hash at cost, once, at start.
	pads := make(map[int][]byte)
	for c := bcrypt.MinCost; c < cost; c++ {
		var err error
		if pads[c], err = bcrypt.GenerateFromPassword([]byte("corkboard padding"), c); err != nil {
			return nil, err
		}
	}
	return newHasherWith(cost, pads), nil
}

// newHasherWith is the hasher for cost with the padding hashes pads. It
// computes in steps, yielding its thread between them (see
// bcryptsteps.go).
func newHasherWith(cost int, pads map[int][]byte) *hasher {
	return &hasher{cost: cost, pads: pads, compare: func(hash, password []byte) error {
		return compareSteps(hash, password, yieldThread)
	}}
}

// compute runs w.
func (h *hasher) compute(w work) outcome {
	if w.op == opHash {
		hash, err := generateSteps(w.password, h.cost, yieldThread)
		return outcome{hash: hash, err: err}
	}
	err := h.compare(w.hash, w.password)
	// A hash made before BCRYPT_COST was raised checks faster than the
	// dummy hash, which has the configured cost: without padding, a quick
	// "no" would say the account exists. bcrypt's work doubles with each
	// cost step, so comparisons at every cost from the hash's up to one
	// below the configured one add up to what is missing:
	// 2^c + (2^c + ... + 2^(cost-1)) = 2^cost. The next successful login
	// rehashes (NeedsRehash), and the padding is no longer needed.
	if c, cerr := bcrypt.Cost(w.hash); cerr == nil {
		for ; c < h.cost; c++ {
			h.compare(h.pads[c], w.password)
		}
	}
	return outcome{match: err == nil}
}

// WorkerProcess says how to start the worker process and where to say
// what becomes of it.
type WorkerProcess struct {
	// Command makes the command that runs ServeWorker in a new process:
	// the server's own binary, started again with an argument that its
	// main function sends to ServeWorker. The command's standard input and
	// output are the package's; its standard error may be set (the worker
	// writes there only when it fails).
	Command func() *exec.Cmd
	// Log, when not nil, hears of a worker that dies, fails to start
	// again, or is started again.
	Log *slog.Logger
}

// ServeWorker is the worker process: it reads the hello from in, starts a
// pool of bcrypt threads (one per CPU, the last at nice 19), answers ready
// on out, and then computes each request and writes its answer, until in
// ends (the server closed the pipe, or exited, whatever the way). A pool
// that cannot be started is reported to the server before the error is
// returned, so that the server falls back to computing in its own process.
func ServeWorker(in io.Reader, out io.Writer) error {
	return serveWorker(in, out, nil)
}

// serveWorker is ServeWorker; adjust, when not nil, changes the hasher
// before it serves (tests slow its comparisons down).
func serveWorker(in io.Reader, out io.Writer, adjust func(*hasher)) error {
	r, w := bufio.NewReader(in), bufio.NewWriter(out)
	hello, err := readFrame(r)
	if err != nil {
		return fmt.Errorf("reading the hello: %w", err)
	}
	h, err := decodeHello(hello)
	if err == nil && adjust != nil {
		adjust(h)
	}
	if err == nil && runtime.NumCPU() < 2 {
		err = errors.New("one CPU: nothing to lend")
	}
	var pl *pool
	normal, lent := runtime.NumCPU()-1, 1
	if err == nil {
		pl, err = startPool(normal, lent, setThreadNice)
	}
	if err != nil {
		writeFrame(w, append([]byte{statusError, 0, 0}, err.Error()...))
		w.Flush()
		return err
	}
	defer pl.close()
	if err := writeFrame(w, []byte{statusOK, byte(normal), byte(lent)}); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}

	var wmu sync.Mutex // one answer at a time
	var werr error
	var calls sync.WaitGroup
	defer calls.Wait()
	for {
		body, err := readFrame(r)
		if errors.Is(err, io.EOF) {
			return nil // the server is done with us
		}
		if err != nil {
			return err
		}
		id, wk, err := decodeRequest(body)
		if err != nil {
			return err
		}
		calls.Add(1)
		go func() {
			defer calls.Done()
			var o outcome
			// The server admits no more computations than the pool has
			// threads, so this never waits for a thread.
			pl.do(context.Background(), func() { o = h.compute(wk) }, func() {})
			wmu.Lock()
			defer wmu.Unlock()
			if werr == nil {
				if werr = writeFrame(w, encodeAnswer(id, wk.op, o)); werr == nil {
					werr = w.Flush()
				}
			}
		}()
	}
}

// encodeHello is the hello's body: the version, the cost, and the server's
// padding hashes (see hasher.compute), each a byte of length and the hash,
// so that the worker makes none of its own and answers ready at once.
func encodeHello(h *hasher) []byte {
	b := []byte{workerVersion, byte(h.cost)}
	for c := bcrypt.MinCost; c < h.cost; c++ {
		b = append(append(b, byte(len(h.pads[c]))), h.pads[c]...)
	}
	return b
}

// decodeHello reads a hello's body into a hasher. Each padding hash must
// be a bcrypt hash of its cost.
func decodeHello(b []byte) (*hasher, error) {
	if len(b) < 2 || b[0] != workerVersion {
		return nil, fmt.Errorf("unexpected hello %x", b)
	}
	cost, rest := int(b[1]), b[2:]
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("bcrypt cost %d is outside %d-%d", cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	h := newHasherWith(cost, make(map[int][]byte))
	for c := bcrypt.MinCost; c < cost; c++ {
		if len(rest) < 1 || int(rest[0]) > len(rest)-1 {
			return nil, fmt.Errorf("the hello's padding hash of cost %d is cut short", c)
		}
		pad := rest[1 : 1+int(rest[0])]
		if got, err := bcrypt.Cost(pad); err != nil || got != c {
			return nil, fmt.Errorf("the hello's padding hash of cost %d is not one", c)
		}
		h.pads[c], rest = pad, rest[1+int(rest[0]):]
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("%d bytes after the hello's padding hashes", len(rest))
	}
	return h, nil
}

// readFrame reads one frame's body.
func readFrame(r *bufio.Reader) ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > maxWorkerFrame {
		return nil, fmt.Errorf("a frame of %d bytes, over %d", size, maxWorkerFrame)
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, fmt.Errorf("a frame cut short: %w", io.ErrUnexpectedEOF)
	}
	return body, nil
}

// writeFrame writes body as one frame.
func writeFrame(w *bufio.Writer, body []byte) error {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(body)))
	w.Write(n[:])
	_, err := w.Write(body)
	return err
}

// encodeRequest is a request's body: id, op, the hash's length (2 bytes),
// the hash, the password.
func encodeRequest(id uint64, wk work) []byte {
	b := make([]byte, 0, 11+len(wk.hash)+len(wk.password))
	b = binary.BigEndian.AppendUint64(b, id)
	b = append(b, wk.op)
	b = binary.BigEndian.AppendUint16(b, uint16(len(wk.hash)))
	b = append(b, wk.hash...)
	return append(b, wk.password...)
}

// decodeRequest reads a request's body.
func decodeRequest(b []byte) (uint64, work, error) {
	if len(b) < 11 {
		return 0, work{}, fmt.Errorf("a request of %d bytes", len(b))
	}
	id, op, n := binary.BigEndian.Uint64(b), b[8], int(binary.BigEndian.Uint16(b[9:]))
	if op != opCheck && op != opHash {
		return 0, work{}, fmt.Errorf("unknown op %d", op)
	}
	if n > len(b)-11 {
		return 0, work{}, fmt.Errorf("a hash of %d bytes in a request of %d", n, len(b))
	}
	return id, work{op: op, hash: b[11 : 11+n], password: b[11+n:]}, nil
}

// encodeAnswer is an answer's body: id, status, and the hash or the error.
func encodeAnswer(id uint64, op byte, o outcome) []byte {
	b := binary.BigEndian.AppendUint64(nil, id)
	switch {
	case o.err != nil:
		return append(append(b, statusError), o.err.Error()...)
	case op == opHash:
		return append(append(b, statusOK), o.hash...)
	case o.match:
		return append(b, statusOK)
	default:
		return append(b, statusMismatch)
	}
}

// decodeAnswer reads an answer's body.
func decodeAnswer(b []byte) (uint64, outcome, error) {
	if len(b) < 9 {
		return 0, outcome{}, fmt.Errorf("an answer of %d bytes", len(b))
	}
	id, rest := binary.BigEndian.Uint64(b), b[9:]
	switch b[8] {
	case statusOK:
		return id, outcome{match: true, hash: rest}, nil
	case statusMismatch:
		if len(rest) > 0 {
			return 0, outcome{}, fmt.Errorf("a mismatch answer with %d bytes more", len(rest))
		}
		return id, outcome{}, nil
	case statusError:
		return id, outcome{err: errors.New(string(rest))}, nil
	}
	return 0, outcome{}, fmt.Errorf("unknown status %d", b[8])
}

// worker is the server's side of a worker process. Calls are sent as they
// come, each under an id, and a reader goroutine hands each answer to its
// caller. When the process dies, every pending caller is told so and
// computes on its own goroutine, still holding its slot of the gate; the
// next call after restartEvery starts a new process, without holding up
// the others, which meanwhile compute on their own goroutines too.
type worker struct {
	config WorkerProcess
	hello  []byte

	wmu sync.Mutex // one request frame at a time, on proc.w
	mu  sync.Mutex
	// proc is the running process, or nil: the last one died, or a new
	// one is starting.
	proc     *workerProc
	tried    time.Time // when the last start was tried
	starting bool      // a start is under way, outside mu
	failing  bool      // the last start failed (logged once, until one works)
	closed   bool
	next     uint64
}

// restartEvery bounds how often a dead worker is started again: a worker
// that cannot run does not cost a process start per login.
const restartEvery = time.Second

// workerReadyWait bounds the wait for a new worker's ready answer; a
// worker that has not answered by then is killed. A variable for tests.
var workerReadyWait = 10 * time.Second

// maxSentHash is the longest stored hash sent to the worker: a bcrypt hash
// is 60 bytes, and a longer one (a corrupt record) is not sent at all (see
// Passwords.Check), so that it cannot break the frame.
const maxSentHash = 128

// workerProc is one running worker process.
type workerProc struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	w     *bufio.Writer
	calls map[uint64]*workerCall // pending, under worker.mu; nil once dead
	// normal and lent are the threads the worker's pool runs.
	normal, lent int
	exited       chan struct{} // closed when the process is reaped
}

// workerCall is one pending computation.
type workerCall struct {
	release func() // the gate's slot
	out     outcome
	done    chan struct{} // closed once answered, or once the worker died

	mu      sync.Mutex
	gone    bool // the worker died first: the caller computes, and releases
	stopped bool // the caller stopped waiting (its context ended)
}

// startWorker starts a worker process with the padding hashes of h and
// waits for it to be ready. Its error says why the worker cannot lend
// cores (the caller falls back to its own process). It returns the
// worker's threads and pid as it started them.
func startWorker(config WorkerProcess, h *hasher) (wk *worker, normal, lent, pid int, err error) {
	wk = &worker{config: config, hello: encodeHello(h)}
	proc, err := wk.start()
	if err != nil {
		return nil, 0, 0, 0, err
	}
	wk.proc = proc
	return wk, proc.normal, proc.lent, proc.cmd.Process.Pid, nil
}

// start starts a process and reads its ready frame, for at most
// workerReadyWait. It must not be called with wk.mu held.
func (wk *worker) start() (*workerProc, error) {
	cmd := wk.config.Command()
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("bcrypt worker: %w", err)
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("bcrypt worker: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the bcrypt worker: %w", err)
	}
	proc := &workerProc{cmd: cmd, in: in, w: bufio.NewWriter(in), calls: make(map[uint64]*workerCall), exited: make(chan struct{})}
	r := bufio.NewReader(outPipe)
	type result struct {
		ready []byte
		err   error
	}
	answered := make(chan result, 1)
	go func() {
		var res result
		if res.err = writeFrame(proc.w, wk.hello); res.err == nil {
			if res.err = proc.w.Flush(); res.err == nil {
				res.ready, res.err = readFrame(r)
			}
		}
		answered <- res
	}()
	var res result
	timer := time.NewTimer(workerReadyWait)
	defer timer.Stop()
	select {
	case res = <-answered:
	case <-timer.C:
		res.err = fmt.Errorf("no answer in %v", workerReadyWait)
	}
	ready := res.ready
	switch {
	case res.err != nil:
		err = fmt.Errorf("bcrypt worker: no ready answer: %w", res.err)
	case len(ready) < 3:
		err = fmt.Errorf("bcrypt worker: a ready answer of %d bytes", len(ready))
	case ready[0] != statusOK:
		err = fmt.Errorf("bcrypt worker: %s", ready[3:])
	}
	if err != nil {
		in.Close()
		cmd.Process.Kill()
		cmd.Wait() // closes the output too, so the goroutine above ends
		return nil, err
	}
	proc.normal, proc.lent = int(ready[1]), int(ready[2])
	go wk.read(proc, r)
	return proc, nil
}

// read hands proc's answers to their callers until its output ends, then
// reaps it and tells whatever is still pending.
func (wk *worker) read(proc *workerProc, r *bufio.Reader) {
	var err error
	for {
		var body []byte
		if body, err = readFrame(r); err != nil {
			break
		}
		var id uint64
		var out outcome
		if id, out, err = decodeAnswer(body); err != nil {
			break
		}
		wk.mu.Lock()
		c := proc.calls[id]
		delete(proc.calls, id)
		wk.mu.Unlock()
		if c != nil {
			// The computation is over: its slot is free, whether or not
			// its caller still waits.
			c.out = out
			c.release()
			close(c.done)
		}
	}
	// The process is gone, or talks nonsense: make sure it is gone.
	proc.cmd.Process.Kill()
	proc.cmd.Wait()
	wk.mu.Lock()
	if wk.proc == proc {
		wk.proc = nil
	}
	pending := proc.calls
	proc.calls = nil
	closed := wk.closed
	wk.mu.Unlock()
	if !closed && wk.config.Log != nil {
		wk.config.Log.Warn("bcrypt worker process ended; its checks are computed in the server, and a new worker starts with the next one",
			"pid", proc.cmd.Process.Pid, "status", proc.cmd.ProcessState.String(), "pending", len(pending), "why", err)
	}
	for _, c := range pending {
		c.mu.Lock()
		c.gone = true
		stopped := c.stopped
		c.mu.Unlock()
		if stopped {
			c.release() // nobody will compute it: free its slot
		} else {
			close(c.done) // its caller computes it, and frees the slot after
		}
	}
	close(proc.exited)
}

// running returns the running process, starting a new one first when
// none runs and the last start was at least restartEvery ago; nil when
// none runs now (the caller computes itself).
func (wk *worker) running() *workerProc {
	wk.mu.Lock()
	if wk.closed || wk.proc != nil || wk.starting || time.Since(wk.tried) < restartEvery {
		defer wk.mu.Unlock()
		if wk.closed {
			return nil
		}
		return wk.proc
	}
	wk.starting, wk.tried = true, time.Now()
	wk.mu.Unlock()

	proc, err := wk.start()

	wk.mu.Lock()
	defer wk.mu.Unlock()
	wk.starting = false
	log := wk.config.Log
	switch {
	case err != nil:
		if !wk.failing && log != nil {
			log.Error("bcrypt worker process could not start again; checks are computed in the server until it can", "err", err)
		}
		wk.failing = true
		return nil
	case wk.closed:
		// Closed while starting: end it, as close would have.
		go func() {
			wk.wmu.Lock()
			proc.in.Close()
			wk.wmu.Unlock()
		}()
		return nil
	}
	wk.proc, wk.failing = proc, false
	if log != nil {
		log.Info("bcrypt worker process started again", "pid", proc.cmd.Process.Pid)
	}
	return proc
}

// do sends w to the worker process and waits for its outcome, or for ctx.
// release is the gate's slot. When the worker computes w, the slot is given
// back as the answer comes, whether or not the caller still waits, so that
// the worker never has more computations than threads. errWorkerGone means
// that no worker computed w: the caller must compute it and then give
// the slot back itself.
func (wk *worker) do(ctx context.Context, w work, release func()) (outcome, error) {
	proc := wk.running()
	if proc == nil {
		return outcome{}, errWorkerGone
	}
	c := &workerCall{release: release, done: make(chan struct{})}
	wk.mu.Lock()
	if proc.calls == nil { // it died since running returned it
		wk.mu.Unlock()
		return outcome{}, errWorkerGone
	}
	wk.next++
	id := wk.next
	proc.calls[id] = c
	wk.mu.Unlock()

	wk.wmu.Lock()
	err := writeFrame(proc.w, encodeRequest(id, w))
	if err == nil {
		err = proc.w.Flush()
	}
	wk.wmu.Unlock()
	if err != nil {
		// The pipe is closed (the server is closing the worker, which
		// then finishes what it has) or broken (the worker is dying, and
		// read tells every call pending).
		wk.mu.Lock()
		_, mine := proc.calls[id]
		delete(proc.calls, id)
		closed := wk.closed
		wk.mu.Unlock()
		if !closed {
			proc.cmd.Process.Kill()
		}
		if mine {
			return outcome{}, errWorkerGone
		}
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		c.mu.Lock()
		c.stopped = true
		gone := c.gone
		c.mu.Unlock()
		if gone {
			// read saw the caller still waiting and left the slot to it;
			// nobody computes it now.
			release()
		}
		return outcome{}, ctx.Err()
	}
	c.mu.Lock()
	gone := c.gone
	c.mu.Unlock()
	if gone {
		return outcome{}, errWorkerGone
	}
	return c.out, nil
}

// close ends the worker process: its input closes, it finishes the
// computations under way and exits. It may be called more than once.
func (wk *worker) close() {
	wk.mu.Lock()
	wk.closed = true
	proc := wk.proc
	wk.mu.Unlock()
	if proc == nil {
		return
	}
	wk.wmu.Lock()
	proc.in.Close()
	wk.wmu.Unlock()
	select {
	case <-proc.exited:
	case <-time.After(10 * time.Second):
		proc.cmd.Process.Kill()
		<-proc.exited
	}
}

// pid is the running worker process's id, or 0, for tests.
func (wk *worker) pid() int {
	wk.mu.Lock()
	defer wk.mu.Unlock()
	if wk.proc == nil {
		return 0
	}
	return wk.proc.cmd.Process.Pid
}
