package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"io/fs"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"corkboard/filestore"
)

// TestCrashSafety runs corkboard as a real process on the file store, drives
// requests of every kind at it from concurrent workers, and kills it with
// SIGKILL: at random moments, during a burst of uploads, and while a
// compaction is writing its snapshot. After each kill it starts the program
// again and checks that every acknowledged write is there (through the
// API), that acknowledged deletions stayed deleted, that every file a
// record points at holds the uploaded bytes, and, once the start-up sweep
// has run and the process has stopped, that no file in DATA_DIR/files has
// no owner and no temp file is left.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real program through several kills; not in -short")
	}
	dataDir := t.TempDir()
	sink := startSMTPSink(t)
	go func() { // the sink's wake-up channel is drained here; waitMail polls
		for range sink.arrived {
		}
	}()
	env := map[string]string{
		"DATA_DIR": dataDir, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": fmt.Sprint(sink.port()),
		// Small, so that compactions run all the time and kills land in
		// them.
		"COMPACT_BYTES": "16384",
	}
	// How many kills landed while a compaction was writing its snapshot:
	// at least one must, or the compaction rounds proved nothing.
	var midSnapshot int
	rounds := []struct {
		name    string
		uploads bool // the workers upload in a burst
		// kill kills p, calling mark just before, so that the workers
		// know the errors that follow are the kill's.
		kill func(t *testing.T, p *proc, mark func())
	}{
		{"random 1", false, killAfterRandom},
		{"random 2", false, killAfterRandom},
		{"upload burst", true, killAfterRandom},
		{"during compaction", false, killDuringCompaction(dataDir, &midSnapshot)},
		{"random 3", false, killAfterRandom},
		{"upload burst during compaction", true, killDuringCompaction(dataDir, &midSnapshot)},
		{"random 4", false, killAfterRandom},
	}
	var worlds []*world
	extra := 0 // compaction rounds run again because their kill came too late
	for r := 0; r < len(rounds); r++ {
		round := rounds[r]
		before := midSnapshot
		p := startProcess(t, nil, env)
		var killed atomic.Bool
		var mu sync.Mutex
		var wg sync.WaitGroup
		for w := range 6 {
			wg.Go(func() {
				for i := 0; !killed.Load(); i++ {
					wd := &world{name: fmt.Sprintf("r%dw%di%d", r, w, i), url: p.URL, sink: sink, killed: &killed, uncertain: map[string]bool{}}
					mu.Lock()
					worlds = append(worlds, wd)
					mu.Unlock()
					var err error
					if round.uploads {
						err = wd.uploadBurst()
					} else {
						err = wd.run()
					}
					if err == nil {
						continue
					}
					if killed.Load() && wd.interrupted(err) {
						return
					}
					t.Errorf("round %q, world %s: %v", round.name, wd.name, err)
					return
				}
			})
		}
		round.kill(t, p, func() { killed.Store(true) })
		if strings.Contains(round.name, "compaction") && midSnapshot == before && midSnapshot == 0 && extra < 6 {
			rounds = append(rounds, round) // try again to land inside a compaction
			extra++
		}
		wg.Wait()
		if t.Failed() {
			t.Fatalf("round %q failed before the kill", round.name)
		}

		// Restart: the store opens, the start-up sweep runs, and every
		// acknowledged write is there.
		p = startProcess(t, nil, env)
		checked := 0
		for _, wd := range worlds {
			checked += wd.check(t, p.URL)
		}
		t.Logf("round %q: %d worlds, %d acknowledged facts checked after the restart", round.name, len(worlds), checked)
		p.term()
		if code := p.wait(30 * time.Second); code != 0 {
			t.Fatalf("corkboard exited %d after SIGTERM", code)
		}
		checkFilesOwned(t, dataDir)
		if t.Failed() {
			t.Fatalf("after round %q", round.name)
		}
	}
	if midSnapshot == 0 {
		t.Errorf("no kill landed while a compaction was writing its snapshot, in %d tries", 2+extra)
	}
}

