package web

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// discardWriter is a ResponseWriter that keeps nothing, so that the
// benchmarks below measure the code under test, not a recorder's buffer.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// BenchmarkWriteJSON measures the JSON answer writer on an answer shaped
// like GET /api/users/me's.
func BenchmarkWriteJSON(b *testing.B) {
	type view struct {
		ID        string   `json:"id"`
		Username  string   `json:"username"`
		Email     string   `json:"email"`
		FullName  string   `json:"fullName"`
		Roles     []string `json:"roles"`
		CreatedAt string   `json:"createdAt"`
	}
	v := struct {
		User view `json:"user"`
	}{view{"65f0c0ffee00000000000001", "bench", "bench@example.com", "Bench Mark", []string{"user"}, "2026-01-02T03:04:05Z"}}
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		WriteJSON(w, http.StatusOK, v)
	}
}

// BenchmarkLog measures the request logger around a handler that writes
// nothing, logging to a real file as the service logs to its stderr, from
// parallel goroutines as a loaded server does.
func BenchmarkLog(b *testing.B) {
	for _, tc := range []struct {
		name  string
		batch bool
		slog  bool // slog's own text handler, as before NewTextHandler
	}{{"direct", false, true}, {"batched-slog", true, true}, {"batched", true, false}} {
		b.Run(tc.name, func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "log"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			var out interface {
				Write([]byte) (int, error)
			} = f
			if tc.batch {
				lw := NewLogWriter(f)
				defer lw.Close()
				out = lw
			}
			h := NewTextHandler(out)
			if tc.slog {
				h = slog.NewTextHandler(out, nil)
			}
			log := slog.New(RequestIDs(h))
			mux := http.NewServeMux()
			mux.Handle("GET /api/users/me", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
			handler := Log(log)(mux)
			b.ReportAllocs()
			b.SetParallelism(32)
			b.RunParallel(func(pb *testing.PB) {
				r := httptest.NewRequest("GET", "/api/users/me", nil)
				w := &discardWriter{h: http.Header{}}
				for pb.Next() {
					handler.ServeHTTP(w, r)
				}
			})
		})
	}
}
