package browser

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// accessTTL is the access token lifetime the server runs with: short, so
// that the test sees a token expire and the page refresh it.
const accessTTL = 3 * time.Second

// TestDemoClient clicks through the demo client in headless Chromium
// against the real corkboard binary: sign-up with a picture, a second tab
// that the refresh cookie logs in, expiry and the automatic refresh in
// both tabs at once, a board with lists and a card moved by keyboard, an
// invitation accepted by a second user in their own browser context on a
// phone-sized screen, forgot/reset through the outbox, and logout
// everywhere, after which the other tab shows the login form and the
// other browser's next call does too. Any console error, uncaught
// exception or Content-Security-Policy violation fails it. Screenshots of
// each step are kept in a temporary directory whose path it prints.
func TestDemoClient(t *testing.T) {
	chrome := findChromium()
	if chrome == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("no Chromium found in CI: .ci/run installs the Debian package chromium")
		}
		t.Skip("no Chromium found (set CHROMIUM, or apt-get install -y chromium): skipping the browser test")
	}
	srv := startServer(t)

	shots, err := os.MkdirTemp("", "corkboard-browser-")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("screenshots of the demo client: %s\n", shots)
	picture := filepath.Join(t.TempDir(), "me.png")
	writePNG(t, picture)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1200, 900))...)
	defer cancelAlloc()

	watch := &consoleWatch{}
	tab1, closeTab1 := chromedp.NewContext(alloc)
	defer closeTab1()
	b := &browser{t: t, base: srv.base, shots: shots, watch: watch}

	// 1. Sign up with a picture.
	b.open(tab1, "tab1", "/")
	b.run(tab1, "sign up",
		chromedp.WaitVisible(chromedp.CSS("#signup-form")),
		chromedp.SendKeys(chromedp.CSS(`#signup-form [name=username]`), "alice"),
		chromedp.SendKeys(chromedp.CSS(`#signup-form [name=email]`), "alice@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#signup-form [name=password]`), "first-password"),
		chromedp.SetUploadFiles(chromedp.CSS(`#signup-form [name=picture]`), []string{picture}),
		chromedp.Click(chromedp.CSS(`#signup-form button[type=submit]`)),
	)
	b.waitText(tab1, "#whoami-name", "alice")
	b.waitJS(tab1, `document.querySelector('#whoami img.avatar')?.complete && document.querySelector('#whoami img.avatar').naturalWidth > 0`)
	b.waitJS(tab1, `document.querySelector('#claims').textContent.includes('"sid"')`)
	b.waitJS(tab1, `document.querySelector('#cookie-view').textContent.indexOf('refresh_token') < 0`)
	b.shot(tab1, "01-signed-up")

	// 2. A second tab: the refresh cookie logs it in.
	tab2, closeTab2 := chromedp.NewContext(tab1)
	defer closeTab2()
	b.open(tab2, "tab2", "/")
	b.waitText(tab2, "#whoami-name", "alice")
	b.shot(tab2, "02-second-tab")

	// 3. Both tokens expire; a call in each tab at once answers 401
	// token_expired, the page refreshes and retries, and neither tab is
	// logged out by the other's refresh.
	b.run(tab1, "account", chromedp.Click(chromedp.CSS(`#nav [data-show=account]`)))
	b.run(tab2, "account", chromedp.Click(chromedp.CSS(`#nav [data-show=account]`)))
	time.Sleep(accessTTL + 1500*time.Millisecond)
	b.waitJS(tab1, `document.querySelector('#token-countdown').classList.contains('expired')`)
	b.settle(tab1)
	b.settle(tab2)
	var wg sync.WaitGroup
	for _, tab := range []context.Context{tab1, tab2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = chromedp.Do(tab, chromedp.Click(chromedp.CSS("#me-reload")))
		}()
	}
	wg.Wait()
	for _, tab := range []context.Context{tab1, tab2} {
		b.waitJS(tab, logHas("GET /api/users/me", "200"))
		b.waitJS(tab, `!document.querySelector('#token-countdown').classList.contains('expired')`)
		b.waitJS(tab, `document.querySelector('#view-auth').hidden`)
	}
	b.waitJS(tab1, logHas("GET /api/users/me", "401 token_expired"))
	b.waitJS(tab1, `(`+logHas("POST /api/auth/refresh", "200")+`) || (`+logHas("GET /api/users/me", "200")+`)`)
	b.shot(tab1, "03-refreshed")

	// 4. A board, two lists, a card, moved to the next list by keyboard.
	b.run(tab1, "create a board",
		chromedp.Click(chromedp.CSS(`#nav [data-show=boards]`)),
		chromedp.SendKeys(chromedp.CSS(`#board-create-form [name=title]`), "Plans <b>bold</b>"),
		chromedp.Click(chromedp.CSS(`#board-create-form button`)),
	)
	b.waitText(tab1, "#board-title", "Plans <b>bold</b>") // shown as text, not markup
	for _, name := range []string{"To do", "Done"} {
		b.run(tab1, "add list "+name,
			chromedp.SendKeys(chromedp.CSS(`.add-list [name=name]`), name),
			chromedp.Click(chromedp.CSS(`.add-list button`)))
		b.waitJS(tab1, fmt.Sprintf(`[...document.querySelectorAll('.lists .list h4')].some(h => h.textContent === %q)`, name))
	}
	b.run(tab1, "add a card",
		chromedp.SendKeys(chromedp.CSS(`.lists .list:nth-child(1) .add-card [name=title]`), "Write tests"),
		chromedp.Click(chromedp.CSS(`.lists .list:nth-child(1) .add-card button`)))
	b.waitJS(tab1, `document.querySelector('.lists .list:nth-child(1) .card .card-title')?.textContent === 'Write tests'`)
	b.run(tab1, "move the card by keyboard",
		chromedp.Focus(chromedp.CSS(`.lists .list:nth-child(1) .card [data-key="→"]`)),
		chromedp.KeyEvent(kb.Enter))
	b.waitJS(tab1, `document.querySelector('.lists .list:nth-child(2) .card .card-title')?.textContent === 'Write tests'`)
	b.waitJS(tab1, `document.activeElement?.closest('.card')?.querySelector('.card-title')?.textContent === 'Write tests'`)
	b.shot(tab1, "04-board")

	// 5. Bob signs up in his own browser context, on a phone-sized screen;
	// Alice invites him, and he accepts from his notifications.
	bob, closeBob := chromedp.NewContext(tab1, chromedp.WithNewBrowserContext())
	defer closeBob()
	b.watch.attach(bob, "bob") // starts the tab on bob's own context, before any step's timeout
	b.run(bob, "phone size", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	b.open(bob, "bob", "/")
	b.run(bob, "bob signs up",
		chromedp.WaitVisible(chromedp.CSS("#signup-form")),
		chromedp.SendKeys(chromedp.CSS(`#signup-form [name=username]`), "bob"),
		chromedp.SendKeys(chromedp.CSS(`#signup-form [name=email]`), "bob@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#signup-form [name=password]`), "bobs-password"),
		chromedp.Click(chromedp.CSS(`#signup-form button[type=submit]`)))
	b.waitText(bob, "#whoami-name", "bob")
	b.run(tab1, "invite bob",
		chromedp.Click(chromedp.CSS(`.board-settings summary`)),
		chromedp.SendKeys(chromedp.CSS(`.invite-form [name=username]`), "bob"),
		chromedp.Click(chromedp.CSS(`.invite-form button`)))
	b.waitJS(tab1, `document.querySelector('#message').textContent.includes('bob is invited')`)
	b.run(bob, "notifications",
		chromedp.Click(chromedp.CSS(`#nav [data-show=notifications]`)),
		chromedp.WaitVisible(chromedp.CSS(`#notif-list .notification .accept`)))
	b.shot(bob, "05-invitation")
	b.settle(bob)
	b.run(bob, "accept", chromedp.Click(chromedp.CSS(`#notif-list .notification .accept`)))
	b.waitText(bob, "#board-title", "Plans <b>bold</b>")
	b.waitJS(bob, `document.querySelector('.lists .list:nth-child(2) .card .card-title')?.textContent === 'Write tests'`)
	b.shot(bob, "06-bob-joined")

	// 6. Forgot and reset, in a third browser context, through the link
	// the outbox logged.
	other, closeOther := chromedp.NewContext(tab1, chromedp.WithNewBrowserContext())
	defer closeOther()
	b.open(other, "other", "/")
	b.run(other, "forgot",
		chromedp.WaitVisible(chromedp.CSS("#forgot-form")),
		chromedp.SendKeys(chromedp.CSS(`#forgot-form [name=email]`), "alice@example.com"),
		chromedp.Click(chromedp.CSS(`#forgot-form button`)))
	b.waitJS(other, `document.querySelector('#message').textContent.length > 0 && document.querySelector('#message').className === 'info'`)
	token := srv.waitResetToken(t)
	b.open(other, "other", "/reset-password?token="+token)
	b.waitJS(other, `!document.querySelector('#view-reset').hidden && location.search === ''`)
	b.shot(other, "07-reset-form")
	b.run(other, "reset",
		chromedp.SendKeys(chromedp.CSS(`#reset-form [name=password]`), "second-password"),
		chromedp.SendKeys(chromedp.CSS(`#reset-form [name=passwordConfirm]`), "second-password"),
		chromedp.Click(chromedp.CSS(`#reset-form button`)))
	b.waitJS(other, `!document.querySelector('#view-auth').hidden`)
	b.login(other, "alice@example.com", "second-password")
	b.waitText(other, "#whoami-name", "alice")
	b.shot(other, "08-after-reset")

	// 7. The reset ended the tabs' session: tab1 is sent to the login
	// form on its next call, logs in again, and tab2 follows it. Then
	// logout everywhere: tab2 shows the login form at once, and the third
	// browser's next call does too.
	b.run(tab1, "next call", chromedp.Click(chromedp.CSS(`#nav [data-show=account]`)))
	b.waitJS(tab1, `!document.querySelector('#view-auth').hidden`)
	b.login(tab1, "alice", "second-password")
	b.waitText(tab1, "#whoami-name", "alice")
	b.waitJS(tab2, `document.querySelector('#view-auth').hidden && document.querySelector('#whoami-name')?.textContent === 'alice'`)
	// The account view lists the sessions once it opens, and the list
	// pushes the buttons below it down: a click aimed before it came in
	// can land beside the button. So the click waits for the list's
	// answer in the emptied log.
	b.settle(tab1)
	b.run(tab1, "account", chromedp.Click(chromedp.CSS(`#nav [data-show=account]`)))
	b.waitJS(tab1, logHas("GET /api/auth/sessions", "200"))
	b.run(tab1, "logout everywhere", chromedp.Click(chromedp.CSS(`#logout-all`)))
	b.waitJS(tab1, `!document.querySelector('#view-auth').hidden`)
	b.waitJS(tab2, `!document.querySelector('#view-auth').hidden`)
	b.shot(tab2, "09-other-tab-logged-out")
	b.run(other, "next call", chromedp.Click(chromedp.CSS(`#nav [data-show=account]`)))
	b.waitJS(other, `!document.querySelector('#view-auth').hidden`)
	b.shot(other, "10-other-browser-logged-out")

	watch.check(t)
}

// logHas is a script that is true when the page's request log has an
// entry for call (method and path) with status (and code).
func logHas(call, status string) string {
	method, path, _ := strings.Cut(call, " ")
	return fmt.Sprintf(`[...document.querySelectorAll('#request-log li')].some(li =>
		li.querySelector('.method').textContent === %q && li.querySelector('.path').textContent === %q &&
		(li.querySelector('.status').textContent + li.lastChild.textContent.replace(/ \(.*$/, '')).startsWith(%q))`,
		method, path, strings.Fields(status)[0]) + codeCheck(status)
}

// codeCheck adds the problem code to logHas's check, when status names one.
func codeCheck(status string) string {
	f := strings.Fields(status)
	if len(f) < 2 {
		return ""
	}
	return fmt.Sprintf(` && [...document.querySelectorAll('#request-log li')].some(li => li.textContent.includes(%q))`, f[0]+" "+f[1])
}

// browser holds what every step needs.
type browser struct {
	t     *testing.T
	base  string
	shots string
	watch *consoleWatch
	step  int
}

// open navigates a tab, watching its console first.
func (b *browser) open(ctx context.Context, name, path string) {
	b.t.Helper()
	b.watch.attach(ctx, name)
	b.run(ctx, "open "+path,
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			// A CSP violation is reported to the page as an event; make it a
			// console error, which the watch fails on.
			_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
				Source: `document.addEventListener('securitypolicyviolation',
					e => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))`})
			return err
		}),
		chromedp.Navigate(b.base+path))
}

