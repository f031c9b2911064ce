package web

import (
	"io"
	"sync"
)

// maxLogBuffer is how many bytes of log lines a LogWriter holds before the
// goroutine that logs waits for them to be written: if the log's file or
// pipe stalls, requests slow down as they did when every line was written
// in place, rather than memory filling up.
const maxLogBuffer = 256 << 10

// LogWriter writes the lines that many goroutines log at once with one
// write(2) between them, the way the file store's group commit shares
// fsyncs. A loaded server logs one line per request: written one by one,
// each line was a system call made while holding the log handler's lock,
// so every request queued behind every other's write (the profiles of the
// load driver's /me showed a tenth of the CPU there).
//
// Write only appends to a buffer and wakes a goroutine, which writes all
// that has gathered in one call, so lines keep their order and reach out
// microseconds later. When the server is idle that is one write per line,
// as before; under load, one per batch. The price: lines logged in the
// instant before the process is killed (kill -9, a fatal runtime error) can
// be lost. Close writes what is left; the program calls it before it exits.
type LogWriter struct {
	out  io.Writer
	wake chan struct{} // a buffered line is waiting; capacity 1
	done chan struct{} // closed when the writing goroutine has returned

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
	l := &LogWriter{out: out, wake: make(chan struct{}, 1), done: make(chan struct{})}
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
	l.buf = append(l.buf, p...)
	full := len(l.buf) >= maxLogBuffer
	if !full {
		// Under mu, so that Close cannot close wake in between.
		select {
		case l.wake <- struct{}{}:
		default: // already woken; it will take this line too
		}
	}
	l.mu.Unlock()
	if full {
		l.flush(nil) // the writer is behind: wait for it, as an unbuffered log would
	}
	return len(p), nil
}

// run writes the buffer each time a line arrives, until Close.
func (l *LogWriter) run() {
	defer close(l.done)
	for range l.wake {
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
		close(l.wake)
	}
	l.mu.Unlock()
	<-l.done // the goroutine has written every line queued before close
	return nil
}
