package auth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// testSMTP is a small SMTP server for tests, on a loopback port. It speaks
// EHLO (advertising STARTTLS and AUTH PLAIN), STARTTLS with a certificate
// made for the test, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP and QUIT, and
// records every command and every message it accepts. Its options make it
// misbehave the ways real servers do.
type testSMTP struct {
	ln   net.Listener
	opts testSMTPOptions
	cert tls.Certificate
	// Roots trusts the server's certificate.
	Roots *x509.CertPool
	Host  string
	Port  int

	mu       sync.Mutex
	conns    map[net.Conn]bool
	accepted int
	commands []testCommand
	mails    []testMail
	wg       sync.WaitGroup
}

// testSMTPOptions choose how a testSMTP behaves.
type testSMTPOptions struct {
	// User and Password, when User is set, are the one account AUTH
	// accepts, and MAIL is refused until it succeeded.
	User, Password string
	// NoSTARTTLS: the server does not offer STARTTLS.
	NoSTARTTLS bool
	// Hang: accept connections and never answer.
	Hang bool
	// DropInData: close the connection after the first line of the body.
	DropInData bool
	// RejectRcpt: answer RCPT with 550.
	RejectRcpt bool
	// EchoReject: refuse the message with a 554 whose text quotes the
	// body's line holding "token" (some servers quote what they refuse).
	EchoReject bool
}

// testCommand is one command line the server received.
type testCommand struct {
	Line string
	TLS  bool
}

// testMail is one message the server accepted.
type testMail struct {
	From     string
	To       []string
	Data     []byte // as received, dot-stuffing undone, CRLF kept
	TLS      bool
	AuthUser string
}

// startTestSMTP starts a testSMTP on a free loopback port; it stops at the
// end of the test.
func startTestSMTP(t *testing.T, opts testSMTPOptions) *testSMTP {
	t.Helper()
	return startTestSMTPAt(t, "127.0.0.1:0", opts)
}

// startTestSMTPAt starts a testSMTP listening on addr.
func startTestSMTPAt(t *testing.T, addr string, opts testSMTPOptions) *testSMTP {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	cert, roots := testCertificate(t)
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	s := &testSMTP{ln: ln, opts: opts, cert: cert, Roots: roots, Host: host, conns: map[net.Conn]bool{}}
	s.Port, _ = strconv.Atoi(port)
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.Stop)
	return s
}

// Stop closes the listener and every open connection, and waits for the
// server's goroutines. It may be called more than once.
func (s *testSMTP) Stop() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Addr is the server's host:port.
func (s *testSMTP) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Mails returns the messages accepted so far.
func (s *testSMTP) Mails() []testMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]testMail(nil), s.mails...)
}

// Commands returns the command lines received so far.
func (s *testSMTP) Commands() []testCommand {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]testCommand(nil), s.commands...)
}

// Accepted returns how many connections the server has accepted.
func (s *testSMTP) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// TLSConfig is a client configuration that trusts the server.
func (s *testSMTP) TLSConfig() *tls.Config { return &tls.Config{RootCAs: s.Roots} }

func (s *testSMTP) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = true
		s.accepted++
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			s.serve(c)
		}()
	}
}

