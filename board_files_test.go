package main

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"corkboard/board"
	"corkboard/user/usertest"
)

// TestBoardBackgrounds: an uploaded background is served publicly from
// its bytes; replacing it, or setting a URL instead, deletes the old bytes.
func TestBoardBackgrounds(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, func(c *config) { c.rateLimits = false })
		alice := env.newClient()
		alice.signup("alice", "alice@example.com", "password1")
		b := alice.createBoard("Pretty")
		png := testImage(t, "png", 32, 20, 11)

		got := boardOf(t, alice.upload("PUT", "/api/boards/"+b.ID+"/background",
			part{name: "background", filename: "../sky.png", contentType: "text/plain", data: png}).want(t, http.StatusOK))
		stored := storedFiles(t, env, board.BackgroundBucket)
		if len(stored) != 1 || got.BackgroundURL != "/api/files/"+stored[0] {
			t.Fatalf("backgroundURL %q, stored backgrounds %q", got.BackgroundURL, stored)
		}
		f := getFile(t, env, got.BackgroundURL).want(t, http.StatusOK)
		if f.Header.Get("Content-Type") != "image/png" || f.Header.Get("X-Content-Type-Options") != "nosniff" || !bytes.Equal(f.body, png) {
			t.Errorf("GET %s: Content-Type %q, nosniff %q, %d bytes; want the PNG uploaded", got.BackgroundURL,
				f.Header.Get("Content-Type"), f.Header.Get("X-Content-Type-Options"), len(f.body))
		}
		if s := alice.summaries(); len(s) != 1 || s[0].BackgroundURL != got.BackgroundURL {
			t.Errorf("summaries %+v, want the backgroundURL %s", s, got.BackgroundURL)
		}

		// Replacing it deletes the old bytes.
		jpg := testImage(t, "jpeg", 16, 16, 3)
		next := boardOf(t, alice.upload("PUT", "/api/boards/"+b.ID+"/background", part{name: "background", filename: "b.jpg", data: jpg}).want(t, http.StatusOK))
		getFile(t, env, got.BackgroundURL).wantProblem(t, http.StatusNotFound, "not_found")
		if f := getFile(t, env, next.BackgroundURL).want(t, http.StatusOK); f.Header.Get("Content-Type") != "image/jpeg" {
			t.Errorf("new background served as %q", f.Header.Get("Content-Type"))
		}
		if n := len(storedFiles(t, env, board.BackgroundBucket)); n != 1 {
			t.Errorf("after replacing the background the store holds %d, want 1", n)
		}

		// A URL instead deletes the uploaded one too.
		withURL := boardOf(t, alice.do("PATCH", "/api/boards/"+b.ID, map[string]string{"backgroundURL": "https://example.com/a.png"}).want(t, http.StatusOK))
		if withURL.BackgroundURL != "https://example.com/a.png" {
			t.Errorf("backgroundURL %q after PATCH", withURL.BackgroundURL)
		}
		getFile(t, env, next.BackgroundURL).wantProblem(t, http.StatusNotFound, "not_found")
		if got := storedFiles(t, env, board.BackgroundBucket); len(got) != 0 {
			t.Errorf("after setting a URL the store holds backgrounds %q", got)
		}
	})
}

