package mongostore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"corkboard/user"
)

// File bytes live in GridFS, one bucket per file bucket name: the bucket
// "pictures" is the collections pictures.files (one document per file, _id the
// file's id as an ObjectID) and pictures.chunks (the bytes in 255 KiB chunks).
// Every instance behind a load balancer serves the same files, and any GridFS
// reader (mongofiles, a driver's download stream) reads them.
//
// The store writes and reads that layout itself rather than through the
// driver's GridFSBucket (v2.10), for two reasons:
//   - The driver's upload stream allocates a 16 MiB buffer when it opens,
//     whatever the file's size, so twenty uploads stalled by slow clients
//     held over 300 MiB. PutFile holds one chunk (255 KiB).
//   - The driver's download stream cannot seek, and reopening it to skip to
//     an offset re-reads everything before the offset: a Range request of a
//     hundred overlapping ranges made the server read a file a hundred
//     times. gridFile reads the chunk an offset falls in with one query.
//
// The files document is inserted last, after every chunk, so a file is found
// only once it is whole, and a failed upload leaves at most chunks, which
// PutFile deletes (discardChunks).
//
// GridFS on FerretDB 1.24 (SQLite), the server the tests run on: the layout,
// the unique index on chunks {files_id, n} and the duplicate-key errors it
// gives (which mongo.IsDuplicateKeyError recognises) behave as on MongoDB. One
// difference: FerretDB does not push a find on chunks by {files_id, n} down to
// SQLite, so there every chunk read scans the bucket's whole chunks table; on
// MongoDB the unique index serves it. The results are the same.

// chunkSize is the size of every chunk of a file PutFile writes but its
// last: GridFS's default (readers take it from the files document, as
// OpenFile does). A chunk is held in memory while it is written or read, so
// it is also what an upload or an open file costs.
const chunkSize = 255 << 10

// maxChunkSize bounds the chunkSize a files document may claim: a chunk
// document larger than 16 MiB cannot exist in MongoDB.
const maxChunkSize = 16 << 20

// ErrCorruptFile is what reading a stored file fails with when its GridFS
// documents disagree: a files document with an impossible length or chunk
// size, a chunk missing, or a chunk whose size is not the one the files
// document implies. The bytes are never served short or padded.
var ErrCorruptFile = errors.New("stored file is corrupt")

// gridKey is where a file lives: its bucket's two collections and its id.
type gridKey struct {
	files, chunks *mongo.Collection
	oid           bson.ObjectID
	name          string // bucket/id, for messages
}

// fileKey returns the gridKey of (bucket, id), or an error wrapping
// user.ErrInvalidFileKey. The bucket name becomes a collection name only
// after CheckFileKey, so it holds no dot or other separator.
func (s *Store) fileKey(bucket, id string) (gridKey, error) {
	if err := user.CheckFileKey(bucket, id); err != nil {
		return gridKey{}, fmt.Errorf("mongostore: %w", err)
	}
	oid, err := bson.ObjectIDFromHex(id)
	if err != nil {
		return gridKey{}, fmt.Errorf("mongostore: file id %q: %w", id, user.ErrInvalidFileKey)
	}
	return gridKey{
		files:  s.db.Collection(bucket + ".files"),
		chunks: s.db.Collection(bucket + ".chunks"),
		oid:    oid,
		name:   bucket + "/" + id,
	}, nil
}

