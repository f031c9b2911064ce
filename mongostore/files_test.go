package mongostore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"corkboard/mongostore"
	"corkboard/mongostore/mongotest"
	"corkboard/objectid"
	"corkboard/user"
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

// gridChunk is GridFS's chunk size, which PutFile writes.
const gridChunk = 255 << 10

// TestFileLayout checks that what PutFile writes is GridFS as the driver
// writes it, field by field and type by type, so that any GridFS reader
// reads it: the driver's own download stream reads every file back. Sizes
// cover no chunk, a short one, exactly two whole chunks (no empty third) and
// a byte more.
func TestFileLayout(t *testing.T) {
	s := mongotest.Open(t)
	ctx := context.Background()
	for _, size := range []int64{0, 1000, 2 * gridChunk, 2*gridChunk + 1} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			id := objectid.New(time.Now())
			oid, _ := bson.ObjectIDFromHex(id)
			data, _ := io.ReadAll(usertest.RandomBytes(size, byte(size)))
			before := time.Now().Truncate(time.Millisecond)
			if _, err := s.PutFile(ctx, "pictures", id, bytes.NewReader(data)); err != nil {
				t.Fatalf("PutFile of %d bytes = %v", size, err)
			}
			after := time.Now()

			raw, err := s.Database().Collection("pictures.files").FindOne(ctx, bson.D{{Key: "_id", Value: oid}}).Raw()
			if err != nil {
				t.Fatalf("no pictures.files document with _id ObjectID(%s): %v", id, err)
			}
			wantFields(t, "pictures.files document", raw, []string{"_id", "length", "chunkSize", "uploadDate", "filename"})
			if v, ok := raw.Lookup("length").Int64OK(); !ok || v != size {
				t.Errorf("files length = %v, want int64 %d", raw.Lookup("length"), size)
			}
			if v, ok := raw.Lookup("chunkSize").Int32OK(); !ok || v != gridChunk {
				t.Errorf("files chunkSize = %v, want int32 %d", raw.Lookup("chunkSize"), gridChunk)
			}
			if v, ok := raw.Lookup("uploadDate").TimeOK(); !ok || v.Before(before) || v.After(after) {
				t.Errorf("files uploadDate = %v, want a date between %v and %v", raw.Lookup("uploadDate"), before, after)
			}
			if v, ok := raw.Lookup("filename").StringValueOK(); !ok || v != id {
				t.Errorf("files filename = %v, want %q", raw.Lookup("filename"), id)
			}

			cur, err := s.Database().Collection("pictures.chunks").Find(ctx, bson.D{{Key: "files_id", Value: oid}},
				options.Find().SetSort(bson.D{{Key: "n", Value: 1}}))
			if err != nil {
				t.Fatal(err)
			}
			var chunks []bson.Raw
			if err := cur.All(ctx, &chunks); err != nil {
				t.Fatal(err)
			}
			if want := (size + gridChunk - 1) / gridChunk; int64(len(chunks)) != want {
				t.Errorf("pictures.chunks holds %d chunks of the file, want %d", len(chunks), want)
			}
			var joined []byte
			for i, c := range chunks {
				wantFields(t, fmt.Sprintf("chunk %d", i), c, []string{"_id", "files_id", "n", "data"})
				if _, ok := c.Lookup("_id").ObjectIDOK(); !ok {
					t.Errorf("chunk %d _id = %v, want an ObjectID", i, c.Lookup("_id"))
				}
				if v, ok := c.Lookup("files_id").ObjectIDOK(); !ok || v != oid {
					t.Errorf("chunk %d files_id = %v, want ObjectID(%s)", i, c.Lookup("files_id"), id)
				}
				if v, ok := c.Lookup("n").Int32OK(); !ok || int(v) != i {
					t.Errorf("chunk %d n = %v, want int32 %d", i, c.Lookup("n"), i)
				}
				sub, b, ok := c.Lookup("data").BinaryOK()
				if !ok || sub != bson.TypeBinaryGeneric {
					t.Errorf("chunk %d data is %v, want generic binary", i, c.Lookup("data").Type)
				}
				if want := min(gridChunk, int(size)-i*gridChunk); len(b) != want {
					t.Errorf("chunk %d holds %d bytes, want %d", i, len(b), want)
				}
				joined = append(joined, b...)
			}
			if !bytes.Equal(joined, data) {
				t.Errorf("the chunks joined differ from the bytes put")
			}

			// The driver's GridFS reader reads what PutFile wrote.
			var got bytes.Buffer
			if _, err := s.Database().GridFSBucket(options.GridFSBucket().SetName("pictures")).DownloadToStream(ctx, oid, &got); err != nil {
				t.Fatalf("the driver's DownloadToStream of a file PutFile wrote: %v", err)
			}
			if !bytes.Equal(got.Bytes(), data) {
				t.Errorf("the driver's DownloadToStream read %d bytes that differ from the %d put", got.Len(), len(data))
			}
		})
	}

	// GridFS's unique index on chunks {files_id, n}: it serves every
	// chunk read, and it refuses a second upload's chunks under a taken id
	// if two uploads race past PutFile's check.
	specs, err := s.Database().Collection("pictures.chunks").Indexes().ListSpecifications(ctx)
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

