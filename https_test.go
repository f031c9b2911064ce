package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// writeTestCertificate makes a self-signed certificate for 127.0.0.1 and
// localhost, writes it and its key as PEM files into dir, and returns
// their paths and a pool that trusts the certificate.
func writeTestCertificate(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "corkboard test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(leaf)
	return certFile, keyFile, pool
}

// TestHTTPSWithCertificateFiles runs the real program with -tls-cert and
// -tls-key and uses it over HTTPS: the health check, a sign-up whose
// refresh cookie is Secure, a plain-HTTP request to the HTTPS port, a
// client that offers only TLS 1.1, and the healthcheck command.
func TestHTTPSWithCertificateFiles(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := writeTestCertificate(t, t.TempDir())
	env := map[string]string{"DATA_DIR": dir, "BCRYPT_COST": "4", "TLS_KEY": keyFile}
	getenv := func(k string) string { return env[k] }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		// The certificate by flag, its key by environment: both ways work.
		done <- run(ctx, []string{"corkboard", "-addr", "127.0.0.1:0", "-tls-cert", certFile}, getenv, strings.NewReader(""), io.Discard, &stderr)
	}()
	addr := waitForListen(t, &stderr, done)
	if !strings.Contains(stderr.String(), `https="certificate files"`) {
		t.Errorf("the listening line does not say HTTPS is on:\n%s", stderr.String())
	}

	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz over HTTPS: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("GET /healthz over HTTPS = %d %s (TLS %+v), want 200 over TLS 1.2 or later", resp.StatusCode, body, resp.TLS)
	}

	resp, err = client.Post("https://"+addr+"/api/auth/signup", "application/json",
		strings.NewReader(`{"username":"secure","email":"secure@example.com","password":"password1"}`))
	if err != nil {
		t.Fatalf("sign-up over HTTPS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("sign-up over HTTPS: status %d, want 201", resp.StatusCode)
	}
	var refresh *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "refresh_token" {
			refresh = c
		}
	}
	if refresh == nil || !refresh.Secure || !refresh.HttpOnly {
		t.Errorf("sign-up over HTTPS: refresh cookie %+v, want one that is Secure and HttpOnly", refresh)
	}

	// Plain HTTP to the HTTPS port: a clean 400 from the server, which
	// goes on serving.
	resp, err = (&http.Client{Timeout: 30 * time.Second}).Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("plain HTTP to the HTTPS port: %v, want a 400 answer", err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "HTTPS") {
		t.Errorf("plain HTTP to the HTTPS port = %d %q, want 400 saying to use HTTPS", resp.StatusCode, body)
	}

	// TLS 1.1 and older are refused in the handshake.
	old := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
	if conn, err := tls.Dial("tcp", addr, old); err == nil {
		conn.Close()
		t.Errorf("a TLS 1.1 handshake succeeded; want it refused")
	}

	// The healthcheck command, with the same configuration as the server.
	var out bytes.Buffer
	if err := run(context.Background(), []string{"corkboard", "healthcheck", "-addr", addr, "-tls-cert", certFile}, getenv, strings.NewReader(""), &out, io.Discard); err != nil {
		t.Errorf("corkboard healthcheck = %v, want nil", err)
	} else if !strings.Contains(out.String(), "https://"+addr+"/healthz: 200") {
		t.Errorf("corkboard healthcheck printed %q, want the URL and 200", out.String())
	}

	resp, err = client.Get("https://" + addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /healthz over HTTPS after the bad requests: %v %v, want 200", resp, err)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v after shutdown, want nil; log:\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return within 15 s of shutdown")
	}
}

// TestHealthcheckFails checks that the healthcheck command fails, with
// one line saying why, when nothing answers.
func TestHealthcheckFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	err = run(context.Background(), []string{"corkboard", "healthcheck", "-addr", addr}, func(string) string { return "" }, strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "health check") || strings.Contains(err.Error(), "\n") {
		t.Errorf("healthcheck with nothing listening on %s = %v, want a one-line health check error", addr, err)
	}
}

