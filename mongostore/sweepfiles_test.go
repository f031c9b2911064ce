package mongostore_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"corkboard/mongostore/mongotest"
	"corkboard/objectid"
	"corkboard/user"
)

// TestSweepOrphanFiles: the sweep removes, from the bucket named, the whole
// files no record points at and the chunks of uploads that never finished,
// when they are older than the bound, and nothing else.
func TestSweepOrphanFiles(t *testing.T) {
	s := mongotest.Open(t)
	ctx := context.Background()
	put := func(bucket string) string {
		t.Helper()
		id := objectid.New(time.Now())
		if _, err := s.PutFile(ctx, bucket, id, bytes.NewReader([]byte("bytes of "+bucket))); err != nil {
			t.Fatalf("PutFile(%s) = %v", bucket, err)
		}
		return id
	}
	kept, orphan, other := put("pictures"), put("pictures"), put("backgrounds")
	// Chunks of two uploads a crash stopped: one begun two hours ago, one
	// just now (it may still be running on another instance).
	chunks := s.Database().Collection("pictures.chunks")
	stale := bson.NewObjectIDFromTimestamp(time.Now().Add(-2 * time.Hour))
	young := bson.NewObjectID()
	for _, id := range []bson.ObjectID{stale, young} {
		if _, err := chunks.InsertOne(ctx, bson.D{{Key: "files_id", Value: id}, {Key: "n", Value: 0}, {Key: "data", Value: []byte("partial")}}); err != nil {
			t.Fatal(err)
		}
	}
	keep := func(id string) bool { return id == kept }

	// The running server's bound: every file is younger than an hour, and
	// only the stale chunks go.
	if n, err := s.SweepOrphanFiles(ctx, "pictures", keep, time.Now().Add(-time.Hour)); n != 1 || err != nil {
		t.Errorf("SweepOrphanFiles(an hour ago) = %d, %v; want 1 (the stale chunks), nil", n, err)
	}
	for _, c := range []struct {
		id   bson.ObjectID
		want int64
	}{{stale, 0}, {young, 1}} {
		if n, err := chunks.CountDocuments(ctx, bson.D{{Key: "files_id", Value: c.id}}); n != c.want || err != nil {
			t.Errorf("chunks of upload %s after the sweep: %d, %v; want %d", c.id.Hex(), n, err, c.want)
		}
	}
	// A bound of now takes the orphan file and the young chunks too.
	if n, err := s.SweepOrphanFiles(ctx, "pictures", keep, time.Now().Add(time.Second)); n != 2 || err != nil {
		t.Errorf("SweepOrphanFiles(now) = %d, %v; want 2, nil", n, err)
	}
	if _, err := s.OpenFile(ctx, "pictures", orphan); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenFile(the orphan) after the sweep = %v, want fs.ErrNotExist", err)
	}
	for _, f := range []struct{ bucket, id string }{{"pictures", kept}, {"backgrounds", other}} {
		fl, err := s.OpenFile(ctx, f.bucket, f.id)
		if err != nil {
			t.Errorf("OpenFile(%s/%s), which the sweep must keep = %v", f.bucket, f.id, err)
			continue
		}
		fl.Close()
	}
	if _, err := s.SweepOrphanFiles(ctx, "../x", keep, time.Now()); !errors.Is(err, user.ErrInvalidFileKey) {
		t.Errorf("SweepOrphanFiles(\"../x\") = %v, want ErrInvalidFileKey", err)
	}
}