// serve speaks SMTP on one connection until QUIT or an error.
func (s *testSMTP) serve(conn net.Conn) {
	if s.opts.Hang {
		io.Copy(io.Discard, conn) // until the client or Stop closes it
		return
	}
	tc := textproto.NewConn(conn)
	reply := func(format string, args ...any) { tc.PrintfLine(format, args...) }
	reply("220 localhost test ESMTP")
	var (
		isTLS    bool
		authUser string
		from     string
		to       []string
	)
	for {
		line, err := tc.ReadLine()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.commands = append(s.commands, testCommand{line, isTLS})
		s.mu.Unlock()
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			ext := []string{"localhost"}
			if !isTLS && !s.opts.NoSTARTTLS {
				ext = append(ext, "STARTTLS")
			}
			ext = append(ext, "AUTH PLAIN", "8BITMIME")
			for i, e := range ext {
				sep := "-"
				if i == len(ext)-1 {
					sep = " "
				}
				reply("250%s%s", sep, e)
			}
		case "HELO", "NOOP":
			reply("250 OK")
		case "STARTTLS":
			if isTLS || s.opts.NoSTARTTLS {
				reply("502 5.5.1 not offered")
				continue
			}
			reply("220 2.0.0 go ahead")
			tlsConn := tls.Server(conn, &tls.Config{Certificates: []tls.Certificate{s.cert}})
			if err := tlsConn.Handshake(); err != nil {
				return
			}
			// Stop closes the connection under tlsConn, which ends it.
			tc, isTLS = textproto.NewConn(tlsConn), true
			reply = func(format string, args ...any) { tc.PrintfLine(format, args...) }
			authUser, from, to = "", "", nil
		case "AUTH":
			if !isTLS {
				reply("538 5.7.11 encryption required")
				continue
			}
			mech, resp, _ := strings.Cut(arg, " ")
			if !strings.EqualFold(mech, "PLAIN") {
				reply("504 5.5.4 unknown mechanism")
				continue
			}
			if resp == "" {
				reply("334 ")
				if resp, err = tc.ReadLine(); err != nil {
					return
				}
			}
			raw, _ := base64.StdEncoding.DecodeString(resp)
			f := strings.Split(string(raw), "\x00")
			if s.opts.User == "" || len(f) != 3 || f[1] != s.opts.User || f[2] != s.opts.Password {
				reply("535 5.7.8 authentication failed")
				continue
			}
			authUser = f[1]
			reply("235 2.7.0 authenticated")
		case "MAIL":
			if s.opts.User != "" && authUser == "" {
				reply("530 5.7.0 authentication required")
				continue
			}
			from = testPath(arg, "FROM:")
			reply("250 OK")
		case "RCPT":
			if s.opts.RejectRcpt {
				reply("550 5.1.1 no such mailbox")
				continue
			}
			to = append(to, testPath(arg, "TO:"))
			reply("250 OK")
		case "DATA":
			if from == "" || len(to) == 0 {
				reply("503 5.5.1 MAIL and RCPT first")
				continue
			}
			reply("354 go ahead")
			if s.opts.DropInData {
				tc.R.ReadString('\n')
				return
			}
			data, err := testReadData(tc)
			if err != nil {
				return
			}
			if s.opts.EchoReject {
				quote := ""
				for _, l := range strings.Split(string(data), "\r\n") {
					if strings.Contains(l, "token") {
						quote = l
						break
					}
				}
				reply("554 5.6.0 rejected: %s", quote)
				continue
			}
			s.mu.Lock()
			s.mails = append(s.mails, testMail{From: from, To: to, Data: data, TLS: isTLS, AuthUser: authUser})
			s.mu.Unlock()
			reply("250 2.0.0 queued")
			from, to = "", nil
		case "RSET":
			from, to = "", nil
			reply("250 OK")
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("502 5.5.2 unknown command")
		}
	}
}

// testPath takes the address out of "FROM:<a@b> BODY=8BITMIME".
func testPath(arg, prefix string) string {
	arg = strings.TrimSpace(arg)
	if len(arg) >= len(prefix) && strings.EqualFold(arg[:len(prefix)], prefix) {
		arg = arg[len(prefix):]
	}
	arg, _, _ = strings.Cut(arg, " ")
	return strings.Trim(arg, "<>")
}

// testReadData reads a DATA body up to its lone ".", undoing dot-stuffing
// but keeping line endings as sent (textproto's DotReader would turn CRLF
// into LF).
func testReadData(tc *textproto.Conn) ([]byte, error) {
	var b bytes.Buffer
	for {
		l, err := tc.R.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if l == ".\r\n" {
			return b.Bytes(), nil
		}
		b.WriteString(strings.TrimPrefix(l, "."))
	}
}

// testCertificate makes a self-signed certificate for 127.0.0.1 and
// localhost, and a pool that trusts it.
func testCertificate(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "corkboard test SMTP"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots
}

// testLog is a logger whose output the test can read, safe for the
// concurrent writes of the queue's workers.
type testLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything logged so far.
func (l *testLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// newTestLog returns a logger writing text lines at every level to a
// testLog.
func newTestLog() (*slog.Logger, *testLog) {
	l := &testLog{}
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug})), l
}

// testToken returns a random token, as a reset link would carry it.
func testToken(t *testing.T) string {
	t.Helper()
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// tokenPiece returns the first piece of token (8 characters or more) that
// s contains, or "" if none: a log or error must not hold even part of a
// token, as a quoted-printable line break may have cut it.
func tokenPiece(s, token string) string {
	const n = 8
	for i := 0; i+n <= len(token); i++ {
		if strings.Contains(s, token[i:i+n]) {
			return token[i : i+n]
		}
	}
	return ""
}

// waitFor polls cond every 10 ms until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) (host string, port int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	ln.Close()
	return "127.0.0.1", addr.Port
}
