// Package web holds the HTTP plumbing that every corkboard handler shares:
// RFC 9457 problem responses, the strict JSON decoder, JSON encoding, and the
// middleware for request ids, request logs, panic recovery and CORS.
package web

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
)

// Problem is an RFC 9457 problem detail. Handlers return or write a Problem
// for every failure a client can cause; anything else is a fault and becomes a
// generic 500.
type Problem struct {
	Status int               `json:"status"`
	Code   string            `json:"code"`
	Detail string            `json:"detail"`
	Errors map[string]string `json:"errors,omitempty"`
	// Limit names the limit a request would pass (a 422 limit_reached:
	// "cardsPerList", ...), so that a client can tell which without
	// parsing the detail.
	Limit string `json:"limit,omitempty"`

	// RetryAfter, when positive, is sent as the Retry-After header (seconds).
	RetryAfter int `json:"-"`
	// Authenticate, when set on a 401, is the error_description of the
	// WWW-Authenticate challenge (RFC 6750 §3) for a token that was presented
	// and rejected.
	Authenticate string `json:"-"`
}

// Error implements error so that a Problem can travel up a call chain.
func (p *Problem) Error() string { return p.Code + ": " + p.Detail }

// NewProblem returns a Problem with the given status, machine code and human detail.
func NewProblem(status int, code, detail string) *Problem {
	return &Problem{Status: status, Code: code, Detail: detail}
}

// Invalid returns the 422 validation problem naming every bad field.
func Invalid(errs map[string]string) *Problem {
	return &Problem{
		Status: http.StatusUnprocessableEntity,
		Code:   "validation_failed",
		Detail: "The request has invalid fields.",
		Errors: errs,
	}
}

// Unauthorized returns a 401 problem. description, when not empty, says why a
// presented token was rejected and goes into WWW-Authenticate.
func Unauthorized(code, detail, description string) *Problem {
	return &Problem{Status: http.StatusUnauthorized, Code: code, Detail: detail, Authenticate: description}
}

// problemBody is the wire shape; Type and Title are derived from the status.
type problemBody struct {
	Type   string            `json:"type"`
	Title  string            `json:"title"`
	Status int               `json:"status"`
	Detail string            `json:"detail"`
	Code   string            `json:"code"`
	Errors map[string]string `json:"errors,omitempty"`
	Limit  string            `json:"limit,omitempty"`
}

// WriteProblem writes p as application/problem+json.
func WriteProblem(w http.ResponseWriter, p *Problem) {
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if p.Status == http.StatusUnauthorized {
		challenge := `Bearer realm="corkboard"`
		if p.Authenticate != "" {
			challenge += `, error="invalid_token", error_description=` + strconv.Quote(p.Authenticate)
		}
		h.Set("WWW-Authenticate", challenge)
	}
	if p.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(p.RetryAfter))
	}
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(problemBody{
		Type:   "about:blank",
		Title:  http.StatusText(p.Status),
		Status: p.Status,
		Detail: p.Detail,
		Code:   p.Code,
		Errors: p.Errors,
		Limit:  p.Limit,
	})
}

// Unavailable reports whether err says, by its behaviour, that a backing
// service failed for now and a retry may succeed (the database is
// unreachable, the disk refused a write): some error in its chain has an
// Unavailable() bool method that returns true. This is how a store tells
// the HTTP layer "503, try again" without knowing HTTP, the way net.Error
// has Timeout().
func Unavailable(err error) bool {
	var u interface{ Unavailable() bool }
	return errors.As(err, &u) && u.Unavailable()
}

// StatusClientClosedRequest is the status logged for a request whose
// client went away before the answer was ready (nginx's 499). Nobody is
// left to read it.
const StatusClientClosedRequest = 499

// Fail writes the response for err: a *Problem anywhere in its chain is
// written as it is; an Unavailable error becomes a 503; a client that went away
// (its request context cancelled) gets a 499 and no error log, since that
// is no fault of ours; anything else is logged and answered with a generic
// 500 that reveals nothing.
func Fail(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var p *Problem
	switch {
	case errors.As(err, &p):
		WriteProblem(w, p)
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		w.WriteHeader(StatusClientClosedRequest)
	case Unavailable(err):
		log.LogAttrs(r.Context(), slog.LevelWarn, "backing service unavailable",
			slog.String("request_id", RequestID(r.Context())), slog.String("error", err.Error()))
		w.Header().Set("Retry-After", "1")
		WriteProblem(w, NewProblem(http.StatusServiceUnavailable, "unavailable", "The service is temporarily unavailable; try again shortly."))
	default:
		log.LogAttrs(r.Context(), slog.LevelError, "internal error",
			slog.String("request_id", RequestID(r.Context())), slog.String("error", err.Error()))
		WriteProblem(w, NewProblem(http.StatusInternalServerError, "internal_error", "Something went wrong on our side."))
	}
}

// jsonContentType is the Content-Type of a JSON answer, shared by all of
// them (see sharedValue).
var jsonContentType = sharedValue("application/json; charset=utf-8")

// WriteJSON writes v as JSON with the given status: by hand if v is a
// JSONAppender, else with encoding/json.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(status)
	if a, ok := v.(JSONAppender); ok && writeAppended(w, a) {
		return
	}
	json.NewEncoder(w).Encode(v)
}
