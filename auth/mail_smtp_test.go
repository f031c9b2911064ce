package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// testMailer returns an SMTP mailer for srv that trusts its certificate.
func testMailer(t *testing.T, srv *testSMTP, user, password string, timeout time.Duration) *SMTPMailer {
	t.Helper()
	m, err := NewSMTPMailer(SMTPConfig{
		Host: srv.Host, Port: srv.Port,
		Username: user, Password: password,
		From:      "corkboard <no-reply@example.com>",
		Timeout:   timeout,
		TLSConfig: srv.TLSConfig(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSMTPDelivers(t *testing.T) {
	token := testToken(t)
	link := "http://localhost:8080/reset-password?token=" + token
	reset := PasswordResetMail("ann@example.org", "ann", link, 15*time.Minute)
	tests := []struct {
		name string
		m    Message
	}{
		{"reset mail", reset},
		{"non-ASCII subject", Message{
			To:      "bob@example.org",
			Subject: "Passwort zurücksetzen — ✓ 日本語",
			Text:    "Hallo Bob,\nbitte öffne den Link.\n",
			HTML:    "<p>Hallo Bob, bitte öffne den Link.</p>",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startTestSMTP(t, testSMTPOptions{User: "mailer", Password: "s3cret pass"})
			if err := testMailer(t, srv, "mailer", "s3cret pass", 5*time.Second).Send(context.Background(), tt.m); err != nil {
				t.Fatalf("Send: %v", err)
			}
			mails := srv.Mails()
			if len(mails) != 1 {
				t.Fatalf("server got %d messages, want 1", len(mails))
			}
			got := mails[0]
			if !got.TLS || got.AuthUser != "mailer" || got.From != "no-reply@example.com" || len(got.To) != 1 || got.To[0] != tt.m.To {
				t.Errorf("envelope: TLS %v, AUTH %q, from %q, to %q; want TLS, mailer, no-reply@example.com, [%s]",
					got.TLS, got.AuthUser, got.From, got.To, tt.m.To)
			}
			p := parseMail(t, got.Data)
			if p.Subject != tt.m.Subject {
				t.Errorf("Subject = %q, want %q", p.Subject, tt.m.Subject)
			}
			if p.Header.Get("To") != tt.m.To || p.Header.Get("From") != `"corkboard" <no-reply@example.com>` {
				t.Errorf("To, From = %q, %q; want %q, corkboard <no-reply@example.com>", p.Header.Get("To"), p.Header.Get("From"), tt.m.To)
			}
			if p.Text != tt.m.Text || p.HTML != tt.m.HTML {
				t.Errorf("parts as received:\n%q\n%q\nwant\n%q\n%q", p.Text, p.HTML, tt.m.Text, tt.m.HTML)
			}
			if tt.m.Link != "" && (!strings.Contains(p.Text, tt.m.Link) || !strings.Contains(p.HTML, tt.m.Link)) {
				t.Errorf("the link %q is not intact in both parts", tt.m.Link)
			}
		})
	}
}

// TestSMTPUserTextAddsNoHeader: a username built to inject a header and a
// script arrives as escaped text, and the message has only its own
// headers and its one recipient.
func TestSMTPUserTextAddsNoHeader(t *testing.T) {
	srv := startTestSMTP(t, testSMTPOptions{})
	m := PasswordResetMail("ann@example.org", "<script>x</script>\r\nBcc: evil@x", "http://localhost:8080/reset-password?token=t", 15*time.Minute)
	if err := testMailer(t, srv, "", "", 5*time.Second).Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	mails := srv.Mails()
	if len(mails) != 1 {
		t.Fatalf("server got %d messages, want 1", len(mails))
	}
	if len(mails[0].To) != 1 || mails[0].To[0] != "ann@example.org" {
		t.Errorf("recipients = %q, want [ann@example.org]", mails[0].To)
	}
	head, _, _ := strings.Cut(string(mails[0].Data), "\r\n\r\n")
	// Line by line: the random Message-ID and boundary are hex, which may
	// well spell "bcc" somewhere.
	for _, line := range strings.Split(head, "\r\n") {
		if strings.HasPrefix(strings.ToLower(line), "bcc:") || strings.Contains(line, "script") || strings.Contains(line, "evil@x") {
			t.Errorf("the username reached the header: %q in\n%s", line, head)
		}
	}
	p := parseMail(t, mails[0].Data)
	if strings.Contains(p.HTML, "<script>") || !strings.Contains(p.HTML, "Hello &lt;script&gt;x&lt;/script&gt; Bcc: evil@x,") {
		t.Errorf("HTML part does not hold the username escaped:\n%s", p.HTML)
	}
}

// TestSMTPCredentialsOnlyOverTLS: credentials go out only after STARTTLS;
// a server that does not offer it never sees AUTH, not even on loopback
// (where net/smtp's PlainAuth alone would send them).
func TestSMTPCredentialsOnlyOverTLS(t *testing.T) {
	m := Message{To: "ann@example.org", Subject: "hi", Text: "hi", HTML: "<p>hi</p>"}

	t.Run("STARTTLS offered", func(t *testing.T) {
		srv := startTestSMTP(t, testSMTPOptions{User: "mailer", Password: "pw"})
		if err := testMailer(t, srv, "mailer", "pw", 5*time.Second).Send(context.Background(), m); err != nil {
			t.Fatalf("Send: %v", err)
		}
		sawTLS := false
		for _, c := range srv.Commands() {
			sawTLS = sawTLS || c.Line == "STARTTLS"
			if strings.HasPrefix(c.Line, "AUTH") && !c.TLS {
				t.Errorf("AUTH before STARTTLS: %q", c.Line)
			}
		}
		if !sawTLS || len(srv.Mails()) != 1 {
			t.Errorf("STARTTLS sent %v, messages %d; want true, 1", sawTLS, len(srv.Mails()))
		}
	})

	t.Run("no STARTTLS, credentials set", func(t *testing.T) {
		srv := startTestSMTP(t, testSMTPOptions{User: "mailer", Password: "pw", NoSTARTTLS: true})
		err := testMailer(t, srv, "mailer", "pw", 5*time.Second).Send(context.Background(), m)
		if !errors.Is(err, ErrSMTPNoTLS) {
			t.Errorf("Send = %v, want ErrSMTPNoTLS", err)
		}
		for _, c := range srv.Commands() {
			if strings.HasPrefix(strings.ToUpper(c.Line), "AUTH") || strings.HasPrefix(strings.ToUpper(c.Line), "MAIL") {
				t.Errorf("server got %q", c.Line)
			}
		}
		if !mailPermanent(err) {
			t.Errorf("mailPermanent(%v) = false, want true", err)
		}
	})

	t.Run("no STARTTLS, no credentials", func(t *testing.T) {
		srv := startTestSMTP(t, testSMTPOptions{NoSTARTTLS: true})
		if err := testMailer(t, srv, "", "", 5*time.Second).Send(context.Background(), m); err != nil {
			t.Fatalf("Send: %v", err)
		}
		if mails := srv.Mails(); len(mails) != 1 || mails[0].TLS {
			t.Errorf("got %d messages (%+v), want 1 in clear", len(mails), mails)
		}
	})

	t.Run("untrusted certificate", func(t *testing.T) {
		srv := startTestSMTP(t, testSMTPOptions{User: "mailer", Password: "pw"})
		mailer, err := NewSMTPMailer(SMTPConfig{Host: srv.Host, Port: srv.Port, Username: "mailer", Password: "pw",
			From: "no-reply@example.com", Timeout: 5 * time.Second}) // system roots
		if err != nil {
			t.Fatal(err)
		}
		if err := mailer.Send(context.Background(), m); err == nil || !strings.Contains(err.Error(), "STARTTLS") {
			t.Errorf("Send = %v, want a STARTTLS error", err)
		}
		for _, c := range srv.Commands() {
			if strings.HasPrefix(c.Line, "AUTH") {
				t.Errorf("server got %q", c.Line)
			}
		}
	})
}

// TestSMTPFailures: a server that hangs, refuses, drops the connection or
// rejects the message makes Send return an error within the timeout, and
// the error never holds the link's token, even from a server that quotes
// the message back.
func TestSMTPFailures(t *testing.T) {
	token := testToken(t)
	m := PasswordResetMail("ann@example.org", "ann", "http://localhost:8080/reset-password?token="+token, 15*time.Minute)
	const timeout = 300 * time.Millisecond
	refusedHost, refusedPort := closedPort(t)
	tests := []struct {
		name      string
		opts      *testSMTPOptions // nil: nothing listens
		step      string           // what the error must say
		permanent bool
	}{
		{"refused", nil, "smtp: dial", false},
		{"hangs", &testSMTPOptions{Hang: true}, "smtp: greeting", false},
		{"drops the connection in DATA", &testSMTPOptions{DropInData: true}, "smtp: the server did not accept the message", false},
		{"rejects the recipient", &testSMTPOptions{RejectRcpt: true}, `smtp: RCPT TO: 550 "5.1.1`, true},
		{"rejects the message quoting it", &testSMTPOptions{EchoReject: true}, `smtp: the server did not accept the message: 554 "5.6.0"`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := SMTPConfig{Host: refusedHost, Port: refusedPort, From: "no-reply@example.com", Timeout: timeout}
			if tt.opts != nil {
				srv := startTestSMTP(t, *tt.opts)
				cfg.Host, cfg.Port, cfg.TLSConfig = srv.Host, srv.Port, srv.TLSConfig()
			}
			mailer, err := NewSMTPMailer(cfg)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err = mailer.Send(context.Background(), m)
			took := time.Since(start)
			if err == nil || !strings.HasPrefix(err.Error(), tt.step) {
				t.Fatalf("Send = %v, want an error starting %q", err, tt.step)
			}
			// The bound is the Timeout plus scheduling slack: a Send
			// that ignored its deadline would take forever.
			if took > timeout+2*time.Second {
				t.Errorf("Send took %v with a timeout of %v", took, timeout)
			}
			if p := tokenPiece(err.Error(), token); p != "" {
				t.Errorf("the error holds %q of the token: %v", p, err)
			}
			if got := mailPermanent(err); got != tt.permanent {
				t.Errorf("mailPermanent(%v) = %v, want %v", err, got, tt.permanent)
			}
			t.Logf("Send = %v (%v)", err, took.Round(time.Millisecond))
		})
	}
}

// TestSMTPCancel: cancelling the context ends a conversation with a hung
// server at once, long before the mailer's own timeout.
func TestSMTPCancel(t *testing.T) {
	srv := startTestSMTP(t, testSMTPOptions{Hang: true})
	mailer := testMailer(t, srv, "", "", time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- mailer.Send(ctx, Message{To: "ann@example.org", Subject: "hi", Text: "hi"}) }()
	waitFor(t, "the connection", func() bool { return srv.Accepted() > 0 })
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Send = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Send did not return after its context was cancelled")
	}
}

func TestNewSMTPMailerRefuses(t *testing.T) {
	for _, from := range badFroms {
		if _, err := NewSMTPMailer(SMTPConfig{Host: "127.0.0.1", Port: 25, From: from}); !errors.Is(err, ErrMailAddress) {
			t.Errorf("NewSMTPMailer(From %q) = %v, want ErrMailAddress", from, err)
		}
	}
	if _, err := NewSMTPMailer(SMTPConfig{Port: 25, From: "no-reply@example.com"}); err == nil {
		t.Error("NewSMTPMailer without a host succeeded, want an error")
	}
}

// TestSMTPRefusesBeforeIO: a recipient that is not a plain address is
// refused before the mailer connects.
func TestSMTPRefusesBeforeIO(t *testing.T) {
	srv := startTestSMTP(t, testSMTPOptions{})
	mailer := testMailer(t, srv, "", "", 5*time.Second)
	for _, to := range []string{"ann@example.org\r\nBcc: evil@example.org", "Ann <ann@example.org>"} {
		if err := mailer.Send(context.Background(), Message{To: to, Subject: "hi", Text: "hi"}); !errors.Is(err, ErrMailAddress) {
			t.Errorf("Send(To %q) = %v, want ErrMailAddress", to, err)
		}
	}
	if n := srv.Accepted(); n != 0 {
		t.Errorf("server saw %d connections, want none", n)
	}
}