// PutFile implements user.FileStore. It reads r one chunk at a time and
// inserts each chunk as it fills, then the files document: what it holds in
// memory is one chunk, however large the file and however slowly r gives
// it.
func (s *Store) PutFile(ctx context.Context, bucket, id string, r io.Reader) (int64, error) {
	k, err := s.fileKey(bucket, id)
	if err != nil {
		return 0, err
	}
	if err := s.ensureGridIndexes(ctx, k); err != nil {
		return 0, s.fail("put file", err)
	}
	// Refuse a taken id before writing any chunk. Two uploads of one id
	// that both pass this check still cannot mix their chunks: the unique
	// index on {files_id, n} refuses the second one's chunk where they
	// meet, and the files insert refuses the second files document.
	taken, err := s.fileExists(ctx, k)
	if err != nil {
		return 0, s.fail("put file", err)
	}
	if taken {
		return 0, fmt.Errorf("mongostore: file %s: %w", k.name, fs.ErrExist)
	}
	var written []bson.ObjectID // the _ids of the chunks this upload inserted
	n, err := s.putChunks(ctx, k, ctxReader{ctx, r}, &written)
	if err == nil {
		err = s.insertOne(ctx, k.files, bson.D{
			{Key: "_id", Value: k.oid},
			{Key: "length", Value: n},
			{Key: "chunkSize", Value: int32(chunkSize)},
			// For GridFS tools; nothing here reads it, so it needs
			// no clock of the caller's.
			{Key: "uploadDate", Value: bson.NewDateTimeFromTime(time.Now())},
			{Key: "filename", Value: k.oid.Hex()},
		})
	}
	if err != nil {
		dup := mongo.IsDuplicateKeyError(err)
		if derr := s.discardChunks(ctx, k, written); derr != nil {
			err = errors.Join(err, fmt.Errorf("deleting the chunks of the failed upload: %w", derr))
		}
		if dup {
			return 0, fmt.Errorf("mongostore: file %s: %w (%v)", k.name, fs.ErrExist, err)
		}
		return 0, s.fail("put file", err)
	}
	return n, nil
}

// putChunks reads r to its end through one chunk-sized buffer and inserts
// each chunk, numbered from 0, as it fills; the last may be shorter, and an
// empty file has none. It returns the number of bytes, and appends the _id
// of every chunk it tried to insert to written (one whose insert failed may
// still have been applied).
func (s *Store) putChunks(ctx context.Context, k gridKey, r io.Reader, written *[]bson.ObjectID) (int64, error) {
	buf := make([]byte, chunkSize)
	var total int64
	for n := int32(0); ; n++ {
		got, err := io.ReadFull(r, buf)
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return 0, err
		}
		if got > 0 {
			id := bson.NewObjectID()
			*written = append(*written, id)
			if err := s.insertOne(ctx, k.chunks, bson.D{
				{Key: "_id", Value: id},
				{Key: "files_id", Value: k.oid},
				{Key: "n", Value: n},
				{Key: "data", Value: bson.Binary{Subtype: bson.TypeBinaryGeneric, Data: buf[:got]}},
			}); err != nil {
				return 0, err
			}
			total += int64(got)
		}
		if err != nil { // io.EOF or io.ErrUnexpectedEOF: r is done
			return total, nil
		}
		if n == math.MaxInt32 {
			return 0, errors.New("file too large for GridFS")
		}
	}
}

// insertOne inserts doc into coll, bounded by the store's OpTimeout.
func (s *Store) insertOne(ctx context.Context, coll *mongo.Collection, doc bson.D) error {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	_, err := coll.InsertOne(ctx, doc)
	return err
}

// ensureGridIndexes makes sure k's chunks collection has GridFS's unique
// index on {files_id: 1, n: 1}: it serves every chunk read, and it is what
// refuses a second upload's chunks under an id another upload is writing.
// Buckets are named by the callers, so Open cannot create it; this costs one
// listIndexes per upload, and creating it once per bucket (with the files
// collection's {filename: 1, uploadDate: 1}, which GridFS tools expect, as
// the driver does). An index with the same keys under another name counts,
// as it does for the driver, which compares keys only.
func (s *Store) ensureGridIndexes(ctx context.Context, k gridKey) error {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	found, err := hasIndex(ctx, k.chunks, "files_id", "n")
	if err != nil || found {
		return err
	}
	found, err = hasIndex(ctx, k.files, "filename", "uploadDate")
	if err != nil {
		return err
	}
	if !found {
		_, err = k.files.Indexes().CreateOne(ctx, mongo.IndexModel{
			Keys: bson.D{{Key: "filename", Value: int32(1)}, {Key: "uploadDate", Value: int32(1)}},
		})
		if err != nil {
			return fmt.Errorf("%s index: %w", k.files.Name(), err)
		}
	}
	_, err = k.chunks.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "files_id", Value: int32(1)}, {Key: "n", Value: int32(1)}},
		Options: options.Index().SetUnique(true),
	})
	if err != nil {
		return fmt.Errorf("%s index: %w", k.chunks.Name(), err)
	}
	return nil
}

