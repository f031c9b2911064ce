package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"corkboard/mongostore/mongotest"
	"corkboard/user/usertest"
)

// exitWithin is how long the process may take from SIGTERM to its exit
// (README "Stopping the server"): a bound from the contract, not a
// measure of speed.
const exitWithin = 10 * time.Second

// childProcess is a corkboard process the test started.
type childProcess struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	base   string // http://addr
	exited chan struct{}
	err    error // from Wait, once exited is closed
	at     time.Time
}

// startChild runs bin with env (and nothing of the test's environment but
// PATH) in a directory of its own, and waits until it listens.
func startChild(t *testing.T, bin string, env map[string]string) *childProcess {
	t.Helper()
	c := &childProcess{stderr: new(syncBuffer), exited: make(chan struct{})}
	c.cmd = exec.Command(bin, "-addr", "127.0.0.1:0")
	c.cmd.Dir = t.TempDir() // no .env of the repository is read
	c.cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		c.cmd.Env = append(c.cmd.Env, k+"="+v)
	}
	c.cmd.Stderr = c.stderr
	c.cmd.SysProcAttr = dieWithTest(c.cmd.SysProcAttr)
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	go func() {
		c.err = c.cmd.Wait()
		c.at = time.Now()
		close(c.exited)
	}()
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		<-c.exited
	})
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if m := listenRE.FindStringSubmatch(c.stderr.String()); m != nil {
			c.base = "http://" + m[1]
			return c
		}
		select {
		case <-c.exited:
			t.Fatalf("corkboard exited at start: %v\n%s", c.err, c.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("corkboard did not listen within 30 s:\n%s", c.stderr.String())
		}
	}
}

// stop sends SIGTERM and waits for the exit, failing the test unless the
// process exits with status 0 within exitWithin of the signal. It
// returns the time of the signal.
func (c *childProcess) stop(t *testing.T) time.Time {
	t.Helper()
	sent := time.Now()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	c.waitExit(t, sent)
	return sent
}

// waitExit waits for the exit after a SIGTERM sent at sent.
func (c *childProcess) waitExit(t *testing.T, sent time.Time) {
	t.Helper()
	select {
	case <-c.exited:
	case <-time.After(3 * exitWithin):
		t.Fatalf("corkboard still running %v after SIGTERM:\n%s", 3*exitWithin, c.stderr.String())
	}
	took := c.at.Sub(sent)
	t.Logf("exited %v after SIGTERM: %v", took.Round(time.Millisecond), c.err)
	if c.err != nil {
		t.Errorf("exit after SIGTERM: %v, want status 0; log:\n%s", c.err, c.stderr.String())
	}
	if took > exitWithin {
		t.Errorf("exit %v after SIGTERM, want within %v; log:\n%s", took, exitWithin, c.stderr.String())
	}
}

// TestShutdownUnderLoad runs the real program as a child process, puts
// requests of every kind in flight (slow sign-ups with pictures, logins,
// refreshes, card moves, board reads, slow file downloads, forgotten-
// password requests that queue mail to a slow SMTP server), and sends
// SIGTERM. Every request the server was handling gets its whole answer,
// every queued mail reaches the SMTP server, the process exits 0 within
// 10 s, and a restart on the same data shows every acknowledged write.
func TestShutdownUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the program")
	}
	bin := corkboardBinary(t)
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := map[string]string{
			"DATA_DIR":             t.TempDir(),
			"ACCESS_TOKEN_SECRET":  "test-access-secret-0123456789abcdef",
			"REFRESH_TOKEN_SECRET": "test-refresh-secret-0123456789abcdef",
			"BCRYPT_COST":          "10", // the real cost: logins take real CPU time
			"RATE_LIMITS":          "off",
			"COOKIE_SECURE":        "false",
			"EMAIL_FROM":           "corkboard@example.com",
		}
		if o.name == "mongo" {
			db := mongotest.NewDatabaseName(t)
			mongotest.OpenDatabase(t, db) // skips without MONGO_URI; drops db at the end
			env["STORE"], env["MONGO_URI"], env["MONGO_DB"] = "mongo", mongotest.URI(t), db
		}
		sink := startSMTPSink(t)
		sink.hold = make(chan struct{}) // mail piles up in the queue until the requests are done
		env["SMTP_HOST"], env["SMTP_PORT"] = "127.0.0.1", strconv.Itoa(sink.port())
		testShutdown(t, bin, env, sink)
	})
}

// shutdownUser is an account made before the load.
type shutdownUser struct {
	name, id, refresh string
	c                 *loadClient
	boardID           string
	lists             [2]string // two lists of the board
	cardID            string    // a card in lists[0]
}

