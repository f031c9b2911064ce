package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"corkboard/auth"
	"corkboard/auth/authhttp"
	"corkboard/board"
	"corkboard/board/boardhttp"
	"corkboard/filestore"
	"corkboard/gcpace"
	"corkboard/mongostore"
	"corkboard/user"
	"corkboard/user/userhttp"
	"corkboard/web"
)

// run is the whole program; main only calls it. Everything it touches comes
// in as an argument, so tests can run it like a user would.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	cmd, rest := "serve", args[1:]
	if len(rest) > 0 && (rest[0] == "serve" || rest[0] == "export" || rest[0] == "import" || rest[0] == "healthcheck") {
		cmd, rest = rest[0], rest[1:]
	}
	dotenv, err := readDotenv(".env")
	if err != nil {
		return err
	}
	cfg, err := loadConfig(rest, getenv, dotenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil // -h: the usage is printed, nothing else to do
	}
	if err != nil {
		return err
	}
	if cfg.version {
		fmt.Fprintln(stdout, versionLine(debug.ReadBuildInfo()))
		return nil
	}
	logOut := stderr
	if f, ok := stderr.(*os.File); ok {
		// The process's own stderr (a file, a pipe to journald): lines
		// logged at once share a write (see web.LogWriter). Any other
		// writer (a test's buffer) gets each line as it is logged.
		lw := web.NewLogWriter(f)
		defer lw.Close()
		logOut = lw
	}
	log := slog.New(web.RequestIDs(web.NewTextHandler(logOut)))

	switch cmd {
	case "export":
		// An export only reads: it must not compact either, which would
		// write new files into the data directory, owned by whoever runs
		// the export (root, say) and not by the service's user.
		cfg.noCompaction = true
		return transfer(ctx, cfg, log, "exported", func(st store) (counts, error) { return exportStore(ctx, st, stdout, log) })
	case "healthcheck":
		return healthcheck(ctx, cfg, stdout)
	case "import":
		return transfer(ctx, cfg, log, "imported", func(st store) (counts, error) { return importStore(ctx, st, stdin, log) })
	default:
		return serve(ctx, cfg, log)
	}
}

// transfer opens the configured store, runs an export or import on it,
// and logs what it moved.
func transfer(ctx context.Context, cfg config, log *slog.Logger, verb string, move func(store) (counts, error)) error {
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	moved, err := move(st)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s %v, then: %w", verb, moved, err)
	}
	log.Info(verb, "store", cfg.store, "records", moved)
	return nil
}

// store is everything corkboard keeps, whichever backend keeps it.
type store interface {
	user.Store
	auth.SessionStore
	auth.TokenStore
	user.FileStore
	board.Store
	// SweepOrphanFiles removes from bucket the files written before the
	// time given that keep says no record points at.
	SweepOrphanFiles(ctx context.Context, bucket string, keep func(id string) bool, before time.Time) (int, error)
	// Check reports whether the store can serve requests, for /healthz.
	Check(ctx context.Context) error
	Close() error
}

// openStore opens the configured store.
func openStore(ctx context.Context, cfg config, log *slog.Logger) (store, error) {
	switch cfg.store {
	case "mongo":
		return mongostore.Open(ctx, cfg.mongoURI, cfg.mongoDB, mongostore.Options{Logger: log, Commands: mongoCommands()})
	default:
		return filestore.Open(cfg.dataDir, filestore.Options{Logger: log, CompactBytes: int64(cfg.compactBytes), NoCompaction: cfg.noCompaction})
	}
}

// app holds the services and the handlers the routes are built from.
type app struct {
	cfg        config
	log        *slog.Logger
	store      store
	sessions   *authhttp.Handlers
	users      *userhttp.Handlers
	boards     *boardhttp.Handlers
	limits     limits
	sessionSvc *auth.Service // for the sweep of expired sessions
	userSvc    *user.Service // for the sweep of expired tokens, and shutdown
	boardSvc   *board.Service
	mail       *auth.MailQueue
	passwords  *auth.Passwords // its threads stop at close
}

