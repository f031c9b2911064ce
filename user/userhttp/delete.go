package userhttp

import (
	"bufio"
	"io"
	"net/http"

	"corkboard/auth"
	"corkboard/user"
	"corkboard/web"
)

// deleteRequest is the body of DELETE /api/users/{id}: the caller's own
// password when they delete their own account. An admin deleting someone
// else sends no body, or an empty object.
type deleteRequest struct {
	CurrentPassword string `json:"currentPassword"`
}

// DeleteUser serves DELETE /api/users/{id}: 204 once the account is gone.
// A user deleting their own account is also told to drop the refresh
// cookie, which can no longer be used.
func (h *Handlers) DeleteUser() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		var req deleteRequest
		if hasBody(r) {
			if err := web.DecodeJSON(w, r, &req); err != nil {
				return err
			}
		}
		p, _ := auth.PrincipalFrom(r.Context())
		id := r.PathValue("id")
		in := user.DeleteInput{CurrentPassword: req.CurrentPassword, Client: h.sessions.Client(r)}
		if err := h.svc.DeleteUser(r.Context(), p, id, in); err != nil {
			return err
		}
		if id == p.UserID {
			h.sessions.ClearRefreshCookie(w)
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// hasBody reports whether the request carries a body of at least one byte.
// A DELETE usually has none, and an admin's needs none, so an absent body
// is not the 400 (or, without a Content-Type, the 415) that DecodeJSON
// answers; any byte at all is decoded as strictly as on every other route.
// It peeks rather than trusting Content-Length, which a chunked body does
// not have; the peeked byte stays in the body, and so does a read error,
// for DecodeJSON to answer.
func hasBody(r *http.Request) bool {
	if r.Body == nil || r.Body == http.NoBody {
		return false
	}
	br := bufio.NewReaderSize(r.Body, 16)
	if _, err := br.Peek(1); err == io.EOF {
		return false
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{br, r.Body}
	return true
}
