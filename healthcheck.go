package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// healthcheck asks the server this configuration describes for /healthz
// on loopback and returns nil for a 200. It is the health check of a
// container built FROM scratch, which has no shell and no curl: the
// binary checks itself, with the same environment as the server.
//
// Over HTTPS it does not verify the certificate: the name it was issued
// for does not resolve to loopback, a certificate from files may be
// self-signed, and the request carries nothing secret; what it checks is
// that the process answers and its store is up.
func healthcheck(ctx context.Context, cfg config, stdout io.Writer) error {
	host, port, err := net.SplitHostPort(cfg.addr)
	if err != nil {
		return fmt.Errorf("health check: ADDR %q: %w", cfg.addr, err)
	}
	switch ip := net.ParseIP(host); {
	case host == "" || ip != nil && ip.IsUnspecified() && ip.To4() != nil:
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified():
		host = "::1"
	}
	scheme := "http"
	if cfg.tls() {
		scheme = "https"
	}
	url := scheme + "://" + net.JoinHostPort(host, port) + "/healthz"
	// With ACME the server picks its certificate by the name the client
	// asks for (SNI), and has none for a bare address.
	serverName := ""
	if len(cfg.acmeDomains) > 0 {
		serverName = cfg.acmeDomains[0]
	}
	client := &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{ServerName: serverName, InsecureSkipVerify: true}, // see the doc comment
			Proxy:           nil,
		},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health check: GET %s answered %s: %s", url, resp.Status, body)
	}
	fmt.Fprintf(stdout, "GET %s: %s %s", url, resp.Status, body)
	return nil
}
