package main

import (
	"net/http"
	"path"
	"regexp"
	"strings"
	"testing"

	"corkboard/democlient"
)

// TestDemoClientPages checks how the demo client is served: its pages and
// assets carry the strict Content-Security-Policy and nosniff, the page
// has no inline script or style for the policy to block, everything it
// links to is served, and paths it does not own are still 404 problems
// (no catch-all GET /).
func TestDemoClientPages(t *testing.T) {
	env := startEnv(t, fileStore, nil)
	c := env.newClient()
	for _, p := range []string{"/", "/reset-password", "/verify-email", "/reset-password?token=abc", "/verify-email?token=abc"} {
		r := c.do("GET", p, nil).want(t, http.StatusOK)
		wantHeaders(t, r, "text/html; charset=utf-8")
		if got := r.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("GET %s: Cache-Control %q, want no-store (the query may hold a token)", p, got)
		}
		if got := r.Header.Get("Referrer-Policy"); got != "no-referrer" {
			t.Errorf("GET %s: Referrer-Policy %q, want no-referrer", p, got)
		}
		body := string(r.body)
		if !strings.Contains(body, `<script type="module" src="/assets/app.js">`) {
			t.Errorf("GET %s: the page does not load /assets/app.js:\n%s", p, body)
		}
		if m := regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]|<style|\sstyle=|\son[a-z]+=`).FindString(body); m != "" {
			t.Errorf("GET %s: the page has inline script or style (%q), which its CSP blocks", p, m)
		}
	}

	// Every asset the page and the scripts name is served, with the headers.
	names, err := democlient.Names()
	if err != nil {
		t.Fatal(err)
	}
	page := string(c.do("GET", "/", nil).body)
	linked := regexp.MustCompile(`(?:src|href)="(/assets/[^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(linked) < 3 {
		t.Fatalf("the page links %d assets, want its script, stylesheet and icon", len(linked))
	}
	for _, name := range names {
		if name == "index.html" {
			continue
		}
		r := c.do("GET", "/assets/"+name, nil).want(t, http.StatusOK)
		types := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
		wantHeaders(t, r, types[path.Ext(name)])
		if path.Ext(name) == ".js" {
			for _, m := range regexp.MustCompile(`from '\./([^']+)'`).FindAllStringSubmatch(string(r.body), -1) {
				c.do("GET", "/assets/"+m[1], nil).want(t, http.StatusOK)
			}
		}
	}
	for _, m := range linked {
		c.do("GET", m[1], nil).want(t, http.StatusOK)
	}

	// Paths the client does not own.
	for _, p := range []string{"/nope", "/api/nope", "/api/", "/assets/", "/assets/nope.js", "/assets/index.html",
		"/assets/..%2fdemoclient.go", "/reset-password/x", "/index.html", "/api/auth"} {
		c.do("GET", p, nil).wantProblem(t, http.StatusNotFound, "not_found")
	}
	c.do("POST", "/", `{}`).wantProblem(t, http.StatusMethodNotAllowed, "method_not_allowed")
	c.do("DELETE", "/assets/app.js", nil).wantProblem(t, http.StatusMethodNotAllowed, "method_not_allowed")
}

// wantHeaders checks the headers every page and asset of the demo client
// carries, and its Content-Type.
func wantHeaders(t *testing.T, r *response, contentType string) {
	t.Helper()
	where := r.Request.Method + " " + r.Request.URL.String()
	csp := r.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self'", "object-src 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: Content-Security-Policy %q lacks %q", where, csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") || strings.Contains(csp, "*") {
		t.Errorf("%s: Content-Security-Policy %q allows more than this origin", where, csp)
	}
	if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options %q, want nosniff", where, got)
	}
	if got := r.Header.Get("Content-Type"); got != contentType {
		t.Errorf("%s: Content-Type %q, want %q", where, got, contentType)
	}
}

// TestDemoClientOrigin checks the refresh cookie's CSRF guard with the
// headers a browser sends: the demo client's own requests (same origin,
// not listed in CORS_ORIGINS) pass; another site's are refused, whatever
// Origin it is.
func TestDemoClientOrigin(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, nil)
		c := env.newClient()
		c.signup("pagey", "pagey@example.com", "password1")
		login := map[string]string{"email": "pagey@example.com", "password": "password1"}
		self := env.srv.URL
		c.do("POST", "/api/auth/login", login, "Origin", self, "Sec-Fetch-Site", "same-origin").want(t, http.StatusOK)
		c.do("POST", "/api/auth/refresh", nil, "Origin", self, "Sec-Fetch-Site", "same-origin").want(t, http.StatusOK)
		for _, site := range []string{"cross-site", "same-site", "none", ""} {
			c.do("POST", "/api/auth/login", login, "Origin", "https://evil.example", "Sec-Fetch-Site", site).
				wantProblem(t, http.StatusForbidden, "origin_not_allowed")
			c.do("POST", "/api/auth/refresh", nil, "Origin", self, "Sec-Fetch-Site", site).
				wantProblem(t, http.StatusForbidden, "origin_not_allowed")
		}
	})
}
