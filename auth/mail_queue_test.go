package auth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// resetMails returns n reset mails to distinct recipients, all carrying
// token.
func resetMails(n int, token string) []Message {
	ms := make([]Message, n)
	for i := range ms {
		ms[i] = PasswordResetMail(fmt.Sprintf("user%d@example.org", i), "user", "http://localhost:8080/reset-password?token="+token, 15*time.Minute)
	}
	return ms
}

// enqueue calls q.Enqueue(m) and fails the test if it does not return at
// once: Enqueue runs on the request path.
func enqueue(t *testing.T, q *MailQueue, m Message) bool {
	t.Helper()
	done := make(chan bool, 1)
	go func() { done <- q.Enqueue(m) }()
	select {
	case ok := <-done:
		return ok
	case <-time.After(5 * time.Second):
		t.Fatalf("Enqueue(%s) blocked", m.To)
		return false
	}
}

// closeQueue closes q with a deadline of d from now and returns how long
// Close took and its error.
func closeQueue(q *MailQueue, d time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	err := q.Close(ctx)
	return time.Since(start), err
}

// checkNoToken fails the test if the log holds any piece of token.
func checkNoToken(t *testing.T, logged *testLog, token string) {
	t.Helper()
	if p := tokenPiece(logged.String(), token); p != "" {
		t.Errorf("the log holds %q of the token:\n%s", p, logged)
	}
}

func TestMailQueueDelivers(t *testing.T) {
	srv := startTestSMTP(t, testSMTPOptions{User: "mailer", Password: "pw"})
	log, logged := newTestLog()
	q := newMailQueue(testMailer(t, srv, "mailer", "pw", 5*time.Second), log, 8, 2, []time.Duration{10 * time.Millisecond})
	token := testToken(t)
	ms := resetMails(3, token)
	for _, m := range ms {
		if !enqueue(t, q, m) {
			t.Fatalf("Enqueue(%s) = false, want true", m.To)
		}
	}
	// Close delivers what is queued before it returns.
	if _, err := closeQueue(q, 10*time.Second); err != nil {
		t.Fatalf("Close = %v, want nil", err)
	}
	got := map[string]bool{}
	for _, m := range srv.Mails() {
		got[m.To[0]] = true
		if p := parseMail(t, m.Data); !strings.Contains(p.Text, token) {
			t.Errorf("mail to %s lacks the token", m.To)
		}
	}
	for _, m := range ms {
		if !got[m.To] {
			t.Errorf("no mail for %s", m.To)
		}
	}
	if n := strings.Count(logged.String(), `msg="mail sent"`); n != 3 {
		t.Errorf("log has %d mail sent lines, want 3:\n%s", n, logged)
	}
	checkNoToken(t, logged, token)
	if enqueue(t, q, ms[0]) || !strings.Contains(logged.String(), "the mail queue is closed") {
		t.Errorf("Enqueue after Close = true or not logged, want false and a log line:\n%s", logged)
	}
}