// killAfterRandom lets the workers run for a random while, then kills.
func killAfterRandom(t *testing.T, p *proc, mark func()) {
	time.Sleep(time.Duration(300+rand.IntN(1700)) * time.Millisecond)
	mark()
	p.kill()
}

// killDuringCompaction kills as soon as a compaction's temporary snapshot
// exists, and counts in landed the kills after which it still existed:
// those that really cut a compaction short.
func killDuringCompaction(dataDir string, landed *int) func(t *testing.T, p *proc, mark func()) {
	return func(t *testing.T, p *proc, mark func()) {
		tmp := filepath.Join(dataDir, "snapshot.json.tmp")
		time.Sleep(200 * time.Millisecond)
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			if _, err := os.Stat(tmp); err == nil {
				mark()
				p.kill()
				if _, err := os.Stat(tmp); err == nil {
					*landed++
					t.Logf("killed while %s existed", tmp)
				} else {
					t.Logf("killed just after a compaction renamed %s", tmp)
				}
				return
			}
			time.Sleep(100 * time.Microsecond)
		}
		mark()
		p.kill()
		t.Logf("no compaction seen within 20 s; killed anyway")
	}
}

// checkFilesOwned opens the stopped store and checks that every file a
// record points at exists, and that DATA_DIR/files holds nothing else: no
// orphan, no temp file; nor is a temporary snapshot left.
func checkFilesOwned(t *testing.T, dataDir string) {
	t.Helper()
	st, err := filestore.Open(dataDir, filestore.Options{})
	if err != nil {
		t.Fatalf("filestore.Open after a clean stop: %v", err)
	}
	defer st.Close()
	refs, err := referencedFiles(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	for ref := range refs {
		if _, err := os.Stat(filepath.Join(dataDir, "files", ref.bucket, ref.id)); err != nil {
			t.Errorf("a record points at %s/%s, which is missing: %v", ref.bucket, ref.id, err)
		}
	}
	root := filepath.Join(dataDir, "files")
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		bucket, id, _ := strings.Cut(rel, string(filepath.Separator))
		switch {
		case strings.HasPrefix(id, "."):
			t.Errorf("temp file left in files/: %s", rel)
		case !refs[fileRef{bucket, id}]:
			t.Errorf("files/%s has no owner after the start-up sweep", rel)
		}
		return nil
	})
	if _, err := os.Stat(filepath.Join(dataDir, "snapshot.json.tmp")); err == nil {
		t.Errorf("snapshot.json.tmp left after a clean stop")
	}
}

// world is what one worker builds in one go: two accounts (a and b) and
// their boards, with the state every acknowledged answer implies. A step
// cut short by the kill leaves the entities it touched uncertain: they are
// not checked, since either outcome is right.
type world struct {
	name      string
	url       string
	sink      *smtpSink
	killed    *atomic.Bool
	inflight  []string
	uncertain map[string]bool

	a, b       *account
	board      *boardModel // a's, b a member or not
	bBoard     *boardModel // b's, gone with b
	gone       *boardModel // a's, deleted
	oldPics    []string    // picture URLs replaced: gone
	emailFreed bool        // b's address was signed up again once
}

type account struct {
	id, username, email, password, fullName string
	pictureURL                              string
	picture                                 []byte
	verified, deleted                       bool
	c                                       *pclient
	loggedOut                               string // a refresh cookie that was logged out
}

type boardModel struct {
	id, title  string
	background string // URL
	bgBytes    []byte
	favourite  bool
	members    []string // ids, sorted
	lists      []listModel
	deleted    bool
}

type listModel struct {
	id, name string
	cards    []cardModel
}

type cardModel struct {
	id, title string
	atts      []attModel
}

type attModel struct {
	id, url string
	data    []byte
}

// errStatus is an answer the step did not expect: a failure, unlike a
// connection cut by the kill.
type errStatus struct {
	what string
	got  int
	body []byte
}

func (e *errStatus) Error() string {
	return fmt.Sprintf("%s: status %d: %s", e.what, e.got, e.body)
}

