package authhttp

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"corkboard/auth"
	"corkboard/web"
)

// Config is what the HTTP side of sessions needs from the configuration.
type Config struct {
	CookieSecure   bool
	CookieSameSite http.SameSite
	// Origins are the allowed browser origins (CORS_ORIGINS); the routes
	// that act on the refresh cookie refuse requests from any other Origin.
	Origins []string
	// TrustProxy takes the client's address from X-Forwarded-For.
	TrustProxy bool
}

// Handlers serves the session routes and authenticates requests.
type Handlers struct {
	cfg Config
	svc *auth.Service
	log *slog.Logger
	// refreshParts is the refresh cookie's Set-Cookie value, as net/http
	// writes it, cut around its token and its Max-Age.
	refreshParts cookieParts
}

// cookieParts is a Set-Cookie value without its value and Max-Age: head,
// value, mid, Max-Age in seconds, tail.
type cookieParts struct{ head, mid, tail string }

// New returns the session routes over svc.
func New(cfg Config, svc *auth.Service, log *slog.Logger) *Handlers {
	h := &Handlers{cfg: cfg, svc: svc, log: log}
	h.refreshParts = h.refreshCookieParts()
	return h
}

// handle adapts a handler body, answering errors through auth's table.
func (h *Handlers) handle(fn web.HandlerFunc) http.Handler {
	return web.Handle(h.log, Problem, fn)
}

// Client returns the device a request comes from, as a session records it.
func (h *Handlers) Client(r *http.Request) auth.Client {
	return auth.Client{IP: web.ClientIP(r, h.cfg.TrustProxy), UserAgent: r.UserAgent()}
}

// CheckOrigin is the CSRF guard of every route that acts on or sets the
// refresh cookie: a browser request from an origin outside CORS_ORIGINS is
// refused with 403 origin_not_allowed. A request without Origin (not a
// cross-site browser request) passes, and so does one that the browser
// itself marks Sec-Fetch-Site: same-origin: the demo client served by
// corkboard calls its own origin, which need not be listed. A page cannot
// set that header (browsers forbid it to scripts), and a client that is
// not a browser can send any Origin anyway; the header is read, never
// turned into a URL.
func (h *Handlers) CheckOrigin(r *http.Request) error {
	origin := r.Header.Get("Origin")
	if origin == "" || slices.Contains(h.cfg.Origins, origin) || r.Header.Get("Sec-Fetch-Site") == "same-origin" {
		return nil
	}
	return errOrigin
}

// TokenBody is the JSON shape of new tokens in a response. RefreshToken is
// filled only for clients that asked for it in the body.
type TokenBody struct {
	AccessToken  string `json:"accessToken"`
	TokenType    string `json:"tokenType"`
	ExpiresIn    int    `json:"expiresIn"`
	RefreshToken string `json:"refreshToken,omitempty"`
}

// refreshAnswer is TokenBody as the answer of a refresh, written without
// reflection (see web.JSONAppender). It is a type of its own, not a method
// of TokenBody, because sign-up and login embed TokenBody in a larger
// answer, which would take the promoted method and be written as the
// tokens alone. TestTokenBodyJSON holds it to encoding/json, and fails when
// TokenBody gains a field this does not write.
type refreshAnswer TokenBody

// AppendJSON writes b as json.Marshal does.
func (b refreshAnswer) AppendJSON(buf []byte) ([]byte, bool) {
	buf = append(buf, `{"accessToken":`...)
	buf = web.AppendJSONString(buf, b.AccessToken)
	buf = append(buf, `,"tokenType":`...)
	buf = web.AppendJSONString(buf, b.TokenType)
	buf = append(buf, `,"expiresIn":`...)
	buf = web.AppendJSONInt(buf, int64(b.ExpiresIn))
	if b.RefreshToken != "" {
		buf = append(buf, `,"refreshToken":`...)
		buf = web.AppendJSONString(buf, b.RefreshToken)
	}
	return append(buf, '}'), true
}

// TokenResponse returns the response body for t, with the refresh token
// only when withRefresh is set.
func TokenResponse(t auth.Tokens, withRefresh bool) TokenBody {
	b := TokenBody{AccessToken: t.AccessToken, TokenType: "Bearer", ExpiresIn: t.ExpiresIn}
	if withRefresh {
		b.RefreshToken = t.RefreshToken
	}
	return b
}

