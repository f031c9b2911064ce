package user

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"

	"corkboard/auth"
	"corkboard/objectid"
)

// Pictures: the bytes go to the FileStore under a fresh random id, and only
// once they are durable does the user record point at them. Replacing or
// removing a picture swaps the id in the record first and deletes the old
// bytes after, so a crash between the two leaves an orphan file (which the
// start-up sweep removes), never a record pointing at nothing.

// PictureBucket is the FileStore bucket of profile pictures.
const PictureBucket = "pictures"

// MayEdit reports whether the caller may change the user with the given id:
// only that user themself, or an admin. It fails with ErrForbidden, or with
// ErrNotFound for an id that is not an id at all: that is nobody's, so
// saying so reveals nothing. It reads nothing, so a handler can ask it
// before it reads a body.
func MayEdit(p auth.Principal, id string) error {
	if !objectid.Valid(id) {
		return ErrNotFound
	}
	if p.UserID != id && auth.Authorize(p, auth.RoleAdmin) != nil {
		return ErrForbidden
	}
	return nil
}

// StorePicture stores the bytes of a new picture, which the caller has
// checked to be an image, under a fresh id, and returns the id. No record
// points at it yet: the caller passes it on (SignupInput.PictureID) or
// discards it with DiscardPicture.
func (s *Service) StorePicture(ctx context.Context, r io.Reader) (string, error) {
	if s.files == nil {
		return "", errors.New("user: no file store configured")
	}
	id := objectid.New(s.now())
	if _, err := s.files.PutFile(ctx, PictureBucket, id, r); err != nil {
		return "", err
	}
	return id, nil
}

// DiscardPicture deletes the bytes of a picture that no record points at
// (any more). It is best effort: a failure is logged, and the start-up
// sweep of orphan files removes what is left.
func (s *Service) DiscardPicture(ctx context.Context, id string) {
	if id == "" || s.files == nil {
		return
	}
	// The request may be what failed; the deletion must still run.
	ctx = context.WithoutCancel(ctx)
	if err := s.files.DeleteFile(ctx, PictureBucket, id); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.LogAttrs(ctx, slog.LevelWarn, "deleting a picture's bytes failed; the start-up sweep removes them",
			slog.String("file_id", id), slog.String("error", err.Error()))
	}
}

// SetPicture makes the picture stored under pictureID (by StorePicture)
// the picture of the user with the given id, for that user or an admin,
// and deletes the bytes of the one it replaces. SetPicture owns pictureID:
// when it fails (ErrForbidden, ErrNotFound, or the store's error) it
// deletes those bytes.
func (s *Service) SetPicture(ctx context.Context, p auth.Principal, id, pictureID string) (User, error) {
	err := MayEdit(p, id)
	var old string
	if err == nil {
		old, err = s.store.SetPicture(ctx, id, pictureID, s.now().UTC())
	}
	if err != nil {
		s.DiscardPicture(ctx, pictureID) // no record points at it
		return User{}, err
	}
	s.DiscardPicture(ctx, old)
	return s.store.UserByID(ctx, id)
}

// DeletePicture removes the picture of the user with the given id, for that
// user or an admin, and deletes its bytes. Removing a picture that is not
// there succeeds. It fails with ErrForbidden or ErrNotFound.
func (s *Service) DeletePicture(ctx context.Context, p auth.Principal, id string) error {
	if err := MayEdit(p, id); err != nil {
		return err
	}
	old, err := s.store.SetPicture(ctx, id, "", s.now().UTC())
	if err != nil {
		return err
	}
	s.DiscardPicture(ctx, old)
	return nil
}
