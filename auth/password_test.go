package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPasswords(t *testing.T) {
	ctx := context.Background()
	p, err := NewPasswords(4, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := p.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, hash, password string
		want                 bool
	}{
		{"right password", hash, "correct horse", true},
		{"wrong password", hash, "correct horsf", false},
		{"unknown user (dummy hash)", "", "corkboard dummy password", false},
		{"73 bytes sharing the first 72", mustHash(t, p, strings.Repeat("a", 72)), strings.Repeat("a", 73), false},
	}
	for _, tt := range tests {
		got, err := p.Check(ctx, tt.hash, tt.password)
		if err != nil || got != tt.want {
			t.Errorf("%s: Check = %v, %v; want %v, nil", tt.name, got, err, tt.want)
		}
	}
	if _, err := p.Hash(ctx, strings.Repeat("a", 73)); !errors.Is(err, ErrPasswordTooLong) {
		t.Errorf("Hash of 73 bytes = %v, want ErrPasswordTooLong", err)
	}
	if _, err := NewPasswords(3, 1, 1); err == nil {
		t.Error("NewPasswords(cost 3) succeeded, want an error")
	}
}

func mustHash(t *testing.T, p *Passwords, pw string) string {
	t.Helper()
	h, err := p.Hash(context.Background(), pw)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestPasswordsBounded checks the bcrypt isolation: with every computation
// slot and queue place taken, a further caller is refused at once with
// ErrBusy instead of piling up, and a queued caller whose request is
// cancelled gives up its place.
func TestPasswordsBounded(t *testing.T) {
	p, err := NewPasswords(4, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	release, err := p.acquire(context.Background()) // the one running slot
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	waited := make(chan error, 1)
	go func() { _, err := p.Check(ctx, "", "x"); waited <- err }() // takes the queue place
	deadline := time.Now().Add(5 * time.Second)
	for len(p.queued) < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if _, err := p.Check(context.Background(), "", "x"); !errors.Is(err, ErrBusy) {
		t.Errorf("Check with the queue full = %v, want ErrBusy", err)
	}
	cancel()
	if err := <-waited; !errors.Is(err, context.Canceled) {
		t.Errorf("queued Check after cancel = %v, want context.Canceled", err)
	}
	release()
	if ok, err := p.Check(context.Background(), "", "x"); err != nil || ok {
		t.Errorf("Check after release = %v, %v; want false, nil", ok, err)
	}
}

func TestLimiter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewLimiter(3, time.Minute)
	for i := 0; i < 3; i++ {
		if ok, _ := l.Allow("k", now); !ok {
			t.Fatalf("Allow #%d refused, want allowed", i+1)
		}
	}
	ok, wait := l.Allow("k", now.Add(20*time.Second))
	if ok || wait != 40*time.Second {
		t.Errorf("4th Allow = %v, %v; want refused, retry in 40s", ok, wait)
	}
	if ok, _ := l.Allow("other", now); !ok {
		t.Error("another key was refused")
	}
	if ok, _ := l.Allow("k", now.Add(time.Minute)); !ok {
		t.Error("Allow in the next window refused")
	}

	l.Reset("k")
	if ok, _ := l.Allow("k", now.Add(time.Minute+time.Second)); !ok {
		t.Error("Allow after Reset refused")
	}
	if got := RetryAfterSeconds(1500 * time.Millisecond); got != 2 {
		t.Errorf("RetryAfterSeconds(1.5s) = %d, want 2", got)
	}
}