// limits are the per-client-address request limits of API.md §3, applied
// as middleware in routes(). Each is nil when RATE_LIMITS=off.
type limits struct {
	signup auth.RateLimiter // 20 sign-ups per client IP per hour
	login  auth.RateLimiter // 30 login requests per client IP per minute
	forgot auth.RateLimiter // 5 forgotten-password requests per client IP per 15 minutes
}

// sharedLimits is a store that keeps rate limits for every instance using
// it (mongostore): several corkboard processes on one MongoDB count
// against one limit, so that three instances do not give an attacker three
// times the guesses. The file store is one process's alone (its directory
// is locked), so its limits stay in memory.
type sharedLimits interface {
	RateLimiter(name string, max int, window time.Duration) auth.RateLimiter
	// SweepRateLimits deletes the counts of windows ended by now.
	SweepRateLimits(ctx context.Context, now time.Time) (int, error)
}

// newLimiter returns how the app makes its rate limiters over st: in st
// when it keeps them for every instance, else in memory.
func newLimiter(st store) auth.NewRateLimiter {
	if shared, ok := st.(sharedLimits); ok {
		return shared.RateLimiter
	}
	return auth.MemoryLimiters
}

// bcryptWorker makes the command of the bcrypt worker process: the binary
// itself, set by main. Tests that call run in their own process leave it
// nil, and the bcrypt threads then run in that process.
var bcryptWorker func() *exec.Cmd

// newApp wires the services over an open store. now is the clock.
func newApp(cfg config, st store, now func() time.Time, log *slog.Logger) (*app, error) {
	// bcrypt at cost 10 takes tens of milliseconds of CPU per call: it may
	// use every core, but only the cores nothing else wants (see
	// auth.StartPasswords).
	var worker *auth.WorkerProcess
	if bcryptWorker != nil {
		worker = &auth.WorkerProcess{Command: bcryptWorker, Log: log}
	}
	passwords, err := auth.StartPasswords(cfg.bcryptCost, auth.MaxPasswordWait, worker)
	if err != nil {
		return nil, err
	}
	adm := passwords.Admission()
	switch {
	case adm.Lending && adm.WorkerPID != 0:
		log.Info("bcrypt admission: lending idle cores", "slots", adm.Slots, "normal_threads", adm.Normal, "lent_threads", adm.Lent, "worker_pid", adm.WorkerPID, "why", adm.Reason)
	case adm.Lending:
		log.Info("bcrypt admission: lending idle cores", "slots", adm.Slots, "normal_threads", adm.Normal, "lent_threads", adm.Lent, "why", adm.Reason)
	default:
		log.Info("bcrypt admission: holding a core back", "slots", adm.Slots, "why", adm.Reason)
	}
	sessionSvc := auth.NewService(auth.Config{
		AccessSecret:  cfg.accessSecret,
		RefreshSecret: cfg.refreshSecret,
		AccessTTL:     cfg.accessTTL,
		RefreshTTL:    cfg.refreshTTL,
		ReuseGrace:    cfg.reuseGrace,
	}, st, user.Accounts(st), now, log)
	mailer, err := newMailer(cfg, log)
	if err != nil {
		passwords.Close()
		return nil, err
	}
	mail := auth.NewMailQueue(mailer, log)
	// Boards know of users (members, invitees); users know of boards only
	// as a Forgetter, told of every deleted account.
	crash := crashHook(cfg.crashAt)
	boardSvc := board.NewService(board.Deps{Store: st, Users: st, Files: st, AfterStep: crash}, now, log)
	userSvc := user.NewService(user.Config{
		AdminEmails: cfg.adminEmails,
		RateLimits:  cfg.rateLimits,
		ResetURL:    cfg.resetURL,
		VerifyURL:   cfg.verifyURL,
		ResetTTL:    cfg.resetTTL,
		VerifyTTL:   cfg.verifyTTL,
	}, user.Deps{Store: st, Tokens: st, Sessions: sessionSvc, Passwords: passwords, Mail: mail, Files: st,
		Forgetters: []user.Forgetter{boardSvc}, Limiters: newLimiter(st), AfterStep: crash}, now, log)

	sessionRoutes := authhttp.New(authhttp.Config{
		CookieSecure:   cfg.cookieSecure,
		CookieSameSite: cfg.cookieSameSite,
		Origins:        cfg.corsOrigins,
		TrustProxy:     cfg.trustProxy,
	}, sessionSvc, log)
	a := &app{
		cfg:        cfg,
		log:        log,
		store:      st,
		sessions:   sessionRoutes,
		users:      userhttp.New(userSvc, sessionRoutes, log),
		boards:     boardhttp.New(boardSvc, log),
		sessionSvc: sessionSvc,
		userSvc:    userSvc,
		boardSvc:   boardSvc,
		mail:       mail,
		passwords:  passwords,
	}
	if cfg.rateLimits {
		limiter := newLimiter(st)
		a.limits = limits{
			signup: limiter("signup-ip", 20, time.Hour),
			login:  limiter("login-ip", 30, time.Minute),
			forgot: limiter("forgot-ip", 5, 15*time.Minute),
		}
	}
	return a, nil
}

