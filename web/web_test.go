package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

type sample struct {
	Name  string   `json:"name"`
	Count int      `json:"count"`
	Tags  []string `json:"tags"`
}

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		name        string
		body        string
		contentType string
		status      int // 0: success
		field       string
	}{
		{"ok", `{"name":"a","count":2,"tags":["x"]}`, "application/json", 0, ""},
		{"ok with charset", `{"name":"a"}`, "application/json; charset=utf-8", 0, ""},
		{"ok trailing whitespace", "{\"name\":\"a\"}\n\t ", "application/json", 0, ""},
		{"empty", ``, "application/json", 400, ""},
		{"syntax", `{"name":}`, "application/json", 400, ""},
		{"truncated", `{"name":"a"`, "application/json", 400, ""},
		{"trailing value", `{"name":"a"} {"name":"b"}`, "application/json", 400, ""},
		{"trailing garbage", `{"name":"a"}x`, "application/json", 400, ""},
		{"unknown field", `{"nom":"a"}`, "application/json", 422, "nom"},
		{"wrong type object", `{"name":{"$ne":null}}`, "application/json", 422, "name"},
		{"wrong type string for int", `{"count":"2"}`, "application/json", 422, "count"},
		{"array not object", `[]`, "application/json", 422, ""},
		{"text/plain", `{"name":"a"}`, "text/plain", 415, ""},
		{"no content type", `{"name":"a"}`, "", 415, ""},
		{"form", `name=a`, "application/x-www-form-urlencoded", 415, ""},
		{"invalid UTF-8 in a value", "{\"name\":\"a\xff\"}", "application/json", 422, "name"},
		{"invalid UTF-8 in a nested value", "{\"tags\":[\"ok\",\"\xc3\x28\"]}", "application/json", 422, "tags"},
		{"invalid UTF-8 in a key", "{\"na\xffme\":\"a\"}", "application/json", 400, ""},
		{"invalid UTF-8 outside an object", "\"\xff\"", "application/json", 400, ""},
		{"lone high surrogate escape", `{"name":"\ud800password"}`, "application/json", 422, "name"},
		{"lone low surrogate escape", `{"name":"x\udc00"}`, "application/json", 422, "name"},
		{"reversed surrogate pair", `{"name":"\udc00\ud800"}`, "application/json", 422, "name"},
		{"valid surrogate pair", `{"name":"\ud83d\ude00"}`, "application/json", 0, ""},
		{"escaped backslash then u", `{"name":"\\ud800"}`, "application/json", 0, ""},
		{"too large", `{"name":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, "application/json", 413, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
			r.Header.Set("Content-Type", tt.contentType)
			var dst sample
			err := DecodeJSON(httptest.NewRecorder(), r, &dst)
			if tt.status == 0 {
				if err != nil {
					t.Fatalf("DecodeJSON(%q) = %v, want nil", tt.body, err)
				}
				return
			}
			p, ok := err.(*Problem)
			if !ok || p.Status != tt.status {
				t.Fatalf("DecodeJSON(%.60q) = %v, want a %d problem", tt.body, err, tt.status)
			}
			if tt.field != "" && p.Errors[tt.field] == "" {
				t.Errorf("DecodeJSON(%q) errors = %v, want field %q named", tt.body, p.Errors, tt.field)
			}
		})
	}
}

// FuzzDecodeJSON checks that the strict decoder never panics, and that it
// answers every input either with a value or with a 4xx problem.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"name":"a","count":1,"tags":[]}`, `{"name":{"$ne":null}}`, `[`, `{"a":1} x`, `null`, `"\ud800"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var dst sample
		err := decodeStrict(data, &dst)
		if err == nil {
			if !json.Valid(bytes.TrimSpace(data)) {
				t.Fatalf("decodeStrict accepted invalid JSON %q", data)
			}
			return
		}
		p, ok := err.(*Problem)
		if !ok || p.Status < 400 || p.Status > 499 {
			t.Fatalf("decodeStrict(%q) = %v, want a 4xx *Problem", data, err)
		}
	})
}

func TestRecover(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	h := Recover(log)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("boom") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 500 || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("panic answered %d %q, want a 500 problem", rec.Code, rec.Header().Get("Content-Type"))
	}
	if strings.Contains(rec.Body.String(), "boom") {
		t.Errorf("500 body reveals the panic: %s", rec.Body)
	}
	if !strings.Contains(logs.String(), "boom") {
		t.Errorf("panic not logged: %s", logs.String())
	}
}

func TestFailClientGone(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequest("GET", "/", nil).WithContext(ctx)
	rec := httptest.NewRecorder()
	Fail(rec, r, log, fmt.Errorf("waiting for a slot: %w", context.Canceled))
	if rec.Code != StatusClientClosedRequest || logs.Len() != 0 {
		t.Errorf("Fail(canceled) = %d, logged %q; want 499 and no log", rec.Code, logs.String())
	}
	// The same error while the client is still there is a real fault.
	rec = httptest.NewRecorder()
	Fail(rec, httptest.NewRequest("GET", "/", nil), log, context.Canceled)
	if rec.Code != 500 || !strings.Contains(logs.String(), "internal error") {
		t.Errorf("Fail(canceled, client present) = %d, logged %q; want a logged 500", rec.Code, logs.String())
	}
}

func TestProblemsFromMux(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("POST /things", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	h := Problems(mux)
	for _, tt := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/nothing", 404, ""},
		{"GET", "/things", 405, "POST"},
		{"POST", "/things", 200, ""},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		if rec.Code != tt.status || !strings.Contains(rec.Header().Get("Allow"), tt.allow) {
			t.Errorf("%s %s = %d Allow %q, want %d Allow %q", tt.method, tt.path, rec.Code, rec.Header().Get("Allow"), tt.status, tt.allow)
		}
		if tt.status >= 400 && rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s %s: Content-Type %q, want problem+json", tt.method, tt.path, rec.Header().Get("Content-Type"))
		}
	}
}

func TestClientIP(t *testing.T) {
	tests := []struct {
		remote, xff string
		trust       bool
		want        string
	}{
		{"10.0.0.1:5555", "", false, "10.0.0.1"},
		{"10.0.0.1:5555", "1.2.3.4", false, "10.0.0.1"},
		{"10.0.0.1:5555", "6.6.6.6, 1.2.3.4", true, "1.2.3.4"},
		{"10.0.0.1:5555", "not-an-ip", true, "10.0.0.1"},
		{"[::1]:5555", "", false, "::1"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.remote
		if tt.xff != "" {
			r.Header.Set("X-Forwarded-For", tt.xff)
		}
		if got := ClientIP(r, tt.trust); got != tt.want {
			t.Errorf("ClientIP(remote %q, XFF %q, trust %v) = %q, want %q", tt.remote, tt.xff, tt.trust, got, tt.want)
		}
	}
}

func TestLogLine(t *testing.T) {
	var logs bytes.Buffer
	mux := http.NewServeMux()
	mux.Handle("GET /items/{id}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	h := Log(slog.New(slog.NewTextHandler(&logs, nil)))(mux)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/items/42?token=secret", nil))
	line := logs.String()
	for _, want := range []string{`pattern="GET /items/{id}"`, "status=204", "request_id=" + rec.Header().Get("X-Request-Id")} {
		if !strings.Contains(line, want) {
			t.Errorf("log line %q lacks %q", line, want)
		}
	}
	if strings.Contains(line, "secret") {
		t.Errorf("log line %q contains the query string", line)
	}
}

// TestHandle checks the adapter: a known error is answered from the
// table, a *Problem as it is, and an unknown error is a logged 500 that
// reveals nothing.
func TestHandle(t *testing.T) {
	errKnown := fmt.Errorf("known")
	table := func(err error) *Problem {
		if errors.Is(err, errKnown) {
			return NewProblem(http.StatusConflict, "known", "A known error.")
		}
		return nil
	}
	tests := []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("wrapped: %w", errKnown), 409, "known"},
		{NewProblem(http.StatusTeapot, "teapot", "Short and stout."), 418, "teapot"},
		{fmt.Errorf("secret driver detail"), 500, "internal_error"},
	}
	for _, tt := range tests {
		var logs bytes.Buffer
		h := Handle(slog.New(slog.NewTextHandler(&logs, nil)), table, func(w http.ResponseWriter, r *http.Request) error { return tt.err })
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		var body problemBody
		json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != tt.status || body.Code != tt.code || strings.Contains(rec.Body.String(), "secret") {
			t.Errorf("Handle(returning %v) = %d %s, want %d %s", tt.err, rec.Code, rec.Body, tt.status, tt.code)
		}
		if logged := strings.Contains(logs.String(), "secret driver detail"); logged != (tt.status == 500) {
			t.Errorf("Handle(returning %v) logged %q", tt.err, logs.String())
		}
	}
}

// TestSharedHeaderValues checks that the header values SecurityHeaders,
// CORS and WriteJSON share between answers stay each answer's own: a
// handler that adds to one of them changes its own answer only, even
// while another answer holds the same value.
func TestSharedHeaderValues(t *testing.T) {
	// One chain, as the server has: its values are made once.
	chain := SecurityHeaders(true)(CORS(nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := r.URL.Query().Get("add")
		if v == "" {
			return
		}
		h := w.Header()
		h.Add("Cache-Control", v)
		h.Add("Vary", v)
		h.Add("Content-Security-Policy", v)
	})))
	a, b := httptest.NewRecorder(), httptest.NewRecorder()
	chain.ServeHTTP(a, httptest.NewRequest("GET", "/?add=a", nil))
	chain.ServeHTTP(b, httptest.NewRequest("GET", "/?add=b", nil))
	WriteJSON(httptest.NewRecorder(), 200, 1)
	c := httptest.NewRecorder()
	c.Header().Add("Content-Type", "text/plain") // replaced by WriteJSON's own
	WriteJSON(c, 200, 1)
	for _, tc := range []struct {
		rec  *httptest.ResponseRecorder
		key  string
		want []string
	}{
		{a, "Cache-Control", []string{"no-store", "a"}},
		{a, "Vary", []string{"Origin", "a"}},
		{a, "Content-Security-Policy", []string{APICSP, "a"}},
		{b, "Cache-Control", []string{"no-store", "b"}},
		{b, "Vary", []string{"Origin", "b"}},
		{a, "X-Frame-Options", []string{"DENY"}},
		{c, "Content-Type", []string{"application/json; charset=utf-8"}},
	} {
		if got := tc.rec.Header()[tc.key]; !slices.Equal(got, tc.want) {
			t.Errorf("%s = %q, want %q", tc.key, got, tc.want)
		}
	}
	d := httptest.NewRecorder()
	chain.ServeHTTP(d, httptest.NewRequest("GET", "/", nil))
	if got := d.Header()["Cache-Control"]; !slices.Equal(got, []string{"no-store"}) {
		t.Errorf("a later answer's Cache-Control = %q, want [no-store]", got)
	}
}
