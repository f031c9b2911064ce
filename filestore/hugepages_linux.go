package filestore

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// adviseHugePages asks the kernel for transparent huge pages for the next
// n bytes of heap the process allocates, when it would not give them
// unasked: the Go heap about to hold a large snapshot.
//
// Loading a snapshot of a million sessions builds a heap of about 550 MiB
// that is nearly all live, reached in random order (maps of a million
// entries, records, strings). In 4 KiB pages it took 140,000 page faults,
// a quarter of the load's CPU in the kernel, and many more of its
// user-space cycles in TLB misses: with the same heap in 2 MiB pages the
// load took half the time. Many Linux hosts give huge pages only to memory
// advised MADV_HUGEPAGE (transparent_hugepage set to madvise, the default
// of several distributions), and the Go runtime never advises its heap. It
// maps the heap a few MiB at a time as it grows, each mapping without the
// advice, so this function makes the heap grow by n at once: it allocates
// n bytes, which the runtime maps and nothing touches, advises them, and
// drops them with a collection, cheap while the heap is small. The runtime
// hands out its lowest free pages first, so the load's records go into
// that advised range, and the pages are faulted in 2 MiB at a time as
// first touched.
//
// It is for a store being opened, while the heap is small, and only where
// the kernel is in madvise mode: with huge pages always given, or never,
// there is nothing to ask. GODEBUG=disablethp=1, the runtime's own switch
// against huge pages for the heap, turns it off. The range stays advised
// for the life of the process, which is why the runtime itself stopped
// advising its heap: a fault there may wait for the kernel to compact
// memory into a huge page (defrag set to madvise, the default) and a
// huge page is resident as a whole. Here the range is about what the
// loaded state fills anyway, and the peak RSS of a load of a million
// sessions was the same either way.
func adviseHugePages(n int64) {
	if n <= 0 || hugePagesDisabled(os.Getenv("GODEBUG")) || !hugePagesWhenAdvised() {
		return
	}
	ghost := make([]byte, n)
	_ = syscall.Madvise(ghost, syscall.MADV_HUGEPAGE) // best effort: an old kernel may refuse
	ghost = nil
	runtime.GC()
}

// thpEnabled is the file that says when the kernel gives transparent huge
// pages: "always [madvise] never", the current mode in brackets.
const thpEnabled = "/sys/kernel/mm/transparent_hugepage/enabled"

// hugePagesWhenAdvised reports whether the kernel gives transparent huge
// pages to advised memory only.
func hugePagesWhenAdvised() bool {
	mode, err := os.ReadFile(thpEnabled)
	return err == nil && strings.Contains(string(mode), "[madvise]")
}

// hugePagesDisabled reports whether godebug, the GODEBUG environment
// variable, sets disablethp as the runtime reads it: the fields between
// commas as they are, the last valid setting winning, any integer but 0
// turning huge pages off. (A //go:debug or go.mod godebug setting would not
// be seen; corkboard has none.)
func hugePagesDisabled(godebug string) bool {
	off := false
	for field := range strings.SplitSeq(godebug, ",") {
		if value, ok := strings.CutPrefix(field, "disablethp="); ok {
			if n, err := strconv.ParseInt(value, 10, 32); err == nil {
				off = n != 0
			}
		}
	}
	return off
}
