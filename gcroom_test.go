package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
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
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	defer hc.CloseIdleConnections()
	// debugAddr is the address of the debug listener of p.
	debugAddr := func(t *testing.T, p *proc) string {
		t.Helper()
		m := debugListenRE.FindStringSubmatch(p.stderr.String())
		if m == nil {
			t.Fatalf("no debug listener in the log:\n%s", p.stderr.String())
		}
		return m[1]
	}
	read := func(t *testing.T, p *proc) memstats {
		t.Helper()
		resp, err := hc.Get("http://" + debugAddr(t, p) + "/debug/vars")
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
		body := []byte(`{"email":"` + strings.Repeat("a", 512<<10))
		before = read(t, p)
		for after = before; after.TotalAlloc-before.TotalAlloc < n; after = read(t, p) {
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
	// settle has the idle server collect three times, a moment apart,
	// and returns its statistics after.
	settle := func(t *testing.T, p *proc) memstats {
		t.Helper()
		for range 3 {
			resp, err := hc.Get("http://" + debugAddr(t, p) + "/debug/pprof/heap?gc=1")
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			time.Sleep(50 * time.Millisecond)
		}
		return read(t, p)
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
		// Once the server is idle and has collected (a heap profile with
		// gc=1 runs a collection), and the setting has followed (it comes
		// one cycle late, so after a second and a third), the goal is the
		// live heap (no more than the heap in use after it) and the room
		// above it.
		settled := settle(t, p)
		t.Logf("idle: heap %d KiB, next collection at %d KiB", settled.HeapAlloc>>10, settled.NextGC>>10)
		if settled.NextGC < gcRoom-MiB || settled.NextGC > settled.HeapAlloc+gcRoom+MiB {
			t.Errorf("idle, next collection at %d bytes with %d in use, want the room of %d above it", settled.NextGC, settled.HeapAlloc, gcRoom)
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
