package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/event"

	"corkboard/filestore"
	"corkboard/mongostore"
	"corkboard/mongostore/mongotest"
	"corkboard/web"
)

// benchApp is corkboard's handler over st, with rate
// limits off (as for a load test) and the cheapest bcrypt cost.
func benchApp(b *testing.B, st store) http.Handler {
	return benchAppOf(b, st).routes()
}

// benchAppOf is the app behind benchApp, for benchmarks of one of its
// parts.
func benchAppOf(b *testing.B, st store) *app {
	b.Helper()
	cfg, err := baseConfig(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	cfg.rateLimits = false
	a, err := newApp(cfg, st, storeClock, slog.New(web.RequestIDs(web.NewTextHandler(io.Discard))))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a.close(ctx)
	})
	return a
}

// serveOne runs one request through h and returns the recorder.
func serveOne(h http.Handler, method, path, body string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// BenchmarkForgotPassword times POST /api/auth/forgot-password for an
// address that has an account and for one that has none, alternating the
// two so that both see the same machine, and reports the median of each.
// The answer must not wait for the lookup, the token or the mail, so the
// medians should agree: run with -benchtime 50x (50 requests of each).
func BenchmarkForgotPassword(b *testing.B) {
	st := openBenchFileStore(b, filestore.Options{})
	h := benchApp(b, st)
	benchSignup(b, h, "known")
	var known, unknown []time.Duration
	for i := 0; b.Loop(); i++ {
		for _, req := range []struct {
			email string
			took  *[]time.Duration
		}{{"known@example.com", &known}, {"nobody@example.com", &unknown}} {
			start := time.Now()
			w := serveOne(h, "POST", "/api/auth/forgot-password", `{"email":"`+req.email+`"}`)
			*req.took = append(*req.took, time.Since(start))
			if w.Code != http.StatusAccepted {
				b.Fatalf("forgot-password: %d %s", w.Code, w.Body)
			}
		}
	}
	median := func(d []time.Duration) float64 {
		slices.Sort(d)
		return float64(d[len(d)/2]) / float64(time.Microsecond)
	}
	b.ReportMetric(median(known), "known-median-µs")
	b.ReportMetric(median(unknown), "unknown-median-µs")
}

func benchSignup(b *testing.B, h http.Handler, name string) (access, refresh string) {
	b.Helper()
	w := serveOne(h, "POST", "/api/auth/signup", fmt.Sprintf(`{"username":%q,"email":"%s@example.com","password":"password1","returnRefreshToken":true}`, name, name))
	if w.Code != 201 {
		b.Fatalf("signup %s: %d %s", name, w.Code, w.Body)
	}
	var d authDoc
	json.Unmarshal(w.Body.Bytes(), &d)
	return d.AccessToken, d.RefreshToken
}

func openBenchFileStore(b *testing.B, opts filestore.Options) store {
	b.Helper()
	st, err := filestore.Open(b.TempDir(), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// BenchmarkMe measures GET /api/users/me through the whole handler chain
// (token verification, the session check, the user lookup) on each store.
// On MongoDB it also reports the commands sent per request: the session
// and the user, each found by _id.
func BenchmarkMe(b *testing.B) {
	for _, kind := range benchStores {
		b.Run(kind.name, func(b *testing.B) {
			st, commands := kind.open(b, filestore.Options{})
			h := benchApp(b, st)
			access, _ := benchSignup(b, h, "bench")
			b.ReportAllocs()
			commands.Store(0)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if w := serveOne(h, "GET", "/api/users/me", "", "Authorization", "Bearer "+access); w.Code != 200 {
						b.Fatalf("GET /api/users/me: %d %s", w.Code, w.Body)
					}
				}
			})
			reportCommands(b, kind.name, commands)
		})
	}
}

// reportCommands reports the MongoDB commands per operation.
func reportCommands(b *testing.B, kind string, commands *atomic.Int64) {
	if kind == "mongo" {
		b.ReportMetric(float64(commands.Load())/float64(b.N), "mongo-cmds/op")
	}
}

