package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	mongooptions "go.mongodb.org/mongo-driver/v2/mongo/options"
)

// TestMain lets the test binary serve as a baseline server, as the driver
// starts it again for each baseline.
func TestMain(m *testing.M) {
	if kind := os.Getenv(baselineEnv); kind != "" {
		if err := serveBaseline(kind, os.Stdout); err != nil {
			os.Stderr.WriteString("baseline server: " + err.Error() + "\n")
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

// TestSmoke runs the whole driver for a second per scenario with four
// clients, and checks that the report holds every scenario and baseline,
// answered as expected, in the table, the JSON and the SVG.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs corkboard; skipped with -short")
	}
	dir := t.TempDir()
	jsonPath, svgPath := filepath.Join(dir, "report.json"), filepath.Join(dir, "chart.svg")
	profiles := filepath.Join(dir, "profiles")
	args := []string{"-duration", "1s", "-rounds", "2", "-clients", "4", "-bcrypt-cost", "4", "-cards", "50",
		"-p99-during-flood", "-flood-me-rate", "100", "-json", jsonPath, "-svg", svgPath, "-profile", profiles}
	if uri := os.Getenv("MONGO_URI"); uri != "" {
		args = append(args, "-mongo-uri", uri)
	}
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	loadDBsBefore := loadDatabases(t)
	if err := run(ctx, args, &stdout, &stderr); err != nil {
		t.Fatalf("run %v: %v\nstdout:\n%s\nstderr:\n%s", args, err, &stdout, &stderr)
	}
	if after := loadDatabases(t); len(after) > len(loadDBsBefore) {
		t.Errorf("the run left MongoDB databases behind: %v before, %v after", loadDBsBefore, after)
	}
	t.Logf("report:\n%s", &stdout)

	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("the JSON report does not decode: %v\n%s", err, b)
	}
	if rep.Failed {
		t.Errorf("report says failed:\n%s", &stdout)
	}
	if rep.Settings.Rounds != 2 {
		t.Errorf("the report says %d rounds, want 2", rep.Settings.Rounds)
	}
	checkResult := func(where string, r result) {
		t.Helper()
		if r.Seconds < 0.95 {
			t.Errorf("%s %s: measured for %.2f s, want the two rounds' 0.5 s each", where, r.Name, r.Seconds)
		}
		if r.Status != "ok" || r.Requests == 0 || r.Failures != 0 || r.ReqPerSec <= 0 || r.P99ms <= 0 {
			t.Errorf("%s %s: status %s, %d requests, %d failures, %.1f req/s, p99 %.2f ms; want ok, some requests, none failed (errors: %v)",
				where, r.Name, r.Status, r.Requests, r.Failures, r.ReqPerSec, r.P99ms, r.Errors)
		}
	}
	var baselines []string
	for _, bl := range rep.Baselines {
		checkResult("baseline", bl)
		baselines = append(baselines, bl.Name)
		if bl.Name == "bcrypt" {
			continue // not an HTTP baseline: the driver computes it itself
		}
		if fi, err := os.Stat(filepath.Join(profiles, "driver-baseline-"+bl.Name+"-cpu.pprof")); err != nil || fi.Size() == 0 {
			t.Errorf("baseline %s: no profile of the driver: %v", bl.Name, err)
		}
	}
	if got := strings.Join(baselines, ","); got != "bare,bare-board,fsync,bcrypt" {
		t.Errorf("baselines %s, want bare,bare-board,fsync,bcrypt", got)
	}
	wantStores := 1
	if os.Getenv("MONGO_URI") != "" {
		wantStores = 2
	}
	if len(rep.Stores) != wantStores {
		t.Fatalf("%d stores in the report, want %d", len(rep.Stores), wantStores)
	}
	for _, s := range rep.Stores {
		var names []string
		for _, sc := range s.Scenarios {
			checkResult(s.Store, sc)
			names = append(names, sc.Name)
			if sc.Baseline != "" && sc.Ratio <= 0 {
				t.Errorf("%s %s: no ratio to %s", s.Store, sc.Name, sc.Baseline)
			}
			if want := s.Store == "file" && sc.Name != "signup" && sc.Name != "mixed"; want != (sc.Target > 0) {
				t.Errorf("%s %s: target %.2f; want one only on the file store's targeted scenarios", s.Store, sc.Name, sc.Target)
			}
			if (s.Store == "mongo") != (sc.CommandsPerRequest > 0) {
				t.Errorf("%s %s: %.2f MongoDB commands per request; want some on MongoDB only", s.Store, sc.Name, sc.CommandsPerRequest)
			}
			for _, name := range []string{s.Store + "-" + sc.Name + "-cpu", s.Store + "-" + sc.Name + "-allocs", "driver-" + s.Store + "-" + sc.Name + "-cpu"} {
				path := filepath.Join(profiles, name+".pprof")
				if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
					t.Errorf("%s %s: no profile %s: %v", s.Store, sc.Name, name, err)
				}
			}
		}
		if got, want := strings.Join(names, ","), "me,refresh,board,move,move-minimal,login,signup,mixed"; got != want {
			t.Errorf("%s: scenarios %s, want %s", s.Store, got, want)
		}
		if s.PeakRSS <= 0 {
			t.Errorf("%s: no peak RSS", s.Store)
		}
		if s.Flood == nil {
			t.Errorf("%s: no flood comparison", s.Store)
		} else {
			checkResult(s.Store, s.Flood.Alone)
			checkResult(s.Store, s.Flood.DuringFlood)
			checkResult(s.Store, s.Flood.Logins)
			if s.Flood.P99Ratio <= 0 {
				t.Errorf("%s: no p99 ratio", s.Store)
			}
			f := s.Flood
			if f.AloneP99msAfterOnset <= 0 || f.DuringP99msAfterOnset <= 0 || f.P99RatioAfterOnset <= 0 {
				t.Errorf("%s: no p99 after the onset: %+v", s.Store, f)
			}
			// Each answer's lateness to send is part of its latency.
			if f.AloneSendLateP99ms < 0 || f.AloneSendLateP99ms > f.Alone.P99ms ||
				f.DuringSendLateP99ms < 0 || f.DuringSendLateP99ms > f.DuringFlood.P99ms {
				t.Errorf("%s: lateness to send p99 %.3f and %.3f ms, latency p99 %.3f and %.3f ms",
					s.Store, f.AloneSendLateP99ms, f.DuringSendLateP99ms, f.Alone.P99ms, f.DuringFlood.P99ms)
			}
		}
	}
	for _, want := range []string{"baseline", "bare", "fsync", "bcrypt", "me", "refresh", "login", "signup", "board", "move", "move-minimal", "mixed", "peak RSS", "leaving out each slice's first 20ms"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, &stdout)
		}
	}

	svg, err := os.ReadFile(svgPath)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(svg))
	rects := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v\n%s", err, svg)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			rects++
		}
	}
	// A background, and two bars for each of the seven scenarios with a
	// baseline, per store.
	if want := 1 + 14*wantStores; rects != want {
		t.Errorf("the SVG has %d rects, want %d", rects, want)
	}
}

