package auth

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/crypto/bcrypt"
)

// Password length limits, in bytes. bcrypt ignores everything after byte 72,
// so a longer password is refused rather than silently truncated.
const (
	MinPasswordBytes = 8
	MaxPasswordBytes = 72
)

// ErrPasswordTooLong is returned by Hash for a password over MaxPasswordBytes.
var ErrPasswordTooLong = errors.New("password longer than 72 bytes")

// ErrBusy is returned when too many password computations are queued; the
// client gets a 503 with Retry-After, so a login flood sheds load instead of
// piling up.
var ErrBusy = errors.New("too many password checks waiting")

// Passwords hashes and checks passwords with bcrypt. It bounds how many
// bcrypt computations run at once (each one burns a core for tens of
// milliseconds), so that a flood of logins queues here instead of starving
// every other route of CPU.
type Passwords struct {
	cost    int
	running chan struct{} // a slot per computation allowed to run
	queued  chan struct{} // a slot per caller allowed to wait or run
	dummy   []byte        // hash compared against when the user is unknown
}

// NewPasswords returns a Passwords using bcrypt cost cost, running at most
// parallel computations at once with at most queue more callers waiting.
func NewPasswords(cost, parallel, queue int) (*Passwords, error) {
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("bcrypt cost %d is outside %d-%d", cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	parallel = max(parallel, 1)
	dummy, err := bcrypt.GenerateFromPassword([]byte("corkboard dummy password"), cost)
	if err != nil {
		return nil, err
	}
	return &Passwords{
		cost:    cost,
		running: make(chan struct{}, parallel),
		queued:  make(chan struct{}, parallel+max(queue, 0)),
		dummy:   dummy,
	}, nil
}

// acquire takes a computation slot, waiting for one if needed. It fails
// with ErrBusy when the queue is full and with the context's error when the
// caller gives up.
func (p *Passwords) acquire(ctx context.Context) (release func(), err error) {
	select {
	case p.queued <- struct{}{}:
	default:
		return nil, ErrBusy
	}
	select {
	case p.running <- struct{}{}:
		return func() { <-p.running; <-p.queued }, nil
	case <-ctx.Done():
		<-p.queued
		return nil, ctx.Err()
	}
}

// Hash returns the bcrypt hash of password.
func (p *Passwords) Hash(ctx context.Context, password string) (string, error) {
	if len(password) > MaxPasswordBytes {
		return "", ErrPasswordTooLong
	}
	release, err := p.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	h, err := bcrypt.GenerateFromPassword([]byte(password), p.cost)
	return string(h), err
}

// Check reports whether password matches hash. An empty hash (the user does
// not exist) is compared against a dummy hash, so that an unknown user and
// a wrong password take the same time. A password over MaxPasswordBytes
// never matches: comparing it would compare only its first 72 bytes. The
// error is non-nil only when no comparison could be made (ErrBusy, context).
func (p *Passwords) Check(ctx context.Context, hash, password string) (bool, error) {
	release, err := p.acquire(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	target := []byte(hash)
	if hash == "" {
		target = p.dummy
	}
	tooLong := len(password) > MaxPasswordBytes
	if tooLong {
		password = password[:MaxPasswordBytes] // same work, but the answer is no
	}
	err = bcrypt.CompareHashAndPassword(target, []byte(password))
	return err == nil && hash != "" && !tooLong, nil
}
