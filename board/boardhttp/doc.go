// Package boardhttp serves the board routes of package board over HTTP
// (API.md §6): boards, lists, cards, members, invitations and
// notifications, backgrounds and attachments. It is the one place that
// knows how board's errors look to a client (problems.go).
package boardhttp
