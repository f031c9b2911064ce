package gcpace

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

// These tests change the process's GOGC, so none runs in parallel; each
// leaves it as it found it, failed or not.

// atDefault starts a test that needs the collector at its default
// setting and no GOGC in the environment (Room leaves the operator's
// alone), and returns that setting, 100. A runner's GOGC of 300 or off
// would make such a test fail for the wrong reason: it is skipped.
func atDefault(t *testing.T) int {
	t.Helper()
	t.Setenv("GOGC", "")
	if got := gogc(t); got != 100 {
		t.Skipf("GOGC is %d here, not the default", got)
	}
	return 100
}

// gogc is the collector's GOGC now.
func gogc(t *testing.T) int {
	t.Helper()
	return int(int32(readUint64(t, "/gc/gogc:percent"))) // off is -1
}

// readUint64 reads one of the runtime's uint64 metrics.
func readUint64(t *testing.T, name string) uint64 {
	t.Helper()
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		t.Fatalf("the runtime does not report %s", name)
	}
	return s[0].Value.Uint64()
}

// goal is the runtime's heap goal for percent p after a cycle that found
// live and other bytes (runtime/mgcpacer.go: the GOGC goal, never below
// the minimum, which GOGC scales).
func goal(live, other uint64, p int) uint64 {
	return max(heapMinimum*uint64(p)/100, live+(live+other)*uint64(p)/100)
}

func TestRoomPercent(t *testing.T) {
	const MiB = 1 << 20
	for _, live := range []uint64{0, 1, 100 << 10, MiB, 3 * MiB, 4 * MiB, 16 * MiB, 31 * MiB, 100 * MiB, 400 * MiB, 8 << 30} {
		for _, other := range []uint64{0, 64 << 10, 2 * MiB} {
			for _, room := range []uint64{MiB, 32 * MiB, 64 * MiB, 1 << 30} {
				p := roomPercent(live, other, room)
				g := goal(live, other, p)
				// Rounding the percent down costs at most a hundredth of
				// what it multiplies.
				slack := (live+other+heapMinimum)/100 + 1
				if g > live+room || g+slack < live+room {
					t.Errorf("live %d, other %d, room %d: GOGC %d gives a goal of %d, want %d (less at most %d)",
						live, other, room, p, g, live+room, slack)
				}
			}
		}
	}
	// The cases the package is for, worked by hand: a server's live heap
	// of 3 MiB is collected every 32 MiB (GOGC 875, the minimum's 35 MiB),
	// and a heap of 400 MiB asks for less than the default.
	if p := roomPercent(3<<20, 0, 32<<20); p != 875 {
		t.Errorf("3 MiB live, 32 MiB room: GOGC %d, want 875", p)
	}
	if p := roomPercent(400<<20, 0, 32<<20); p != 8 {
		t.Errorf("400 MiB live, 32 MiB room: GOGC %d, want 8", p)
	}
}

// cycles allocates n bytes of garbage in 64 KiB pieces and returns the
// garbage collections that ran meanwhile.
func cycles(t *testing.T, n int) uint64 {
	t.Helper()
	before := readUint64(t, "/gc/cycles/total:gc-cycles")
	for range n / (64 << 10) {
		sink = make([]byte, 64<<10)
	}
	sink = nil
	return readUint64(t, "/gc/cycles/total:gc-cycles") - before
}

var sink []byte

// waitFor polls cond until it holds, for the cleanup that runs after a
// cycle, which runs on a goroutine of its own.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s; GOGC is %d", what, gogc(t))
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRoomSparesCollections(t *testing.T) {
	base := atDefault(t)
	const garbage, room = 512 << 20, 32 << 20
	runtime.GC()
	without := cycles(t, garbage)

	stop, applied := Room(room)
	t.Cleanup(stop)
	if !applied {
		t.Fatal("Room was not applied with GOGC unset")
	}
	runtime.GC() // a cycle measures the live heap for the first setting
	waitFor(t, "the cleanup after a cycle", func() bool { return gogc(t) > base })
	with := cycles(t, garbage)
	// Once the setting has followed the last cycle (it comes one cycle
	// late: a live heap that grew meets the previous setting first), the
	// heap goal is the live heap and the room, and no more.
	var live, g uint64
	waitFor(t, "the setting of the last cycle", func() bool {
		l := readUint64(t, "/gc/heap/live:bytes")
		other := readUint64(t, "/gc/scan/stack:bytes") + readUint64(t, "/gc/scan/globals:bytes")
		live, g = l, readUint64(t, "/gc/heap/goal:bytes")
		return gogc(t) == max(base, roomPercent(l, other, room))
	})
	stop()

	t.Logf("%d MiB of garbage: %d collections at GOGC %d, %d with a room of %d MiB (live heap %d KiB, goal %d KiB)",
		garbage>>20, without, base, with, room>>20, live>>10, g>>10)
	// The runtime starts a cycle somewhat before the goal, so that it
	// ends by then: at least half the room is allocated between two.
	if want := uint64(garbage/(room/2) + 2); with > want {
		t.Errorf("with the room: %d collections, want at most %d", with, want)
	}
	// Without the room a small heap is collected every 4 MiB or so (131
	// times here, in a test run of its own); what an earlier test left
	// in the heap can make that fewer, never fewer than with the room.
	if with >= without {
		t.Errorf("with the room: %d collections, against %d without: want fewer", with, without)
	}
	if g > live+room+(1<<20) {
		t.Errorf("heap goal %d with %d live: more than the room of %d above it", g, live, room)
	}
	if got := gogc(t); got != base {
		t.Errorf("after stop, GOGC is %d, want %d as before", got, base)
	}
}