// hasIndex reports whether coll has an index on exactly keys, in that order,
// each ascending. A missing collection has none.
func hasIndex(ctx context.Context, coll *mongo.Collection, keys ...string) (bool, error) {
	specs, err := coll.Indexes().ListSpecifications(ctx)
	if err != nil {
		return false, fmt.Errorf("listing the indexes of %s: %w", coll.Name(), err)
	}
	for _, sp := range specs {
		elems, err := bson.Raw(sp.KeysDocument).Elements()
		if err != nil || len(elems) != len(keys) {
			continue
		}
		match := true
		for i, e := range elems {
			dir, ok := e.Value().AsInt64OK()
			match = match && ok && e.Key() == keys[i] && dir == 1
		}
		if match {
			return true, nil
		}
	}
	return false, nil
}

// fileExists reports whether a whole file is stored under k.
func (s *Store) fileExists(ctx context.Context, k gridKey) (bool, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	err := k.files.FindOne(ctx, bson.D{{Key: "_id", Value: k.oid}},
		options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	return err == nil, err
}

// discardChunks deletes the chunks a failed upload inserted, by their own
// _ids: the chunks of another upload of the same id (one that won a race)
// are never touched. It runs on a context of its own, because the caller's
// may be what ended the upload.
func (s *Store) discardChunks(ctx context.Context, k gridKey, ids []bson.ObjectID) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opTimeout)
	defer cancel()
	// A few hundred ids at a time keeps each command small whatever the
	// file's size; a 20 MiB file has 81 chunks.
	const batch = 500
	for len(ids) > 0 {
		b := ids[:min(batch, len(ids))]
		ids = ids[len(b):]
		_, err := k.chunks.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: b}}}})
		if err != nil {
			return err
		}
	}
	return nil
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

