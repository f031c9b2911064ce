package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// account is a user the driver signed up, with the tokens of one session.
type account struct {
	id, username, email, password string
	access, refresh               string
}

// fixture is the data every scenario runs on.
type fixture struct {
	tag     string // makes this run's user names unique
	users   []*account
	owner   *account // owns the board; the board clients share its session
	boardID string
	listIDs []string
	cardIDs []string
	meBody  []byte // one /me answer, which the bare baseline repeats
	// boardBody is one answer of the board, which the bare-board baseline
	// repeats.
	boardBody []byte
}

// client is one keep-alive client: its own connection, its own user and
// token chain.
type client struct {
	base   string
	hc     *http.Client
	fx     *fixture
	user   *account
	rng    *rand.Rand
	id     int
	buf    bytes.Buffer
	bodies [][]byte
}

func newClient(base string, fx *fixture, id int, user *account) *client {
	tr := &http.Transport{
		MaxIdleConnsPerHost:   1,
		DisableCompression:    true,
		ResponseHeaderTimeout: 60 * time.Second,
	}
	return &client{
		base: base, fx: fx, id: id, user: user,
		hc:  &http.Client{Transport: tr, Timeout: 60 * time.Second},
		rng: rand.New(rand.NewPCG(uint64(id), uint64(time.Now().UnixNano()))),
	}
}

func (c *client) close() { c.hc.CloseIdleConnections() }

// errBusy marks a 503 "busy" answer: the contract's answer to overload
// (every bcrypt slot taken for 2 s, or a board that kept changing), with
// Retry-After. It is counted apart from failures.
var errBusy = errors.New("503 busy")

// do sends one request and returns the answer's status and body (valid
// until the next call). A transport error is an error; the status is the
// caller's to judge. header is further request headers, name and value
// pairs.
func (c *client) do(ctx context.Context, method, path, token string, body []byte, header ...string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	c.buf.Reset()
	if _, err := c.buf.ReadFrom(resp.Body); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s %s: reading the body: %w", method, path, err)
	}
	return resp.StatusCode, c.buf.Bytes(), nil
}

// expect checks an answer: the status wanted and, in the body, each of
// the strings in contains (a field and its value, found without decoding,
// so that checking costs the driver little of the CPU it shares).
func expect(method, path string, status int, body []byte, err error, want int, contains ...string) error {
	if err != nil {
		return err
	}
	if status == http.StatusServiceUnavailable && bytes.Contains(body, []byte(`"code":"busy"`)) {
		return errBusy
	}
	if status != want {
		return fmt.Errorf("%s %s: status %d, want %d: %.200s", method, path, status, want, bytes.TrimSpace(body))
	}
	for _, s := range contains {
		if !bytes.Contains(body, []byte(s)) {
			return fmt.Errorf("%s %s: body lacks %s: %.200s", method, path, s, bytes.TrimSpace(body))
		}
	}
	return nil
}

