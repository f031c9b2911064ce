// Package authhttp serves the session routes of package auth over HTTP:
// refresh, logout, logout-all and the session list, the refresh cookie, and
// the middleware that authenticates requests and checks roles. It is the
// one place that knows how auth's errors look to a client (problems.go).
//
// The rules themselves live in package auth and are plain Go calls; this
// package only reads requests, calls them, and writes answers.
package authhttp
