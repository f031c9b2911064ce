// Package authhttp serves the session routes of package auth over HTTP:
// refresh, logout, logout-all and the session list, the refresh and device
// cookies, and the middleware that authenticates requests, checks roles and
// limits requests per client address. It is the
// one place that knows how auth's errors look to a client (problems.go).
//
// The rules themselves live in package auth and are plain Go calls; this
// package only reads requests, calls them, and writes answers.
package authhttp
