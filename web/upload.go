package web

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"
)

// Uploads are read as a stream, part by part, straight from the request
// body (mime/multipart's Reader, never Request.ParseMultipartForm, which
// buffers files in memory or in the OS temp directory). A file part goes to
// storage through an Upload, which holds back only its first 512 bytes, to
// decide the type from them, and counts the rest against a limit: whatever
// the client declares (the part's Content-Type, its file name) is never
// believed, and never becomes a path.

// UploadRules bound one uploaded file: its size and the types, as decided
// from its bytes by http.DetectContentType, that are accepted.
type UploadRules struct {
	MaxBytes int64
	Types    []string
	// What names the file in problems ("image", "attachment").
	What string
}

// ImageTypes are the image types corkboard accepts, as DetectContentType
// names them: those every browser shows in an <img>. SVG is not one: it
// can carry script.
var ImageTypes = []string{"image/jpeg", "image/png", "image/gif", "image/webp"}

// ImageUpload are the rules for images (profile pictures, board
// backgrounds): at most 5 MiB, of an ImageTypes type (API.md §5).
var ImageUpload = UploadRules{MaxBytes: 5 << 20, Types: ImageTypes, What: "image"}

// AttachmentTypes are the types a card's attachment may have: the images
// of ImageTypes, or a PDF. Nothing that a browser would run (HTML, SVG)
// is among them, and they are served as downloads anyway.
var AttachmentTypes = append(slices.Clip(ImageTypes), "application/pdf")

// AttachmentUpload are the rules for card attachments: at most 20 MiB, of
// an AttachmentTypes type (API.md §5).
var AttachmentUpload = UploadRules{MaxBytes: 20 << 20, Types: AttachmentTypes, What: "attachment"}

// formOverhead is what a multipart body may hold beyond its file: part
// headers, boundaries and a few short text fields.
const formOverhead = 64 << 10

// MaxFormBytes is the largest multipart body any route reads: an
// attachment and its form.
var MaxFormBytes = AttachmentUpload.MaxBytes + formOverhead

// maxFieldBytes bounds a text part of a form (a username, a password).
const maxFieldBytes = 4 << 10

// sniffLen is how many bytes http.DetectContentType looks at.
const sniffLen = 512

// Form is a multipart/form-data request body, read part by part.
type Form struct {
	mr  *multipart.Reader
	max int64 // the largest file the form may carry, for problems
}

// OpenForm starts reading r's body as multipart/form-data carrying at most
// one file of up to maxFile bytes, and a few text fields. It answers 415 for
// another content type, and 413 at once, before reading anything, when the
// declared length is already too large. The body is read through
// http.MaxBytesReader, so a client that sends more than it declared is cut
// off too, and the connection closed.
func OpenForm(w http.ResponseWriter, r *http.Request, maxFile int64) (*Form, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return nil, NewProblem(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"The request body must be multipart/form-data.")
	}
	if params["boundary"] == "" {
		return nil, NewProblem(http.StatusBadRequest, "malformed_multipart",
			"The multipart/form-data Content-Type has no boundary.")
	}
	maxBody := maxFile + formOverhead
	if r.ContentLength > maxBody {
		return nil, tooLarge(maxFile)
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, NewProblem(http.StatusBadRequest, "malformed_multipart", "The multipart body could not be read.")
	}
	return &Form{mr: mr, max: maxFile}, nil
}

// Next returns the next part, or io.EOF after the last one. A body that is
// not well-formed multipart, or that ends before its closing boundary, is a
// 400 problem; one over the size limit a 413.
func (f *Form) Next() (*multipart.Part, error) {
	p, err := f.mr.NextPart()
	switch {
	case err == io.EOF:
		return nil, io.EOF
	case err != nil:
		return nil, f.readError(err)
	case p.FormName() == "":
		return nil, NewProblem(http.StatusBadRequest, "malformed_multipart",
			"Every part of a multipart/form-data body needs a Content-Disposition with a name.")
	}
	return p, nil
}

