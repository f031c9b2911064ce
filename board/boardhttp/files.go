package boardhttp

import (
	"context"
	"io"
	"mime/multipart"
	"net/http"

	"corkboard/board"
	"corkboard/web"
)

// upload is a file part stored by readFile.
type upload struct {
	id   string
	name string // the file name the client sent, unchecked
	typ  string // decided from the bytes
	size int64
}

// readFile reads a multipart form of one file part named part, checked
// under rules and stored in bucket as soon as it comes (the body is a
// stream: its bytes cannot wait). Any other part is refused. The whole
// form is read before readFile returns, so that a body cut short after the
// file is refused like one cut short inside it; whenever readFile fails,
// it deletes the file it stored. It returns a zero upload when the form
// has no file (an empty part is none).
func (h *Handlers) readFile(w http.ResponseWriter, r *http.Request, part, bucket string, rules web.UploadRules) (up upload, err error) {
	ctx := r.Context()
	defer func() {
		if err != nil {
			h.svc.DiscardFile(ctx, bucket, up.id)
			up = upload{}
		}
	}()
	form, err := web.OpenForm(w, r, rules.MaxBytes)
	if err != nil {
		return up, err
	}
	for {
		p, err := form.Next()
		if err == io.EOF {
			return up, nil
		}
		if err != nil {
			return up, err
		}
		switch {
		case p.FormName() != part:
			return up, web.Invalid(map[string]string{p.FormName(): "is not a field of this form; send only \"" + part + "\""})
		case up.id != "":
			return up, web.Invalid(map[string]string{part: "must be sent once"})
		}
		if up, err = h.storeFile(ctx, form, p, bucket, rules); err != nil {
			return upload{}, err
		}
	}
}

// storeFile checks a file part and stores its bytes; an empty part is no
// file.
func (h *Handlers) storeFile(ctx context.Context, form *web.Form, p *multipart.Part, bucket string, rules web.UploadRules) (upload, error) {
	f, err := form.File(p, rules)
	if err != nil || f == nil {
		return upload{}, err
	}
	id, n, err := h.svc.StoreFile(ctx, bucket, f)
	if err != nil {
		// The store wraps a failed read in its own error: the upload
		// knows whether it was the client's doing.
		if perr := f.Err(); perr != nil {
			return upload{}, perr
		}
		return upload{}, err
	}
	return upload{id: id, name: p.FileName(), typ: f.Type, size: n}, nil
}

// SetBackground serves PUT /api/boards/{id}/background: a multipart form
// with one part, "background", an image; 200 with the board.
func (h *Handlers) SetBackground() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		p, id := caller(r), r.PathValue("id")
		// A stranger's bytes are never stored: membership is settled
		// before a byte of the body is read.
		if err := h.svc.CheckMember(r.Context(), p, id); err != nil {
			return err
		}
		up, err := h.readFile(w, r, "background", board.BackgroundBucket, web.ImageUpload)
		if err != nil {
			return err
		}
		if up.id == "" {
			return web.Invalid(map[string]string{"background": "is required: a JPEG, PNG, GIF or WebP image of at most 5 MiB"})
		}
		v, err := h.svc.SetBackground(r.Context(), p, id, up.id)
		if err != nil {
			return err
		}
		return h.writeBoard(w, http.StatusOK, v)
	})
}

// AddAttachment serves POST /api/boards/{id}/cards/{cardId}/attachments:
// a multipart form with one part, "file", an image or a PDF; 201 with the
// attachment.
func (h *Handlers) AddAttachment() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		p, id, cardID := caller(r), r.PathValue("id"), r.PathValue("cardId")
		if err := h.svc.CheckCard(r.Context(), p, id, cardID); err != nil {
			return err
		}
		up, err := h.readFile(w, r, "file", board.AttachmentBucket, web.AttachmentUpload)
		if err != nil {
			return err
		}
		if up.id == "" {
			return web.Invalid(map[string]string{"file": "is required: a JPEG, PNG, GIF or WebP image or a PDF of at most 20 MiB"})
		}
		a, err := h.svc.AddAttachment(r.Context(), p, id, cardID, board.AttachmentInput{
			FileID: up.id, FileName: up.name, ContentType: up.typ, Size: up.size,
		})
		if err != nil {
			return err
		}
		web.WriteJSON(w, http.StatusCreated, map[string]board.AttachmentView{"attachment": a})
		return nil
	})
}

// GetAttachment serves GET
// /api/boards/{id}/cards/{cardId}/attachments/{attachmentId}: the bytes,
// to members only, as a download under the sanitised name.
func (h *Handlers) GetAttachment() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		a, f, err := h.svc.OpenAttachment(r.Context(), caller(r), r.PathValue("id"), r.PathValue("cardId"), r.PathValue("attachmentId"))
		if err != nil {
			return err
		}
		defer f.Close()
		return web.ServeDownload(w, r, f, a.ID, web.AttachmentTypes, a.Name)
	})
}

// DeleteAttachment serves DELETE
// /api/boards/{id}/cards/{cardId}/attachments/{attachmentId}; the bytes
// go too.
func (h *Handlers) DeleteAttachment() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		err := h.svc.DeleteAttachment(r.Context(), caller(r), r.PathValue("id"), r.PathValue("cardId"), r.PathValue("attachmentId"))
		if err != nil {
			return err
		}
		return noContent(w)
	})
}
