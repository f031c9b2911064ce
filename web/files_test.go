package web

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// countingFile is a stored file that counts the bytes read from it.
type countingFile struct {
	*bytes.Reader
	read int
}

func (c *countingFile) Read(p []byte) (int, error) {
	n, err := c.Reader.Read(p)
	c.read += n
	return n, err
}

// TestServeFileRanges checks that one range is answered with 206 and that a
// Range of several ranges is ignored: the whole file, 200, read once
// (besides the sniffed start), however many ranges were asked for.
func TestServeFileRanges(t *testing.T) {
	data := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte("0123456789"), 10_000)...)
	size := len(data)
	var hundred []string
	for i := range 100 {
		hundred = append(hundred, fmt.Sprintf("%d-%d", 100-i, 200-i))
	}
	for _, tc := range []struct {
		name   string
		ranges []string // the Range header lines
		status int
		body   []byte
	}{
		{"NoRange", nil, http.StatusOK, data},
		{"OneRange", []string{"bytes=10-19"}, http.StatusPartialContent, data[10:20]},
		{"Suffix", []string{"bytes=-5"}, http.StatusPartialContent, data[size-5:]},
		{"TwoRanges", []string{"bytes=0-9,20-29"}, http.StatusOK, data},
		{"HundredOverlapping", []string{"bytes=" + strings.Join(hundred, ",")}, http.StatusOK, data},
		{"TwoRangeLines", []string{"bytes=0-9", "bytes=20-29"}, http.StatusOK, data},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &countingFile{Reader: bytes.NewReader(data)}
			req := httptest.NewRequest("GET", "/api/files/x", nil)
			for _, r := range tc.ranges {
				req.Header.Add("Range", r)
			}
			rec := httptest.NewRecorder()
			if err := ServeFile(rec, req, f, "x", ImageTypes, ""); err != nil {
				t.Fatalf("ServeFile = %v", err)
			}
			if rec.Code != tc.status {
				t.Errorf("Range %q: status %d, want %d", tc.ranges, rec.Code, tc.status)
			}
			if !bytes.Equal(rec.Body.Bytes(), tc.body) {
				t.Errorf("Range %q: body of %d bytes (%.20q…), want %d bytes (%.20q…)", tc.ranges, rec.Body.Len(), rec.Body.Bytes(), len(tc.body), tc.body)
			}
			if got := rec.Header().Get("Content-Type"); got != "image/png" {
				t.Errorf("Range %q: Content-Type %q, want image/png", tc.ranges, got)
			}
			if rec.Code == http.StatusOK && rec.Header().Get("Content-Range") != "" {
				t.Errorf("Range %q: a 200 with Content-Range %q", tc.ranges, rec.Header().Get("Content-Range"))
			}
			if f.read > size+sniffLen {
				t.Errorf("Range %q: read %d bytes of a %d-byte file, want at most the file and the sniffed start", tc.ranges, f.read, size)
			}
			if got := req.Header.Values("Range"); len(got) != len(tc.ranges) {
				t.Errorf("ServeFile changed the caller's request: Range %q, was %q", got, tc.ranges)
			}
		})
	}
}