func (b *browser) run(ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	step, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(step, actions...); err != nil {
		b.fail(ctx, what, err)
	}
	b.watch.check(b.t)
}

// settle hides the page's message line and empties its request log. An
// info message hides itself 6 s after it was said, which moves everything
// below it up, and a click aimed just before that lands beside its
// target; hidden first, it cannot move anything under the next click. The
// emptied log lets the next wait see that click's answers come in.
func (b *browser) settle(ctx context.Context) {
	b.t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](
		`(document.querySelector('#message').hidden = true, document.querySelector('#log-clear').click(), true)`)); err != nil {
		b.fail(ctx, "settle the page", err)
	}
}

// waitJS waits until expr is true in the page.
func (b *browser) waitJS(ctx context.Context, expr string) {
	b.t.Helper()
	step, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.Run(step, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		b.fail(ctx, "wait for "+expr, err)
	}
	b.watch.check(b.t)
}

// waitText waits until the element's text is want.
func (b *browser) waitText(ctx context.Context, sel, want string) {
	b.t.Helper()
	b.waitJS(ctx, fmt.Sprintf(`document.querySelector(%q)?.textContent === %q`, sel, want))
}

func (b *browser) login(ctx context.Context, name, password string) {
	b.t.Helper()
	b.run(ctx, "log in as "+name,
		chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.SendKeys(chromedp.CSS(`#login-form [name=login]`), name),
		chromedp.SendKeys(chromedp.CSS(`#login-form [name=password]`), password),
		chromedp.Click(chromedp.CSS(`#login-form button`)))
}

