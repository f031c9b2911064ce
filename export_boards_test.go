package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"corkboard/board"
	"corkboard/objectid"
	"corkboard/user"
	"corkboard/user/usertest"
)

// boardData is what putBoardData stored: the users, the board and the
// notifications, and the bytes of every file they point at.
type boardData struct {
	alice, bob, carol, dave user.User
	board                   board.Board
	// invite is dave's open invitation; response the answer alice got
	// from bob; orphan the answer alice got from a user who has since
	// deleted their account.
	invite, accepted, response, orphan board.Notification
	files                              map[fileRef][]byte
}

// notifications returns the notifications of d.
func (d boardData) notifications() []board.Notification {
	return []board.Notification{d.invite, d.accepted, d.response, d.orphan}
}

// minimalPDF returns a one-page PDF that shows text: a header, five
// objects (catalog, page tree, page, content stream, font), a
// cross-reference table whose offsets point at them, and a trailer. It is
// built rather than pasted so that the offsets are right by construction.
func minimalPDF(text string) []byte {
	content := fmt.Sprintf("BT /F1 18 Tf 20 40 Td (%s) Tj ET", text)
	objects := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offsets := make([]int, len(objects))
	for i, o := range objects {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objects)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objects)+1, xref)
	return b.Bytes()
}

// TestMinimalPDF checks the PDF the board tests attach: sniffed as a PDF,
// as the upload path sniffs it, with every offset of its cross-reference
// table at the object it names.
func TestMinimalPDF(t *testing.T) {
	pdf := minimalPDF("Ferry tickets")
	if got := http.DetectContentType(pdf); got != "application/pdf" {
		t.Errorf("DetectContentType(minimalPDF) = %q, want application/pdf", got)
	}
	s := string(pdf)
	var xref int
	if _, err := fmt.Sscanf(s[strings.LastIndex(s, "startxref\n"):], "startxref\n%d", &xref); err != nil || !strings.HasPrefix(s[xref:], "xref\n0 6\n") {
		t.Fatalf("startxref = %d, %v; it does not point at the cross-reference table:\n%s", xref, err, s)
	}
	entries := strings.Split(s[xref:], "\n")[3:8]
	for i, e := range entries {
		var off int
		if _, err := fmt.Sscanf(e, "%010d 00000 n", &off); err != nil || len(e) != 19 || !strings.HasPrefix(s[off:], fmt.Sprintf("%d 0 obj\n", i+1)) {
			t.Errorf("cross-reference entry %d = %q (%v): not a 20-byte entry pointing at object %d", i+1, e, err, i+1)
		}
	}
}

// putFile stores data in st under a fresh id in bucket, and records it in
// files.
func putFile(t *testing.T, st store, files map[fileRef][]byte, bucket string, data []byte) string {
	t.Helper()
	id := objectid.New(exportNow)
	if _, err := st.PutFile(context.Background(), bucket, id, bytes.NewReader(data)); err != nil {
		t.Fatalf("PutFile(%s, %s): %v", bucket, id, err)
	}
	files[fileRef{bucket, id}] = data
	return id
}

