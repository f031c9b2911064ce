// Package auth owns credentials and sessions: HS256 JSON Web Tokens signed
// and verified by hand, bcrypt passwords, login rate limits, the session
// model with refresh-token rotation, reuse detection and a grace window, the
// middleware that authenticates requests and checks roles, and the session
// routes (refresh, logout, logout-all, the session list).
//
// auth knows nothing about users beyond the Account interface: the user
// package supplies accounts and builds sign-up and login on top of auth.
package auth
