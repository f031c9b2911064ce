package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"corkboard/filestore"
	"corkboard/mongostore"
	"corkboard/user"
	"corkboard/user/usertest"
)

// part is one part of a multipart body made by a test.
type part struct {
	name, filename, contentType string
	data                        []byte
}

// multipartBody returns a multipart/form-data body holding parts, and its
// Content-Type.
func multipartBody(t *testing.T, parts ...part) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, p := range parts {
		h := make(textproto.MIMEHeader)
		disp := fmt.Sprintf(`form-data; name=%q`, p.name)
		if p.filename != "" {
			disp += fmt.Sprintf(`; filename=%q`, p.filename)
		}
		h.Set("Content-Disposition", disp)
		if p.contentType != "" {
			h.Set("Content-Type", p.contentType)
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(p.data)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), mw.FormDataContentType()
}

// testImage returns a small w×h picture of noise from seed, encoded.
func testImage(t *testing.T, format string, w, h int, seed uint64) []byte {
	t.Helper()
	if format == "png" {
		return usertest.PNG(t, w, h, seed)
	}
	img := image.NewPaletted(image.Rect(0, 0, w, h), []color.Color{color.Black, color.White, color.RGBA{200, 30, 30, 255}})
	for i := range img.Pix {
		img.Pix[i] = uint8((uint64(i)*seed + seed>>3) % 3)
	}
	var b bytes.Buffer
	var err error
	switch format {
	case "webp":
		// The standard library has no WebP encoder: a 1×1 lossless WebP
		// written by cwebp, which is all the sniffing looks at anyway.
		b, err := base64.StdEncoding.DecodeString("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")
		if err != nil {
			t.Fatal(err)
		}
		return b
	case "jpeg":
		err = jpeg.Encode(&b, img, &jpeg.Options{Quality: 80})
	case "gif":
		err = gif.Encode(&b, img, nil)
	default:
		t.Fatalf("testImage: unknown format %q", format)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// upload sends parts as a multipart body.
func (c *client) upload(method, path string, parts ...part) *response {
	c.env.t.Helper()
	body, ct := multipartBody(c.env.t, parts...)
	return c.do(method, path, body, "Content-Type", ct)
}

// storedFiles lists every file, whole or partial, that the store holds in
// bucket: for the file store every name in the bucket's directory (temp
// files too), for MongoDB every GridFS file id and every id that chunks
// belong to. A failed upload must leave this list as it was.
func storedFiles(t *testing.T, env *testEnv, bucket string) []string {
	t.Helper()
	var names []string
	switch st := env.app.store.(type) {
	case *filestore.Store:
		entries, err := os.ReadDir(filepath.Join(env.app.cfg.dataDir, "files", bucket))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, e := range entries {
			names = append(names, e.Name())
		}
	case *mongostore.Store:
		ctx := context.Background()
		db := st.Database()
		ids, err := db.Collection(bucket+".files").Distinct(ctx, "_id", bson.D{}).Raw()
		if err != nil {
			t.Fatal(err)
		}
		chunks, err := db.Collection(bucket+".chunks").Distinct(ctx, "files_id", bson.D{}).Raw()
		if err != nil {
			t.Fatal(err)
		}
		hexes := func(set bson.RawArray) map[string]bool {
			vals, err := set.Values()
			if err != nil {
				t.Fatal(err)
			}
			m := make(map[string]bool)
			for _, v := range vals {
				m[v.ObjectID().Hex()] = true
			}
			return m
		}
		files := hexes(ids)
		for id := range files {
			names = append(names, id)
		}
		for id := range hexes(chunks) {
			if !files[id] {
				names = append(names, "chunks without a file: "+id)
			}
		}
	default:
		t.Fatalf("storedFiles: unknown store %T", st)
	}
	slices.Sort(names)
	return names
}

// getFile fetches a file URL without a token, as an <img> would.
func getFile(t *testing.T, env *testEnv, url string, header ...string) *response {
	t.Helper()
	return env.newClient().do("GET", url, nil, header...)
}

func TestPictureUploads(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		// Uploads stream to the store: nothing may land in the OS temp
		// directory (as Request.ParseMultipartForm would put large files).
		tmp := t.TempDir()
		t.Setenv("TMPDIR", tmp)
		env, sink := mailEnv(t, o, nil)
		png := testImage(t, "png", 40, 30, 1)
		big := usertest.PNG(t, 1000, 1000, 2) // about 4 MiB: larger than any in-memory form limit

		// Sign-up with a picture: a multipart form, the picture before the
		// fields (a stream cannot wait for them), with a lying file name.
		alice := env.newClient()
		r := alice.upload("POST", "/api/auth/signup",
			part{name: "picture", filename: "../../etc/passwd", contentType: "text/plain", data: png},
			part{name: "username", data: []byte("alice")},
			part{name: "email", data: []byte("alice@example.com")},
			part{name: "password", data: []byte("password1")},
			part{name: "fullName", data: []byte("Alice Liddell")},
		).want(t, http.StatusCreated)
		var d authDoc
		r.json(t, &d)
		alice.token = d.AccessToken
		if d.User.FullName != "Alice Liddell" || !strings.HasPrefix(d.User.PictureURL, "/api/files/") {
			t.Fatalf("multipart sign-up answered user %+v, want fullName and a pictureURL", d.User)
		}
		if got := storedFiles(t, env, user.PictureBucket); len(got) != 1 || !strings.HasSuffix(d.User.PictureURL, got[0]) {
			t.Fatalf("stored pictures %q, want exactly the one at %s", got, d.User.PictureURL)
		}

		// The file is served from its bytes: type, nosniff, caching, ETag,
		// ranges and revalidation.
		f := getFile(t, env, d.User.PictureURL).want(t, http.StatusOK)
		for h, want := range map[string]string{
			"Content-Type":           "image/png",
			"X-Content-Type-Options": "nosniff",
			"Cache-Control":          "public, max-age=31536000, immutable",
			"ETag":                   `"` + strings.TrimPrefix(d.User.PictureURL, "/api/files/") + `"`,
		} {
			if got := f.Header.Get(h); got != want {
				t.Errorf("GET %s: %s = %q, want %q", d.User.PictureURL, h, got, want)
			}
		}
		if !bytes.Equal(f.body, png) {
			t.Errorf("GET %s: %d bytes differ from the %d uploaded", d.User.PictureURL, len(f.body), len(png))
		}
		piece := getFile(t, env, d.User.PictureURL, "Range", "bytes=8-23").want(t, http.StatusPartialContent)
		if !bytes.Equal(piece.body, png[8:24]) {
			t.Errorf("Range bytes=8-23 gave %x, want %x", piece.body, png[8:24])
		}
		getFile(t, env, d.User.PictureURL, "If-None-Match", f.Header.Get("ETag")).want(t, http.StatusNotModified)

		// Replacing the picture (a JPEG, then a GIF) deletes the old bytes.
		old := d.User.PictureURL
		for _, format := range []string{"jpeg", "gif", "webp"} {
			img := testImage(t, format, 24, 24, 7)
			var got struct{ User userDoc }
			alice.upload("PUT", "/api/users/"+d.User.ID+"/picture",
				part{name: "picture", filename: "me." + format, contentType: "image/" + format, data: img},
			).want(t, http.StatusOK).json(t, &got)
			if got.User.PictureURL == old || got.User.PictureURL == "" {
				t.Fatalf("PUT picture: pictureURL %q, want a new one (old %q)", got.User.PictureURL, old)
			}
			getFile(t, env, old).wantProblem(t, http.StatusNotFound, "not_found")
			f := getFile(t, env, got.User.PictureURL).want(t, http.StatusOK)
			if ct := f.Header.Get("Content-Type"); ct != "image/"+format || !bytes.Equal(f.body, img) {
				t.Errorf("GET new %s picture: Content-Type %q, %d bytes; want image/%s and the %d uploaded", format, ct, len(f.body), format, len(img))
			}
			if n := len(storedFiles(t, env, user.PictureBucket)); n != 1 {
				t.Errorf("after replacing the picture the store holds %d pictures, want 1", n)
			}
			old = got.User.PictureURL
		}

		// Someone else may not change or remove it; an admin may.
		bob := env.newClient()
		bob.signup("bob", "bob@example.com", "password1")
		bob.upload("PUT", "/api/users/"+d.User.ID+"/picture", part{name: "picture", filename: "x.png", data: png}).
			wantProblem(t, http.StatusForbidden, "forbidden")
		bob.do("DELETE", "/api/users/"+d.User.ID+"/picture", nil).wantProblem(t, http.StatusForbidden, "forbidden")
		getFile(t, env, old).want(t, http.StatusOK)

		// Removing it deletes the bytes; removing it again is fine.
		alice.do("DELETE", "/api/users/"+d.User.ID+"/picture", nil).want(t, http.StatusNoContent)
		getFile(t, env, old).wantProblem(t, http.StatusNotFound, "not_found")
		alice.do("DELETE", "/api/users/"+d.User.ID+"/picture", nil).want(t, http.StatusNoContent)
		var me struct{ User userDoc }
		alice.do("GET", "/api/users/me", nil).want(t, http.StatusOK).json(t, &me)
		if me.User.PictureURL != "" {
			t.Errorf("after DELETE picture, pictureURL = %q, want none", me.User.PictureURL)
		}
		if got := storedFiles(t, env, user.PictureBucket); len(got) != 0 {
			t.Errorf("after DELETE picture the store holds %q", got)
		}

		// An admin may set anyone's picture, a large one too.
		admin := env.admin(sink)
		var set struct{ User userDoc }
		admin.upload("PUT", "/api/users/"+d.User.ID+"/picture", part{name: "picture", filename: "a.png", data: big}).want(t, http.StatusOK).json(t, &set)
		if f := getFile(t, env, set.User.PictureURL).want(t, http.StatusOK); !bytes.Equal(f.body, big) {
			t.Errorf("GET the %d-byte picture: %d bytes, not the same", len(big), len(f.body))
		}
		if left, _ := os.ReadDir(tmp); len(left) != 0 {
			t.Errorf("the uploads left %d files in the OS temp directory", len(left))
		}

		// A JSON sign-up still works, and a multipart one without a picture
		// (a browser's empty file input) has none.
		env.newClient().upload("POST", "/api/auth/signup",
			part{name: "username", data: []byte("carol")}, part{name: "email", data: []byte("carol@example.com")},
			part{name: "password", data: []byte("password1")}, part{name: "picture", filename: "", contentType: "application/octet-stream"},
		).want(t, http.StatusCreated).json(t, &d)
		if d.User.PictureURL != "" {
			t.Errorf("sign-up with an empty picture part: pictureURL %q, want none", d.User.PictureURL)
		}
	})
}

