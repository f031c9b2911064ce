package userhttp

import (
	"context"
	"io"
	"mime/multipart"
	"net/http"

	"corkboard/auth"
	"corkboard/user"
	"corkboard/web"
)

// readPicture reads a multipart form whose file part "picture" is an image,
// storing the image with StorePicture as soon as it comes (the body is a
// stream: its bytes cannot wait). field is called for every text part, in
// order, and may refuse it. The whole form is read before readPicture
// returns, so that a body cut short after the picture is refused like one
// cut short inside it; whenever readPicture fails, it deletes the picture
// it stored. It returns the stored picture's id, or "" when the form has
// none.
func (h *Handlers) readPicture(w http.ResponseWriter, r *http.Request, field func(name, value string) error) (pictureID string, err error) {
	ctx := r.Context()
	defer func() {
		if err != nil {
			h.svc.DiscardPicture(ctx, pictureID)
			pictureID = ""
		}
	}()
	form, err := web.OpenForm(w, r, web.ImageUpload.MaxBytes)
	if err != nil {
		return "", err
	}
	for {
		part, err := form.Next()
		if err == io.EOF {
			return pictureID, nil
		}
		if err != nil {
			return pictureID, err
		}
		if part.FormName() != "picture" {
			v, err := form.Field(part)
			if err == nil {
				err = field(part.FormName(), v)
			}
			if err != nil {
				return pictureID, err
			}
			continue
		}
		if pictureID != "" {
			return pictureID, web.Invalid(map[string]string{"picture": "must be sent once"})
		}
		if pictureID, err = h.storePicture(ctx, form, part); err != nil {
			return "", err
		}
	}
}

// storePicture checks the picture part and stores its bytes; an empty
// part is no picture.
func (h *Handlers) storePicture(ctx context.Context, form *web.Form, part *multipart.Part) (string, error) {
	up, err := form.File(part, web.ImageUpload)
	if err != nil || up == nil {
		return "", err
	}
	id, err := h.svc.StorePicture(ctx, up)
	if err != nil {
		// The store wraps a failed read in its own error: the upload
		// knows whether it was the client's doing.
		if perr := up.Err(); perr != nil {
			return "", perr
		}
		return "", err
	}
	return id, nil
}

// SetPicture serves PUT /api/users/{id}/picture: a multipart form with one
// part, "picture", an image.
func (h *Handlers) SetPicture() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		p, _ := auth.PrincipalFrom(r.Context())
		id := r.PathValue("id")
		// Who may, and whether the user exists, are settled before a byte
		// of the body is read or stored.
		if err := user.MayEdit(p, id); err != nil {
			return err
		}
		if _, err := h.svc.User(r.Context(), id); err != nil {
			return err
		}
		pic, err := h.readPicture(w, r, func(name, _ string) error {
			return web.Invalid(map[string]string{name: "is not a field of this form; send only \"picture\""})
		})
		if err != nil {
			return err
		}
		if pic == "" {
			return web.Invalid(map[string]string{"picture": "is required: a JPEG, PNG, GIF or WebP image of at most 5 MiB"})
		}
		u, err := h.svc.SetPicture(r.Context(), p, id, pic)
		if err != nil {
			return err
		}
		web.WriteJSON(w, http.StatusOK, userBody{user.ViewFor(u, p.UserID, p.Roles)})
		return nil
	})
}

// DeletePicture serves DELETE /api/users/{id}/picture.
func (h *Handlers) DeletePicture() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		p, _ := auth.PrincipalFrom(r.Context())
		if err := h.svc.DeletePicture(r.Context(), p, r.PathValue("id")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}
