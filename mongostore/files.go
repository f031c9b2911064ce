package mongostore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"corkboard/user"
)

// File bytes live in GridFS, one bucket per file bucket name: the bucket
// "pictures" is the collections pictures.files (one document per file, _id the
// file's id as an ObjectID) and pictures.chunks (the bytes in 255 KiB chunks).
// Every instance behind a load balancer serves the same files.
//
// What to know about the driver's GridFS (v2.10):
//   - A GridFSBucket value is not safe for concurrent use (it keeps a read
//     buffer and a first-write flag unguarded), so each operation makes its
//     own; that costs no round trip.
//   - An upload holds up to 16 MiB in memory: the upload stream buffers that
//     much before it inserts chunks. Files here are at most 20 MiB.
//   - The files document is inserted last, after every chunk, so a file is
//     found only once it is whole, and a failed upload leaves at most chunks,
//     which PutFile deletes (discardUpload).
//   - Download streams do not seek; see gridFile.
//   - Abort deletes the chunks on the upload stream's context, which is the
//     caller's: when the caller cancelled, Abort cannot clean up, so
//     discardUpload then deletes the chunks on a fresh context.
//
// GridFS on FerretDB 1.24 (SQLite), the server the tests run on, behaves as
// on MongoDB in everything PutFile, OpenFile and DeleteFile use: the driver's
// index creation at the first upload (listIndexes, then the unique index on
// chunks {files_id, n}), inserts of 64 chunks (16 MiB) at once, chunks read
// back in order of n, Delete, ErrFileNotFound, and a duplicate-key error that
// mongo.IsDuplicateKeyError recognises when chunks or a files document
// collide with a taken id. No difference was found.

// bucket returns the GridFS bucket named name, and the file id as an
// ObjectID, or an error wrapping user.ErrInvalidFileKey.
func (s *Store) bucket(name, id string) (*mongo.GridFSBucket, bson.ObjectID, error) {
	if err := user.CheckFileKey(name, id); err != nil {
		return nil, bson.ObjectID{}, fmt.Errorf("mongostore: %w", err)
	}
	oid, err := bson.ObjectIDFromHex(id)
	if err != nil {
		return nil, bson.ObjectID{}, fmt.Errorf("mongostore: file id %q: %w", id, user.ErrInvalidFileKey)
	}
	return s.db.GridFSBucket(options.GridFSBucket().SetName(name)), oid, nil
}

// copyBufferSize is the size of the reads from an upload's source.
const copyBufferSize = 64 << 10

// PutFile implements user.FileStore.
func (s *Store) PutFile(ctx context.Context, bucket, id string, r io.Reader) (int64, error) {
	b, oid, err := s.bucket(bucket, id)
	if err != nil {
		return 0, err
	}
	// Refuse a taken id before writing any chunk: the chunks of a failed
	// upload are deleted by file id, and must never be another file's.
	taken, err := s.fileExists(ctx, b, oid)
	if err != nil {
		return 0, s.fail("put file", err)
	}
	if taken {
		return 0, fmt.Errorf("mongostore: file %s/%s: %w", bucket, id, fs.ErrExist)
	}
	us, err := b.OpenUploadStreamWithID(ctx, oid, id)
	if err != nil {
		return 0, s.fail("put file", err)
	}
	n, err := io.CopyBuffer(us, ctxReader{ctx, r}, make([]byte, copyBufferSize))
	if err == nil {
		err = us.Close()
	}
	if err != nil {
		if derr := s.discardUpload(ctx, b, us, oid); derr != nil {
			err = errors.Join(err, fmt.Errorf("deleting the chunks of the failed upload: %w", derr))
		}
		if mongo.IsDuplicateKeyError(err) {
			return 0, fmt.Errorf("mongostore: file %s/%s: %w (%v)", bucket, id, fs.ErrExist, err)
		}
		return 0, s.fail("put file", err)
	}
	return n, nil
}

// fileExists reports whether a whole file is stored under oid in b.
func (s *Store) fileExists(ctx context.Context, b *mongo.GridFSBucket, oid bson.ObjectID) (bool, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	err := b.GetFilesCollection().FindOne(ctx, bson.D{{Key: "_id", Value: oid}},
		options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	return err == nil, err
}

// discardUpload deletes the chunks a failed upload wrote. It runs on a
// context of its own, because the caller's may be what ended the upload.
// GridFS's Abort deletes every chunk of the file id; if another upload of the
// same id won a race meanwhile, only the chunks past that file's end can be
// ours, and only those go.
func (s *Store) discardUpload(ctx context.Context, b *mongo.GridFSBucket, us *mongo.GridFSUploadStream, oid bson.ObjectID) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opTimeout)
	defer cancel()
	var winner struct {
		Length    int64 `bson:"length"`
		ChunkSize int64 `bson:"chunkSize"`
	}
	err := b.GetFilesCollection().FindOne(ctx, bson.D{{Key: "_id", Value: oid}}).Decode(&winner)
	var keep int64
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		// Abort runs on the upload's context, the caller's: if that is
		// done, delete by hand.
		if us.Abort() == nil {
			return nil
		}
	case err != nil:
		return err
	case winner.ChunkSize > 0:
		keep = (winner.Length + winner.ChunkSize - 1) / winner.ChunkSize
	}
	_, err = b.GetChunksCollection().DeleteMany(ctx, bson.D{
		{Key: "files_id", Value: oid},
		{Key: "n", Value: bson.D{{Key: "$gte", Value: keep}}},
	})
	return err
}

