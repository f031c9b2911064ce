package web

import (
	"fmt"
	"io"
	"net/http"
	"slices"
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
// answers Range, If-Range and If-None-Match requests. disposition, if not
// "", is the Content-Disposition to send.
func ServeFile(w http.ResponseWriter, r *http.Request, f io.ReadSeeker, etag string, types []string, disposition string) error {
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