// TestCardAttachments: images and PDFs attach to a card; members download
// them as attachments under a sanitised name, nobody else can (not even by
// the public files route); removing the attachment, its card or its list
// deletes the bytes.
func TestCardAttachments(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, func(c *config) { c.rateLimits = false })
		alice, bob := env.newClient(), env.newClient()
		alice.signup("alice", "alice@example.com", "password1")
		bob.signup("bob", "bob@example.com", "password1")
		b := joinedBoard(t, alice, "Docs", bob)
		l := alice.addList(b.ID, "Files")
		c := alice.addCard(b.ID, l.ID, "Contract")
		pdf := minimalPDF("Hello, board")
		cardPath := "/api/boards/" + b.ID + "/cards/" + c.ID

		var a struct{ Attachment attachmentDoc }
		alice.upload("POST", cardPath+"/attachments",
			part{name: "file", filename: `C:\Users\alice\Vertrag "final" für Bob.pdf`, contentType: "image/png", data: pdf}).
			want(t, http.StatusCreated).json(t, &a)
		att := a.Attachment
		want := attachmentDoc{ID: att.ID, Name: "Vertrag final für Bob.pdf", ContentType: "application/pdf", Size: int64(len(pdf)),
			URL: cardPath + "/attachments/" + att.ID}
		if att != want {
			t.Fatalf("attachment %+v, want %+v", att, want)
		}
		if got := alice.board(b.ID).Lists[0].Cards[0].Attachments; len(got) != 1 || got[0] != want {
			t.Errorf("the card's attachments %+v, want [%+v]", got, want)
		}

		// A member downloads it, as an attachment.
		r := bob.do("GET", att.URL, nil).want(t, http.StatusOK)
		for h, v := range map[string]string{
			"Content-Type":           "application/pdf",
			"Content-Disposition":    `attachment; filename="Vertrag final f_r Bob.pdf"; filename*=UTF-8''Vertrag%20final%20f%C3%BCr%20Bob.pdf`,
			"X-Content-Type-Options": "nosniff",
			"Cache-Control":          "private, no-cache",
		} {
			if got := r.Header.Get(h); got != v {
				t.Errorf("GET attachment: %s = %q, want %q", h, got, v)
			}
		}
		if !bytes.Equal(r.body, pdf) {
			t.Errorf("GET attachment: %d bytes, not the %d uploaded", len(r.body), len(pdf))
		}
		// Not public: the files route serves only images meant for <img>.
		getFile(t, env, "/api/files/"+att.ID).wantProblem(t, http.StatusNotFound, "not_found")
		env.newClient().do("GET", att.URL, nil).want(t, http.StatusUnauthorized)

		// An image attachment, with a plain name.
		gif := testImage(t, "gif", 10, 10, 5)
		var g struct{ Attachment attachmentDoc }
		bob.upload("POST", cardPath+"/attachments", part{name: "file", filename: "../../etc/cat.gif", data: gif}).
			want(t, http.StatusCreated).json(t, &g)
		if g.Attachment.Name != "cat.gif" || g.Attachment.ContentType != "image/gif" {
			t.Errorf("gif attachment %+v", g.Attachment)
		}
		if cd := alice.do("GET", g.Attachment.URL, nil).want(t, http.StatusOK).Header.Get("Content-Disposition"); cd != `attachment; filename="cat.gif"` {
			t.Errorf("gif Content-Disposition %q", cd)
		}
		// Its id on another card of the same board is not there.
		other := alice.addCard(b.ID, l.ID, "Other")
		alice.do("GET", "/api/boards/"+b.ID+"/cards/"+other.ID+"/attachments/"+g.Attachment.ID, nil).wantProblem(t, http.StatusNotFound, "not_found")

		// Removing it deletes the bytes.
		bob.do("DELETE", att.URL, nil).want(t, http.StatusNoContent)
		bob.do("GET", att.URL, nil).wantProblem(t, http.StatusNotFound, "not_found")
		bob.do("DELETE", att.URL, nil).wantProblem(t, http.StatusNotFound, "not_found")
		if got := storedFiles(t, env, board.AttachmentBucket); !slices.Equal(got, []string{g.Attachment.ID}) {
			t.Errorf("after deleting the PDF the store holds %q, want only the GIF", got)
		}

		// Deleting a card, then a list, deletes their attachments' bytes.
		alice.do("DELETE", cardPath, nil).want(t, http.StatusNoContent)
		if got := storedFiles(t, env, board.AttachmentBucket); len(got) != 0 {
			t.Errorf("after deleting the card the store holds %q", got)
		}
		alice.upload("POST", "/api/boards/"+b.ID+"/cards/"+other.ID+"/attachments", part{name: "file", filename: "a.pdf", data: pdf}).want(t, http.StatusCreated)
		alice.do("DELETE", "/api/boards/"+b.ID+"/lists/"+l.ID, nil).want(t, http.StatusNoContent)
		if got := storedFiles(t, env, board.AttachmentBucket); len(got) != 0 {
			t.Errorf("after deleting the list the store holds %q", got)
		}
	})
}