func jsonBody(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// The steps: one request each, checked.

func stepMe(ctx context.Context, c *client) error {
	st, b, err := c.do(ctx, "GET", "/api/users/me", c.user.access, nil)
	return expect("GET", "/api/users/me", st, b, err, 200, `"id":"`+c.user.id+`"`)
}

// stepBare sends /me's request to the bare baseline, whose answer is one
// user's /me body whatever the token.
func stepBare(ctx context.Context, c *client) error {
	st, b, err := c.do(ctx, "GET", "/api/users/me", c.user.access, nil)
	if err == nil && len(b) != len(c.fx.meBody) {
		return fmt.Errorf("bare: %d bytes, want %d", len(b), len(c.fx.meBody))
	}
	return expect("GET", "/bare", st, b, err, 200, `"user":`)
}

// stepBareBoard sends the board's request to the bare-board baseline,
// which answers the board's bytes whatever the path.
func stepBareBoard(ctx context.Context, c *client) error {
	path := "/api/boards/" + c.fx.boardID
	st, b, err := c.do(ctx, "GET", path, c.fx.owner.access, nil)
	if err == nil && len(b) != len(c.fx.boardBody) {
		return fmt.Errorf("bare-board: %d bytes, want %d", len(b), len(c.fx.boardBody))
	}
	return expect("GET", "/bare-board", st, b, err, 200, `"id":"`+c.fx.boardID+`"`)
}

// stepFsync sends a refresh's body to the fsync baseline.
func stepFsync(ctx context.Context, c *client) error {
	body := refreshBody(c.user.refresh)
	st, b, err := c.do(ctx, "POST", "/api/auth/refresh", "", body)
	return expect("POST", "/fsync", st, b, err, 200, `"user":`)
}

// stepRefresh rotates the client's own refresh token, kept in the body.
// The answer must be JSON; the new tokens are taken from it without
// decoding it, like the fields expect looks for. The next refresh
// presents the new refresh token, so a wrong one fails the run there (the
// access token is presented only in the mixed scenario).
func stepRefresh(ctx context.Context, c *client) error {
	st, b, err := c.do(ctx, "POST", "/api/auth/refresh", "", refreshBody(c.user.refresh))
	if err := expect("POST", "/api/auth/refresh", st, b, err, 200, `"tokenType":"Bearer"`); err != nil {
		return err
	}
	if !json.Valid(b) {
		return fmt.Errorf("POST /api/auth/refresh: not JSON: %.200s", b)
	}
	access, refresh := tokenField(b, "accessToken"), tokenField(b, "refreshToken")
	if access == "" || refresh == "" {
		return fmt.Errorf("POST /api/auth/refresh: no new tokens in %.200s", b)
	}
	c.user.access, c.user.refresh = access, refresh
	return nil
}

// refreshBody is {"refreshToken":token}, written without encoding/json: a
// token is base64url and dots, which JSON never escapes.
func refreshBody(token string) []byte {
	b := make([]byte, 0, len(token)+20)
	b = append(b, `{"refreshToken":"`...)
	b = append(b, token...)
	return append(b, `"}`...)
}

// tokenField returns the value of the string field name of the JSON
// object b, or "" if b has no such field or its value is not made only of
// the bytes a token is made of (base64url and dots). Only the first
// "name":" in b counts; an answer with the name inside another string
// would fail the run when the token taken from it is presented.
func tokenField(b []byte, name string) string {
	key := `"` + name + `":"`
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return ""
	}
	v := b[i+len(key):]
	end := bytes.IndexByte(v, '"')
	if end <= 0 {
		return ""
	}
	for _, c := range v[:end] {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return ""
		}
	}
	return string(v[:end])
}

func stepLogin(ctx context.Context, c *client) error {
	body := jsonBody(map[string]string{"email": c.user.email, "password": c.user.password})
	st, b, err := c.do(ctx, "POST", "/api/auth/login", "", body)
	return expect("POST", "/api/auth/login", st, b, err, 200, `"accessToken":"`, `"id":"`+c.user.id+`"`)
}

// signups numbers the sign-ups of the run.
var signups atomic.Int64

func stepSignup(ctx context.Context, c *client) error {
	// Names are unique across clients and across the rounds, whose
	// clients are new ones each time.
	name := fmt.Sprintf("s%s_%d", c.fx.tag, signups.Add(1))
	body := jsonBody(map[string]string{"username": name, "email": name + "@load.example", "password": "load-password-" + name})
	st, b, err := c.do(ctx, "POST", "/api/auth/signup", "", body)
	return expect("POST", "/api/auth/signup", st, b, err, 201, `"username":"`+name+`"`, `"accessToken":"`)
}

func stepBoard(ctx context.Context, c *client) error {
	path := "/api/boards/" + c.fx.boardID
	st, b, err := c.do(ctx, "GET", path, c.fx.owner.access, nil)
	return expect("GET", path, st, b, err, 200, `"id":"`+c.fx.boardID+`"`)
}

// stepMove moves a random card to a random list and position: always
// valid, since cards are never deleted and a position past the end means
// last.
func stepMove(ctx context.Context, c *client) error {
	path, card, body := c.randomMove()
	st, b, err := c.do(ctx, "PATCH", path, c.fx.owner.access, body)
	return expect("PATCH", "/api/boards/{id}/cards/{cardId}", st, b, err, 200, `"id":"`+c.fx.boardID+`"`, `"id":"`+card+`"`)
}

