package auth

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestOutbox(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "outbox") // not there yet
	log, logged := newTestLog()
	o, err := NewOutbox(dir, "corkboard <no-reply@example.com>", log)
	if err != nil {
		t.Fatalf("NewOutbox: %v", err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("outbox directory: %v, %v; want mode 0700", fi, err)
	}
	token := testToken(t)
	m := PasswordResetMail("ann@example.org", "ann", "http://localhost:8080/reset-password?token="+token, 15*time.Minute)
	if err := o.Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 1 || !regexp.MustCompile(`^[0-9]+-[0-9a-f]{12}\.eml$`).MatchString(names[0]) {
		t.Fatalf("outbox holds %q, want one <nanos>-<hex>.eml and no temporary file", names)
	}
	file := filepath.Join(dir, names[0])
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("message file: %v, %v; want mode 0600", fi, err)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p := parseMail(t, raw)
	if p.Subject != m.Subject || p.Text != m.Text || p.HTML != m.HTML || p.Header.Get("To") != m.To {
		t.Errorf("the file does not hold the message as sent:\n%s", raw)
	}

	line := logged.String()
	for _, want := range []string{"mail written to the outbox", "file=" + file, "to=ann@example.org", "link=" + strconv.Quote(m.Link), "subject=" + strconv.Quote(m.Subject)} {
		if !strings.Contains(line, want) {
			t.Errorf("log lacks %q:\n%s", want, line)
		}
	}
}

func TestOutboxRefuses(t *testing.T) {
	for _, from := range badFroms {
		if _, err := NewOutbox(t.TempDir(), from, nil); !errors.Is(err, ErrMailAddress) {
			t.Errorf("NewOutbox(from %q) = %v, want ErrMailAddress", from, err)
		}
	}
	dir := t.TempDir()
	log, logged := newTestLog()
	o, err := NewOutbox(dir, "no-reply@example.com", log)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Send(context.Background(), Message{To: "ann@example.org\r\nBcc: evil@example.org", Subject: "hi", Text: "hi"}); !errors.Is(err, ErrMailAddress) {
		t.Errorf("Send to a header injection = %v, want ErrMailAddress", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := o.Send(ctx, Message{To: "ann@example.org", Subject: "hi", Text: "hi"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Send with a cancelled context = %v, want context.Canceled", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 || logged.String() != "" {
		t.Errorf("after refusals the outbox holds %d files and the log %q; want none", len(entries), logged.String())
	}
}