// crashHook returns the test hook of CORKBOARD_TEST_CRASH_AT: when a
// deletion cascade reaches the step it names (for example
// "user-delete:after-forget"; see user.Deps.AfterStep and
// board.Deps.AfterStep), the process kills itself with SIGKILL, as a crash
// there would. The crash tests use it to stop a cascade at a known point.
// Unset (the normal case) it is nil, and nothing is called.
func crashHook(at string) func(step string) {
	if at == "" {
		return nil
	}
	return func(step string) {
		if step == at {
			syscall.Kill(syscall.Getpid(), syscall.SIGKILL)
		}
	}
}

// newMailer returns the SMTP mailer when SMTP_HOST is set, else the
// development outbox under DATA_DIR/outbox.
func newMailer(cfg config, log *slog.Logger) (auth.Mailer, error) {
	if cfg.smtpHost == "" {
		return auth.NewOutbox(filepath.Join(cfg.dataDir, "outbox"), cfg.emailFrom, log)
	}
	return auth.NewSMTPMailer(auth.SMTPConfig{
		Host:     cfg.smtpHost,
		Port:     cfg.smtpPort,
		Username: cfg.smtpUsername,
		Password: cfg.smtpPassword,
		From:     cfg.emailFrom,
	})
}

// sweptBuckets are the file buckets the orphan sweep looks at. A bucket is
// swept only when it is listed here and the kinds of record that point into
// it are declared in exportKinds (whose files the sweep keeps): a bucket
// nobody declared is never emptied by mistake. Users point into pictures,
// boards into backgrounds and attachments.
var sweptBuckets = []string{user.PictureBucket, board.BackgroundBucket, board.AttachmentBucket}

// orphanAge is how old a file no record points at must be before a sweep
// removes it while the server runs: far older than any upload in flight,
// whose record is committed a moment after its bytes.
const orphanAge = time.Hour

// sweepOrphanFiles removes the files, written before the time given, that
// no record points at: a crash between storing an upload and committing
// its record, or between replacing a picture and deleting the old bytes,
// leaves such files, as does a deletion of bytes that failed. It runs at
// start and then with the other sweeps. File times are the wall clock's,
// whatever clock the app runs on.
func (a *app) sweepOrphanFiles(ctx context.Context, before time.Time) (int, error) {
	refs, err := referencedFiles(ctx, a.store)
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, bucket := range sweptBuckets {
		n, err := a.store.SweepOrphanFiles(ctx, bucket, func(id string) bool { return refs[fileRef{bucket, id}] }, before)
		removed += n
		if err != nil {
			return removed, err
		}
	}
	return removed, nil
}

// startupSweepBefore is the age bound of the sweep at start: the file store
// is this process's alone (its directory is locked) and nothing is being
// uploaded yet, so every orphan goes; on MongoDB other instances may be
// uploading, so only old orphans do.
func (a *app) startupSweepBefore() time.Time {
	if a.cfg.store == "file" {
		return time.Now()
	}
	return time.Now().Add(-orphanAge)
}

