package userhttp

import (
	"net/http"

	"corkboard/auth"
	"corkboard/user"
	"corkboard/web"
)

// The mail flows' routes: password recovery and address verification.

// message is the body of the mail flows' answers.
type message struct {
	Message string `json:"message"`
}

// forgotRequest is the body of POST /api/auth/forgot-password.
type forgotRequest struct {
	Email string `json:"email"`
}

// ForgotPassword serves POST /api/auth/forgot-password. It answers 202 with
// the same body and headers whether or not an account has the address, and
// before anything is looked up, so neither the answer nor its time tells.
func (h *Handlers) ForgotPassword() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		var req forgotRequest
		if err := web.DecodeJSON(w, r, &req); err != nil {
			return err
		}
		if err := h.svc.RequestPasswordReset(req.Email); err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		web.WriteJSON(w, http.StatusAccepted, message{"If an account has this address, a link to reset its password is on its way."})
		return nil
	})
}

// resetRequest is the body of POST /api/auth/reset-password.
type resetRequest struct {
	Token           string `json:"token"`
	Password        string `json:"password"`
	PasswordConfirm string `json:"passwordConfirm"`
}

// ResetPassword serves POST /api/auth/reset-password.
func (h *Handlers) ResetPassword() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		var req resetRequest
		if err := web.DecodeJSON(w, r, &req); err != nil {
			return err
		}
		l, err := h.svc.ResetPassword(r.Context(), user.ResetInput{
			Token: req.Token, Password: req.Password, PasswordConfirm: req.PasswordConfirm, Client: h.sessions.Client(r),
		})
		if err != nil {
			return err
		}
		h.sessions.SetDeviceCookie(w, l.User.ID, l.Device)
		w.Header().Set("Cache-Control", "no-store")
		web.WriteJSON(w, http.StatusOK, message{"Your password has been changed, and every session signed out. Log in with the new password."})
		return nil
	})
}

// verifyRequest is the body of POST /api/auth/verify-email.
type verifyRequest struct {
	Token string `json:"token"`
}

// VerifyEmail serves POST /api/auth/verify-email.
func (h *Handlers) VerifyEmail() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		var req verifyRequest
		if err := web.DecodeJSON(w, r, &req); err != nil {
			return err
		}
		u, err := h.svc.VerifyEmail(r.Context(), req.Token)
		if err != nil {
			return err
		}
		web.WriteJSON(w, http.StatusOK, userBody{user.ViewFor(u, u.ID, u.Roles)})
		return nil
	})
}

// ResendVerification serves POST /api/auth/resend-verification.
func (h *Handlers) ResendVerification() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		p, _ := auth.PrincipalFrom(r.Context())
		if err := h.svc.ResendVerification(r.Context(), p); err != nil {
			return err
		}
		web.WriteJSON(w, http.StatusAccepted, message{"A new verification link is on its way."})
		return nil
	})
}
