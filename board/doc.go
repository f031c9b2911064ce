// Package board owns the Trello-like part of corkboard: a Board with its
// ordered lists, their ordered cards, the cards' attachments, the board's
// members, pending invitations and favourites.
//
// A board is one record with a version, so that a store can keep it as one
// document and write every change back with a single compare-and-swap on
// (id, version). Every change is a method on *Board that checks the change
// and applies it whole, or returns an error and changes nothing: a move of a
// card to another list is one step on one value, atomic without a
// transaction, and the rules are tested as plain Go calls without a store.
// The limits (Max...) keep the largest possible board far below MongoDB's
// 16 MB document limit.
//
// This package is the domain core only: the store interface, the service
// that checks who may do what, and the handlers build on it.
package board
