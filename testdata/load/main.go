// Command load measures corkboard the way its users run it: it builds the
// real binary, starts it on loopback, drives its routes with many keep-alive
// clients, and reports each route against a baseline measured in the same
// run (a bare net/http handler, a handler that fsyncs per request, raw
// bcrypt on every core), so that the figures say how close corkboard comes
// to what the machine allows rather than how fast the machine was that day.
//
// It lives in its own module so that the main module's dependencies do not
// change; it needs golang.org/x/crypto for the bcrypt baseline, which must
// be the very bcrypt corkboard runs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	// A baseline server is this same program, started again by the driver
	// with the baseline's name in the environment: it then runs in a
	// process of its own, as corkboard does, and the two compare fairly.
	if kind := os.Getenv(baselineEnv); kind != "" {
		if err := serveBaseline(kind, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "baseline server:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, errRunFailed):
		// The report is printed; it says which scenario failed.
		os.Exit(1)
	case err != nil:
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

// errRunFailed is returned by run when every measurement was made but some
// answer was not the one expected: the report is then marked FAILED.
var errRunFailed = errors.New("some scenario FAILED")

// options are the driver's settings.
type options struct {
	clients    int
	duration   time.Duration
	users      int
	cards      int
	bcryptCost int
	mongoURI   string
	repo       string // the corkboard repository (its root)
	bin        string // a corkboard binary to run instead of building one
	jsonPath   string
	svgPath    string
	flood      bool
	floodRate  int // /me requests per second during the flood comparison
	keep       bool
	rounds     int // each scenario and baseline runs in this many slices of duration/rounds, taking turns
	profileDir string
	only       map[string]bool
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	var only string
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: go run . [flags]   (from testdata/load)\n\n"+
			"Builds corkboard, starts it on loopback with the file store (and MongoDB with\n"+
			"-mongo-uri), drives the scenarios me, refresh, login, signup, board, move,\n"+
			"move-minimal (the move with Prefer: return=minimal) and mixed, measures the\n"+
			"baselines bare, fsync and bcrypt in the same run, and reports req/s,\n"+
			"p50/p90/p99, peak RSS and each scenario's ratio to its baseline. Exits 1 if\n"+
			"any answer was not the one expected.\n\nflags:")
		fs.PrintDefaults()
	}
	fs.IntVar(&o.clients, "clients", 64, "concurrent keep-alive clients per scenario")
	fs.DurationVar(&o.duration, "duration", 8*time.Second, "how long each scenario and baseline runs")
	fs.IntVar(&o.users, "users", 0, "users signed up before the scenarios (default: one per client, at least 8)")
	fs.IntVar(&o.cards, "cards", 500, "cards on the board of the board and move scenarios")
	fs.IntVar(&o.bcryptCost, "bcrypt-cost", 10, "BCRYPT_COST of the server and of the bcrypt baseline (4-31)")
	fs.StringVar(&o.mongoURI, "mongo-uri", "", "also run every scenario with -store mongo on this MongoDB")
	fs.StringVar(&o.repo, "repo", "", "corkboard repository to build (default: found above the working directory)")
	fs.StringVar(&o.bin, "bin", "", "run this corkboard binary instead of building one")
	fs.StringVar(&o.jsonPath, "json", "", "write the report as JSON to this file")
	fs.StringVar(&o.svgPath, "svg", "", "write a bar chart of each scenario against its baseline to this SVG file")
	fs.BoolVar(&o.flood, "p99-during-flood", false, "also compare /me p99 alone with /me p99 during a login flood")
	fs.IntVar(&o.floodRate, "flood-me-rate", 1000, "with -p99-during-flood, /me requests per second (paced, 8 clients)")
	fs.IntVar(&o.rounds, "rounds", 4, "split each scenario's and baseline's time into this many slices, taken in turns (every scenario, then every baseline, round after round), so that a machine whose speed drifts during the run slows a scenario and its baseline alike")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (the servers' logs and data) and print where it is")
	fs.StringVar(&o.profileDir, "profile", "", "save corkboard's CPU and allocation profiles of each scenario into this directory (STORE-SCENARIO-cpu.pprof, …-allocs.pprof), and the driver's own CPU profile of each scenario and HTTP baseline (driver-STORE-SCENARIO-cpu.pprof, driver-baseline-KIND-cpu.pprof), in the first round")
	fs.StringVar(&only, "only", "", "comma-separated scenarios to run (default: all)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case o.clients < 1:
		return o, errors.New("-clients must be at least 1")
	case o.rounds < 1:
		return o, errors.New("-rounds must be at least 1")
	case o.duration < time.Duration(o.rounds)*100*time.Millisecond:
		return o, errors.New("-duration must be at least 100ms per round")
	case o.bcryptCost < 4 || o.bcryptCost > 31:
		return o, errors.New("-bcrypt-cost must be from 4 to 31")
	case o.cards < 1:
		return o, errors.New("-cards must be at least 1")
	case o.floodRate < 1:
		return o, errors.New("-flood-me-rate must be at least 1")
	}
	if o.users == 0 {
		o.users = max(o.clients, 8)
	}
	if o.users < max(o.clients, 8) {
		// Each client carries its own user's token chain: two clients
		// refreshing one chain would be reuse, which ends the session.
		return o, errors.New("-users must be at least 8 and at least -clients")
	}
	if only != "" {
		o.only = map[string]bool{}
		for _, name := range splitComma(only) {
			if scenarioByName(name) == nil {
				return o, fmt.Errorf("-only: unknown scenario %q", name)
			}
			o.only[name] = true
		}
	}
	return o, nil
}

// run is the whole driver: it returns errRunFailed, after printing the
// report, when some answer was not the one expected.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	if o.profileDir != "" {
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			return fmt.Errorf("-profile: %w", err)
		}
	}
	tmp, err := os.MkdirTemp("", "corkboard-load-")
	if err != nil {
		return fmt.Errorf("making a temporary directory: %w", err)
	}
	if o.keep {
		fmt.Fprintf(stderr, "keeping the servers' logs and data in %s\n", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}

	rep := newReport(o)
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }

	bin := o.bin
	if bin == "" {
		logf("building corkboard…")
		if bin, err = buildCorkboard(ctx, o.repo, tmp); err != nil {
			return err
		}
	}

	stores := []string{"file"}
	if o.mongoURI != "" {
		stores = append(stores, "mongo")
	}
	var runs []*storeRun
	defer func() {
		for _, sr := range runs {
			sr.stop(ctx, o, logf)
		}
	}()
	for _, store := range stores {
		sr, err := startStore(ctx, o, bin, store, tmp, logf)
		if err != nil {
			return fmt.Errorf("store %s: %w", store, err)
		}
		runs = append(runs, sr)
	}
	// The baselines send the requests of the first store's clients, with
	// their tokens, and answer its /me body.
	bl, err := startBaselines(ctx, o, runs[0].fx, tmp)
	if err != nil {
		return fmt.Errorf("baselines: %w", err)
	}
	defer bl.stop()

	// Round after round, every scenario on every store and then every
	// baseline runs for one slice, and each one's slices add up: a
	// scenario and its baseline are measured in the same minutes, not one
	// at the start of the run and the other at its end.
	slice := o.duration / time.Duration(o.rounds)
	for round := range o.rounds {
		for _, sr := range runs {
			if err := sr.runRound(ctx, o, round, slice, logf); err != nil {
				return fmt.Errorf("store %s: %w", sr.report.Store, err)
			}
		}
		if err := bl.runRound(ctx, o, round, slice, logf); err != nil {
			return fmt.Errorf("baselines: %w", err)
		}
	}
	for _, sr := range runs {
		if err := sr.finish(ctx, o, logf); err != nil {
			return fmt.Errorf("store %s: %w", sr.report.Store, err)
		}
		rep.Stores = append(rep.Stores, sr.report)
	}
	rep.Baselines = bl.results
	rep.finish()

	rep.writeTable(stdout)
	if o.jsonPath != "" {
		if err := rep.writeJSON(o.jsonPath); err != nil {
			return err
		}
	}
	if o.svgPath != "" {
		if err := rep.writeSVG(o.svgPath); err != nil {
			return err
		}
	}
	if rep.Failed {
		return errRunFailed
	}
	return nil
}

