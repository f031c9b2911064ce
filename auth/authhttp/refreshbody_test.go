package authhttp

import (
	"net/http/httptest"
	"strings"
	"testing"

	"corkboard/web"
	"corkboard/web/webtest"
)

// refreshBodies are bodies of the plain shape and around it.
var refreshBodies = []string{
	`{"refreshToken":"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzaWQiOiJzIn0.c2ln-_"}`,
	" \t\r\n{\"refreshToken\":\"abc\"}\n",
	`{"refreshToken":""}`,
	`{"refreshToken":"a\u002eb"}`,
	`{"refreshToken":"a b"}`,
	`{"refreshToken":"a"}x`,
	`{"refreshToken":"a"} {}`,
	`{"refreshtoken":"abc"}`,
	`{"refreshToken":"abc","other":1}`,
	`{"refreshToken" : "abc"}`,
	`{"refreshToken":"abc"`,
	`{"refreshToken":"é"}`,
	"\v{\"refreshToken\":\"abc\"}",
	`{"refreshToken":"abc"}` + "\u00a0",
	`{"refreshToken":"<script>"}`,
	`{"refreshToken":1}`,
}

// TestDecodeRefreshBody checks that decodeRefreshBody gives what
// web.DecodeJSONBody gives, for bodies of the plain shape and around it,
// with each Content-Type, and that the plain shape takes the fast path.
func TestDecodeRefreshBody(t *testing.T) {
	for _, body := range refreshBodies {
		for _, ct := range []string{"application/json", "application/json; charset=utf-8", "text/plain", ""} {
			checkRefreshBody(t, body, ct)
		}
	}
	for _, body := range refreshBodies[:2] {
		var req refreshRequest
		if !plainRefreshBody([]byte(body), &req) {
			t.Errorf("plainRefreshBody(%q): not plain, want the fast path", body)
		}
	}
}

// FuzzRefreshBody checks that decodeRefreshBody agrees with
// web.DecodeJSONBody on any body.
func FuzzRefreshBody(f *testing.F) {
	for _, body := range refreshBodies {
		f.Add(body, "application/json")
	}
	f.Fuzz(func(t *testing.T, body, ct string) {
		checkRefreshBody(t, body, ct)
	})
}

// checkRefreshBody compares decodeRefreshBody with web.DecodeJSONBody on
// one body sent with Content-Type ct.
func checkRefreshBody(t *testing.T, body, ct string) {
	t.Helper()
	r := httptest.NewRequest("POST", "/api/auth/refresh", strings.NewReader(body))
	r.Header.Set("Content-Type", ct)
	var got, want refreshRequest
	gotErr := decodeRefreshBody(r, []byte(body), &got)
	wantErr := web.DecodeJSONBody(r, []byte(body), &want)
	if got != want || !webtest.SameProblem(gotErr, wantErr) {
		t.Errorf("body %q, Content-Type %q: decodeRefreshBody = %+v, %v; web.DecodeJSONBody = %+v, %v", body, ct, got, gotErr, want, wantErr)
	}
}

// BenchmarkRefreshBody decodes a refresh request's body as every client
// sends it, with web.DecodeJSONBody and with decodeRefreshBody, in one run.
func BenchmarkRefreshBody(b *testing.B) {
	body := []byte(refreshBodies[0])
	r := httptest.NewRequest("POST", "/api/auth/refresh", nil)
	r.Header.Set("Content-Type", "application/json")
	for _, tc := range []struct {
		name   string
		decode func(*refreshRequest) error
	}{
		{"DecodeJSONBody", func(req *refreshRequest) error { return web.DecodeJSONBody(r, body, req) }},
		{"decodeRefreshBody", func(req *refreshRequest) error { return decodeRefreshBody(r, body, req) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var req refreshRequest
				if err := tc.decode(&req); err != nil || req.RefreshToken == "" {
					b.Fatal(err)
				}
			}
		})
	}
}
