package web

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// ServeFile serves a stored file that never changes under its name: an
// upload's id names its bytes for good (a new picture gets a new id), so
// the id is the ETag and the file may be cached for a year. The type is
// decided from the bytes again, as at upload, and must be one of types;
// anything else (a file that is not what its bucket holds) goes out as a
// download of application/octet-stream. nosniff stops a browser from
// second-guessing the type, and the sandboxing Content-Security-Policy
// keeps a file opened on its own from running anything. http.ServeContent
// answers Range, If-Range and If-None-Match requests; a Range of more than
// one range is ignored, and the whole file sent (see wholeIfManyRanges).
// disposition, if not "", is the Content-Disposition to send.
func ServeFile(w http.ResponseWriter, r *http.Request, f io.ReadSeeker, etag string, types []string, disposition string) error {
	r = wholeIfManyRanges(r)
	var head [sniffLen]byte
	n, err := io.ReadFull(f, head[:])
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return fmt.Errorf("reading the start of a stored file: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("rewinding a stored file: %w", err)
	}
	typ := DetectType(head[:n])
	if !slices.Contains(types, typ) {
		typ = "application/octet-stream"
		if disposition == "" {
			disposition = "attachment"
		}
	}
	h := w.Header()
	h.Set("Content-Type", typ)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", `"`+etag+`"`)
	if disposition != "" {
		h.Set("Content-Disposition", disposition)
	}
	http.ServeContent(w, r, "", time.Time{}, f)
	return nil
}

// wholeIfManyRanges returns r without its Range header if that asks for more
// than one range (a comma, or several Range lines), and r itself otherwise.
// http.ServeContent seeks to every range in turn, and ranges may be a byte
// long, overlap and go back and forth: a store that reads in chunks (GridFS
// fetches 255 KiB to serve any byte of a chunk) would read 25 MiB for a
// request of a few hundred bytes asking for a hundred one-byte ranges in
// alternate chunks. RFC 9110 (§14.2) lets a server ignore Range, and the
// whole file (200) costs one read of it; browsers and media players ask for
// one range at a time, which is still answered with 206.
func wholeIfManyRanges(r *http.Request) *http.Request {
	rs := r.Header.Values("Range")
	if len(rs) == 0 || len(rs) == 1 && !strings.Contains(rs[0], ",") {
		return r
	}
	r = r.Clone(r.Context())
	r.Header.Del("Range")
	return r
}
