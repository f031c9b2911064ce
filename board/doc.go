// Package board will own the Trello-like part of corkboard: boards, ordered
// lists and cards, attachments, members, invitations and notifications. It
// is empty until the boards work lands.
package board