// interrupted reports whether err is what the kill does to a request in
// flight: a broken connection, or a mail that never came.
func (w *world) interrupted(err error) bool {
	var st *errStatus
	return !errors.As(err, &st)
}

// step runs fn, marking keys uncertain if the kill cuts it short.
func (w *world) step(keys []string, fn func() error) error {
	err := fn()
	if err != nil {
		for _, k := range keys {
			w.uncertain[k] = true
		}
	}
	return err
}

func (w *world) newAccount(tag string) *account {
	name := w.name + tag
	return &account{username: name, email: name + "@example.com", password: "password-" + tag, c: newPClient(w.url)}
}

// run is the full life of a world: every kind of write, in order.
func (w *world) run() error {
	a, b := w.newAccount("a"), w.newAccount("b")
	pic := pngNoise(12, 12)
	if err := w.step([]string{"a"}, func() error { return a.signupWithPicture(pic) }); err != nil {
		return err
	}
	w.a = a
	if err := w.step([]string{"b"}, func() error { return b.signup() }); err != nil {
		return err
	}
	w.b = b
	steps := []struct {
		keys []string
		fn   func() error
	}{
		{[]string{"a"}, func() error { _, err := a.c.want("POST", "/api/auth/refresh", nil, 200); return err }},
		{[]string{"board"}, func() error { return w.buildBoard() }},
		{[]string{"board"}, func() error { return w.moveCard() }},
		{[]string{"board"}, func() error { return w.attach() }},
		{[]string{"board"}, func() error { return w.setBackground(w.board) }},
		{[]string{"board"}, func() error {
			if _, err := a.c.want("PUT", "/api/boards/"+w.board.id+"/favourite", map[string]bool{"favourite": true}, 200); err != nil {
				return err
			}
			w.board.favourite = true
			return nil
		}},
		{[]string{"board", "b"}, func() error { return w.inviteAndAnswer() }},
		{[]string{"a"}, func() error {
			full := "Full " + w.name
			if _, err := a.c.want("PATCH", "/api/users/"+a.id, map[string]string{"fullName": full}, 200); err != nil {
				return err
			}
			a.fullName = full
			return nil
		}},
		{[]string{"a"}, func() error { return w.replacePicture(a) }},
		{[]string{"a"}, func() error { return a.changePassword() }},
		{[]string{"a"}, func() error { return a.logoutAndLogin() }},
		{[]string{"b"}, func() error { return w.verify(b) }},
		{[]string{"b"}, func() error { return w.resetPassword(b) }},
		{[]string{"board"}, func() error { return w.deleteCards() }},
		{[]string{"gone"}, func() error { return w.deletedBoard() }},
		{[]string{"b", "bboard", "board"}, func() error { return w.deleteB() }},
	}
	for _, s := range steps {
		if err := w.step(s.keys, s.fn); err != nil {
			return err
		}
	}
	return nil
}

// uploadBurst signs up one account and uploads pictures, a background and
// attachments as fast as it can.
func (w *world) uploadBurst() error {
	a := w.newAccount("a")
	if err := w.step([]string{"a"}, func() error { return a.signupWithPicture(pngNoise(12, 12)) }); err != nil {
		return err
	}
	w.a = a
	if err := w.step([]string{"board"}, w.buildBoard); err != nil {
		return err
	}
	for i := range 6 {
		if err := w.step([]string{"a"}, func() error { return w.replacePicture(a) }); err != nil {
			return err
		}
		if err := w.step([]string{"board"}, w.attach); err != nil {
			return err
		}
		if i%2 == 0 {
			if err := w.step([]string{"board"}, func() error { return w.setBackground(w.board) }); err != nil {
				return err
			}
		}
	}
	return nil
}

