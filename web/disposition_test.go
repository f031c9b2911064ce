package web

import (
	"mime"
	"strings"
	"testing"
)

func TestAttachmentDisposition(t *testing.T) {
	tests := []struct{ name, want string }{
		{"report.pdf", `attachment; filename="report.pdf"`},
		{"a b;c=d.pdf", `attachment; filename="a b;c=d.pdf"`},
		{"für Bob.pdf", `attachment; filename="f_r Bob.pdf"; filename*=UTF-8''f%C3%BCr%20Bob.pdf`},
		{`quote"back\slash.pdf`, `attachment; filename="quote_back_slash.pdf"; filename*=UTF-8''quote%22back%5Cslash.pdf`},
		{"new\r\nline.pdf", `attachment; filename="new__line.pdf"; filename*=UTF-8''new%0D%0Aline.pdf`},
		{"日本.png", `attachment; filename="__.png"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.png`},
		{"", `attachment; filename="file"`},
	}
	for _, tc := range tests {
		got := AttachmentDisposition(tc.name)
		if got != tc.want {
			t.Errorf("AttachmentDisposition(%q) = %s, want %s", tc.name, got, tc.want)
		}
		if strings.ContainsAny(got, "\r\n") {
			t.Errorf("AttachmentDisposition(%q) holds a line break: %q", tc.name, got)
		}
		// A standard parser reads the name back, filename* first.
		_, params, err := mime.ParseMediaType(got)
		if err != nil {
			t.Errorf("AttachmentDisposition(%q) = %s does not parse: %v", tc.name, got, err)
			continue
		}
		if want := tc.name; want != "" && params["filename"] != want {
			t.Errorf("AttachmentDisposition(%q) parses back as %q", tc.name, params["filename"])
		}
	}
}
