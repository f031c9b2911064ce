package auth

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"regexp"
	"strings"
	"testing"
	"time"
)

// parsedMail is a message as a mail reader sees it.
type parsedMail struct {
	Header  mail.Header
	Subject string // RFC 2047-decoded
	// Text and HTML are the decoded bodies of the parts, line ends as LF.
	Text, HTML string
}

// parseMail reads raw as net/mail and mime/multipart do, and fails the test
// unless it is a well-formed message: CRLF line ends only, no header line
// over 998 characters and no body line over 76, MIME-Version, Date, Message-ID, and either one text part
// or a multipart/alternative of a text and an HTML part.
func parseMail(t *testing.T, raw []byte) parsedMail {
	t.Helper()
	if n, crlf := bytes.Count(raw, []byte("\n")), bytes.Count(raw, []byte("\r\n")); n != crlf {
		t.Fatalf("message has %d line feeds but %d CRLFs:\n%s", n, crlf, raw)
	}
	head, body, _ := strings.Cut(string(raw), "\r\n\r\n")
	for _, l := range strings.Split(head, "\r\n") {
		if len(l) > 998 {
			t.Fatalf("header has a line of %d characters", len(l))
		}
	}
	// Quoted-printable keeps body lines to 76 characters; a longer one
	// means a body went out unencoded.
	for _, l := range strings.Split(body, "\r\n") {
		if len(l) > 76 {
			t.Fatalf("body has a line of %d characters: %q", len(l), l)
		}
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("mail.ReadMessage: %v\n%s", err, raw)
	}
	p := parsedMail{Header: msg.Header}
	if p.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		t.Fatalf("decoding Subject %q: %v", msg.Header.Get("Subject"), err)
	}
	if v := msg.Header.Get("MIME-Version"); v != "1.0" {
		t.Errorf("MIME-Version = %q, want 1.0", v)
	}
	if _, err := msg.Header.Date(); err != nil {
		t.Errorf("Date %q: %v", msg.Header.Get("Date"), err)
	}
	if id := msg.Header.Get("Message-ID"); !regexp.MustCompile(`^<[0-9a-f]{32}@[^<>@\s]+>$`).MatchString(id) {
		t.Errorf("Message-ID = %q, want <32 hex digits@domain>", id)
	}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	if mediaType == "text/plain" {
		p.Text = testBody(t, msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
		return p
	}
	if mediaType != "multipart/alternative" {
		t.Fatalf("Content-Type = %q, want multipart/alternative or text/plain", mediaType)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var types []string
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading the parts: %v", err)
		}
		ct := part.Header.Get("Content-Type")
		types = append(types, ct)
		// NextPart decodes quoted-printable itself and hides the header.
		body := testBody(t, "", part)
		switch ct {
		case "text/plain; charset=utf-8":
			p.Text = body
		case "text/html; charset=utf-8":
			p.HTML = body
		}
	}
	if len(types) != 2 || types[0] != "text/plain; charset=utf-8" || types[1] != "text/html; charset=utf-8" {
		t.Errorf("parts are %q, want text/plain then text/html, both UTF-8", types)
	}
	return p
}

// testBody reads a body, decoding quoted-printable when cte says so, with
// line ends as LF.
func testBody(t *testing.T, cte string, r io.Reader) string {
	t.Helper()
	if strings.EqualFold(cte, "quoted-printable") {
		r = quotedprintable.NewReader(r)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading a body: %v", err)
	}
	return strings.ReplaceAll(string(b), "\r\n", "\n")
}

