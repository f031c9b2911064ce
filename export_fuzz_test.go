package main

import (
	"bytes"
	"context"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"corkboard/filestore"
)

// fuzzStore opens a file store in a fresh directory of t's, without fsync:
// fuzzing opens thousands, and none has to survive a crash.
func fuzzStore(t *testing.T) (store, string) {
	t.Helper()
	dir := t.TempDir()
	st, err := filestore.Open(dir, filestore.Options{NoSync: true})
	if err != nil {
		t.Fatalf("filestore.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st, dir
}

// filesUnder lists the regular files under dir/files, temporary ones too.
func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Join(dir, "files"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			out = append(out, path)
		}
		if os.IsNotExist(err) {
			return nil
		}
		return err
	})
	if err != nil {
		t.Fatalf("listing the stored files: %v", err)
	}
	return out
}

// FuzzImport imports arbitrary bytes, as a JSON-lines export (versions 1
// and 2) or a tar archive (versions 3 and 4), into an empty file store.
// The reader never panics; an import it refuses leaves the store empty,
// without a record or a stored file; and whatever it imports exports
// again, and that export imports into another empty store and exports
// byte for byte the same.
//
// The seeds are the exports under testdata/ and, in the corpus directory
// testdata/fuzz/FuzzImport, an export of version 4 with users, a picture,
// a board with attachments and a background, and notifications, and the
// same with a byte of its last file changed, which is refused after the
// other files were stored.
func FuzzImport(f *testing.F) {
	for _, name := range []string{"export-v1.jsonl", "export-v2.jsonl", "export-v3.tar"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"kind":"header","version":2}` + "\n" + `{"kind":"end","counts":{"user":0,"session":0,"token":0,"board":0,"notification":0}}` + "\n"))
	f.Add([]byte(`{"kind":"header","version":1}` + "\n"))
	f.Add([]byte(`{"kind":"header","version":4}` + "\n" + `{"kind":"end","counts":{}}` + "\n"))
	f.Add([]byte{})
	ctx := context.Background()

	f.Fuzz(func(t *testing.T, data []byte) {
		st, dir := fuzzStore(t)
		if _, err := importStore(ctx, st, bytes.NewReader(data), discardLog); err != nil {
			if empty, eerr := isEmpty(ctx, st); eerr != nil || !empty {
				t.Fatalf("a refused import (%v) left records in the store (%v)", err, eerr)
			}
			if files := filesUnder(t, dir); len(files) > 0 {
				t.Fatalf("a refused import (%v) left files: %q", err, files)
			}
			return
		}
		var first bytes.Buffer
		if _, err := exportStore(ctx, st, &first, discardLog); err != nil {
			t.Fatalf("exporting what was imported: %v", err)
		}
		again, _ := fuzzStore(t)
		if _, err := importStore(ctx, again, bytes.NewReader(first.Bytes()), discardLog); err != nil {
			t.Fatalf("importing the export of what was imported: %v", err)
		}
		var second bytes.Buffer
		if _, err := exportStore(ctx, again, &second, discardLog); err != nil {
			t.Fatalf("exporting the second import: %v", err)
		}
		// A store lists its records in an order of its own: compare the
		// record lines sorted, and the file entries by name.
		a, b := archiveContents(t, first.Bytes()), archiveContents(t, second.Bytes())
		if !maps.Equal(a, b) {
			for name := range a {
				if a[name] != b[name] {
					t.Fatalf("export, import and export again: entry %s differs:\n%.2000q\n%.2000q", name, a[name], b[name])
				}
			}
			t.Fatalf("export, import and export again: the second export has other entries (%d, want %d)", len(b), len(a))
		}
	})
}

// archiveContents returns the entries of an export archive by name, the
// records entry with its lines sorted.
func archiveContents(t *testing.T, archive []byte) map[string]string {
	t.Helper()
	out := make(map[string]string)
	for _, e := range readArchive(t, archive) {
		out[e.hdr.Name] = string(e.data)
		if e.hdr.Name == recordsEntry {
			out[e.hdr.Name] = strings.Join(sortedLines(string(e.data)), "\n")
		}
	}
	return out
}

// TestWriteImportSeed writes the version 4 seed of FuzzImport when
// CORKBOARD_WRITE_FUZZ_SEEDS is set: run it again when the export format
// changes.
func TestWriteImportSeed(t *testing.T) {
	if os.Getenv("CORKBOARD_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set CORKBOARD_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz/FuzzImport/export-v4")
	}
	st, _ := fuzzStore(t)
	putBoardData(t, st)
	archive := exportArchive(t, st)
	writeSeed(t, "FuzzImport", "export-v4", archive)
	// The same with one byte of the last file changed: its hash no
	// longer matches, after the other files are stored.
	entries := readArchive(t, archive)
	last := &entries[len(entries)-1]
	last.data = bytes.Clone(last.data)
	last.data[len(last.data)/2] ^= 1
	writeSeed(t, "FuzzImport", "export-v4-last-file-changed", makeArchive(t, entries...))
}

// writeSeed writes data as the corpus file name of the fuzz target target,
// in the format go test reads.
func writeSeed(t *testing.T, target, name string, data []byte) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	content := []byte("go test fuzz v1\n[]byte(" + strconv.Quote(string(data)) + ")\n")
	if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
		t.Fatal(err)
	}
}
