package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Outbox is the development mailer, used when no SMTP_HOST is configured:
// each message becomes an .eml file in a directory (DATA_DIR/outbox), and
// its recipient, subject and link are logged, so a developer can follow a
// reset or verification link without a mail server. It is safe for
// concurrent use.
type Outbox struct {
	dir  string
	from *mail.Address
	log  *slog.Logger
}

var _ Mailer = (*Outbox)(nil)

// NewOutbox returns an outbox writing to dir, which it creates (mode 0700)
// if missing. from is EMAIL_FROM; it fails when net/mail cannot parse it.
func NewOutbox(dir, from string, log *slog.Logger) (*Outbox, error) {
	f, err := mailFromAddress(from)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	return &Outbox{dir: dir, from: f, log: log}, nil
}

// Send writes m as <unix-nanos>-<random>.eml. The bytes go to a temporary
// file that is synced and then renamed, so a reader of the directory only
// ever sees whole messages, and the name sorts by time of writing.
func (o *Outbox) Send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	msg, err := buildMail(o.from, m, time.Now())
	if err != nil {
		return err
	}
	var r [6]byte
	rand.Read(r[:])
	name := strconv.FormatInt(time.Now().UnixNano(), 10) + "-" + hex.EncodeToString(r[:]) + ".eml"

	// The temporary name does not end in .eml, so nothing that looks for
	// messages picks up a half-written one.
	tmp, err := os.CreateTemp(o.dir, "."+name+".tmp-*")
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	_, err = tmp.Write(msg)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(o.dir, name))
	}
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	// The rename is durable once the directory is synced.
	if d, err := os.Open(o.dir); err == nil {
		d.Sync()
		d.Close()
	}
	file := filepath.Join(o.dir, name)
	o.log.Info("mail written to the outbox", "file", file, "to", m.To, "subject", m.Subject, "link", m.Link)
	return nil
}