// TestHostileUploads sends every kind of bad upload to the three upload
// routes and checks that each gets its problem and leaves no file and no
// changed record behind.
func TestHostileUploads(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, func(c *config) { c.rateLimits = false })
		alice := env.newClient()
		d := alice.signup("alice", "alice@example.com", "password1")
		png := testImage(t, "png", 16, 16, 3)
		alice.upload("PUT", "/api/users/"+d.User.ID+"/picture", part{name: "picture", filename: "a.png", data: png}).want(t, http.StatusOK)
		var before struct{ User userDoc }
		alice.do("GET", "/api/users/me", nil).want(t, http.StatusOK).json(t, &before)
		filesBefore := storedFiles(t, env, user.PictureBucket)

		big := usertest.PNG(t, 1500, 1500, 9) // about 6.4 MiB
		if len(big) < 6<<20 {
			t.Fatalf("the large test image is only %d bytes", len(big))
		}
		html := []byte("<!DOCTYPE html><html><script>alert(document.cookie)</script></html>")
		whole, ct := multipartBody(t, part{name: "picture", filename: "a.png", data: png})
		cases := []struct {
			name   string
			body   []byte
			ct     string
			status int
			code   string
		}{
			{"text file named .png", nil, "", 415, "unsupported_media_type"},
			{"HTML declared as image/png", nil, "", 415, "unsupported_media_type"},
			{"SVG", nil, "", 415, "unsupported_media_type"},
			{"6 MiB image", nil, "", 413, "payload_too_large"},
			{"5 MiB and 1 KiB", nil, "", 413, "payload_too_large"},
			{"missing part", nil, "", 422, "validation_failed"},
			{"unknown part", nil, "", 422, "validation_failed"},
			{"truncated in the picture", whole[:len(whole)/2], ct, 400, "malformed_multipart"},
			{"no closing boundary", whole[:len(whole)-len("--\r\n")-40], ct, 400, "malformed_multipart"},
			{"no boundary", whole, "multipart/form-data", 400, "malformed_multipart"},
			{"garbage", []byte("this is not multipart at all"), ct, 400, "malformed_multipart"},
			{"JSON", []byte(`{"picture":"x"}`), "application/json", 415, "unsupported_media_type"},
			{"empty body", nil, ct, 400, "malformed_multipart"},
		}
		parts := map[string][]part{
			"text file named .png":       {{name: "picture", filename: "a.png", contentType: "image/png", data: []byte("just some text, honestly\n")}},
			"HTML declared as image/png": {{name: "picture", filename: "a.png", contentType: "image/png", data: html}},
			"SVG":                        {{name: "picture", filename: "a.svg", contentType: "image/svg+xml", data: []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`)}},
			"6 MiB image":                {{name: "picture", filename: "big.png", data: big}},
			// Within the body's allowance for form overhead, so only the
			// count of the file's own bytes can refuse it.
			"5 MiB and 1 KiB": {{name: "picture", filename: "big.png", data: big[:5<<20+1<<10]}},
			"missing part":    {{name: "image", filename: "a.png", data: png}},
			"unknown part":    {{name: "picture", filename: "a.png", data: png}, {name: "owner", data: []byte("admin")}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				body, ctype := tc.body, tc.ct
				if p, ok := parts[tc.name]; ok {
					body, ctype = multipartBody(t, p...)
				}
				for _, route := range []struct{ method, path string }{
					{"PUT", "/api/users/" + d.User.ID + "/picture"},
					{"POST", "/api/auth/signup"},
				} {
					r := alice.do(route.method, route.path, body, "Content-Type", ctype)
					if route.method == "POST" && (tc.name == "unknown part" || tc.name == "missing part" || tc.name == "JSON") {
						// At sign-up the picture is optional and JSON is
						// fine, but the fields are missing or unknown.
						r.wantProblem(t, http.StatusUnprocessableEntity, "validation_failed")
					} else {
						r.wantProblem(t, tc.status, tc.code)
					}
				}
				if got := storedFiles(t, env, user.PictureBucket); !slices.Equal(got, filesBefore) {
					t.Errorf("stored pictures %q after the bad upload, want %q", got, filesBefore)
				}
				var after struct{ User userDoc }
				alice.do("GET", "/api/users/me", nil).want(t, http.StatusOK).json(t, &after)
				if !sameUser(after.User, before.User) || after.User.PictureURL != before.User.PictureURL {
					t.Errorf("user after the bad upload %+v, want %+v", after.User, before.User)
				}
			})
		}

		// A body too large by its declared length is refused before it is
		// read, and one that streams without a length is cut off.
		t.Run("too large, streamed", func(t *testing.T) {
			body, ctype := multipartBody(t, part{name: "picture", filename: "big.png", data: big})
			req, err := http.NewRequest("PUT", env.srv.URL+"/api/users/"+d.User.ID+"/picture", io.MultiReader(bytes.NewReader(body)))
			if err != nil {
				t.Fatal(err)
			}
			req.ContentLength = -1 // chunked: the server cannot know the size in advance
			req.Header.Set("Content-Type", ctype)
			req.Header.Set("Authorization", "Bearer "+alice.token)
			resp, err := alice.http.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("streamed 6.5 MiB upload: status %d, want 413", resp.StatusCode)
			}
			if got := storedFiles(t, env, user.PictureBucket); !slices.Equal(got, filesBefore) {
				t.Errorf("stored pictures %q after the streamed large upload, want %q", got, filesBefore)
			}
		})
	})
}

// TestPictureFileNotFound: ids that are not ids, and ids of nothing, are
// 404 problems.
func TestPictureFileNotFound(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, nil)
		for _, id := range []string{"0123456789abcdef01234567", "nothex", "..%2f..%2fetc%2fpasswd", strings.Repeat("a", 25), "ABCDEF0123456789ABCDEF01"} {
			getFile(t, env, "/api/files/"+id).wantProblem(t, http.StatusNotFound, "not_found")
		}
	})
}

// TestOrphanPicturesSwept: a picture whose record was never committed (a
// crash between the two) is removed by the sweep once it is older than the
// bound, and kept while it is younger (it may be an upload in flight); a
// picture a user points at is always kept.
func TestOrphanPicturesSwept(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, nil)
		ctx := context.Background()
		alice := env.newClient()
		d := alice.signup("alice", "alice@example.com", "password1")
		png := testImage(t, "png", 16, 16, 5)
		var set struct{ User userDoc }
		alice.upload("PUT", "/api/users/"+d.User.ID+"/picture", part{name: "picture", filename: "a.png", data: png}).want(t, http.StatusOK).json(t, &set)
		kept := storedFiles(t, env, user.PictureBucket)
		orphan, err := env.app.userSvc.StorePicture(ctx, bytes.NewReader(png))
		if err != nil {
			t.Fatal(err)
		}
		if got := storedFiles(t, env, user.PictureBucket); len(got) != 2 {
			t.Fatalf("after storing an orphan the store holds %q", got)
		}
		if n, err := env.app.sweepOrphanFiles(ctx, time.Now().Add(-orphanAge)); n != 0 || err != nil {
			t.Errorf("sweep with the running server's bound = %d, %v; want 0 (the orphan is young), nil", n, err)
		}
		if n, err := env.app.sweepOrphanFiles(ctx, time.Now().Add(time.Second)); n != 1 || err != nil {
			t.Errorf("sweep of everything written until now = %d, %v; want 1, nil", n, err)
		}
		if got := storedFiles(t, env, user.PictureBucket); !slices.Equal(got, kept) {
			t.Errorf("after the sweep the store holds %q, want only %q (orphan %s gone)", got, kept, orphan)
		}
		getFile(t, env, set.User.PictureURL).want(t, http.StatusOK)
	})
}
