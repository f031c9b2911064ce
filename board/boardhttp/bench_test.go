package boardhttp_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"corkboard/auth"
	"corkboard/board"
	"corkboard/board/boardhttp"
	"corkboard/filestore"
	"corkboard/objectid"
	"corkboard/user"
)

// BenchmarkBoardHTTP measures, over loopback HTTP with 64 keep-alive
// clients on the file store (fsync on, as served), the two board routes
// the load driver drives, each beside a baseline in the same iteration:
//
//   - board: GET /api/boards/{id} of a board of 500 cards, against
//     bare-board, a plain net/http handler answering the same bytes;
//   - move: PATCH /api/boards/{id}/cards/{cardId} moving a card to another
//     list, against small-write, PUT /api/boards/{id}/favourite on a small
//     board: a small durable write through the same store and the same
//     group commit, which is what the driver's refresh is;
//   - move-minimal: the same move with Prefer: return=minimal, answered
//     204 with no body, against the same small-write.
//
// Every iteration runs a round of each of the four in turn, and times
// each, so that all four meet whatever else the shared machine is doing;
// the ratios are the result. The authentication middleware is left out
// (the caller is put in the request's context): it costs every route the
// same, and is measured by the main package's benchmarks.
func BenchmarkBoardHTTP(b *testing.B) {
	f := newBenchFixture(b)
	const clients, perClient = 64, 8
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
	defer hc.CloseIdleConnections()

	type scenario struct {
		name string
		req  func(rng *rand.Rand) (*http.Request, int)
	}
	get := func(path string) func(*rand.Rand) (*http.Request, int) {
		return func(*rand.Rand) (*http.Request, int) {
			r, _ := http.NewRequest("GET", f.srv.URL+path, nil)
			return r, http.StatusOK
		}
	}
	scenarios := []scenario{
		{"bare-board", get("/bare")},
		{"board", get("/api/boards/" + f.big.ID)},
		{"small-write", func(rng *rand.Rand) (*http.Request, int) {
			body := fmt.Sprintf(`{"favourite":%t}`, rng.IntN(2) == 0)
			r, _ := http.NewRequest("PUT", f.srv.URL+"/api/boards/"+f.small.ID+"/favourite", strings.NewReader(body))
			return r, http.StatusOK
		}},
		{"move", func(rng *rand.Rand) (*http.Request, int) {
			card := f.cards[rng.IntN(len(f.cards))]
			list := f.lists[rng.IntN(len(f.lists))]
			body := fmt.Sprintf(`{"listId":%q,"position":%d}`, list, rng.IntN(len(f.cards)/len(f.lists)+1))
			r, _ := http.NewRequest("PATCH", f.srv.URL+"/api/boards/"+f.big.ID+"/cards/"+card, strings.NewReader(body))
			return r, http.StatusOK
		}},
		{"move-minimal", func(rng *rand.Rand) (*http.Request, int) {
			card := f.cards[rng.IntN(len(f.cards))]
			list := f.lists[rng.IntN(len(f.lists))]
			body := fmt.Sprintf(`{"listId":%q,"position":%d}`, list, rng.IntN(len(f.cards)/len(f.lists)+1))
			r, _ := http.NewRequest("PATCH", f.srv.URL+"/api/boards/"+f.big.ID+"/cards/"+card, strings.NewReader(body))
			r.Header.Set("Prefer", "return=minimal")
			return r, http.StatusNoContent
		}},
	}
	spent := make([]time.Duration, len(scenarios))
	var failed atomic.Value
	round := func(i int) {
		var wg sync.WaitGroup
		start := time.Now()
		for c := range clients {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(c), uint64(time.Now().UnixNano())))
				for range perClient {
					req, want := scenarios[i].req(rng)
					if req.Body != nil {
						req.Header.Set("Content-Type", "application/json")
					}
					resp, err := hc.Do(req)
					if err != nil {
						failed.Store(err.Error())
						return
					}
					n, _ := io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != want || (n == 0) != (want == http.StatusNoContent) {
						failed.Store(fmt.Sprintf("%s: status %d with %d bytes, want %d", scenarios[i].name, resp.StatusCode, n, want))
						return
					}
				}
			})
		}
		wg.Wait()
		spent[i] += time.Since(start)
	}
	for i := range scenarios { // warm the connections and caches
		round(i)
	}
	clear(spent)
	for b.Loop() {
		for i := range scenarios {
			round(i)
		}
	}
	if msg := failed.Load(); msg != nil {
		b.Fatal(msg)
	}
	rate := make(map[string]float64)
	for i, s := range scenarios {
		rate[s.name] = float64(b.N*clients*perClient) / spent[i].Seconds()
		b.ReportMetric(rate[s.name], s.name+"-req/s")
	}
	b.ReportMetric(rate["board"]/rate["bare-board"], "board/bare")
	b.ReportMetric(rate["move"]/rate["small-write"], "move/write")
	b.ReportMetric(rate["move-minimal"]/rate["small-write"], "move-minimal/write")
	b.ReportMetric(float64(len(f.answer)), "board-bytes")
}

