package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"corkboard/board"
	"corkboard/filestore"
	"corkboard/mongostore/mongotest"
	"corkboard/user"
)

// TestCascadeCrash kills the corkboard process with SIGKILL in the middle
// of a user deletion and of a board deletion, on the file store and on
// MongoDB (MONGO_URI, a fresh database), then starts it again and checks
// that the start finished the cascade: the user gone and their email free,
// their boards gone, their memberships dropped, the notifications and the
// files gone. The process kills itself at a named step of the cascade
// through the test hook CORKBOARD_TEST_CRASH_AT, so that "the middle" is
// the same every run; the test checks, with the process dead, that the
// store really holds the half-done state before it starts it again.
func TestCascadeCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the corkboard binary")
	}
	bin := corkboardBinary(t)
	cases := []struct {
		name    string
		crashAt string
		// user: alice deletes her account; else bob deletes his board.
		user bool
	}{
		{"user deletion killed after its mark", "user-delete:after-logout", true},
		{"user deletion killed inside the deletion of one of the user's boards", "board-delete:after-notifications", true},
		{"user deletion killed after the boards, before the record", "user-delete:after-picture", true},
		{"board deletion killed after its mark", "board-delete:after-mark", false},
		{"board deletion killed after its notifications", "board-delete:after-notifications", false},
		{"board deletion killed after its files", "board-delete:after-files", false},
	}
	for _, kind := range []string{"file", "mongo"} {
		t.Run(kind, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					sc := newCrashScene(t, bin, kind)
					child := sc.start(t, tc.crashAt)
					f := populate(t, child)
					alice, bob := child.client(f.aliceToken), child.client(f.bobToken)
					if tc.user {
						alice.crash(t, "DELETE", "/api/users/"+f.aliceID, map[string]string{"currentPassword": "password1"})
					} else {
						bob.crash(t, "DELETE", "/api/boards/"+f.b1, nil)
					}
					child.waitKilled(t)
					sc.inspect(t, func(st store) { f.checkHalfDone(t, st, tc.user, tc.crashAt) })

					again := sc.start(t, "")
					if tc.user {
						f.checkUserGone(t, again)
					} else {
						f.checkBoardGone(t, again)
					}
					again.stop(t)
					sc.inspect(t, func(st store) { f.checkStoreAfter(t, st, tc.user) })
				})
			}
		})
	}
}

// crashScene is one store, on which corkboard processes start one after
// another.
type crashScene struct {
	bin, kind, dataDir, mongoDB, workDir string
	mongo                                store // the test's own view of the database, on MongoDB
}

func newCrashScene(t *testing.T, bin, kind string) *crashScene {
	sc := &crashScene{bin: bin, kind: kind, dataDir: t.TempDir(), workDir: t.TempDir()}
	if kind == "mongo" {
		mongotest.URI(t) // skips without MONGO_URI
		sc.mongoDB = mongotest.NewDatabaseName(t)
	}
	return sc
}

// crashChild is one running corkboard process.
type crashChild struct {
	cmd    *exec.Cmd
	base   string
	stderr *syncBuffer
	done   chan error
}

