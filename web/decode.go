package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"
)

// MaxBodyBytes is the largest JSON request body accepted (API.md §1).
const MaxBodyBytes = 1 << 20

// DecodeJSON reads one JSON value from the request body into dst, strictly:
// the body must say it is application/json, be at most MaxBodyBytes of
// valid UTF-8, hold one value with no trailing data, and no fields that dst
// does not declare. A failure is returned as a *Problem: 415 for a missing
// or other media type (a cross-site form or a no-cors fetch cannot send
// application/json without a CORS preflight), 413 for a body that is too
// large, 400 for malformed JSON, 422 for unknown fields, wrong types or a
// string that is not valid UTF-8.
func DecodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	body, err := readJSON(w, r)
	if err != nil {
		return err
	}
	return decodeStrict(body, dst)
}

// DecodeJSONPlain is DecodeJSON for a route whose requests nearly all have
// one plain shape, which plain reads without encoding/json's reflection and
// buffers. Once the body has passed DecodeJSON's checks of media type and
// size, plain gets it with dst: when it recognises the body, it fills dst
// and returns true; otherwise it must leave dst as it was, and the body is
// decoded as DecodeJSON decodes it. plain must accept only bodies that
// DecodeJSON would decode, without a problem, to what plain puts in dst;
// each plain reader comes with a fuzz target that compares the two.
func DecodeJSONPlain[T any](w http.ResponseWriter, r *http.Request, dst *T, plain func(body []byte, dst *T) bool) error {
	body, err := readJSON(w, r)
	if err != nil {
		return err
	}
	return decodePlain(body, dst, plain)
}

// DecodeJSONBodyPlain is DecodeJSONPlain for a handler that has already
// read the body itself, as DecodeJSONBody is DecodeJSON's: it checks the
// media type, then lets plain read body, else decodes it strictly.
func DecodeJSONBodyPlain[T any](r *http.Request, body []byte, dst *T, plain func(body []byte, dst *T) bool) error {
	if err := CheckJSONType(r); err != nil {
		return err
	}
	return decodePlain(body, dst, plain)
}

// decodePlain fills dst with plain if it recognises body, else decodes
// body strictly.
func decodePlain[T any](body []byte, dst *T, plain func(body []byte, dst *T) bool) error {
	if plain(body, dst) {
		return nil
	}
	return decodeStrict(body, dst)
}

// readJSON checks that r's body says it is application/json and reads it,
// at most MaxBodyBytes of it, with DecodeJSON's problems.
func readJSON(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if err := CheckJSONType(r); err != nil {
		return nil, err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, decodeProblem(err)
		}
		// A body cut short at shutdown says so itself (ShuttingDown).
		var p *Problem
		if errors.As(err, &p) {
			return nil, p
		}
		return nil, NewProblem(http.StatusBadRequest, "malformed_json", "The request body could not be read.")
	}
	return body, nil
}

// DecodeJSONBody is DecodeJSON for a handler that has already read the
// body, at most MaxBodyBytes of it, itself: it checks the media type and
// decodes body as strictly, with the same problems, without reading the
// body a second time.
func DecodeJSONBody(r *http.Request, body []byte, dst any) error {
	if err := CheckJSONType(r); err != nil {
		return err
	}
	return decodeStrict(body, dst)
}

// CheckJSONType refuses (415) a request whose body does not say it is
// application/json. DecodeJSON and DecodeJSONBody call it; so does a
// handler that reads a body of a shape it knows by itself, and must still
// refuse what they refuse.
func CheckJSONType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "application/json" {
		return nil // what ParseMediaType would say, without its map of parameters
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return NewProblem(http.StatusUnsupportedMediaType, "unsupported_media_type", "The request body must be application/json.")
	}
	return nil
}

