package main

import (
	"net/http"

	"corkboard/auth"
	"corkboard/web"
)

// routes lists every route corkboard serves, with its middleware, and wraps
// the mux in the chain every request goes through.
func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	authn := a.auth.Authenticate
	modOrAdmin := auth.RequireRole(auth.RoleModerator, auth.RoleAdmin)
	adminOnly := auth.RequireRole(auth.RoleAdmin)

	mux.Handle("GET /healthz", a.handleHealth())

	mux.Handle("POST /api/auth/signup", a.users.HandleSignup())
	mux.Handle("POST /api/auth/login", a.users.HandleLogin())
	mux.Handle("POST /api/auth/refresh", a.auth.HandleRefresh())
	mux.Handle("POST /api/auth/logout", a.auth.HandleLogout())
	mux.Handle("POST /api/auth/logout-all", authn(a.auth.HandleLogoutAll()))
	mux.Handle("GET /api/auth/sessions", authn(a.auth.HandleSessions()))
	mux.Handle("DELETE /api/auth/sessions/{id}", authn(a.auth.HandleDeleteSession()))
	mux.Handle("POST /api/auth/change-password", authn(a.users.HandleChangePassword()))

	mux.Handle("GET /api/users/me", authn(a.users.HandleMe()))
	mux.Handle("GET /api/users/{id}", authn(a.users.HandleGet()))

	mux.Handle("GET /api/test/all", handleMessage("Public Content."))
	mux.Handle("GET /api/test/user", authn(handleMessage("User Content.")))
	mux.Handle("GET /api/test/mod", authn(modOrAdmin(handleMessage("Moderator Content."))))
	mux.Handle("GET /api/test/admin", authn(adminOnly(handleMessage("Admin Content."))))

	return web.Chain(web.Problems(mux),
		web.Log(a.log),
		web.Recover(a.log),
		web.CORS(a.cfg.corsOrigins),
	)
}

// handleMessage serves the role demo routes.
func handleMessage(msg string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		web.WriteJSON(w, http.StatusOK, map[string]string{"message": msg})
	})
}

// handleHealth serves GET /healthz: 200 when the store answers, else 503.
func (a *app) handleHealth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if err := a.store.Check(r.Context()); err != nil {
			a.log.Warn("health check failed", "error", err)
			web.WriteProblem(w, web.NewProblem(http.StatusServiceUnavailable, "store_unavailable",
				"The "+a.cfg.store+" store is not answering."))
			return
		}
		web.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok", "store": a.cfg.store})
	})
}
