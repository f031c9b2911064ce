package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Disk faults, on the real program: a full disk and a read-only directory
// make writes answer 503 unavailable with Retry-After, never 500; reads go
// on; nothing acknowledged is lost; writes succeed again once the disk
// takes them, without a restart; and a directory the store cannot open
// stops the start with a clear error and a non-zero exit.
//
// A full disk is a small tmpfs and a read-only one a tmpfs mounted
// read-only, which needs root (CI runs as root). Without root the full-disk
// cases are skipped with a message, and read-only falls back to chmod.

// mountTmpfs mounts a tmpfs with options on a fresh directory, unmounted
// when the test ends.
func mountTmpfs(t *testing.T, opts string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount -t tmpfs -o %s: %v: %s", opts, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

func requireRoot(t *testing.T, what string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("%s needs root to mount a tmpfs; CI runs as root (sudo go test -run %s .)", what, t.Name())
	}
}

// fillUp writes zeros to dir/filler until the disk is full.
func fillUp(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !strings.Contains(err.Error(), "no space left") {
				t.Fatalf("filling %s: %v", dir, err)
			}
			return path
		}
	}
}

// want503 fails unless r is a 503 unavailable problem with Retry-After.
func want503(t *testing.T, what string, r *presp, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	var p problemDoc
	json.Unmarshal(r.body, &p)
	if r.status != 503 || p.Code != "unavailable" || r.header.Get("Retry-After") == "" {
		t.Fatalf("%s: status %d code %q Retry-After %q (body %s); want 503 unavailable with Retry-After", what, r.status, p.Code, r.header.Get("Retry-After"), r.body)
	}
}

// tempFiles lists the temp files of uploads under dataDir/files.
func tempFiles(t *testing.T, dataDir string) []string {
	t.Helper()
	var found []string
	filepath.Walk(filepath.Join(dataDir, "files"), func(path string, info os.FileInfo, err error) error {
		if err == nil && strings.HasPrefix(info.Name(), ".tmp-") {
			found = append(found, path)
		}
		return nil
	})
	return found
}