// TestHostileBoardUploads sends every kind of bad upload to the background
// and attachment routes: each gets its problem and leaves no file and no
// changed board behind.
func TestHostileBoardUploads(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, func(c *config) { c.rateLimits = false })
		alice := env.newClient()
		alice.signup("alice", "alice@example.com", "password1")
		b := alice.createBoard("Target")
		l := alice.addList(b.ID, "L")
		c := alice.addCard(b.ID, l.ID, "C")
		png := testImage(t, "png", 16, 16, 3)
		pdf := minimalPDF("ok")
		alice.upload("PUT", "/api/boards/"+b.ID+"/background", part{name: "background", filename: "a.png", data: png}).want(t, http.StatusOK)
		alice.upload("POST", "/api/boards/"+b.ID+"/cards/"+c.ID+"/attachments", part{name: "file", filename: "a.pdf", data: pdf}).want(t, http.StatusCreated)
		before := alice.boardJSON(b.ID)
		filesBefore := [][]string{storedFiles(t, env, board.BackgroundBucket), storedFiles(t, env, board.AttachmentBucket)}

		bigImage := usertest.PNG(t, 1500, 1500, 9) // about 6.4 MiB
		bigPDF := append(slices.Clip(pdf), bytes.Repeat([]byte("% padding\n"), (21<<20)/10)...)
		html := []byte("<!DOCTYPE html><html><script>alert(document.cookie)</script></html>")
		svg := []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`)
		routes := []struct {
			path, part string
			good, big  []byte
			bigLimit   string
		}{
			{"/api/boards/" + b.ID + "/background", "background", png, bigImage, "5 MiB"},
			{"/api/boards/" + b.ID + "/cards/" + c.ID + "/attachments", "file", pdf, bigPDF, "20 MiB"},
		}
		for _, rt := range routes {
			method := "PUT"
			if rt.part == "file" {
				method = "POST"
			}
			whole, ct := multipartBody(t, part{name: rt.part, filename: "a", data: rt.good})
			cases := []struct {
				name   string
				parts  []part
				body   []byte
				ct     string
				status int
				code   string
			}{
				{"text named .pdf", []part{{name: rt.part, filename: "a.pdf", contentType: "application/pdf", data: []byte("just text\n")}}, nil, "", 415, "unsupported_media_type"},
				{"HTML declared as an image", []part{{name: rt.part, filename: "a.png", contentType: "image/png", data: html}}, nil, "", 415, "unsupported_media_type"},
				{"SVG", []part{{name: rt.part, filename: "a.svg", contentType: "image/svg+xml", data: svg}}, nil, "", 415, "unsupported_media_type"},
				{"too large", []part{{name: rt.part, filename: "big", data: rt.big}}, nil, "", 413, "payload_too_large"},
				{"missing part", []part{{name: "other", filename: "a.png", data: png}}, nil, "", 422, "validation_failed"},
				{"empty part", []part{{name: rt.part, filename: "", data: nil}}, nil, "", 422, "validation_failed"},
				{"unknown part after the file", []part{{name: rt.part, filename: "a", data: rt.good}, {name: "owner", data: []byte("x")}}, nil, "", 422, "validation_failed"},
				{"the file twice", []part{{name: rt.part, filename: "a", data: rt.good}, {name: rt.part, filename: "b", data: rt.good}}, nil, "", 422, "validation_failed"},
				{"truncated", nil, whole[:len(whole)/2], ct, 400, "malformed_multipart"},
				{"no boundary", nil, whole, "multipart/form-data", 400, "malformed_multipart"},
				{"JSON", nil, []byte(`{"file":"x"}`), "application/json", 415, "unsupported_media_type"},
			}
			if rt.part == "background" {
				// A PDF is an attachment, not an image.
				cases = append(cases, struct {
					name   string
					parts  []part
					body   []byte
					ct     string
					status int
					code   string
				}{"a PDF as background", []part{{name: rt.part, filename: "a.png", data: pdf}}, nil, "", 415, "unsupported_media_type"})
			}
			for _, tc := range cases {
				t.Run(rt.part+"/"+tc.name, func(t *testing.T) {
					body, ctype := tc.body, tc.ct
					if tc.parts != nil {
						body, ctype = multipartBody(t, tc.parts...)
					}
					p := alice.do(method, rt.path, body, "Content-Type", ctype).wantProblem(t, tc.status, tc.code)
					if tc.status == 413 && !strings.Contains(p.Detail, rt.bigLimit) {
						t.Errorf("413 detail %q does not say %s", p.Detail, rt.bigLimit)
					}
					if got := [][]string{storedFiles(t, env, board.BackgroundBucket), storedFiles(t, env, board.AttachmentBucket)}; !slices.Equal(got[0], filesBefore[0]) || !slices.Equal(got[1], filesBefore[1]) {
						t.Errorf("stored files %q after the bad upload, want %q", got, filesBefore)
					}
					if after := alice.boardJSON(b.ID); after != before {
						t.Errorf("the bad upload changed the board")
					}
				})
			}
		}
	})
}

// TestBoardFilesSurviveTheSweep: the start-up sweep of orphan files keeps
// every background and attachment a board points at, and removes one no
// board points at (the bytes of an upload whose board write never came).
func TestBoardFilesSurviveTheSweep(t *testing.T) {
	env := startEnv(t, fileStore, nil)
	alice := env.newClient()
	alice.signup("alice", "alice@example.com", "password1")
	b := alice.createBoard("Kept")
	c := alice.addCard(b.ID, alice.addList(b.ID, "L").ID, "C")
	alice.upload("PUT", "/api/boards/"+b.ID+"/background", part{name: "background", filename: "a.png", data: testImage(t, "png", 8, 8, 1)}).want(t, http.StatusOK)
	alice.upload("POST", "/api/boards/"+b.ID+"/cards/"+c.ID+"/attachments", part{name: "file", filename: "a.pdf", data: minimalPDF("x")}).want(t, http.StatusCreated)
	kept := [][]string{storedFiles(t, env, board.BackgroundBucket), storedFiles(t, env, board.AttachmentBucket)}
	if _, _, err := env.app.boardSvc.StoreFile(context.Background(), board.AttachmentBucket, bytes.NewReader(minimalPDF("orphan"))); err != nil {
		t.Fatal(err)
	}
	if _, err := env.app.sweepOrphanFiles(context.Background(), time.Now().Add(time.Second)); err != nil {
		t.Fatalf("sweepOrphanFiles: %v", err)
	}
	got := [][]string{storedFiles(t, env, board.BackgroundBucket), storedFiles(t, env, board.AttachmentBucket)}
	if !slices.Equal(got[0], kept[0]) || !slices.Equal(got[1], kept[1]) {
		t.Errorf("after the sweep the store holds %q, want %q", got, kept)
	}
}
