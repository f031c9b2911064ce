// Package auth owns credentials and sessions: HS256 JSON Web Tokens signed
// and verified by hand, bcrypt passwords, rate limiters, and the session
// model with refresh-token rotation, reuse detection and a grace window.
//
// Its Service holds the rules as plain Go calls: methods take a context and
// typed inputs and return values and sentinel errors (ErrRefreshReused,
// ErrSessionRevoked, ErrBusy, ...). It knows nothing of HTTP; package
// authhttp serves it and keeps the one table from these errors to problem
// responses.
//
// auth knows nothing about users beyond the Account interface: the user
// package supplies accounts and builds sign-up and login on top of auth.
package auth