// TestResultAdd: the rounds of one scenario add up to one result whose
// rate is all its answers over all its time, whose percentiles are those
// of every answer, and which failed if any round did.
func TestResultAdd(t *testing.T) {
	ms := func(n ...int) []time.Duration {
		var d []time.Duration
		for _, x := range n {
			d = append(d, time.Duration(x)*time.Millisecond)
		}
		return d
	}
	var r result // the rounds start from a zero result
	r.add(result{Name: "me", Baseline: "bare", Target: 0.85, Seconds: 1, Requests: 100, Status: "ok", lat: ms(slices.Repeat([]int{1}, 100)...)})
	if r.Name != "me" || r.Baseline != "bare" || r.Target != 0.85 || r.Requests != 100 || r.Status != "ok" {
		t.Fatalf("a zero result after add = %+v; want the round added", r)
	}
	r.add(result{Name: "me", Seconds: 3, Requests: 100, Busy: 2, Status: "ok", PeakRSS: 7, lat: ms(slices.Repeat([]int{9}, 100)...)})
	if r.Requests != 200 || r.Seconds != 4 || r.ReqPerSec != 50 || r.Busy != 2 || r.PeakRSS != 7 {
		t.Errorf("after add: %d requests in %.1f s, %.1f req/s, %d busy, peak RSS %d; want 200 in 4 s, 50 req/s, 2 busy, 7", r.Requests, r.Seconds, r.ReqPerSec, r.Busy, r.PeakRSS)
	}
	if r.P50ms != 1 || r.P99ms != 9 {
		t.Errorf("after add: p50 %.1f ms, p99 %.1f ms; want 1 and 9", r.P50ms, r.P99ms)
	}
	if r.Status != "ok" {
		t.Errorf("status %s, want ok", r.Status)
	}
	r.add(result{Name: "me", Seconds: 1, Failures: 1, Errors: []string{"status 500"}, Status: "FAILED"})
	if r.Status != "FAILED" || r.Failures != 1 || len(r.Errors) != 1 {
		t.Errorf("after a failed round: status %s, %d failures, errors %v; want FAILED, 1, the round's error", r.Status, r.Failures, r.Errors)
	}
}