// storeRun is corkboard running on one store, with the data the driver
// set up on it and what its scenarios measured so far.
type storeRun struct {
	srv    *server
	fx     *fixture
	report storeReport
	// commands and sent add up, per scenario, the MongoDB commands
	// corkboard sent and the requests the scenario sent, over the rounds.
	commands, sent map[string]int64
}

// startStore starts corkboard on one store and sets up its data: the
// baselines send the same requests, and the bare one answers its /me body
// byte for byte.
func startStore(ctx context.Context, o options, bin, store, tmp string, logf func(string, ...any)) (*storeRun, error) {
	srv, err := startCorkboard(ctx, bin, store, o, tmp)
	if err != nil {
		return nil, err
	}
	sr := &storeRun{srv: srv, report: storeReport{Store: store}, commands: map[string]int64{}, sent: map[string]int64{}}
	logf("%s store: corkboard pid %d at %s; setting up %d users and a board of %d cards…", store, srv.pid(), srv.url, o.users, o.cards)
	fx, err := setup(ctx, srv.url, o)
	if err != nil {
		err = fmt.Errorf("setting up the data: %w\nthe server's last log lines:\n%s", err, srv.logTail())
		sr.stop(ctx, o, logf)
		return nil, err
	}
	sr.fx = fx
	sr.report.MeBytes, sr.report.BoardBytes = len(fx.meBody), len(fx.boardBody)
	return sr, nil
}

