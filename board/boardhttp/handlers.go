package boardhttp

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"

	"corkboard/auth"
	"corkboard/board"
	"corkboard/web"
)

// Handlers serves the board routes. Every route needs an authenticated
// caller (the authentication middleware runs first); who may do what is
// the Service's to decide.
type Handlers struct {
	svc *board.Service
	log *slog.Logger
	// boards writes the answers that hold a whole board (see
	// boardEncoder).
	boards *boardEncoder
	// buffers holds the buffers board answers are made in, so that a
	// board of 110 KB read again and again does not make as much garbage
	// each time.
	buffers sync.Pool
}

// New returns the board routes over svc.
func New(svc *board.Service, log *slog.Logger) *Handlers {
	return &Handlers{svc: svc, log: log, boards: newBoardEncoder(defaultEncoderBytes)}
}

// handle adapts a handler body, answering errors through board's table.
func (h *Handlers) handle(fn web.HandlerFunc) http.Handler {
	return web.Handle(h.log, Problem, fn)
}

// caller is the authenticated principal of r.
func caller(r *http.Request) auth.Principal {
	p, _ := auth.PrincipalFrom(r.Context())
	return p
}

// noContent answers 204.
func noContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// writeBoard writes the answer of every route that returns a board,
// {"board": v.FullView()}, the bytes web.WriteJSON would write, made by
// h.boards.
func (h *Handlers) writeBoard(w http.ResponseWriter, status int, v board.Shown) error {
	bp, _ := h.buffers.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	defer func() {
		if cap(*bp) <= maxPooledAnswer {
			h.buffers.Put(bp)
		}
	}()
	b, err := h.boards.appendBoard((*bp)[:0], v)
	if err != nil {
		return fmt.Errorf("encoding board %s: %w", v.View.ID, err)
	}
	*bp = b
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
	return nil
}

// maxPooledAnswer keeps one huge board from pinning its buffer.
const maxPooledAnswer = 4 << 20

// createRequest is the body of POST /api/boards.
type createRequest struct {
	Title         string   `json:"title"`
	BackgroundURL string   `json:"backgroundURL"`
	Invite        []string `json:"invite"`
}

// Create serves POST /api/boards: 201 with the new board, owned by the
// caller; each user in invite gets an invitation.
func (h *Handlers) Create() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		var req createRequest
		if err := web.DecodeJSON(w, r, &req); err != nil {
			return err
		}
		v, err := h.svc.Create(r.Context(), caller(r), board.CreateInput{
			Title: req.Title, BackgroundURL: req.BackgroundURL, Invite: req.Invite,
		})
		if err != nil {
			return err
		}
		return h.writeBoard(w, http.StatusCreated, v)
	})
}

// List serves GET /api/boards: the caller's boards, favourites first,
// then the most recently updated.
func (h *Handlers) List() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		boards, err := h.svc.Boards(r.Context(), caller(r))
		if err != nil {
			return err
		}
		web.WriteJSON(w, http.StatusOK, map[string][]board.Summary{"boards": boards})
		return nil
	})
}

// Get serves GET /api/boards/{id}.
func (h *Handlers) Get() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		v, err := h.svc.Board(r.Context(), caller(r), r.PathValue("id"))
		if err != nil {
			return err
		}
		return h.writeBoard(w, http.StatusOK, v)
	})
}

// updateRequest is the body of PATCH /api/boards/{id}; an absent (or
// null) field stays as it is.
type updateRequest struct {
	Title         *string `json:"title"`
	BackgroundURL *string `json:"backgroundURL"`
}

// Update serves PATCH /api/boards/{id}.
func (h *Handlers) Update() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		var req updateRequest
		if err := web.DecodeJSON(w, r, &req); err != nil {
			return err
		}
		v, err := h.svc.Update(r.Context(), caller(r), r.PathValue("id"), board.UpdateInput{
			Title: req.Title, BackgroundURL: req.BackgroundURL,
		})
		if err != nil {
			return err
		}
		return h.writeBoard(w, http.StatusOK, v)
	})
}

// Delete serves DELETE /api/boards/{id}: the owner's, or an admin's.
func (h *Handlers) Delete() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := h.svc.Delete(r.Context(), caller(r), r.PathValue("id")); err != nil {
			return err
		}
		return noContent(w)
	})
}

// favouriteRequest is the body of PUT /api/boards/{id}/favourite.
type favouriteRequest struct {
	Favourite *bool `json:"favourite"`
}

// SetFavourite serves PUT /api/boards/{id}/favourite: a set, not a
// toggle, so a retried request does not undo itself.
func (h *Handlers) SetFavourite() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		var req favouriteRequest
		if err := web.DecodeJSON(w, r, &req); err != nil {
			return err
		}
		if req.Favourite == nil {
			return web.Invalid(map[string]string{"favourite": "is required: true or false"})
		}
		fav, err := h.svc.SetFavourite(r.Context(), caller(r), r.PathValue("id"), *req.Favourite)
		if err != nil {
			return err
		}
		web.WriteJSON(w, http.StatusOK, map[string]bool{"isFavourite": fav})
		return nil
	})
}