// accessToken returns the token a request carries, from Authorization:
// Bearer or from X-Access-Token, or "".
func accessToken(r *http.Request) string {
	if v := r.Header.Get("Authorization"); v != "" {
		scheme, token, ok := strings.Cut(v, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(token)
		}
		return ""
	}
	return strings.TrimSpace(r.Header.Get("X-Access-Token"))
}

// Authenticate lets a request through only with a valid access token whose
// session is alive and whose account still exists, and puts the caller
// (auth.Principal) in the request context.
func (h *Handlers) Authenticate(next http.Handler) http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		p, err := h.svc.Authenticate(r.Context(), accessToken(r))
		if err != nil {
			return err
		}
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
		return nil
	})
}

// RequireRole lets a request through only when the authenticated caller
// holds one of roles; others get 403 insufficient_role. It goes inside
// Authenticate.
func (h *Handlers) RequireRole(roles ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return h.handle(func(w http.ResponseWriter, r *http.Request) error {
			p, _ := auth.PrincipalFrom(r.Context())
			if err := auth.Authorize(p, roles...); err != nil {
				return err
			}
			next.ServeHTTP(w, r)
			return nil
		})
	}
}

// refreshRequest is the optional body of refresh and logout, for clients
// that keep the refresh token themselves instead of in a cookie.
type refreshRequest struct {
	RefreshToken string `json:"refreshToken"`
}

// presentedRefreshToken returns the refresh token of a refresh or logout
// request, from the JSON body when there is one, else from the cookie, and
// whether it came in the body. Whether there is a body is decided by reading
// it, not by Content-Length, so an empty chunked body counts as none. With
// lenient set (logout), a body that cannot be read as JSON is ignored and
// the cookie is used; otherwise it is a problem (400, 413, 415 or 422).
func presentedRefreshToken(w http.ResponseWriter, r *http.Request, lenient bool) (token string, inBody bool, err error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, web.MaxBodyBytes))
	if err != nil && !lenient {
		return "", false, web.NewProblem(http.StatusRequestEntityTooLarge, "payload_too_large", "The request body is larger than 1 MiB.")
	}
	if err == nil && len(bytes.TrimSpace(body)) > 0 {
		var req refreshRequest
		switch err := decodeRefreshBody(r, body, &req); {
		case err != nil && !lenient:
			return "", false, err
		case err == nil && req.RefreshToken != "":
			return req.RefreshToken, true, nil
		}
	}
	if c, err := r.Cookie(RefreshCookieName); err == nil && c.Value != "" {
		return c.Value, false, nil
	}
	return "", false, nil
}

// decodeRefreshBody decodes the body of a refresh or logout request into
// req as web.DecodeJSONBody does, with the same problems. The body every
// client sends, {"refreshToken":"…"} with a token of the characters a
// token is made of, is read by plainRefreshBody without encoding/json,
// whose decoder (its buffers, the reflection over refreshRequest) was a
// tenth of the bytes a refresh allocated; anything else (another spacing,
// an escape, another member, a malformed body) goes to encoding/json, as
// web.DecodeJSONBodyPlain does. FuzzRefreshBody checks that the two agree.
func decodeRefreshBody(r *http.Request, body []byte, req *refreshRequest) error {
	return web.DecodeJSONBodyPlain(r, body, req, plainRefreshBody)
}

// plainRefreshBody reads a body that is exactly {"refreshToken":"T"}, give
// or take JSON whitespace before and after, where T is a non-empty run of
// letters, digits, '-', '_' and '.' (every token corkboard issues), into
// req, and reports whether the body had that shape; if not, req is left as
// it was. Such a body decodes to T whatever the decoder: it holds no
// escape, no other member, and nothing after the object.
func plainRefreshBody(body []byte, req *refreshRequest) bool {
	body = bytes.Trim(body, " \t\r\n") // JSON's whitespace, no more
	rest, ok := bytes.CutPrefix(body, []byte(`{"refreshToken":"`))
	if !ok {
		return false
	}
	token, ok := bytes.CutSuffix(rest, []byte(`"}`))
	if !ok || !plainToken(token) {
		return false
	}
	req.RefreshToken = string(token)
	return true
}

