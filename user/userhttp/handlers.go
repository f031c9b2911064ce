package userhttp

import (
	"encoding/json"
	"log/slog"
	"mime"
	"net/http"
	"strconv"

	"corkboard/auth"
	"corkboard/auth/authhttp"
	"corkboard/jsonappend"
	"corkboard/user"
	"corkboard/web"
)

// Handlers serves the account routes.
type Handlers struct {
	svc      *user.Service
	sessions *authhttp.Handlers // for the refresh cookie and the client's address
	log      *slog.Logger
}

// New returns the account routes over svc; sessions sets the refresh cookie.
func New(svc *user.Service, sessions *authhttp.Handlers, log *slog.Logger) *Handlers {
	return &Handlers{svc: svc, sessions: sessions, log: log}
}

// handle adapts a handler body, answering errors through user's table.
func (h *Handlers) handle(fn web.HandlerFunc) http.Handler {
	return web.Handle(h.log, Problem, fn)
}

// signupRequest is the body of POST /api/auth/signup.
type signupRequest struct {
	Username           string `json:"username"`
	Email              string `json:"email"`
	Password           string `json:"password"`
	FullName           string `json:"fullName"`
	Color              string `json:"color"`
	ReturnRefreshToken bool   `json:"returnRefreshToken"`
	// Roles is declared only to refuse it by name: roles are never
	// self-assigned.
	Roles json.RawMessage `json:"roles"`
}

// readSignup reads the sign-up form: a JSON body, or a multipart form with
// the same fields as text parts and an optional image part "picture", which
// is stored as it streams in (see readPicture); it returns the stored
// picture's id, or "". It is the one place that knows the body's encoding.
func (h *Handlers) readSignup(w http.ResponseWriter, r *http.Request) (signupRequest, string, error) {
	var req signupRequest
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "multipart/form-data" {
		err := web.DecodeJSON(w, r, &req)
		return req, "", err
	}
	seen := make(map[string]bool)
	pic, err := h.readPicture(w, r, func(name, value string) error {
		if seen[name] {
			return web.Invalid(map[string]string{name: "must be sent once"})
		}
		seen[name] = true
		switch name {
		case "username":
			req.Username = value
		case "email":
			req.Email = value
		case "password":
			req.Password = value
		case "fullName":
			req.FullName = value
		case "color":
			req.Color = value
		case "roles":
			req.Roles = json.RawMessage(`""`)
		case "returnRefreshToken":
			b, err := strconv.ParseBool(value)
			if err != nil {
				return web.Invalid(map[string]string{name: "must be true or false"})
			}
			req.ReturnRefreshToken = b
		default:
			return web.Invalid(map[string]string{name: "is not a field of the sign-up form"})
		}
		return nil
	})
	return req, pic, err
}

// authResponse is the body of a successful sign-up or login.
type authResponse struct {
	User user.View `json:"user"`
	authhttp.TokenBody
}

// Signup serves POST /api/auth/signup.
func (h *Handlers) Signup() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := h.sessions.CheckOrigin(r); err != nil {
			return err
		}
		req, pic, err := h.readSignup(w, r)
		if err != nil {
			return err
		}
		u, t, err := h.svc.Signup(r.Context(), user.SignupInput{
			Username:       req.Username,
			Email:          req.Email,
			Password:       req.Password,
			FullName:       req.FullName,
			Color:          req.Color,
			RolesRequested: req.Roles != nil,
			Client:         h.sessions.Client(r),
			PictureID:      pic, // Signup deletes it if it fails
		})
		if err != nil {
			return err
		}
		h.sessions.SetRefreshCookie(w, t)
		w.Header().Set("Cache-Control", "no-store")
		web.WriteJSON(w, http.StatusCreated, authResponse{User: user.ViewFor(u, u.ID, u.Roles), TokenBody: authhttp.TokenResponse(t, req.ReturnRefreshToken)})
		return nil
	})
}

// loginRequest is the body of POST /api/auth/login: an email or a
// username, and the password.
type loginRequest struct {
	Email              string `json:"email"`
	Username           string `json:"username"`
	Password           string `json:"password"`
	ReturnRefreshToken bool   `json:"returnRefreshToken"`
}

// Login serves POST /api/auth/login.
func (h *Handlers) Login() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := h.sessions.CheckOrigin(r); err != nil {
			return err
		}
		var req loginRequest
		if err := web.DecodeJSON(w, r, &req); err != nil {
			return err
		}
		l, err := h.svc.Login(r.Context(), user.LoginInput{
			Email:    req.Email,
			Username: req.Username,
			Password: req.Password,
			Devices:  authhttp.DeviceTokens(r),
			Client:   h.sessions.Client(r),
		})
		if err != nil {
			return err
		}
		h.sessions.SetRefreshCookie(w, l.Tokens)
		h.sessions.SetDeviceCookie(w, l.User.ID, l.Device)
		w.Header().Set("Cache-Control", "no-store")
		web.WriteJSON(w, http.StatusOK, authResponse{User: user.ViewFor(l.User, l.User.ID, l.User.Roles), TokenBody: authhttp.TokenResponse(l.Tokens, req.ReturnRefreshToken)})
		return nil
	})
}

