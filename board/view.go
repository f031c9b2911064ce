package board

import (
	"context"
	"errors"
	"time"

	"corkboard/auth"
	"corkboard/user"
)

// View is a board as the API shows it to one of its members (API.md §6):
// the members named, whether the caller favourited it, and none of the
// storage fields (version, pending invitations, who else favourited it).
type View struct {
	ID            string       `json:"id"`
	Title         string       `json:"title"`
	BackgroundURL string       `json:"backgroundURL"`
	OwnerID       string       `json:"ownerId"`
	Members       []MemberView `json:"members"`
	Lists         []ListView   `json:"lists"`
	IsFavourite   bool         `json:"isFavourite"`
	CreatedAt     time.Time    `json:"createdAt"`
	UpdatedAt     time.Time    `json:"updatedAt"`
}

// MemberView is a member of a board as the board's members see them.
type MemberView struct {
	ID         string `json:"id"`
	Username   string `json:"username"`
	Color      string `json:"color"`
	PictureURL string `json:"pictureURL"`
	Owner      bool   `json:"owner"`
}

// ListView is a list with its cards, in order.
type ListView struct {
	ID    string     `json:"id"`
	Name  string     `json:"name"`
	Cards []CardView `json:"cards"`
}

// CardView is a card with its attachments.
type CardView struct {
	ID          string           `json:"id"`
	Title       string           `json:"title"`
	Description string           `json:"description"`
	Attachments []AttachmentView `json:"attachments"`
	CreatedAt   time.Time        `json:"createdAt"`
}

// AttachmentView describes an attachment, with the members-only address
// its bytes are downloaded from.
type AttachmentView struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	ContentType string `json:"contentType"`
	Size        int64  `json:"size"`
	URL         string `json:"url"`
}

// NotificationView is a notification as its recipient sees it: without
// the recipient's id and the handled flag (Accepted says the answer).
type NotificationView struct {
	ID           string    `json:"id"`
	Type         string    `json:"type"`
	BoardID      string    `json:"boardId"`
	BoardTitle   string    `json:"boardTitle"`
	FromUserID   string    `json:"fromUserId"`
	FromUsername string    `json:"fromUsername"`
	Accepted     *bool     `json:"accepted"`
	CreatedAt    time.Time `json:"createdAt"`
}

// ViewOfNotification returns n as its recipient sees it.
func ViewOfNotification(n Notification) NotificationView {
	return NotificationView{
		ID:           n.ID,
		Type:         n.Type,
		BoardID:      n.BoardID,
		BoardTitle:   n.BoardTitle,
		FromUserID:   n.FromUserID,
		FromUsername: n.FromUsername,
		Accepted:     n.Accepted,
		CreatedAt:    n.CreatedAt,
	}
}

// Shown is a board as one of its members sees it, with its lists left as
// the board holds them: View, without its Lists (nil), and the board's own
// lists, from which FullView makes them. A board of 500 cards has 500 card
// views to make, which the answers' encoder need not make for lists it
// wrote before (see boardhttp).
//
// Lists are lent, as a store lends a board (see Store): nobody may change
// them, or anything in them, once a Shown is made; the answers' encoder
// keeps them to compare the next answer's lists with.
type Shown struct {
	View  View
	Lists []List
}

// FullView returns the view of the board, its lists included.
func (s Shown) FullView() View {
	v := s.View
	v.Lists = make([]ListView, len(s.Lists))
	for i, l := range s.Lists {
		v.Lists[i] = ListViewOf(v.ID, l)
	}
	return v
}

// view returns b as p sees it, with its members looked up.
func (s *Service) view(ctx context.Context, b Board, p auth.Principal) (Shown, error) {
	members, err := s.members(ctx, b)
	if err != nil {
		return Shown{}, err
	}
	v := View{
		ID:            b.ID,
		Title:         b.Title,
		BackgroundURL: b.DisplayBackgroundURL(),
		OwnerID:       b.OwnerID,
		Members:       members,
		IsFavourite:   b.IsFavourite(p.UserID),
		CreatedAt:     b.CreatedAt,
		UpdatedAt:     b.UpdatedAt,
	}
	return Shown{View: v, Lists: b.Lists}, nil
}

// members looks up b's members, the owner first. A member whose account
// is gone (a deletion stopped half-way: it removes memberships before the
// account) is left out rather than failing the whole board.
func (s *Service) members(ctx context.Context, b Board) ([]MemberView, error) {
	out := make([]MemberView, 0, len(b.Members))
	for _, id := range b.Members {
		u, err := s.users.UserByID(ctx, id)
		if errors.Is(err, user.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		m := MemberView{ID: u.ID, Username: u.Username, Color: u.Color, Owner: b.IsOwner(u.ID)}
		if u.PictureID != "" {
			m.PictureURL = "/api/files/" + u.PictureID
		}
		out = append(out, m)
	}
	return out, nil
}

// ListViewOf returns the view of l, a list of the board boardID: its cards
// are never null.
func ListViewOf(boardID string, l List) ListView {
	v := ListView{ID: l.ID, Name: l.Name, Cards: make([]CardView, len(l.Cards))}
	for i, c := range l.Cards {
		v.Cards[i] = CardViewOf(boardID, c)
	}
	return v
}

// CardViewOf returns the view of c, a card of the board boardID: its
// attachments are never null, and each has its address.
func CardViewOf(boardID string, c Card) CardView {
	v := CardView{
		ID:          c.ID,
		Title:       c.Title,
		Description: c.Description,
		Attachments: make([]AttachmentView, len(c.Attachments)),
		CreatedAt:   c.CreatedAt,
	}
	for i, a := range c.Attachments {
		v.Attachments[i] = attachmentView(boardID, c.ID, a)
	}
	return v
}

func attachmentView(boardID, cardID string, a Attachment) AttachmentView {
	return AttachmentView{
		ID:          a.ID,
		Name:        a.Name,
		ContentType: a.ContentType,
		Size:        a.Size,
		URL:         "/api/boards/" + boardID + "/cards/" + cardID + "/attachments/" + a.ID,
	}
}
