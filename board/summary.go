package board

import (
	"cmp"
	"slices"
	"time"
)

// Summary is one board in the list of a user's boards (GET /api/boards):
// what a board's tile shows, without its lists.
type Summary struct {
	ID            string    `json:"id"`
	Title         string    `json:"title"`
	BackgroundURL string    `json:"backgroundURL"`
	IsFavourite   bool      `json:"isFavourite"`
	MemberCount   int       `json:"memberCount"`
	UpdatedAt     time.Time `json:"updatedAt"`
}

// SummaryFor returns the board's summary as userID sees it.
func (b Board) SummaryFor(userID string) Summary {
	return Summary{
		ID:            b.ID,
		Title:         b.Title,
		BackgroundURL: b.DisplayBackgroundURL(),
		IsFavourite:   b.IsFavourite(userID),
		MemberCount:   len(b.Members),
		UpdatedAt:     b.UpdatedAt,
	}
}

// DisplayBackgroundURL is the address a client loads the background from:
// the files route for an uploaded image, else the URL the client gave, or
// "" for none.
func (b Board) DisplayBackgroundURL() string {
	if b.BackgroundID != "" {
		return "/api/files/" + b.BackgroundID
	}
	return b.BackgroundURL
}

// SortSummaries puts summaries in the order of the contract: favourites
// first, then the most recently updated; the id breaks ties, so that the
// order is the same on every request.
func SortSummaries(s []Summary) {
	slices.SortFunc(s, func(a, b Summary) int {
		if a.IsFavourite != b.IsFavourite {
			if a.IsFavourite {
				return -1
			}
			return 1
		}
		if c := b.UpdatedAt.Compare(a.UpdatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}