// Me serves GET /api/users/me. The authentication middleware already
// loaded the user, so this costs no lookup of its own.
func (h *Handlers) Me() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		p, _ := auth.PrincipalFrom(r.Context())
		u, err := user.Me(p)
		if err != nil {
			return err
		}
		web.WriteJSON(w, http.StatusOK, userBody{user.ViewFor(u, u.ID, u.Roles)})
		return nil
	})
}

// userBody is the {"user": ...} answer of the routes that return one user.
// A struct, not a map: it encodes to the same bytes without sorting keys,
// on the path of GET /api/users/me.
type userBody struct {
	User user.View `json:"user"`
}

// AppendJSON writes b as json.Marshal does, without reflection (see
// web.JSONAppender); TestUserBodyJSON holds the two together, and fails
// when user.View gains a field this does not write.
func (b userBody) AppendJSON(buf []byte) ([]byte, bool) {
	v := &b.User
	buf = append(buf, `{"user":{"id":`...)
	buf = web.AppendJSONString(buf, v.ID)
	buf = append(buf, `,"username":`...)
	buf = web.AppendJSONString(buf, v.Username)
	if v.Email != "" {
		buf = append(buf, `,"email":`...)
		buf = web.AppendJSONString(buf, v.Email)
	}
	if v.EmailVerified != nil {
		buf = append(buf, `,"emailVerified":`...)
		buf = strconv.AppendBool(buf, *v.EmailVerified)
	}
	buf = append(buf, `,"fullName":`...)
	buf = web.AppendJSONString(buf, v.FullName)
	buf = append(buf, `,"color":`...)
	buf = web.AppendJSONString(buf, v.Color)
	if len(v.Roles) > 0 {
		buf = append(buf, `,"roles":`...)
		buf = web.AppendJSONStrings(buf, v.Roles)
	}
	buf = append(buf, `,"pictureURL":`...)
	buf = web.AppendJSONString(buf, v.PictureURL)
	buf = append(buf, `,"createdAt":`...)
	buf, ok := jsonappend.Time(buf, v.CreatedAt)
	return append(buf, "}}"...), ok
}

// Get serves GET /api/users/{id}.
func (h *Handlers) Get() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		p, _ := auth.PrincipalFrom(r.Context())
		u, err := h.svc.User(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		web.WriteJSON(w, http.StatusOK, userBody{user.ViewFor(u, p.UserID, p.Roles)})
		return nil
	})
}

// changePasswordRequest is the body of POST /api/auth/change-password.
type changePasswordRequest struct {
	CurrentPassword    string `json:"currentPassword"`
	NewPassword        string `json:"newPassword"`
	ReturnRefreshToken bool   `json:"returnRefreshToken"`
}

// ChangePassword serves POST /api/auth/change-password: the caller gets a
// fresh session (new tokens, new cookie), and every older session ends.
func (h *Handlers) ChangePassword() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := h.sessions.CheckOrigin(r); err != nil {
			return err
		}
		var req changePasswordRequest
		if err := web.DecodeJSON(w, r, &req); err != nil {
			return err
		}
		p, _ := auth.PrincipalFrom(r.Context())
		in := user.ChangePasswordInput{Current: req.CurrentPassword, New: req.NewPassword, Client: h.sessions.Client(r)}
		l, err := h.svc.ChangePassword(r.Context(), p, in)
		if err != nil {
			return err
		}
		h.sessions.SetRefreshCookie(w, l.Tokens)
		h.sessions.SetDeviceCookie(w, l.User.ID, l.Device)
		w.Header().Set("Cache-Control", "no-store")
		web.WriteJSON(w, http.StatusOK, authhttp.TokenResponse(l.Tokens, req.ReturnRefreshToken))
		return nil
	})
}

// rolesRequest is the body of PUT /api/users/{id}/roles.
type rolesRequest struct {
	Roles []string `json:"roles"`
}

// SetRoles serves PUT /api/users/{id}/roles (admins only).
func (h *Handlers) SetRoles() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		var req rolesRequest
		if err := web.DecodeJSON(w, r, &req); err != nil {
			return err
		}
		p, _ := auth.PrincipalFrom(r.Context())
		u, err := h.svc.SetRoles(r.Context(), p, r.PathValue("id"), req.Roles)
		if err != nil {
			return err
		}
		web.WriteJSON(w, http.StatusOK, userBody{user.ViewFor(u, p.UserID, p.Roles)})
		return nil
	})
}

// profileRequest is the body of PATCH /api/users/{id}: the fields to change.
type profileRequest struct {
	Username *string `json:"username"`
	FullName *string `json:"fullName"`
	Color    *string `json:"color"`
}

// UpdateProfile serves PATCH /api/users/{id} (the user themself or an admin).
func (h *Handlers) UpdateProfile() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		var req profileRequest
		if err := web.DecodeJSON(w, r, &req); err != nil {
			return err
		}
		p, _ := auth.PrincipalFrom(r.Context())
		u, err := h.svc.UpdateProfile(r.Context(), p, r.PathValue("id"), user.ProfileInput{Username: req.Username, FullName: req.FullName, Color: req.Color})
		if err != nil {
			return err
		}
		web.WriteJSON(w, http.StatusOK, userBody{user.ViewFor(u, p.UserID, p.Roles)})
		return nil
	})
}
