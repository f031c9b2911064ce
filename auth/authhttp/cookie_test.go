package authhttp

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"corkboard/auth"
)

// TestRefreshCookieHeader checks that SetRefreshCookie writes the bytes
// http.SetCookie writes for the same cookie, for every Secure and SameSite
// setting, for tokens that take the hand-built header and for values that
// must not (which http.SetCookie drops or quotes), and beside a cookie
// already set on the answer.
func TestRefreshCookieHeader(t *testing.T) {
	now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	svc := auth.NewService(auth.Config{AccessSecret: make([]byte, 32), RefreshSecret: make([]byte, 32)}, nil, nil, func() time.Time { return now }, nil)
	values := []string{
		"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzaWQiOiJzIn0.c2ln-_",
		"a",
		"a b",
		"a,b",
		`a"b`,
		"a;b",
		"é",
		"",
	}
	lives := []time.Duration{7 * 24 * time.Hour, 90 * time.Minute, 1500 * time.Millisecond, 0, -time.Hour}
	for _, secure := range []bool{true, false} {
		for _, site := range []http.SameSite{http.SameSiteLaxMode, http.SameSiteStrictMode, http.SameSiteNoneMode, http.SameSiteDefaultMode, 0} {
			h := New(Config{CookieSecure: secure, CookieSameSite: site}, svc, nil)
			for _, v := range values {
				for _, life := range lives {
					tok := auth.Tokens{RefreshToken: v, Session: auth.Session{ExpiresAt: now.Add(life)}}
					got := httptest.NewRecorder()
					got.Header().Add("Set-Cookie", "other=1")
					h.SetRefreshCookie(got, tok)

					want := httptest.NewRecorder()
					want.Header().Add("Set-Cookie", "other=1")
					maxAge := max(int(life.Round(time.Second)/time.Second), 1)
					http.SetCookie(want, h.refreshCookie(v, maxAge))
					if g, w := got.Header().Values("Set-Cookie"), want.Header().Values("Set-Cookie"); !slices.Equal(g, w) {
						t.Errorf("secure=%v samesite=%v value %q life %v:\n got %q\nwant %q", secure, site, v, life, g, w)
					}
				}
			}
		}
	}
}

// BenchmarkSetRefreshCookie compares the refresh cookie written from its
// parts with http.SetCookie writing the same one.
func BenchmarkSetRefreshCookie(b *testing.B) {
	now := time.Now()
	svc := auth.NewService(auth.Config{AccessSecret: make([]byte, 32), RefreshSecret: make([]byte, 32)}, nil, nil, func() time.Time { return now }, nil)
	h := New(Config{CookieSecure: true, CookieSameSite: http.SameSiteLaxMode}, svc, nil)
	tok := auth.Tokens{
		RefreshToken: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI2YjBkNDhiOTJjZjNkNjhhNTUyODg5Y2IiLCJzaWQiOiI2YjBkNDhiOTY5YWFmYzMzNmU1YThiNmMiLCJpc3MiOiJjb3JrYm9hcmQiLCJpYXQiOjE3OTYwMzI2OTcsImV4cCI6MTc5NjYzNzQ5NywiZ2VuIjoyLCJ0b2tlbl91c2UiOiJyZWZyZXNoIn0.jGmvdEHLQwztw0jwqF0TSJpsbJf5oadlsyIvWtds1CA",
		Session:      auth.Session{ExpiresAt: now.Add(7 * 24 * time.Hour)},
	}
	w := httptest.NewRecorder()
	b.Run("parts", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			clear(w.Header())
			h.SetRefreshCookie(w, tok)
		}
	})
	b.Run("http.SetCookie", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			clear(w.Header())
			http.SetCookie(w, h.refreshCookie(tok.RefreshToken, 604800))
		}
	})
}