// ctxReader is r that fails with ctx's error once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// OpenFile implements user.FileStore. The File reads under ctx, which must
// last as long as the reading (a request's context, say).
func (s *Store) OpenFile(ctx context.Context, bucket, id string) (user.File, error) {
	b, oid, err := s.bucket(bucket, id)
	if err != nil {
		return nil, err
	}
	ds, err := b.OpenDownloadStream(ctx, oid)
	if err != nil {
		return nil, s.fileFail("open file", bucket, id, err)
	}
	return &gridFile{ctx: ctx, b: b, oid: oid, size: ds.GetFile().Length, stream: ds}, nil
}

// fileFail is fail for file operations: a missing file wraps fs.ErrNotExist.
func (s *Store) fileFail(op, bucket, id string, err error) error {
	if errors.Is(err, mongo.ErrFileNotFound) {
		return fmt.Errorf("mongostore: file %s/%s: %w", bucket, id, fs.ErrNotExist)
	}
	return s.fail(op, err)
}

// DeleteFile implements user.FileStore. It deletes the files document, then
// the chunks.
func (s *Store) DeleteFile(ctx context.Context, bucket, id string) error {
	b, oid, err := s.bucket(bucket, id)
	if err != nil {
		return err
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	if err := b.Delete(ctx, oid); err != nil {
		return s.fileFail("delete file", bucket, id, err)
	}
	return nil
}

// gridFile is an open GridFS file that can seek, which a GridFS download
// stream cannot. Seek only records the new offset; the next Read, if the
// stream is elsewhere, reopens the stream and skips to the offset. A skip
// reads the chunks before the offset from the server and drops them (one
// chunk in memory at a time), so a seek costs a re-read of what precedes it;
// http.ServeContent seeks to the end and back to learn the size (free here:
// no Read in between) and once per range, and files are at most 20 MiB.
// Buffering whole files instead would cost their size in memory per
// download.
type gridFile struct {
	ctx       context.Context
	b         *mongo.GridFSBucket
	oid       bson.ObjectID
	size      int64
	pos       int64                       // the offset of the next Read
	stream    *mongo.GridFSDownloadStream // nil once closed for a seek
	streamPos int64                       // the offset stream is at
	closed    bool
}

func (f *gridFile) Size() int64 { return f.size }

func (f *gridFile) Read(p []byte) (int, error) {
	if f.closed {
		return 0, fs.ErrClosed
	}
	if f.pos >= f.size {
		return 0, io.EOF
	}
	if f.stream == nil || f.streamPos != f.pos {
		if err := f.reopen(); err != nil {
			return 0, err
		}
	}
	if len(p) == 0 {
		return 0, nil
	}
	n, err := f.stream.Read(p)
	f.pos += int64(n)
	f.streamPos += int64(n)
	return n, err
}

// reopen opens a fresh stream positioned at f.pos.
func (f *gridFile) reopen() error {
	if f.stream != nil {
		f.stream.Close()
		f.stream = nil
	}
	ds, err := f.b.OpenDownloadStream(f.ctx, f.oid)
	if errors.Is(err, mongo.ErrFileNotFound) {
		return fmt.Errorf("mongostore: file %s deleted while open: %w", f.oid.Hex(), fs.ErrNotExist)
	}
	if err != nil {
		return fmt.Errorf("mongostore: reopen file %s: %w", f.oid.Hex(), err)
	}
	if ds.GetFile().Length != f.size {
		ds.Close()
		return fmt.Errorf("mongostore: file %s changed size while open", f.oid.Hex())
	}
	skipped, err := ds.Skip(f.pos)
	if err == nil && skipped != f.pos {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		ds.Close()
		return fmt.Errorf("mongostore: seek in file %s: %w", f.oid.Hex(), err)
	}
	f.stream, f.streamPos = ds, f.pos
	return nil
}

func (f *gridFile) Seek(offset int64, whence int) (int64, error) {
	if f.closed {
		return 0, fs.ErrClosed
	}
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += f.pos
	case io.SeekEnd:
		offset += f.size
	default:
		return 0, errors.New("mongostore: seek: invalid whence")
	}
	if offset < 0 {
		return 0, errors.New("mongostore: seek: negative position")
	}
	f.pos = offset
	return offset, nil
}

func (f *gridFile) Close() error {
	if f.closed {
		return fs.ErrClosed
	}
	f.closed = true
	if f.stream == nil {
		return nil
	}
	err := f.stream.Close()
	f.stream = nil
	return err
}