// shot saves a screenshot of the whole page and prints its path.
func (b *browser) shot(ctx context.Context, name string) {
	b.t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(b.shots, name+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		b.t.Fatal(err)
	}
	fmt.Println("screenshot:", path)
}

// fail stops the test with the page's message line and request log, and
// a screenshot of the moment.
func (b *browser) fail(ctx context.Context, what string, err error) {
	b.t.Helper()
	var msg, log string
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	msg, _ = chromedp.Run(c, chromedp.Evaluate[string](`document.querySelector('#message')?.textContent || ''`))
	log, _ = chromedp.Run(c, chromedp.Evaluate[string](`[...document.querySelectorAll('#request-log li')].map(li => li.textContent).join('\n')`))
	b.shot(c, "failed")
	b.t.Fatalf("%s: %v\nmessage line: %q\nrequest log (newest first):\n%s", what, err, msg, log)
}

// consoleWatch collects console errors, uncaught exceptions and CSP
// violations from every tab.
type consoleWatch struct {
	mu   sync.Mutex
	errs []string
	tabs map[string]bool
}

func (w *consoleWatch) add(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.errs = append(w.errs, s)
}

// attach reads the tab's console from now on. Network entries (a 401
// answer is an error to Chromium) are left out: the page handles every
// problem answer itself, and the request log shows them.
func (w *consoleWatch) attach(ctx context.Context, tab string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.tabs == nil {
		w.tabs = map[string]bool{}
	}
	if w.tabs[tab] {
		return
	}
	w.tabs[tab] = true
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleException && m.Type != "assert" {
				continue
			}
			if m.Source == "network" {
				continue
			}
			w.add(fmt.Sprintf("%s: %s (%s:%d)", tab, m, m.URL, m.Line))
		}
	}()
}

