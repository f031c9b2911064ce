package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestProcessLeavesRoomForGarbage runs the real binary: a server leaves
// gcRoom for new allocation between two collections (gcpace.Room), so its
// heap goal is the live heap and the room, where the runtime's default
// would collect every 4 MiB; with GOGC in its environment it keeps the
// operator's setting and says so.
func TestProcessLeavesRoomForGarbage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	type memstats struct {
		HeapAlloc, NextGC, TotalAlloc uint64
		NumGC                         uint32
	}
	read := func(t *testing.T, hc *http.Client, debugAddr string) memstats {
		t.Helper()
		resp, err := hc.Get("http://" + debugAddr + "/debug/vars")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var vars struct{ Memstats memstats }
		if err := json.NewDecoder(resp.Body).Decode(&vars); err != nil {
			t.Fatal(err)
		}
		return vars.Memstats
	}
	// garbage makes the server allocate at least n bytes: logins whose
	// body, half a MiB of an unfinished string, the server reads whole
	// before it answers 400. It returns the statistics before and after.
	garbage := func(t *testing.T, p *proc, n uint64) (before, after memstats) {
		t.Helper()
		m := regexp.MustCompile(`msg="serving profiles and counters" addr=(\S+)`).FindStringSubmatch(p.stderr.String())
		if m == nil {
			t.Fatalf("no debug listener in the log:\n%s", p.stderr.String())
		}
		hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
		defer hc.CloseIdleConnections()
		body := []byte(`{"email":"` + strings.Repeat("a", 512<<10))
		before = read(t, hc, m[1])
		for after = before; after.TotalAlloc-before.TotalAlloc < n; after = read(t, hc, m[1]) {
			var wg sync.WaitGroup
			failed := make(chan string, 4)
			for range 4 {
				wg.Go(func() {
					for range 8 {
						resp, err := hc.Post(p.URL+"/api/auth/login", "application/json", bytes.NewReader(body))
						if err != nil {
							failed <- err.Error()
							return
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != http.StatusBadRequest {
							failed <- fmt.Sprintf("POST /api/auth/login of an unfinished body: %d, want 400", resp.StatusCode)
							return
						}
					}
				})
			}
			wg.Wait()
			close(failed)
			if msg, ok := <-failed; ok {
				t.Fatal(msg)
			}
		}
		return before, after
	}
	const MiB = 1 << 20
	const allocated = 4 * gcRoom

	t.Run("default", func(t *testing.T) {
		p := startProcess(t, nil, map[string]string{"DATA_DIR": t.TempDir(), "DEBUG_ADDR": "127.0.0.1:0"})
		if !strings.Contains(p.stderr.String(), "gc_room=32MiB") {
			t.Errorf("the listening line does not give the room:\n%s", p.stderr.String())
		}
		before, after := garbage(t, p, allocated)
		n, cycles := after.TotalAlloc-before.TotalAlloc, uint64(after.NumGC-before.NumGC)
		t.Logf("%d MiB allocated, %d collections; heap %d KiB, next collection at %d KiB",
			n>>20, cycles, after.HeapAlloc>>10, after.NextGC>>10)
		// A cycle starts somewhat before its goal: at least half the room
		// is allocated between two.
		if cycles == 0 || cycles > n/(gcRoom/2)+1 {
			t.Errorf("%d collections for %d MiB allocated, want 1 to %d: about one every %d MiB", cycles, n>>20, n/(gcRoom/2)+1, gcRoom>>20)
		}
		// Whatever the live heap, the goal is at least the room, and at
		// most the room above the heap in use now.
		if after.NextGC < gcRoom-MiB || after.NextGC > after.HeapAlloc+gcRoom+MiB {
			t.Errorf("next collection at %d bytes with %d in use, want the room of %d above the live heap", after.NextGC, after.HeapAlloc, gcRoom)
		}
	})
	t.Run("GOGC set", func(t *testing.T) {
		p := startProcess(t, nil, map[string]string{"DATA_DIR": t.TempDir(), "DEBUG_ADDR": "127.0.0.1:0", "GOGC": "100"})
		if !strings.Contains(p.stderr.String(), `gc_room="GOGC from the environment"`) {
			t.Errorf("the listening line does not say GOGC is the environment's:\n%s", p.stderr.String())
		}
		before, after := garbage(t, p, allocated)
		n, cycles := after.TotalAlloc-before.TotalAlloc, uint64(after.NumGC-before.NumGC)
		t.Logf("%d MiB allocated, %d collections; heap %d KiB, next collection at %d KiB",
			n>>20, cycles, after.HeapAlloc>>10, after.NextGC>>10)
		// At GOGC=100 a heap of a few MiB is collected every few MiB.
		if cycles < n/(gcRoom/4) {
			t.Errorf("%d collections for %d MiB allocated under GOGC=100, want at least %d: the room was applied", cycles, n>>20, n/(gcRoom/4))
		}
	})
}