func TestRoomFollowsTheLiveHeap(t *testing.T) {
	base := atDefault(t)
	stop, _ := Room(32 << 20)
	t.Cleanup(stop)
	waitFor(t, "a small heap's room", func() bool { return gogc(t) > 400 })

	// A live heap of 128 MiB needs no room beyond the default's.
	held := make([][]byte, 128)
	for i := range held {
		held[i] = make([]byte, 1<<20)
	}
	waitFor(t, "the setting of a large live heap", func() bool { return gogc(t) == base })
	runtime.KeepAlive(held)
	held = nil

	waitFor(t, "the small heap's room again", func() bool { return gogc(t) > 400 })
	stop()
	if got := gogc(t); got != base {
		t.Errorf("after stop, GOGC is %d, want %d", got, base)
	}
}

func TestHoldsAndRooms(t *testing.T) {
	base := atDefault(t)
	release := AtLeast(400)
	t.Cleanup(release)
	if got := gogc(t); got != 400 {
		t.Fatalf("with a hold of 400: GOGC %d", got)
	}
	again := AtLeast(200)
	t.Cleanup(again)
	again()
	again() // a second release changes nothing
	if got := gogc(t); got != 400 {
		t.Fatalf("after releasing a hold of 200 twice, beside one of 400: GOGC %d", got)
	}

	runtime.GC()
	stop, _ := Room(64 << 20)
	t.Cleanup(stop)
	roomed := gogc(t)
	if roomed <= 400 {
		t.Errorf("a room of 64 MiB on a small heap beside a hold of 400: GOGC %d, want more", roomed)
	}
	release()
	release()
	if got := gogc(t); got != roomed {
		t.Errorf("after the hold's release, GOGC %d, want the room's %d", got, roomed)
	}
	stop()
	stop()
	if got := gogc(t); got != base {
		t.Errorf("after both ended, GOGC %d, want %d as before", got, base)
	}
}

func TestRoomLeavesTheOperatorsGOGC(t *testing.T) {
	t.Setenv("GOGC", "150")
	before := gogc(t)
	stop, applied := Room(32 << 20)
	t.Cleanup(stop)
	if applied {
		t.Error("Room applied although the environment sets GOGC")
	}
	runtime.GC()
	if got := gogc(t); got != before {
		t.Errorf("GOGC %d, want %d as it was", got, before)
	}
}

// TestOwnSettingFollowsSetGCPercent: a setting made outside this package
// after it first set one (debug.SetGCPercent) becomes the process's own:
// a hold does not turn a collector switched off back on, and a release
// puts back the new setting, not the one from before.
func TestOwnSettingFollowsSetGCPercent(t *testing.T) {
	base := atDefault(t)
	AtLeast(200)() // the package has set GOGC once
	t.Cleanup(func() { debug.SetGCPercent(base) })

	debug.SetGCPercent(-1)
	release := AtLeast(400)
	t.Cleanup(release)
	if got := gogc(t); got != -1 {
		t.Errorf("a hold of 400 with the collector switched off: GOGC %d, want it off (-1)", got)
	}
	release()

	debug.SetGCPercent(150)
	release = AtLeast(400)
	t.Cleanup(release)
	if got := gogc(t); got != 400 {
		t.Errorf("a hold of 400 over a setting of 150: GOGC %d", got)
	}
	release()
	if got := gogc(t); got != 150 {
		t.Errorf("after the release, GOGC %d, want the 150 set outside", got)
	}
}