// OpenFile implements user.FileStore. It reads the files document only; the
// File reads chunks as they are needed, under ctx, which must last as long
// as the reading (a request's context, say).
func (s *Store) OpenFile(ctx context.Context, bucket, id string) (user.File, error) {
	k, err := s.fileKey(bucket, id)
	if err != nil {
		return nil, err
	}
	octx, cancel := s.opContext(ctx)
	defer cancel()
	var doc struct {
		Length    int64 `bson:"length"`
		ChunkSize int64 `bson:"chunkSize"`
	}
	err = k.files.FindOne(octx, bson.D{{Key: "_id", Value: k.oid}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, fmt.Errorf("mongostore: file %s: %w", k.name, fs.ErrNotExist)
	}
	if err != nil {
		return nil, s.fail("open file", err)
	}
	// A file of length 0 needs no chunk size (the GridFS spec allows it
	// missing); any other must have chunks that can exist, and no more of
	// them than n, an int32, can count.
	switch {
	case doc.Length < 0:
		err = fmt.Errorf("length %d", doc.Length)
	case doc.Length == 0:
		doc.ChunkSize = chunkSize
	case doc.ChunkSize <= 0 || doc.ChunkSize > maxChunkSize:
		err = fmt.Errorf("chunkSize %d", doc.ChunkSize)
	case (doc.Length-1)/doc.ChunkSize >= math.MaxInt32:
		err = fmt.Errorf("length %d in chunks of %d", doc.Length, doc.ChunkSize)
	}
	if err != nil {
		return nil, fmt.Errorf("mongostore: file %s: %w: files document has %v", k.name, ErrCorruptFile, err)
	}
	return &gridFile{ctx: ctx, s: s, key: k, size: doc.Length, chunkSize: doc.ChunkSize, chunkN: -1}, nil
}

// DeleteFile implements user.FileStore. It deletes the files document, so
// that the file is gone at once, then the chunks. A missing files document
// is fs.ErrNotExist, and then no chunk is touched: chunks without a files
// document may be an upload still under way.
func (s *Store) DeleteFile(ctx context.Context, bucket, id string) error {
	k, err := s.fileKey(bucket, id)
	if err != nil {
		return err
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	res, err := k.files.DeleteOne(ctx, bson.D{{Key: "_id", Value: k.oid}})
	if err != nil {
		return s.fail("delete file", err)
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("mongostore: file %s: %w", k.name, fs.ErrNotExist)
	}
	if _, err := k.chunks.DeleteMany(ctx, bson.D{{Key: "files_id", Value: k.oid}}); err != nil {
		return s.fail("delete file chunks", err)
	}
	return nil
}

// gridFile is an open GridFS file. Seek only records the offset; Read
// fetches the chunk the offset falls in with one query (FindOne by
// {files_id, n}, which the unique index serves) and keeps it, so reading
// costs one query per chunk read, whatever the seeks in between, and an
// open file holds one chunk. http.ServeContent seeks to the end and back
// to learn the size, and once per range.
type gridFile struct {
	ctx       context.Context
	s         *Store
	key       gridKey
	size      int64
	chunkSize int64
	pos       int64  // the offset of the next Read
	chunkN    int64  // the index of the chunk in chunk, or -1
	chunk     []byte // its bytes, checked against size and chunkSize
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
	if len(p) == 0 {
		return 0, nil
	}
	n := f.pos / f.chunkSize
	if n != f.chunkN {
		if err := f.load(n); err != nil {
			return 0, err
		}
	}
	c := copy(p, f.chunk[f.pos-n*f.chunkSize:])
	f.pos += int64(c)
	return c, nil
}

// load fetches chunk n and checks its size: every chunk but the last is
// chunkSize bytes, and the last holds the rest of the file.
func (f *gridFile) load(n int64) error {
	ctx, cancel := f.s.opContext(f.ctx)
	defer cancel()
	raw, err := f.key.chunks.FindOne(ctx,
		bson.D{{Key: "files_id", Value: f.key.oid}, {Key: "n", Value: int32(n)}},
		options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 0}, {Key: "data", Value: 1}})).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return f.missing(ctx, n)
	}
	if err != nil {
		return f.s.fail("read file", err)
	}
	_, data, ok := raw.Lookup("data").BinaryOK()
	if !ok {
		return fmt.Errorf("mongostore: file %s: %w: chunk %d has no binary data", f.key.name, ErrCorruptFile, n)
	}
	if want := min(f.chunkSize, f.size-n*f.chunkSize); int64(len(data)) != want {
		return fmt.Errorf("mongostore: file %s: %w: chunk %d holds %d bytes, want %d",
			f.key.name, ErrCorruptFile, n, len(data), want)
	}
	f.chunk, f.chunkN = data, n
	return nil
}

// missing explains a chunk that is not there: the file was deleted while
// open (fs.ErrNotExist), or it is corrupt.
func (f *gridFile) missing(ctx context.Context, n int64) error {
	err := f.key.files.FindOne(ctx, bson.D{{Key: "_id", Value: f.key.oid}},
		options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return fmt.Errorf("mongostore: file %s deleted while open: %w", f.key.name, fs.ErrNotExist)
	case err != nil:
		return f.s.fail("read file", err)
	}
	return fmt.Errorf("mongostore: file %s: %w: chunk %d is missing", f.key.name, ErrCorruptFile, n)
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
	f.closed, f.chunk = true, nil
	return nil
}
