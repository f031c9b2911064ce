package web

import (
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// APICSP is the Content-Security-Policy of every answer that does not set
// its own: an API answer is data, never a page, so it may load nothing and
// be framed by nobody. The demo client's pages and the stored files set
// their own policies over it.
const APICSP = "default-src 'none'; frame-ancestors 'none'"

// HSTS is the Strict-Transport-Security value sent when cookies are
// Secure: a year, this host only. includeSubDomains and preload are left
// to the operator, who knows what else lives under the domain.
const HSTS = "max-age=31536000"

// SecurityHeaders sets the headers every answer carries, before the
// handler runs, so that an error, a 404 of the mux, a panic turned into a
// 500 and a CORS preflight carry them too. Handlers that serve something
// else than API JSON replace what they must (Set wins): files set their
// own Cache-Control and a sandboxing policy, the demo client its own
// policy and cache rules.
//
//   - Cache-Control: no-store: API answers carry tokens, emails and other
//     private data, and no shared or browser cache may keep them;
//   - X-Content-Type-Options: nosniff: a body is only ever what its
//     Content-Type says;
//   - Referrer-Policy: no-referrer: links followed from the demo client
//     (whose reset and verification pages hold tokens in their query
//     strings) tell the next site nothing;
//   - X-Frame-Options: DENY and the frame-ancestors of APICSP: no other
//     site may frame an answer (clickjacking);
//   - Strict-Transport-Security, when hsts is set (COOKIE_SECURE on, so
//     the deployment is meant to be reached over HTTPS only): browsers
//     then never try plain HTTP again, where a Secure cookie would not be
//     sent but an access token typed into a page might be.
//
// The values are shared by every answer (see sharedValue) and the keys
// given in canonical form, so that setting them costs no allocation and
// no canonicalisation per request.
func SecurityHeaders(hsts bool) func(http.Handler) http.Handler {
	var (
		noStore   = sharedValue("no-store")
		nosniff   = sharedValue("nosniff")
		noRef     = sharedValue("no-referrer")
		deny      = sharedValue("DENY")
		csp       = sharedValue(APICSP)
		hstsValue = sharedValue(HSTS)
	)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h["Cache-Control"] = noStore
			h["X-Content-Type-Options"] = nosniff
			h["Referrer-Policy"] = noRef
			h["X-Frame-Options"] = deny
			h["Content-Security-Policy"] = csp
			if hsts {
				h["Strict-Transport-Security"] = hstsValue
			}
			next.ServeHTTP(w, r)
		})
	}
}

// sharedValue returns a header value (a canonical key's []string) that
// many answers may hold at once: one element, and no room to grow, so that
// an Add to the same key on one answer appends to a copy of its own, and
// a Set replaces it. Nothing in corkboard or net/http writes into a
// header's value slice in place (net/http copies the values when it
// snapshots an answer's header); code that did would change every
// answer's header at once.
func sharedValue(v string) []string { return []string{v}[:1:1] }

// Deadlines lengthens the server's read and write timeouts for requests
// and answers that carry files, in proportion to their size, so that the
// timeouts can stay short for everything else.
//
// The server's ReadTimeout (read, here) bounds the time to read a whole
// request and its WriteTimeout (write) the time to write an answer: a
// client that sends its body a byte at a time, or that never reads what
// it asked for, is cut off and its goroutine freed. A file moves at the
// client's speed, though: a 20 MiB attachment at 1 Mbit/s takes almost
// three minutes. So a multipart upload may take read plus its declared
// length (at most maxUpload, which is also what a chunked upload is
// given) at rate bytes per second, and its answer write more after that;
// an answer of known length may take write plus that length at rate. A
// client slower than rate is cut off, as a stalled one is.
//
// Deadlines are set through http.ResponseController on this request's
// connection (or HTTP/2 stream) only; the server resets them for the next
// request on a kept-alive connection.
func Deadlines(read, write time.Duration, rate, maxUpload int64) func(http.Handler) http.Handler {
	transfer := func(base time.Duration, n int64) time.Time {
		return time.Now().Add(base + time.Duration(float64(n)/float64(rate)*float64(time.Second)))
	}
	answerDeadline := func(n int64) time.Time { return transfer(write, n) }
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Most requests carry no file: the Content-Type is parsed
			// only when it could be multipart (ParseMediaType lowercases
			// it, so its lowercase form holds the name), and a
			// ResponseController is made only for a deadline to set.
			if ct := r.Header.Get("Content-Type"); read > 0 && strings.Contains(strings.ToLower(ct), "multipart/form-data") {
				if mt, _, _ := mime.ParseMediaType(ct); mt == "multipart/form-data" {
					rc := http.NewResponseController(w)
					n := r.ContentLength
					if n < 0 || n > maxUpload {
						n = maxUpload // chunked, or over the limit the route will refuse
					}
					end := transfer(read, n)
					_ = rc.SetReadDeadline(end) // an error: as in extend
					// The answer comes after the body: the server's write
					// deadline, counted from the headers, would be past by then.
					if write > 0 {
						_ = rc.SetWriteDeadline(end.Add(write))
					}
				}
			}
			if write > 0 {
				w = &deadlineWriter{ResponseWriter: w, deadline: answerDeadline}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// deadlineWriter moves the write deadline when the answer's header goes
// out, once its Content-Length is known.
type deadlineWriter struct {
	http.ResponseWriter
	deadline func(n int64) time.Time
	done     bool
}

func (d *deadlineWriter) WriteHeader(code int) {
	d.extend()
	d.ResponseWriter.WriteHeader(code)
}

func (d *deadlineWriter) Write(b []byte) (int, error) {
	d.extend()
	return d.ResponseWriter.Write(b)
}

// extend sets the write deadline once, from the declared length; an
// answer of unknown length (small JSON, written at once) keeps the
// server's.
func (d *deadlineWriter) extend() {
	if d.done {
		return
	}
	d.done = true
	cl := d.Header().Get("Content-Length")
	if cl == "" {
		return // no error to make (and allocate) for the common case
	}
	n, err := strconv.ParseInt(cl, 10, 64)
	if err != nil || n <= 0 {
		return
	}
	// An error is left alone: a writer that cannot take deadlines
	// (http.ErrNotSupported, a test's recorder) keeps the server's, and on
	// a connection already gone the handler's next write fails anyway.
	_ = http.NewResponseController(d.ResponseWriter).SetWriteDeadline(d.deadline(n))
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (d *deadlineWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }
