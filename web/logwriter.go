package web

import (
	"io"
	"sync"
	"time"
)

// maxLogBuffer is how many bytes of log lines a LogWriter holds before the
// goroutine that logs waits for them to be written: if the log's file or
// pipe stalls, requests slow down as they did when every line was written
// in place, rather than memory filling up.
const maxLogBuffer = 256 << 10

// logFlushSize is how many buffered bytes make the writing goroutine write
// at once, without waiting for the rest of logFlushDelay: a burst of long
// lines goes out in pieces of about this size rather than piling up to
// maxLogBuffer.
const logFlushSize = 64 << 10

// logFlushDelay is how long a LogWriter gathers lines after the first one
// of a batch before it writes them: at most this long is a line late, and a
// loaded server makes at most about 1/logFlushDelay writes a second
// (200) instead of one per request (17,000 in the load driver's /me).
const logFlushDelay = 5 * time.Millisecond

// LogWriter writes the lines that many goroutines log with one write(2)
// between them, the way the file store's group commit shares fsyncs. A
// loaded server logs one line per request: written one by one, each line is
// a system call, and the profiles of the load driver's /me showed them as a
// twentieth of the server's CPU, even once they were made outside the log
// handler's lock.
//
// Write only appends to a buffer. The first line of a batch wakes a
// goroutine, which waits logFlushDelay (less if logFlushSize bytes gather
// first), then writes all that has gathered in one call, so lines keep
// their order and reach out at most a few milliseconds later. On an idle
// server that is one write per line, 5 ms late; under load, one write per
// 5 ms.
//
// The price: the lines logged in the last few milliseconds before the
// process is killed (kill -9, a fatal runtime error, power loss) can be
// lost. For an access log that is acceptable: it records what was
// answered, it is not what makes an answer true; the store's journal,
// fsynced before a write is acknowledged, is. A clean exit loses nothing:
// Close writes what is left, and the program calls it before it exits.
type LogWriter struct {
	out   io.Writer
	delay time.Duration // logFlushDelay; shorter in tests
	wake  chan struct{} // the first line of a batch is waiting; capacity 1
	full  chan struct{} // logFlushSize bytes are waiting; capacity 1
	stop  chan struct{} // closed by Close
	done  chan struct{} // closed when the writing goroutine has returned

	// writeMu is held by whoever writes to out, from taking the buffer
	// until the write returns, so that batches go out in order. Lock order:
	// writeMu, then mu.
	writeMu sync.Mutex
	spare   []byte // the last batch's buffer, for reuse; guarded by writeMu

	mu     sync.Mutex
	buf    []byte // lines not yet handed to out
	closed bool
}

// NewLogWriter returns a LogWriter over out and starts its goroutine. Call
// Close when done.
func NewLogWriter(out io.Writer) *LogWriter {
	return newLogWriter(out, logFlushDelay)
}

func newLogWriter(out io.Writer, delay time.Duration) *LogWriter {
	l := &LogWriter{
		out: out, delay: delay,
		wake: make(chan struct{}, 1), full: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	go l.run()
	return l
}

// Write queues p, which must be whole lines (a log handler writes one
// record per call), and returns at once. After Close it writes p to out
// itself.
func (l *LogWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return len(p), l.flush(p)
	}
	first := len(l.buf) == 0
	l.buf = append(l.buf, p...)
	n := len(l.buf)
	// Signalled under mu, so that whenever the buffer holds a line, a
	// wake is pending or the goroutine has taken one and will flush.
	if first {
		signal(l.wake)
	}
	if n >= logFlushSize && n-len(p) < logFlushSize {
		signal(l.full)
	}
	l.mu.Unlock()
	if n >= maxLogBuffer {
		l.flush(nil) // the writer is behind: wait for it, as an unbuffered log would
	}
	return len(p), nil
}

// signal leaves a token in c, a channel of capacity 1, unless one is there.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// run waits for the first line of a batch, gives the others logFlushDelay
// to join it, and writes them; until Close, after which it writes what is
// left and returns.
func (l *LogWriter) run() {
	defer close(l.done)
	t := time.NewTimer(time.Hour)
	t.Stop()
	for {
		select {
		case <-l.wake:
		case <-l.stop:
			l.flush(nil)
			return
		}
		t.Reset(l.delay)
		select {
		case <-t.C:
		case <-l.full:
			t.Stop()
		case <-l.stop:
			t.Stop()
		}
		select {
		case <-l.full: // taken by this flush; do not cut the next batch short
		default:
		}
		l.flush(nil)
	}
}

// flush writes everything buffered so far, then extra, to out in one
// call, and returns the write's error. The goroutine drops that error, as
// log handlers' callers drop it: there is nowhere else to report a log
// that cannot be written.
func (l *LogWriter) flush(extra []byte) error {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	l.mu.Lock()
	batch := append(l.buf, extra...)
	l.buf = l.spare[:0]
	l.mu.Unlock()
	var err error
	if len(batch) > 0 {
		_, err = l.out.Write(batch)
	}
	// A batch can pass maxLogBuffer by one line's growth of the slice;
	// keeping such a buffer saves growing a new one from nothing.
	if cap(batch) <= 2*maxLogBuffer {
		l.spare = batch[:0]
	} else {
		l.spare = nil
	}
	return err
}

// Close writes every line queued so far and stops the goroutine; later
// writes go straight to out. It never fails and may be called twice.
func (l *LogWriter) Close() error {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.stop)
	}
	l.mu.Unlock()
	<-l.done // the goroutine has written every line queued before Close
	return nil
}
