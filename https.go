package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"

	"corkboard/web"
)

// httpsSetup is how serve speaks HTTPS, so that a server needs nothing in
// front of it: the TLS configuration of the main listener and, with ACME,
// the handler of the plain-HTTP listener beside it.
type httpsSetup struct {
	tls *tls.Config
	// plain answers ACME HTTP-01 challenges and sends everything else to
	// HTTPS; nil without ACME.
	plain http.Handler
}

// newHTTPS builds the HTTPS setup of cfg, or returns nil for plain HTTP.
// A certificate from files is loaded here, so that a wrong path or a key
// that does not match fails the start rather than every handshake.
// Versions and cipher suites are Go's defaults from TLS 1.2 up: they
// follow current advice as Go is updated, which a list written here would
// not.
func newHTTPS(cfg config, log *slog.Logger) (*httpsSetup, error) {
	switch {
	case cfg.tlsCert != "":
		cert, err := tls.LoadX509KeyPair(cfg.tlsCert, cfg.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("loading the TLS certificate (-tls-cert %s, -tls-key %s): %w", cfg.tlsCert, cfg.tlsKey, err)
		}
		if leaf, err := x509.ParseCertificate(cert.Certificate[0]); err == nil && time.Now().After(leaf.NotAfter) {
			log.Warn("the TLS certificate has expired; clients will refuse it", "file", cfg.tlsCert, "notAfter", leaf.NotAfter)
		}
		return &httpsSetup{tls: &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}}, nil

	case len(cfg.acmeDomains) > 0:
		// The ACME account key and the certificates are kept on disk so a
		// restart does not ask the CA again (Let's Encrypt limits how
		// often it issues the same certificate). The directory holds
		// private keys: only the service's user may read it.
		dir := filepath.Join(cfg.dataDir, "acme")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("creating the ACME cache directory: %w", err)
		}
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, fmt.Errorf("restricting the ACME cache directory: %w", err)
		}
		m := &autocert.Manager{
			Prompt:     autocert.AcceptTOS,
			Cache:      autocert.DirCache(dir),
			HostPolicy: autocert.HostWhitelist(cfg.acmeDomains...),
			Email:      cfg.acmeEmail,
			Client:     &acme.Client{DirectoryURL: cfg.acmeDirectory, UserAgent: "corkboard"},
		}
		// TLSConfig answers TLS-ALPN-01 challenges on the HTTPS port;
		// HTTPHandler answers HTTP-01 on the plain port. autocert tries
		// them in that order.
		tc := m.TLSConfig()
		tc.MinVersion = tls.VersionTLS12
		return &httpsSetup{tls: tc, plain: withoutPort(m.HTTPHandler(redirectToHTTPS(cfg.addr, cfg.acmeDomains)))}, nil
	}
	return nil, nil
}

// withoutPort removes the port from the request's Host before h sees it.
// autocert checks Host against the domain list as it is, so a CA that
// validates on another port than 80 (as a test CA does) and names it in
// Host would be refused its challenge answer.
func withoutPort(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if host, _, err := net.SplitHostPort(r.Host); err == nil {
			r.Host = host
		}
		h.ServeHTTP(w, r)
	})
}

// redirectToHTTPS sends GET and HEAD requests to the same path over HTTPS
// on httpsAddr's port, at the host asked for when it is one of domains
// (else the first), so the plain port leads nowhere else. Other methods
// get a 400 problem: their body has already crossed the network in clear,
// and a client that sends credentials over HTTP should be fixed, not
// quietly redirected.
func redirectToHTTPS(httpsAddr string, domains []string) http.Handler {
	_, port, _ := net.SplitHostPort(httpsAddr)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			web.WriteProblem(w, web.NewProblem(http.StatusBadRequest, "https_required", "This server answers over HTTPS only."))
			return
		}
		host := strings.ToLower(r.Host)
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if !slices.Contains(domains, host) {
			host = domains[0]
		}
		if port != "" && port != "443" {
			host = net.JoinHostPort(host, port)
		}
		http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusMovedPermanently)
	})
}
