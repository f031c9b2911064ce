package mongostore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"corkboard/user"
)

// SweepOrphanFiles removes, from one bucket, the files that no record points
// at (keep(id) is false) and the chunks of uploads that never finished,
// provided they were written before the time given, and returns how many
// files it removed. Several corkboard processes may share the database, and
// any of them may be between storing an upload and committing the record
// that points at it; the age bound (callers use an hour) is what keeps the
// sweep off those. A file's age is its uploadDate; an unfinished upload has
// no files document, and its age is that of its id, an ObjectID made when
// the upload began. Only the bucket named is looked at.
func (s *Store) SweepOrphanFiles(ctx context.Context, bucket string, keep func(id string) bool, before time.Time) (int, error) {
	if err := user.CheckFileKey(bucket, "000000000000000000000000"); err != nil {
		return 0, fmt.Errorf("mongostore: sweep: %w", err)
	}
	files := s.db.Collection(bucket + ".files")
	chunks := s.db.Collection(bucket + ".chunks")
	removed := 0

	// Whole files no record points at.
	var old []struct {
		ID bson.ObjectID `bson:"_id"`
	}
	opCtx, cancel := s.opContext(ctx)
	defer cancel()
	cur, err := files.Find(opCtx, bson.D{{Key: "uploadDate", Value: bson.D{{Key: "$lt", Value: before}}}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err == nil {
		err = cur.All(opCtx, &old)
	}
	if err != nil {
		return 0, s.fail("sweep files", err)
	}
	for _, f := range old {
		if keep(f.ID.Hex()) {
			continue
		}
		if err := s.DeleteFile(ctx, bucket, f.ID.Hex()); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, err
		}
		removed++
	}

	// Chunks without a files document: uploads a crash or a lost
	// connection stopped before their end.
	// Every upload of at least one byte writes its chunk 0 first, so the
	// chunks numbered 0 name every upload, one each. (Not distinct:
	// FerretDB 1.x refuses the maxTimeMS the driver adds to it.)
	var firsts []struct {
		FilesID bson.ObjectID `bson:"files_id"`
	}
	cur, err = chunks.Find(opCtx, bson.D{
		{Key: "files_id", Value: bson.D{{Key: "$lt", Value: bson.NewObjectIDFromTimestamp(before)}}},
		{Key: "n", Value: 0},
	}, options.Find().SetProjection(bson.D{{Key: "files_id", Value: 1}}))
	if err == nil {
		err = cur.All(opCtx, &firsts)
	}
	if err != nil {
		return removed, s.fail("sweep chunks", err)
	}
	for _, c := range firsts {
		id := c.FilesID
		err := files.FindOne(opCtx, bson.D{{Key: "_id", Value: id}}, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
		if err == nil {
			continue // a whole file, kept above
		}
		if !errors.Is(err, mongo.ErrNoDocuments) {
			return removed, s.fail("sweep chunks", err)
		}
		if _, err := chunks.DeleteMany(opCtx, bson.D{{Key: "files_id", Value: id}}); err != nil {
			return removed, s.fail("sweep chunks", err)
		}
		removed++
	}
	return removed, nil
}
