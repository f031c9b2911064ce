package main

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"time"
)

// openAPIDocument is the OpenAPI 3.1 description of every API route,
// written by hand beside the code it describes. It is embedded, not
// generated from the handlers: the routes carry no schemas, and a document
// written for readers says what a generator cannot (which codes a route
// answers with, and why). openapi_test.go keeps it honest: it fails when
// the route list and the document disagree on any path or method, or when
// a route's security differs from what the server does.
//
//go:embed openapi.json
var openAPIDocument []byte

// handleOpenAPI serves GET /api/openapi.json to anyone: it describes the
// API, which is no secret, and tools (Swagger UI, code generators, the demo
// page) fetch it without logging in. It changes only with the binary, so it
// may be cached for a few minutes, and its ETag, a hash of its bytes, makes
// a revalidation a 304 after that. http.ServeContent answers
// If-None-Match and HEAD.
func handleOpenAPI() http.Handler {
	sum := sha256.Sum256(openAPIDocument)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("Cache-Control", "public, max-age=300")
		h.Set("ETag", etag)
		h.Set("X-Content-Type-Options", "nosniff")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(openAPIDocument))
	})
}