func (a *account) signupWithPicture(pic []byte) error {
	body, ct := formBody(part{name: "picture", filename: "me.png", data: pic},
		part{name: "username", data: []byte(a.username)}, part{name: "email", data: []byte(a.email)},
		part{name: "password", data: []byte(a.password)})
	r, err := a.c.want("POST", "/api/auth/signup", body, 201, "Content-Type", ct)
	if err != nil {
		return err
	}
	var d authDoc
	if err := json.Unmarshal(r.body, &d); err != nil {
		return err
	}
	a.id, a.c.token, a.pictureURL, a.picture = d.User.ID, d.AccessToken, d.User.PictureURL, pic
	return nil
}

func (a *account) signup() error {
	r, err := a.c.want("POST", "/api/auth/signup", map[string]string{"username": a.username, "email": a.email, "password": a.password}, 201)
	if err != nil {
		return err
	}
	var d authDoc
	if err := json.Unmarshal(r.body, &d); err != nil {
		return err
	}
	a.id, a.c.token = d.User.ID, d.AccessToken
	return nil
}

func (a *account) login() error {
	r, err := a.c.want("POST", "/api/auth/login", map[string]string{"email": a.email, "password": a.password}, 200)
	if err != nil {
		return err
	}
	var d authDoc
	if err := json.Unmarshal(r.body, &d); err != nil {
		return err
	}
	a.c.token = d.AccessToken
	return nil
}

func (a *account) changePassword() error {
	next := a.password + "x"
	r, err := a.c.want("POST", "/api/auth/change-password", map[string]string{"currentPassword": a.password, "newPassword": next}, 200)
	if err != nil {
		return err
	}
	a.password = next
	var d authDoc
	json.Unmarshal(r.body, &d)
	a.c.token = d.AccessToken
	return nil
}

func (a *account) logoutAndLogin() error {
	cookie := a.c.refreshCookie()
	if _, err := a.c.want("POST", "/api/auth/logout", nil, 204); err != nil {
		return err
	}
	a.loggedOut = cookie
	return a.login()
}

func (w *world) buildBoard() error {
	c := w.a.c
	r, err := c.want("POST", "/api/boards", map[string]string{"title": "Board " + w.name}, 201)
	if err != nil {
		return err
	}
	var d struct{ Board boardDoc }
	json.Unmarshal(r.body, &d)
	w.board = &boardModel{id: d.Board.ID, title: d.Board.Title, members: []string{w.a.id}}
	for _, name := range []string{"todo", "done"} {
		r, err := c.want("POST", "/api/boards/"+w.board.id+"/lists", map[string]string{"name": name}, 201)
		if err != nil {
			return err
		}
		var l struct{ List boardListDoc }
		json.Unmarshal(r.body, &l)
		w.board.lists = append(w.board.lists, listModel{id: l.List.ID, name: name})
	}
	for i, title := range []string{"one", "two", "three"} {
		li := i / 2
		r, err := c.want("POST", "/api/boards/"+w.board.id+"/lists/"+w.board.lists[li].id+"/cards", map[string]string{"title": title}, 201)
		if err != nil {
			return err
		}
		var cd struct{ Card cardDoc }
		json.Unmarshal(r.body, &cd)
		w.board.lists[li].cards = append(w.board.lists[li].cards, cardModel{id: cd.Card.ID, title: title})
	}
	return nil
}

// moveCard moves the first card of the first list to the top of the last.
func (w *world) moveCard() error {
	b := w.board
	from, to := &b.lists[0], &b.lists[len(b.lists)-1]
	card := from.cards[0]
	if _, err := w.a.c.want("PATCH", "/api/boards/"+b.id+"/cards/"+card.id, map[string]any{"listId": to.id, "position": 0}, 200); err != nil {
		return err
	}
	from.cards = from.cards[1:]
	to.cards = append([]cardModel{card}, to.cards...)
	return nil
}

