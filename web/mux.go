package web

import (
	"net/http"
)

// Problems wraps a ServeMux so that the answers the mux writes itself, 404
// for an unknown path and 405 for a known path with another method (with its
// Allow header), are problem+json like every other error.
func Problems(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		// No route matched: let the mux say what it would answer (404, 405
		// with Allow, or a redirect to a cleaned path) without writing it.
		rec := &headerOnly{header: make(http.Header)}
		h.ServeHTTP(rec, r)
		switch rec.status {
		case http.StatusMethodNotAllowed:
			w.Header().Set("Allow", rec.header.Get("Allow"))
			WriteProblem(w, NewProblem(http.StatusMethodNotAllowed, "method_not_allowed",
				"The method "+r.Method+" is not allowed on this path."))
		case http.StatusNotFound:
			WriteProblem(w, NewProblem(http.StatusNotFound, "not_found", "There is nothing at this path."))
		default:
			mux.ServeHTTP(w, r) // e.g. the redirect for a non-canonical path
		}
	})
}

// headerOnly records the status and headers a handler writes, discarding the body.
type headerOnly struct {
	header http.Header
	status int
}

func (h *headerOnly) Header() http.Header { return h.header }
func (h *headerOnly) Write(b []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	return len(b), nil
}
func (h *headerOnly) WriteHeader(code int) {
	if h.status == 0 {
		h.status = code
	}
}