// referencedFiles returns every file a record points at, as the kinds of
// record an export carries declare them (exportKinds): one list of what
// points at files serves both the export and the sweep, so that a kind
// whose files travel (a board's background and attachments) also keeps
// them at start. Every stored record counts, even one that an export
// would leave out (a board whose owner is gone): its files go when it
// does, not before. The one exception is a user being deleted, whom
// EachUser does not list: their picture is on its way out with them.
func referencedFiles(ctx context.Context, st store) (map[fileRef]bool, error) {
	refs := make(map[fileRef]bool)
	for _, k := range exportKinds {
		err := k.items(ctx, st, func(it item) error {
			for _, f := range it.files {
				refs[f] = true
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return refs, nil
}

// close ends the app's background work within ctx: password reset
// requests still being looked up, then the mail queue, which delivers what
// it holds while ctx lasts and logs what it could not. The bcrypt threads
// stop once the reset requests are done with them.
func (a *app) close(ctx context.Context) {
	if err := a.userSvc.Wait(ctx); err != nil {
		a.log.Warn("password reset requests still in flight at shutdown", "error", err)
	}
	a.passwords.Close()
	if err := a.mail.Close(ctx); err != nil {
		a.log.Warn("mail queue not drained at shutdown", "error", err)
	}
}

// sweepEvery removes expired sessions and one-time tokens now and then
// every interval, until ctx is done. Every sweep is idempotent, so each
// instance sharing a MongoDB runs them all.
func (a *app) sweepEvery(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	sweeps := map[string]func(context.Context) (int, error){
		"expired sessions": a.sessionSvc.SweepExpired, "expired one-time tokens": a.userSvc.SweepTokens,
		"interrupted account deletions": func(ctx context.Context) (int, error) {
			return a.userSvc.FinishDeletions(ctx, time.Now().Add(-deletionGrace))
		},
		"interrupted board deletions": func(ctx context.Context) (int, error) {
			return a.boardSvc.FinishDeletions(ctx, time.Now().Add(-deletionGrace))
		},
		"notifications about deleted boards": a.boardSvc.SweepNotifications,
		"files no record points at": func(ctx context.Context) (int, error) {
			return a.sweepOrphanFiles(ctx, time.Now().Add(-orphanAge))
		},
	}
	if shared, ok := a.store.(sharedLimits); ok {
		// A server without TTL indexes (FerretDB) keeps ended windows'
		// counts until this sweep; the TTL monitor of MongoDB may lag.
		sweeps["rate-limit counts of ended windows"] = func(ctx context.Context) (int, error) {
			return shared.SweepRateLimits(ctx, a.sessionSvc.Now())
		}
	}
	for {
		for what, sweep := range sweeps {
			n, err := sweep(ctx)
			switch {
			case err != nil && ctx.Err() == nil:
				a.log.Warn("sweeping "+what+" failed", "error", err)
			case n > 0:
				a.log.Info("swept "+what, "count", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// deletionGrace is how long ago an account or board deletion must have begun for the
// periodic sweep to finish it: a younger one is most likely still running
// in its request, here or on another instance. Finishing it twice would be
// harmless (every step may be repeated), only wasted work. At start there
// is no such wait.
const deletionGrace = time.Minute

// finishInterrupted finishes, at start, what a crash interrupted before the
// server takes requests: every account and board deletion begun and not
// ended, then the notifications about boards that are gone. The orphan
// sweep runs after it, so that the files those cascades let go of are
// counted too.
func (a *app) finishInterrupted(ctx context.Context) error {
	if n, err := a.userSvc.FinishDeletions(ctx, time.Now()); err != nil {
		return fmt.Errorf("finishing interrupted account deletions: %w", err)
	} else if n > 0 {
		a.log.Info("finished interrupted account deletions", "count", n)
	}
	if n, err := a.boardSvc.FinishDeletions(ctx, time.Now()); err != nil {
		return fmt.Errorf("finishing interrupted board deletions: %w", err)
	} else if n > 0 {
		a.log.Info("finished interrupted board deletions", "count", n)
	}
	if n, err := a.boardSvc.SweepNotifications(ctx); err != nil {
		return fmt.Errorf("sweeping notifications about deleted boards: %w", err)
	} else if n > 0 {
		a.log.Info("removed notifications about deleted boards", "count", n)
	}
	return nil
}

// storeClock is the wall clock at the precision both stores keep
// (MongoDB dates hold milliseconds), so a time read back from either store
// equals the time written.
func storeClock() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// The shutdown budget (README "Stopping the server"): from SIGTERM to the
// exit takes at most shutdownBudget. Requests still sending their bodies
// cutReadsAfter the signal (slow uploads) are cut short with a 503 problem;
// requests are waited for until httpBudget; the mail queue, which has
// been delivering all along, then gets what is left of the budget but
// closeMargin, kept for closing the store.
const (
	shutdownBudget = 10 * time.Second
	cutReadsAfter  = 5 * time.Second
	httpBudget     = 7 * time.Second
	closeMargin    = 500 * time.Millisecond
)

// httpServer returns the HTTP server of the app, with its timeouts and its
// header limit set (README "Security"): a client that sends its headers or
// its body slowly, or never reads its answer, is cut off instead of holding
// a goroutine and a connection, and one that sends more than 64 KiB of
// headers (tokens are at most 8 KiB) gets a 431 before any handler runs.
func (a *app) httpServer() *http.Server {
	l := a.cfg.server
	return &http.Server{
		Handler:           a.routes(),
		ReadHeaderTimeout: l.readHeader,
		ReadTimeout:       l.read,
		WriteTimeout:      l.write,
		IdleTimeout:       l.idle,
		MaxHeaderBytes:    l.maxHeader,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
}

// gcRoom is the room every garbage collection leaves for new allocation
// while the server runs (gcpace.Room): a bounded amount of memory that
// spares a small live heap a collection every 4 MiB allocated.
const gcRoom = 32 << 20

// serve runs the HTTP server until ctx is cancelled (SIGINT, SIGTERM), then
// shuts down within shutdownBudget: it stops accepting connections, lets
// the requests in flight finish (cutting short the uploads still under way
// after cutReadsAfter), waits for password reset requests to have queued
// their mail, delivers the queued mail, and closes the store last, when
// nothing can write to it any more.
func serve(ctx context.Context, cfg config, log *slog.Logger) error {
	https, err := newHTTPS(cfg, log)
	if err != nil {
		return err
	}
	if https != nil && !cfg.cookieSecure {
		log.Warn("COOKIE_SECURE=false while serving HTTPS: browsers will send the refresh cookie over plain HTTP too")
	}
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	warning, err := ensureSecrets(&cfg)
	if err != nil {
		return err
	}
	if warning != "" {
		log.Warn(warning)
	}
	a, err := newApp(cfg, st, storeClock, log)
	if err != nil {
		return err
	}
	// On every early return too: the bcrypt threads and the Ps lent to
	// them belong to the process, which may run serve again (tests do).
	// A second Close, after a.close, does nothing.
	defer a.passwords.Close()
	if err := user.EnsureAdmins(ctx, st, st, cfg.adminEmails, storeClock()); err != nil {
		return fmt.Errorf("granting admin roles: %w", err)
	}
	if err := a.finishInterrupted(ctx); err != nil {
		return err
	}
	if n, err := a.sweepOrphanFiles(ctx, a.startupSweepBefore()); err != nil {
		return fmt.Errorf("sweeping orphan files: %w", err)
	} else if n > 0 {
		log.Info("removed files no record points at", "files", n)
	}

	if cfg.debugAddr != "" {
		debugLn, err := net.Listen("tcp", cfg.debugAddr)
		if err != nil {
			return fmt.Errorf("listening for profiles (DEBUG_ADDR): %w", err)
		}
		// Sample lock contention for /debug/pprof/mutex, which is empty
		// otherwise: one contended unlock in mutexProfileRate is recorded,
		// cheap enough for a server being profiled, and only then.
		prev := runtime.SetMutexProfileFraction(mutexProfileRate)
		defer runtime.SetMutexProfileFraction(prev)
		dbg := debugServer()
		// Closed, not drained, when serve returns: a profile under way is
		// of no use once the program stops.
		defer dbg.Close()
		go dbg.Serve(debugLn)
		log.Info("serving profiles and counters", "addr", debugLn.Addr().String())
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	drain := web.NewDrain()
	srv := a.httpServer()
	srv.Handler = drain.Wrap(srv.Handler)
	errorLog := srv.ErrorLog
	servers := []*http.Server{srv}
	serveFuncs := []func() error{func() error { return srv.Serve(ln) }}
	mode := "off"
	if https != nil {
		mode = "certificate files"
		srv.TLSConfig = https.tls
		serveFuncs[0] = func() error { return srv.ServeTLS(ln, "", "") }
	}
	if https != nil && https.plain != nil {
		mode = "acme"
		plainLn, err := net.Listen("tcp", cfg.acmeHTTPAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("listening for ACME HTTP-01 challenges (ACME_HTTP_ADDR): %w", err)
		}
		// This port only answers challenges and redirects: short limits.
		plain := &http.Server{
			Handler:           https.plain,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      10 * time.Second,
			IdleTimeout:       30 * time.Second,
			ErrorLog:          errorLog,
		}
		servers = append(servers, plain)
		serveFuncs = append(serveFuncs, func() error { return plain.Serve(plainLn) })
		log.Info("answering ACME challenges and redirecting to HTTPS", "addr", plainLn.Addr().String(), "domains", cfg.acmeDomains)
	}
	sweepCtx, stopSweep := context.WithCancel(context.Background())
	defer stopSweep()
	sweepDone := make(chan struct{})
	go func() { defer close(sweepDone); a.sweepEvery(sweepCtx, 10*time.Minute) }()

	// A server's live heap is small next to what its requests allocate:
	// without room the collector would run every 4 MiB (see gcpace).
	stopRoom, paced := gcpace.Room(gcRoom)
	defer stopRoom()
	gcNote := "GOGC from the environment"
	if paced {
		gcNote = fmt.Sprintf("%dMiB", gcRoom>>20)
	}
	log.Info("listening", "addr", ln.Addr().String(), "store", cfg.store, "https", mode, "gc_room", gcNote)
	errc := make(chan error, len(serveFuncs))
	for _, serve := range serveFuncs {
		go func() { errc <- serve() }()
	}
	select {
	case err := <-errc:
		for _, s := range servers {
			s.Close()
		}
		return err
	case <-ctx.Done():
	}
	signalled := time.Now()
	log.Info("shutting down", "budget", shutdownBudget)
	stopSweep()
	cut := time.AfterFunc(cutReadsAfter, func() {
		if n := drain.CutReads(); n > 0 {
			log.Warn("cut short the uploads still under way at shutdown", "requests", n)
		}
	})
	httpCtx, cancelHTTP := context.WithDeadline(context.Background(), signalled.Add(httpBudget))
	defer cancelHTTP()
	for _, s := range servers {
		if err := s.Shutdown(httpCtx); err != nil {
			// What is still running now would outlive the budget: its
			// connections are closed unanswered.
			log.Warn("in-flight requests did not finish in time; closing their connections", "error", err)
			s.Close()
		}
	}
	cut.Stop()
	for range serveFuncs {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	closeCtx, cancelClose := context.WithDeadline(context.Background(), signalled.Add(shutdownBudget-closeMargin))
	defer cancelClose()
	// A sweep under way (it stops between deletions, and each step of a
	// deletion is short) ends before the store closes under it.
	select {
	case <-sweepDone:
	case <-closeCtx.Done():
		log.Warn("a sweep was still running at shutdown; the next start finishes what it left")
	}
	a.close(closeCtx)
	if err := st.Close(); err != nil {
		return fmt.Errorf("closing the store: %w", err)
	}
	log.Info("stopped", "took", time.Since(signalled).Round(time.Millisecond))
	return nil
}