func TestBuildMail(t *testing.T) {
	tests := []struct {
		name    string
		from    string
		subject string
		html    string
	}{
		{"ASCII", "corkboard <no-reply@example.com>", "Reset your password", "<p>hi</p>"},
		{"non-ASCII subject", "corkboard <no-reply@example.com>", "Passwort zurücksetzen — ✓ 日本語", "<p>hi</p>"},
		{"long non-ASCII subject is folded", "no-reply@example.com", strings.Repeat("ü", 120), "<p>hi</p>"},
		{"long ASCII subject is folded", "no-reply@example.com", strings.Repeat("word ", 40) + "end", "<p>hi</p>"},
		{"subject with a line break adds no header", "no-reply@example.com", "hi\r\nBcc: evil@example.org", "<p>hi</p>"},
		{"non-ASCII display name", "Körkbörd Mailer <no-reply@example.com>", "hi", "<p>hi</p>"},
		{"text only", "no-reply@example.com", "hi", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from, err := mailFromAddress(tt.from)
			if err != nil {
				t.Fatalf("mailFromAddress(%q): %v", tt.from, err)
			}
			m := Message{To: "ann@example.org", Subject: tt.subject, Text: "line one\nline two, ünïcode\n", HTML: tt.html}
			now := time.Now()
			raw, err := buildMail(from, m, now)
			if err != nil {
				t.Fatalf("buildMail: %v", err)
			}
			head, _, _ := strings.Cut(string(raw), "\r\n\r\n")
			for _, l := range strings.Split(head, "\r\n") {
				if len(l) > mailLineLimit && strings.Contains(l, " ") {
					t.Errorf("header line of %d characters: %q", len(l), l)
				}
				if strings.TrimSpace(l) == "" {
					t.Errorf("header has a blank line: %q", head)
				}
			}
			p := parseMail(t, raw)
			if p.Subject != tt.subject {
				t.Errorf("Subject decodes to %q, want %q", p.Subject, tt.subject)
			}
			// From, To, Subject, Date, Message-ID, MIME-Version,
			// Content-Type, and Content-Transfer-Encoding for text only.
			wantFields := 7
			if tt.html == "" {
				wantFields = 8
			}
			if got := p.Header.Get("Bcc"); got != "" || len(p.Header) != wantFields {
				t.Errorf("header has %d fields (Bcc %q), want %d: %q", len(p.Header), got, wantFields, head)
			}
			if got := p.Header.Get("To"); got != m.To {
				t.Errorf("To = %q, want %q", got, m.To)
			}
			if got, err := p.Header.AddressList("From"); err != nil || len(got) != 1 || got[0].String() != from.String() {
				t.Errorf("From = %v, %v; want %v", got, err, from)
			}
			if d, _ := p.Header.Date(); d.Unix() != now.Unix() {
				t.Errorf("Date = %v, want %v", d, now)
			}
			if !strings.HasSuffix(p.Header.Get("Message-ID"), "@example.com>") {
				t.Errorf("Message-ID = %q, want one @example.com", p.Header.Get("Message-ID"))
			}
			if p.Text != m.Text {
				t.Errorf("text part = %q, want %q", p.Text, m.Text)
			}
			if p.HTML != tt.html {
				t.Errorf("HTML part = %q, want %q", p.HTML, tt.html)
			}
		})
	}
}

// TestMailFold: unfolding (removing each CRLF, RFC 5322 §2.2.3) gives the
// line back, no folded line is over the limit when a space allows, and none
// is white space only.
func TestMailFold(t *testing.T) {
	tests := []struct{ name, line string }{
		{"short", "Subject: hi"},
		{"words", "Subject: " + strings.Repeat("word ", 40) + "end"},
		{"two spaces at a fold", "Subject: " + strings.Repeat("a", 66) + "  " + strings.Repeat("b", 30)},
		{"many spaces at a fold", "Subject: " + strings.Repeat("a", 60) + strings.Repeat(" ", 30) + "b"},
		{"one long word", "Subject: " + strings.Repeat("x", 100)},
		{"a run of spaces longer than a line", "Subject: a" + strings.Repeat(" ", 200) + "b c"},
		{"trailing spaces", "Subject: " + strings.Repeat("word ", 20) + strings.Repeat(" ", 100)},
	}
	for _, tt := range tests {
		got := mailFold(tt.line)
		if unfolded := strings.ReplaceAll(got, "\r\n", ""); unfolded != tt.line {
			t.Errorf("%s: mailFold(%q) unfolds to %q", tt.name, tt.line, unfolded)
		}
		for _, l := range strings.Split(got, "\r\n") {
			if strings.TrimSpace(l) == "" {
				t.Errorf("%s: mailFold(%q) has a blank line: %q", tt.name, tt.line, got)
			}
			// Only spaces at the very end may stretch a line: a fold
			// there would leave a line of nothing but spaces.
			if l := strings.TrimRight(l, " "); len(l) > mailLineLimit && strings.Contains(strings.TrimLeft(l, " "), " ") {
				t.Errorf("%s: mailFold(%q) has a line of %d characters: %q", tt.name, tt.line, len(l), l)
			}
		}
	}
}

func TestBuildMailMessageIDsDiffer(t *testing.T) {
	from, _ := mailFromAddress("no-reply@example.com")
	m := Message{To: "ann@example.org", Subject: "hi", Text: "hi"}
	a, _ := buildMail(from, m, time.Now())
	b, _ := buildMail(from, m, time.Now())
	ida := parseMail(t, a).Header.Get("Message-ID")
	idb := parseMail(t, b).Header.Get("Message-ID")
	if ida == idb {
		t.Errorf("two messages share the Message-ID %q", ida)
	}
}