// plainToken reports whether v is a non-empty run of letters, digits,
// '-', '_' and '.': the bytes of every token corkboard issues (base64url
// and dots), which JSON never escapes and a cookie value holds unquoted.
func plainToken[T string | []byte](v T) bool {
	if len(v) == 0 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// Refresh serves POST /api/auth/refresh.
func (h *Handlers) Refresh() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Cache-Control", "no-store")
		if err := h.CheckOrigin(r); err != nil {
			return err
		}
		token, inBody, err := presentedRefreshToken(w, r, false)
		if err != nil {
			return err
		}
		t, err := h.svc.Refresh(r.Context(), token)
		if err != nil {
			// A refused cookie is useless: clear it. After reuse, clear it
			// whatever carried the token: a client that sends a retired
			// token in the body holds the same session's cookie, if any,
			// and that session has just ended.
			if p := Problem(err); token != "" && p != nil && p.Status == http.StatusUnauthorized &&
				(!inBody || errors.Is(err, auth.ErrRefreshReused)) {
				h.ClearRefreshCookie(w)
			}
			return err
		}
		h.SetRefreshCookie(w, t)
		web.WriteJSON(w, http.StatusOK, refreshAnswer(TokenResponse(t, inBody)))
		return nil
	})
}

// Logout serves POST /api/auth/logout: it ends the session named by the
// refresh token, if any, and clears the cookie. It always answers 204, so
// logging out twice, or with no token, is not an error.
func (h *Handlers) Logout() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := h.CheckOrigin(r); err != nil {
			return err
		}
		token, _, _ := presentedRefreshToken(w, r, true)
		if token != "" {
			if err := h.svc.Logout(r.Context(), token); err != nil {
				return err
			}
		}
		h.ClearRefreshCookie(w)
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// LogoutAll serves POST /api/auth/logout-all: every session of the caller
// ends, this one included.
func (h *Handlers) LogoutAll() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		p, _ := auth.PrincipalFrom(r.Context())
		if err := h.svc.LogoutAll(r.Context(), p.UserID); err != nil {
			return err
		}
		h.ClearRefreshCookie(w)
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// sessionView is one entry of GET /api/auth/sessions.
type sessionView struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"createdAt"`
	LastUsedAt time.Time `json:"lastUsedAt"`
	UserAgent  string    `json:"userAgent"`
	IP         string    `json:"ip"`
	Current    bool      `json:"current"`
}

// Sessions serves GET /api/auth/sessions: the caller's live sessions,
// newest first, with the one making the request marked current.
func (h *Handlers) Sessions() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		p, _ := auth.PrincipalFrom(r.Context())
		list, err := h.svc.Sessions(r.Context(), p)
		if err != nil {
			return err
		}
		views := make([]sessionView, 0, len(list))
		for _, sess := range list {
			views = append(views, sessionView{
				ID:         sess.ID,
				CreatedAt:  sess.CreatedAt,
				LastUsedAt: sess.LastUsedAt,
				UserAgent:  sess.UserAgent,
				IP:         sess.IP,
				Current:    sess.ID == p.SessionID,
			})
		}
		web.WriteJSON(w, http.StatusOK, map[string]any{"sessions": views})
		return nil
	})
}

// DeleteSession serves DELETE /api/auth/sessions/{id}: the caller ends one
// of their own live sessions. Someone else's session, or one already
// ended, is a 404.
func (h *Handlers) DeleteSession() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		p, _ := auth.PrincipalFrom(r.Context())
		id := r.PathValue("id")
		if err := h.svc.RevokeSession(r.Context(), p.UserID, id); err != nil {
			return err
		}
		if id == p.SessionID {
			h.ClearRefreshCookie(w)
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// RefreshCookieName is the cookie that carries the refresh token.
const RefreshCookieName = "refresh_token"

// SetRefreshCookie puts the refresh token of t in the refresh cookie, which
// lives as long as the session does.
//
// Every refresh sets it, so the header is put together from parts that
// http.Cookie wrote once, in New, around the token and Max-Age: the same
// bytes as http.SetCookie, without checking each attribute again on every
// request. A token with a byte that a cookie value must not hold (never
// one of ours: they are base64url and dots) goes through http.SetCookie,
// which drops or quotes it.
func (h *Handlers) SetRefreshCookie(w http.ResponseWriter, t auth.Tokens) {
	maxAge := max(int(t.Session.ExpiresAt.Sub(h.svc.Now()).Round(time.Second)/time.Second), 1)
	if h.refreshParts.head == "" || !plainToken(t.RefreshToken) {
		http.SetCookie(w, h.refreshCookie(t.RefreshToken, maxAge))
		return
	}
	p := &h.refreshParts
	var b strings.Builder
	b.Grow(len(p.head) + len(t.RefreshToken) + len(p.mid) + 20 + len(p.tail))
	b.WriteString(p.head)
	b.WriteString(t.RefreshToken)
	b.WriteString(p.mid)
	var n [20]byte
	b.Write(strconv.AppendInt(n[:0], int64(maxAge), 10))
	b.WriteString(p.tail)
	hdr := w.Header()
	hdr["Set-Cookie"] = append(hdr["Set-Cookie"], b.String())
}

// refreshCookieParts cuts the Set-Cookie value that http.Cookie writes for
// the refresh cookie around its value and its Max-Age. If net/http ever
// writes them otherwise, it returns no parts, and SetRefreshCookie calls
// http.SetCookie (TestRefreshCookieHeader would show the change first).
func (h *Handlers) refreshCookieParts() cookieParts {
	s := h.refreshCookie("v", 7).String()
	name, rest, ok1 := strings.Cut(s, "=v;")
	mid, tail, ok2 := strings.Cut(rest, "Max-Age=7")
	if !ok1 || !ok2 || name != RefreshCookieName || strings.Contains(tail, "Max-Age") {
		return cookieParts{}
	}
	return cookieParts{head: name + "=", mid: ";" + mid + "Max-Age=", tail: tail}
}

// ClearRefreshCookie tells the browser to drop the refresh cookie.
func (h *Handlers) ClearRefreshCookie(w http.ResponseWriter) {
	c := h.refreshCookie("", 0)
	c.MaxAge = -1 // net/http writes Max-Age=0 for a negative MaxAge
	http.SetCookie(w, c)
}

func (h *Handlers) refreshCookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     RefreshCookieName,
		Value:    value,
		Path:     "/api/auth",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   h.cfg.CookieSecure,
		SameSite: h.cfg.CookieSameSite,
	}
}

// LimitByIP counts every request to the route it wraps against l, per
// client address, before anything else runs (not even the body is read),
// and answers 429 with Retry-After beyond the limit. A limiter that cannot
// count (its store is down) refuses the request with its error, a 503,
// rather than let it through unlimited. A nil l (limits turned off) lets
// everything through.
func (h *Handlers) LimitByIP(l auth.RateLimiter) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if l == nil {
			return next
		}
		return h.handle(func(w http.ResponseWriter, r *http.Request) error {
			if err := l.Take(r.Context(), h.Client(r).IP, h.svc.Now().UTC()); err != nil {
				return err
			}
			next.ServeHTTP(w, r)
			return nil
		})
	}
}

// deviceCookiePrefix starts the name of every device cookie; the rest of
// the name is the account's id, so one browser may hold one per account.
const deviceCookiePrefix = "device_"

// DeviceTokens returns the device tokens a login request carries.
func DeviceTokens(r *http.Request) []string {
	var tokens []string
	for _, c := range r.Cookies() {
		if strings.HasPrefix(c.Name, deviceCookiePrefix) && len(tokens) < 16 {
			tokens = append(tokens, c.Value)
		}
	}
	return tokens
}

// SetDeviceCookie gives the browser the device token of the account it
// just logged in to. It is sent back only to the login route, never read
// by scripts, and lasts auth.DeviceLifetime.
func (h *Handlers) SetDeviceCookie(w http.ResponseWriter, userID, token string) {
	http.SetCookie(w, &http.Cookie{
		Name:     deviceCookiePrefix + userID,
		Value:    token,
		Path:     "/api/auth/login",
		MaxAge:   int(auth.DeviceLifetime / time.Second),
		HttpOnly: true,
		Secure:   h.cfg.CookieSecure,
		SameSite: h.cfg.CookieSameSite,
	})
}