// attach uploads an attachment to the last card of the last list.
func (w *world) attach() error {
	b := w.board
	l := &b.lists[len(b.lists)-1]
	if len(l.cards) == 0 {
		return nil
	}
	card := &l.cards[len(l.cards)-1]
	data := pngNoise(8+rand.IntN(24), 8)
	body, ct := formBody(part{name: "file", filename: "a.png", data: data})
	r, err := w.a.c.want("POST", "/api/boards/"+b.id+"/cards/"+card.id+"/attachments", body, 201, "Content-Type", ct)
	if err != nil {
		return err
	}
	var d struct{ Attachment attachmentDoc }
	json.Unmarshal(r.body, &d)
	card.atts = append(card.atts, attModel{id: d.Attachment.ID, url: d.Attachment.URL, data: data})
	return nil
}

func (w *world) setBackground(b *boardModel) error {
	data := pngNoise(16, 9)
	body, ct := formBody(part{name: "background", filename: "bg.png", data: data})
	c := w.a.c
	if b == w.bBoard {
		c = w.b.c
	}
	r, err := c.want("PUT", "/api/boards/"+b.id+"/background", body, 200, "Content-Type", ct)
	if err != nil {
		return err
	}
	var d struct{ Board boardDoc }
	json.Unmarshal(r.body, &d)
	if b.background != "" {
		w.oldPics = append(w.oldPics, b.background)
	}
	b.background, b.bgBytes = d.Board.BackgroundURL, data
	return nil
}

func (w *world) replacePicture(a *account) error {
	data := pngNoise(10, 10+rand.IntN(20))
	body, ct := formBody(part{name: "picture", filename: "p.png", data: data})
	r, err := a.c.want("PUT", "/api/users/"+a.id+"/picture", body, 200, "Content-Type", ct)
	if err != nil {
		return err
	}
	var d struct{ User userDoc }
	json.Unmarshal(r.body, &d)
	if a.pictureURL != "" {
		w.oldPics = append(w.oldPics, a.pictureURL)
	}
	a.pictureURL, a.picture = d.User.PictureURL, data
	return nil
}

// inviteAndAnswer invites b to a's board; b accepts or declines.
func (w *world) inviteAndAnswer() error {
	if _, err := w.a.c.want("POST", "/api/boards/"+w.board.id+"/invites", map[string]string{"userId": w.b.id}, 201); err != nil {
		return err
	}
	r, err := w.b.c.want("GET", "/api/notifications", nil, 200)
	if err != nil {
		return err
	}
	var d struct{ Notifications []notificationDoc }
	json.Unmarshal(r.body, &d)
	var nid string
	for _, n := range d.Notifications {
		if n.BoardID == w.board.id {
			nid = n.ID
		}
	}
	if nid == "" {
		return &errStatus{"no invitation among b's notifications", 200, r.body}
	}
	accept := rand.IntN(2) == 0
	answer, status := "decline", 204
	if accept {
		answer, status = "accept", 200
	}
	if _, err := w.b.c.want("POST", "/api/notifications/"+nid+"/"+answer, nil, status); err != nil {
		return err
	}
	if accept {
		w.board.members = append(w.board.members, w.b.id)
		slices.Sort(w.board.members)
	}
	return nil
}

// verify confirms b's address with the token the sign-up mail carries.
func (w *world) verify(b *account) error {
	m, err := w.waitMail(b.email, "confirm your email")
	if err != nil {
		return err
	}
	if _, err := b.c.want("POST", "/api/auth/verify-email", map[string]string{"token": mailToken(m)}, 200); err != nil {
		return err
	}
	b.verified = true
	return nil
}

// resetPassword gives b a new password through the mailed reset link.
func (w *world) resetPassword(b *account) error {
	if _, err := b.c.want("POST", "/api/auth/forgot-password", map[string]string{"email": b.email}, 202); err != nil {
		return err
	}
	m, err := w.waitMail(b.email, "reset your")
	if err != nil {
		return err
	}
	next := b.password + "r"
	if _, err := b.c.want("POST", "/api/auth/reset-password", map[string]string{"token": mailToken(m), "password": next, "passwordConfirm": next}, 200); err != nil {
		return err
	}
	b.password = next
	return b.login()
}

