// Package democlient holds the demo client: one HTML page, its stylesheet and
// its JavaScript modules, embedded in the binary so that corkboard serves
// a working front end with no build step and nothing fetched from another
// origin. It owns only the bytes and the headers they are served with; the
// routes that serve them are listed with every other route in the main
// package.
package democlient

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"time"
)

//go:embed assets
var files embed.FS

// CSP is the Content-Security-Policy of every page and asset: scripts,
// styles, images and fetches from this origin only, no inline script or
// style (the page has none, so an injected one would not run), no plugins,
// no <base> rewriting, no framing by another site, forms posted only here.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// Page serves the client's single HTML page. The same page answers /,
// /reset-password and /verify-email: its script reads the path and shows
// the matching panel, so that the links in the emails land on the client.
func Page() http.Handler {
	page, err := fs.ReadFile(files, "assets/index.html")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err != nil { // only if the embedded file were missing from the build
			http.Error(w, "the demo client is not built in", http.StatusInternalServerError)
			return
		}
		setHeaders(w.Header())
		// The reset and verification tokens travel in this page's query
		// string: no Referer may carry them to another site, and no cache
		// may keep the page.
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(page))
	})
}

// Asset serves GET /assets/{name}: one of the embedded files, by its base
// name only, or a 404 through notFound (so that an unknown asset is a
// problem document like every other unknown path).
func Asset(notFound http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if name == "" || name != path.Base(name) || name == "index.html" {
			notFound.ServeHTTP(w, r)
			return
		}
		b, err := fs.ReadFile(files, "assets/"+name)
		if err != nil {
			notFound.ServeHTTP(w, r)
			return
		}
		setHeaders(w.Header())
		// The files change with the binary: a browser asks again each time
		// and gets a 304 while the bytes (named by their hash) are unchanged.
		sum := sha256.Sum256(b)
		w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:12])+`"`)
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
	})
}

// Names lists the embedded asset names, for tests.
func Names() ([]string, error) {
	entries, err := fs.ReadDir(files, "assets")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names, nil
}

// setHeaders sets the headers every page and asset carries.
func setHeaders(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}