// start runs corkboard on the scene's store, with the crash hook set to
// crashAt ("" for none), and waits until it listens: by then it has
// finished what a crash interrupted (finishInterrupted runs before the
// listener opens).
func (sc *crashScene) start(t *testing.T, crashAt string) *crashChild {
	t.Helper()
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + sc.workDir,
		"DATA_DIR=" + sc.dataDir,
		"STORE=" + sc.kind,
		"ACCESS_TOKEN_SECRET=" + strings.Repeat("a", 40),
		"REFRESH_TOKEN_SECRET=" + strings.Repeat("r", 40),
		"BCRYPT_COST=4",
		"COOKIE_SECURE=false",
		"RATE_LIMITS=off",
	}
	if sc.kind == "mongo" {
		env = append(env, "MONGO_URI="+os.Getenv("MONGO_URI"), "MONGO_DB="+sc.mongoDB)
	}
	if crashAt != "" {
		env = append(env, "CORKBOARD_TEST_CRASH_AT="+crashAt)
	}
	cmd := exec.Command(sc.bin, "-addr", "127.0.0.1:0")
	cmd.Env = env
	cmd.Dir = sc.workDir // no .env there
	c := &crashChild{cmd: cmd, stderr: new(syncBuffer), done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = io.Discard, c.stderr
	cmd.SysProcAttr = dieWithTest(cmd.SysProcAttr)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting corkboard: %v", err)
	}
	go func() { c.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-c.done
		}
		if t.Failed() {
			t.Logf("log of corkboard (crash hook %q):\n%s", crashAt, c.stderr.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for c.base == "" {
		if m := listenRE.FindStringSubmatch(c.stderr.String()); m != nil {
			c.base = "http://" + m[1]
			break
		}
		select {
		case err := <-c.done:
			c.done <- err
			t.Fatalf("corkboard exited before listening: %v\n%s", err, c.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("corkboard did not listen within 60 s:\n%s", c.stderr.String())
		}
	}
	if sc.kind == "mongo" && sc.mongo == nil {
		// Opened once the first process made the indexes, and kept: its
		// cleanup drops the database.
		sc.mongo = mongotest.OpenDatabase(t, sc.mongoDB)
	}
	return c
}

// waitKilled waits for the process to die of the SIGKILL it sent itself.
func (c *crashChild) waitKilled(t *testing.T) {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("corkboard did not die at the crash hook:\n%s", c.stderr.String())
	}
	ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("corkboard ended with %v, want killed by SIGKILL at the crash hook:\n%s", c.cmd.ProcessState, c.stderr.String())
	}
}