// runRound runs every scenario on the store for one slice, adding what it
// measured to the scenario's result. Profiles, with -profile, are taken in
// the first round.
func (sr *storeRun) runRound(ctx context.Context, o options, round int, slice time.Duration, logf func(string, ...any)) error {
	store, srv := sr.report.Store, sr.srv
	i := 0
	for _, sc := range scenarios {
		if o.only != nil && !o.only[sc.name] {
			continue
		}
		logf("%s store: %s, %d clients for %v (round %d of %d)…", store, sc.name, o.clients, slice, round+1, o.rounds)
		cmds0, err := srv.mongoCommands(ctx)
		if err != nil {
			return err
		}
		profiled := make(chan error, 1)
		if o.profileDir != "" && round == 0 {
			// A whole number of seconds, ending before the slice does
			// when it is longer than two.
			secs := max(1, int(slice.Seconds())-1)
			go func() { profiled <- srv.profile(ctx, o.profileDir, store+"-"+sc.name, secs) }()
		} else {
			profiled <- nil
		}
		dir := ""
		if round == 0 {
			dir = o.profileDir
		}
		stopDriver, err := profileDriver(dir, store+"-"+sc.name)
		if err != nil {
			<-profiled
			return fmt.Errorf("profiling the driver: %w", err)
		}
		res := drive(ctx, srv.url, sr.fx, o.clients, slice, sc.step, nil)
		if err := stopDriver(); err != nil {
			<-profiled
			return fmt.Errorf("profiling the driver: %w", err)
		}
		if err := <-profiled; err != nil {
			return fmt.Errorf("profiling %s: %w", sc.name, err)
		}
		cmds1, err := srv.mongoCommands(ctx)
		if err != nil {
			return err
		}
		sr.commands[sc.name] += cmds1 - cmds0
		sr.sent[sc.name] += int64(res.Requests + res.Busy + res.Failures)
		res.Name, res.Baseline = sc.name, sc.baseline
		if store == "file" {
			res.Target = sc.target
		}
		res.PeakRSS = srv.peakRSS()
		if i == len(sr.report.Scenarios) {
			sr.report.Scenarios = append(sr.report.Scenarios, result{})
		}
		sr.report.Scenarios[i].add(res)
		i++
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if srv.exited() {
		return fmt.Errorf("corkboard exited during the run; its last log lines:\n%s", srv.logTail())
	}
	return nil
}

// finish computes the commands per request, runs the flood comparison
// with -p99-during-flood, and takes the peak RSS.
func (sr *storeRun) finish(ctx context.Context, o options, logf func(string, ...any)) error {
	for i := range sr.report.Scenarios {
		sc := &sr.report.Scenarios[i]
		if sent, cmds := sr.sent[sc.Name], sr.commands[sc.Name]; sent > 0 && cmds > 0 {
			sc.CommandsPerRequest = float64(cmds) / float64(sent)
		}
	}
	if o.flood {
		logf("%s store: /me p99 alone, then during a login flood…", sr.report.Store)
		sr.report.Flood = floodCompare(ctx, sr.srv.url, sr.fx, o)
	}
	sr.report.PeakRSS = sr.srv.peakRSS()
	if sr.srv.exited() {
		return fmt.Errorf("corkboard exited during the run; its last log lines:\n%s", sr.srv.logTail())
	}
	return nil
}

// stop stops corkboard and drops its MongoDB database, unless -keep.
func (sr *storeRun) stop(ctx context.Context, o options, logf func(string, ...any)) {
	sr.srv.stop()
	if o.keep {
		return
	}
	if err := sr.srv.dropDatabase(context.WithoutCancel(ctx)); err != nil {
		logf("%s store: %v", sr.report.Store, err)
	}
}