func testShutdown(t *testing.T, bin string, env map[string]string, sink *smtpSink) {
	proc := startChild(t, bin, env)
	ctx := context.Background()
	must := func(o outcome, status int) outcome {
		t.Helper()
		if o.err != nil || o.status != status {
			t.Fatalf("%s; want %d", o, status)
		}
		return o
	}

	// Before the load: accounts, each with a board of two lists and a
	// card, and a large attachment and a picture to download.
	users := make([]*shutdownUser, 8)
	for i := range users {
		u := &shutdownUser{name: fmt.Sprintf("user%d", i), c: newLoadClient(proc.base)}
		var d authDoc
		must(u.c.send(ctx, request{method: "POST", path: "/api/auth/signup", body: map[string]any{
			"username": u.name, "email": u.name + "@example.com", "password": "password1", "returnRefreshToken": true,
		}}), 201).decode(&d)
		u.id, u.refresh, u.c.token = d.User.ID, d.RefreshToken, d.AccessToken
		var b struct{ Board boardDoc }
		must(u.c.send(ctx, request{method: "POST", path: "/api/boards", body: map[string]any{"title": "Board of " + u.name}}), 201).decode(&b)
		u.boardID = b.Board.ID
		for j := range u.lists {
			var l struct{ List boardListDoc }
			must(u.c.send(ctx, request{method: "POST", path: "/api/boards/" + u.boardID + "/lists", body: map[string]string{"name": fmt.Sprint("list ", j)}}), 201).decode(&l)
			u.lists[j] = l.List.ID
		}
		var c struct{ Card cardDoc }
		must(u.c.send(ctx, request{method: "POST", path: "/api/boards/" + u.boardID + "/lists/" + u.lists[0] + "/cards", body: map[string]string{"title": "card"}}), 201).decode(&c)
		u.cardID = c.Card.ID
		users[i] = u
	}
	big := usertest.PNG(t, 700, 700, 7) // about 2 MB of noise
	body, ct := multipartBody(t, part{name: "file", filename: "big.png", data: big})
	var att struct{ Attachment attachmentDoc }
	must(users[0].c.send(ctx, request{method: "POST", path: "/api/boards/" + users[0].boardID + "/cards/" + users[0].cardID + "/attachments", body: body, contentType: ct}), 201).decode(&att)
	attachmentPath := "/api/boards/" + users[0].boardID + "/cards/" + users[0].cardID + "/attachments/" + att.Attachment.ID
	body, ct = multipartBody(t, part{name: "picture", filename: "me.png", data: usertest.PNG(t, 64, 64, 1)})
	var me struct{ User userDoc }
	must(users[1].c.send(ctx, request{method: "PUT", path: "/api/users/" + users[1].id + "/picture", body: body, contentType: ct}), 200).decode(&me)
	picturePath := strings.TrimPrefix(me.User.PictureURL, proc.base)

	// The load. Slow requests (sign-ups with a picture sent over 3 s,
	// downloads read over 2 s) are all being handled when SIGTERM goes;
	// around them, workers send quick requests of every other kind
	// until the signal.
	var (
		mu       sync.Mutex
		results  []outcome
		signalAt atomic.Int64 // unix nanoseconds; 0 before the signal
		wg       sync.WaitGroup
		slow     sync.WaitGroup // the slow requests not yet handled
	)
	record := func(o outcome) {
		mu.Lock()
		results = append(results, o)
		mu.Unlock()
	}
	signalled := func() bool { return signalAt.Load() != 0 }

	type signup struct{ name, pictureURL string }
	var signups []signup
	for i := range 3 {
		name := fmt.Sprintf("late%d", i)
		body, ct := multipartBody(t,
			part{name: "username", data: []byte(name)}, part{name: "email", data: []byte(name + "@example.com")},
			part{name: "password", data: []byte("password1")},
			part{name: "picture", filename: "p.png", data: usertest.PNG(t, 250, 250, uint64(i))})
		slow.Add(1)
		wg.Go(func() {
			o := newLoadClient(proc.base).send(ctx, request{method: "POST", path: "/api/auth/signup",
				body: slowBody(body, 30, 100*time.Millisecond), contentType: ct, onHandled: slow.Done})
			record(o)
			var d authDoc
			if o.err == nil && o.status == 201 && o.decode(&d) == nil {
				mu.Lock()
				signups = append(signups, signup{name, d.User.PictureURL})
				mu.Unlock()
			}
		})
	}
	// A sign-up whose picture would take 40 s to arrive: it cannot finish
	// within the budget, and must get a whole answer all the same (503
	// shutting_down), and leave no account behind.
	var tooSlow outcome
	{
		body, ct := multipartBody(t,
			part{name: "username", data: []byte("tooslow")}, part{name: "email", data: []byte("tooslow@example.com")},
			part{name: "password", data: []byte("password1")},
			part{name: "picture", filename: "p.png", data: usertest.PNG(t, 250, 250, 9)})
		slow.Add(1)
		wg.Go(func() {
			tooSlow = newLoadClient(proc.base).send(ctx, request{method: "POST", path: "/api/auth/signup",
				body: slowBody(body, 400, 100*time.Millisecond), contentType: ct, onHandled: slow.Done})
		})
	}
	for range 3 {
		slow.Add(1)
		wg.Go(func() {
			o := users[0].c.send(ctx, request{method: "GET", path: attachmentPath, readSlowly: 50 * time.Millisecond, onHandled: slow.Done})
			if o.err == nil && o.status == 200 && string(o.body) != string(big) {
				o.err = fmt.Errorf("downloaded %d bytes that differ from the %d uploaded", len(o.body), len(big))
			}
			record(o)
		})
	}
	// loop runs one kind of quick request until the signal; each returns
	// false to stop early (its outcome was left unknown).
	loop := func(each func() bool) {
		wg.Go(func() {
			for !signalled() && each() {
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	var logins []string // refresh tokens of acknowledged logins
	for i := 2; i < 4; i++ {
		loop(func() bool {
			o := newLoadClient(proc.base).send(ctx, request{method: "POST", path: "/api/auth/login",
				body: map[string]any{"username": users[i].name, "password": "password1", "returnRefreshToken": true}})
			record(o)
			var d authDoc
			if o.err == nil && o.status == 200 && o.decode(&d) == nil {
				mu.Lock()
				logins = append(logins, d.RefreshToken)
				mu.Unlock()
			}
			return true
		})
	}
	chains := make([]string, 2) // the last acknowledged refresh token of two sessions, "" if unknown
	for i := range chains {
		chains[i] = users[4+i].refresh
		loop(func() bool {
			o := newLoadClient(proc.base).send(ctx, request{method: "POST", path: "/api/auth/refresh", body: map[string]string{"refreshToken": chains[i]}})
			record(o)
			var d tokenDoc
			if o.err != nil || o.status != 200 || o.decode(&d) != nil {
				chains[i] = "" // the rotation may or may not have happened
				return false
			}
			chains[i] = d.RefreshToken
			return true
		})
	}
	moved := make([]int, 2) // the list index each moved card was last acknowledged in, -1 if unknown
	for i := range moved {
		u := users[6+i]
		loop(func() bool {
			to := 1 - moved[i]
			o := u.c.send(ctx, request{method: "PATCH", path: "/api/boards/" + u.boardID + "/cards/" + u.cardID, body: map[string]any{"listId": u.lists[to], "position": 0}})
			record(o)
			if o.err != nil || o.status != 200 {
				moved[i] = -1
				return false
			}
			moved[i] = to
			return true
		})
	}
	loop(func() bool {
		record(users[0].c.send(ctx, request{method: "GET", path: "/api/boards/" + users[0].boardID}))
		return true
	})
	loop(func() bool {
		record(newLoadClient(proc.base).send(ctx, request{method: "GET", path: picturePath}))
		return true
	})
	forgot := make(map[string]int) // acknowledged requests per address
	for i := range 2 {
		email := users[i].name + "@example.com"
		loop(func() bool {
			o := newLoadClient(proc.base).send(ctx, request{method: "POST", path: "/api/auth/forgot-password", body: map[string]string{"email": email}})
			record(o)
			if o.err == nil && o.status == 202 {
				mu.Lock()
				forgot[email]++
				mu.Unlock()
			}
			time.Sleep(100 * time.Millisecond)
			return true
		})
	}

	slow.Wait()
	time.Sleep(time.Second) // the quick workers under way too
	signalAt.Store(time.Now().UnixNano())
	sent := time.Unix(0, signalAt.Load())
	if err := proc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	wg.Wait()
	// Every request has its answer (the last, cut short, came 5 s after
	// the signal). A second later, when corkboard is done with HTTP, the
	// mail server takes what corkboard still holds, which must all go out
	// before it exits.
	time.Sleep(time.Second)
	close(sink.hold)
	proc.waitExit(t, sent)

	// Every request the server was handling when the signal came has its
	// whole answer, and no answer at all is a server error.
	inFlight := make(map[string]int)
	for _, o := range results {
		wasHandled := !o.handled.IsZero() && o.handled.Before(sent)
		switch {
		case o.err != nil && wasHandled:
			t.Errorf("in flight at SIGTERM, but no whole answer: %s", o)
		case o.err == nil && o.status >= 500 && !(o.status == 503 && o.problemCode() == "busy"):
			t.Errorf("server error: %s", o)
		}
		if wasHandled {
			inFlight[requestKind(o)]++
		}
	}
	t.Logf("%d requests; handled before SIGTERM, by kind: %v", len(results), inFlight)
	if tooSlow.err != nil || tooSlow.status != 503 || tooSlow.problemCode() != "shutting_down" {
		t.Errorf("sign-up whose upload outlives the budget: %s; want a whole 503 shutting_down", tooSlow)
	}
	if len(signups) != 3 {
		t.Errorf("%d slow sign-ups acknowledged, want 3 (each was being handled at SIGTERM)", len(signups))
	}

	// Every mail queued reached the SMTP server before the exit: the
	// verification of each sign-up, the link of each acknowledged
	// forgotten-password request.
	for _, s := range signups {
		if n := len(sink.matching(s.name+"@example.com", "confirm your email")); n != 1 {
			t.Errorf("%d verification mails to %s, want 1", n, s.name)
		}
	}
	t.Logf("acknowledged forgotten-password requests: %v", forgot)
	for email, n := range forgot {
		if got := len(sink.matching(email, "reset your")); got != n {
			t.Errorf("%d reset mails to %s, want one per acknowledged request: %d", got, email, n)
		}
	}
	if t.Failed() {
		t.Logf("log of the stopped process:\n%s", proc.stderr.String())
	}

	// Restarted on the same data, the program shows every acknowledged
	// write.
	proc = startChild(t, bin, env)
	c := newLoadClient(proc.base)
	for _, u := range users {
		u.c.base = proc.base
	}
	for _, s := range signups {
		if o := c.send(ctx, request{method: "POST", path: "/api/auth/login", body: map[string]string{"username": s.name, "password": "password1"}}); o.err != nil || o.status != 200 {
			t.Errorf("after restart, login of %s signed up during shutdown: %s", s.name, o)
		}
		if o := c.send(ctx, request{method: "GET", path: s.pictureURL[strings.Index(s.pictureURL, "/api/"):]}); o.err != nil || o.status != 200 {
			t.Errorf("after restart, picture of %s at %s: %s", s.name, s.pictureURL, o)
		}
	}
	if o := c.send(ctx, request{method: "POST", path: "/api/auth/login", body: map[string]string{"username": "tooslow", "password": "password1"}}); o.status != 401 {
		t.Errorf("after restart, login of the sign-up cut short: %s; want 401", o)
	}
	for _, tok := range slices.Concat(logins, chains) {
		if tok == "" {
			continue
		}
		if o := c.send(ctx, request{method: "POST", path: "/api/auth/refresh", body: map[string]string{"refreshToken": tok}}); o.err != nil || o.status != 200 {
			t.Errorf("after restart, refresh with an acknowledged token: %s", o)
		}
	}
	for i, at := range moved {
		if at < 0 {
			continue
		}
		u := users[6+i]
		var b struct{ Board boardDoc }
		if o := u.c.send(ctx, request{method: "GET", path: "/api/boards/" + u.boardID}); o.err != nil || o.status != 200 || o.decode(&b) != nil {
			t.Errorf("after restart, board of %s: %s", u.name, o)
			continue
		}
		for j, l := range b.Board.Lists {
			if has := slices.ContainsFunc(l.Cards, func(c cardDoc) bool { return c.ID == u.cardID }); has != (j == at) {
				t.Errorf("after restart, card of %s in list %d is %v; its last acknowledged move put it in list %d", u.name, j, has, at)
			}
		}
	}
	// The newest reset link works: its token was stored before the mail
	// went out.
	for email := range forgot {
		mails := sink.matching(email, "reset your")
		ok := false
		for i := len(mails) - 1; i >= 0 && !ok; i-- {
			o := c.send(ctx, request{method: "POST", path: "/api/auth/reset-password", body: map[string]string{
				"token": mails[i].token(t), "password": "password2", "passwordConfirm": "password2"}})
			ok = o.err == nil && o.status == 200
		}
		if !ok && len(mails) > 0 {
			t.Errorf("after restart, none of the %d reset links mailed to %s works", len(mails), email)
		}
	}
	proc.stop(t)
	if t.Failed() {
		t.Logf("log of the restarted process:\n%s", proc.stderr.String())
	}
}

// requestKind names the kind of request o was, for the log.
func requestKind(o outcome) string {
	switch {
	case strings.Contains(o.path, "/attachments/"):
		return "download"
	case strings.HasPrefix(o.path, "/api/files/"):
		return "picture"
	case strings.Contains(o.path, "/cards/"):
		return "move"
	case strings.HasPrefix(o.path, "/api/boards/"):
		return "board"
	}
	return o.path[strings.LastIndex(o.path, "/")+1:]
}
