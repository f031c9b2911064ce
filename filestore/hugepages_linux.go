package filestore

import (
	"os"
	"runtime"
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
// load took half the time. Most Linux hosts give huge pages only to
// memory advised MADV_HUGEPAGE (transparent_hugepage set to madvise, the
// default of several distributions), and the Go runtime never advises its
// heap. It maps the heap a few MiB at a time as it grows, each mapping
// without the advice, so this function makes the heap grow by n at once:
// it allocates n bytes, which the runtime maps and nothing touches,
// advises them, and drops them with a collection (cheap before a load,
// while the heap is small). The runtime hands out its lowest free pages
// first, so the load's records go into that advised range, and the pages
// are faulted in 2 MiB at a time as first touched.
//
// It is advice: nothing changes if the kernel has huge pages disabled or
// refuses; GODEBUG=disablethp=1, the runtime's own switch against huge
// pages for the heap, turns it off. Peak RSS is about the same (a huge
// page is faulted in only where the heap reaches).
func adviseHugePages(n int64) {
	if n <= 0 || hugePagesDisabled(os.Getenv("GODEBUG")) {
		return
	}
	ghost := make([]byte, n)
	_ = syscall.Madvise(ghost, syscall.MADV_HUGEPAGE) // best effort: an old kernel may refuse
	ghost = nil
	runtime.GC()
}

// hugePagesDisabled reports whether godebug, a GODEBUG value, sets
// disablethp=1 (the last setting of a key wins, as in the runtime).
func hugePagesDisabled(godebug string) bool {
	off := false
	for kv := range strings.SplitSeq(godebug, ",") {
		if k, v, ok := strings.Cut(strings.TrimSpace(kv), "="); ok && k == "disablethp" {
			off = v == "1"
		}
	}
	return off
}
