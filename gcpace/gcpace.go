// Package gcpace owns GOGC, the setting that decides how far the heap may
// grow between two garbage collections. The setting is the process's, and
// two parts of corkboard want it changed for a while: a file store's load
// of a large snapshot (AtLeast) and a server under load (Room). Each asks
// here, and the collector gets the largest of what is asked and of the
// process's own setting: GOGC as the environment or the last
// debug.SetGCPercent outside this package left it.
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
// the live heap: once the live heap is larger than the room (at the
// default of 100), it asks for nothing beyond the process's own setting.
//
// The setting follows the live heap one cycle late: it is made from what
// a cycle measured, by a cleanup that runs once that cycle's sweep is
// done, and until then the runtime pairs the new live heap with the
// setting made for the one before. A live heap that grows between two
// cycles from a few MiB to a few hundred (a snapshot loaded while the
// server runs) may therefore get a goal of up to about 10× itself, for
// that one cycle, before the room's setting falls back to the default.
//
// It imports nothing of corkboard.
package gcpace

import (
	"math"
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

// maxPercent bounds what Room asks for, whatever the room.
const maxPercent = 100_000

var pace = struct {
	sync.Mutex
	base    int      // the process's own setting; < 0 is off
	current int      // what the collector had when this package last looked
	holds   []int    // AtLeast's percents in force
	rooms   []uint64 // Room's byte counts in force
	armed   bool     // a sentinel waits for the next cycle
	read    [4]metrics.Sample
}{
	current: math.MinInt, // no setting: the first look adopts the runtime's
	read: [4]metrics.Sample{
		{Name: "/gc/gogc:percent"},
		// What roomPercent needs of the last cycle: the live heap, then
		// the stacks and the globals it scanned, which the runtime counts
		// with the live heap when it applies GOGC.
		{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"},
	},
}

// AtLeast holds GOGC at percent or above until release is called: the
// collector then gets the largest of the holds, the rooms and the
// process's own setting. With the collector off (GOGC=off), it changes
// nothing. Holds may overlap; release is idempotent.
func AtLeast(percent int) (release func()) {
	pace.Lock()
	defer pace.Unlock()
	pace.holds = append(pace.holds, percent)
	apply()
	return withdrawal(&pace.holds, percent)
}

// Room makes every garbage collection leave about bytes of room for new
// allocation before the next, however small the live heap is, until stop
// is called: after nearly every cycle (see sentinel) GOGC is set from the
// live heap the cycle measured, so that the heap goal of the next is the
// live heap plus bytes (rounded down), or what the process's own setting
// gives if that is more.
// The runtime starts the next cycle somewhat before the goal, so that it
// ends by then. The heap then peaks at about the live heap plus bytes,
// except for the one cycle after a jump of the live heap (see the package
// comment); a memory limit (GOMEMLIMIT) still applies.
//
// An operator's choice comes first: when the environment sets GOGC, Room
// changes nothing and reports false; when the collector is off, it
// changes nothing either. Rooms may overlap (the largest counts); stop is
// idempotent.
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
	return withdrawal(&pace.rooms, bytes), true
}

// withdrawal returns the function that takes one v out of *asks, a list of
// pace's, and gives the collector what is left; it does so once, however
// often it is called.
func withdrawal[T comparable](asks *[]T, v T) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			pace.Lock()
			defer pace.Unlock()
			i := slices.Index(*asks, v)
			*asks = slices.Delete(*asks, i, i+1)
			apply()
		})
	}
}

// sentinel is an object made only to become garbage: its cleanup runs
// once the sweep of the cycle that finds it unreachable is done (one made
// while a cycle marks survives that cycle, so that cycle is not paced).
// It is 32 bytes, past the tiny allocator, which may keep a small object
// alive with its neighbours.
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
	metrics.Read(pace.read[:])
	var n [len(pace.read)]uint64
	for i, r := range pace.read {
		if r.Value.Kind() == metrics.KindUint64 {
			n[i] = r.Value.Uint64()
		}
	}
	if now := int(int32(n[0])); now != pace.current { // off is -1
		// Set outside this package since it last looked (or never
		// looked): that is the process's own setting now.
		pace.base, pace.current = now, now
	}
	if pace.base < 0 {
		return // the collector is off: nothing to pace
	}
	want := pace.base
	for _, p := range pace.holds {
		want = max(want, p)
	}
	if len(pace.rooms) > 0 {
		want = max(want, roomPercent(n[1], n[2]+n[3], slices.Max(pace.rooms)))
	}
	if want != pace.current {
		debug.SetGCPercent(want)
		pace.current = want
	}
}

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