// Members serves GET /api/boards/{id}/members.
func (h *Handlers) Members() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		ms, err := h.svc.Members(r.Context(), caller(r), r.PathValue("id"))
		if err != nil {
			return err
		}
		web.WriteJSON(w, http.StatusOK, map[string][]board.MemberView{"members": ms})
		return nil
	})
}

// RemoveMember serves DELETE /api/boards/{id}/members/{userId}: the owner
// removing a member, or a member leaving.
func (h *Handlers) RemoveMember() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := h.svc.RemoveMember(r.Context(), caller(r), r.PathValue("id"), r.PathValue("userId")); err != nil {
			return err
		}
		return noContent(w)
	})
}

// listRequest is the body of POST /api/boards/{id}/lists.
type listRequest struct {
	Name string `json:"name"`
}

// AddList serves POST /api/boards/{id}/lists: 201 with the new list, last.
func (h *Handlers) AddList() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		var req listRequest
		if err := web.DecodeJSON(w, r, &req); err != nil {
			return err
		}
		l, err := h.svc.AddList(r.Context(), caller(r), r.PathValue("id"), req.Name)
		if err != nil {
			return err
		}
		web.WriteJSON(w, http.StatusCreated, map[string]board.ListView{"list": l})
		return nil
	})
}

// editListRequest is the body of PATCH /api/boards/{id}/lists/{listId}.
type editListRequest struct {
	Name     *string `json:"name"`
	Position *int    `json:"position"`
}

// EditList serves PATCH /api/boards/{id}/lists/{listId}: rename and/or
// move, in one step; it answers with the whole board.
func (h *Handlers) EditList() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		var req editListRequest
		if err := web.DecodeJSON(w, r, &req); err != nil {
			return err
		}
		v, err := h.svc.EditList(r.Context(), caller(r), r.PathValue("id"), r.PathValue("listId"), board.EditListInput{
			Name: req.Name, Position: req.Position,
		})
		if err != nil {
			return err
		}
		return h.writeBoard(w, http.StatusOK, v)
	})
}

// DeleteList serves DELETE /api/boards/{id}/lists/{listId}.
func (h *Handlers) DeleteList() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := h.svc.DeleteList(r.Context(), caller(r), r.PathValue("id"), r.PathValue("listId")); err != nil {
			return err
		}
		return noContent(w)
	})
}

// cardRequest is the body of POST /api/boards/{id}/lists/{listId}/cards.
type cardRequest struct {
	Title       string `json:"title"`
	Description string `json:"description"`
}

// AddCard serves POST /api/boards/{id}/lists/{listId}/cards: 201 with the
// new card, last in its list.
func (h *Handlers) AddCard() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		var req cardRequest
		if err := web.DecodeJSON(w, r, &req); err != nil {
			return err
		}
		c, err := h.svc.AddCard(r.Context(), caller(r), r.PathValue("id"), r.PathValue("listId"), req.Title, req.Description)
		if err != nil {
			return err
		}
		web.WriteJSON(w, http.StatusCreated, map[string]board.CardView{"card": c})
		return nil
	})
}

// editCardRequest is the body of PATCH /api/boards/{id}/cards/{cardId}.
type editCardRequest struct {
	Title       *string `json:"title"`
	Description *string `json:"description"`
	ListID      *string `json:"listId"`
	Position    *int    `json:"position"`
}

// EditCard serves PATCH /api/boards/{id}/cards/{cardId}: edit and/or
// move, in one step; it answers with the whole board, or, for a caller
// that sends Prefer: return=minimal (RFC 7240) because it holds the board
// already, 204 with Preference-Applied: return=minimal. A board of 500
// cards is some 110 KB to build and send on every move; the minimal
// answer skips both, and the write is the same.
func (h *Handlers) EditCard() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		var req editCardRequest
		if err := decodeEditCard(w, r, &req); err != nil {
			return err
		}
		in := board.EditCardInput{Title: req.Title, Description: req.Description, ListID: req.ListID, Position: req.Position}
		if prefersMinimal(r) {
			if err := h.svc.EditCardMinimal(r.Context(), caller(r), r.PathValue("id"), r.PathValue("cardId"), in); err != nil {
				return err
			}
			w.Header().Set("Preference-Applied", "return=minimal")
			return noContent(w)
		}
		v, err := h.svc.EditCard(r.Context(), caller(r), r.PathValue("id"), r.PathValue("cardId"), in)
		if err != nil {
			return err
		}
		return h.writeBoard(w, http.StatusOK, v)
	})
}

// DeleteCard serves DELETE /api/boards/{id}/cards/{cardId}.
func (h *Handlers) DeleteCard() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := h.svc.DeleteCard(r.Context(), caller(r), r.PathValue("id"), r.PathValue("cardId")); err != nil {
			return err
		}
		return noContent(w)
	})
}
