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
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (the servers' logs and data) and print where it is")
	fs.StringVar(&o.profileDir, "profile", "", "save corkboard's CPU and allocation profiles of each scenario into this directory (STORE-SCENARIO-cpu.pprof, …-allocs.pprof)")
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
	case o.duration < 100*time.Millisecond:
		return o, errors.New("-duration must be at least 100ms")
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
	var fx *fixture
	for _, store := range stores {
		sr, f, err := runStore(ctx, o, bin, store, tmp, logf)
		if err != nil {
			return fmt.Errorf("store %s: %w", store, err)
		}
		if fx == nil {
			fx = f
		}
		rep.Stores = append(rep.Stores, sr)
	}

	// The baselines send the requests of the first store's clients, with
	// their tokens, and answer its /me body.
	bl, err := runBaselines(ctx, o, fx, tmp, logf)
	if err != nil {
		return fmt.Errorf("baselines: %w", err)
	}
	rep.Baselines = bl
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

// runStore starts corkboard on one store, sets up its data, and runs every
// scenario on it. It returns the data it set up: the baselines send the
// same requests, and the bare one answers its /me body byte for byte.
func runStore(ctx context.Context, o options, bin, store, tmp string, logf func(string, ...any)) (storeReport, *fixture, error) {
	sr := storeReport{Store: store}
	srv, err := startCorkboard(ctx, bin, store, o, tmp)
	if err != nil {
		return sr, nil, err
	}
	defer func() {
		srv.stop()
		if o.keep {
			return
		}
		if err := srv.dropDatabase(context.WithoutCancel(ctx)); err != nil {
			logf("%s store: %v", store, err)
		}
	}()
	logf("%s store: corkboard pid %d at %s; setting up %d users and a board of %d cards…", store, srv.pid(), srv.url, o.users, o.cards)
	fx, err := setup(ctx, srv.url, o)
	if err != nil {
		return sr, nil, fmt.Errorf("setting up the data: %w\nthe server's last log lines:\n%s", err, srv.logTail())
	}
	sr.MeBytes, sr.BoardBytes = len(fx.meBody), len(fx.boardBody)
	for _, sc := range scenarios {
		if o.only != nil && !o.only[sc.name] {
			continue
		}
		logf("%s store: %s, %d clients for %v…", store, sc.name, o.clients, o.duration)
		cmds0, err := srv.mongoCommands(ctx)
		if err != nil {
			return sr, nil, err
		}
		profiled := make(chan error, 1)
		if o.profileDir != "" {
			// A whole number of seconds, ending before the scenario does.
			secs := max(1, int(o.duration.Seconds())-1)
			go func() { profiled <- srv.profile(ctx, o.profileDir, store+"-"+sc.name, secs) }()
		} else {
			profiled <- nil
		}
		res := drive(ctx, srv.url, fx, o.clients, o.duration, sc.step, nil)
		if err := <-profiled; err != nil {
			return sr, nil, fmt.Errorf("profiling %s: %w", sc.name, err)
		}
		cmds1, err := srv.mongoCommands(ctx)
		if err != nil {
			return sr, nil, err
		}
		if sent := res.Requests + res.Busy + res.Failures; sent > 0 && cmds1 > cmds0 {
			res.CommandsPerRequest = float64(cmds1-cmds0) / float64(sent)
		}
		res.Name, res.Baseline = sc.name, sc.baseline
		if store == "file" {
			res.Target = sc.target
		}
		res.PeakRSS = srv.peakRSS()
		sr.Scenarios = append(sr.Scenarios, res)
		if ctx.Err() != nil {
			return sr, nil, ctx.Err()
		}
	}
	if o.flood {
		logf("%s store: /me p99 alone, then during a login flood…", store)
		sr.Flood = floodCompare(ctx, srv.url, fx, o)
	}
	sr.PeakRSS = srv.peakRSS()
	if srv.exited() {
		return sr, nil, fmt.Errorf("corkboard exited during the run; its last log lines:\n%s", srv.logTail())
	}
	return sr, fx, nil
}
