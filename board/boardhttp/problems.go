package boardhttp

import (
	"errors"
	"net/http"
	"strings"

	"corkboard/auth/authhttp"
	"corkboard/board"
	"corkboard/web"
)

// The answers a client gets for board's errors (API.md §6). Everything
// that is not there, and everything the caller may not see, is the same
// 404 not_found: a board's existence is not revealed to non-members, and
// neither is another user's notification.
var (
	errBoardNotFound        = web.NewProblem(http.StatusNotFound, "not_found", "There is no such board.")
	errListNotFound         = web.NewProblem(http.StatusNotFound, "not_found", "There is no such list on this board.")
	errCardNotFound         = web.NewProblem(http.StatusNotFound, "not_found", "There is no such card on this board.")
	errAttachmentNotFound   = web.NewProblem(http.StatusNotFound, "not_found", "There is no such attachment on this card.")
	errMemberNotFound       = web.NewProblem(http.StatusNotFound, "not_found", "That user is not a member of this board.")
	errUserNotFound         = web.NewProblem(http.StatusNotFound, "not_found", "There is no such user.")
	errNotificationNotFound = web.NewProblem(http.StatusNotFound, "not_found", "There is no such notification.")
	errNotAnInvitation      = web.NewProblem(http.StatusNotFound, "not_found", "This notification is not an invitation; only invitations are accepted or declined.")
	errForbidden            = web.NewProblem(http.StatusForbidden, "forbidden", "Only the owner of the board may do this.")
	errOwnerCannotLeave     = web.NewProblem(http.StatusConflict, "owner_cannot_leave", "The owner cannot leave the board; delete it instead.")
	errAlreadyMember        = web.NewProblem(http.StatusConflict, "already_member", "That user is a member of this board already.")
	errAlreadyInvited       = web.NewProblem(http.StatusConflict, "already_invited", "That user has a pending invitation to this board already.")
	errAlreadyHandled       = web.NewProblem(http.StatusConflict, "already_handled", "This invitation was answered already.")
	errInviteSelf           = web.Invalid(map[string]string{"userId": "cannot be yourself: you are a member already"})
	errBusy                 = &web.Problem{Status: http.StatusServiceUnavailable, Code: "busy",
		Detail: "The board kept changing while this change was being saved; try again in a moment.", RetryAfter: 1}
)

// Problem returns the problem a client gets for err: board's errors here,
// auth's through authhttp.Problem, and nil for anything else.
func Problem(err error) *web.Problem {
	var (
		invalid *board.ValidationError
		limit   *board.LimitError
	)
	switch {
	case errors.Is(err, board.ErrNotFound):
		return errBoardNotFound
	case errors.Is(err, board.ErrListNotFound):
		return errListNotFound
	case errors.Is(err, board.ErrCardNotFound):
		return errCardNotFound
	case errors.Is(err, board.ErrAttachmentNotFound):
		return errAttachmentNotFound
	case errors.Is(err, board.ErrNotMember):
		return errMemberNotFound
	case errors.Is(err, board.ErrUserNotFound):
		return errUserNotFound
	case errors.Is(err, board.ErrNotificationNotFound):
		return errNotificationNotFound
	case errors.Is(err, board.ErrNotAnInvitation):
		return errNotAnInvitation
	case errors.Is(err, board.ErrForbidden):
		return errForbidden
	case errors.Is(err, board.ErrOwnerCannotLeave):
		return errOwnerCannotLeave
	case errors.Is(err, board.ErrAlreadyMember):
		return errAlreadyMember
	case errors.Is(err, board.ErrAlreadyInvited):
		return errAlreadyInvited
	case errors.Is(err, board.ErrAlreadyHandled), errors.Is(err, board.ErrNotInvited):
		return errAlreadyHandled
	case errors.Is(err, board.ErrInviteSelf):
		return errInviteSelf
	case errors.Is(err, board.ErrBusy):
		return errBusy
	case errors.As(err, &invalid):
		return web.Invalid(invalid.Fields)
	case errors.As(err, &limit):
		return &web.Problem{Status: http.StatusUnprocessableEntity, Code: "limit_reached", Detail: sentence(limit.Error()), Limit: limit.Limit}
	}
	return authhttp.Problem(err)
}

// sentence capitalises s and ends it with a full stop.
func sentence(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:] + "."
}
