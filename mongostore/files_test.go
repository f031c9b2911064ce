package mongostore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"corkboard/mongostore"
	"corkboard/mongostore/mongotest"
	"corkboard/objectid"
	"corkboard/user/usertest"
)

// countDocs counts the documents of collection coll, or stops the test.
func countDocs(t *testing.T, s *mongostore.Store, coll string, filter bson.D) int64 {
	t.Helper()
	n, err := s.Database().Collection(coll).CountDocuments(context.Background(), filter)
	if err != nil {
		t.Fatalf("counting %s: %v", coll, err)
	}
	return n
}

// TestFileLayout checks what GridFS holds for a stored file: a files
// document whose _id is the id as an ObjectID, and its chunks.
func TestFileLayout(t *testing.T) {
	s := mongotest.Open(t)
	id := objectid.New(time.Now())
	data := usertest.PNG(t, 400, 400, 1)
	if _, err := s.PutFile(context.Background(), "pictures", id, bytes.NewReader(data)); err != nil {
		t.Fatalf("PutFile = %v", err)
	}
	oid, _ := bson.ObjectIDFromHex(id)
	var doc struct {
		ID     any   `bson:"_id"`
		Length int64 `bson:"length"`
	}
	if err := s.Database().Collection("pictures.files").FindOne(context.Background(), bson.D{{Key: "_id", Value: oid}}).Decode(&doc); err != nil {
		t.Fatalf("no pictures.files document with _id ObjectID(%s): %v", id, err)
	}
	if doc.Length != int64(len(data)) {
		t.Errorf("pictures.files length = %d, want %d", doc.Length, len(data))
	}
	const chunk = 255 << 10
	want := int64((len(data) + chunk - 1) / chunk)
	if n := countDocs(t, s, "pictures.chunks", bson.D{{Key: "files_id", Value: oid}}); n != want {
		t.Errorf("pictures.chunks holds %d chunks of the file, want %d", n, want)
	}
	// The driver creates GridFS's unique index on chunks {files_id, n} at
	// the first upload (FerretDB 1.24 too): it is what refuses a second
	// upload's chunks under a taken id if two uploads race past PutFile's
	// check.
	specs, err := s.Database().Collection("pictures.chunks").Indexes().ListSpecifications(context.Background())
	if err != nil {
		t.Fatalf("listing the indexes of pictures.chunks: %v", err)
	}
	unique := false
	for _, sp := range specs {
		var keys bson.D
		if err := bson.Unmarshal(sp.KeysDocument, &keys); err != nil {
			t.Fatal(err)
		}
		if len(keys) == 2 && keys[0].Key == "files_id" && keys[1].Key == "n" && sp.Unique != nil && *sp.Unique {
			unique = true
		}
	}
	if !unique {
		t.Errorf("pictures.chunks has no unique index on {files_id, n}; its indexes: %+v", specs)
	}
}

// TestFailedUploadLeavesNoChunks interrupts uploads after more than the
// 16 MiB that the driver's upload stream buffers, so chunks are already on
// the server when the upload fails: they must be deleted.
func TestFailedUploadLeavesNoChunks(t *testing.T) {
	const written = 17 << 20
	for _, tc := range []struct {
		name   string
		reader func(cancel context.CancelFunc) io.Reader
		want   error
	}{
		{"ReaderFails", func(context.CancelFunc) io.Reader {
			return usertest.FailingReader(usertest.RandomBytes(written+1<<20, 1), written)
		}, nil},
		{"Canceled", func(cancel context.CancelFunc) io.Reader {
			return usertest.CancelingReader(usertest.RandomBytes(written+1<<20, 2), written, cancel)
		}, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mongotest.Open(t)
			id := objectid.New(time.Now())
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, err := s.PutFile(ctx, "attachments", id, tc.reader(cancel))
			if err == nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("PutFile interrupted after %d bytes = %v, want an error (%v)", written, err, tc.want)
			}
			if n := countDocs(t, s, "attachments.chunks", bson.D{}); n != 0 {
				t.Errorf("attachments.chunks holds %d chunks after the failed upload, want 0", n)
			}
			if n := countDocs(t, s, "attachments.files", bson.D{}); n != 0 {
				t.Errorf("attachments.files holds %d documents after the failed upload, want 0", n)
			}
			if _, err := s.OpenFile(context.Background(), "attachments", id); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("OpenFile after the failed upload = %v, want fs.ErrNotExist", err)
			}
		})
	}
}
