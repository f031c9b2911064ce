package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"corkboard/web"
)

// realServer is corkboard served by the http.Server that serve() runs
// (app.httpServer, with its timeouts and header limit), on plain HTTP over
// loopback: the test harness's httptest server has neither.
type realServer struct {
	app  *app
	url  string
	addr string
	logs *syncBuffer
}

// startRealServer serves a fresh app on store o with the server limits as
// edit leaves them.
func startRealServer(t *testing.T, o storeOpener, edit func(*serverLimits)) *realServer {
	t.Helper()
	cfg := testConfig(t)
	cfg.rateLimits = false
	if edit != nil {
		edit(&cfg.server)
	}
	st := o.open(t, &cfg)
	logs := new(syncBuffer)
	a, err := newApp(cfg, st, storeClock, slog.New(web.RequestIDs(slog.NewTextHandler(logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	srv := a.httpServer()
	srv.ErrorLog = stdlog.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a.close(ctx)
	})
	return &realServer{app: a, url: "http://" + ln.Addr().String(), addr: ln.Addr().String(), logs: logs}
}

// request sends one request with a fresh connection and returns the
// status and body.
func (s *realServer) request(t *testing.T, method, path string, body []byte, header ...string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %.80s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %.80s: reading the answer: %v", method, path, err)
	}
	return resp.StatusCode, data
}

// TestHugeHeaders: more than 64 KiB of request line and headers, in one
// header, in many, or in the URL, is answered 431 by the server before
// any handler runs; a large header under the limit reaches the handlers,
// which refuse what they must (a token over 8 KiB).
func TestHugeHeaders(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		s := startRealServer(t, o, nil)
		var many []string
		for i := range 6000 {
			many = append(many, fmt.Sprintf("X-Header-%04d", i), "value")
		}
		for _, tc := range []struct {
			name   string
			path   string
			header []string
			status int
		}{
			{"one 100 KiB header", "/api/test/all", []string{"X-Big", strings.Repeat("a", 100<<10)}, http.StatusRequestHeaderFieldsTooLarge},
			{"6000 headers", "/api/test/all", many, http.StatusRequestHeaderFieldsTooLarge},
			{"a 100 KiB URL", "/api/" + strings.Repeat("a", 100<<10), nil, http.StatusRequestHeaderFieldsTooLarge},
			{"a 100 KiB query", "/api/users?search=" + strings.Repeat("a", 100<<10), nil, http.StatusRequestHeaderFieldsTooLarge},
			{"a 100 KiB cookie", "/api/auth/refresh", []string{"Cookie", "refresh_token=" + strings.Repeat("a", 100<<10)}, http.StatusRequestHeaderFieldsTooLarge},
			{"a 48 KiB bearer token", "/api/users/me", []string{"Authorization", "Bearer " + strings.Repeat("a", 48<<10)}, http.StatusUnauthorized},
			{"a 16 KiB URL", "/api/" + strings.Repeat("a", 16<<10), nil, http.StatusNotFound},
		} {
			t.Run(tc.name, func(t *testing.T) {
				status, body := s.request(t, "GET", tc.path, nil, tc.header...)
				if status != tc.status {
					t.Errorf("status %d, want %d: %.200s", status, tc.status, body)
				}
			})
		}
		// The server still serves.
		if status, _ := s.request(t, "GET", "/healthz", nil); status != http.StatusOK {
			t.Errorf("healthz after the huge headers: %d", status)
		}
	})
}

// dripUntilCut opens a connection, writes head, then one byte of drip
// every interval, and returns how long it took the server to end the
// exchange (answer or close), or fails after limit.
func dripUntilCut(t *testing.T, addr, head string, drip byte, interval, limit time.Duration) (time.Duration, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	answered := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(conn).ReadString('\n')
		answered <- strings.TrimSpace(line)
	}()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	deadline := time.After(limit)
	for {
		select {
		case line := <-answered:
			return time.Since(start), line
		case <-deadline:
			t.Fatalf("the server still reads a byte every %v after %v", interval, limit)
		case <-tick.C:
			conn.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := conn.Write([]byte{drip}); err != nil {
				return time.Since(start), "(write failed: " + err.Error() + ")"
			}
		}
	}
}