// stepMoveMinimal is stepMove for a client that holds the board already
// and asks, with Prefer: return=minimal, for 204 instead of the whole
// board back.
func stepMoveMinimal(ctx context.Context, c *client) error {
	path, _, body := c.randomMove()
	st, b, err := c.do(ctx, "PATCH", path, c.fx.owner.access, body, "Prefer", "return=minimal")
	if err == nil && st == http.StatusNoContent && len(b) != 0 {
		return fmt.Errorf("PATCH /api/boards/{id}/cards/{cardId}: 204 with a body: %.200s", b)
	}
	return expect("PATCH", "/api/boards/{id}/cards/{cardId}", st, b, err, http.StatusNoContent)
}

// randomMove is the path, card and body of a move of a random card to a
// random list and position.
func (c *client) randomMove() (path, card string, body []byte) {
	card = c.fx.cardIDs[c.rng.IntN(len(c.fx.cardIDs))]
	list := c.fx.listIDs[c.rng.IntN(len(c.fx.listIDs))]
	pos := c.rng.IntN(len(c.fx.cardIDs)/len(c.fx.listIDs) + 1)
	// {"listId":list,"position":pos}, without encoding/json: an id is
	// hex, which JSON never escapes.
	body = append(append([]byte(`{"listId":"`), list...), `","position":`...)
	body = append(strconv.AppendInt(body, int64(pos), 10), '}')
	return "/api/boards/" + c.fx.boardID + "/cards/" + card, card, body
}

// stepMixed is a day of use, by request: mostly reads, some writes, and a
// rare login (whose bcrypt costs as much as thousands of reads).
func stepMixed(ctx context.Context, c *client) error {
	switch r := c.rng.IntN(100); {
	case r < 45:
		return stepMe(ctx, c)
	case r < 70:
		return stepBoard(ctx, c)
	case r < 85:
		return stepMove(ctx, c)
	case r < 99:
		return stepRefresh(ctx, c)
	default:
		return stepLogin(ctx, c)
	}
}

// scenario is one route (or mix) to drive, and what it is compared with:
// a baseline, or another scenario of the same run.
type scenario struct {
	name, baseline string
	step           func(context.Context, *client) error
	// target is the ratio to the baseline the file store should reach
	// (issue targets for 64 clients on 2 CPUs); 0: none.
	target float64
}

var scenarios = []scenario{
	{"me", "bare", stepMe, 0.85},
	{"refresh", "bare", stepRefresh, 0.5},
	{"board", "bare-board", stepBoard, 0.5},
	{"move", "refresh", stepMove, 0.8},
	{"move-minimal", "refresh", stepMoveMinimal, 0.8},
	{"login", "bcrypt", stepLogin, 0.9},
	{"signup", "bcrypt", stepSignup, 0},
	{"mixed", "", stepMixed, 0},
}

func scenarioByName(name string) *scenario {
	for i := range scenarios {
		if scenarios[i].name == name {
			return &scenarios[i]
		}
	}
	return nil
}

// result is what one scenario or baseline measured.
type result struct {
	Name      string  `json:"name"`
	Baseline  string  `json:"baseline,omitempty"`
	Clients   int     `json:"clients"`
	Seconds   float64 `json:"seconds"`
	Requests  int     `json:"requests"` // answered as expected
	ReqPerSec float64 `json:"reqPerSec"`
	P50ms     float64 `json:"p50ms"`
	P90ms     float64 `json:"p90ms"`
	P99ms     float64 `json:"p99ms"`
	Busy      int     `json:"busy"` // 503 busy answers
	// CommandsPerRequest is the MongoDB commands corkboard sent per
	// request (answered or not), from its mongo.commands counters; 0 on
	// the file store.
	CommandsPerRequest float64  `json:"mongoCommandsPerRequest,omitempty"`
	Failures           int      `json:"failures"` // any other unexpected answer or error
	Errors             []string `json:"errors,omitempty"`
	PeakRSS            int64    `json:"peakRSSBytes,omitempty"`
	Ratio              float64  `json:"ratio,omitempty"` // ReqPerSec over the baseline's
	// Target is the ratio the file store aims at (0: none), and Met
	// whether Ratio reached it.
	Target float64 `json:"target,omitempty"`
	Met    bool    `json:"met,omitempty"`
	Status string  `json:"status"`

	lat []time.Duration // every answer's latency, in the order answered
	// For paced clients only, per answer in lat's order: how late the
	// client was to send it, from when it could have (when it was due, or
	// when the previous answer came if that was later: the client's own
	// wait for a core, not the server's), and when it was due, from the
	// start of its slice.
	late, at []time.Duration
}

