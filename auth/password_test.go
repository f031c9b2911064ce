package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestPasswords(t *testing.T) {
	ctx := context.Background()
	p, err := NewPasswords(4, 1, MaxPasswordWait)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := p.Hash(ctx, "ip", "correct horse")
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
		got, err := p.Check(ctx, "ip", tt.hash, tt.password)
		if err != nil || got != tt.want {
			t.Errorf("%s: Check = %v, %v; want %v, nil", tt.name, got, err, tt.want)
		}
	}
	if _, err := p.Hash(ctx, "ip", strings.Repeat("a", 73)); !errors.Is(err, ErrPasswordTooLong) {
		t.Errorf("Hash of 73 bytes = %v, want ErrPasswordTooLong", err)
	}
	if _, err := NewPasswords(3, 1, MaxPasswordWait); err == nil {
		t.Error("NewPasswords(cost 3) succeeded, want an error")
	}
}

func mustHash(t *testing.T, p *Passwords, pw string) string {
	t.Helper()
	h, err := p.Hash(context.Background(), "ip", pw)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestCostChange: after BCRYPT_COST is raised, a hash of the old cost is
// checked with padding comparisons at every cost from the old one up to
// one below the new, whose work adds up to one comparison at the new cost,
// so a wrong password for an old account takes as long as one for an
// unknown account; and NeedsRehash says it should be replaced.
func TestCostChange(t *testing.T) {
	ctx := context.Background()
	old, err := NewPasswords(4, 1, MaxPasswordWait)
	if err != nil {
		t.Fatal(err)
	}
	oldHash := mustHash(t, old, "password1")
	p, err := NewPasswords(6, 1, MaxPasswordWait)
	if err != nil {
		t.Fatal(err)
	}
	var costs []int
	p.compare = func(hash, pw []byte) error {
		c, _ := bcrypt.Cost(hash)
		costs = append(costs, c)
		return bcrypt.CompareHashAndPassword(hash, pw)
	}
	tests := []struct {
		name, hash, password string
		ok                   bool
		costs                []int // of the comparisons made
	}{
		{"unknown user", "", "password1", false, []int{6}},
		{"old cost, wrong password", oldHash, "password2", false, []int{4, 4, 5}},
		{"old cost, right password", oldHash, "password1", true, []int{4, 4, 5}},
		{"configured cost", mustHash(t, p, "password1"), "password2", false, []int{6}},
	}
	for _, tt := range tests {
		costs = nil
		ok, err := p.Check(ctx, "ip", tt.hash, tt.password)
		if err != nil || ok != tt.ok || !slices.Equal(costs, tt.costs) {
			t.Errorf("%s: Check = %v, %v comparing at costs %v; want %v comparing at costs %v", tt.name, ok, err, costs, tt.ok, tt.costs)
		}
	}
	if !p.NeedsRehash(oldHash) || p.NeedsRehash(mustHash(t, p, "x")) {
		t.Error("NeedsRehash: want true for the old cost only")
	}
}

// waitQueued waits until g has n waiters.
func waitQueued(t *testing.T, g *gate, n int) {
	t.Helper()
	eventually(t, func() (bool, string) {
		g.mu.Lock()
		defer g.mu.Unlock()
		return len(g.queue) >= n, fmt.Sprintf("%d waiters, want %d", len(g.queue), n)
	})
}

// eventually polls cond until it holds, failing the test with cond's
// account of the state it saw if it does not within 30 s.
func eventually(t *testing.T, cond func() (ok bool, state string)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: %s", state)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestGateTimeBound: a caller waits for a slot up to the bound and is then
// refused with ErrBusy; a caller who gives up leaves; a freed slot serves
// the next caller.
func TestGateTimeBound(t *testing.T) {
	g := newGate(1, 50*time.Millisecond)
	release, err := g.acquire(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.acquire(context.Background(), "b"); !errors.Is(err, ErrBusy) {
		t.Errorf("acquire with the slot held past the bound = %v, want ErrBusy", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := g.acquire(ctx, "c"); done <- err }()
	waitQueued(t, g, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("acquire cancelled while waiting = %v, want context.Canceled", err)
	}
	release()
	g2 := newGate(1, time.Minute)
	r1, _ := g2.acquire(context.Background(), "a")
	go func() { time.Sleep(20 * time.Millisecond); r1() }()
	r2, err := g2.acquire(context.Background(), "b")
	if err != nil {
		t.Fatalf("acquire while the slot is freed within the bound = %v, want a slot", err)
	}
	r2()
	if len(g2.held) != 0 || len(g2.served) != 0 || g2.free != 1 {
		t.Errorf("gate after every slot came back: held %v, served %v, free %d; want empty, empty, 1", g2.held, g2.served, g2.free)
	}
}

// TestGateFair: one client with many waiting requests cannot keep another
// waiting behind all of them: the next free slot goes to the client that
// was served longest ago.
func TestGateFair(t *testing.T) {
	g := newGate(1, time.Minute)
	release, err := g.acquire(context.Background(), "flood")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	enqueue := func(key string, n int) {
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := g.acquire(context.Background(), key)
				if err != nil {
					t.Errorf("acquire(%s) = %v", key, err)
					return
				}
				mu.Lock()
				order = append(order, key)
				mu.Unlock()
				r()
			}()
		}
	}
	enqueue("flood", 5)
	waitQueued(t, g, 5)
	enqueue("other", 1)
	waitQueued(t, g, 6)
	release()
	wg.Wait()
	if len(order) != 6 || order[0] != "other" {
		t.Errorf("order of service = %v, want other first", order)
	}
}

// TestGateWorkConserving: a client alone may use every slot; its share is
// enforced only against others who wait.
func TestGateWorkConserving(t *testing.T) {
	g := newGate(4, 10*time.Millisecond)
	var releases []func()
	for i := range 4 {
		r, err := g.acquire(context.Background(), "alone")
		if err != nil {
			t.Fatalf("acquire #%d by a client alone = %v, want a slot", i+1, err)
		}
		releases = append(releases, r)
	}
	for _, r := range releases {
		r()
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

	one := NewLimiter(1, time.Minute)
	one.Allow("k", now)
	one.Undo(context.Background(), "k", now) // the attempt was never made
	if ok, _ := one.Allow("k", now); !ok {
		t.Error("Allow after Undo refused")
	}
	l.Reset(context.Background(), "k")
	if ok, _ := l.Allow("k", now.Add(time.Minute+time.Second)); !ok {
		t.Error("Allow after Reset refused")
	}
	if got := RetryAfterSeconds(1500 * time.Millisecond); got != 2 {
		t.Errorf("RetryAfterSeconds(1.5s) = %d, want 2", got)
	}
}

// BenchmarkCheckAfterCostChange compares, at cost 11, a failed check for
// an unknown user (the dummy hash) with one for a user whose hash still has
// the old cost 10 (the default before the raise): with the padding they
// should take the same time; "unpadded" is what the old-cost check costs
// without it.
func BenchmarkCheckAfterCostChange(b *testing.B) {
	ctx := context.Background()
	old, err := NewPasswords(10, 1, MaxPasswordWait)
	if err != nil {
		b.Fatal(err)
	}
	oldHash, err := old.Hash(ctx, "ip", "password1")
	if err != nil {
		b.Fatal(err)
	}
	p, err := NewPasswords(11, 1, MaxPasswordWait)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, hash string }{{"unknown user", ""}, {"old-cost user", oldHash}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				p.Check(ctx, "ip", bc.hash, "wrong-password")
			}
		})
	}
	b.Run("old-cost user unpadded", func(b *testing.B) {
		for b.Loop() {
			bcrypt.CompareHashAndPassword([]byte(oldHash), []byte("wrong-password"))
		}
	})
}