func TestFullDiskAnswers503(t *testing.T) {
	requireRoot(t, "a full disk")
	dataDir := mountTmpfs(t, "size=1m,mode=0700")
	p := startProcess(t, nil, map[string]string{"DATA_DIR": dataDir})
	alice := &account{username: "alice", email: "alice@example.com", password: "password1", c: newPClient(p.URL)}
	pic := pngNoise(16, 16)
	if err := alice.signupWithPicture(pic); err != nil {
		t.Fatal(err)
	}
	r, err := alice.c.want("POST", "/api/boards", map[string]string{"title": "Before"}, 201)
	if err != nil {
		t.Fatal(err)
	}
	var b struct{ Board boardDoc }
	json.Unmarshal(r.body, &b)

	filler := fillUp(t, dataDir)
	// Sign-ups until the journal's last page is full too: each one either
	// is acknowledged or answers 503, never anything else.
	var acked []*account
	var refused *account
	for i := 0; refused == nil; i++ {
		if i == 100 {
			t.Fatal("100 sign-ups succeeded on a full disk")
		}
		u := &account{username: fmt.Sprintf("user%03d", i), email: fmt.Sprintf("user%03d@example.com", i), password: "password1", c: newPClient(p.URL)}
		r, err := u.c.do("POST", "/api/auth/signup", map[string]string{"username": u.username, "email": u.email, "password": u.password})
		switch {
		case err == nil && r.status == 201:
			acked = append(acked, u)
		default:
			want503(t, "sign-up on a full disk", r, err)
			refused = u
		}
	}
	r, err = alice.c.do("GET", "/healthz", nil)
	if err != nil || r.status != 503 {
		t.Logf("GET /healthz right after a refused write: %v %v (the store rests for a second, so a slow machine may miss it)", status(r), err)
	}

	// Writes of every shape answer 503; an upload leaves no temp file.
	// The store rests a second after the refused write; past it, the
	// upload itself meets the full disk.
	time.Sleep(1100 * time.Millisecond)
	body, ct := formBody(part{name: "picture", filename: "p.png", data: pngNoise(200, 200)})
	r, err = alice.c.do("PUT", "/api/users/"+alice.id+"/picture", body, "Content-Type", ct)
	want503(t, "picture upload on a full disk", r, err)
	if tmp := tempFiles(t, dataDir); len(tmp) != 0 {
		t.Errorf("temp files left by a failed upload: %v", tmp)
	}
	// A small line may still fit in the journal's last page: then it is
	// acknowledged, else refused; nothing else.
	if r, err = alice.c.do("POST", "/api/boards", map[string]string{"title": "Small"}); err != nil || r.status != 201 {
		want503(t, "board on a full disk", r, err)
	}

	// Reads go on.
	if _, err := alice.c.want("GET", "/api/boards/"+b.Board.ID, nil, 200); err != nil {
		t.Errorf("reading a board on a full disk: %v", err)
	}
	if r, err := alice.c.want("GET", alice.pictureURL, nil, 200); err != nil || !bytes.Equal(r.body, pic) {
		t.Errorf("reading a picture on a full disk: %v", err)
	}
	if _, err := alice.c.want("GET", "/api/users/me", nil, 200); err != nil {
		t.Errorf("GET me on a full disk: %v", err)
	}

	// Space comes back: writes succeed again without a restart.
	os.Remove(filler)
	late := &account{username: "late", email: "late@example.com", password: "password1", c: newPClient(p.URL)}
	deadline := time.Now().Add(15 * time.Second)
	for {
		r, err := late.c.do("POST", "/api/auth/signup", map[string]string{"username": late.username, "email": late.email, "password": late.password})
		if err == nil && r.status == 201 {
			break
		}
		want503(t, "sign-up while space comes back", r, err)
		if time.Now().After(deadline) {
			t.Fatal("sign-up still refused 15 s after the space came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	acked = append(acked, late)
	t.Logf("writes succeed again %v after the space came back", time.Since(deadline.Add(-15*time.Second)).Round(time.Millisecond))
	if _, err := alice.c.want("GET", "/healthz", nil, 200); err != nil {
		t.Errorf("GET /healthz once writes succeed again: %v", err)
	}
	if err := alice.replaceAndCheck(pngNoise(20, 20)); err != nil {
		t.Errorf("picture upload once space is back: %v", err)
	}

	// A crash now loses nothing acknowledged, and the refused sign-up is
	// not there.
	p.kill()
	p = startProcess(t, nil, map[string]string{"DATA_DIR": dataDir})
	for _, u := range append(acked, alice) {
		u.c.base = p.URL
		if err := u.login(); err != nil {
			t.Errorf("after restart, %s cannot log in: %v", u.username, err)
		}
	}
	refused.c.base = p.URL
	if r, err := refused.c.do("POST", "/api/auth/login", map[string]string{"email": refused.email, "password": refused.password}); err != nil || r.status != 401 {
		t.Errorf("after restart, the refused sign-up %s logs in: %v %v; want 401", refused.username, status(r), err)
	}
}

// replaceAndCheck replaces a's picture and reads it back.
func (a *account) replaceAndCheck(data []byte) error {
	body, ct := formBody(part{name: "picture", filename: "p.png", data: data})
	r, err := a.c.want("PUT", "/api/users/"+a.id+"/picture", body, 200, "Content-Type", ct)
	if err != nil {
		return err
	}
	var d struct{ User userDoc }
	json.Unmarshal(r.body, &d)
	r, err = a.c.want("GET", d.User.PictureURL, nil, 200)
	if err != nil {
		return err
	}
	if !bytes.Equal(r.body, data) {
		return fmt.Errorf("GET %s: %d bytes, want the %d uploaded", d.User.PictureURL, len(r.body), len(data))
	}
	a.pictureURL = d.User.PictureURL
	return nil
}

// TestReadOnlyDirectoryAnswers503: a data directory that turns read-only
// under a running process refuses uploads with 503 and no temp file, keeps
// serving reads and journal writes to the file it holds open, and takes
// uploads again once writable. As root the process runs as nobody, since
// root ignores the mode bits.
func TestReadOnlyDirectoryAnswers503(t *testing.T) {
	dataDir := t.TempDir()
	var attr *syscall.SysProcAttr
	if os.Geteuid() == 0 {
		const nobody = 65534
		attr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		// The child needs to reach its directory through the test's.
		for d := dataDir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
			os.Chmod(d, 0o755)
		}
		if err := os.Chown(dataDir, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"DATA_DIR": dataDir}
	p := launchProcess(t, nil, env, attr)
	p.waitHealthy(30 * time.Second)
	alice := &account{username: "alice", email: "alice@example.com", password: "password1", c: newPClient(p.URL)}
	pic := pngNoise(16, 16)
	if err := alice.signupWithPicture(pic); err != nil {
		t.Fatal(err)
	}

	pictures := filepath.Join(dataDir, "files", "pictures")
	for _, d := range []string{pictures, dataDir} {
		if err := os.Chmod(d, 0o555); err != nil {
			t.Fatal(err)
		}
	}
	body, ct := formBody(part{name: "picture", filename: "p.png", data: pngNoise(30, 30)})
	r, err := alice.c.do("PUT", "/api/users/"+alice.id+"/picture", body, "Content-Type", ct)
	want503(t, "picture upload into a read-only directory", r, err)
	if tmp := tempFiles(t, dataDir); len(tmp) != 0 {
		t.Errorf("temp files left by a failed upload: %v", tmp)
	}
	if r, err := alice.c.want("GET", alice.pictureURL, nil, 200); err != nil || !bytes.Equal(r.body, pic) {
		t.Errorf("reading the picture from a read-only directory: %v", err)
	}
	if _, err := alice.c.want("PATCH", "/api/users/"+alice.id, map[string]string{"fullName": "Alice"}, 200); err != nil {
		t.Errorf("a profile edit, which only appends to the open journal: %v", err)
	}

	for _, d := range []string{pictures, dataDir} {
		os.Chmod(d, 0o700)
	}
	if err := alice.replaceAndCheck(pngNoise(24, 24)); err != nil {
		t.Errorf("picture upload once the directory is writable again: %v", err)
	}
	p.kill()
	p = launchProcess(t, nil, env, attr)
	p.waitHealthy(30 * time.Second)
	alice.c.base = p.URL
	if err := alice.login(); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if r, err := alice.c.want("GET", "/api/users/me", nil, 200); err != nil || !strings.Contains(string(r.body), `"fullName":"Alice"`) {
		t.Errorf("after restart, me = %v %s; want the acknowledged fullName", err, bodyOf(r))
	}
}

// TestUnwritableDataDirectoryStopsTheStart: a store that cannot open (a
// read-only file system, or a directory the process may not write) ends
// the start with a clear error and exit status 1, whether the directory is
// new or holds data.
func TestUnwritableDataDirectoryStopsTheStart(t *testing.T) {
	t.Run("new directory", func(t *testing.T) {
		var dataDir string
		if os.Geteuid() == 0 {
			dataDir = mountTmpfs(t, "size=1m,ro")
		} else {
			dataDir = t.TempDir()
			os.Chmod(dataDir, 0o555)
			t.Cleanup(func() { os.Chmod(dataDir, 0o700) })
		}
		code, out := runToExit(t, nil, map[string]string{"DATA_DIR": dataDir})
		if code != 1 || !strings.Contains(out, "corkboard: filestore:") || !strings.Contains(out, dataDir) {
			t.Fatalf("start on an unwritable %s: exit %d, output:\n%s\nwant exit 1 and an error naming the directory", dataDir, code, out)
		}
		t.Logf("exit %d: %s", code, lastLines(out, 1))
	})
	t.Run("directory with data", func(t *testing.T) {
		requireRoot(t, "a read-only file system")
		dataDir := mountTmpfs(t, "size=1m,mode=0700")
		p := startProcess(t, nil, map[string]string{"DATA_DIR": dataDir})
		alice := &account{username: "alice", email: "alice@example.com", password: "password1", c: newPClient(p.URL)}
		if err := alice.signup(); err != nil {
			t.Fatal(err)
		}
		p.term()
		if code := p.wait(30 * time.Second); code != 0 {
			t.Fatalf("exit %d after SIGTERM", code)
		}
		if out, err := exec.Command("mount", "-o", "remount,ro", dataDir).CombinedOutput(); err != nil {
			t.Fatalf("remount read-only: %v: %s", err, out)
		}
		code, out := runToExit(t, nil, map[string]string{"DATA_DIR": dataDir})
		if code != 1 || !strings.Contains(out, "read-only file system") {
			t.Fatalf("start on a read-only file system with data: exit %d, output:\n%s\nwant exit 1 and a clear error", code, out)
		}
		t.Logf("exit %d: %s", code, lastLines(out, 1))
		// Writable again: the data is all there.
		if out, err := exec.Command("mount", "-o", "remount,rw", dataDir).CombinedOutput(); err != nil {
			t.Fatalf("remount read-write: %v: %s", err, out)
		}
		p = startProcess(t, nil, map[string]string{"DATA_DIR": dataDir})
		alice.c.base = p.URL
		if err := alice.login(); err != nil {
			t.Errorf("after the directory is writable again: %v", err)
		}
	})
}