// readError turns a failure to read the body into the problem it means.
func (f *Form) readError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLarge(f.max)
	}
	// A body cut short at shutdown says so itself (ShuttingDown).
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	return NewProblem(http.StatusBadRequest, "malformed_multipart",
		"The multipart body is malformed or ends too early.")
}

// Field reads a text part: at most 4 KiB of UTF-8. A longer or invalid one
// is a 422 naming the field.
func (f *Form) Field(p *multipart.Part) (string, error) {
	b, err := io.ReadAll(io.LimitReader(p, maxFieldBytes+1))
	if err != nil {
		return "", f.readError(err)
	}
	name := p.FormName()
	switch {
	case len(b) > maxFieldBytes:
		return "", Invalid(map[string]string{name: "must be at most 4096 bytes"})
	case !utf8.Valid(b):
		return "", Invalid(map[string]string{name: "must be valid UTF-8"})
	}
	return string(b), nil
}

// File starts reading the file part p under rules. It reads the first 512
// bytes to decide the type: a type rules do not accept is a 415, whatever
// the part declares. The Upload it returns gives the bytes, all of them,
// and fails when they exceed rules.MaxBytes. An empty part is no file: File
// returns nil and no error, because that is what a browser sends for a
// file input left empty.
func (f *Form) File(p *multipart.Part, rules UploadRules) (*Upload, error) {
	u := &Upload{form: f, part: p, rules: rules}
	u.br = bufio.NewReaderSize(limitedPart{u}, sniffLen)
	head, err := u.br.Peek(sniffLen)
	if err != nil && err != io.EOF {
		if u.err != nil {
			return nil, u.err
		}
		return nil, f.readError(err)
	}
	if len(head) == 0 {
		return nil, nil
	}
	u.Type = DetectType(head)
	if !slices.Contains(rules.Types, u.Type) {
		return nil, NewProblem(http.StatusUnsupportedMediaType, "unsupported_media_type",
			fmt.Sprintf("The %s must be %s; its bytes say %s.", rules.What, typeList(rules.Types), u.Type))
	}
	return u, nil
}

// DetectType returns the media type of content that starts with head, as
// http.DetectContentType decides it, without parameters.
func DetectType(head []byte) string {
	t, _, _ := strings.Cut(http.DetectContentType(head), ";")
	return t
}

func typeList(types []string) string {
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = strings.ToUpper(strings.TrimPrefix(t, "image/"))
		if t == "application/pdf" {
			names[i] = "PDF"
		}
	}
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// Upload is a checked file part being read. It is an io.Reader of the
// file's bytes, to hand to storage; when it fails (too large, or a body
// cut short) it keeps the problem, which Err returns: a store that wrapped
// the read error in its own may not say which it was.
type Upload struct {
	// Type is the file's media type, decided from its bytes.
	Type string

	form  *Form
	part  *multipart.Part
	rules UploadRules
	br    *bufio.Reader
	n     int64
	err   error
}

// Read implements io.Reader.
func (u *Upload) Read(p []byte) (int, error) {
	if u.err != nil {
		return 0, u.err
	}
	return u.br.Read(p)
}

// Err returns the problem that stopped the upload, if any: a 413 past the
// size limit, a 400 for a body cut short or malformed.
func (u *Upload) Err() error { return u.err }

// limitedPart reads the part and counts its bytes against the limit.
type limitedPart struct{ u *Upload }

func (l limitedPart) Read(p []byte) (int, error) {
	u := l.u
	if u.err != nil {
		return 0, u.err
	}
	n, err := u.part.Read(p)
	u.n += int64(n)
	switch {
	case u.n > u.rules.MaxBytes:
		u.err = tooLarge(u.rules.MaxBytes)
		return 0, u.err
	case err != nil && err != io.EOF:
		u.err = u.form.readError(err)
		return n, u.err
	}
	return n, err
}

// tooLarge is the 413 problem of a file over max bytes.
func tooLarge(max int64) *Problem {
	return NewProblem(http.StatusRequestEntityTooLarge, "payload_too_large",
		fmt.Sprintf("The file is larger than %d MiB.", max>>20))
}
