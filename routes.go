package main

import (
	"errors"
	"io/fs"
	"net/http"

	"corkboard/auth"
	"corkboard/board"
	"corkboard/democlient"
	"corkboard/objectid"
	"corkboard/user"
	"corkboard/web"
)

// route is one entry of the route list: a Go 1.22 pattern with its method,
// and the handler with its middleware.
type route struct {
	pattern string
	handler http.Handler
}

// routeList lists every route corkboard serves, each with its middleware
// on the same line. routes() serves exactly these, and the tests that must
// cover every route (the hostile-input test) walk the same list.
func (a *app) routeList() []route {
	authn := a.sessions.Authenticate
	modOrAdmin := a.sessions.RequireRole(auth.RoleModerator, auth.RoleAdmin)
	adminOnly := a.sessions.RequireRole(auth.RoleAdmin)
	perIP := a.sessions.LimitByIP

	return []route{
		{"GET /healthz", a.handleHealth()},
		{"GET /api/openapi.json", handleOpenAPI()},

		// The demo client: exact paths only, never a catch-all GET /, so
		// that an unknown path stays a 404 problem.
		{"GET /{$}", democlient.Page()},
		{"GET /reset-password", democlient.Page()},
		{"GET /verify-email", democlient.Page()},
		{"GET /assets/{name}", democlient.Asset(notFound())},

		{"POST /api/auth/signup", perIP(a.limits.signup)(a.users.Signup())},
		{"POST /api/auth/login", perIP(a.limits.login)(a.users.Login())},
		{"POST /api/auth/refresh", a.sessions.Refresh()},
		{"POST /api/auth/logout", a.sessions.Logout()},
		{"POST /api/auth/logout-all", authn(a.sessions.LogoutAll())},
		{"GET /api/auth/sessions", authn(a.sessions.Sessions())},
		{"DELETE /api/auth/sessions/{id}", authn(a.sessions.DeleteSession())},
		{"POST /api/auth/change-password", authn(a.users.ChangePassword())},
		{"POST /api/auth/forgot-password", perIP(a.limits.forgot)(a.users.ForgotPassword())},
		{"POST /api/auth/reset-password", a.users.ResetPassword()},
		{"POST /api/auth/verify-email", a.users.VerifyEmail()},
		{"POST /api/auth/resend-verification", authn(a.users.ResendVerification())},

		{"GET /api/users", authn(a.users.List())},
		{"GET /api/users/me", authn(a.users.Me())},
		{"GET /api/users/{id}", authn(a.users.Get())},
		{"PATCH /api/users/{id}", authn(a.users.UpdateProfile())},
		{"DELETE /api/users/{id}", authn(a.users.DeleteUser())},
		{"PUT /api/users/{id}/roles", authn(a.users.SetRoles())},
		{"PUT /api/users/{id}/picture", authn(a.users.SetPicture())},
		{"DELETE /api/users/{id}/picture", authn(a.users.DeletePicture())},

		{"GET /api/boards", authn(a.boards.List())},
		{"POST /api/boards", authn(a.boards.Create())},
		{"GET /api/boards/{id}", authn(a.boards.Get())},
		{"PATCH /api/boards/{id}", authn(a.boards.Update())},
		{"DELETE /api/boards/{id}", authn(a.boards.Delete())},
		{"PUT /api/boards/{id}/background", authn(a.boards.SetBackground())},
		{"PUT /api/boards/{id}/favourite", authn(a.boards.SetFavourite())},
		{"GET /api/boards/{id}/members", authn(a.boards.Members())},
		{"DELETE /api/boards/{id}/members/{userId}", authn(a.boards.RemoveMember())},
		{"POST /api/boards/{id}/invites", authn(a.boards.Invite())},
		{"POST /api/boards/{id}/lists", authn(a.boards.AddList())},
		{"PATCH /api/boards/{id}/lists/{listId}", authn(a.boards.EditList())},
		{"DELETE /api/boards/{id}/lists/{listId}", authn(a.boards.DeleteList())},
		{"POST /api/boards/{id}/lists/{listId}/cards", authn(a.boards.AddCard())},
		{"PATCH /api/boards/{id}/cards/{cardId}", authn(a.boards.EditCard())},
		{"DELETE /api/boards/{id}/cards/{cardId}", authn(a.boards.DeleteCard())},
		{"POST /api/boards/{id}/cards/{cardId}/attachments", authn(a.boards.AddAttachment())},
		{"GET /api/boards/{id}/cards/{cardId}/attachments/{attachmentId}", authn(a.boards.GetAttachment())},
		{"DELETE /api/boards/{id}/cards/{cardId}/attachments/{attachmentId}", authn(a.boards.DeleteAttachment())},

		{"GET /api/notifications", authn(a.boards.Notifications())},
		{"POST /api/notifications/{id}/accept", authn(a.boards.Accept())},
		{"POST /api/notifications/{id}/decline", authn(a.boards.Decline())},
		{"DELETE /api/notifications/{id}", authn(a.boards.DeleteNotification())},

		{"GET /api/files/{id}", a.handleFile()},

		{"GET /api/test/all", handleMessage("Public Content.")},
		{"GET /api/test/user", authn(handleMessage("User Content."))},
		{"GET /api/test/mod", authn(modOrAdmin(handleMessage("Moderator Content.")))},
		{"GET /api/test/admin", authn(adminOnly(handleMessage("Admin Content.")))},
	}
}

// routes serves the route list and wraps the mux in the chain every
// request goes through.
func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range a.routeList() {
		mux.Handle(rt.pattern, rt.handler)
	}
	l := a.cfg.server
	return web.Chain(web.Problems(mux),
		web.SecurityHeaders(a.cfg.cookieSecure),
		web.Log(a.log),
		web.Recover(a.log),
		web.CORS(a.cfg.corsOrigins),
		web.Deadlines(l.read, l.write, l.transferRate, web.MaxFormBytes),
	)
}

// handleMessage serves the role demo routes.
func handleMessage(msg string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		web.WriteJSON(w, http.StatusOK, map[string]string{"message": msg})
	})
}

// notFound answers the 404 problem of a path that names nothing.
func notFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		web.WriteProblem(w, web.NewProblem(http.StatusNotFound, "not_found", "There is nothing at this path."))
	})
}

// handleHealth serves GET /healthz: 200 when the store answers, else 503.
func (a *app) handleHealth() http.Handler {
	return web.Handle(a.log, nil, func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Cache-Control", "no-store")
		if err := a.store.Check(r.Context()); err != nil {
			a.log.Warn("health check failed", "error", err)
			return web.NewProblem(http.StatusServiceUnavailable, "store_unavailable",
				"The "+a.cfg.store+" store is not answering.")
		}
		web.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok", "store": a.cfg.store})
		return nil
	})
}

// publicBuckets are the file buckets GET /api/files/{id} serves to anyone:
// their files are images shown in <img> tags, and their ids, random and
// unguessable, are the only key. Members-only files (card attachments)
// are served by their board's routes.
var publicBuckets = []string{user.PictureBucket, board.BackgroundBucket}

// handleFile serves GET /api/files/{id}.
func (a *app) handleFile() http.Handler {
	return web.Handle(a.log, nil, func(w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("id")
		notFound := web.NewProblem(http.StatusNotFound, "not_found", "There is no file with this id.")
		if !objectid.Valid(id) {
			return notFound
		}
		for _, bucket := range publicBuckets {
			f, err := a.store.OpenFile(r.Context(), bucket, id)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return err
			}
			defer f.Close()
			return web.ServeFile(w, r, f, id, web.ImageTypes, "")
		}
		return notFound
	})
}