// wantFields checks that doc has exactly the fields want, in that order.
func wantFields(t *testing.T, what string, doc bson.Raw, want []string) {
	t.Helper()
	elems, err := doc.Elements()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	var got []string
	for _, e := range elems {
		got = append(got, e.Key())
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s has fields %v, want %v", what, got, want)
	}
}

// TestFileReadsDriverUpload reads files that the driver's own upload
// stream wrote, one with a chunk size of its own: OpenFile goes by the
// chunkSize of the files document, not by the one PutFile uses.
func TestFileReadsDriverUpload(t *testing.T) {
	s := mongotest.Open(t)
	ctx := context.Background()
	b := s.Database().GridFSBucket(options.GridFSBucket().SetName("pictures"))
	for _, cs := range []int32{gridChunk, 1000} {
		t.Run(fmt.Sprint(cs), func(t *testing.T) {
			id := objectid.New(time.Now())
			oid, _ := bson.ObjectIDFromHex(id)
			data, _ := io.ReadAll(usertest.RandomBytes(3*int64(cs)+7, 3))
			if err := b.UploadFromStreamWithID(ctx, oid, id, bytes.NewReader(data), options.GridFSUpload().SetChunkSizeBytes(cs)); err != nil {
				t.Fatalf("the driver's UploadFromStreamWithID: %v", err)
			}
			f, err := s.OpenFile(ctx, "pictures", id)
			if err != nil {
				t.Fatalf("OpenFile of a file the driver wrote = %v", err)
			}
			defer f.Close()
			if f.Size() != int64(len(data)) {
				t.Errorf("Size() = %d, want %d", f.Size(), len(data))
			}
			for _, off := range []int64{int64(cs) * 2, 5, int64(cs) - 3, 0} {
				got := make([]byte, 10)
				f.Seek(off, io.SeekStart)
				if _, err := io.ReadFull(f, got); err != nil || !bytes.Equal(got, data[off:off+10]) {
					t.Errorf("10 bytes at %d = %x, %v; want %x", off, got, err, data[off:off+10])
				}
			}
			f.Seek(0, io.SeekStart)
			if all, err := io.ReadAll(f); err != nil || !bytes.Equal(all, data) {
				t.Errorf("reading it whole = %d bytes, %v; want the %d bytes the driver wrote", len(all), err, len(data))
			}
		})
	}
}

// heapSampler reads r and, after every Read, collects garbage and records
// the live heap: the most PutFile held while it read.
type heapSampler struct {
	r    io.Reader
	peak uint64
}

func (h *heapSampler) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	h.peak = max(h.peak, m.HeapAlloc)
	return n, err
}