// putBoardData stores in st what the board service leaves after a few
// requests: four users, a board of alice's with a background image, two
// lists, three cards, two attachments on one card (a PNG and a PDF), bob
// and carol as members, a pending invitation of dave's and bob's
// favourite; and notifications: dave's open invitation, bob's invitation,
// accepted, the invite_response alice got from bob, and one she got from
// a user who has since deleted their account. Every file is stored before
// the record that points at it, as the service does.
func putBoardData(t *testing.T, st store) boardData {
	t.Helper()
	ctx := context.Background()
	d := boardData{files: make(map[fileRef][]byte)}
	picture := usertest.PNG(t, 16, 16, 10)
	d.alice = putPictureUser(t, st, "alice", picture, exportNow)
	d.files[fileRef{user.PictureBucket, d.alice.PictureID}] = picture
	d.bob = putUser(t, st, "bob", nil, exportNow)
	d.carol = putUser(t, st, "carol", nil, exportNow)
	d.dave = putUser(t, st, "dave", nil, exportNow)

	b, err := board.New(d.alice.ID, "Holidays <2027> & more", "", exportNow)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	todo, err := b.AddList("To do", exportNow)
	must(err)
	done, err := b.AddList("Done", exportNow)
	must(err)
	ferry, err := b.AddCard(todo.ID, "Book the ferry", "Two cabins.\nNot the night one.", exportNow)
	must(err)
	_, err = b.AddCard(todo.ID, "Pack", "", exportNow)
	must(err)
	_, err = b.AddCard(done.ID, "Ask for leave", "", exportNow)
	must(err)
	png, pdf := usertest.PNG(t, 40, 30, 11), minimalPDF("Ferry tickets")
	must(b.AddAttachment(ferry.ID, board.Attachment{
		ID: putFile(t, st, d.files, board.AttachmentBucket, png), Name: "timetable.png", ContentType: "image/png", Size: int64(len(png)), CreatedAt: exportNow,
	}))
	must(b.AddAttachment(ferry.ID, board.Attachment{
		ID: putFile(t, st, d.files, board.AttachmentBucket, pdf), Name: "tickets (1).pdf", ContentType: "application/pdf", Size: int64(len(pdf)), CreatedAt: exportNow,
	}))
	_, err = b.SetBackgroundFile(putFile(t, st, d.files, board.BackgroundBucket, usertest.PNG(t, 64, 36, 12)))
	must(err)
	for _, u := range []user.User{d.bob, d.carol, d.dave} {
		must(b.Invite(d.alice.ID, u.ID))
	}
	must(b.AcceptInvite(d.bob.ID))
	must(b.AcceptInvite(d.carol.ID))
	must(b.SetFavourite(d.bob.ID, true))
	b.Version = 7 // as if written seven times: the version travels
	b.UpdatedAt = exportNow.Add(time.Hour)
	must(st.CreateBoard(ctx, *b))
	stored, err := st.BoardByID(ctx, b.ID)
	must(err)
	d.board = stored

	yes, no := true, false
	note := func(to, from user.User, typ string, accepted *bool, handled bool) board.Notification {
		n := board.Notification{
			ID: objectid.New(exportNow), UserID: to.ID, Type: typ, BoardID: b.ID, BoardTitle: b.Title,
			FromUserID: from.ID, FromUsername: from.Username, Accepted: accepted, Handled: handled, CreatedAt: exportNow,
		}
		if handled {
			n.HandledAt = exportNow.Add(time.Minute)
		}
		must(st.CreateNotification(ctx, n))
		return n
	}
	d.invite = note(d.dave, d.alice, board.NotificationInvite, nil, false)
	d.accepted = note(d.bob, d.alice, board.NotificationInvite, &yes, true)
	d.response = note(d.alice, d.bob, board.NotificationInviteResponse, &yes, false)
	gone := user.User{ID: objectid.New(exportNow), Username: "erin"} // deleted her account since
	d.orphan = note(d.alice, gone, board.NotificationInviteResponse, &no, false)
	return d
}

// wantFiles checks that st holds every file of files, byte for byte.
func wantFiles(t *testing.T, st store, files map[fileRef][]byte) {
	t.Helper()
	for f, want := range files {
		r, err := st.OpenFile(context.Background(), f.bucket, f.id)
		if err != nil {
			t.Errorf("OpenFile(%s): %v", f, err)
			continue
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("file %s = %d bytes, %v; want the %d bytes exported", f, len(got), err, len(want))
		}
	}
}

// wantNoFilesOf checks that st holds none of files.
func wantNoFilesOf(t *testing.T, st store, files map[fileRef][]byte) {
	t.Helper()
	for f := range files {
		r, err := st.OpenFile(context.Background(), f.bucket, f.id)
		if err == nil {
			r.Close()
		}
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("OpenFile(%s) = %v; want fs.ErrNotExist", f, err)
		}
	}
}