// TestSlowClients: the server's timeouts hold. With limits shortened for
// the test (1 s for the headers, 2 s for a request, 1 s for an answer,
// files at 1 MiB/s), a client that sends its headers a byte at a time is
// cut off, so is one that sends a body (JSON or an upload) a byte at a
// time, and one that never reads a large download does not keep its
// handler forever; but a client that reads a large download steadily,
// for longer than the answer's timeout, gets all of it.
func TestSlowClients(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		s := startRealServer(t, o, func(l *serverLimits) {
			l.readHeader, l.read, l.write, l.idle, l.transferRate = time.Second, 2*time.Second, time.Second, 5*time.Second, 1<<20
		})
		// A user, a card and a 12 MiB attachment, made through a second
		// app on the same store (the test harness's), so that the short
		// limits apply only to what is tested: storing 12 MiB in GridFS on
		// FerretDB can take longer than they allow.
		setup := serveEnv(t, s.app.cfg, s.app.store, &clock{now: storeClock()})
		owner := setup.newClient()
		d := owner.signup("slow", "slow@example.com", "password1")
		b := owner.createBoard("Slow")
		l := owner.addList(b.ID, "L")
		c := owner.addCard(b.ID, l.ID, "C")
		big := append(minimalPDF("big"), bytes.Repeat([]byte("% padding\n"), (12<<20)/10)...)
		if o.name != "file" {
			big = big[:1<<20]
		}
		var att struct{ Attachment attachmentDoc }
		owner.upload("POST", "/api/boards/"+b.ID+"/cards/"+c.ID+"/attachments", part{name: "file", filename: "big.pdf", data: big}).
			want(t, http.StatusCreated).json(t, &att)
		download := "GET " + att.Attachment.URL + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + d.AccessToken + "\r\n\r\n"

		t.Run("headers a byte at a time", func(t *testing.T) {
			took, line := dripUntilCut(t, s.addr, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ", 'a', 100*time.Millisecond, 30*time.Second)
			t.Logf("cut off after %v: %s", took, line)
		})
		t.Run("a JSON body a byte at a time", func(t *testing.T) {
			took, line := dripUntilCut(t, s.addr, "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"email\":\"",
				'a', 100*time.Millisecond, 30*time.Second)
			t.Logf("cut off after %v: %s", took, line)
		})
		t.Run("an upload a byte at a time", func(t *testing.T) {
			head := fmt.Sprintf("PUT /api/users/%s/picture HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: multipart/form-data; boundary=X\r\nContent-Length: 100000\r\n\r\n"+
				"--X\r\nContent-Disposition: form-data; name=\"picture\"; filename=\"a.png\"\r\n\r\n\x89PNG\r\n\x1a\n", d.User.ID, d.AccessToken)
			took, line := dripUntilCut(t, s.addr, head, 0, 100*time.Millisecond, 30*time.Second)
			t.Logf("cut off after %v: %s", took, line)
		})
		// The cases of large transfers run on the file store only: FerretDB
		// reads a GridFS file at about half a MiB per second here (every
		// chunk read scans the chunks table; see "What FerretDB does
		// differently") and writes one not much faster on a busy machine,
		// slower than the 1 MiB/s these short limits ask of a transfer, so
		// there the store, not the client, would be what is cut off. The
		// deadlines belong to the HTTP layer, the same for both stores.
		if o.name != "file" {
			return
		}
		t.Run("an upload sent steadily", func(t *testing.T) {
			// 8 MiB in 256 KiB pieces every 50 ms: about 5 MiB/s, so about
			// 1.6 s, longer than the answer's 1 s timeout (counted from the
			// request's headers) alone allows, well within the 2 s + 8 s the
			// upload gets.
			pdf := append(minimalPDF("steady"), bytes.Repeat([]byte("% padding\n"), (8<<20)/10)...)
			form, ct := multipartBody(t, part{name: "file", filename: "steady.pdf", data: pdf})
			pr, pw := io.Pipe()
			go func() {
				for rest := form; len(rest) > 0; {
					n := min(len(rest), 256<<10)
					if _, err := pw.Write(rest[:n]); err != nil {
						return
					}
					rest = rest[n:]
					time.Sleep(50 * time.Millisecond)
				}
				pw.Close()
			}()
			req, err := http.NewRequest("POST", s.url+"/api/boards/"+b.ID+"/cards/"+c.ID+"/attachments", pr)
			if err != nil {
				t.Fatal(err)
			}
			req.ContentLength = int64(len(form))
			req.Header.Set("Content-Type", ct)
			req.Header.Set("Authorization", "Bearer "+d.AccessToken)
			start := time.Now()
			resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
			if err != nil {
				t.Fatalf("a steady upload: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("a steady upload: status %d: %s", resp.StatusCode, body)
			}
			t.Logf("a steady upload of %d bytes answered 201 after %v", len(form), time.Since(start))
		})

		t.Run("a download never read", func(t *testing.T) {
			finished := func() int {
				return strings.Count(s.logs.String(), `pattern="GET /api/boards/{id}/cards/{cardId}/attachments/{attachmentId}"`)
			}
			before := finished()
			conn, err := net.Dial("tcp", s.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			io.WriteString(conn, download)
			start := time.Now()
			for finished() == before {
				if time.Since(start) > time.Minute {
					t.Fatal("the handler of a download nobody reads still runs after a minute")
				}
				time.Sleep(50 * time.Millisecond)
			}
			t.Logf("the handler gave up after %v", time.Since(start))
		})
		t.Run("a download read steadily", func(t *testing.T) {
			conn, err := net.Dial("tcp", s.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			start := time.Now()
			io.WriteString(conn, download)
			resp, err := http.ReadResponse(bufio.NewReaderSize(conn, 64<<10), nil)
			if err != nil {
				t.Fatal(err)
			}
			// 64 KiB every 10 ms: about 6 MiB/s, so 12 MiB take about two
			// seconds, longer than the answer's 1 s timeout alone allows.
			var got bytes.Buffer
			buf := make([]byte, 64<<10)
			for {
				n, err := io.ReadFull(resp.Body, buf)
				got.Write(buf[:n])
				if err != nil {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			took := time.Since(start)
			if !bytes.Equal(got.Bytes(), big) {
				t.Fatalf("a steady reader got %d of %d bytes in %v", got.Len(), len(big), took)
			}
			t.Logf("a steady reader got all %d bytes in %v", got.Len(), took)
		})
	})
}