// add adds to r the result of the same scenario or baseline measured for
// another slice of the run: the counts and times add up, the rate is the
// total over the total time, and the percentiles are those of every
// latency of both. Added to a zero result, s is taken as it is, so that
// the rounds' results are gathered alike from the first.
func (r *result) add(s result) {
	if r.Status == "" {
		*r = s
		return
	}
	r.Seconds += s.Seconds
	r.Requests += s.Requests
	r.Busy += s.Busy
	r.Failures += s.Failures
	for _, e := range s.Errors {
		if len(r.Errors) < 5 {
			r.Errors = append(r.Errors, e)
		}
	}
	r.lat = append(r.lat, s.lat...)
	r.late = append(r.late, s.late...)
	r.at = append(r.at, s.at...)
	r.ReqPerSec = 0
	if r.Seconds > 0 {
		r.ReqPerSec = float64(r.Requests) / r.Seconds
	}
	r.P50ms, r.P90ms, r.P99ms = percentiles(r.lat)
	r.PeakRSS = max(r.PeakRSS, s.PeakRSS)
	if s.Status != "ok" {
		r.Status = s.Status
	}
}

// drive runs step on clients keep-alive clients for d and measures every
// answer. pace, when not nil, is the interval each client keeps between
// the starts of its requests; latency is then measured from when a
// request was due, so that a stalled server shows in it.
func drive(ctx context.Context, base string, fx *fixture, clients int, d time.Duration, step func(context.Context, *client) error, pace *time.Duration) result {
	type tally struct {
		lat      []time.Duration
		late, at []time.Duration // paced clients only
		busy     int
		failures int
		errs     []string
	}
	tallies := make([]tally, clients)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for i := range clients {
		c := newClient(base, fx, i, fx.users[i%len(fx.users)])
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.close()
			t := &tallies[i]
			t.lat = make([]time.Duration, 0, 1024)
			due := start
			if pace != nil {
				// Spread the clients' first requests over one interval,
				// from the start the answers' due times are counted from.
				due = due.Add(time.Duration(i) * *pace / time.Duration(clients))
			}
			// ready is when the client could send: when the request was
			// due or, if the previous answer came after that, when it came.
			var ready time.Time
			for {
				if pace != nil {
					time.Sleep(time.Until(due))
					if ready.Before(due) {
						ready = due
					}
				} else {
					due = time.Now()
				}
				if due.After(deadline) || ctx.Err() != nil {
					return
				}
				var late time.Duration
				if pace != nil {
					late = time.Since(ready)
				}
				err := step(ctx, c)
				ready = time.Now()
				switch {
				case err == nil:
					t.lat = append(t.lat, time.Since(due))
					if pace != nil {
						t.late = append(t.late, late)
						t.at = append(t.at, due.Sub(start))
					}
				case errors.Is(err, errBusy):
					t.busy++
				default:
					t.failures++
					if len(t.errs) < 3 {
						t.errs = append(t.errs, err.Error())
					}
				}
				if pace != nil {
					due = due.Add(*pace)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	res := result{Clients: clients, Seconds: elapsed.Seconds()}
	var all, late, at []time.Duration
	for _, t := range tallies {
		all = append(all, t.lat...)
		late = append(late, t.late...)
		at = append(at, t.at...)
		res.Busy += t.busy
		res.Failures += t.failures
		for _, e := range t.errs {
			if len(res.Errors) < 5 {
				res.Errors = append(res.Errors, e)
			}
		}
	}
	res.Requests = len(all)
	res.ReqPerSec = float64(len(all)) / elapsed.Seconds()
	res.lat, res.late, res.at = all, late, at
	res.P50ms, res.P90ms, res.P99ms = percentiles(all)
	res.Status = "ok"
	if res.Failures > 0 || res.Requests == 0 {
		res.Status = "FAILED"
	}
	return res
}

// percentiles returns the p50, p90 and p99 of lat in milliseconds. It
// sorts a copy: a result's latencies stay in the order answered, which its
// due times and latenesses follow.
func percentiles(lat []time.Duration) (p50, p90, p99 float64) {
	if len(lat) == 0 {
		return 0, 0, 0
	}
	lat = slices.Sorted(slices.Values(lat))
	at := func(q float64) float64 {
		i := int(q * float64(len(lat)-1))
		return float64(lat[i]) / float64(time.Millisecond)
	}
	return at(0.50), at(0.90), at(0.99)
}

// floodResult compares /me's latency alone with its latency while logins
// flood the server.
type floodResult struct {
	MeRate       int     `json:"meRequestsPerSecond"`
	Alone        result  `json:"alone"`
	DuringFlood  result  `json:"duringFlood"`
	Logins       result  `json:"logins"`
	P99Ratio     float64 `json:"p99Ratio"`
	Status       string  `json:"status"`
	LoginClients int     `json:"loginClients"`
	// Where the tail comes from, for reading the ratio, not instead of
	// it: the p99 of the answers due after the first floodOnset of each
	// slice (counted from the /me clients' start; the flood's clients
	// start with them and send their first logins at once), and how late
	// the /me clients were to send when they could have (p99), which is
	// the driver's own wait for a core.
	AloneP99msAfterOnset  float64 `json:"aloneP99msAfterOnset"`
	DuringP99msAfterOnset float64 `json:"duringP99msAfterOnset"`
	P99RatioAfterOnset    float64 `json:"p99RatioAfterOnset"`
	AloneSendLateP99ms    float64 `json:"aloneSendLateP99ms"`
	DuringSendLateP99ms   float64 `json:"duringSendLateP99ms"`
}

// floodOnset is the start of each flood slice that the AfterOnset
// figures leave out.
const floodOnset = 20 * time.Millisecond

// afterOnset returns the p99 of r's latencies of the answers due at
// floodOnset or later into their slice, and the p99 of how late r's
// clients were to send.
func afterOnset(r result) (p99, lateP99 float64) {
	var after []time.Duration
	for i, at := range r.at {
		if at >= floodOnset {
			after = append(after, r.lat[i])
		}
	}
	_, _, p99 = percentiles(after)
	_, _, lateP99 = percentiles(r.late)
	return p99, lateP99
}

// floodCompare measures /me at a steady rate (8 paced clients), alone and
// while o.clients clients log in as fast as they can.
func floodCompare(ctx context.Context, base string, fx *fixture, o options) *floodResult {
	const meClients = 8
	pace := time.Duration(meClients) * time.Second / time.Duration(o.floodRate)
	fr := &floodResult{MeRate: o.floodRate, LoginClients: o.clients}
	// Alone and during the flood take turns, like the scenarios and their
	// baselines (see -rounds).
	slice := o.duration / time.Duration(o.rounds)
	for range o.rounds {
		alone := drive(ctx, base, fx, meClients, slice, stepMe, &pace)
		var logins result
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			logins = drive(ctx, base, fx, o.clients, slice, stepLogin, nil)
		}()
		during := drive(ctx, base, fx, meClients, slice, stepMe, &pace)
		wg.Wait()
		fr.Alone.add(alone)
		fr.DuringFlood.add(during)
		fr.Logins.add(logins)
	}
	fr.Alone.Name, fr.DuringFlood.Name, fr.Logins.Name = "me alone", "me during flood", "login flood"
	if fr.Alone.P99ms > 0 {
		fr.P99Ratio = fr.DuringFlood.P99ms / fr.Alone.P99ms
	}
	fr.AloneP99msAfterOnset, fr.AloneSendLateP99ms = afterOnset(fr.Alone)
	fr.DuringP99msAfterOnset, fr.DuringSendLateP99ms = afterOnset(fr.DuringFlood)
	if fr.AloneP99msAfterOnset > 0 {
		fr.P99RatioAfterOnset = fr.DuringP99msAfterOnset / fr.AloneP99msAfterOnset
	}
	fr.Status = "ok"
	for _, r := range []result{fr.Alone, fr.DuringFlood, fr.Logins} {
		if r.Status != "ok" {
			fr.Status = "FAILED"
		}
	}
	return fr
}

// setup signs up o.users users (each keeping one session's tokens) and an
// owner, who makes a board of o.cards cards in five lists.
func setup(ctx context.Context, base string, o options) (*fixture, error) {
	fx := &fixture{tag: randomHex(3)}
	fx.users = make([]*account, o.users)
	if err := parallel(ctx, 4, o.users, func(c *client, i int) error {
		a, err := signup(ctx, c, fmt.Sprintf("u%s_%d", fx.tag, i))
		fx.users[i] = a
		return err
	}, base, fx); err != nil {
		return nil, err
	}
	c := newClient(base, fx, 0, nil)
	defer c.close()
	owner, err := signup(ctx, c, "owner"+fx.tag)
	if err != nil {
		return nil, err
	}
	fx.owner = owner
	c.user = fx.users[0]
	st, b, err := c.do(ctx, "GET", "/api/users/me", c.user.access, nil)
	if err := expect("GET", "/api/users/me", st, b, err, 200); err != nil {
		return nil, err
	}
	fx.meBody = bytes.Clone(b)

	var id struct {
		Board, List, Card struct{ ID string }
	}
	create := func(path string, body any, want string) error {
		st, b, err := c.do(ctx, "POST", path, owner.access, jsonBody(body))
		if err := expect("POST", path, st, b, err, 201, want); err != nil {
			return err
		}
		return json.Unmarshal(b, &id)
	}
	if err := create("/api/boards", map[string]string{"title": "Load test board"}, `"board":`); err != nil {
		return nil, err
	}
	fx.boardID = id.Board.ID
	const lists = 5
	for l := range lists {
		if err := create("/api/boards/"+fx.boardID+"/lists", map[string]string{"name": fmt.Sprintf("List %d", l+1)}, `"list":`); err != nil {
			return nil, err
		}
		fx.listIDs = append(fx.listIDs, id.List.ID)
	}
	fx.cardIDs = make([]string, o.cards)
	if err := parallel(ctx, 8, o.cards, func(c *client, i int) error {
		path := "/api/boards/" + fx.boardID + "/lists/" + fx.listIDs[i%lists] + "/cards"
		body := jsonBody(map[string]string{
			"title":       fmt.Sprintf("Task %03d: check what the load run says", i),
			"description": "A card of ordinary size, with a sentence or two of description.",
		})
		for {
			st, b, err := c.do(ctx, "POST", path, owner.access, body)
			err = expect("POST", path, st, b, err, 201, `"card":`)
			if errors.Is(err, errBusy) {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			if err != nil {
				return err
			}
			var v struct{ Card struct{ ID string } }
			if err := json.Unmarshal(b, &v); err != nil {
				return err
			}
			fx.cardIDs[i] = v.Card.ID
			return nil
		}
	}, base, fx); err != nil {
		return nil, err
	}
	// The board must hold every card: the board scenarios rest on it.
	st, b, err = c.do(ctx, "GET", "/api/boards/"+fx.boardID, owner.access, nil)
	if err := expect("GET", "/api/boards/{id}", st, b, err, 200); err != nil {
		return nil, err
	}
	if n := bytes.Count(b, []byte(`"description":`)); n != o.cards {
		return nil, fmt.Errorf("the board holds %d cards, want %d", n, o.cards)
	}
	fx.boardBody = bytes.Clone(b)
	return fx, nil
}

// signup signs up a user named name (retrying on 503 busy) and returns it
// with its session's tokens.
func signup(ctx context.Context, c *client, name string) (*account, error) {
	a := &account{username: name, email: strings.ToLower(name) + "@load.example", password: "load-password-" + name}
	body := jsonBody(map[string]any{"username": a.username, "email": a.email, "password": a.password, "returnRefreshToken": true})
	for {
		st, b, err := c.do(ctx, "POST", "/api/auth/signup", "", body)
		err = expect("POST", "/api/auth/signup", st, b, err, 201)
		if errors.Is(err, errBusy) {
			time.Sleep(time.Second)
			continue
		}
		if err != nil {
			return nil, err
		}
		var v struct {
			User                      struct{ ID string }
			AccessToken, RefreshToken string
		}
		if err := json.Unmarshal(b, &v); err != nil || v.User.ID == "" || v.AccessToken == "" || v.RefreshToken == "" {
			return nil, fmt.Errorf("sign-up answered %.200s (%v)", b, err)
		}
		a.id, a.access, a.refresh = v.User.ID, v.AccessToken, v.RefreshToken
		return a, nil
	}
}

// parallel runs f for 0..n-1 on workers clients, stopping at the first
// error.
func parallel(ctx context.Context, workers, n int, f func(*client, int) error, base string, fx *fixture) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		c := newClient(base, fx, w, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.close()
			for i := range next {
				if err := f(c, i); err != nil {
					errs <- err
					cancel()
					return
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return ctx.Err()
	}
}