// deleteCards deletes every card of the last list, attachments and all.
func (w *world) deleteCards() error {
	b := w.board
	l := &b.lists[len(b.lists)-1]
	for len(l.cards) > 0 {
		if _, err := w.a.c.want("DELETE", "/api/boards/"+b.id+"/cards/"+l.cards[0].id, nil, 204); err != nil {
			return err
		}
		l.cards = l.cards[1:]
	}
	return nil
}

// deletedBoard creates a board with a background and deletes it.
func (w *world) deletedBoard() error {
	r, err := w.a.c.want("POST", "/api/boards", map[string]string{"title": "Gone " + w.name}, 201)
	if err != nil {
		return err
	}
	var d struct{ Board boardDoc }
	json.Unmarshal(r.body, &d)
	w.gone = &boardModel{id: d.Board.ID}
	if err := w.setBackground(w.gone); err != nil {
		return err
	}
	if _, err := w.a.c.want("DELETE", "/api/boards/"+w.gone.id, nil, 204); err != nil {
		return err
	}
	w.gone.deleted = true
	return nil
}

// deleteB gives b a board with a background, then deletes b's account:
// the board, its background, b's membership of a's board go too.
func (w *world) deleteB() error {
	r, err := w.b.c.want("POST", "/api/boards", map[string]string{"title": "B " + w.name}, 201)
	if err != nil {
		return err
	}
	var d struct{ Board boardDoc }
	json.Unmarshal(r.body, &d)
	w.bBoard = &boardModel{id: d.Board.ID}
	if err := w.setBackground(w.bBoard); err != nil {
		return err
	}
	if _, err := w.b.c.want("DELETE", "/api/users/"+w.b.id, map[string]string{"currentPassword": w.b.password}, 204); err != nil {
		return err
	}
	w.b.deleted, w.bBoard.deleted = true, true
	w.board.members = slices.DeleteFunc(w.board.members, func(id string) bool { return id == w.b.id })
	return nil
}