// stop ends the process as an operator would, with SIGTERM.
func (c *crashChild) stop(t *testing.T) {
	t.Helper()
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-c.done:
		if err != nil {
			t.Errorf("corkboard after SIGTERM: %v\n%s", err, c.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("corkboard did not stop within 30 s of SIGTERM")
	}
}

// inspect runs fn on the scene's store as the test opens it: on the file
// store, only while no corkboard process holds it.
func (sc *crashScene) inspect(t *testing.T, fn func(st store)) {
	t.Helper()
	if sc.kind == "mongo" {
		fn(sc.mongo)
		return
	}
	st, err := filestore.Open(sc.dataDir, filestore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("opening the file store after the process ended: %v", err)
	}
	defer st.Close()
	fn(st)
}

// crashClient calls one corkboard process as one user.
type crashClient struct {
	base, token string
}

func (c *crashChild) client(token string) *crashClient {
	return &crashClient{base: c.base, token: token}
}

// call sends a request: body nil, a JSON value, or a multipart body given
// as its bytes with contentType.
func (c *crashClient) call(method, path string, body any, contentType string) (int, []byte, error) {
	req, err := newAPIRequest(method, c.base+path, body, c.token)
	if err != nil {
		return 0, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	hc := http.Client{Timeout: time.Minute}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// must sends a request and decodes the answer into out (if not nil),
// failing the test unless the status is want.
func (c *crashClient) must(t *testing.T, method, path string, body any, contentType string, want int, out any) {
	t.Helper()
	status, data, err := c.call(method, path, body, contentType)
	if err != nil || status != want {
		t.Fatalf("%s %s = %d %s, %v; want %d", method, path, status, data, err, want)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: body %s: %v", method, path, data, err)
		}
	}
}

// wantStatus checks a request's status and, for a problem, its code.
func (c *crashClient) wantStatus(t *testing.T, method, path string, want int, code string) {
	t.Helper()
	status, data, err := c.call(method, path, nil, "")
	var p problemDoc
	json.Unmarshal(data, &p)
	if err != nil || status != want || p.Code != code {
		t.Errorf("%s %s = %d %s, %v; want %d with code %q", method, path, status, data, err, want, code)
	}
}

// crash sends the request that the process dies in: it must get no
// answer.
func (c *crashClient) crash(t *testing.T, method, path string, body any) {
	t.Helper()
	if status, data, err := c.call(method, path, body, ""); err == nil {
		t.Fatalf("%s %s answered %d %s; want the process killed before it answers", method, path, status, data)
	}
}

// crashFixture is what populate made: alice, with a picture, owns A1 (a
// background, an attachment, bob invited) and A2, and is a member of bob's
// B1 (a background, an attachment, carol invited).
type crashFixture struct {
	aliceID, bobID, carolID              string
	aliceToken, bobToken, carolToken     string
	picture                              string
	a1, a2, b1                           string
	a1Background, a1Attachment           string
	b1Background, b1Attachment           string
	bobInviteToA1, carolInviteToB1       string
	aliceEmail, aliceName, alicePassword string
}

// populate signs up alice, bob and carol and builds the fixture through
// the API.
func populate(t *testing.T, c *crashChild) *crashFixture {
	t.Helper()
	f := &crashFixture{aliceEmail: "alice@example.com", aliceName: "alice", alicePassword: "password1"}
	signup := func(name string) (id, token string) {
		var d authDoc
		c.client("").must(t, "POST", "/api/auth/signup",
			map[string]string{"username": name, "email": name + "@example.com", "password": "password1"}, "", http.StatusCreated, &d)
		return d.User.ID, d.AccessToken
	}
	f.aliceID, f.aliceToken = signup("alice")
	f.bobID, f.bobToken = signup("bob")
	f.carolID, f.carolToken = signup("carol")
	alice, bob := c.client(f.aliceToken), c.client(f.bobToken)

	var u struct{ User userDoc }
	body, ct := multipartBody(t, part{name: "picture", filename: "me.png", data: testImage(t, "png", 8, 8, 1)})
	alice.must(t, "PUT", "/api/users/"+f.aliceID+"/picture", body, ct, http.StatusOK, &u)
	f.picture = strings.TrimPrefix(u.User.PictureURL, "/api/files/")

	// board makes a board of owner's with a background and an attached
	// file, and returns their ids.
	board := func(owner *crashClient, title string, seed uint64) (id, background, attachment string) {
		var b struct{ Board boardDoc }
		owner.must(t, "POST", "/api/boards", map[string]string{"title": title}, "", http.StatusCreated, &b)
		id = b.Board.ID
		body, ct := multipartBody(t, part{name: "background", filename: "bg.png", data: testImage(t, "png", 16, 8, seed)})
		owner.must(t, "PUT", "/api/boards/"+id+"/background", body, ct, http.StatusOK, &b)
		background = strings.TrimPrefix(b.Board.BackgroundURL, "/api/files/")
		var l struct{ List boardListDoc }
		owner.must(t, "POST", "/api/boards/"+id+"/lists", map[string]string{"name": "To do"}, "", http.StatusCreated, &l)
		var card struct{ Card cardDoc }
		owner.must(t, "POST", "/api/boards/"+id+"/lists/"+l.List.ID+"/cards", map[string]string{"title": "A card"}, "", http.StatusCreated, &card)
		var a struct {
			Attachment struct{ ID string }
		}
		body, ct = multipartBody(t, part{name: "file", filename: "scan.png", data: testImage(t, "png", 8, 16, seed+1)})
		owner.must(t, "POST", "/api/boards/"+id+"/cards/"+card.Card.ID+"/attachments", body, ct, http.StatusCreated, &a)
		return id, background, a.Attachment.ID
	}
	invite := func(owner *crashClient, boardID, userID string) string {
		var n struct{ Notification struct{ ID string } }
		owner.must(t, "POST", "/api/boards/"+boardID+"/invites", map[string]string{"userId": userID}, "", http.StatusCreated, &n)
		return n.Notification.ID
	}
	f.a1, f.a1Background, f.a1Attachment = board(alice, "Alice's first", 10)
	f.a2, _, _ = board(alice, "Alice's second", 20)
	f.bobInviteToA1 = invite(alice, f.a1, f.bobID)
	f.b1, f.b1Background, f.b1Attachment = board(bob, "Bob's", 30)
	alice.must(t, "POST", "/api/notifications/"+invite(bob, f.b1, f.aliceID)+"/accept", nil, "", http.StatusOK, nil)
	f.carolInviteToB1 = invite(bob, f.b1, f.carolID)
	return f
}

// fileExists reports whether the store holds the file.
func fileExists(t *testing.T, st store, bucket, id string) bool {
	t.Helper()
	f, err := st.OpenFile(context.Background(), bucket, id)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if err != nil {
		t.Fatalf("OpenFile(%s/%s) = %v", bucket, id, err)
	}
	f.Close()
	return true
}

// checkHalfDone checks, with the process dead, that the cascade stopped
// where the hook says: begun (its mark is there) and not finished.
func (f *crashFixture) checkHalfDone(t *testing.T, st store, userCascade bool, step string) {
	t.Helper()
	ctx := context.Background()
	users, err := st.UsersBeingDeleted(ctx)
	if err != nil {
		t.Fatal(err)
	}
	boards, err := st.BoardsBeingDeleted(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var marked []string
	for _, b := range boards {
		marked = append(marked, b.ID)
	}
	if !userCascade {
		if !slices.Equal(marked, []string{f.b1}) {
			t.Fatalf("after the kill at %s, boards being deleted: %v; want B1 %s", step, marked, f.b1)
		}
		if step != "board-delete:after-files" && !fileExists(t, st, board.AttachmentBucket, f.b1Attachment) {
			t.Errorf("after the kill at %s, B1's attachment is gone already; the kill came too late to test anything", step)
		}
		return
	}
	if len(users) != 1 || users[0].ID != f.aliceID {
		t.Fatalf("after the kill at %s, users being deleted: %v; want alice %s", step, users, f.aliceID)
	}
	switch step {
	case "user-delete:after-logout":
		// Nothing of hers forgotten yet.
		if len(marked) != 0 || !fileExists(t, st, user.PictureBucket, f.picture) {
			t.Errorf("after the kill at %s: boards being deleted %v, picture stored %v; want none, and the picture there",
				step, marked, fileExists(t, st, user.PictureBucket, f.picture))
		}
		if _, err := st.BoardByID(ctx, f.a1); err != nil {
			t.Errorf("after the kill at %s, BoardByID(A1) = %v; want it still there", step, err)
		}
	case "board-delete:after-notifications":
		// One of her boards half deleted, the other not begun.
		if len(marked) != 1 || (marked[0] != f.a1 && marked[0] != f.a2) {
			t.Errorf("after the kill at %s, boards being deleted: %v; want one of A1 %s, A2 %s", step, marked, f.a1, f.a2)
		}
		// The other one is untouched: its deletion never began.
		other := f.a1
		if slices.Contains(marked, f.a1) {
			other = f.a2
		}
		if _, err := st.BoardByID(ctx, other); err != nil {
			t.Errorf("after the kill at %s, BoardByID(%s), her other board, = %v; want it still there", step, other, err)
		}
	case "user-delete:after-picture":
		if fileExists(t, st, user.PictureBucket, f.picture) || len(marked) != 0 {
			t.Errorf("after the kill at %s, the picture or a board of hers (%v) is still there", step, marked)
		}
	}
}

// checkUserGone checks, through the API of the restarted process, that
// alice's deletion is finished.
func (f *crashFixture) checkUserGone(t *testing.T, c *crashChild) {
	t.Helper()
	alice, bob := c.client(f.aliceToken), c.client(f.bobToken)
	alice.wantStatus(t, "GET", "/api/users/me", http.StatusUnauthorized, "session_revoked")
	bob.wantStatus(t, "GET", "/api/users/"+f.aliceID, http.StatusNotFound, "not_found")
	bob.wantStatus(t, "GET", "/api/boards/"+f.a1, http.StatusNotFound, "not_found")
	bob.wantStatus(t, "POST", "/api/notifications/"+f.bobInviteToA1+"/accept", http.StatusNotFound, "not_found")
	for _, id := range []string{f.picture, f.a1Background} {
		c.client("").wantStatus(t, "GET", "/api/files/"+id, http.StatusNotFound, "not_found")
	}
	var ms struct{ Members []struct{ ID string } }
	bob.must(t, "GET", "/api/boards/"+f.b1+"/members", nil, "", http.StatusOK, &ms)
	if len(ms.Members) != 1 || ms.Members[0].ID != f.bobID {
		t.Errorf("members of B1 after the restart: %v; want bob alone", ms.Members)
	}
	var ns struct{ Notifications []struct{ BoardID string } }
	bob.must(t, "GET", "/api/notifications", nil, "", http.StatusOK, &ns)
	for _, n := range ns.Notifications {
		if n.BoardID == f.a1 || n.BoardID == f.a2 {
			t.Errorf("bob still has a notification about alice's board %s", n.BoardID)
		}
	}
	// Her email and username are free again.
	c.client("").must(t, "POST", "/api/auth/signup",
		map[string]string{"username": f.aliceName, "email": f.aliceEmail, "password": "password2"}, "", http.StatusCreated, nil)
}

// checkBoardGone checks, through the API of the restarted process, that
// B1's deletion is finished.
func (f *crashFixture) checkBoardGone(t *testing.T, c *crashChild) {
	t.Helper()
	alice, bob, carol := c.client(f.aliceToken), c.client(f.bobToken), c.client(f.carolToken)
	bob.wantStatus(t, "GET", "/api/boards/"+f.b1, http.StatusNotFound, "not_found")
	alice.wantStatus(t, "GET", "/api/boards/"+f.b1, http.StatusNotFound, "not_found")
	carol.wantStatus(t, "POST", "/api/notifications/"+f.carolInviteToB1+"/accept", http.StatusNotFound, "not_found")
	c.client("").wantStatus(t, "GET", "/api/files/"+f.b1Background, http.StatusNotFound, "not_found")
	var list struct{ Boards []struct{ ID string } }
	alice.must(t, "GET", "/api/boards", nil, "", http.StatusOK, &list)
	if len(list.Boards) != 2 {
		t.Errorf("alice's boards after the restart: %v; want her own two, not B1", list.Boards)
	}
	var ns struct{ Notifications []struct{ BoardID string } }
	carol.must(t, "GET", "/api/notifications", nil, "", http.StatusOK, &ns)
	if len(ns.Notifications) != 0 {
		t.Errorf("carol's notifications after the restart: %v; want none (the invitation to B1 went with it)", ns.Notifications)
	}
}

// checkStoreAfter checks the store itself once the restarted process has
// stopped: no cascade left begun, and every record and file of the
// deleted user or board gone, while the others' stay.
func (f *crashFixture) checkStoreAfter(t *testing.T, st store, userCascade bool) {
	t.Helper()
	ctx := context.Background()
	if users, err := st.UsersBeingDeleted(ctx); err != nil || len(users) != 0 {
		t.Errorf("UsersBeingDeleted after the restart = %v, %v; want none", users, err)
	}
	if boards, err := st.BoardsBeingDeleted(ctx); err != nil || len(boards) != 0 {
		t.Errorf("BoardsBeingDeleted after the restart = %v, %v; want none", boards, err)
	}
	type file struct{ bucket, id, what string }
	gone := []file{{board.BackgroundBucket, f.b1Background, "B1's background"}, {board.AttachmentBucket, f.b1Attachment, "B1's attachment"}}
	kept := []file{{board.BackgroundBucket, f.a1Background, "A1's background"}, {board.AttachmentBucket, f.a1Attachment, "A1's attachment"}, {user.PictureBucket, f.picture, "alice's picture"}}
	goneBoards, keptBoards := []string{f.b1}, []string{f.a1, f.a2}
	if userCascade {
		gone, kept = kept, gone
		goneBoards, keptBoards = keptBoards, goneBoards
		if _, err := st.UserByID(ctx, f.aliceID); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("UserByID(alice) after the restart = %v; want ErrNotFound", err)
		}
		if b, err := st.BoardByID(ctx, f.b1); err != nil || b.IsMember(f.aliceID) {
			t.Errorf("B1 after the restart: %v, alice a member: %v; want it there without her", err, b.IsMember(f.aliceID))
		}
	}
	for _, x := range gone {
		if fileExists(t, st, x.bucket, x.id) {
			t.Errorf("%s (%s/%s) is still stored after the restart", x.what, x.bucket, x.id)
		}
	}
	for _, x := range kept {
		if !fileExists(t, st, x.bucket, x.id) {
			t.Errorf("%s (%s/%s), which nothing deleted, is gone", x.what, x.bucket, x.id)
		}
	}
	for _, id := range goneBoards {
		if _, err := st.BoardByID(ctx, id); !errors.Is(err, board.ErrNotFound) {
			t.Errorf("BoardByID(%s) after the restart = %v; want ErrNotFound", id, err)
		}
	}
	for _, id := range keptBoards {
		if _, err := st.BoardByID(ctx, id); err != nil {
			t.Errorf("BoardByID(%s), which nothing deleted, = %v", id, err)
		}
	}
	var left []string
	st.EachNotification(ctx, func(n board.Notification) error {
		if slices.Contains(goneBoards, n.BoardID) || (userCascade && n.UserID == f.aliceID) {
			left = append(left, n.ID)
		}
		return nil
	})
	if len(left) != 0 {
		t.Errorf("notifications about what was deleted are left: %v", left)
	}
}
