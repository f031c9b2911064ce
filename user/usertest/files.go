package usertest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"corkboard/objectid"
	"corkboard/user"
)

// TestFileStore runs the user.FileStore contract as subtests. newStore must
// return a fresh, empty store for each subtest and arrange for its cleanup.
func TestFileStore(t *testing.T, newStore func(t *testing.T) user.FileStore) {
	tests := []struct {
		name string
		run  func(t *testing.T, s user.FileStore)
	}{
		{"RoundTripPNG", testFileRoundTrip},
		{"Empty", testFileEmpty},
		{"SeekAndReadRanges", testFileSeek},
		{"ServeContentRange", testFileServeContent},
		{"Missing", testFileMissing},
		{"DuplicateID", testFileDuplicate},
		{"DeleteThenOpen", testFileDelete},
		{"BucketsKeepIDsApart", testFileBuckets},
		{"BadBucketOrID", testFileBadKeys},
		{"ReaderFailsHalfway", testFileReaderFails},
		{"CanceledHalfway", testFileCanceled},
		{"Large", testFileLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newStore(t))
		})
	}
}

// picturesBucket is the bucket most of the suite uses.
const picturesBucket = "pictures"

// newFileID returns a fresh file id.
func newFileID() string { return objectid.New(time.Now()) }

