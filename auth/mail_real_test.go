package auth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRealSMTPServer sends mail through an SMTP server that nobody here
// wrote: aiosmtpd (Debian's python3-aiosmtpd), which .ci/run starts on
// loopback with testdata/smtp/server.py, STARTTLS required and AUTH on. It
// then reads the message file the server wrote.
func TestRealSMTPServer(t *testing.T) {
	addr := os.Getenv("SMTP_TEST_ADDR")
	if addr == "" {
		t.Skip("SMTP_TEST_ADDR is not set: install python3-aiosmtpd and run .ci/run, " +
			"or start testdata/smtp/server.py as its header says and set SMTP_TEST_ADDR (host:port), " +
			"SMTP_TEST_USER, SMTP_TEST_PASSWORD, SMTP_TEST_CA (the server's PEM certificate) and SMTP_TEST_MAILDIR")
	}
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("SMTP_TEST_ADDR %q: %v", addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		t.Fatalf("SMTP_TEST_ADDR %q: %v", addr, err)
	}
	caPEM, err := os.ReadFile(os.Getenv("SMTP_TEST_CA"))
	if err != nil {
		t.Fatalf("SMTP_TEST_CA: %v", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatalf("SMTP_TEST_CA %s holds no PEM certificate", os.Getenv("SMTP_TEST_CA"))
	}
	maildir := os.Getenv("SMTP_TEST_MAILDIR")
	user, password := os.Getenv("SMTP_TEST_USER"), os.Getenv("SMTP_TEST_PASSWORD")
	mailer := func(t *testing.T, user, password string) *SMTPMailer {
		t.Helper()
		m, err := NewSMTPMailer(SMTPConfig{
			Host: host, Port: port, Username: user, Password: password,
			From:      "corkboard <no-reply@corkboard.example>",
			Timeout:   10 * time.Second,
			TLSConfig: &tls.Config{RootCAs: roots},
		})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}

	t.Run("a reset mail arrives intact", func(t *testing.T) {
		log, logged := newTestLog()
		to := fmt.Sprintf("real-%d@example.org", time.Now().UnixNano()) // finds the file
		token := testToken(t)
		link := "http://localhost:8080/reset-password?token=" + token
		m := PasswordResetMail(to, "Zoë <b>&</b>\r\nBcc: evil@example.org", link, 15*time.Minute)

		// Through the queue, as the service sends it.
		q := NewMailQueue(mailer(t, user, password), log)
		if !q.Enqueue(m) {
			t.Fatal("Enqueue = false, want true")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := q.Close(ctx); err != nil {
			t.Fatalf("Close = %v, want nil\nlog:\n%s", err, logged)
		}
		if !strings.Contains(logged.String(), `msg="mail sent" to=`+to) {
			t.Fatalf("the queue did not send the mail:\n%s", logged)
		}

		raw := findMail(t, maildir, "To: "+to+"\r\n")
		p := parseMail(t, raw)
		if p.Subject != m.Subject || p.Header.Get("To") != to || p.Header.Get("From") != `"corkboard" <no-reply@corkboard.example>` {
			t.Errorf("Subject, To, From = %q, %q, %q; want %q, %q, corkboard <no-reply@corkboard.example>",
				p.Subject, p.Header.Get("To"), p.Header.Get("From"), m.Subject, to)
		}
		if !strings.HasSuffix(p.Header.Get("Message-ID"), "@corkboard.example>") {
			t.Errorf("Message-ID = %q, want one @corkboard.example", p.Header.Get("Message-ID"))
		}
		if p.Header.Get("Bcc") != "" {
			t.Errorf("the message has a Bcc header: %q", p.Header.Get("Bcc"))
		}
		if p.Text != m.Text || p.HTML != m.HTML {
			t.Errorf("parts as received:\n%q\n%q\nwant\n%q\n%q", p.Text, p.HTML, m.Text, m.HTML)
		}
		// On its own line, as a mail reader would show it to be clicked.
		if !strings.Contains(p.Text, "\n"+link+"\n") {
			t.Errorf("the text part lacks the link %q on a line of its own:\n%s", link, p.Text)
		}
		if !strings.Contains(p.HTML, `href="`+link+`"`) || !strings.Contains(p.HTML, "Zoë &lt;b&gt;&amp;&lt;/b&gt; Bcc: evil@example.org") {
			t.Errorf("the HTML part lacks the link or the escaped name:\n%s", p.HTML)
		}
		checkNoToken(t, logged, token)
	})

	t.Run("wrong password", func(t *testing.T) {
		err := mailer(t, user, password+"x").Send(context.Background(), Message{To: "ann@example.org", Subject: "hi", Text: "hi"})
		var te *textproto.Error
		if !errors.As(err, &te) || te.Code != 535 || !mailPermanent(err) {
			t.Errorf("Send = %v, want a permanent 535", err)
		}
		if len(password) >= 8 && err != nil && strings.Contains(err.Error(), password) {
			t.Errorf("the error holds the password: %v", err)
		}
	})

	t.Run("no credentials", func(t *testing.T) {
		err := mailer(t, "", "").Send(context.Background(), Message{To: "ann@example.org", Subject: "hi", Text: "hi"})
		var te *textproto.Error
		if !errors.As(err, &te) || te.Code != 530 {
			t.Errorf("Send = %v, want 530 (authentication required)", err)
		}
	})
}

// findMail waits up to 10 s for a file in dir whose bytes hold marker, and
// returns its bytes.
func findMail(t *testing.T, dir, marker string) []byte {
	t.Helper()
	var found []byte
	waitFor(t, "the message file in "+dir, func() bool {
		files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
		for _, f := range files {
			if b, err := os.ReadFile(f); err == nil && strings.Contains(string(b), marker) {
				found = b
				return true
			}
		}
		return false
	})
	return found
}