// benchStore opens a store for a benchmark, with a counter of the MongoDB
// commands it sends (always zero for the file store).
type benchStore struct {
	name string
	open func(b *testing.B, opts filestore.Options) (store, *atomic.Int64)
}

var benchStores = []benchStore{
	{"file", func(b *testing.B, opts filestore.Options) (store, *atomic.Int64) {
		return openBenchFileStore(b, opts), new(atomic.Int64)
	}},
	{"mongo", openBenchMongoStore},
}

// openBenchMongoStore opens a MongoDB store on a fresh database at
// MONGO_URI (skipping without it), counting the commands it sends.
func openBenchMongoStore(b *testing.B, _ filestore.Options) (store, *atomic.Int64) {
	b.Helper()
	uri := mongotest.URI(b)
	commands := new(atomic.Int64)
	monitor := &event.CommandMonitor{Started: func(context.Context, *event.CommandStartedEvent) { commands.Add(1) }}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	st, err := mongostore.Open(ctx, uri, mongotest.NewDatabaseName(b), mongostore.Options{NoTTLIndex: true, Monitor: monitor})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		st.Database().Drop(context.Background())
		st.Close()
	})
	return st, commands
}

// BenchmarkRefresh64 measures refreshes per second with 64 concurrent
// clients, each rotating its own session: on the file store with group
// commit and, as the baseline in the same run, with one fsync per request;
// and on MongoDB, where it also reports the commands per refresh.
func BenchmarkRefresh64(b *testing.B) {
	for _, tc := range []struct {
		name  string
		store benchStore
		opts  filestore.Options
	}{
		{"file-group-commit", benchStores[0], filestore.Options{}},
		{"file-fsync-per-request", benchStores[0], filestore.Options{SyncEachWrite: true}},
		{"mongo", benchStores[1], filestore.Options{}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			st, commands := tc.store.open(b, tc.opts)
			benchRefresh(b, benchApp(b, st), commands)
			reportCommands(b, tc.store.name, commands)
		})
	}
}

// benchRefresh serves h on a loopback port and drives 64 HTTP clients
// (goroutines with their own keep-alive connections), each refreshing its
// own session in a loop, and reports refreshes per second.
func benchRefresh(b *testing.B, h http.Handler, commands *atomic.Int64) {
	// RunParallel starts parallelism × GOMAXPROCS goroutines: 64 or just over.
	procs := runtime.GOMAXPROCS(0)
	parallelism := (64 + procs - 1) / procs
	clients := parallelism * procs
	tokens := make(chan string, clients)
	for i := range clients {
		_, refresh := benchSignup(b, h, fmt.Sprintf("client%02d", i))
		tokens <- refresh
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	var failures atomic.Int64
	b.SetParallelism(parallelism)
	commands.Store(0)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		token := <-tokens
		for pb.Next() {
			resp, err := hc.Post(srv.URL+"/api/auth/refresh", "application/json", strings.NewReader(`{"refreshToken":"`+token+`"}`))
			if err != nil {
				failures.Add(1)
				continue
			}
			var d tokenDoc
			err = json.NewDecoder(resp.Body).Decode(&d)
			resp.Body.Close()
			if resp.StatusCode != 200 || err != nil {
				failures.Add(1)
				continue
			}
			token = d.RefreshToken
		}
		tokens <- token
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failures.Load(); n > 0 {
		b.Fatalf("%d refreshes failed", n)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "refreshes/s")
}

// BenchmarkAuthenticate measures the Authenticate middleware alone, over a
// handler that writes nothing: the access token's verification and the
// session and account lookups that every authenticated route pays.
func BenchmarkAuthenticate(b *testing.B) {
	a := benchAppOf(b, openBenchFileStore(b, filestore.Options{}))
	access, _ := benchSignup(b, a.routes(), "bench")
	h := a.sessions.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if w := serveOne(h, "GET", "/", "", "Authorization", "Bearer "+access); w.Code != http.StatusNoContent {
				b.Fatalf("authenticate: %d %s", w.Code, w.Body)
			}
		}
	})
}
