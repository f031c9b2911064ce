package user

import (
	"context"
	"errors"
	"fmt"
	"io"

	"corkboard/objectid"
)

// FileStore keeps the bytes of uploaded files, by bucket and id. Buckets keep
// kinds of files apart ("pictures", later "backgrounds", "attachments"); ids
// are made by objectid.New. Package board declares the same interface, so
// that one store value serves both.
type FileStore interface {
	// PutFile stores the bytes read from r under (bucket, id) and returns
	// once they are durable, with the number of bytes. It fails with an
	// error wrapping fs.ErrExist if id is taken in that bucket, and with one
	// wrapping ErrInvalidFileKey if bucket or id is malformed. A failure
	// (r failing, or ctx cancelled mid-way) leaves nothing behind.
	PutFile(ctx context.Context, bucket, id string, r io.Reader) (int64, error)

	// OpenFile returns the file's bytes for reading with seeking (for
	// http.ServeContent) and its size. A missing file is an error wrapping
	// fs.ErrNotExist. The caller closes the File.
	OpenFile(ctx context.Context, bucket, id string) (File, error)

	// DeleteFile removes the file; a missing one is an error wrapping
	// fs.ErrNotExist.
	DeleteFile(ctx context.Context, bucket, id string) error
}

// File is an open stored file.
type File interface {
	io.ReadSeeker
	io.Closer
	// Size is the file's length in bytes.
	Size() int64
}

// ErrInvalidFileKey: a file bucket or id that CheckFileKey refuses.
var ErrInvalidFileKey = errors.New("invalid file bucket or id")

// maxBucketLen bounds a bucket name; the names in use are a word long.
const maxBucketLen = 32

// CheckFileKey returns nil when bucket is a short lowercase name (a letter,
// then letters or digits, at most 32) and id has the shape objectid.New
// makes, and an error wrapping ErrInvalidFileKey otherwise. Stores call it
// before the pair becomes a path or a collection name, so neither can hold a
// separator, a dot or anything a client chose.
func CheckFileKey(bucket, id string) error {
	if !validBucket(bucket) {
		return fmt.Errorf("file bucket %q: %w", bucket, ErrInvalidFileKey)
	}
	if !objectid.Valid(id) {
		return fmt.Errorf("file id %q: %w", id, ErrInvalidFileKey)
	}
	return nil
}

func validBucket(b string) bool {
	if len(b) == 0 || len(b) > maxBucketLen || b[0] < 'a' || b[0] > 'z' {
		return false
	}
	for i := 1; i < len(b); i++ {
		c := b[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
