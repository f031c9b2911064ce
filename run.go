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
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"corkboard/auth"
	"corkboard/auth/authhttp"
	"corkboard/board"
	"corkboard/board/boardhttp"
	"corkboard/filestore"
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
	if len(rest) > 0 && (rest[0] == "serve" || rest[0] == "export" || rest[0] == "import") {
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
	log := slog.New(web.RequestIDs(slog.NewTextHandler(stderr, nil)))

	switch cmd {
	case "export":
		return transfer(ctx, cfg, log, "exported", func(st store) (counts, error) { return exportStore(ctx, st, stdout, log) })
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
		return mongostore.Open(ctx, cfg.mongoURI, cfg.mongoDB, mongostore.Options{Logger: log})
	default:
		return filestore.Open(cfg.dataDir, filestore.Options{Logger: log})
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
}

// limits are the per-client-address request limits of API.md §3, applied
// as middleware in routes(). Each is nil when RATE_LIMITS=off.
type limits struct {
	signup *auth.Limiter // 20 sign-ups per client IP per hour
	login  *auth.Limiter // 30 login requests per client IP per minute
	forgot *auth.Limiter // 5 forgotten-password requests per client IP per 15 minutes
}

// newApp wires the services over an open store. now is the clock.
func newApp(cfg config, st store, now func() time.Time, log *slog.Logger) (*app, error) {
	// Leave a core for everything else: bcrypt at cost 10 takes tens of
	// milliseconds of CPU per call.
	passwords, err := auth.NewPasswords(cfg.bcryptCost, runtime.GOMAXPROCS(0)-1, auth.MaxPasswordWait)
	if err != nil {
		return nil, err
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
		return nil, err
	}
	mail := auth.NewMailQueue(mailer, log)
	// Boards know of users (members, invitees); users know of boards only
	// as a Forgetter, told of every deleted account.
	boardSvc := board.NewService(board.Deps{Store: st, Users: st, Files: st}, now, log)
	userSvc := user.NewService(user.Config{
		AdminEmails: cfg.adminEmails,
		RateLimits:  cfg.rateLimits,
		ResetURL:    cfg.resetURL,
		VerifyURL:   cfg.verifyURL,
		ResetTTL:    cfg.resetTTL,
		VerifyTTL:   cfg.verifyTTL,
	}, user.Deps{Store: st, Tokens: st, Sessions: sessionSvc, Passwords: passwords, Mail: mail, Files: st,
		Forgetters: []user.Forgetter{boardSvc}}, now, log)

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
	}
	if cfg.rateLimits {
		a.limits = limits{
			signup: auth.NewLimiter(20, time.Hour),
			login:  auth.NewLimiter(30, time.Minute),
			forgot: auth.NewLimiter(5, 15*time.Minute),
		}
	}
	return a, nil
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
// does, not before.
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
// it holds while ctx lasts and logs what it could not.
func (a *app) close(ctx context.Context) {
	if err := a.userSvc.Wait(ctx); err != nil {
		a.log.Warn("password reset requests still in flight at shutdown", "error", err)
	}
	if err := a.mail.Close(ctx); err != nil {
		a.log.Warn("mail queue not drained at shutdown", "error", err)
	}
}

// sweepEvery removes expired sessions and one-time tokens now and then
// every interval, until ctx is done.
func (a *app) sweepEvery(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for what, sweep := range map[string]func(context.Context) (int, error){
			"expired sessions": a.sessionSvc.SweepExpired, "expired one-time tokens": a.userSvc.SweepTokens,
			"notifications about deleted boards": a.boardSvc.SweepNotifications,
			"files no record points at": func(ctx context.Context) (int, error) {
				return a.sweepOrphanFiles(ctx, time.Now().Add(-orphanAge))
			},
		} {
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

// storeClock is the wall clock at the precision both stores keep
// (MongoDB dates hold milliseconds), so a time read back from either store
// equals the time written.
func storeClock() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

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

// serve runs the HTTP server until ctx is cancelled (SIGINT, SIGTERM), then
// stops accepting, lets in-flight requests finish for up to 10 s, and closes
// the store.
func serve(ctx context.Context, cfg config, log *slog.Logger) error {
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
	if err := user.EnsureAdmins(ctx, st, st, cfg.adminEmails, storeClock()); err != nil {
		return fmt.Errorf("granting admin roles: %w", err)
	}
	if n, err := a.sweepOrphanFiles(ctx, a.startupSweepBefore()); err != nil {
		return fmt.Errorf("sweeping orphan files: %w", err)
	} else if n > 0 {
		log.Info("removed files no record points at", "files", n)
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	srv := a.httpServer()
	sweepCtx, stopSweep := context.WithCancel(context.Background())
	defer stopSweep()
	go a.sweepEvery(sweepCtx, 10*time.Minute)

	log.Info("listening", "addr", ln.Addr().String(), "store", cfg.store)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Warn("in-flight requests did not finish in time", "error", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	stopSweep()
	a.close(shutdownCtx)
	if err := st.Close(); err != nil {
		return fmt.Errorf("closing the store: %w", err)
	}
	log.Info("stopped")
	return nil
}
