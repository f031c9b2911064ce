package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"time"
)

// loadClient is the client of the tests that put load on a running server
// (the shutdown test, the soak): unlike client, it never fails the test
// itself, since it runs on many goroutines at once; each call returns what
// happened, for the caller to judge.
type loadClient struct {
	base  string // http://host:port
	hc    *http.Client
	token string // access token sent as Bearer, when set
}

// newLoadClient returns a client of the server at base. Every request goes
// on a connection of its own, so that "in flight" has one meaning: a
// request whose connection the server took and whose handler started.
func newLoadClient(base string) *loadClient {
	tr := &http.Transport{
		DisableKeepAlives: true,
		// Sent with "Expect: 100-continue", a body waits for the server's
		// 100 Continue, which Go's server sends when the handler first
		// reads the body: the client thus learns that its request is being
		// handled.
		ExpectContinueTimeout: time.Minute,
		ResponseHeaderTimeout: time.Minute,
	}
	return &loadClient{base: base, hc: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}
}

// outcome is one finished request as the client saw it.
type outcome struct {
	method, path string
	status       int
	body         []byte
	err          error // a transport error, or a body cut short
	// handled is when the client first knew the server was handling the
	// request: its 100 Continue, or else its first response byte. Zero if
	// never.
	handled time.Time
}

func (o outcome) String() string {
	if o.err != nil {
		return fmt.Sprintf("%s %s: %v", o.method, o.path, o.err)
	}
	b := o.body
	if len(b) > 300 {
		b = b[:300]
	}
	return fmt.Sprintf("%s %s: %d %s", o.method, o.path, o.status, b)
}

// decode decodes the body into v.
func (o outcome) decode(v any) error {
	if err := json.Unmarshal(o.body, v); err != nil {
		return fmt.Errorf("%s: body is not the JSON expected: %v", o, err)
	}
	return nil
}

// problemCode returns the code of a problem answer, or "".
func (o outcome) problemCode() string {
	var p struct{ Code string }
	json.Unmarshal(o.body, &p)
	return p.Code
}

// request is one request to send: body is a []byte, a string, an
// io.Reader (sent as it comes, chunked), or a value sent as JSON.
type request struct {
	method, path string
	body         any
	contentType  string // for a []byte, string or io.Reader body
	header       map[string]string
	// readSlowly paces the reading of the answer's body (a client on a
	// slow line): one 32 KiB read per tick.
	readSlowly time.Duration
	// onHandled, when set, is called once the client knows the server is
	// handling the request (see outcome.handled).
	onHandled func()
}

// send sends req and reads its whole answer.
func (c *loadClient) send(ctx context.Context, req request) outcome {
	o := outcome{method: req.method, path: req.path}
	var rd io.Reader
	ctype := req.contentType
	switch b := req.body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	case io.Reader:
		rd = b
	default:
		data, err := json.Marshal(b)
		if err != nil {
			o.err = err
			return o
		}
		rd, ctype = bytes.NewReader(data), "application/json"
	}
	var handled atomic.Int64
	mark := func() {
		if handled.CompareAndSwap(0, time.Now().UnixNano()) && req.onHandled != nil {
			req.onHandled()
		}
	}
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{Got100Continue: mark, GotFirstResponseByte: mark})
	hreq, err := http.NewRequestWithContext(ctx, req.method, c.base+req.path, rd)
	if err != nil {
		o.err = err
		return o
	}
	if rd != nil {
		hreq.Header.Set("Content-Type", ctype)
		hreq.Header.Set("Expect", "100-continue")
	}
	if c.token != "" {
		hreq.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range req.header {
		hreq.Header.Set(k, v)
	}
	resp, err := c.hc.Do(hreq)
	if n := handled.Load(); n != 0 {
		o.handled = time.Unix(0, n)
	}
	if err != nil {
		o.err = err
		return o
	}
	defer resp.Body.Close()
	o.status = resp.StatusCode
	if req.readSlowly > 0 {
		var b bytes.Buffer
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				o.err = fmt.Errorf("reading the answer after %d bytes: %w", b.Len(), err)
				break
			}
			time.Sleep(req.readSlowly)
		}
		o.body = b.Bytes()
	} else if o.body, err = io.ReadAll(resp.Body); err != nil {
		o.err = fmt.Errorf("reading the answer after %d bytes: %w", len(o.body), err)
	}
	if o.err == nil && resp.ContentLength >= 0 && int64(len(o.body)) != resp.ContentLength {
		o.err = fmt.Errorf("answer of %d bytes, Content-Length %d", len(o.body), resp.ContentLength)
	}
	return o
}

// slowBody is a request body that trickles out: data in n pieces, one per
// tick, like an upload over a slow line.
func slowBody(data []byte, n int, tick time.Duration) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		step := (len(data) + n - 1) / n
		for len(data) > 0 {
			k := min(step, len(data))
			if _, err := pw.Write(data[:k]); err != nil {
				return
			}
			data = data[k:]
			time.Sleep(tick)
		}
		pw.Close()
	}()
	return pr
}
