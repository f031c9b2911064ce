package web

import (
	"io"
	"net/http"
	"sync"
	"time"
)

// ShuttingDown is the problem a request gets when the server, shutting
// down, cut the upload of its body short: a whole answer that says to try
// again (elsewhere, or once the server is back), rather than a connection
// reset.
var ShuttingDown = &Problem{Status: http.StatusServiceUnavailable, Code: "shutting_down",
	Detail: "The server is shutting down and could not wait for the rest of the request body; send it again.", RetryAfter: 1}

// Drain keeps track of the requests whose bodies are still being read, so
// that at shutdown the server can cut the slow ones short (CutReads) with
// a 503 problem, instead of waiting for them past its deadline and then
// dropping their connections unanswered. A request that has read its
// body to the end is never cut: its handler is working, and gets the
// time it needs within the shutdown budget.
type Drain struct {
	mu      sync.Mutex
	cut     bool
	reading map[*drainBody]struct{}
}

// NewDrain returns a Drain with no request in it.
func NewDrain() *Drain {
	return &Drain{reading: make(map[*drainBody]struct{})}
}

// Wrap is the middleware that registers each request body with d. It must
// see the server's own ResponseWriter (be the outermost wrapper) so that
// it can set the connection's read deadline.
func (d *Drain) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		b := &drainBody{ReadCloser: r.Body, rc: http.NewResponseController(w), d: d}
		d.mu.Lock()
		d.reading[b] = struct{}{}
		cut := d.cut
		d.mu.Unlock()
		if cut {
			b.cutNow()
		}
		defer d.done(b)
		r.Body = b
		next.ServeHTTP(w, r)
	})
}

// CutReads makes every body read under way, and every one to come, fail
// at once with ShuttingDown, and returns how many requests were still
// reading their bodies.
func (d *Drain) CutReads() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cut = true
	for b := range d.reading {
		b.cutNow()
	}
	return len(d.reading)
}

// done forgets b: its body is read or its handler has returned.
func (d *Drain) done(b *drainBody) {
	d.mu.Lock()
	delete(d.reading, b)
	d.mu.Unlock()
}

// drainBody is a request body that Drain can cut short.
type drainBody struct {
	io.ReadCloser
	rc *http.ResponseController
	d  *Drain

	mu  sync.Mutex
	cut bool
}

// cutNow ends the reads of b: a read blocked on the connection returns
// with a timeout, which Read reports as ShuttingDown.
func (b *drainBody) cutNow() {
	b.mu.Lock()
	b.cut = true
	b.mu.Unlock()
	b.rc.SetReadDeadline(time.Now())
}

func (b *drainBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	cut := b.cut
	b.mu.Unlock()
	if cut {
		return 0, ShuttingDown
	}
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == io.EOF:
		b.d.done(b) // read to the end: never cut from now on
	case err != nil:
		b.mu.Lock()
		cut = b.cut
		b.mu.Unlock()
		if cut {
			return n, ShuttingDown
		}
	}
	return n, err
}
