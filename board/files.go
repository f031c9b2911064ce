package board

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"

	"corkboard/auth"
	"corkboard/objectid"
	"corkboard/user"
)

// Files of a board, with the discipline of profile pictures: the bytes are
// stored first, under a fresh random id, and only once they are durable
// does the board point at them; a change that fails deletes them. Bytes a
// change replaces or removes (a background, the attachments of a deleted
// card) are deleted after the board no longer points at them. So a stop
// at any moment leaves at worst a file nobody points at (which the file
// store's start-up sweep removes), never a board pointing at nothing.

// StoreFile stores the bytes of an upload that the caller checked (an
// image for BackgroundBucket, an attachment for AttachmentBucket) under a
// fresh id, and returns the id and the number of bytes. No board points at
// it yet: the caller passes it to SetBackground or AddAttachment, which own
// it from then on, or deletes it with DiscardFile.
func (s *Service) StoreFile(ctx context.Context, bucket string, r io.Reader) (string, int64, error) {
	if bucket != BackgroundBucket && bucket != AttachmentBucket {
		return "", 0, fmt.Errorf("board: %q is not a bucket of boards", bucket)
	}
	if s.files == nil {
		return "", 0, errors.New("board: no file store configured")
	}
	id := objectid.New(s.now())
	n, err := s.files.PutFile(ctx, bucket, id, r)
	if err != nil {
		return "", 0, err
	}
	return id, n, nil
}

// DiscardFile deletes the bytes of a file no board points at (any more).
// It is best effort: a failure is logged, and the file store's start-up
// sweep removes what is left.
func (s *Service) DiscardFile(ctx context.Context, bucket, id string) {
	s.discardFile(ctx, bucket, id)
}

func (s *Service) discardFile(ctx context.Context, bucket, id string) {
	if id == "" || s.files == nil {
		return
	}
	// The request may be what failed; the deletion must still run.
	ctx = context.WithoutCancel(ctx)
	if err := s.files.DeleteFile(ctx, bucket, id); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.LogAttrs(ctx, slog.LevelWarn, "deleting a board file's bytes failed; the start-up sweep removes them",
			slog.String("bucket", bucket), slog.String("file_id", id), slog.String("error", err.Error()))
	}
}

// CheckMember returns nil when p is a member of the board id, else
// ErrNotFound: a handler asks before it reads an upload, so that a
// stranger's bytes are never stored.
func (s *Service) CheckMember(ctx context.Context, p auth.Principal, id string) error {
	_, err := s.memberBoard(ctx, p, id)
	return err
}

// CheckCard is CheckMember, and that the card cardID is on the board
// (ErrCardNotFound otherwise).
func (s *Service) CheckCard(ctx context.Context, p auth.Principal, id, cardID string) error {
	b, err := s.memberBoard(ctx, p, id)
	if err != nil {
		return err
	}
	if li, _ := b.cardIndex(cardID); li < 0 {
		return ErrCardNotFound
	}
	return nil
}

// SetBackground makes the image stored under fileID (by StoreFile, in
// BackgroundBucket) the background of the board id, for a member, and
// deletes the bytes of the uploaded background it replaces. It owns
// fileID: when it fails, it deletes those bytes.
func (s *Service) SetBackground(ctx context.Context, p auth.Principal, id, fileID string) (Shown, error) {
	var replaced string
	b, err := s.update(ctx, p, id, func(b *Board) error {
		var err error
		replaced, err = b.SetBackgroundFile(fileID)
		return err
	})
	if err != nil {
		s.discardFile(ctx, BackgroundBucket, fileID)
		return Shown{}, err
	}
	s.discardFile(ctx, BackgroundBucket, replaced)
	return s.view(ctx, b, p)
}

// AttachmentInput describes an uploaded attachment whose bytes StoreFile
// stored in AttachmentBucket.
type AttachmentInput struct {
	FileID string
	// FileName is the name the client sent; it is sanitised here
	// (SanitizeFileName) and only ever shown.
	FileName string
	// ContentType is the type decided from the bytes.
	ContentType string
	Size        int64
}

// AddAttachment attaches the uploaded file in to the card cardID of the
// board id, for a member. It owns in.FileID: when it fails (ErrNotFound,
// ErrCardNotFound, a *LimitError), it deletes those bytes.
func (s *Service) AddAttachment(ctx context.Context, p auth.Principal, id, cardID string, in AttachmentInput) (AttachmentView, error) {
	a := Attachment{
		ID:          in.FileID,
		Name:        SanitizeFileName(in.FileName),
		ContentType: in.ContentType,
		Size:        in.Size,
		CreatedAt:   s.now().UTC(),
	}
	_, err := s.update(ctx, p, id, func(b *Board) error { return b.AddAttachment(cardID, a) })
	if err != nil {
		s.discardFile(ctx, AttachmentBucket, in.FileID)
		return AttachmentView{}, err
	}
	return attachmentView(id, cardID, a), nil
}

// OpenAttachment returns the attachment attachmentID of the card cardID
// on the board id, for a member, with its bytes open for reading; the
// caller closes the file. It fails with ErrNotFound, ErrCardNotFound or
// ErrAttachmentNotFound (also when the bytes are missing, which is logged:
// they should not be).
func (s *Service) OpenAttachment(ctx context.Context, p auth.Principal, id, cardID, attachmentID string) (Attachment, user.File, error) {
	b, err := s.memberBoard(ctx, p, id)
	if err != nil {
		return Attachment{}, nil, err
	}
	a, err := b.Attachment(cardID, attachmentID)
	if err != nil {
		return Attachment{}, nil, err
	}
	f, err := s.files.OpenFile(ctx, AttachmentBucket, a.ID)
	if errors.Is(err, fs.ErrNotExist) {
		s.log.LogAttrs(ctx, slog.LevelWarn, "an attachment's bytes are missing",
			slog.String("board_id", id), slog.String("file_id", a.ID))
		return Attachment{}, nil, ErrAttachmentNotFound
	}
	if err != nil {
		return Attachment{}, nil, err
	}
	return a, f, nil
}

// DeleteAttachment removes the attachment attachmentID from the card
// cardID of the board id, for a member, then deletes its bytes.
func (s *Service) DeleteAttachment(ctx context.Context, p auth.Principal, id, cardID, attachmentID string) error {
	return s.removeWith(ctx, p, id, func(b *Board) ([]Attachment, error) {
		a, err := b.RemoveAttachment(cardID, attachmentID)
		return []Attachment{a}, err
	})
}
