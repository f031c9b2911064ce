package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"
)

type ctxKey int

const requestIDKey ctxKey = iota

// RequestID returns the id that Log gave the request, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// statusRecorder remembers the status a handler wrote, for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Log gives each request a random id (echoed in X-Request-Id) and writes one
// structured line per request when it ends: method, route pattern, status,
// duration and request id. It never logs headers, bodies or query strings,
// so no token, password or secret can reach the log.
func Log(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			var b [8]byte
			rand.Read(b[:])
			id := hex.EncodeToString(b[:])
			w.Header()["X-Request-Id"] = []string{id} // canonical key: no canonicalisation per request
			r = r.WithContext(context.WithValue(r.Context(), requestIDKey, id))
			rec := &statusRecorder{ResponseWriter: w}
			defer func() {
				pattern := r.Pattern
				if pattern == "" {
					pattern = "(unmatched)"
				}
				// The record is built here and handed to the handler, as
				// Logger.LogAttrs would, less the call stack LogAttrs
				// captures on every call for a source position that no
				// handler here prints (runtime.Callers, 0.5 µs a line).
				ctx := r.Context()
				h := log.Handler()
				if !h.Enabled(ctx, slog.LevelInfo) {
					return
				}
				line := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
				line.AddAttrs(
					slog.String("method", r.Method),
					slog.String("pattern", pattern),
					slog.Int("status", rec.status),
					slog.Duration("duration", time.Since(start)),
					slog.String("request_id", id),
				)
				_ = h.Handle(ctx, line) // as LogAttrs: a log that cannot be written has nowhere to say so
			}()
			next.ServeHTTP(rec, r)
		})
	}
}

// Recover turns a panic in a handler into a logged 500 problem, so one bad
// request cannot stop the process.
func Recover(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if v == http.ErrAbortHandler {
					panic(v) // the server's own signal to drop the connection
				}
				Fail(w, r, log, fmt.Errorf("panic: %v", v))
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// CORS answers cross-origin requests from the listed origins (exact match)
// with credentials allowed, and answers preflight OPTIONS requests itself
// with 204. It wraps the whole mux, because a preflight never matches a
// route's method pattern. Other origins get no CORS headers at all.
func CORS(origins []string) func(http.Handler) http.Handler {
	const (
		methods = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
		headers = "Authorization, Content-Type, X-Access-Token, Prefer" // Prefer: return=minimal on the card PATCH
	)
	varyOrigin := sharedValue("Origin")
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			origin := r.Header.Get("Origin")
			h := w.Header()
			if v := h["Vary"]; v == nil {
				h["Vary"] = varyOrigin // no allocation (see sharedValue)
			} else {
				h["Vary"] = append(v, "Origin")
			}
			allowed := origin != "" && slices.Contains(origins, origin)
			if allowed {
				h.Set("Access-Control-Allow-Origin", origin)
				h.Set("Access-Control-Allow-Credentials", "true")
			}
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Add("Vary", "Access-Control-Request-Method")
				h.Add("Vary", "Access-Control-Request-Headers")
				if allowed {
					h.Set("Access-Control-Allow-Methods", methods)
					h.Set("Access-Control-Allow-Headers", headers)
					h.Set("Access-Control-Max-Age", "600")
				}
				w.WriteHeader(http.StatusNoContent)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// ClientIP returns the address a request came from: the socket peer, or,
// when trustProxy is set, the last hop of X-Forwarded-For (the one our own
// proxy appended; earlier hops are whatever the client claimed).
func ClientIP(r *http.Request, trustProxy bool) string {
	if trustProxy {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			last := xff[len(xff)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if ip := net.ParseIP(strings.TrimSpace(last)); ip != nil {
				return ip.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Chain applies middleware so that the first one listed is the outermost.
func Chain(h http.Handler, mw ...func(http.Handler) http.Handler) http.Handler {
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h
}

// RequestIDs wraps a log handler so that every record logged with a
// request's context (LogAttrs(ctx, ...), InfoContext, ...) carries that
// request's id, whoever logs it: the request log, Fail, or a service deep
// in a call that only has the context.
func RequestIDs(h slog.Handler) slog.Handler { return requestIDHandler{h} }

type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, rec slog.Record) error {
	if id := RequestID(ctx); id != "" && !hasAttr(rec, "request_id") {
		rec = rec.Clone()
		rec.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, rec)
}

// hasAttr reports whether rec already has an attribute named key.
func hasAttr(rec slog.Record, key string) bool {
	found := false
	rec.Attrs(func(a slog.Attr) bool {
		found = a.Key == key
		return !found
	})
	return found
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