// PNG returns the bytes of a w×h PNG of noise from seed: it barely
// compresses, so its size is about 4·w·h bytes.
func PNG(t testing.TB, w, h int, seed uint64) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(seed, seed))
	for y := range h {
		for x := range w {
			v := rng.Uint32()
			img.SetNRGBA(x, y, color.NRGBA{uint8(v), uint8(v >> 8), uint8(v >> 16), 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatalf("png.Encode: %v", err)
	}
	return b.Bytes()
}

// mustPut stores data under (bucket, id) or stops the test.
func mustPut(t *testing.T, s user.FileStore, bucket, id string, data []byte) {
	t.Helper()
	n, err := s.PutFile(context.Background(), bucket, id, bytes.NewReader(data))
	if err != nil || n != int64(len(data)) {
		t.Fatalf("PutFile(%s, %s, %d bytes) = %d, %v; want %d, nil", bucket, id, len(data), n, err, len(data))
	}
}

// readAll opens (bucket, id) and returns its size and bytes, or stops the
// test.
func readAll(t *testing.T, s user.FileStore, bucket, id string) (int64, []byte) {
	t.Helper()
	f, err := s.OpenFile(context.Background(), bucket, id)
	if err != nil {
		t.Fatalf("OpenFile(%s, %s) = %v, want nil", bucket, id, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatalf("reading OpenFile(%s, %s): %v", bucket, id, err)
	}
	return f.Size(), b
}

// wantBytes checks that (bucket, id) holds exactly want.
func wantBytes(t *testing.T, s user.FileStore, bucket, id string, want []byte) {
	t.Helper()
	size, got := readAll(t, s, bucket, id)
	if size != int64(len(want)) {
		t.Errorf("OpenFile(%s, %s).Size() = %d, want %d", bucket, id, size, len(want))
	}
	if !bytes.Equal(got, want) {
		t.Errorf("OpenFile(%s, %s) read %d bytes (sha256 %x), want %d bytes (sha256 %x)",
			bucket, id, len(got), sha256.Sum256(got), len(want), sha256.Sum256(want))
	}
}

// wantMissing checks that opening (bucket, id) fails with fs.ErrNotExist.
func wantMissing(t *testing.T, s user.FileStore, bucket, id string) {
	t.Helper()
	f, err := s.OpenFile(context.Background(), bucket, id)
	if err == nil {
		f.Close()
	}
	wantErr(t, fmt.Sprintf("OpenFile(%s, %s)", bucket, id), err, fs.ErrNotExist)
}

func testFileRoundTrip(t *testing.T, s user.FileStore) {
	// 400×400 of noise is about 640 KB: several GridFS chunks.
	data := PNG(t, 400, 400, 1)
	id := newFileID()
	mustPut(t, s, picturesBucket, id, data)
	wantBytes(t, s, picturesBucket, id, data)

	f, err := s.OpenFile(context.Background(), picturesBucket, id)
	if err != nil {
		t.Fatalf("OpenFile(%s, %s) = %v", picturesBucket, id, err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("png.Decode of the stored file: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 400 || b.Dy() != 400 {
		t.Errorf("stored PNG is %v, want 400×400", b)
	}
}

func testFileEmpty(t *testing.T, s user.FileStore) {
	id := newFileID()
	mustPut(t, s, picturesBucket, id, nil)
	wantBytes(t, s, picturesBucket, id, nil)
}

func testFileSeek(t *testing.T, s user.FileStore) {
	data := PNG(t, 400, 400, 2)
	id := newFileID()
	mustPut(t, s, picturesBucket, id, data)
	f, err := s.OpenFile(context.Background(), picturesBucket, id)
	if err != nil {
		t.Fatalf("OpenFile(%s, %s) = %v", picturesBucket, id, err)
	}
	defer f.Close()

	// What http.ServeContent does to learn the size.
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil || end != int64(len(data)) {
		t.Fatalf("Seek(0, SeekEnd) = %d, %v; want %d, nil", end, err, len(data))
	}
	const chunk = 255 << 10 // a GridFS chunk: ranges across its edge
	size := int64(len(data))
	for _, r := range []struct {
		name   string
		off, n int64
		whence int
		seekTo int64 // the offset passed to Seek
	}{
		{"start", 0, 100, io.SeekStart, 0},
		{"middle", size / 2, 1000, io.SeekStart, size / 2},
		{"across a chunk edge", chunk - 10, 20, io.SeekStart, chunk - 10},
		{"backwards", 10, 50, io.SeekStart, 10},
		{"relative", 10 + 50 + 5, 30, io.SeekCurrent, 5},
		{"end", size - 10, 10, io.SeekEnd, -10},
	} {
		pos, err := f.Seek(r.seekTo, r.whence)
		if err != nil || pos != r.off {
			t.Errorf("%s: Seek(%d, %d) = %d, %v; want %d, nil", r.name, r.seekTo, r.whence, pos, err, r.off)
			continue
		}
		got := make([]byte, r.n)
		if _, err := io.ReadFull(f, got); err != nil {
			t.Errorf("%s: ReadFull of %d bytes at %d: %v", r.name, r.n, r.off, err)
			continue
		}
		if want := data[r.off : r.off+r.n]; !bytes.Equal(got, want) {
			t.Errorf("%s: bytes %d–%d differ from the ones stored", r.name, r.off, r.off+r.n)
		}
	}
	if n, err := f.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("Read at the end = %d, %v; want 0, io.EOF", n, err)
	}
	if _, err := f.Seek(-1, io.SeekStart); err == nil {
		t.Errorf("Seek(-1, SeekStart) = nil error, want an error")
	}
}

// testFileServeContent serves a stored file the way GET /api/files/{id}
// will, with a Range request.
func testFileServeContent(t *testing.T, s user.FileStore) {
	data := PNG(t, 300, 300, 3)
	id := newFileID()
	mustPut(t, s, picturesBucket, id, data)
	f, err := s.OpenFile(context.Background(), picturesBucket, id)
	if err != nil {
		t.Fatalf("OpenFile(%s, %s) = %v", picturesBucket, id, err)
	}
	defer f.Close()
	req := httptest.NewRequest("GET", "/api/files/"+id, nil)
	req.Header.Set("Range", "bytes=1000-1999")
	rec := httptest.NewRecorder()
	http.ServeContent(rec, req, "", time.Time{}, f)
	if rec.Code != http.StatusPartialContent {
		t.Fatalf("ServeContent with Range bytes=1000-1999: status %d, want 206", rec.Code)
	}
	if want := fmt.Sprintf("bytes 1000-1999/%d", len(data)); rec.Header().Get("Content-Range") != want {
		t.Errorf("Content-Range = %q, want %q", rec.Header().Get("Content-Range"), want)
	}
	if !bytes.Equal(rec.Body.Bytes(), data[1000:2000]) {
		t.Errorf("ServeContent with Range bytes=1000-1999 sent %d bytes that differ from the stored ones", rec.Body.Len())
	}
}

func testFileMissing(t *testing.T, s user.FileStore) {
	id := newFileID()
	wantMissing(t, s, picturesBucket, id)
	err := s.DeleteFile(context.Background(), picturesBucket, id)
	wantErr(t, fmt.Sprintf("DeleteFile(%s, %s) of a missing file", picturesBucket, id), err, fs.ErrNotExist)
}

func testFileDuplicate(t *testing.T, s user.FileStore) {
	first, second := PNG(t, 300, 300, 4), PNG(t, 20, 20, 5)
	id := newFileID()
	mustPut(t, s, picturesBucket, id, first)
	n, err := s.PutFile(context.Background(), picturesBucket, id, bytes.NewReader(second))
	wantErr(t, fmt.Sprintf("PutFile(%s, %s) of a taken id", picturesBucket, id), err, fs.ErrExist)
	if err == nil && n != 0 {
		t.Errorf("PutFile of a taken id = %d bytes", n)
	}
	wantBytes(t, s, picturesBucket, id, first)
}

func testFileDelete(t *testing.T, s user.FileStore) {
	data := PNG(t, 50, 50, 6)
	id := newFileID()
	mustPut(t, s, picturesBucket, id, data)
	if err := s.DeleteFile(context.Background(), picturesBucket, id); err != nil {
		t.Fatalf("DeleteFile(%s, %s) = %v, want nil", picturesBucket, id, err)
	}
	wantMissing(t, s, picturesBucket, id)
	err := s.DeleteFile(context.Background(), picturesBucket, id)
	wantErr(t, "a second DeleteFile", err, fs.ErrNotExist)
	// The id is free again.
	mustPut(t, s, picturesBucket, id, data[:10])
	wantBytes(t, s, picturesBucket, id, data[:10])
}

func testFileBuckets(t *testing.T, s user.FileStore) {
	pic, bg := PNG(t, 40, 40, 7), PNG(t, 60, 60, 8)
	id := newFileID()
	mustPut(t, s, picturesBucket, id, pic)
	mustPut(t, s, "backgrounds", id, bg)
	wantBytes(t, s, picturesBucket, id, pic)
	wantBytes(t, s, "backgrounds", id, bg)
	wantMissing(t, s, "attachments", id)
	if err := s.DeleteFile(context.Background(), "backgrounds", id); err != nil {
		t.Fatalf("DeleteFile(backgrounds, %s) = %v", id, err)
	}
	wantMissing(t, s, "backgrounds", id)
	wantBytes(t, s, picturesBucket, id, pic)
}

func testFileBadKeys(t *testing.T, s user.FileStore) {
	good := newFileID()
	ctx := context.Background()
	for _, k := range []struct{ bucket, id string }{
		{"", good},
		{"Pictures", good},
		{"../pictures", good},
		{"pictures/x", good},
		{"pictures.files", good},
		{"1pictures", good},
		{"averyveryveryveryverylongbucketname", good},
		{picturesBucket, ""},
		{picturesBucket, "../../../../etc/passwd00"},
		{picturesBucket, "507F1F77BCF86CD799439011"},
		{picturesBucket, good + "0"},
		{picturesBucket, good[:23]},
		{picturesBucket, ".tmp-" + good},
	} {
		_, err := s.PutFile(ctx, k.bucket, k.id, bytes.NewReader([]byte("x")))
		wantErr(t, fmt.Sprintf("PutFile(%q, %q)", k.bucket, k.id), err, user.ErrInvalidFileKey)
		f, err := s.OpenFile(ctx, k.bucket, k.id)
		if err == nil {
			f.Close()
		}
		wantErr(t, fmt.Sprintf("OpenFile(%q, %q)", k.bucket, k.id), err, user.ErrInvalidFileKey)
		err = s.DeleteFile(ctx, k.bucket, k.id)
		wantErr(t, fmt.Sprintf("DeleteFile(%q, %q)", k.bucket, k.id), err, user.ErrInvalidFileKey)
	}
}

// errReaderBroke is what failingReader fails with.
var errReaderBroke = errors.New("reader broke")

// failingReader reads n bytes of r and then fails, as a client that drops
// the connection mid-upload does.
type failingReader struct {
	r io.Reader
	n int64
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errReaderBroke
	}
	if int64(len(p)) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= int64(n)
	return n, err
}

// FailingReader returns a reader of the first n bytes of r that then fails
// with an error other than io.EOF.
func FailingReader(r io.Reader, n int64) io.Reader { return &failingReader{r, n} }

// cancelingReader reads r and calls cancel once n bytes have been read,
// then goes on reading: the store must notice the cancellation itself.
type cancelingReader struct {
	r      io.Reader
	n      int64
	cancel context.CancelFunc
}

func (c *cancelingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n -= int64(n)
	if c.n <= 0 {
		c.cancel()
	}
	return n, err
}

// CancelingReader returns a reader of r that calls cancel once it has given
// n bytes, and goes on giving bytes.
func CancelingReader(r io.Reader, n int64, cancel context.CancelFunc) io.Reader {
	return &cancelingReader{r, n, cancel}
}

func testFileReaderFails(t *testing.T, s user.FileStore) {
	data := PNG(t, 400, 400, 9)
	id := newFileID()
	_, err := s.PutFile(context.Background(), picturesBucket, id, FailingReader(bytes.NewReader(data), int64(len(data)/2)))
	wantErr(t, "PutFile from a reader that fails half-way", err, errReaderBroke)
	wantMissing(t, s, picturesBucket, id)
	// Nothing left behind stands in the way of the whole upload.
	mustPut(t, s, picturesBucket, id, data)
	wantBytes(t, s, picturesBucket, id, data)
}

func testFileCanceled(t *testing.T, s user.FileStore) {
	data := PNG(t, 400, 400, 10)
	id := newFileID()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := s.PutFile(ctx, picturesBucket, id, CancelingReader(bytes.NewReader(data), int64(len(data)/2), cancel))
	wantErr(t, "PutFile with its context canceled half-way", err, context.Canceled)
	wantMissing(t, s, picturesBucket, id)
	mustPut(t, s, picturesBucket, id, data)
	wantBytes(t, s, picturesBucket, id, data)
}

// RandomBytes returns a reader of n pseudo-random bytes from seed, made as
// they are read: a test that streams it holds none of it.
func RandomBytes(n int64, seed byte) io.Reader {
	return io.LimitReader(rand.NewChaCha8([32]byte{seed}), n)
}

// testFileLarge streams 6 MiB, more than an image may be, from a reader that
// makes the bytes as they are read, and checks them by hash. That the store
// does not read the whole file into memory at once is measured by each
// store's own tests: both copy through a fixed buffer (the file store
// 64 KiB, the MongoDB store one 255 KiB GridFS chunk).
func testFileLarge(t *testing.T, s user.FileStore) {
	const size = 6 << 20
	id := newFileID()
	n, err := s.PutFile(context.Background(), picturesBucket, id, RandomBytes(size, 11))
	if err != nil || n != size {
		t.Fatalf("PutFile of %d streamed bytes = %d, %v; want %d, nil", size, n, err, size)
	}
	want := sha256.New()
	io.Copy(want, RandomBytes(size, 11))
	f, err := s.OpenFile(context.Background(), picturesBucket, id)
	if err != nil {
		t.Fatalf("OpenFile(%s, %s) = %v", picturesBucket, id, err)
	}
	defer f.Close()
	if f.Size() != size {
		t.Errorf("Size() = %d, want %d", f.Size(), size)
	}
	got := sha256.New()
	if n, err := io.Copy(got, f); err != nil || n != size {
		t.Fatalf("reading the stored file = %d bytes, %v; want %d, nil", n, err, size)
	}
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Errorf("the stored 6 MiB differ from the ones put (sha256 %x, want %x)", got.Sum(nil), want.Sum(nil))
	}
}
