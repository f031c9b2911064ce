// Package userhttp serves the account routes of package user over HTTP:
// sign-up, login, change of password, the current user, user profiles and
// the user list.
// It is the one place that knows how user's errors look to a client
// (problems.go); errors of package auth that the account rules pass on are
// answered by authhttp's table.
package userhttp
