package main

import (
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
		HeapAlloc, NextGC uint64
		NumGC             uint32
	}
	// stats drives 8,000 requests (unauthenticated reads, about 40 MiB
	// of garbage in the server, so that it collects past the room too),
	// then reads the memory statistics from the debug listener.
	stats := func(t *testing.T, p *proc) memstats {
		t.Helper()
		debugAddr := regexp.MustCompile(`msg="serving profiles and counters" addr=(\S+)`).FindStringSubmatch(p.stderr.String())
		if debugAddr == nil {
			t.Fatalf("no debug listener in the log:\n%s", p.stderr.String())
		}
		hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
		defer hc.CloseIdleConnections()
		var wg sync.WaitGroup
		failed := make(chan string, 8)
		for range 8 {
			wg.Go(func() {
				for range 1000 {
					resp, err := hc.Get(p.URL + "/api/users/me")
					if err != nil {
						failed <- err.Error()
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusUnauthorized {
						failed <- fmt.Sprintf("GET /api/users/me without a token: %d, want 401", resp.StatusCode)
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
		resp, err := hc.Get("http://" + debugAddr[1] + "/debug/vars")
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
	const MiB = 1 << 20

	t.Run("default", func(t *testing.T) {
		p := startProcess(t, nil, map[string]string{"DATA_DIR": t.TempDir(), "DEBUG_ADDR": "127.0.0.1:0"})
		if !strings.Contains(p.stderr.String(), "gc_room=32MiB") {
			t.Errorf("the listening line does not give the room:\n%s", p.stderr.String())
		}
		m := stats(t, p)
		t.Logf("heap %d KiB, next collection at %d KiB, %d collections", m.HeapAlloc>>10, m.NextGC>>10, m.NumGC)
		if m.NumGC == 0 || m.NumGC > 3 {
			t.Errorf("%d collections for about 40 MiB of garbage, want 1 to 3: one every 32 MiB or so", m.NumGC)
		}
		// Whatever the live heap, the goal is at least the room, and at
		// most the room above the heap in use now.
		if m.NextGC < gcRoom-MiB || m.NextGC > m.HeapAlloc+gcRoom+MiB {
			t.Errorf("next collection at %d bytes with %d in use, want the room of %d above the live heap", m.NextGC, m.HeapAlloc, gcRoom)
		}
	})
	t.Run("GOGC set", func(t *testing.T) {
		p := startProcess(t, nil, map[string]string{"DATA_DIR": t.TempDir(), "DEBUG_ADDR": "127.0.0.1:0", "GOGC": "100"})
		if !strings.Contains(p.stderr.String(), `gc_room="GOGC from the environment"`) {
			t.Errorf("the listening line does not say GOGC is the environment's:\n%s", p.stderr.String())
		}
		m := stats(t, p)
		t.Logf("heap %d KiB, next collection at %d KiB, %d collections", m.HeapAlloc>>10, m.NextGC>>10, m.NumGC)
		if m.NumGC < 4 {
			t.Errorf("%d collections for about 40 MiB of garbage under GOGC=100, want one every 4 MiB or so", m.NumGC)
		}
		if m.NextGC >= gcRoom-MiB {
			t.Errorf("next collection at %d bytes with %d in use under GOGC=100: the room was applied", m.NextGC, m.HeapAlloc)
		}
	})
}