// TestExportBoards moves a board with everything on it, and its
// notifications, from each store to the other and back: every record
// comes back identical, JSON byte for JSON byte, and so does every file;
// the board and its notifications then work in the new store as they did.
func TestExportBoards(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		ctx := context.Background()
		src := newStore(t, o)
		d := putBoardData(t, src)
		original := storedRecords(t, src)

		var logs bytes.Buffer
		var buf bytes.Buffer
		n, err := exportStore(ctx, src, &buf, slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil || n["user"] != 4 || n["board"] != 1 || n["notification"] != 4 || n["file"] != 4 {
			t.Fatalf("exportStore = %v, %v; want 4 users, 1 board, 4 notifications and 4 files", n, err)
		}
		if logs.Len() != 0 {
			t.Errorf("exportStore logged %s, want nothing", logs.String())
		}
		export := buf.Bytes()
		records := recordsOf(t, export)
		lines := strings.Split(strings.TrimSpace(records), "\n")
		var kinds []string
		for _, l := range lines {
			kinds = append(kinds, strings.SplitN(strings.TrimPrefix(l, `{"kind":"`), `"`, 2)[0])
		}
		wantKinds := []string{"corkboard-export", "user", "user", "user", "user", "board",
			"notification", "notification", "notification", "notification", "file", "file", "file", "file", "end"}
		if !slices.Equal(kinds, wantKinds) {
			t.Errorf("the export's lines are of kinds %v, want %v", kinds, wantKinds)
		}
		if want := `{"kind":"end","counts":{"board":1,"file":4,"notification":4,"session":0,"user":4}}`; lines[len(lines)-1] != want {
			t.Errorf("end record = %s, want %s", lines[len(lines)-1], want)
		}
		var names []string
		for _, e := range readArchive(t, export)[1:] {
			names = append(names, e.hdr.Name)
		}
		var wantNames []string
		for f := range d.files {
			wantNames = append(wantNames, f.entryName())
		}
		slices.Sort(names)
		slices.Sort(wantNames)
		if !slices.Equal(names, wantNames) {
			t.Errorf("the archive's file entries are %v, want %v", names, wantNames)
		}
		checkRecords(t, "records exported", exportedRecords(t, []byte(records)), original)

		other := newStore(t, otherStore(o))
		if n, err := importStore(ctx, other, bytes.NewReader(export), discardLog); err != nil ||
			n["user"] != 4 || n["board"] != 1 || n["notification"] != 4 || n["file"] != 4 {
			t.Fatalf("importStore into the other store = %v, %v; want 4 users, 1 board, 4 notifications and 4 files", n, err)
		}
		checkRecords(t, "records after "+o.name+" → "+otherStore(o).name, storedRecords(t, other), original)
		wantFiles(t, other, d.files)

		back := newStore(t, o)
		viaOther := exportArchive(t, other)
		importArchive(t, back, viaOther)
		checkRecords(t, "records after the way back", storedRecords(t, back), original)
		wantFiles(t, back, d.files)
		if again := exportLines(t, back); !slices.Equal(again, sortedLines(records)) {
			t.Errorf("the way there and back changed the export:\nbefore: %s\nafter:  %s", records, strings.Join(again, "\n"))
		}

		// The moved board and notifications work as before: the version
		// goes on from 7, bob's favourite is listed first, dave's
		// invitation can be answered once and alice's answers are there.
		for name, st := range map[string]store{otherStore(o).name: other, o.name + " again": back} {
			b, err := st.UpdateBoard(ctx, d.board.ID, func(b *board.Board) error { return b.SetTitle("Holidays") })
			if err != nil || b.Version != 8 || len(b.Lists) != 2 || len(b.Attachments()) != 2 || b.BackgroundID != d.board.BackgroundID {
				t.Errorf("%s: UpdateBoard = version %d, %d lists, %d attachments, background %q, %v; want version 8 and the board as exported",
					name, b.Version, len(b.Lists), len(b.Attachments()), b.BackgroundID, err)
			}
			if s, err := st.BoardSummaries(ctx, d.bob.ID); err != nil || len(s) != 1 || !s[0].IsFavourite || s[0].MemberCount != 3 {
				t.Errorf("%s: BoardSummaries(bob) = %+v, %v; want the board, his favourite, with 3 members", name, s, err)
			}
			if ids, err := st.BoardIDsFor(ctx, d.dave.ID); err != nil || !slices.Equal(ids, []string{d.board.ID}) {
				t.Errorf("%s: BoardIDsFor(dave, invited) = %v, %v; want the board", name, ids, err)
			}
			if got, err := st.Notifications(ctx, d.alice.ID); err != nil || len(got) != 2 {
				t.Errorf("%s: Notifications(alice) = %+v, %v; want bob's and erin's answers", name, got, err)
			}
			if _, err := st.HandleNotification(ctx, d.invite.ID, true, exportNow.Add(time.Hour)); err != nil {
				t.Errorf("%s: HandleNotification(dave's invitation) = %v", name, err)
			}
			if _, err := st.HandleNotification(ctx, d.accepted.ID, true, exportNow.Add(time.Hour)); !errors.Is(err, board.ErrAlreadyHandled) {
				t.Errorf("%s: HandleNotification(bob's invitation, answered before the move) = %v, want ErrAlreadyHandled", name, err)
			}
		}
	})
}
