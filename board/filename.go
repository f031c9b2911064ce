package board

import (
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxFileNameBytes bounds a sanitised file name: what most file systems
// take, and within MaxAttachmentName characters whatever the characters.
const maxFileNameBytes = 255

// SanitizeFileName turns the file name a client sent with an upload into
// the name shown on the card and offered with the download. The client's
// name is never a path here or anywhere: it is only displayed. Still, it
// goes into a Content-Disposition header and into pages, so:
//
//   - only the last path element is kept, for '/' and '\' alike (a browser
//     on Windows may send C:\Users\me\report.pdf);
//   - invalid UTF-8 is dropped, and so are control characters (a newline
//     would split a header), invisible format characters such as U+202E,
//     which can make "gpj.exe" look like "exe.jpg", line and paragraph
//     separators, and quotes;
//   - spaces around it are trimmed, and a name of dots only ("..") is none;
//   - it is cut to 255 bytes at a character boundary, keeping a short
//     extension, so that "very long ….pdf" stays a PDF to the person
//     saving it;
//   - what is left empty becomes "file".
//
// The result passes the checks of Attachment.Name.
func SanitizeFileName(name string) string {
	name = strings.ToValidUTF8(name, "")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), unicode.Is(unicode.Zl, r), unicode.Is(unicode.Zp, r):
			return -1
		case r == '"' || r == '\'' || r == '`':
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	if strings.Trim(name, ".") == "" {
		return "file"
	}
	if len(name) > maxFileNameBytes {
		ext := path.Ext(name)
		if len(ext) > 16 {
			ext = ""
		}
		stem := truncateUTF8(strings.TrimSuffix(name, ext), maxFileNameBytes-len(ext))
		name = strings.TrimSpace(stem) + ext
	}
	if strings.TrimSpace(strings.Trim(name, ".")) == "" {
		return "file"
	}
	return name
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