func (w *consoleWatch) check(t *testing.T) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.errs) > 0 {
		t.Fatalf("the page reported errors:\n%s", strings.Join(w.errs, "\n"))
	}
}

// server is the corkboard binary under test.
type server struct {
	base string
	mu   sync.Mutex
	log  bytes.Buffer
}

var listening = regexp.MustCompile(`msg=listening addr=(\S+)`)
var resetLink = regexp.MustCompile(`reset-password\?token=([A-Za-z0-9_-]+)`)

// startServer builds corkboard from the repository root and runs it with
// the file store in a temporary directory, on a free loopback port.
func startServer(t *testing.T) *server {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "corkboard")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(),
		"ADDR=127.0.0.1:0", "STORE=file", "DATA_DIR="+filepath.Join(cmd.Dir, "data"),
		"ACCESS_TOKEN_TTL="+accessTTL.String(), "COOKIE_SECURE=false", "BCRYPT_COST=4",
		"SMTP_HOST=", "ACCESS_TOKEN_SECRET=", "REFRESH_TOKEN_SECRET=")
	out, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.log.WriteString(line + "\n")
			s.mu.Unlock()
			if m := listening.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			s.mu.Lock()
			t.Logf("server log:\n%s", s.log.String())
			s.mu.Unlock()
		}
	})
	select {
	case a := <-addr:
		s.base = "http://" + a
	case <-time.After(30 * time.Second):
		t.Fatal("corkboard did not start listening within 30 s")
	}
	return s
}

// waitResetToken waits for the outbox's log line with a reset link and
// returns its token (the last one logged).
func (s *server) waitResetToken(t *testing.T) string {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		s.mu.Lock()
		m := resetLink.FindAllStringSubmatch(s.log.String(), -1)
		s.mu.Unlock()
		if len(m) > 0 {
			return m[len(m)-1][1]
		}
	}
	t.Fatal("no reset link in the outbox's log within 20 s")
	return ""
}

// findChromium returns the browser to drive: $CHROMIUM, or the first of
// the usual names on PATH, or "".
func findChromium() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// writePNG writes a small picture for the sign-up form.
func writePNG(t *testing.T, path string) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for x := range 16 {
		for y := range 16 {
			img.Set(x, y, color.RGBA{uint8(x * 16), uint8(y * 16), 160, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