// waitMail waits up to 15 s for a mail to to whose subject holds subject.
func (w *world) waitMail(to, subject string) (sunkMail, error) {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		w.sink.mu.Lock()
		for i, m := range w.sink.messages {
			if strings.EqualFold(m.To, to) && strings.Contains(strings.ToLower(m.Subject), subject) {
				w.sink.messages = slices.Delete(w.sink.messages, i, i+1)
				w.sink.mu.Unlock()
				return m, nil
			}
		}
		w.sink.mu.Unlock()
		if w.killed.Load() {
			return sunkMail{}, errors.New("killed while waiting for mail")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return sunkMail{}, &errStatus{"no mail to " + to + " about " + subject, 0, nil}
}

func mailToken(m sunkMail) string {
	if found := tokenRE.FindStringSubmatch(m.Text); found != nil {
		return found[1]
	}
	return ""
}

// check verifies, against the restarted process at url, every fact of the
// world that no interrupted step touched, and returns how many it checked.
func (w *world) check(t *testing.T, url string) int {
	t.Helper()
	n := 0
	fail := func(format string, args ...any) {
		t.Errorf("world %s: "+format, append([]any{w.name}, args...)...)
	}
	fresh := newPClient(url)
	for _, old := range w.oldPics {
		if r, err := fresh.do("GET", old, nil); err != nil || r.status != 404 {
			fail("replaced or deleted file %s: %v %v, want 404", old, status(r), err)
		}
		n++
	}
	a := w.a
	if a == nil || w.uncertain["a"] {
		return n
	}
	a.c.base = url
	if _, err := a.c.want("POST", "/api/auth/refresh", nil, 200); err != nil {
		fail("refresh with %s's acknowledged session: %v", a.username, err)
	}
	if err := a.login(); err != nil {
		fail("acknowledged account %s cannot log in: %v", a.username, err)
		return n
	}
	n++
	if r, err := a.c.want("GET", "/api/users/me", nil, 200); err != nil {
		fail("GET me: %v", err)
	} else {
		var d struct{ User userDoc }
		json.Unmarshal(r.body, &d)
		if d.User.Username != a.username || d.User.FullName != a.fullName || d.User.PictureURL != a.pictureURL {
			fail("me = %+v, want username %q fullName %q picture %q", d.User, a.username, a.fullName, a.pictureURL)
		}
		n++
	}
	n += checkBytes(fail, fresh, a.pictureURL, a.picture)
	if a.loggedOut != "" {
		r, err := fresh.do("POST", "/api/auth/refresh", nil, "Cookie", "refresh_token="+a.loggedOut)
		if err != nil || r.status != 401 {
			fail("refresh with a logged-out cookie: %v %v, want 401", status(r), err)
		}
		n++
	}
	if b := w.board; b != nil && !w.uncertain["board"] {
		n += w.checkBoard(fail, a, b)
	}
	for _, gone := range []*boardModel{w.gone, w.bBoard} {
		if gone == nil || !gone.deleted {
			continue
		}
		if r, err := a.c.do("GET", "/api/boards/"+gone.id, nil); err != nil || r.status != 404 {
			fail("deleted board %s: %v %v, want 404", gone.id, status(r), err)
		}
		if r, err := fresh.do("GET", gone.background, nil); err != nil || r.status != 404 {
			fail("background of deleted board %s: %v %v, want 404", gone.background, status(r), err)
		}
		n += 2
	}
	b := w.b
	if b == nil || w.uncertain["b"] {
		return n
	}
	b.c.base = url
	if b.deleted {
		if r, err := fresh.do("POST", "/api/auth/login", map[string]string{"email": b.email, "password": b.password}); err != nil || r.status != 401 {
			fail("login of deleted account %s: %v %v, want 401", b.username, status(r), err)
		}
		if r, err := a.c.do("GET", "/api/users/"+b.id, nil); err != nil || r.status != 404 {
			fail("GET deleted user %s: %v %v, want 404", b.id, status(r), err)
		}
		if !w.emailFreed {
			again := &account{username: b.username + "again", email: b.email, password: "password1", c: newPClient(url)}
			if err := again.signup(); err != nil {
				fail("sign-up with a deleted account's address: %v", err)
			}
			w.emailFreed = true
		}
		return n + 2
	}
	if err := b.login(); err != nil {
		fail("acknowledged account %s cannot log in with its acknowledged password: %v", b.username, err)
		return n
	}
	if r, err := b.c.want("GET", "/api/users/me", nil, 200); err == nil {
		var d struct{ User userDoc }
		json.Unmarshal(r.body, &d)
		if b.verified && (d.User.EmailVerified == nil || !*d.User.EmailVerified) {
			fail("acknowledged verification of %s is lost: %+v", b.username, d.User)
		}
	}
	return n + 2
}

// checkBoard compares board b, read as a, with the model.
func (w *world) checkBoard(fail func(string, ...any), a *account, b *boardModel) int {
	r, err := a.c.want("GET", "/api/boards/"+b.id, nil, 200)
	if err != nil {
		fail("acknowledged board: %v", err)
		return 0
	}
	var d struct{ Board boardDoc }
	json.Unmarshal(r.body, &d)
	got := d.Board
	n := 1
	var members []string
	for _, m := range got.Members {
		members = append(members, m.ID)
	}
	slices.Sort(members)
	slices.Sort(b.members)
	if got.Title != b.title || got.BackgroundURL != b.background || got.IsFavourite != b.favourite || !slices.Equal(members, b.members) {
		fail("board %s = title %q background %q favourite %v members %v; want %q %q %v %v",
			b.id, got.Title, got.BackgroundURL, got.IsFavourite, members, b.title, b.background, b.favourite, b.members)
	}
	if len(got.Lists) != len(b.lists) {
		fail("board %s has %d lists, want %d", b.id, len(got.Lists), len(b.lists))
		return n
	}
	for i, l := range b.lists {
		gl := got.Lists[i]
		var gotCards, wantCards []string
		for _, c := range gl.Cards {
			gotCards = append(gotCards, c.ID+":"+c.Title)
		}
		for _, c := range l.cards {
			wantCards = append(wantCards, c.id+":"+c.title)
		}
		if gl.ID != l.id || gl.Name != l.name || !slices.Equal(gotCards, wantCards) {
			fail("board %s list %d = %s %q %v; want %s %q %v", b.id, i, gl.ID, gl.Name, gotCards, l.id, l.name, wantCards)
			continue
		}
		for j, c := range l.cards {
			var gotAtts []string
			for _, at := range gl.Cards[j].Attachments {
				gotAtts = append(gotAtts, at.ID)
			}
			var wantAtts []string
			for _, at := range c.atts {
				wantAtts = append(wantAtts, at.id)
				n += checkBytes(fail, a.c, at.url, at.data)
			}
			if !slices.Equal(gotAtts, wantAtts) {
				fail("card %s attachments %v, want %v", c.id, gotAtts, wantAtts)
			}
		}
	}
	if b.background != "" {
		n += checkBytes(fail, a.c, b.background, b.bgBytes)
	}
	return n + 1
}

// checkBytes fetches url and compares its body with want.
func checkBytes(fail func(string, ...any), c *pclient, url string, want []byte) int {
	if url == "" {
		return 0
	}
	r, err := c.do("GET", url, nil)
	if err != nil || r.status != 200 || !bytes.Equal(r.body, want) {
		fail("GET %s: %v %v, %d bytes; want 200 and the %d bytes uploaded", url, status(r), err, len(bodyOf(r)), len(want))
	}
	return 1
}

func status(r *presp) any {
	if r == nil {
		return "no answer"
	}
	return r.status
}

func bodyOf(r *presp) []byte {
	if r == nil {
		return nil
	}
	return r.body
}

// pclient is a client of a corkboard process, safe to use from a worker
// goroutine: it reports errors instead of failing the test, since a kill
// breaks requests on purpose. Its cookie jar outlives a restart: cookies
// are kept by host, not by port.
type pclient struct {
	base  string
	hc    *http.Client
	token string
}

type presp struct {
	status int
	header http.Header
	body   []byte
}

func newPClient(base string) *pclient {
	jar, _ := cookiejar.New(nil)
	return &pclient{base: base, hc: &http.Client{Jar: jar, Timeout: time.Minute}}
}

// do sends a request; body is nil, []byte (sent as is) or a value sent as
// JSON; header pairs are set after.
func (c *pclient) do(method, path string, body any, header ...string) (*presp, error) {
	req, err := newAPIRequest(method, c.base+path, body, c.token)
	if err != nil {
		return nil, err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &presp{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// want sends a request and returns an *errStatus unless the answer has the
// status wanted.
func (c *pclient) want(method, path string, body any, status int, header ...string) (*presp, error) {
	r, err := c.do(method, path, body, header...)
	if err != nil {
		return nil, err
	}
	if r.status != status {
		return r, &errStatus{method + " " + path, r.status, r.body}
	}
	return r, nil
}

// refreshCookie returns the refresh cookie the jar holds, or "".
func (c *pclient) refreshCookie() string {
	u, _ := url.Parse(c.base + "/api/auth/refresh")
	for _, ck := range c.hc.Jar.Cookies(u) {
		if ck.Name == "refresh_token" {
			return ck.Value
		}
	}
	return ""
}

// formBody is multipartBody for worker goroutines, which have no *testing.T
// to fail.
func formBody(parts ...part) ([]byte, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, p := range parts {
		h := make(textproto.MIMEHeader)
		disp := fmt.Sprintf(`form-data; name=%q`, p.name)
		if p.filename != "" {
			disp += fmt.Sprintf(`; filename=%q`, p.filename)
		}
		h.Set("Content-Disposition", disp)
		w, _ := mw.CreatePart(h)
		w.Write(p.data)
	}
	mw.Close()
	return b.Bytes(), mw.FormDataContentType()
}

// pngNoise returns a w×h PNG of random pixels: every upload is different.
func pngNoise(w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = byte(rand.Uint32())
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}
