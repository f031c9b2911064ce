package web

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

// fuzzRules are small upload rules, so that the fuzzer reaches the size
// cap with inputs of a few kilobytes.
var fuzzRules = UploadRules{MaxBytes: 1024, Types: ImageTypes, What: "image"}

// gif is the smallest GIF, 35 bytes.
const gif = "GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"

// FuzzUploadForm reads arbitrary multipart bodies, with an arbitrary
// boundary parameter, the way the upload handlers do: OpenForm, then each
// part through Next, the "file" part through File under fuzzRules and read
// to its end, any other through Field. It never panics; every refusal is a
// 4xx *Problem; a file read to its end without error is at most
// fuzzRules.MaxBytes, and its bytes, sniffed again, are of an accepted
// type: a file that is not an image never gets through as one.
func FuzzUploadForm(f *testing.F) {
	part := func(b, headers, body string) string {
		return "--" + b + "\r\n" + headers + "\r\n\r\n" + body + "\r\n"
	}
	file := `Content-Disposition: form-data; name="file"; filename="a.gif"` + "\r\nContent-Type: image/gif"
	for _, s := range []struct{ boundary, body string }{
		{"x", part("x", file, gif) + "--x--\r\n"},
		{"x", part("x", `Content-Disposition: form-data; name="note"`, "hello") + part("x", file, gif) + "--x--\r\n"},
		{"x", part("x", file, "<svg onload=alert(1)>") + "--x--\r\n"},
		{"x", part("x", file, "%PDF-1.4\n") + "--x--\r\n"},
		{"x", part("x", file, gif+string(make([]byte, 2000))) + "--x--\r\n"}, // over the cap
		{"x", part("x", file, gif[:20])},                                     // cut short
		{"x", part("x", `Content-Disposition: form-data; filename="a.gif"`, gif) + "--x--\r\n"},
		{"x", part("x", file, "") + "--x--\r\n"},
		{"x", "--x--\r\n"},
		{"", ""},
		{`"quoted; boundary"`, part("quoted; boundary", file, gif) + "--quoted; boundary--\r\n"},
		{"x", part("x", file, "GIF89a"+"<html><script>alert(1)</script>") + "--x--\r\n"}, // a polyglot: its bytes say GIF
		{"x", part("x", file, "\x89PNG\r\n\x1a\n") + "--x--\r\n"},
		{"x", part("x", `Content-Disposition: form-data; name="note"`, string(bytes.Repeat([]byte("n"), 5000))) + "--x--\r\n"},
		{"x", part("x", `Content-Disposition: form-data; name="note"`, "\xff\xfe") + "--x--\r\n"},
	} {
		f.Add(s.boundary, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, boundary string, body []byte) {
		r := httptest.NewRequest("PUT", "/upload", bytes.NewReader(body))
		r.Header.Set("Content-Type", "multipart/form-data; boundary="+boundary)
		r.ContentLength = int64(len(body))
		w := httptest.NewRecorder()
		err := readUploadForm(w, r, func(u *Upload) {
			got, rerr := io.ReadAll(u)
			if rerr != nil {
				if u.Err() == nil {
					t.Fatalf("reading the file failed with %v, but Err() is nil", rerr)
				}
				checkProblem(t, u.Err())
				return
			}
			if int64(len(got)) > fuzzRules.MaxBytes {
				t.Fatalf("a file of %d bytes got through a cap of %d", len(got), fuzzRules.MaxBytes)
			}
			if typ := DetectType(got[:min(len(got), sniffLen)]); typ != u.Type || !slices.Contains(fuzzRules.Types, typ) {
				t.Fatalf("a file whose bytes say %s got through as %s: %.100q", typ, u.Type, got)
			}
		})
		if err != nil {
			checkProblem(t, err)
		}
	})
}

// readUploadForm reads r's multipart body as the upload handlers do,
// passing each accepted file to use.
func readUploadForm(w http.ResponseWriter, r *http.Request, use func(*Upload)) error {
	form, err := OpenForm(w, r, fuzzRules.MaxBytes)
	if err != nil {
		return err
	}
	for {
		p, err := form.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if p.FormName() != "file" {
			if _, err := form.Field(p); err != nil {
				return err
			}
			continue
		}
		u, err := form.File(p, fuzzRules)
		if err != nil {
			return err
		}
		if u != nil {
			use(u)
			if err := u.Err(); err != nil {
				return err
			}
		}
	}
}

// checkProblem fails t unless err is a 4xx *Problem.
func checkProblem(t *testing.T, err error) {
	t.Helper()
	var p *Problem
	if !errors.As(err, &p) || p.Status < 400 || p.Status > 499 {
		t.Fatalf("error %v (%T) is not a 4xx problem", err, err)
	}
	if p.Code == "" {
		t.Fatalf("problem %d %q has no code", p.Status, p.Detail)
	}
}