func TestMailAddresses(t *testing.T) {
	from, _ := mailFromAddress("no-reply@example.com")
	for _, to := range []string{
		"ann@example.org\r\nBcc: evil@example.org",
		"ann@example.org\n",
		"Ann <ann@example.org>",
		"<ann@example.org>",
		"ann@example.org, bob@example.org",
		"not an address",
		"",
	} {
		if _, err := buildMail(from, Message{To: to, Subject: "hi", Text: "hi"}, time.Now()); !errors.Is(err, ErrMailAddress) {
			t.Errorf("buildMail(To %q) = %v, want ErrMailAddress", to, err)
		}
	}
	for _, from := range badFroms {
		if _, err := mailFromAddress(from); !errors.Is(err, ErrMailAddress) {
			t.Errorf("mailFromAddress(%q) = %v, want ErrMailAddress", from, err)
		}
	}
}

// badFroms are EMAIL_FROM values every mailer refuses.
var badFroms = []string{
	"no-reply@example.com\r\nBcc: evil@example.org",
	"corkboard <no-reply@example.com>\n",
	"corkboard",
	"",
}

func TestMailMessages(t *testing.T) {
	const (
		hostile = "<script>x</script>\r\nBcc: evil@example.org"
		link    = "http://localhost:8080/reset-password?token=abc_DEF-123"
	)
	tests := []struct {
		name     string
		m        Message
		link     string
		within   string
		escaped  string // how hostile appears in the HTML
		greeting string // how hostile appears in the text
	}{
		{"reset", PasswordResetMail("ann@example.org", hostile, link, 15*time.Minute), link, "15 minutes",
			"&lt;script&gt;x&lt;/script&gt; Bcc: evil@example.org", "Hello <script>x</script> Bcc: evil@example.org,"},
		{"changed", PasswordChangedMail("ann@example.org", hostile), "", "",
			"&lt;script&gt;x&lt;/script&gt; Bcc: evil@example.org", "Hello <script>x</script> Bcc: evil@example.org,"},
		{"verify", VerifyEmailMail("ann@example.org", hostile, link, 24*time.Hour), link, "24 hours",
			"&lt;script&gt;x&lt;/script&gt; Bcc: evil@example.org", "Hello <script>x</script> Bcc: evil@example.org,"},
	}
	from, _ := mailFromAddress("corkboard <no-reply@example.com>")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.m
			if m.To != "ann@example.org" || m.Link != tt.link || m.Subject == "" {
				t.Errorf("To, Link, Subject = %q, %q, %q; want ann@example.org, %q, a subject", m.To, m.Link, m.Subject, tt.link)
			}
			if strings.Contains(m.HTML, "<script>") || !strings.Contains(m.HTML, tt.escaped) {
				t.Errorf("HTML does not hold the name escaped as %q:\n%s", tt.escaped, m.HTML)
			}
			if !strings.Contains(m.Text, tt.greeting) || strings.Contains(m.Text, "\r") {
				t.Errorf("text does not greet with %q on one line:\n%q", tt.greeting, m.Text)
			}
			for _, body := range []string{m.Text, m.HTML} {
				if tt.link != "" && !strings.Contains(body, tt.link) {
					t.Errorf("a body lacks the link %q:\n%s", tt.link, body)
				}
				if !strings.Contains(body, tt.within) {
					t.Errorf("a body does not say %q:\n%s", tt.within, body)
				}
			}
			raw, err := buildMail(from, m, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			p := parseMail(t, raw)
			if p.Header.Get("Bcc") != "" || p.Text != m.Text || p.HTML != m.HTML {
				t.Errorf("as sent: Bcc %q, text equal %v, HTML equal %v; want none, true, true",
					p.Header.Get("Bcc"), p.Text == m.Text, p.HTML == m.HTML)
			}
		})
	}
}

func TestMailUserText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ann", "ann"},
		{"  Ann\tLee\r\n", "Ann Lee"},
		{"a\u202eb", "a b"}, // a right-to-left override would reorder the line
		{"", "there"},
		{"\xff", "\uFFFD"},
		{strings.Repeat("é", 70), strings.Repeat("é", 64) + "…"},
	}
	for _, tt := range tests {
		if got := mailUserText(tt.in); got != tt.want {
			t.Errorf("mailUserText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMailDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{15 * time.Minute, "15 minutes"},
		{time.Minute, "1 minute"},
		{time.Hour, "1 hour"},
		{24 * time.Hour, "24 hours"},
		{90 * time.Minute, "90 minutes"},
		{90 * time.Second, "1m30s"},
	}
	for _, tt := range tests {
		if got := mailDuration(tt.d); got != tt.want {
			t.Errorf("mailDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
