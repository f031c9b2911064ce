package main

import (
	"bufio"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"net/textproto"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// smtpSink is a small SMTP server for the end-to-end tests: it speaks just
// enough SMTP (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT; no STARTTLS, no
// AUTH) for corkboard's SMTP mailer to deliver to it over a real socket,
// and keeps every message it receives.
type smtpSink struct {
	t  *testing.T
	ln net.Listener
	// hold, when not nil, holds every message's answer until it is
	// closed, like a mail server that is slow to accept: set before the
	// first message.
	hold chan struct{}

	mu       sync.Mutex
	messages []sunkMail
	arrived  chan struct{} // gets a value per message
}

// sunkMail is one message the sink received.
type sunkMail struct {
	To      string
	Subject string
	Text    string // the text/plain part, decoded
	HTML    string // the text/html part, decoded
	Raw     []byte
}

// startSMTPSink starts a sink on a loopback port and stops it when the test
// ends.
func startSMTPSink(t *testing.T) *smtpSink { return startSMTPSinkOn(t, 0) }

// startSMTPSinkOn starts a sink on a given loopback port (0: any).
func startSMTPSinkOn(t *testing.T, port int) *smtpSink {
	t.Helper()
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpSink{t: t, ln: ln, arrived: make(chan struct{}, 1000)}
	go s.serve()
	t.Cleanup(func() { ln.Close() })
	return s
}

// port returns the sink's port.
func (s *smtpSink) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func (s *smtpSink) serve() {
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		go s.session(conn)
	}
}

func (s *smtpSink) session(conn net.Conn) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Minute))
	tp := textproto.NewConn(conn)
	tp.PrintfLine("220 sink ESMTP")
	var rcpt string
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb := strings.ToUpper(strings.Fields(line + " x")[0])
		switch verb {
		case "EHLO", "HELO":
			tp.PrintfLine("250-sink\r\n250 8BITMIME")
		case "MAIL", "RSET", "NOOP":
			tp.PrintfLine("250 OK")
		case "RCPT":
			_, addr, _ := strings.Cut(line, ":")
			rcpt = strings.Trim(strings.TrimSpace(addr), "<>")
			tp.PrintfLine("250 OK")
		case "DATA":
			tp.PrintfLine("354 go on")
			raw, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			if s.hold != nil {
				<-s.hold
			}
			s.keep(rcpt, raw)
			tp.PrintfLine("250 kept")
		case "QUIT":
			tp.PrintfLine("221 bye")
			return
		default:
			tp.PrintfLine("502 not here")
		}
	}
}

// keep parses and records one received message.
func (s *smtpSink) keep(rcpt string, raw []byte) {
	m := sunkMail{To: rcpt, Raw: raw}
	msg, err := mail.ReadMessage(bufio.NewReader(strings.NewReader(string(raw))))
	if err == nil {
		m.Subject, _ = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		if mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type")); err == nil && strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(msg.Body, params["boundary"])
			for {
				p, err := mr.NextPart()
				if err != nil {
					break
				}
				body, _ := io.ReadAll(p) // multipart decodes quoted-printable
				switch ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); ct {
				case "text/plain":
					m.Text = string(body)
				case "text/html":
					m.HTML = string(body)
				}
			}
		}
	}
	s.mu.Lock()
	s.messages = append(s.messages, m)
	s.mu.Unlock()
	s.arrived <- struct{}{}
}

// next waits up to 10 s for a message to to whose subject contains
// subject (in any case), which it removes from the sink and returns.
func (s *smtpSink) next(to, subject string) sunkMail {
	s.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		s.mu.Lock()
		for i, m := range s.messages {
			if strings.EqualFold(m.To, to) && strings.Contains(strings.ToLower(m.Subject), strings.ToLower(subject)) {
				s.messages = append(s.messages[:i:i], s.messages[i+1:]...)
				s.mu.Unlock()
				return m
			}
		}
		s.mu.Unlock()
		select {
		case <-s.arrived:
		case <-deadline:
			s.t.Fatalf("no mail to %s about %q within 10 s", to, subject)
		}
	}
}

// matching returns the messages to to whose subject contains subject,
// in the order they arrived, leaving them in the sink.
func (s *smtpSink) matching(to, subject string) []sunkMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []sunkMail
	for _, m := range s.messages {
		if strings.EqualFold(m.To, to) && strings.Contains(strings.ToLower(m.Subject), strings.ToLower(subject)) {
			out = append(out, m)
		}
	}
	return out
}

// count returns how many messages to to the sink holds now.
func (s *smtpSink) count(to string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.messages {
		if strings.EqualFold(m.To, to) {
			n++
		}
	}
	return n
}

// tokenRE finds the token in a mailed link.
var tokenRE = regexp.MustCompile(`[?&]token=([A-Za-z0-9_-]+)`)

// token returns the token of the link in m's text part.
func (m sunkMail) token(t *testing.T) string {
	t.Helper()
	found := tokenRE.FindStringSubmatch(m.Text)
	if found == nil {
		t.Fatalf("mail %q has no link with a token in its text: %q", m.Subject, m.Text)
	}
	return found[1]
}

// admin signs up ROOT@example.com (in the tests' ADMIN_EMAILS, written
// in another case, which sign-up normalizes), confirms
// the address by choosing the password through the mailed link, and
// returns a client logged in as that admin.
func (e *testEnv) admin(sink *smtpSink) *client {
	e.t.Helper()
	root := e.newClient()
	root.signup("root", "ROOT@example.com", "password1")
	token := sink.next("root@example.com", "administrator").token(e.t)
	e.newClient().do("POST", "/api/auth/reset-password", map[string]string{"token": token, "password": "password1", "passwordConfirm": "password1"}).want(e.t, 200)
	root.login("username", "root", "password1")
	return root
}
