package filestore

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/metrics"
	"testing"
)

// TestHugePagesDisabled holds hugePagesDisabled to the runtime's reading
// of GODEBUG (parsegodebug): fields as they are between commas, the last
// valid integer winning, any but 0 meaning off.
func TestHugePagesDisabled(t *testing.T) {
	for godebug, want := range map[string]bool{
		"":                             false,
		"disablethp=1":                 true,
		"disablethp=0":                 false,
		"disablethp=2":                 true,
		"disablethp=-1":                true,
		"madvdontneed=1,disablethp=1":  true,
		"madvdontneed=1, disablethp=1": false, // " disablethp" is another key
		"disablethp=1,disablethp=0":    false,
		"disablethp=0,disablethp=1":    true,
		"disablethp=1,disablethp=x":    true, // not a number: the setting before stays
		"disablethp=x":                 false,
		"xdisablethp=1":                false,
		"disablethp= 1":                false,
	} {
		if got := hugePagesDisabled(godebug); got != want {
			t.Errorf("hugePagesDisabled(%q) = %v, want %v", godebug, got, want)
		}
	}
}

// TestLoadGetsHugePages loads an 80 MiB snapshot in a child process and
// reads how much of the child's memory is in transparent huge pages,
// against the size of its heap: with the advice, most of the loaded state;
// with GODEBUG=disablethp=1, which turns the advice off, none. It runs
// only where the advice does anything, a kernel in madvise mode, and not
// under the race detector, whose own memory and allocations change the
// picture. Where faults in advised memory do not wait for the kernel to
// make a huge page (defrag set to defer or never) the first check is only
// logged: a fragmented machine may then fall back to small pages.
func TestLoadGetsHugePages(t *testing.T) {
	if dir := os.Getenv("FILESTORE_HUGEPAGE_CHILD"); dir != "" {
		s, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		metrics.Read(sample)
		huge := procKB(t, "/proc/self/smaps_rollup", "AnonHugePages:")
		s.Close()
		fmt.Printf("hugepage-child huge_kb=%d heap_kb=%d\n", huge, sample[0].Value.Uint64()>>10)
		return
	}
	mode, err := os.ReadFile(thpEnabled)
	switch {
	case !hugePagesWhenAdvised():
		t.Skipf("the kernel's huge pages are not given to advised memory only (%q, %v): the load asks for none", bytes.TrimSpace(mode), err)
	case raceEnabled:
		t.Skip("the race detector's memory would blur the figures")
	case testing.Short():
		t.Skip("writes an 80 MiB snapshot")
	}
	defrag, _ := os.ReadFile("/sys/kernel/mm/transparent_hugepage/defrag")
	waits := bytes.Contains(defrag, []byte("[always]")) || bytes.Contains(defrag, []byte("madvise]"))
	dir := t.TempDir()
	writeScaleDir(t, dir, 20_000, 200_000, 200)
	if info, err := os.Stat(filepath.Join(dir, snapshotName)); err != nil || info.Size() < relaxGCBytes {
		t.Fatalf("snapshot %v, %v: want one of at least %d bytes, which the load advises", info.Size(), err, relaxGCBytes)
	}
	child := func(godebug string) (huge, heap int64) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestLoadGetsHugePages$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "FILESTORE_HUGEPAGE_CHILD="+dir, "GODEBUG="+godebug)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		i := bytes.Index(out, []byte("hugepage-child "))
		if i < 0 {
			t.Fatalf("child printed no figures:\n%s", out)
		}
		if _, err := fmt.Sscanf(string(out[i:]), "hugepage-child huge_kb=%d heap_kb=%d", &huge, &heap); err != nil {
			t.Fatalf("child figures: %v\n%s", err, out)
		}
		return huge, heap
	}
	huge, heap := child("")
	t.Logf("%s, defrag %s: %d KiB in huge pages with the advice, for a heap of %d KiB", bytes.TrimSpace(mode), bytes.TrimSpace(defrag), huge, heap)
	if huge < heap/2 {
		if waits {
			t.Errorf("with the advice, %d KiB in huge pages for a heap of %d KiB: want at least half", huge, heap)
		} else {
			t.Logf("fewer than half: with this defrag setting a fault may fall back to small pages")
		}
	}
	huge, heap = child("disablethp=1")
	t.Logf("%d KiB in huge pages with GODEBUG=disablethp=1, for a heap of %d KiB", huge, heap)
	if huge > heap/20 {
		t.Errorf("with GODEBUG=disablethp=1, %d KiB in huge pages for a heap of %d KiB: want next to none", huge, heap)
	}

	// In this process: opening the store asks (its collection is the
	// one forced), going back to the files while serving does not.
	forced := func() uint64 {
		sample := []metrics.Sample{{Name: "/gc/cycles/forced:gc-cycles"}}
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	before := forced()
	s := openStore(t, dir, Options{})
	opened := forced()
	s.syncMu.Lock()
	err = s.reload(errors.New("a test's reload"))
	s.syncMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if reloaded := forced(); hugePagesDisabled(os.Getenv("GODEBUG")) {
		t.Logf("GODEBUG turns huge pages off here: no collection to count (%d, %d, %d)", before, opened, reloaded)
	} else if opened != before+1 || reloaded != opened {
		t.Errorf("forced collections: %d before Open, %d after, %d after a reload; want one more after Open, none after the reload", before, opened, reloaded)
	}
}
