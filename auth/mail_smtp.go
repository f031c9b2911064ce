package auth

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// SMTPConfig is what the SMTP mailer needs from the configuration
// (SMTP_HOST, SMTP_PORT, SMTP_USERNAME, SMTP_PASSWORD, EMAIL_FROM).
type SMTPConfig struct {
	Host               string
	Port               int
	Username, Password string
	// From is EMAIL_FROM, e.g. `corkboard <no-reply@example.com>`.
	From string
	// Timeout bounds the whole conversation, dial included; 0 means
	// DefaultSMTPTimeout.
	Timeout time.Duration
	// TLSConfig, when set, is used for STARTTLS (tests trust their own
	// CA); nil means the system roots with ServerName = Host.
	TLSConfig *tls.Config
}

// DefaultSMTPTimeout is how long one SMTP conversation may take when
// SMTPConfig.Timeout is 0.
const DefaultSMTPTimeout = 30 * time.Second

// ErrSMTPNoTLS: credentials are configured but the connection is not
// encrypted (the server offers no STARTTLS), so the mailer refused to send
// them in clear.
var ErrSMTPNoTLS = errors.New("smtp: the server offers no STARTTLS; credentials are never sent in clear")

// SMTPMailer sends each message over its own SMTP connection with
// net/smtp: STARTTLS whenever the server offers it, AUTH PLAIN only over
// TLS, and one deadline over the dial and the whole conversation. It is
// safe for concurrent use.
type SMTPMailer struct {
	cfg   SMTPConfig
	from  *mail.Address
	addr  string // host:port
	hello string // the name given in EHLO
}

var _ Mailer = (*SMTPMailer)(nil)

// NewSMTPMailer returns a mailer for cfg. It fails when cfg.From is not an
// address net/mail can parse or cfg.Host is empty.
func NewSMTPMailer(cfg SMTPConfig) (*SMTPMailer, error) {
	if cfg.Host == "" {
		return nil, errors.New("smtp: no host")
	}
	from, err := mailFromAddress(cfg.From)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultSMTPTimeout
	}
	// EHLO names the client; the sender's domain is what a receiving
	// server can make sense of, when it is a plain host name.
	hello := mailDomain(from.Address)
	if !mailHostName(hello) {
		hello = "localhost"
	}
	return &SMTPMailer{
		cfg:   cfg,
		from:  from,
		addr:  net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)),
		hello: hello,
	}, nil
}

// mailHostName reports whether s is made of letters, digits, dots and
// hyphens only.
func mailHostName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}

// Send delivers m in one SMTP conversation. The message is built and its
// addresses checked before any network I/O. Cancelling ctx interrupts the
// conversation at once.
//
// Errors name the step that failed and carry the server's reply, except for
// the reply to the message body: a server may quote the body back, and the
// body holds the link's token, so only the reply's codes are kept there.
func (s *SMTPMailer) Send(ctx context.Context, m Message) error {
	msg, err := buildMail(s.from, m, time.Now())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()

	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("smtp: dial %s: %w", s.addr, err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	// A cancelled ctx (shutdown) must not wait for the deadline: a deadline
	// in the past fails every pending and later read and write at once.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	err = s.converse(conn, m.To, msg)
	if err != nil && ctx.Err() != nil {
		// The I/O error only says "deadline exceeded"; say why.
		return fmt.Errorf("%w (%w)", err, context.Cause(ctx))
	}
	return err
}

// converse speaks SMTP on conn, from the greeting to the end of DATA.
func (s *SMTPMailer) converse(conn net.Conn, to string, msg []byte) error {
	c, err := smtp.NewClient(conn, s.cfg.Host)
	if err != nil {
		return fmt.Errorf("smtp: greeting: %w", err)
	}
	// Closing c closes conn; Send's deferred conn.Close covers every path.
	if err := c.Hello(s.hello); err != nil {
		return fmt.Errorf("smtp: EHLO: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(s.tlsConfig()); err != nil {
			return fmt.Errorf("smtp: STARTTLS: %w", err)
		}
	}
	if s.cfg.Username != "" {
		// net/smtp's PlainAuth would still send credentials in clear to
		// localhost; the mailer never does.
		if _, isTLS := c.TLSConnectionState(); !isTLS {
			return ErrSMTPNoTLS
		}
		if ok, _ := c.Extension("AUTH"); !ok {
			return errors.New("smtp: credentials are configured but the server offers no AUTH")
		}
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.cfg.Host)); err != nil {
			return fmt.Errorf("smtp: AUTH: %w", err)
		}
	}
	if err := c.Mail(s.from.Address); err != nil {
		return fmt.Errorf("smtp: MAIL FROM: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("smtp: RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp: DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("smtp: sending the message: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp: the server did not accept the message: %w", mailReplyCodes(err))
	}
	// The message is accepted: a failed QUIT must not make the queue send
	// it again.
	c.Quit()
	return nil
}

// tlsConfig is the configuration for STARTTLS.
func (s *SMTPMailer) tlsConfig() *tls.Config {
	if s.cfg.TLSConfig == nil {
		return &tls.Config{ServerName: s.cfg.Host, MinVersion: tls.VersionTLS12}
	}
	cfg := s.cfg.TLSConfig.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName = s.cfg.Host
	}
	return cfg
}

// mailReplyCodes keeps only the reply code and the enhanced status code
// (RFC 3463, e.g. "5.7.1") of a server's reply: its text may quote the
// message back.
func mailReplyCodes(err error) error {
	var te *textproto.Error
	if !errors.As(err, &te) {
		return err // an I/O error, which holds no message text
	}
	status := ""
	if f := strings.Fields(te.Msg); len(f) > 0 && mailEnhancedStatus(f[0]) {
		status = f[0]
	}
	return &textproto.Error{Code: te.Code, Msg: status}
}

// mailEnhancedStatus reports whether s looks like "class.subject.detail",
// digits only.
func mailEnhancedStatus(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if p == "" || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

// mailPermanent reports whether trying err again cannot help: a bad
// address, credentials refused for want of TLS, or a 5xx reply.
func mailPermanent(err error) bool {
	var te *textproto.Error
	switch {
	case errors.Is(err, ErrMailAddress), errors.Is(err, ErrSMTPNoTLS):
		return true
	case errors.As(err, &te):
		return te.Code >= 500
	}
	return false
}
