package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"corkboard/filestore"
	"corkboard/mongostore/mongotest"
	"corkboard/user/usertest"
)

// soakEnv is the variable that turns the soak on and sets its length.
const soakEnv = "CORKBOARD_SOAK"

// TestSoak is the opt-in soak (README "Testing"): for CORKBOARD_SOAK (a
// duration, e.g. 60s) per store, workers over loopback mix every route of
// the route list with bad input, each keeping a model of what it wrote and
// was acknowledged. It requires no 5xx answer at all, every acknowledged
// write read back (during the run, at its end, and after a restart of the
// server on the same data), and a heap that levels off: sampled after a GC
// every few seconds, the mean heap of the last third of the run stays
// within 1.25× plus 4 MiB of the middle third's.
func TestSoak(t *testing.T) {
	v := os.Getenv(soakEnv)
	if v == "" {
		t.Skip(soakEnv + " is not set: run the soak with " + soakEnv + "=60s go test -run TestSoak -v .")
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: want a duration such as 60s", soakEnv, v)
	}
	for _, kind := range []string{"file", "mongo"} {
		t.Run(kind, func(t *testing.T) { soak(t, kind, d) })
	}
}

// soakServer is a server under soak, which the test can restart.
type soakServer struct {
	t    *testing.T
	kind string
	cfg  config
	db   string // the MongoDB database
	st   store
	env  *testEnv
	clk  *clock
}

func (s *soakServer) start() {
	s.t.Helper()
	if s.kind == "file" {
		st, err := filestore.Open(s.cfg.dataDir, filestore.Options{})
		if err != nil {
			s.t.Fatalf("filestore.Open: %v", err)
		}
		s.st = st
	} else {
		s.st = mongotest.OpenDatabase(s.t, s.db)
	}
	s.env = serveEnv(s.t, s.cfg, s.st, s.clk)
}

// restart stops the server as a shutdown would (requests finished, mail
// queue drained, store closed) and starts another on the same data.
func (s *soakServer) restart() {
	s.t.Helper()
	s.env.srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.env.app.close(ctx)
	// A MongoDB store is closed by the cleanup of mongotest, which drops
	// the database with it; the new one opens a client of its own.
	if s.kind == "file" {
		if err := s.st.Close(); err != nil {
			s.t.Fatalf("closing the store: %v", err)
		}
	}
	s.start()
}

// soakStats are the counts of a soak, shared by its workers.
type soakStats struct {
	requests, bad, writes atomic.Int64
	mu                    sync.Mutex
	hits                  map[string]int // per route pattern
	failures              int
}

func soak(t *testing.T, kind string, d time.Duration) {
	s := &soakServer{t: t, kind: kind, clk: newClock()}
	s.cfg = testConfig(t)
	s.cfg.rateLimits = false // every worker comes from 127.0.0.1
	if kind == "mongo" {
		s.db = mongotest.NewDatabaseName(t)
		mongotest.URI(t) // skips without MONGO_URI
		s.cfg.store = "mongo"
	}
	s.start()

	stats := &soakStats{hits: make(map[string]int)}
	const nWorkers = 4
	workers := make([]*soakWorker, nWorkers)
	for i := range workers {
		workers[i] = newSoakWorker(t, s, i, stats)
	}
	for _, w := range workers {
		for _, p := range workers {
			if p != w {
				w.peers = append(w.peers, p.me.id)
			}
		}
	}

	// Heap samples, after a GC, every few seconds.
	var heap []uint64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		every := min(max(d/30, time.Second), 5*time.Second)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
			}
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			heap = append(heap, m.HeapAlloc)
		}
	}()

	start := time.Now()
	end := start.Add(d)
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() {
			for time.Now().Before(end) && !w.stopped() {
				w.step()
			}
		})
	}
	wg.Wait()
	close(stopSampling)
	<-sampled
	took := time.Since(start)

	for _, w := range workers {
		w.check("at the end")
	}
	s.restart()
	for _, w := range workers {
		w.check("after a restart")
	}

	// Every route was taken.
	var missed []string
	for _, rt := range s.env.app.routeList() {
		if stats.hits[rt.pattern] == 0 {
			missed = append(missed, rt.pattern)
		}
	}
	if len(missed) > 0 {
		t.Errorf("routes the soak never took: %v", missed)
	}

	n := stats.requests.Load()
	t.Logf("%s store: %d requests in %v (%.0f req/s), %d of them bad input, %d acknowledged writes, %d routes",
		kind, n, took.Round(time.Second), float64(n)/took.Seconds(), stats.bad.Load(), stats.writes.Load(), len(stats.hits))
	checkHeap(t, heap)
}