func TestHTTPSRefusesBadConfiguration(t *testing.T) {
	certDir := t.TempDir()
	certFile, keyFile, _ := writeTestCertificate(t, certDir)
	otherCert, _, _ := writeTestCertificate(t, t.TempDir()) // its key is not keyFile
	garbage := filepath.Join(certDir, "garbage.pem")
	os.WriteFile(garbage, []byte("not a certificate\n"), 0o600)
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string // in the error
	}{
		{"certificate without key", []string{"-tls-cert", certFile}, nil, "-tls-cert and -tls-key go together"},
		{"key without certificate", nil, map[string]string{"TLS_KEY": keyFile}, "-tls-cert and -tls-key go together"},
		{"missing certificate file", []string{"-tls-cert", filepath.Join(certDir, "missing.pem"), "-tls-key", keyFile}, nil, "missing.pem: no such file"},
		{"missing key file", []string{"-tls-cert", certFile, "-tls-key", filepath.Join(certDir, "nokey.pem")}, nil, "nokey.pem: no such file"},
		{"key of another certificate", []string{"-tls-cert", otherCert, "-tls-key", keyFile}, nil, "private key does not match public key"},
		{"not PEM", []string{"-tls-cert", garbage, "-tls-key", keyFile}, nil, "loading the TLS certificate"},
		{"files and ACME", []string{"-tls-cert", certFile, "-tls-key", keyFile, "-acme-domain", "example.com"}, nil, "two ways to get a certificate"},
		{"ACME email without domain", nil, map[string]string{"ACME_EMAIL": "ops@example.com"}, "ACME_DOMAIN is not"},
		{"single-label domain", []string{"-acme-domain", "localhost"}, nil, `ACME_DOMAIN "localhost" is not valid`},
		{"wildcard domain", nil, map[string]string{"ACME_DOMAIN": "example.com, *.example.com"}, `ACME_DOMAIN "*.example.com" is not valid`},
		{"IP address", []string{"-acme-domain", "192.0.2.1"}, nil, `ACME_DOMAIN "192.0.2.1" is not valid`},
		{"domain with port", []string{"-acme-domain", "example.com:443"}, nil, `ACME_DOMAIN "example.com:443" is not valid`},
		{"empty label", []string{"-acme-domain", "a..example.com"}, nil, "is not valid"},
		{"plain-HTTP directory", []string{"-acme-domain", "example.com", "-acme-directory", "http://ca.example/dir"}, nil, "ACME_DIRECTORY"},
		{"two email addresses", []string{"-acme-domain", "example.com", "-acme-email", "a@example.com,b@example.com"}, nil, "ACME_EMAIL"},
		{"one port for both", []string{"-acme-domain", "example.com", "-addr", ":8443", "-acme-http-addr", ":8443"}, nil, "need a port each"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"DATA_DIR": t.TempDir()}
			for k, v := range tt.env {
				env[k] = v
			}
			args := append([]string{"corkboard", "-addr", "127.0.0.1:0"}, tt.args...)
			// Should the setting be accepted, the server starts: stop it.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := run(ctx, args, func(k string) string { return env[k] }, strings.NewReader(""), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("run(%v, env %v) = %v; want an error containing %q", tt.args, tt.env, err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q is more than one line", err)
			}
			if entries, _ := os.ReadDir(env["DATA_DIR"]); len(entries) > 0 {
				t.Errorf("a refused configuration left %v in DATA_DIR; want nothing touched", entries)
			}
		})
	}
}

// TestVersionFlag checks that -version prints the build's version line
// and exits cleanly, even when the rest of the configuration is bad.
func TestVersionFlag(t *testing.T) {
	var stdout bytes.Buffer
	env := map[string]string{"BCRYPT_COST": "3"} // refused by a normal start
	err := run(context.Background(), []string{"corkboard", "-version"}, func(k string) string { return env[k] }, strings.NewReader(""), &stdout, io.Discard)
	if err != nil {
		t.Fatalf("run -version = %v, want nil", err)
	}
	line := stdout.String()
	if !strings.HasPrefix(line, "corkboard ") || !strings.Contains(line, runtime.Version()) || strings.Count(line, "\n") != 1 {
		t.Errorf("run -version printed %q, want one line starting with corkboard and naming %s", line, runtime.Version())
	}
}
