package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestACME runs the real corkboard binary with -acme-domain against
// Pebble, Let's Encrypt's ACME test server (testdata/acme, which .ci/run
// builds and names in ACME_TEST_SERVER). Pebble really validates: its DNS
// answers 127.0.0.1 for every name and it connects to the ports corkboard
// listens on. Each subtest leaves Pebble only one way to reach corkboard,
// so each challenge type is shown to work on its own.
func TestACME(t *testing.T) {
	server := os.Getenv("ACME_TEST_SERVER")
	if server == "" {
		t.Skip("ACME_TEST_SERVER is not set: build testdata/acme (cd testdata/acme && go build -o /tmp/acmeserver .) and set ACME_TEST_SERVER=/tmp/acmeserver to run this test; .ci/run does")
	}
	bin := shippedBinary(t)

	t.Run("tls-alpn-01 on the HTTPS port", func(t *testing.T) {
		httpsPort, httpPort := freePort(t), freePort(t)
		pebble := startPebble(t, server, freePort(t), httpsPort) // HTTP-01 would reach nothing
		dataDir := t.TempDir()
		cb := startACMECorkboard(t, bin, pebble, dataDir, "corkboard.test", httpsPort, httpPort)
		first := checkACMEServer(t, cb, pebble, "corkboard.test", httpsPort, httpPort)
		// The healthcheck command, with the server's settings.
		check := exec.Command(bin, "healthcheck", "-addr", "127.0.0.1:"+strconv.Itoa(httpsPort),
			"-acme-domain", "corkboard.test", "-acme-directory", pebble.directory)
		check.Dir, check.Env = t.TempDir(), []string{"DATA_DIR=" + dataDir}
		if out, err := check.CombinedOutput(); err != nil || !strings.Contains(string(out), ": 200 OK") {
			t.Errorf("corkboard healthcheck against the ACME server: %v\n%s", err, out)
		}

		cache := filepath.Join(dataDir, "acme")
		if info, err := os.Stat(cache); err != nil || info.Mode().Perm() != 0o700 {
			t.Errorf("the ACME cache %s: %v, mode %v; want a directory of mode 0700", cache, err, info.Mode().Perm())
		}
		if _, err := os.Stat(filepath.Join(cache, "corkboard.test")); err != nil {
			t.Errorf("the certificate is not in the ACME cache: %v", err)
		}
		cb.stop(t)

		// A restart takes the certificate from DATA_DIR/acme, without
		// asking the CA, which is gone.
		pebble.stop(t)
		cb = startACMECorkboard(t, bin, pebble, dataDir, "corkboard.test", httpsPort, httpPort)
		again := getOverHTTPS(t, cb, pebble, "corkboard.test", httpsPort, "/healthz")
		if again.serial != first.serial {
			t.Errorf("after a restart the certificate has serial %s, want the cached %s", again.serial, first.serial)
		}
		cb.stop(t)
	})

	t.Run("http-01 on the plain port", func(t *testing.T) {
		httpsPort, httpPort := freePort(t), freePort(t)
		pebble := startPebble(t, server, httpPort, freePort(t)) // TLS-ALPN-01 would reach nothing
		cb := startACMECorkboard(t, bin, pebble, t.TempDir(), "www.corkboard.test", httpsPort, httpPort)
		checkACMEServer(t, cb, pebble, "www.corkboard.test", httpsPort, httpPort)
		cb.stop(t)
	})
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// process is a child process with its stderr kept for failure messages.
type process struct {
	name   string
	cmd    *exec.Cmd
	stderr *syncBuffer
	exited chan error
	done   bool
}

func startCommand(t *testing.T, name string, cmd *exec.Cmd) *process {
	t.Helper()
	p := &process{name: name, cmd: cmd, stderr: &syncBuffer{}, exited: make(chan error, 1)}
	cmd.Stderr = p.stderr
	cmd.SysProcAttr = dieWithTest(cmd.SysProcAttr)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() { p.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if !p.done {
			cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

// stop sends SIGTERM and wants a clean exit within 15 s.
func (p *process) stop(t *testing.T) {
	t.Helper()
	p.done = true
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		if err != nil {
			t.Errorf("%s exited with %v after SIGTERM, want 0; stderr:\n%s", p.name, err, p.stderr.String())
		}
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
		t.Errorf("%s did not exit within 15 s of SIGTERM; stderr:\n%s", p.name, p.stderr.String())
	}
}

// waitFor polls until ok says yes, failing the test (with the process's
// stderr) after timeout or if the process exits.
func (p *process) waitFor(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		select {
		case err := <-p.exited:
			p.done = true
			t.Fatalf("%s exited (%v) before %s; stderr:\n%s", p.name, err, what, p.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %s within %v; stderr:\n%s", p.name, what, timeout, p.stderr.String())
		}
	}
}

// pebble is a running ACME test server.
type pebble struct {
	*process
	directory  string // the ACME directory URL
	serverCert string // file: the certificate of the ACME server itself
	roots      *x509.CertPool
}

// startPebble starts testdata/acme, which validates HTTP-01 challenges on
// 127.0.0.1:httpPort and TLS-ALPN-01 challenges on 127.0.0.1:tlsPort.
func startPebble(t *testing.T, server string, httpPort, tlsPort int) *pebble {
	t.Helper()
	dir := t.TempDir()
	p := &pebble{process: startCommand(t, "the ACME test server", exec.Command(server,
		"-http-port", strconv.Itoa(httpPort), "-tls-port", strconv.Itoa(tlsPort), "-dir", dir))}
	p.waitFor(t, "directory file", 30*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(dir, "directory"))
		return err == nil
	})
	url, _ := os.ReadFile(filepath.Join(dir, "directory"))
	roots, _ := os.ReadFile(filepath.Join(dir, "roots.pem"))
	p.directory, p.serverCert = string(url), filepath.Join(dir, "server.pem")
	p.roots = x509.NewCertPool()
	if !p.roots.AppendCertsFromPEM(roots) {
		t.Fatalf("no certificate in Pebble's roots.pem: %q", roots)
	}
	return p
}

var acmeListenRE = regexp.MustCompile(`msg=listening addr=\S+ store=file https=acme`)

// startACMECorkboard starts the corkboard binary serving HTTPS for domain
// on 127.0.0.1:httpsPort with certificates from Pebble, and the plain
// listener on httpPort. The ACME client trusts the ACME server's own
// certificate through SSL_CERT_FILE, as it would trust Let's Encrypt's
// through the system's roots.
func startACMECorkboard(t *testing.T, bin string, pb *pebble, dataDir, domain string, httpsPort, httpPort int) *process {
	t.Helper()
	cmd := exec.Command(bin, "serve",
		"-addr", "127.0.0.1:"+strconv.Itoa(httpsPort),
		"-acme-http-addr", "127.0.0.1:"+strconv.Itoa(httpPort),
		"-acme-domain", domain, "-acme-email", "ops@corkboard.test", "-acme-directory", pb.directory)
	cmd.Dir = t.TempDir() // no .env there
	cmd.Env = []string{"DATA_DIR=" + dataDir, "BCRYPT_COST=4", "SSL_CERT_FILE=" + pb.serverCert}
	p := startCommand(t, "corkboard", cmd)
	p.waitFor(t, "listening line", 30*time.Second, func() bool { return acmeListenRE.MatchString(p.stderr.String()) })
	return p
}

type httpsAnswer struct {
	status int
	body   []byte
	serial string
	names  []string
	header http.Header
}

// httpsClient verifies the server's certificate against Pebble's root for
// domain, and dials 127.0.0.1:port whatever the URL's host.
func httpsClient(pb *pebble, port int) *http.Client {
	dialer := &net.Dialer{}
	return &http.Client{
		// The first request waits for the certificate to be issued.
		Timeout: 90 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pb.roots},
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return dialer.DialContext(ctx, network, "127.0.0.1:"+strconv.Itoa(port))
			},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func getOverHTTPS(t *testing.T, cb *process, pb *pebble, domain string, port int, path string) httpsAnswer {
	t.Helper()
	resp, err := httpsClient(pb, port).Get("https://" + domain + ":" + strconv.Itoa(port) + path)
	if err != nil {
		t.Fatalf("GET https://%s%s: %v\ncorkboard's log:\n%s\nPebble's log:\n%s", domain, path, err, cb.stderr.String(), pb.stderr.String())
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	leaf := resp.TLS.PeerCertificates[0]
	return httpsAnswer{resp.StatusCode, body, leaf.SerialNumber.String(), leaf.DNSNames, resp.Header}
}

// checkACMEServer fetches /healthz over HTTPS with the certificate Pebble
// issued, signs up, and checks the plain port's redirect and the cache
// directory. It returns the /healthz answer.
func checkACMEServer(t *testing.T, cb *process, pb *pebble, domain string, httpsPort, httpPort int) httpsAnswer {
	t.Helper()
	health := getOverHTTPS(t, cb, pb, domain, httpsPort, "/healthz")
	var h map[string]string
	json.Unmarshal(health.body, &h)
	if health.status != 200 || h["status"] != "ok" {
		t.Fatalf("GET https://%s/healthz = %d %s, want 200 ok", domain, health.status, health.body)
	}
	if len(health.names) != 1 || health.names[0] != domain {
		t.Errorf("the certificate names %v, want [%s]", health.names, domain)
	}

	client := httpsClient(pb, httpsPort)
	resp, err := client.Post("https://"+domain+":"+strconv.Itoa(httpsPort)+"/api/auth/signup", "application/json",
		strings.NewReader(`{"username":"acme","email":"acme@corkboard.test","password":"password1"}`))
	if err != nil {
		t.Fatalf("sign-up over HTTPS: %v", err)
	}
	resp.Body.Close()
	secure := false
	for _, c := range resp.Cookies() {
		secure = secure || c.Name == "refresh_token" && c.Secure
	}
	if resp.StatusCode != 201 || !secure {
		t.Errorf("sign-up over HTTPS: %d, Secure refresh cookie %v; want 201 and true", resp.StatusCode, secure)
	}

	// The plain port: GET goes to the same path over HTTPS (on the HTTPS
	// port, not 443, here), at our domain whatever Host was asked for;
	// POST is refused.
	plain := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	base := "http://127.0.0.1:" + strconv.Itoa(httpPort)
	for host, want := range map[string]string{
		domain:           "https://" + domain + ":" + strconv.Itoa(httpsPort) + "/api/boards?x=1",
		"evil.example":   "https://" + domain + ":" + strconv.Itoa(httpsPort) + "/api/boards?x=1",
		domain + ":8080": "https://" + domain + ":" + strconv.Itoa(httpsPort) + "/api/boards?x=1",
	} {
		req, _ := http.NewRequest("GET", base+"/api/boards?x=1", nil)
		req.Host = host
		resp, err := plain.Do(req)
		if err != nil {
			t.Fatalf("GET on the plain port: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != want {
			t.Errorf("GET http://%s/api/boards?x=1 = %d Location %q, want 301 to %s", host, resp.StatusCode, resp.Header.Get("Location"), want)
		}
	}
	req, _ := http.NewRequest("POST", base+"/api/auth/login", strings.NewReader(`{}`))
	req.Host = domain
	resp, err = plain.Do(req)
	if err != nil {
		t.Fatalf("POST on the plain port: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), `"code":"https_required"`) {
		t.Errorf("POST on the plain port = %d %s, want a 400 https_required problem", resp.StatusCode, body)
	}

	return health
}
