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
	return serveFile(w, r, f, etag, types, disposition, "public, max-age=31536000, immutable")
}

// ServeDownload serves a members-only stored file (a card's attachment) as
// a download named name: Content-Disposition attachment always, so that
// even an image or a PDF is saved rather than opened in the site's origin,
// and a private cache lifetime that makes the browser ask again each time
// (a 304 when unchanged), so that no shared cache keeps a file meant for
// a board's members, and a member who left is asked for a token again.
// name must be a display name already (see board.SanitizeFileName); it is
// written by AttachmentDisposition.
func ServeDownload(w http.ResponseWriter, r *http.Request, f io.ReadSeeker, etag string, types []string, name string) error {
	return serveFile(w, r, f, etag, types, AttachmentDisposition(name), "private, no-cache")
}

// serveFile is ServeFile and ServeDownload, with the Cache-Control to send.
func serveFile(w http.ResponseWriter, r *http.Request, f io.ReadSeeker, etag string, types []string, disposition, cacheControl string) error {
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
	h.Set("Cache-Control", cacheControl)
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

// AttachmentDisposition returns the Content-Disposition header value that
// offers a file for download under name (RFC 6266): a quoted filename
// in plain ASCII, which every client reads, and, when name has other
// characters, a filename* in UTF-8 (RFC 8187, formerly 5987), which
// modern clients prefer. Quotes, backslashes, control and non-ASCII
// characters never reach the quoted form: each becomes '_' there, so the
// header cannot be broken out of whatever name comes in.
func AttachmentDisposition(name string) string {
	var ascii strings.Builder
	plain := true
	for _, c := range name {
		switch {
		case c < 0x20 || c == 0x7f || c == '"' || c == '\\':
			ascii.WriteByte('_')
			plain = false
		case c >= 0x80:
			ascii.WriteByte('_')
			plain = false
		default:
			ascii.WriteRune(c)
		}
	}
	fallback := ascii.String()
	if fallback == "" {
		fallback = "file"
	}
	d := `attachment; filename="` + fallback + `"`
	if !plain {
		d += "; filename*=UTF-8''" + encodeExtValue(name)
	}
	return d
}

// encodeExtValue percent-encodes s as the value of an RFC 8187 extended
// parameter: every byte but attr-char is written as %XX.
func encodeExtValue(s string) string {
	const attrChars = "!#$&+-.^_`|~"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(attrChars, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