// decodeStrict is DecodeJSON without the HTTP parts, so it can be fuzzed.
func decodeStrict(body []byte, dst any) error {
	// encoding/json turns invalid UTF-8 into U+FFFD without a word, so two
	// different byte strings (two passwords, say) would decode alike.
	// Nothing is ever stored or compared after such a replacement.
	if !utf8.Valid(body) || hasLoneSurrogate(body) {
		return invalidUTF8(body)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeProblem(err)
	}
	// Exactly one value: anything but whitespace after it is malformed.
	if _, err := dec.Token(); err != io.EOF {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return decodeProblem(err)
		}
		return NewProblem(http.StatusBadRequest, "malformed_json", "The request body has data after the JSON value.")
	}
	return nil
}

// invalidUTF8 is the problem for a body that is not valid UTF-8: a 422
// naming the top-level fields whose values hold the bad bytes, or a 400
// when no field can be named (a bad key, or a body that is no object).
func invalidUTF8(body []byte) *Problem {
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) == nil {
		errs := make(map[string]string)
		for name, raw := range fields {
			if !utf8.ValidString(name) {
				errs = nil
				break
			}
			if !utf8.Valid(raw) || hasLoneSurrogate(raw) {
				errs[name] = "must be valid UTF-8"
			}
		}
		if len(errs) > 0 {
			return Invalid(errs)
		}
	}
	return NewProblem(http.StatusBadRequest, "malformed_json", "The request body is not valid UTF-8.")
}

// hasLoneSurrogate reports whether the JSON text data holds a \u escape of
// a UTF-16 surrogate that is not part of a valid pair ("\ud800"): such an
// escape is valid ASCII, but stands for no character, and encoding/json
// would turn it into U+FFFD as silently as an invalid byte.
func hasLoneSurrogate(data []byte) bool {
	inString := false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			inString = !inString
		case c == '\\' && inString && i+1 < len(data):
			if data[i+1] != 'u' {
				i++ // an escaped character, quote or backslash included
				continue
			}
			r, ok := hex4(data[i+2:])
			if !ok {
				return false // malformed: the decoder says so
			}
			i += 5
			switch {
			case r >= 0xDC00 && r <= 0xDFFF:
				return true // a low surrogate with no high one before it
			case r >= 0xD800 && r <= 0xDBFF:
				low, ok := uint16(0), false
				if i+2 < len(data) && data[i+1] == '\\' && data[i+2] == 'u' {
					low, ok = hex4(data[i+3:])
				}
				if !ok || low < 0xDC00 || low > 0xDFFF {
					return true
				}
				i += 6
			}
		}
	}
	return false
}

// hex4 reads four hex digits at the start of b.
func hex4(b []byte) (uint16, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r uint16
	for _, c := range b[:4] {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | uint16(d)
	}
	return r, true
}

func decodeProblem(err error) *Problem {
	var (
		syntax    *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		tooLarge  *http.MaxBytesError
		unmarshal *json.InvalidUnmarshalError
	)
	switch {
	case errors.As(err, &tooLarge):
		return NewProblem(http.StatusRequestEntityTooLarge, "payload_too_large", "The request body is larger than 1 MiB.")
	case errors.Is(err, io.EOF):
		return NewProblem(http.StatusBadRequest, "malformed_json", "The request body is empty; a JSON object is required.")
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return NewProblem(http.StatusBadRequest, "malformed_json", "The request body is not valid JSON.")
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return NewProblem(http.StatusUnprocessableEntity, "validation_failed", "The request body must be a JSON object.")
		}
		return Invalid(map[string]string{field: "must be a " + jsonKind(typeErr.Type.Kind().String())})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for unknown fields.
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return Invalid(map[string]string{name: "is not a known field"})
	case errors.As(err, &unmarshal):
		panic(err) // a programming error: dst is not a pointer
	default:
		return NewProblem(http.StatusBadRequest, "malformed_json", "The request body is not valid JSON.")
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "struct", "map":
		return "object"
	default:
		return "number"
	}
}