// checkHeap fails the test unless the mean heap of the last third of the
// samples stays within 1.25× plus 4 MiB of the middle third's. Means, not
// peaks, and 1.25×: a heap growing in a straight line has peaks in the
// ratio 3:2 at most between the last two thirds, and means of 5:3 at
// most, so that a bound of 1.5× would let a steady leak through. The
// 4 MiB are for the records the soak adds, which the file store keeps in
// memory.
func checkHeap(t *testing.T, heap []uint64) {
	t.Helper()
	if len(heap) < 6 {
		t.Logf("only %d heap samples: too few to judge the heap (run the soak longer)", len(heap))
		return
	}
	third := len(heap) / 3
	mean := func(s []uint64) uint64 {
		var sum uint64
		for _, v := range s {
			sum += v
		}
		return sum / uint64(len(s))
	}
	mid, last := mean(heap[third:2*third]), mean(heap[2*third:])
	const mib = 1 << 20
	t.Logf("heap after GC: first sample %.1f MiB, middle third mean %.1f MiB, last third mean %.1f MiB, last sample %.1f MiB (%d samples)",
		float64(heap[0])/mib, float64(mid)/mib, float64(last)/mib, float64(heap[len(heap)-1])/mib, len(heap))
	if bound := mid*5/4 + 4*mib; last > bound {
		t.Errorf("the heap grows: last third mean %.1f MiB over the bound %.1f MiB (1.25× the middle third's %.1f MiB plus 4 MiB); samples %v",
			float64(last)/mib, float64(bound)/mib, float64(mid)/mib, heap)
	}
}

// soakAccount is an account a worker made, as it last knew it.
type soakAccount struct {
	id, name, password, refresh string
	fullName, pictureURL        string
}

// soakBoard is a board a worker owns, as its last acknowledged write left it.
type soakBoard struct {
	layout      string            // lists, cards and attachments (layoutOf)
	favourite   bool              // as last set
	attachments map[string][]byte // path → the bytes uploaded
	background  string            // backgroundURL
}

// soakWorker is one client of the soak, with its model of what it wrote.
type soakWorker struct {
	t     *testing.T
	s     *soakServer
	n     int
	rnd   *rand.Rand
	stats *soakStats
	seq   int

	me       *soakAccount
	c        *loadClient // logged in as me
	peers    []string    // main accounts of the other workers
	others   []*soakAccount
	gone     []*soakAccount // deleted accounts
	boards   map[string]*soakBoard
	deleted  []string // ids of deleted boards
	pictures [][]byte // small images to upload
	tr       *http.Transport
	trFor    string // the server tr is for
}

func newSoakWorker(t *testing.T, s *soakServer, n int, stats *soakStats) *soakWorker {
	w := &soakWorker{t: t, s: s, n: n, rnd: rand.New(rand.NewPCG(uint64(n), 42)), stats: stats, boards: make(map[string]*soakBoard)}
	for i := range 3 {
		w.pictures = append(w.pictures, usertest.PNG(t, 16+8*i, 16, uint64(n*10+i)))
	}
	w.c = w.client()
	w.me = w.signup(false)
	if w.me == nil {
		t.Fatalf("worker %d could not sign up", n)
	}
	return w
}

// client returns a new client of the current server. The worker's
// clients share one transport per server: a transport per client would
// keep an idle connection per login open to the end, and the heap
// would grow with them (the soak's first finding was its own).
func (w *soakWorker) client() *loadClient {
	c := newLoadClient(w.s.env.srv.URL)
	if w.tr == nil || w.trFor != w.s.env.srv.URL {
		w.tr = w.s.env.srv.Client().Transport.(*http.Transport).Clone()
		w.tr.ExpectContinueTimeout = time.Minute
		w.tr.MaxIdleConnsPerHost = 4
		w.trFor = w.s.env.srv.URL
	}
	c.hc.Transport = w.tr
	return c
}

// stopped reports whether the soak has failed often enough to stop.
func (w *soakWorker) stopped() bool {
	w.stats.mu.Lock()
	defer w.stats.mu.Unlock()
	return w.stats.failures >= 20
}

// fail reports a finding.
func (w *soakWorker) fail(format string, args ...any) {
	w.stats.mu.Lock()
	w.stats.failures++
	w.stats.mu.Unlock()
	w.t.Errorf("worker %d: "+format, append([]any{w.n}, args...)...)
}

// call sends req as c on the route pattern and judges the answer: never a
// 5xx or a transport error, and one of the statuses in want (the first is
// success). It reports whether the answer was want[0].
func (w *soakWorker) call(c *loadClient, pattern string, req request, want ...int) (outcome, bool) {
	w.stats.requests.Add(1)
	w.stats.mu.Lock()
	w.stats.hits[pattern]++
	w.stats.mu.Unlock()
	o := c.send(context.Background(), req)
	switch {
	case o.err != nil:
		w.fail("%s (route %s)", o, pattern)
	case o.status >= 500:
		w.fail("server error: %s (route %s)", o, pattern)
	case len(want) > 0 && !slices.Contains(want, o.status):
		w.fail("%s (route %s); want one of %v", o, pattern, want)
	}
	ok := o.err == nil && len(want) > 0 && o.status == want[0]
	if ok && req.method != "GET" {
		w.stats.writes.Add(1)
	}
	return o, ok
}

