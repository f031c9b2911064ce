package web

import (
	"log/slog"
	"net/http"
)

// HandlerFunc is the shape of every corkboard handler body: it writes a
// success itself and returns anything else as an error, which the adapter
// turns into a problem response. A handler never writes a problem itself.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// ProblemFor maps a domain package's errors to the problems clients get.
// It returns nil for an error it does not know. Each package that serves
// routes keeps one, beside its handlers, as its error table.
type ProblemFor func(error) *Problem

// Handle adapts fn to an http.Handler. An error fn returns is looked up in
// problems (which may be nil); one it finds there is written as that
// problem, and any other is
// answered by Fail (a *Problem as it is, an unavailable store as 503, a
// client gone as 499, everything else as a logged 500).
func Handle(log *slog.Logger, problems ProblemFor, fn HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := fn(w, r)
		if err == nil {
			return
		}
		if problems == nil {
			Fail(w, r, log, err)
			return
		}
		if p := problems(err); p != nil {
			WriteProblem(w, p)
			return
		}
		Fail(w, r, log, err)
	})
}