// loadDatabases lists the databases of load runs on MONGO_URI's server
// (none without MONGO_URI).
func loadDatabases(t *testing.T) []string {
	t.Helper()
	uri := os.Getenv("MONGO_URI")
	if uri == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := mongo.Connect(mongooptions.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	names, err := client.ListDatabaseNames(ctx, bson.D{{Key: "name", Value: bson.D{{Key: "$regex", Value: "^corkboard_load_"}}}})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestWrongAnswerFails checks that the driver judges answers: a server
// that answers 200 with another user's /me body makes the me scenario
// FAILED, while the same server answering the client's own user passes.
func TestWrongAnswerFails(t *testing.T) {
	for _, tc := range []struct {
		body string
		want string
	}{
		{`{"user":{"id":"aaaaaaaaaaaaaaaaaaaaaaaa","username":"someone"}}`, "ok"},
		{`{"user":{"id":"bbbbbbbbbbbbbbbbbbbbbbbb","username":"another"}}`, "FAILED"},
	} {
		url, stop, err := startBaseline(context.Background(), "bare", []byte(tc.body), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		fx := &fixture{users: []*account{{id: "aaaaaaaaaaaaaaaaaaaaaaaa", access: "x"}}, meBody: []byte(tc.body)}
		res := drive(context.Background(), url, fx, 2, 200*time.Millisecond, stepMe, nil)
		stop()
		if res.Status != tc.want {
			t.Errorf("me against a server answering %s: status %s (%d requests, %d failures), want %s", tc.body, res.Status, res.Requests, res.Failures, tc.want)
		}
	}
}

// TestAfterOnset checks that the figures after the flood's onset leave out
// exactly the answers due in each slice's first floodOnset, with each
// answer's due time and lateness still its own after the slices' results
// are added up (percentiles sort the latencies they are given).
func TestAfterOnset(t *testing.T) {
	ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	// 100 answers 4 ms apart: the first five, due in the onset, are slow.
	slice := func(slow float64) result {
		var r result
		for i := range 100 {
			at, lat, late := ms(float64(i)*4), ms(1), ms(0.5)
			if at < floodOnset {
				lat, late = ms(slow), ms(slow-1)
			}
			r.at, r.lat, r.late = append(r.at, at), append(r.lat, lat), append(r.late, late)
		}
		r.Requests, r.Seconds, r.Status = len(r.lat), 1, "ok"
		return r
	}
	var all result
	all.add(slice(50))
	all.add(slice(80))
	if all.P99ms != 80 {
		t.Fatalf("p99 of every answer %.1f ms, want 80", all.P99ms)
	}
	if len(all.at) != 200 || len(all.late) != 200 || len(all.lat) != 200 {
		t.Fatalf("%d, %d and %d answers kept, want 200 of each", len(all.at), len(all.late), len(all.lat))
	}
	for i := range all.lat {
		slow := all.lat[i] >= ms(50)
		if slow != (all.at[i] < floodOnset) || all.late[i] != all.lat[i]-ms(map[bool]float64{true: 1, false: 0.5}[slow]) {
			t.Fatalf("answer %d: due at %v, latency %v, late %v: not the answer's own", i, all.at[i], all.lat[i], all.late[i])
		}
	}
	p99, late := afterOnset(all)
	if p99 != 1 {
		t.Errorf("p99 after the onset %.2f ms, want 1 (the slow answers were due in the onset)", p99)
	}
	if late != 79 {
		t.Errorf("lateness p99 %.2f ms, want 79 (of every answer)", late)
	}
}

// TestDriveKeepsAnswersInOrder runs drive with paced clients and a step
// that is slow only for the first request of the first two clients (due
// at 0 and 16 ms, inside the onset), and checks that each answer's
// latency, due time and lateness stay together in the result. The slow
// answers take longer than the pace, so those clients' next requests are
// sent late, but not by the clients' fault: their lateness counts from
// when the slow answer came, and stays small.
func TestDriveKeepsAnswersInOrder(t *testing.T) {
	const clients, slowTook = 16, 400 * time.Millisecond
	fx := &fixture{users: []*account{{}}}
	var calls [clients]atomic.Int32
	step := func(ctx context.Context, c *client) error {
		if calls[c.id].Add(1) == 1 && c.id < 2 {
			time.Sleep(slowTook)
		}
		return nil
	}
	pace := 256 * time.Millisecond // the clients' first requests are due 16 ms apart
	r := drive(context.Background(), "http://127.0.0.1:1", fx, clients, time.Second, step, &pace)
	if r.Status != "ok" || len(r.lat) != r.Requests || len(r.at) != r.Requests || len(r.late) != r.Requests {
		t.Fatalf("status %s, %d answers: %d latencies, %d due times, %d latenesses", r.Status, r.Requests, len(r.lat), len(r.at), len(r.late))
	}
	slow := 0
	for i := range r.lat {
		if r.late[i] > r.lat[i] {
			t.Errorf("answer %d: late %v, more than its latency %v", i, r.late[i], r.lat[i])
		}
		// 144 ms if counted from when it was due (400 - 256).
		if r.late[i] > 100*time.Millisecond {
			t.Errorf("answer %d, due at %v: late %v, counted from before the previous answer came", i, r.at[i], r.late[i])
		}
		if r.lat[i] >= slowTook {
			slow++
			if r.at[i] >= floodOnset {
				t.Errorf("answer %d took %v but was due at %v, after the onset", i, r.lat[i], r.at[i])
			}
		}
	}
	if slow != 2 {
		t.Fatalf("%d slow answers of %d, want 2", slow, r.Requests)
	}
	if p99, _ := afterOnset(r); r.P99ms < float64(slowTook)/1e6 || p99 >= float64(slowTook)/1e6 {
		t.Errorf("p99 %.2f ms of every answer, %.2f ms after the onset: want the slow ones only in the first", r.P99ms, p99)
	}
}

// TestHandWrittenBodies checks the bodies the driver writes without
// encoding/json against encoding/json, and tokenField against decoding.
func TestHandWrittenBodies(t *testing.T) {
	tok := "eyJhbGciOiJIUzI1NiJ9.eyJzaWQiOiJzIn0.c2ln-_"
	if got, want := refreshBody(tok), jsonBody(map[string]string{"refreshToken": tok}); !bytes.Equal(got, want) {
		t.Errorf("refreshBody = %s, want %s", got, want)
	}
	fx := &fixture{boardID: "b", listIDs: []string{"bbbbbbbbbbbbbbbbbbbbbbbb", "cccccccccccccccccccccccc"}}
	for i := range 30 {
		fx.cardIDs = append(fx.cardIDs, fmt.Sprintf("%024x", i))
	}
	c := &client{fx: fx, rng: rand.New(rand.NewPCG(1, 2))}
	positions := map[int]bool{}
	for range 200 {
		_, _, body := c.randomMove()
		var v struct {
			ListID   string `json:"listId"`
			Position int    `json:"position"`
		}
		if err := json.Unmarshal(body, &v); err != nil || !slices.Contains(c.fx.listIDs, v.ListID) || v.Position < 0 || v.Position > 15 {
			t.Fatalf("move body %s: %+v, %v", body, v, err)
		}
		positions[v.Position] = true
		want := jsonBody(map[string]any{"listId": v.ListID, "position": v.Position})
		if !bytes.Equal(body, want) {
			t.Fatalf("move body %s, want %s", body, want)
		}
	}
	if !positions[0] || !positions[15] || len(positions) != 16 {
		t.Errorf("positions %v: want 0 to 15 (15 cards a list, and one past the end)", positions)
	}
	for _, tc := range []struct{ body, access, refresh string }{
		{`{"accessToken":"a.b-c_d","tokenType":"Bearer","expiresIn":900,"refreshToken":"e.f"}`, "a.b-c_d", "e.f"},
		{`{"accessToken":"a.b","tokenType":"Bearer","expiresIn":900}`, "a.b", ""},
		{`{"accessToken":"","refreshToken":"x"}`, "", "x"},
		{`{"accessToken":"a\"b","refreshToken":"x y"}`, "", ""},
		{`{"accessToken":"a\u002eb","refreshToken":"x`, "", ""},
		{`{"accessToken": "a"}`, "", ""},
	} {
		if got := tokenField([]byte(tc.body), "accessToken"); got != tc.access {
			t.Errorf("tokenField(%s, accessToken) = %q, want %q", tc.body, got, tc.access)
		}
		if got := tokenField([]byte(tc.body), "refreshToken"); got != tc.refresh {
			t.Errorf("tokenField(%s, refreshToken) = %q, want %q", tc.body, got, tc.refresh)
		}
	}
}
