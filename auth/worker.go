package auth

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
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
	// compare is bcrypt.CompareHashAndPassword; tests count its calls.
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
	return &hasher{cost: cost, pads: pads, compare: bcrypt.CompareHashAndPassword}, nil
}

// compute runs w.
func (h *hasher) compute(w work) outcome {
	if w.op == opHash {
		hash, err := bcrypt.GenerateFromPassword(w.password, h.cost)
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

// WorkerCommand makes the command that runs ServeWorker in a new process:
// the server's own binary, started again with an argument that its main
// function sends to ServeWorker. The command's standard input and output
// are the package's; its standard error may be set (the worker writes there
// only when it fails).
type WorkerCommand func() *exec.Cmd

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
	if len(hello) != 2 || hello[0] != workerVersion {
		return fmt.Errorf("unexpected hello %x", hello)
	}
	h, err := newHasher(int(hello[1]))
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
// caller. When the process dies, every pending call is told so (its
// caller then computes on its own goroutine), and the next call starts a
// new process, at most once per restartEvery.
type worker struct {
	command WorkerCommand
	cost    int

	wmu sync.Mutex // one request frame at a time, on proc.in
	mu  sync.Mutex
	// proc is the running process, or nil: none yet, or the last one died.
	proc    *workerProc
	tried   time.Time // when the last start was tried
	startFn func() (*workerProc, error)
	closed  bool
	next    uint64
}

// restartEvery bounds how often a dead worker is started again: a worker
// that cannot run does not cost a process start per login.
const restartEvery = time.Second

// workerProc is one running worker process.
type workerProc struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	w     *bufio.Writer
	calls map[uint64]*workerCall // pending, under worker.mu
	// normal and lent are the threads the worker's pool runs.
	normal, lent int
	exited       chan struct{} // closed when the process is reaped
}

// workerCall is one pending computation.
type workerCall struct {
	release func() // the gate's slot, given back with the answer
	out     outcome
	err     error         // errWorkerGone when the process died first
	done    chan struct{} // closed with out or err set
}

// startWorker starts a worker process at cost and waits for it to be
// ready. Its error says why the worker cannot lend cores (the caller falls
// back to its own process).
func startWorker(command WorkerCommand, cost int) (*worker, error) {
	wk := &worker{command: command, cost: cost}
	wk.startFn = wk.start
	wk.mu.Lock()
	defer wk.mu.Unlock()
	proc, err := wk.start()
	if err != nil {
		return nil, err
	}
	wk.proc = proc
	return wk, nil
}

// start starts a process and reads its ready frame.
func (wk *worker) start() (*workerProc, error) {
	wk.tried = time.Now()
	cmd := wk.command()
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
	ready, err := func() ([]byte, error) {
		if err := writeFrame(proc.w, []byte{workerVersion, byte(wk.cost)}); err != nil {
			return nil, err
		}
		if err := proc.w.Flush(); err != nil {
			return nil, err
		}
		return readFrame(r)
	}()
	switch {
	case err != nil:
		err = fmt.Errorf("bcrypt worker: no ready answer: %w", err)
	case len(ready) < 3:
		err = fmt.Errorf("bcrypt worker: a ready answer of %d bytes", len(ready))
	case ready[0] != statusOK:
		err = fmt.Errorf("bcrypt worker: %s", ready[3:])
	}
	if err != nil {
		in.Close()
		cmd.Process.Kill()
		cmd.Wait()
		return nil, err
	}
	proc.normal, proc.lent = int(ready[1]), int(ready[2])
	go wk.read(proc, r)
	return proc, nil
}

// read hands proc's answers to their callers until its output ends, then
// reaps it and fails whatever is still pending.
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
	wk.mu.Unlock()
	for _, c := range pending {
		c.err = errWorkerGone
		c.release()
		close(c.done)
	}
	close(proc.exited)
}

// do sends w to the worker process and waits for its outcome, or for ctx.
// release is the gate's slot: it is given back when the answer comes (or
// the process dies), whether or not the caller still waits, so that the
// worker never has more computations than threads. errWorkerGone means
// the caller must compute w itself (its slot was given back already).
func (wk *worker) do(ctx context.Context, w work, release func()) (outcome, error) {
	wk.mu.Lock()
	if wk.closed {
		wk.mu.Unlock()
		release()
		return outcome{}, errWorkerGone
	}
	if wk.proc == nil && time.Since(wk.tried) >= restartEvery {
		wk.proc, _ = wk.startFn() // a failure leaves nil: this call computes itself
	}
	proc := wk.proc
	if proc == nil {
		wk.mu.Unlock()
		release()
		return outcome{}, errWorkerGone
	}
	wk.next++
	id := wk.next
	c := &workerCall{release: release, done: make(chan struct{})}
	proc.calls[id] = c
	wk.mu.Unlock()

	wk.wmu.Lock()
	err := writeFrame(proc.w, encodeRequest(id, w))
	if err == nil {
		err = proc.w.Flush()
	}
	wk.wmu.Unlock()
	if err != nil {
		// The pipe is broken: the process is dying, and read fails every
		// call still pending, this one included (if it has not yet).
		proc.cmd.Process.Kill()
	}
	select {
	case <-c.done:
		return c.out, c.err
	case <-ctx.Done():
		return outcome{}, ctx.Err()
	}
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

// pid is the running worker process's id, or 0, for tests and the log.
func (wk *worker) pid() int {
	wk.mu.Lock()
	defer wk.mu.Unlock()
	if wk.proc == nil {
		return 0
	}
	return wk.proc.cmd.Process.Pid
}
