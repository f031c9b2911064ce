package filestore

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestHugePagesDisabled(t *testing.T) {
	for godebug, want := range map[string]bool{
		"":                             false,
		"disablethp=1":                 true,
		"disablethp=0":                 false,
		"madvdontneed=1, disablethp=1": true,
		"disablethp=1,disablethp=0":    false,
		"xdisablethp=1":                false,
		"disablethp=10":                false,
	} {
		if got := hugePagesDisabled(godebug); got != want {
			t.Errorf("hugePagesDisabled(%q) = %v, want %v", godebug, got, want)
		}
	}
}

// TestLoadGetsHugePages loads a snapshot of 80 MiB in a child process and
// reads how much of the child's memory is in transparent huge pages: with
// the advice, most of the loaded state; with GODEBUG=disablethp=1, which
// turns it off (and makes the runtime refuse huge pages for the heap even
// where the kernel would give them unasked), none. It is skipped where the
// kernel gives no huge pages at all. Where it gives them to advised memory
// only (madvise), this shows that the advice reaches the heap.
func TestLoadGetsHugePages(t *testing.T) {
	if dir := os.Getenv("FILESTORE_HUGEPAGE_CHILD"); dir != "" {
		s, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		huge, rss := procKB(t, "/proc/self/smaps_rollup", "AnonHugePages:"), procKB(t, "/proc/self/smaps_rollup", "Rss:")
		s.Close()
		fmt.Printf("hugepage-child huge_kb=%d rss_kb=%d\n", huge, rss)
		return
	}
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || bytes.Contains(mode, []byte("[never]")) {
		t.Skipf("transparent huge pages are off here (%q, %v)", bytes.TrimSpace(mode), err)
	}
	if testing.Short() {
		t.Skip("writes an 80 MiB snapshot")
	}
	dir := t.TempDir()
	writeScaleDir(t, dir, 20_000, 200_000, 200)
	if info, err := os.Stat(filepath.Join(dir, snapshotName)); err != nil || info.Size() < relaxGCBytes {
		t.Fatalf("snapshot %v, %v: want one of at least %d bytes, which the load advises", info.Size(), err, relaxGCBytes)
	}
	child := func(godebug string) (huge, rss int64) {
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
		if _, err := fmt.Sscanf(string(out[i:]), "hugepage-child huge_kb=%d rss_kb=%d", &huge, &rss); err != nil {
			t.Fatalf("child figures: %v\n%s", err, out)
		}
		return huge, rss
	}
	huge, rss := child("")
	t.Logf("%s: %d of %d KiB in huge pages with the advice", bytes.TrimSpace(mode), huge, rss)
	if huge < rss/3 {
		t.Errorf("with the advice, %d of %d KiB in huge pages: want at least a third", huge, rss)
	}
	huge, rss = child("disablethp=1")
	t.Logf("%d of %d KiB in huge pages with GODEBUG=disablethp=1", huge, rss)
	if huge > rss/20 {
		t.Errorf("with GODEBUG=disablethp=1, %d of %d KiB in huge pages: want next to none", huge, rss)
	}
}