// liveHeap collects garbage and returns the live heap.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC() // a second time empties the sync.Pools' victim caches
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestPutFileMemory bounds what an upload holds. The driver's upload
// stream allocated 16 MiB as it opened, whatever the file's size; PutFile
// holds one chunk. Measured: what a 1 KiB upload allocates in all (the
// least of three), the most an 8 MiB upload holds at once while it reads,
// and what 20 uploads stalled after their first KiB hold together.
func TestPutFileMemory(t *testing.T) {
	s := mongotest.Open(t)
	ctx := context.Background()
	put := func(t *testing.T, r io.Reader) {
		t.Helper()
		if _, err := s.PutFile(ctx, "attachments", objectid.New(time.Now()), r); err != nil {
			t.Fatalf("PutFile = %v", err)
		}
	}
	put(t, bytes.NewReader(make([]byte, 1<<10))) // the connections and the indexes

	t.Run("1KiB", func(t *testing.T) {
		least := uint64(math.MaxUint64)
		for range 3 {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			put(t, bytes.NewReader(make([]byte, 1<<10)))
			runtime.ReadMemStats(&after)
			least = min(least, after.TotalAlloc-before.TotalAlloc)
		}
		t.Logf("a PutFile of 1 KiB allocates %d KiB", least>>10)
		if least > 2<<20 {
			t.Errorf("a PutFile of 1 KiB allocates %d KiB, want under 2 MiB", least>>10)
		}
	})

	t.Run("8MiB", func(t *testing.T) {
		base := liveHeap()
		h := &heapSampler{r: usertest.RandomBytes(8<<20, 4)}
		put(t, h)
		held := int64(h.peak) - int64(base)
		t.Logf("a PutFile of 8 MiB holds at most %d KiB while it reads", held>>10)
		if held > 2<<20 {
			t.Errorf("a PutFile of 8 MiB holds %d KiB at once while it reads, want under 2 MiB", held>>10)
		}
	})

	t.Run("20Stalled", func(t *testing.T) {
		const uploads = 20
		base := liveHeap()
		release := make(chan struct{})
		var started, done sync.WaitGroup
		started.Add(uploads)
		errs := make(chan error, uploads)
		for range uploads {
			done.Add(1)
			go func() {
				defer done.Done()
				r := io.MultiReader(bytes.NewReader(make([]byte, 1<<10)), &stallReader{started: started.Done, release: release})
				_, err := s.PutFile(ctx, "attachments", objectid.New(time.Now()), r)
				errs <- err
			}()
		}
		started.Wait()
		held := int64(liveHeap()) - int64(base)
		close(release)
		done.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("PutFile of a stalled upload = %v", err)
			}
		}
		t.Logf("%d stalled uploads hold %d KiB", uploads, held>>10)
		if held > uploads*(512<<10) {
			t.Errorf("%d uploads stalled after 1 KiB hold %d KiB, want under 512 KiB each", uploads, held>>10)
		}
	})
}

// stallReader is a client that sent part of its upload and waits: its
// first Read says so, and blocks until release is closed; then it ends.
type stallReader struct {
	started func()
	release chan struct{}
}

func (s *stallReader) Read([]byte) (int, error) {
	if s.started != nil {
		s.started()
		s.started = nil
	}
	<-s.release
	return 0, io.EOF
}

