package boardhttp

import (
	"net/http"

	"corkboard/board"
	"corkboard/web"
)

// inviteRequest is the body of POST /api/boards/{id}/invites.
type inviteRequest struct {
	UserID string `json:"userId"`
}

// Invite serves POST /api/boards/{id}/invites: 201 with the notification
// delivered to the invitee.
func (h *Handlers) Invite() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		var req inviteRequest
		if err := web.DecodeJSON(w, r, &req); err != nil {
			return err
		}
		n, err := h.svc.Invite(r.Context(), caller(r), r.PathValue("id"), req.UserID)
		if err != nil {
			return err
		}
		web.WriteJSON(w, http.StatusCreated, map[string]board.NotificationView{"notification": n})
		return nil
	})
}

// Notifications serves GET /api/notifications: the caller's, newest first.
func (h *Handlers) Notifications() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		ns, err := h.svc.Notifications(r.Context(), caller(r))
		if err != nil {
			return err
		}
		web.WriteJSON(w, http.StatusOK, map[string][]board.NotificationView{"notifications": ns})
		return nil
	})
}

// Accept serves POST /api/notifications/{id}/accept: the caller joins the
// board, which it answers with.
func (h *Handlers) Accept() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		v, err := h.svc.Accept(r.Context(), caller(r), r.PathValue("id"))
		if err != nil {
			return err
		}
		return h.writeBoard(w, http.StatusOK, v)
	})
}

// Decline serves POST /api/notifications/{id}/decline.
func (h *Handlers) Decline() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := h.svc.Decline(r.Context(), caller(r), r.PathValue("id")); err != nil {
			return err
		}
		return noContent(w)
	})
}

// DeleteNotification serves DELETE /api/notifications/{id}.
func (h *Handlers) DeleteNotification() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := h.svc.DeleteNotification(r.Context(), caller(r), r.PathValue("id")); err != nil {
			return err
		}
		return noContent(w)
	})
}