// TestMailQueueRetries: while the SMTP server is down, attempts fail and
// are logged; once it is up, the retry delivers the message.
func TestMailQueueRetries(t *testing.T) {
	host, port := closedPort(t)
	mailer, err := NewSMTPMailer(SMTPConfig{Host: host, Port: port, From: "no-reply@example.com", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	log, logged := newTestLog()
	q := newMailQueue(mailer, log, 8, 2, []time.Duration{500 * time.Millisecond, 2 * time.Second})
	token := testToken(t)
	m := resetMails(1, token)[0]
	if !enqueue(t, q, m) {
		t.Fatal("Enqueue = false, want true")
	}
	waitFor(t, "a failed attempt", func() bool { return strings.Contains(logged.String(), "attempt=1") })

	// No STARTTLS: the mailer was made before the server's certificate.
	srv := startTestSMTPAt(t, net.JoinHostPort(host, strconv.Itoa(port)), testSMTPOptions{NoSTARTTLS: true})
	waitFor(t, "the mail", func() bool { return len(srv.Mails()) == 1 })
	if _, err := closeQueue(q, 10*time.Second); err != nil {
		t.Errorf("Close = %v, want nil", err)
	}
	out := logged.String()
	for _, want := range []string{`msg="mail delivery failed" to=user0@example.org subject="Reset your corkboard password" attempt=1 err="smtp: dial`, `msg="mail sent" to=user0@example.org`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, `msg="mail sent" to=user0@example.org subject="Reset your corkboard password" attempt=1`) {
		t.Errorf("log says the first attempt succeeded:\n%s", out)
	}
	checkNoToken(t, logged, token)
}

// TestMailQueueGivesUp: a server that stays down costs three attempts,
// then the message is logged as not delivered, and nothing blocks.
func TestMailQueueGivesUp(t *testing.T) {
	host, port := closedPort(t)
	mailer, err := NewSMTPMailer(SMTPConfig{Host: host, Port: port, From: "no-reply@example.com", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	log, logged := newTestLog()
	q := newMailQueue(mailer, log, 8, 2, []time.Duration{10 * time.Millisecond, 10 * time.Millisecond})
	token := testToken(t)
	if !enqueue(t, q, resetMails(1, token)[0]) {
		t.Fatal("Enqueue = false, want true")
	}
	if _, err := closeQueue(q, 10*time.Second); err != nil {
		t.Errorf("Close = %v, want nil", err)
	}
	out := logged.String()
	if n := strings.Count(out, `msg="mail delivery failed"`); n != 3 {
		t.Errorf("log has %d failed attempts, want 3:\n%s", n, out)
	}
	if !strings.Contains(out, `msg="mail not delivered: no attempts left" to=user0@example.org subject="Reset your corkboard password" attempts=3`) {
		t.Errorf("log does not say the mail was given up:\n%s", out)
	}
	checkNoToken(t, logged, token)
}

// TestMailQueuePermanent: a 5xx answer is not retried.
func TestMailQueuePermanent(t *testing.T) {
	srv := startTestSMTP(t, testSMTPOptions{RejectRcpt: true})
	log, logged := newTestLog()
	q := newMailQueue(testMailer(t, srv, "", "", 5*time.Second), log, 8, 2, []time.Duration{10 * time.Millisecond, 10 * time.Millisecond})
	token := testToken(t)
	if !enqueue(t, q, resetMails(1, token)[0]) {
		t.Fatal("Enqueue = false, want true")
	}
	if _, err := closeQueue(q, 10*time.Second); err != nil {
		t.Errorf("Close = %v, want nil", err)
	}
	if n := srv.Accepted(); n != 1 {
		t.Errorf("server saw %d connections, want 1", n)
	}
	if !strings.Contains(logged.String(), "mail not delivered: the error is permanent") {
		t.Errorf("log does not say the error is permanent:\n%s", logged)
	}
	checkNoToken(t, logged, token)
}

// TestMailQueueEchoedToken: a server that quotes the refused message back
// gets no token into the log.
func TestMailQueueEchoedToken(t *testing.T) {
	srv := startTestSMTP(t, testSMTPOptions{EchoReject: true})
	log, logged := newTestLog()
	q := newMailQueue(testMailer(t, srv, "", "", 5*time.Second), log, 8, 2, []time.Duration{10 * time.Millisecond})
	token := testToken(t)
	if !enqueue(t, q, resetMails(1, token)[0]) {
		t.Fatal("Enqueue = false, want true")
	}
	if _, err := closeQueue(q, 10*time.Second); err != nil {
		t.Errorf("Close = %v, want nil", err)
	}
	if !strings.Contains(logged.String(), `err="smtp: the server did not accept the message: 554`) {
		t.Errorf("log lacks the refusal:\n%s", logged)
	}
	checkNoToken(t, logged, token)
}

// TestMailQueueFullAndHungServer: with a server that never answers,
// Enqueue still returns at once, true until the buffer is full and false
// after; Close with a short deadline returns when it passes and logs every
// message still unsent, without its link.
func TestMailQueueFullAndHungServer(t *testing.T) {
	srv := startTestSMTP(t, testSMTPOptions{Hang: true})
	log, logged := newTestLog()
	const size, workers = 4, 2
	q := newMailQueue(testMailer(t, srv, "", "", time.Hour), log, size, workers, []time.Duration{10 * time.Millisecond})
	token := testToken(t)
	ms := resetMails(workers+size+1, token)

	for _, m := range ms[:workers] {
		if !enqueue(t, q, m) {
			t.Fatalf("Enqueue(%s) = false, want true", m.To)
		}
	}
	waitFor(t, "both workers to be stuck", func() bool { return srv.Accepted() == workers })
	for _, m := range ms[workers : workers+size] {
		if !enqueue(t, q, m) {
			t.Fatalf("Enqueue(%s) = false, want true", m.To)
		}
	}
	last := ms[len(ms)-1]
	if enqueue(t, q, last) {
		t.Fatalf("Enqueue(%s) into a full queue = true, want false", last.To)
	}
	if !strings.Contains(logged.String(), `msg="mail dropped: the mail queue is full" to=`+last.To) {
		t.Errorf("log does not name the dropped mail:\n%s", logged)
	}

	took, err := closeQueue(q, 300*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v, want context.DeadlineExceeded", err)
	}
	// Close may outlast its deadline by mailStopGrace at most; anything
	// near the mailer's hour would be a hang.
	if took > 300*time.Millisecond+mailStopGrace+2*time.Second {
		t.Errorf("Close took %v", took)
	}
	out := logged.String()
	for _, m := range ms[:workers+size] {
		if n := strings.Count(out, `msg="mail unsent at shutdown" to=`+m.To+" "); n != 1 {
			t.Errorf("log names %s as unsent %d times, want once:\n%s", m.To, n, out)
		}
	}
	checkNoToken(t, logged, token)
}

// TestMailQueueCloseSkipsBackoff: a retry whose back-off would outlive
// Close's deadline is given up at once, not waited for.
func TestMailQueueCloseSkipsBackoff(t *testing.T) {
	host, port := closedPort(t)
	mailer, err := NewSMTPMailer(SMTPConfig{Host: host, Port: port, From: "no-reply@example.com", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	log, logged := newTestLog()
	q := newMailQueue(mailer, log, 8, 2, []time.Duration{time.Hour})
	token := testToken(t)
	if !enqueue(t, q, resetMails(1, token)[0]) {
		t.Fatal("Enqueue = false, want true")
	}
	waitFor(t, "a failed attempt", func() bool { return strings.Contains(logged.String(), "attempt=1") })
	// Had the worker waited out its back-off, Close would end with its
	// deadline and say so.
	if _, err := closeQueue(q, 5*time.Second); err != nil {
		t.Errorf("Close = %v, want nil", err)
	}
	if !strings.Contains(logged.String(), `msg="mail unsent at shutdown" to=user0@example.org subject="Reset your corkboard password" reason="the shutdown deadline falls within its back-off"`) {
		t.Errorf("log does not say the mail was left unsent:\n%s", logged)
	}
	checkNoToken(t, logged, token)
}