// TestFailedUploadLeavesNoChunks interrupts uploads after several chunks
// are on the server: they must be deleted, and only they. The races put a
// chunk or a files document of "another upload" of the same id in the
// way, as one that passed PutFile's check at the same moment would: PutFile
// fails with fs.ErrExist and deletes its own chunks, not the other's.
func TestFailedUploadLeavesNoChunks(t *testing.T) {
	const written = 4*gridChunk + 100
	for _, tc := range []struct {
		name string
		// reader makes the upload's source; it may put the other
		// upload's documents in the way.
		reader func(t *testing.T, s *mongostore.Store, oid bson.ObjectID, cancel context.CancelFunc) io.Reader
		want   error
		// others is how many chunks and files documents of the id the
		// other upload leaves.
		otherChunks, otherFiles int64
	}{
		{"ReaderFails", func(_ *testing.T, _ *mongostore.Store, _ bson.ObjectID, _ context.CancelFunc) io.Reader {
			return usertest.FailingReader(usertest.RandomBytes(written+1<<20, 1), written)
		}, nil, 0, 0},
		{"Canceled", func(_ *testing.T, _ *mongostore.Store, _ bson.ObjectID, cancel context.CancelFunc) io.Reader {
			return usertest.CancelingReader(usertest.RandomBytes(written+1<<20, 2), written, cancel)
		}, context.Canceled, 0, 0},
		{"RaceOnChunk", func(t *testing.T, s *mongostore.Store, oid bson.ObjectID, _ context.CancelFunc) io.Reader {
			insert(t, s, "attachments.chunks", bson.D{{Key: "files_id", Value: oid}, {Key: "n", Value: int32(3)},
				{Key: "data", Value: bson.Binary{Data: []byte("the other upload's")}}})
			return usertest.RandomBytes(written, 3)
		}, fs.ErrExist, 1, 0},
		{"RaceOnFilesDocument", func(t *testing.T, s *mongostore.Store, oid bson.ObjectID, _ context.CancelFunc) io.Reader {
			return io.MultiReader(usertest.RandomBytes(written, 4), readerFunc(func([]byte) (int, error) {
				insert(t, s, "attachments.files", bson.D{{Key: "_id", Value: oid}, {Key: "length", Value: int64(0)},
					{Key: "chunkSize", Value: int32(gridChunk)}, {Key: "uploadDate", Value: bson.NewDateTimeFromTime(time.Now())},
					{Key: "filename", Value: oid.Hex()}})
				return 0, io.EOF
			}))
		}, fs.ErrExist, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mongotest.Open(t)
			id := objectid.New(time.Now())
			oid, _ := bson.ObjectIDFromHex(id)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, err := s.PutFile(ctx, "attachments", id, tc.reader(t, s, oid, cancel))
			if err == nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("PutFile interrupted after %d bytes = %v, want an error (%v)", written, err, tc.want)
			}
			if n := countDocs(t, s, "attachments.chunks", bson.D{}); n != tc.otherChunks {
				t.Errorf("attachments.chunks holds %d chunks after the failed upload, want %d", n, tc.otherChunks)
			}
			if n := countDocs(t, s, "attachments.files", bson.D{}); n != tc.otherFiles {
				t.Errorf("attachments.files holds %d documents after the failed upload, want %d", n, tc.otherFiles)
			}
			if tc.otherFiles == 0 {
				if _, err := s.OpenFile(context.Background(), "attachments", id); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("OpenFile after the failed upload = %v, want fs.ErrNotExist", err)
				}
			}
		})
	}
}

// insert inserts doc into coll, or stops the test.
func insert(t *testing.T, s *mongostore.Store, coll string, doc bson.D) {
	t.Helper()
	if _, err := s.Database().Collection(coll).InsertOne(context.Background(), doc); err != nil {
		t.Fatalf("inserting into %s: %v", coll, err)
	}
}

// readerFunc is a function as an io.Reader.
type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// fileCommandLog records the commands a Store sends, as "name collection".
type fileCommandLog struct {
	mu   sync.Mutex
	seen []string
}

func (l *fileCommandLog) started(_ context.Context, e *event.CommandStartedEvent) {
	coll, _ := e.Command.Lookup(e.CommandName).StringValueOK()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen = append(l.seen, e.CommandName+" "+coll)
}

// take returns the commands recorded since the last take.
func (l *fileCommandLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	seen := l.seen
	l.seen = nil
	return seen
}

// openLogged opens a Store on a fresh database, as mongotest.Open does, that
// records the commands it sends.
func openLogged(t *testing.T) (*mongostore.Store, *fileCommandLog) {
	t.Helper()
	uri := mongotest.URI(t)
	log := new(fileCommandLog)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	s, err := mongostore.Open(ctx, uri, mongotest.NewDatabaseName(t), mongostore.Options{
		NoTTLIndex: true, Monitor: &event.CommandMonitor{Started: log.started},
	})
	if err != nil {
		t.Fatalf("mongostore.Open = %v", err)
	}
	t.Cleanup(func() {
		s.Database().Drop(context.Background())
		s.Close()
	})
	return s, log
}

