package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
)

// Message is one mail to one recipient.
type Message struct {
	To      string // a plain address
	Subject string
	Text    string // plain-text body
	HTML    string // HTML body, already safe (built with html/template by the message constructors)
	// Link is the one link the message carries. Only the development
	// outbox logs it; nothing else ever logs it (it holds a token).
	Link string
}

// Mailer delivers one message. Send returns once the message is handed
// over (accepted by the SMTP server, or durable in the outbox); an error
// wrapping ErrMailAddress or ErrSMTPNoTLS says that trying again cannot
// help. No error of a Mailer ever contains the message's link or body.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// ErrMailAddress: a recipient or sender is not a plain address, or holds a
// line break that could add a header. Send refuses it before any I/O.
var ErrMailAddress = errors.New("not a plain mail address")

// mailFromAddress parses EMAIL_FROM, which may carry a display name
// (`corkboard <no-reply@example.com>`).
func mailFromAddress(from string) (*mail.Address, error) {
	if strings.ContainsAny(from, "\r\n") {
		return nil, fmt.Errorf("%w: the sender %q holds a line break", ErrMailAddress, from)
	}
	a, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("%w: the sender %q: %v", ErrMailAddress, from, err)
	}
	return a, nil
}

// mailPlainAddress checks that to is a bare address (local@domain), with no
// display name, comment or angle brackets: it goes into the To header and
// the RCPT command as it is.
func mailPlainAddress(to string) error {
	if strings.ContainsAny(to, "\r\n") {
		return fmt.Errorf("%w: the recipient %q holds a line break", ErrMailAddress, to)
	}
	a, err := mail.ParseAddress(to)
	if err != nil || a.Name != "" || a.Address != to {
		return fmt.Errorf("%w: the recipient %q", ErrMailAddress, to)
	}
	return nil
}

// mailDomain is the part of a plain address after its last '@'.
func mailDomain(addr string) string {
	return addr[strings.LastIndexByte(addr, '@')+1:]
}

// mailLineLimit is where header lines are folded (RFC 5322 §2.1.1 asks for
// 78 characters at most, CRLF excluded).
const mailLineLimit = 78

// buildMail renders m as an RFC 5322 message with MIME parts and CRLF line
// endings: multipart/alternative with a text and an HTML part when m has
// HTML, a single text part otherwise. Bodies are quoted-printable, so any
// line breaks in them stay body text and can never start a header.
func buildMail(from *mail.Address, m Message, now time.Time) ([]byte, error) {
	if err := mailPlainAddress(m.To); err != nil {
		return nil, err
	}
	var id [16]byte
	rand.Read(id[:])

	var msg bytes.Buffer
	header := func(name, value string) {
		msg.WriteString(mailFold(name + ": " + value))
		msg.WriteString("\r\n")
	}
	header("From", from.String()) // RFC 2047-encodes a non-ASCII display name
	header("To", m.To)
	// Q-encoding also turns any control character (CR, LF) into an
	// encoded-word, so a subject can never end its header line.
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", "<"+hex.EncodeToString(id[:])+"@"+mailDomain(from.Address)+">")
	header("MIME-Version", "1.0")

	textPart := textproto.MIMEHeader{
		"Content-Type":              {"text/plain; charset=utf-8"},
		"Content-Transfer-Encoding": {"quoted-printable"},
	}
	if m.HTML == "" {
		for _, k := range []string{"Content-Type", "Content-Transfer-Encoding"} {
			header(k, textPart.Get(k))
		}
		msg.WriteString("\r\n")
		if err := mailQP(&msg, m.Text); err != nil {
			return nil, err
		}
		return msg.Bytes(), nil
	}

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	header("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}))
	msg.WriteString("\r\n")
	parts := []struct {
		header  textproto.MIMEHeader
		content string
	}{
		{textPart, m.Text},
		{textproto.MIMEHeader{
			"Content-Type":              {"text/html; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		}, m.HTML},
	}
	for _, p := range parts {
		pw, err := mw.CreatePart(p.header)
		if err != nil {
			return nil, err
		}
		if err := mailQP(pw, p.content); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	msg.Write(body.Bytes())
	return msg.Bytes(), nil
}

// mailQP writes s quoted-printable to w; its line breaks become CRLF.
func mailQP(w io.Writer, s string) error {
	qp := quotedprintable.NewWriter(w)
	if _, err := qp.Write([]byte(s)); err != nil {
		return err
	}
	return qp.Close()
}

// mailFold folds a header line at its spaces so that no line passes
// mailLineLimit where a space allows it. Each space stays where it was
// (unfolding only removes the CRLF), and encoded-words never contain
// spaces, so folding between them is always allowed. No line is left with
// nothing but white space, which RFC 5322 forbids.
func mailFold(line string) string {
	if len(line) <= mailLineLimit {
		return line
	}
	words := strings.Split(line, " ")
	last := 0 // the last word that is not empty
	for i, w := range words {
		if w != "" {
			last = i
		}
	}
	var b strings.Builder
	n := 0           // length of the current line
	hasWord := false // whether the current line holds more than spaces
	for i, w := range words {
		if i > 0 {
			if hasWord && i <= last && n+1+len(w) > mailLineLimit {
				b.WriteString("\r\n")
				n, hasWord = 0, false
			}
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += len(w)
		hasWord = hasWord || w != ""
	}
	return b.String()
}
