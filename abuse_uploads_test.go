package main

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"image"
	_ "image/png" // DecodeConfig of the bomb, to show what it declares
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"corkboard/board"
	"corkboard/user"
)

// pngChunk returns one PNG chunk: length, type, data and CRC.
func pngChunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	return b.Bytes()
}

// pngBomb returns a small, well-formed PNG that declares a w×h greyscale
// image (w*h bytes once decoded) and whose pixel data is rows of zeros
// compressed by zlib: a decoder that believed it would allocate w*h bytes
// and inflate its data without end.
func pngBomb(t *testing.T, w, h uint32, inflated int) []byte {
	t.Helper()
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 0 // 8 bits, greyscale
	var idat bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&idat, zlib.BestCompression)
	zeros := make([]byte, 1<<20)
	for n := 0; n < inflated; n += len(zeros) {
		zw.Write(zeros)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, pngChunk("IHDR", ihdr)...)
	out = append(out, pngChunk("IDAT", idat.Bytes())...)
	return append(out, pngChunk("IEND", nil)...)
}

// zipBomb returns a zip archive holding one file of n zero bytes, deflated:
// a few kilobytes that would inflate to n.
func zipBomb(t *testing.T, n int) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	f, err := zw.Create("bomb.png")
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	for w := 0; w < n; w += len(zeros) {
		f.Write(zeros)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// gzipBomb is zipBomb's gzip cousin.
func gzipBomb(t *testing.T, n int) []byte {
	t.Helper()
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for w := 0; w < n; w += len(zeros) {
		zw.Write(zeros)
	}
	zw.Close()
	return b.Bytes()
}

// rawFilePart returns a multipart body with boundary X and one file part
// named name, whose filename parameter is written byte for byte as given
// (a NUL, a CR LF, anything a hand-made request can hold).
func rawFilePart(name, filename string, data []byte) ([]byte, string) {
	var b bytes.Buffer
	b.WriteString("--X\r\nContent-Disposition: form-data; name=\"" + name + "\"; filename=\"" + filename + "\"\r\nContent-Type: image/png\r\n\r\n")
	b.Write(data)
	b.WriteString("\r\n--X--\r\n")
	return b.Bytes(), "multipart/form-data; boundary=X"
}

// TestUploadAttacks sends the uploads an attacker would try: polyglots
// (an image whose bytes also read as HTML, script or PHP), files of types
// that are not accepted whatever they claim to be, hostile file names, and
// bombs. Polyglots are accepted, as their first bytes make them images,
// and then served only as those images: with the image type, nosniff and
// a sandboxing policy, and attachments as downloads, so that no browser
// runs what hides in them; corkboard itself never decodes, unpacks or
// runs an uploaded file, so a bomb is only its own few bytes.
func TestUploadAttacks(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, func(c *config) { c.rateLimits = false })
		alice := env.newClient()
		d := alice.signup("alice", "alice@example.com", "password1")
		b := alice.createBoard("Uploads")
		l := alice.addList(b.ID, "L")
		card := alice.addCard(b.ID, l.ID, "C")
		picturePath := "/api/users/" + d.User.ID + "/picture"
		backgroundPath := "/api/boards/" + b.ID + "/background"
		attachPath := "/api/boards/" + b.ID + "/cards/" + card.ID + "/attachments"

		jpeg := testImage(t, "jpeg", 8, 8, 4)
		php := []byte("<?php system($_GET['c']); ?>")
		comment := append([]byte{0xFF, 0xFE, 0, byte(len(php) + 2)}, php...)
		polyglots := []struct {
			name, typ string
			data      []byte
		}{
			{"PNG then HTML", "image/png", append(testImage(t, "png", 8, 8, 3), "<html><body><script>alert(document.domain)</script></body></html>"...)},
			{"GIF that is also JavaScript", "image/gif", []byte("GIF89a/*\x01\x00\x01\x00\x00\x00\x00*/=1;alert(document.domain);//\x00;")},
			{"JPEG with PHP in a comment", "image/jpeg", append(append([]byte{0xFF, 0xD8}, comment...), jpeg[2:]...)},
		}
		for _, p := range polyglots {
			t.Run(p.name, func(t *testing.T) {
				if !bytes.Contains(p.data, []byte("alert")) && !bytes.Contains(p.data, php) {
					t.Fatal("the polyglot lost its payload")
				}
				// As a picture and as a background: public images.
				var u struct{ User userDoc }
				alice.upload("PUT", picturePath, part{name: "picture", filename: "x.html", contentType: "text/html", data: p.data}).want(t, http.StatusOK).json(t, &u)
				bg := boardOf(t, alice.upload("PUT", backgroundPath, part{name: "background", filename: "x.php", data: p.data}).want(t, http.StatusOK))
				for _, url := range []string{u.User.PictureURL, bg.BackgroundURL} {
					r := getFile(t, env, url).want(t, http.StatusOK)
					wantServedAs(t, r, p.typ, p.data)
					if cd := r.Header.Get("Content-Disposition"); cd != "" {
						t.Errorf("GET %s: Content-Disposition %q for an image meant for <img>", url, cd)
					}
				}
				// As an attachment: members only, and a download.
				var a struct{ Attachment attachmentDoc }
				alice.upload("POST", attachPath, part{name: "file", filename: "evil.html", contentType: "text/html", data: p.data}).want(t, http.StatusCreated).json(t, &a)
				r := alice.do("GET", a.Attachment.URL, nil).want(t, http.StatusOK)
				wantServedAs(t, r, p.typ, p.data)
				if cd := r.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") {
					t.Errorf("GET attachment: Content-Disposition %q, want attachment", cd)
				}
			})
		}

		// Types that are not accepted, whatever name and type they claim.
		t.Run("wrong types", func(t *testing.T) {
			before := map[string][]string{}
			for _, bucket := range []string{user.PictureBucket, board.BackgroundBucket, board.AttachmentBucket} {
				before[bucket] = storedFiles(t, env, bucket)
			}
			for name, data := range map[string][]byte{
				"zip bomb named .png (64 MiB of zeros)":  zipBomb(t, 64<<20),
				"gzip bomb named .png (64 MiB of zeros)": gzipBomb(t, 64<<20),
				"HTML after white space":                 []byte(" \n\t<!DOCTYPE html><script>alert(1)</script>"),
				"SVG with script":                        []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`),
				"ELF executable":                         append([]byte("\x7fELF\x02\x01\x01\x00"), make([]byte, 64)...),
				"Windows executable":                     append([]byte("MZ\x90\x00\x03\x00\x00\x00"), make([]byte, 64)...),
				"WAV audio":                              append([]byte("RIFF\x24\x00\x00\x00WAVEfmt "), make([]byte, 32)...),
				"JavaScript":                             []byte("alert(document.cookie)"),
				"PHP":                                    php,
			} {
				if strings.Contains(name, "bomb") && len(data) > 1<<20 {
					t.Fatalf("%s is %d bytes: not a bomb", name, len(data))
				}
				for _, up := range []struct{ path, part string }{{picturePath, "picture"}, {backgroundPath, "background"}, {attachPath, "file"}} {
					r := alice.upload(methodOf(up.path), up.path, part{name: up.part, filename: "bomb.png", contentType: "image/png", data: data})
					if r.StatusCode != http.StatusUnsupportedMediaType {
						t.Errorf("%s as %s: status %d, want 415", name, up.part, r.StatusCode)
					}
					r.wantProblem(t, http.StatusUnsupportedMediaType, "unsupported_media_type")
				}
				// Nor does sign-up take them as a picture.
				body, ct := multipartBody(t, part{name: "username", data: []byte("bomber")}, part{name: "email", data: []byte("bomber@example.com")},
					part{name: "password", data: []byte("password1")}, part{name: "picture", filename: "bomb.png", data: data})
				env.newClient().do("POST", "/api/auth/signup", body, "Content-Type", ct).wantProblem(t, http.StatusUnsupportedMediaType, "unsupported_media_type")
			}
			for bucket, files := range before {
				if got := storedFiles(t, env, bucket); !slices.Equal(got, files) {
					t.Errorf("bucket %s holds %q after the refused uploads, want %q", bucket, got, files)
				}
			}
		})

		// A PNG that declares a picture of 4 gigapixels in 1.4 KiB: stored
		// and served as the bytes it is, never decoded (corkboard checks
		// the first bytes only; README "Security" says why).
		t.Run("decompression bomb PNG", func(t *testing.T) {
			bomb := pngBomb(t, 65535, 65535, 64<<20)
			cfg, format, err := image.DecodeConfig(bytes.NewReader(bomb))
			if err != nil || format != "png" || cfg.Width != 65535 || cfg.Height != 65535 || len(bomb) > 200<<10 {
				t.Fatalf("the bomb: %v %s %dx%d, %d bytes", err, format, cfg.Width, cfg.Height, len(bomb))
			}
			var u struct{ User userDoc }
			alice.upload("PUT", picturePath, part{name: "picture", filename: "bomb.png", data: bomb}).want(t, http.StatusOK).json(t, &u)
			wantServedAs(t, getFile(t, env, u.User.PictureURL).want(t, http.StatusOK), "image/png", bomb)
		})

		// Hostile file names: the stored file is named by a random id, and
		// the name kept for an attachment is a display name only, with no
		// path, no control or invisible characters, at most 255 bytes.
		t.Run("file names", func(t *testing.T) {
			png := testImage(t, "png", 4, 4, 7)
			for _, name := range []string{
				"../../etc/passwd", "/etc/passwd", `..\..\..\windows\win.ini`, `C:\boot.ini`, "a\x00.png", "a\x00/../../x.png",
				"%2e%2e%2f%2e%2e%2fetc%2fpasswd", "．．／．．／etc／passwd", "photo\u202egnp.exe", "..", ".", "",
				strings.Repeat("a", 10000) + ".png", strings.Repeat("é", 3000) + ".png", "\u0430dmin.png", "con.png",
				"name\rX-Injected: 1.png", "\xff\xfe.png", "a/\u2028b.png", "`rm -rf /`.png",
			} {
				body, ct := rawFilePart("file", name, png)
				// A card of its own for each: a card holds few attachments.
				c := alice.addCard(b.ID, l.ID, "Names")
				r := alice.do("POST", "/api/boards/"+b.ID+"/cards/"+c.ID+"/attachments", body, "Content-Type", ct)
				if r.StatusCode >= 400 {
					// A refusal (a name the multipart reader cannot
					// parse) is a 4xx problem, never a 5xx.
					if r.StatusCode >= 500 {
						t.Errorf("file name %.40q: status %d: %s", name, r.StatusCode, r.body)
					}
					r.problem(t)
					t.Logf("file name %.40q: %d %s", name, r.StatusCode, r.problem(t).Code)
					continue
				}
				r.want(t, http.StatusCreated)
				var a struct{ Attachment attachmentDoc }
				r.json(t, &a)
				got := a.Attachment.Name
				bad := strings.ContainsAny(got, "/\\\x00\"") || len(got) > 255 || !utf8.ValidString(got) ||
					strings.IndexFunc(got, func(c rune) bool { return unicode.IsControl(c) || unicode.Is(unicode.Cf, c) || c == '\u2028' }) >= 0
				if bad || got == "" || strings.Trim(got, ".") == "" {
					t.Errorf("file name %.40q kept as %q", name, got)
				}
				if cd := alice.do("GET", a.Attachment.URL, nil).want(t, http.StatusOK).Header.Get("Content-Disposition"); strings.ContainsAny(cd, "\r\n\x00") {
					t.Errorf("file name %.40q: Content-Disposition %q", name, cd)
				}
			}
			hexID := regexp.MustCompile(`^[0-9a-f]{24}$`)
			for _, bucket := range []string{user.PictureBucket, board.BackgroundBucket, board.AttachmentBucket} {
				for _, f := range storedFiles(t, env, bucket) {
					if !hexID.MatchString(f) {
						t.Errorf("bucket %s holds %q, not a file named by an id", bucket, f)
					}
				}
			}
			// Nothing was written anywhere else under the data directory
			// by any name the client gave.
			filepath.WalkDir(env.app.cfg.dataDir, func(path string, de fs.DirEntry, err error) error {
				if err == nil && (strings.Contains(de.Name(), "passwd") || strings.Contains(de.Name(), "win.ini") || strings.Contains(de.Name(), "boot")) {
					t.Errorf("the data directory holds %s", path)
				}
				return nil
			})
			if _, err := os.Stat(filepath.Join(filepath.Dir(env.app.cfg.dataDir), "etc")); err == nil {
				t.Error("an etc directory appeared beside the data directory")
			}
		})
	})
}

// methodOf returns the method of an upload route: POST for attachments,
// PUT for pictures and backgrounds.
func methodOf(path string) string {
	if strings.HasSuffix(path, "/attachments") {
		return "POST"
	}
	return "PUT"
}

// wantServedAs checks that a stored file went out as exactly the bytes
// uploaded, with type typ, nosniff and the sandboxing policy.
func wantServedAs(t *testing.T, r *response, typ string, data []byte) {
	t.Helper()
	where := r.Request.Method + " " + r.Request.URL.Path
	for k, v := range map[string]string{
		"Content-Type":            typ,
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": "default-src 'none'; sandbox",
	} {
		if got := r.Header.Get(k); got != v {
			t.Errorf("%s: %s %q, want %q", where, k, got, v)
		}
	}
	if !bytes.Equal(r.body, data) {
		t.Errorf("%s: %d bytes, not the %d uploaded", where, len(r.body), len(data))
	}
}