// benchFixture is a file store holding a board of 500 cards in five lists,
// like the load driver's, and a small board, served on loopback.
type benchFixture struct {
	srv          *httptest.Server
	big, small   board.Board
	lists, cards []string
	answer       []byte // the big board's answer, for the bare handler
}

func newBenchFixture(b *testing.B) *benchFixture {
	b.Helper()
	ctx := context.Background()
	st, err := filestore.Open(b.TempDir(), filestore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	now := time.Now().UTC()
	owner := user.User{
		ID: objectid.New(now), Username: "owner", Email: "owner@example.com", Color: "#3366ff",
		Roles: []string{"user"}, PasswordHash: "$2a$10$" + strings.Repeat("N", 53), CreatedAt: now, UpdatedAt: now,
	}
	if err := st.CreateUser(ctx, owner); err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := board.NewService(board.Deps{Store: st, Users: st, Files: st}, time.Now, log)
	p := auth.Principal{UserID: owner.ID, Roles: owner.Roles, Account: owner}

	f := &benchFixture{}
	big, err := board.New(owner.ID, "Load test board", "", now)
	if err != nil {
		b.Fatal(err)
	}
	for l := range 5 {
		list, err := big.AddList(fmt.Sprintf("List %d", l+1), now)
		if err != nil {
			b.Fatal(err)
		}
		f.lists = append(f.lists, list.ID)
	}
	for i := range 500 {
		c, err := big.AddCard(f.lists[i%5], fmt.Sprintf("Task %03d: check what the load run says", i),
			"A card of ordinary size, with a sentence or two of description.", now)
		if err != nil {
			b.Fatal(err)
		}
		f.cards = append(f.cards, c.ID)
	}
	small, err := board.New(owner.ID, "Small board", "", now)
	if err != nil {
		b.Fatal(err)
	}
	for _, x := range []*board.Board{big, small} {
		if err := st.CreateBoard(ctx, *x); err != nil {
			b.Fatal(err)
		}
	}
	f.big, f.small = *big, *small

	h := boardhttp.New(svc, log)
	mux := http.NewServeMux()
	mux.Handle("GET /api/boards/{id}", h.Get())
	mux.Handle("PATCH /api/boards/{id}/cards/{cardId}", h.EditCard())
	mux.Handle("PUT /api/boards/{id}/favourite", h.SetFavourite())
	mux.HandleFunc("GET /bare", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(f.answer)
	})
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	}))
	b.Cleanup(f.srv.Close)

	resp, err := http.Get(f.srv.URL + "/api/boards/" + big.ID)
	if err != nil {
		b.Fatal(err)
	}
	f.answer, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || bytes.Count(f.answer, []byte(`"description":`)) != 500 {
		b.Fatalf("GET the board: %d, %v, %d bytes", resp.StatusCode, err, len(f.answer))
	}
	return f
}
