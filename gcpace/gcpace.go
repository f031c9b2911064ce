// Package gcpace owns GOGC, the setting that decides how far the heap may
// grow between two garbage collections. The setting is the process's, and
// two parts of corkboard want it changed for a while: a file store's load
// of a large snapshot (AtLeast) and a server under load (Room). Each asks
// here, and the collector gets the largest of what is asked and of the
// setting the process started with.
//
// Room is for a small live heap. The collector starts a cycle once the
// heap has grown by GOGC percent of what the last cycle found live, and at
// the default of 100 never sooner than at 4 MiB. A corkboard server's live
// heap is often a few MiB (2-3 MiB under the load driver), while a card
// move allocates about 25 KB and a refresh a few KB: at 6,000 moves a
// second the collector ran about 55 cycles a second, each stopping every
// goroutine twice and taking a share of the CPU from the requests. Room
// makes every cycle leave a fixed amount of room for new allocation, so the
// cost is a bounded amount of memory (the room) instead of a multiple of
// the live heap: once the live heap is larger than the room, it asks for
// nothing beyond the setting the process started with.
//
// It imports nothing of corkboard.
package gcpace

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"sync"
)

// heapMinimum is the runtime's smallest heap goal at GOGC=100, which it
// scales with GOGC (runtime/mgcpacer.go, defaultHeapMinimum).
const heapMinimum = 4 << 20

// maxPercent bounds what Room asks for, for a live heap of almost nothing.
const maxPercent = 100_000

var pace struct {
	sync.Mutex
	touched bool     // base is known
	base    int      // GOGC before this package first set it; < 0 is off
	current int      // what the collector has now, once touched
	holds   []int    // AtLeast's percents in force
	rooms   []uint64 // Room's byte counts in force
	armed   bool     // a sentinel waits for the next cycle
	heap    [len(measured)]metrics.Sample
}

// AtLeast holds GOGC at percent or above until release is called: the
// collector then gets the largest of the holds, the rooms and the setting
// the process had before. With the collector off (GOGC=off), it changes
// nothing. Holds may overlap; release is idempotent.
func AtLeast(percent int) (release func()) {
	pace.Lock()
	defer pace.Unlock()
	pace.holds = append(pace.holds, percent)
	apply()
	var once sync.Once
	return func() {
		once.Do(func() {
			pace.Lock()
			defer pace.Unlock()
			i := slices.Index(pace.holds, percent)
			pace.holds = slices.Delete(pace.holds, i, i+1)
			apply()
		})
	}
}

// Room makes every garbage collection leave at least bytes of room for
// new allocation before the next, however small the live heap is, until
// stop is called: after each cycle GOGC is set from the live heap the
// cycle measured, so that the next cycle starts once the heap has grown by
// bytes, or by the process's own setting if that is more. The heap then
// peaks at about the live heap plus bytes (or the process's setting's
// peak, when higher); a memory limit (GOMEMLIMIT) still applies.
//
// An operator's choice comes first: when the environment sets GOGC, Room
// changes nothing and reports false. Rooms may overlap (the largest
// counts); stop is idempotent.
func Room(bytes uint64) (stop func(), applied bool) {
	if os.Getenv("GOGC") != "" || bytes == 0 {
		return func() {}, false
	}
	pace.Lock()
	defer pace.Unlock()
	pace.rooms = append(pace.rooms, bytes)
	apply()
	if !pace.armed {
		pace.armed = true
		arm()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			pace.Lock()
			defer pace.Unlock()
			i := slices.Index(pace.rooms, bytes)
			pace.rooms = slices.Delete(pace.rooms, i, i+1)
			apply()
		})
	}, true
}

// sentinel is an object made only to become garbage: its cleanup runs
// after the cycle that finds it unreachable. It is 32 bytes, past the
// tiny allocator, which may keep a small object alive with its neighbours.
type sentinel [32]byte

// arm makes the next cycle call cycled.
func arm() {
	runtime.AddCleanup(new(sentinel), func(struct{}) { cycled() }, struct{}{})
}

// cycled runs after a garbage collection while a room is in force: it
// sets GOGC from the live heap that cycle measured, and waits for the
// next cycle.
func cycled() {
	pace.Lock()
	defer pace.Unlock()
	apply()
	if pace.armed = len(pace.rooms) > 0; pace.armed {
		arm()
	}
}

// apply gives the collector the largest of the base, the holds and the
// percent the largest room needs on the heap the last cycle measured. The
// caller holds pace's lock.
func apply() {
	if !pace.touched {
		pace.base = debug.SetGCPercent(100)
		debug.SetGCPercent(pace.base)
		pace.current = pace.base
		pace.touched = true
		for i, name := range measured {
			pace.heap[i].Name = name
		}
	}
	if pace.base < 0 {
		return // the collector is off: nothing to pace
	}
	want := pace.base
	for _, p := range pace.holds {
		want = max(want, p)
	}
	if len(pace.rooms) > 0 {
		metrics.Read(pace.heap[:])
		var n [len(measured)]uint64
		for i, s := range pace.heap {
			if s.Value.Kind() == metrics.KindUint64 {
				n[i] = s.Value.Uint64()
			}
		}
		want = max(want, roomPercent(n[0], n[1]+n[2], slices.Max(pace.rooms)))
	}
	if want != pace.current {
		debug.SetGCPercent(want)
		pace.current = want
	}
}

// measured are the runtime's figures of the last cycle that roomPercent
// needs: the live heap, then the stacks and the globals it scanned, which
// the runtime counts with the live heap when it applies GOGC.
var measured = [...]string{"/gc/heap/live:bytes", "/gc/scan/stack:bytes", "/gc/scan/globals:bytes"}

// roomPercent is the GOGC at which the heap goal after a cycle that found
// live bytes of live heap, and scanned other bytes of stacks and globals,
// is live+room. The runtime's goal is the larger of
// live+(live+other)×GOGC/100 and heapMinimum×GOGC/100, so the percent is
// the smaller of what each needs to reach live+room (rounded down: the
// goal is at most live+room). Before the first cycle (nothing measured),
// the minimum alone answers.
func roomPercent(live, other, room uint64) int {
	p := 100 * (live + room) / heapMinimum
	if live+other > 0 {
		p = min(p, 100*room/(live+other))
	}
	return int(min(p, maxPercent))
}
