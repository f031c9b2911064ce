// Package userhttp serves the account routes of package user over HTTP:
// sign-up (JSON, or multipart with a picture), login, change of password,
// the mail flows, the current user, profiles, roles, pictures, the user
// list and the deletion of accounts.
// It is the one place that knows how user's errors look to a client
// (problems.go); errors of package auth that the account rules pass on are
// answered by authhttp's table.
package userhttp
