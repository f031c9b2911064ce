package auth

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"time"

	"corkboard/objectid"
	"corkboard/web"
)

var errOrigin = web.NewProblem(http.StatusForbidden, "origin_not_allowed",
	"Requests from this origin may not use the refresh cookie.")

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
		r.Body = io.NopCloser(bytes.NewReader(body))
		switch err := web.DecodeJSON(w, r, &req); {
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

// HandleRefresh serves POST /api/auth/refresh.
func (s *Service) HandleRefresh() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if !web.OriginAllowed(r, s.cfg.Origins) {
			web.WriteProblem(w, errOrigin)
			return
		}
		token, inBody, err := presentedRefreshToken(w, r, false)
		if err != nil {
			web.Fail(w, r, s.log, err)
			return
		}
		if token == "" {
			web.WriteProblem(w, errRefreshMissing)
			return
		}
		t, err := s.Refresh(r.Context(), token)
		if err != nil {
			// A refused cookie is useless: clear it. After reuse every
			// session of the user is gone, so clear it whatever carried
			// the token.
			var p *web.Problem
			if errors.As(err, &p) && p.Status == http.StatusUnauthorized && (!inBody || p == errRefreshReused) {
				s.ClearRefreshCookie(w)
			}
			web.Fail(w, r, s.log, err)
			return
		}
		s.SetRefreshCookie(w, t)
		web.WriteJSON(w, http.StatusOK, t.Body(inBody))
	})
}

// HandleLogout serves POST /api/auth/logout: it ends the session named by
// the refresh token, if any, and clears the cookie. It always answers 204,
// so logging out twice, or with no token, is not an error.
func (s *Service) HandleLogout() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !web.OriginAllowed(r, s.cfg.Origins) {
			web.WriteProblem(w, errOrigin)
			return
		}
		token, _, _ := presentedRefreshToken(w, r, true)
		if token != "" {
			if err := s.logout(r, token); err != nil {
				web.Fail(w, r, s.log, err)
				return
			}
		}
		s.ClearRefreshCookie(w)
		w.WriteHeader(http.StatusNoContent)
	})
}

// logout revokes the session a refresh token names. A token that does not
// verify, or whose session is gone, has nothing left to end.
func (s *Service) logout(r *http.Request, token string) error {
	now := s.now().UTC()
	claims, err := s.refresh.Verify(token, now)
	if err != nil {
		return nil
	}
	sess, err := s.sessions.Session(r.Context(), claims.SessionID)
	if errors.Is(err, ErrSessionNotFound) || err == nil && sess.UserID != claims.Subject {
		return nil
	}
	if err != nil {
		return err
	}
	err = s.sessions.RevokeSession(r.Context(), sess.ID, now)
	if errors.Is(err, ErrSessionNotFound) {
		return nil
	}
	return err
}

// HandleLogoutAll serves POST /api/auth/logout-all: every session of the
// caller ends, this one included.
func (s *Service) HandleLogoutAll() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := PrincipalFrom(r.Context())
		if _, err := s.sessions.RevokeUserSessions(r.Context(), p.UserID, "", s.now().UTC()); err != nil {
			web.Fail(w, r, s.log, err)
			return
		}
		s.ClearRefreshCookie(w)
		w.WriteHeader(http.StatusNoContent)
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

// HandleSessions serves GET /api/auth/sessions: the caller's live sessions,
// newest first, with the one making the request marked current.
func (s *Service) HandleSessions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := PrincipalFrom(r.Context())
		list, err := s.sessions.ListSessions(r.Context(), p.UserID, s.now().UTC())
		if err != nil {
			web.Fail(w, r, s.log, err)
			return
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
	})
}

var errNoSuchSession = web.NewProblem(http.StatusNotFound, "not_found", "You have no live session with this id.")

// HandleDeleteSession serves DELETE /api/auth/sessions/{id}: the caller
// ends one of their own live sessions (a lost phone, say). Someone else's
// session, or one already ended, is a 404.
func (s *Service) HandleDeleteSession() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := PrincipalFrom(r.Context())
		id := r.PathValue("id")
		if !objectid.Valid(id) {
			web.WriteProblem(w, errNoSuchSession)
			return
		}
		now := s.now().UTC()
		sess, err := s.sessions.Session(r.Context(), id)
		switch {
		case errors.Is(err, ErrSessionNotFound):
			web.WriteProblem(w, errNoSuchSession)
			return
		case err != nil:
			web.Fail(w, r, s.log, err)
			return
		case sess.UserID != p.UserID || !sess.Live(now):
			web.WriteProblem(w, errNoSuchSession)
			return
		}
		if err := s.sessions.RevokeSession(r.Context(), id, now); err != nil && !errors.Is(err, ErrSessionNotFound) {
			web.Fail(w, r, s.log, err)
			return
		}
		if id == p.SessionID {
			s.ClearRefreshCookie(w)
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