// TestFileSeekCost checks that a read costs one query per chunk it reads,
// whatever the seeks before it: seeking back and forth inside one chunk
// costs nothing more, and a Range request of many overlapping ranges
// (http.ServeContent seeks back for each) reads each chunk once. Reopening
// the driver's download stream to seek re-read the whole file before the
// offset, for every range.
func TestFileSeekCost(t *testing.T) {
	s, log := openLogged(t)
	ctx := context.Background()
	const size = 4*gridChunk + 1000 // 5 chunks
	data, _ := io.ReadAll(usertest.RandomBytes(size, 5))
	id := objectid.New(time.Now())
	if _, err := s.PutFile(ctx, "pictures", id, bytes.NewReader(data)); err != nil {
		t.Fatalf("PutFile = %v", err)
	}
	open := func() user.File {
		f, err := s.OpenFile(ctx, "pictures", id)
		if err != nil {
			t.Fatalf("OpenFile = %v", err)
		}
		t.Cleanup(func() { f.Close() })
		log.take()
		return f
	}
	readAt := func(f user.File, off int64) {
		t.Helper()
		got := make([]byte, 10)
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			t.Fatalf("Seek(%d) = %v", off, err)
		}
		if _, err := io.ReadFull(f, got); err != nil || !bytes.Equal(got, data[off:off+10]) {
			t.Fatalf("10 bytes at %d = %x, %v; want %x", off, got, err, data[off:off+10])
		}
	}
	finds := func(n int) []string { return slices.Repeat([]string{"find pictures.chunks"}, n) }

	f := open()
	for i := range int64(100) { // backwards inside the last chunk
		readAt(f, size-20-i)
	}
	if got := log.take(); !slices.Equal(got, finds(1)) {
		t.Errorf("100 reads, each before the last, inside one chunk sent %d commands %q, want one find", len(got), got)
	}
	for i := range int64(50) { // back and forth between chunks 3 and 0
		readAt(f, 3*gridChunk+i)
		readAt(f, i)
	}
	if got := log.take(); !slices.Equal(got, finds(100)) {
		t.Errorf("100 reads alternating between two chunks sent %d commands, want 100 finds; the first ones: %q", len(got), got[:min(len(got), 5)])
	}
	readAt(f, 2*gridChunk-5) // across a chunk's end: two chunks
	if got := log.take(); !slices.Equal(got, finds(2)) {
		t.Errorf("a read across a chunk's end sent %q, want two finds", got)
	}

	// 100 overlapping ranges of the last chunk, each starting before the
	// last, through http.ServeContent.
	f = open()
	var ranges []string
	for i := range 100 {
		ranges = append(ranges, fmt.Sprintf("%d-%d", size-200-i, size-101-i))
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Range", "bytes="+strings.Join(ranges, ","))
	rec := httptest.NewRecorder()
	rec.Header().Set("Content-Type", "application/octet-stream") // no sniffing of the first bytes
	http.ServeContent(rec, req, "", time.Time{}, f)
	if rec.Code != http.StatusPartialContent {
		t.Fatalf("ServeContent of 100 ranges: status %d, want 206", rec.Code)
	}
	if got := log.take(); !slices.Equal(got, finds(1)) {
		t.Errorf("ServeContent of 100 ranges inside one chunk sent %d commands %q, want one find", len(got), got[:min(len(got), 5)])
	}
}

