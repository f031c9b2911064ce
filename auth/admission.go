package auth

import (
	"context"
	"slices"
	"sync"
	"time"
)

// gate admits bcrypt computations fairly and within a time bound. It has a
// fixed number of slots (one computation each). A caller waits for a slot
// at most maxWait and is then refused with ErrBusy, so admission is decided
// by how long a request would wait, not by how long a queue is: a burst that
// the slots will serve in time is served, whatever its size.
//
// Waiters are served round-robin by key (the client's address): when a slot
// frees, it goes to the waiter whose key holds the fewest slots, then whose
// key was served longest ago, then who came first. So one client flooding
// the gate cannot starve another: a newcomer waits for at most the next free
// slot. While others wait, a key holds at most share slots; when nobody else
// waits it may use every slot, so no core sits idle.
type gate struct {
	maxWait  time.Duration
	maxQueue int // waiters beyond this are refused at once: each is a parked request
	share    int

	mu     sync.Mutex
	free   int
	held   map[string]int    // slots held per key
	served map[string]uint64 // when (tick) each waiting or holding key was last given a slot
	tick   uint64
	queue  []*waiter
}

type waiter struct {
	key   string
	ready chan struct{} // closed when the waiter is given a slot
}

func newGate(slots int, maxWait time.Duration) *gate {
	slots = max(slots, 1)
	return &gate{
		maxWait:  maxWait,
		maxQueue: 256 * slots,
		share:    max(1, slots/4),
		free:     slots,
		held:     make(map[string]int),
		served:   make(map[string]uint64),
	}
}

// acquire takes a slot for key, waiting up to maxWait. It fails with
// ErrBusy when no slot came in time (or too many are waiting), and with the
// context's error when the caller gives up.
func (g *gate) acquire(ctx context.Context, key string) (release func(), err error) {
	g.mu.Lock()
	if g.free > 0 && len(g.queue) == 0 {
		g.grantLocked(key)
		g.mu.Unlock()
		return func() { g.release(key) }, nil
	}
	if len(g.queue) >= g.maxQueue {
		g.mu.Unlock()
		return nil, ErrBusy
	}
	w := &waiter{key: key, ready: make(chan struct{})}
	g.queue = append(g.queue, w)
	g.mu.Unlock()

	timer := time.NewTimer(g.maxWait)
	defer timer.Stop()
	select {
	case <-w.ready:
		return func() { g.release(key) }, nil
	case <-timer.C:
		err = ErrBusy
	case <-ctx.Done():
		err = ctx.Err()
	}
	g.mu.Lock()
	if i := slices.Index(g.queue, w); i >= 0 {
		g.queue = slices.Delete(g.queue, i, i+1)
		g.forgetLocked(key)
		g.mu.Unlock()
		return nil, err
	}
	g.mu.Unlock()
	// The slot came just as the wait ended: hand it on.
	g.release(key)
	return nil, err
}

// grantLocked gives a slot to key. g.mu must be held.
func (g *gate) grantLocked(key string) {
	g.free--
	g.held[key]++
	g.tick++
	g.served[key] = g.tick
}

// release returns key's slot and hands free slots to the best waiters.
func (g *gate) release(key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.free++
	if g.held[key]--; g.held[key] <= 0 {
		delete(g.held, key)
	}
	for g.free > 0 && len(g.queue) > 0 {
		i := g.nextLocked()
		w := g.queue[i]
		g.queue = slices.Delete(g.queue, i, i+1)
		g.grantLocked(w.key)
		close(w.ready)
	}
	g.forgetLocked(key)
}

// nextLocked returns the index of the waiter to serve next: first one whose
// key holds less than its share, then the fewest slots held, then the key
// served longest ago, then the first to come. g.mu must be held.
func (g *gate) nextLocked() int {
	best := 0
	for i := 1; i < len(g.queue); i++ {
		if g.before(g.queue[i].key, g.queue[best].key) {
			best = i
		}
	}
	return best
}

// before reports whether a waiter of key a goes before one of key b.
func (g *gate) before(a, b string) bool {
	overA, overB := g.held[a] >= g.share, g.held[b] >= g.share
	switch {
	case overA != overB:
		return overB
	case g.held[a] != g.held[b]:
		return g.held[a] < g.held[b]
	default:
		return g.served[a] < g.served[b] // strictly earlier: ties keep arrival order
	}
}

// forgetLocked drops what the gate remembers of key once it neither holds
// nor waits, so the maps hold only active clients. g.mu must be held.
func (g *gate) forgetLocked(key string) {
	if g.held[key] > 0 || slices.ContainsFunc(g.queue, func(w *waiter) bool { return w.key == key }) {
		return
	}
	delete(g.served, key)
}
