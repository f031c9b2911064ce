package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

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

// MaxPasswordWait is how long a password check or hash may wait for a
// bcrypt slot before it is refused with ErrBusy (a 503 with Retry-After).
const MaxPasswordWait = 2 * time.Second

// Passwords hashes and checks passwords with bcrypt. It bounds how many
// bcrypt computations run at once (each one burns a core for tens of
// milliseconds), so that a flood of logins waits here instead of starving
// every other route of CPU, and it admits them fairly: see gate.
type Passwords struct {
	cost  int
	gate  *gate
	dummy []byte // hash compared against when the user is unknown
	// pads[c] is a dummy hash at cost c, for every cost below the
	// configured one: see Check.
	pads map[int][]byte
	// compare is bcrypt.CompareHashAndPassword; tests count its calls.
	compare func(hash, password []byte) error
}

// NewPasswords returns a Passwords using bcrypt cost cost, running at most
// parallel computations at once; a caller waits at most maxWait for one.
func NewPasswords(cost, parallel int, maxWait time.Duration) (*Passwords, error) {
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("bcrypt cost %d is outside %d-%d", cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("corkboard dummy password"), cost)
	if err != nil {
		return nil, err
	}
	// Together these cost about as much as one hash at cost, once, at start.
	pads := make(map[int][]byte)
	for c := bcrypt.MinCost; c < cost; c++ {
		if pads[c], err = bcrypt.GenerateFromPassword([]byte("corkboard padding"), c); err != nil {
			return nil, err
		}
	}
	return &Passwords{
		cost:    cost,
		gate:    newGate(parallel, maxWait),
		dummy:   dummy,
		pads:    pads,
		compare: bcrypt.CompareHashAndPassword,
	}, nil
}

// Hash returns the bcrypt hash of password. key names who asks (the
// client's address), for fair admission.
func (p *Passwords) Hash(ctx context.Context, key, password string) (string, error) {
	if len(password) > MaxPasswordBytes {
		return "", ErrPasswordTooLong
	}
	release, err := p.gate.acquire(ctx, key)
	if err != nil {
		return "", err
	}
	defer release()
	h, err := bcrypt.GenerateFromPassword([]byte(password), p.cost)
	return string(h), err
}

// Check reports whether password matches hash. key names who asks (the
// client's address), for fair admission. An empty hash (the user does not
// exist) is compared against a dummy hash, so that an unknown user and a
// wrong password take the same time. A password over MaxPasswordBytes never
// matches: comparing it would compare only its first 72 bytes. The error is
// non-nil only when no comparison could be made (ErrBusy, context).
func (p *Passwords) Check(ctx context.Context, key, hash, password string) (bool, error) {
	release, err := p.gate.acquire(ctx, key)
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
	err = p.compare(target, []byte(password))
	// A hash made before BCRYPT_COST was raised checks faster than the
	// dummy hash, which has the configured cost: without padding, a quick
	// "no" would say the account exists. bcrypt's work doubles with each
	// cost step, so comparisons at every cost from the hash's up to one
	// below the configured one add up to what is missing:
	// 2^c + (2^c + ... + 2^(cost-1)) = 2^cost. The next successful login
	// rehashes (NeedsRehash), and the padding is no longer needed.
	if c, cerr := bcrypt.Cost(target); cerr == nil {
		for ; c < p.cost; c++ {
			p.compare(p.pads[c], []byte(password))
		}
	}
	return err == nil && hash != "" && !tooLong, nil
}

// NeedsRehash reports whether hash was made at another cost than the
// configured one, so that a successful login should store a new hash.
func (p *Passwords) NeedsRehash(hash string) bool {
	c, err := bcrypt.Cost([]byte(hash))
	return err == nil && c != p.cost
}