// TestCorruptFile damages stored files and reads them: a chunk of the wrong
// size, a missing chunk or a files document that cannot be right is an
// error wrapping mongostore.ErrCorruptFile, never bytes served short or
// padded; the undamaged chunks still read. A file deleted while open is
// fs.ErrNotExist.
func TestCorruptFile(t *testing.T) {
	s := mongotest.Open(t)
	ctx := context.Background()
	const size = 2*gridChunk + 1000 // 3 chunks
	data, _ := io.ReadAll(usertest.RandomBytes(size, 6))
	chunks := s.Database().Collection("pictures.chunks")
	files := s.Database().Collection("pictures.files")
	setChunk := func(n int32, v any) func(oid bson.ObjectID) error {
		return func(oid bson.ObjectID) error {
			_, err := chunks.UpdateOne(ctx, bson.D{{Key: "files_id", Value: oid}, {Key: "n", Value: n}},
				bson.D{{Key: "$set", Value: bson.D{{Key: "data", Value: v}}}})
			return err
		}
	}
	// setFile sets fields of the files document, given as name, value, …
	setFile := func(fieldValues ...any) func(oid bson.ObjectID) error {
		var set bson.D
		for i := 0; i < len(fieldValues); i += 2 {
			set = append(set, bson.E{Key: fieldValues[i].(string), Value: fieldValues[i+1]})
		}
		return func(oid bson.ObjectID) error {
			_, err := files.UpdateOne(ctx, bson.D{{Key: "_id", Value: oid}}, bson.D{{Key: "$set", Value: set}})
			return err
		}
	}
	bin := func(n int) bson.Binary { return bson.Binary{Data: make([]byte, n)} }
	for _, tc := range []struct {
		name     string
		damage   func(oid bson.ObjectID) error
		openErr  error // OpenFile's error, or nil
		readAt   int64 // where reading fails
		want     error
		goodAt   int64 // an offset that still reads, or -1
		deleteIt bool
	}{
		{"ShortChunk", setChunk(1, bin(100)), nil, gridChunk + 5, mongostore.ErrCorruptFile, 5, false},
		{"LongChunk", setChunk(1, bin(gridChunk+1)), nil, gridChunk, mongostore.ErrCorruptFile, 2 * gridChunk, false},
		{"LongLastChunk", setChunk(2, bin(1001)), nil, size - 1, mongostore.ErrCorruptFile, 0, false},
		{"ShortLastChunk", setChunk(2, bin(999)), nil, 2 * gridChunk, mongostore.ErrCorruptFile, 0, false},
		{"DataNotBinary", setChunk(0, "text"), nil, 0, mongostore.ErrCorruptFile, gridChunk, false},
		{"MissingChunk", func(oid bson.ObjectID) error {
			_, err := chunks.DeleteOne(ctx, bson.D{{Key: "files_id", Value: oid}, {Key: "n", Value: int32(1)}})
			return err
		}, nil, gridChunk, mongostore.ErrCorruptFile, 0, false},
		{"ChunkSizeDisagrees", setFile("chunkSize", int32(1000)), nil, 0, mongostore.ErrCorruptFile, -1, false},
		{"LengthDisagrees", setFile("length", int64(size+1)), nil, size, mongostore.ErrCorruptFile, 0, false},
		{"ZeroChunkSize", setFile("chunkSize", int32(0)), mongostore.ErrCorruptFile, 0, nil, -1, false},
		{"NegativeLength", setFile("length", int64(-1)), mongostore.ErrCorruptFile, 0, nil, -1, false},
		// 2^40 bytes in chunks of one byte: more chunks than n, an
		// int32, can number.
		{"TooManyChunks", setFile("length", int64(1)<<40, "chunkSize", int32(1)), mongostore.ErrCorruptFile, 0, nil, -1, false},
		{"DeletedWhileOpen", nil, nil, gridChunk, fs.ErrNotExist, -1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := objectid.New(time.Now())
			oid, _ := bson.ObjectIDFromHex(id)
			if _, err := s.PutFile(ctx, "pictures", id, bytes.NewReader(data)); err != nil {
				t.Fatalf("PutFile = %v", err)
			}
			if tc.damage != nil {
				if err := tc.damage(oid); err != nil {
					t.Fatalf("damaging the file: %v", err)
				}
			}
			f, err := s.OpenFile(ctx, "pictures", id)
			if tc.openErr != nil {
				if err == nil {
					f.Close()
				}
				if !errors.Is(err, tc.openErr) {
					t.Fatalf("OpenFile = %v, want %v", err, tc.openErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("OpenFile = %v", err)
			}
			defer f.Close()
			if tc.deleteIt {
				if err := s.DeleteFile(ctx, "pictures", id); err != nil {
					t.Fatalf("DeleteFile = %v", err)
				}
			}
			f.Seek(tc.readAt, io.SeekStart)
			got, err := io.ReadAll(f)
			if !errors.Is(err, tc.want) {
				t.Errorf("reading from %d = %d bytes, %v; want %v", tc.readAt, len(got), err, tc.want)
			}
			if tc.goodAt >= 0 {
				f.Seek(tc.goodAt, io.SeekStart)
				b := make([]byte, 10)
				if _, err := io.ReadFull(f, b); err != nil || !bytes.Equal(b, data[tc.goodAt:tc.goodAt+10]) {
					t.Errorf("an undamaged chunk: 10 bytes at %d = %x, %v; want %x", tc.goodAt, b, err, data[tc.goodAt:tc.goodAt+10])
				}
			}
		})
	}
}