// name returns a name no other worker uses.
func (w *soakWorker) name(prefix string) string {
	w.seq++
	return fmt.Sprintf("%s%dx%d", prefix, w.n, w.seq)
}

// signup makes an account, with a picture when picture is set.
func (w *soakWorker) signup(picture bool) *soakAccount {
	a := &soakAccount{name: w.name("u"), password: "password1"}
	req := request{method: "POST", path: "/api/auth/signup", body: map[string]any{
		"username": a.name, "email": a.name + "@example.com", "password": a.password, "returnRefreshToken": true}}
	if picture {
		body, ct := multipartBody(w.t, part{name: "username", data: []byte(a.name)}, part{name: "email", data: []byte(a.name + "@example.com")},
			part{name: "password", data: []byte(a.password)}, part{name: "picture", filename: "p.png", data: w.pictures[w.rnd.IntN(len(w.pictures))]})
		req.body, req.contentType = body, ct
	}
	o, ok := w.call(w.c, "POST /api/auth/signup", req, 201)
	var d authDoc
	if !ok || o.decode(&d) != nil {
		return nil
	}
	a.id, a.refresh, a.pictureURL = d.User.ID, d.RefreshToken, d.User.PictureURL
	if w.me == nil {
		w.c.token = d.AccessToken
	}
	return a
}

// login logs a in on a new client.
func (w *soakWorker) login(a *soakAccount) (*loadClient, authDoc, bool) {
	c := w.client()
	o, ok := w.call(c, "POST /api/auth/login", request{method: "POST", path: "/api/auth/login",
		body: map[string]any{"username": a.name, "password": a.password, "returnRefreshToken": true}}, 200)
	var d authDoc
	if ok && o.decode(&d) == nil {
		c.token = d.AccessToken
		return c, d, true
	}
	return nil, d, false
}

// layoutOf is what of a board its owner's writes decide: title,
// background, lists, cards and attachments, in order.
func layoutOf(b boardDoc) string {
	var s strings.Builder
	fmt.Fprintf(&s, "%q bg=%s", b.Title, b.BackgroundURL)
	for _, l := range b.Lists {
		fmt.Fprintf(&s, " | %s %q:", l.ID, l.Name)
		for _, c := range l.Cards {
			fmt.Fprintf(&s, " %s %q %q", c.ID, c.Title, c.Description)
			for _, a := range c.Attachments {
				fmt.Fprintf(&s, " [%s %s %d]", a.ID, a.Name, a.Size)
			}
		}
	}
	return s.String()
}

// acked records the board an acknowledged write answered with.
func (w *soakWorker) acked(o outcome) *boardDoc {
	var d struct{ Board boardDoc }
	if err := o.decode(&d); err != nil || d.Board.ID == "" {
		w.fail("no board in the answer: %s", o)
		return nil
	}
	if m := w.boards[d.Board.ID]; m != nil {
		m.layout = layoutOf(d.Board)
		m.background = d.Board.BackgroundURL
	}
	return &d.Board
}

// readBoard reads a board of the worker and compares it with the model.
func (w *soakWorker) readBoard(id, when string) *boardDoc {
	o, ok := w.call(w.c, "GET /api/boards/{id}", request{method: "GET", path: "/api/boards/" + id}, 200)
	if !ok {
		return nil
	}
	var d struct{ Board boardDoc }
	if o.decode(&d) != nil {
		w.fail("board %s: %s", id, o)
		return nil
	}
	if got, want := layoutOf(d.Board), w.boards[id].layout; got != want {
		w.fail("lost write %s: board %s reads\n  %s\nbut the last acknowledged write left\n  %s", when, id, got, want)
	}
	return &d.Board
}

// pick returns a random element of s, or the zero value.
func pick[T any](w *soakWorker, s []T) (T, bool) {
	var zero T
	if len(s) == 0 {
		return zero, false
	}
	return s[w.rnd.IntN(len(s))], true
}

// someBoard returns one of the worker's boards, read back (and checked).
func (w *soakWorker) someBoard() (string, *boardDoc) {
	ids := make([]string, 0, len(w.boards))
	for id := range w.boards {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	id, ok := pick(w, ids)
	if !ok {
		return "", nil
	}
	return id, w.readBoard(id, "during the run")
}

// allCards returns every card of b with its list.
func allCards(b *boardDoc) (cards []cardDoc, lists []string) {
	for _, l := range b.Lists {
		for _, c := range l.Cards {
			cards = append(cards, c)
			lists = append(lists, l.ID)
		}
	}
	return cards, lists
}
