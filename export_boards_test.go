package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"os"
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

// TestImportRefusesBadBoards imports exports whose boards or notifications
// are wrong, or whose board files are, into each store: each is refused
// with an error that says what is wrong, and the store is left empty, of
// files too, though some had been stored before the fault came.
func TestImportRefusesBadBoards(t *testing.T) {
	src := newStore(t, fileStore)
	d := putBoardData(t, src)
	good := exportArchive(t, src)
	entries := readArchive(t, good)
	lines := strings.Split(strings.TrimSpace(string(entries[0].data)), "\n")
	lines = lines[:len(lines)-1] // the end record, which archive rewrites

	// line returns the index of the only line holding all of subs.
	line := func(ls []string, subs ...string) int {
		t.Helper()
		found := -1
		for i, l := range ls {
			if !slices.ContainsFunc(subs, func(s string) bool { return !strings.Contains(l, s) }) {
				if found >= 0 {
					t.Fatalf("two lines hold %q", subs)
				}
				found = i
			}
		}
		if found < 0 {
			t.Fatalf("no line holds %q", subs)
		}
		return found
	}
	record := func(kind, id string) []string { return []string{`{"kind":"` + kind + `","record":{"id":"` + id + `"`} }
	boardLine := record("board", d.board.ID)
	// drop returns the lines without the line of kind and id.
	drop := func(kind, id string) func([]string) []string {
		return func(ls []string) []string {
			return slices.Delete(ls, line(ls, record(kind, id)...), line(ls, record(kind, id)...)+1)
		}
	}
	// replace returns the lines with old replaced by new in the line of
	// kind and id.
	replace := func(kind, id, old, new string) func([]string) []string {
		return func(ls []string) []string {
			i := line(ls, append(record(kind, id), old)...)
			ls[i] = strings.Replace(ls[i], old, new, 1)
			return ls
		}
	}
	// archive returns the good export with its lines changed by edit and
	// its file entries by files (either may be nil), and an end record
	// that counts the lines, or end instead if it is not "".
	archive := func(edit func([]string) []string, files func([]archiveEntry) []archiveEntry, end string) []byte {
		ls := slices.Clone(lines)
		if edit != nil {
			ls = edit(ls)
		}
		if end == "" {
			n := make(counts)
			for _, l := range ls[1:] {
				var e exportLine
				if err := json.Unmarshal([]byte(l), &e); err != nil {
					t.Fatal(err)
				}
				n[e.Kind]++
			}
			raw, err := json.Marshal(exportLine{Kind: kindEnd, Counts: n})
			if err != nil {
				t.Fatal(err)
			}
			end = string(raw)
		}
		es := []archiveEntry{{entries[0].hdr, []byte(strings.Join(ls, "\n") + "\n" + end + "\n")}}
		for _, e := range entries[1:] {
			es = append(es, archiveEntry{e.hdr, bytes.Clone(e.data)})
		}
		if files != nil {
			es = files(es)
		}
		return makeArchive(t, es...)
	}
	attachments := d.board.Attachments()
	pdf := fileRef{board.AttachmentBucket, attachments[1].ID}
	entry := func(es []archiveEntry, f fileRef) int {
		i := slices.IndexFunc(es, func(e archiveEntry) bool { return e.hdr.Name == f.entryName() })
		if i < 0 {
			t.Fatalf("no archive entry %s", f.entryName())
		}
		return i
	}
	unknown := objectid.New(exportNow)

	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"a board whose owner is missing", archive(drop("user", d.alice.ID), nil, ""),
			fmt.Sprintf("board %s comes before its user %s, or it is missing", d.board.ID, d.alice.ID)},
		{"a board whose member is missing", archive(drop("user", d.carol.ID), nil, ""),
			fmt.Sprintf("board %s comes before its user %s, or it is missing", d.board.ID, d.carol.ID)},
		{"a board whose invitee is missing", archive(drop("user", d.dave.ID), nil, ""),
			fmt.Sprintf("board %s comes before its user %s, or it is missing", d.board.ID, d.dave.ID)},
		{"a notification whose board is missing", archive(replace("notification", d.response.ID, `"boardId":"`+d.board.ID, `"boardId":"`+unknown), nil, ""),
			fmt.Sprintf("notification %s comes before its board %s, or it is missing", d.response.ID, unknown)},
		{"a notification before its board", archive(func(ls []string) []string {
			b := line(ls, boardLine...)
			moved := ls[b]
			return append(slices.Delete(ls, b, b+1), moved)
		}, nil, ""), "comes before its board " + d.board.ID},
		{"a notification whose recipient is missing", archive(replace("notification", d.invite.ID, `"userId":"`+d.dave.ID, `"userId":"`+unknown), nil, ""),
			fmt.Sprintf("notification %s comes before its user %s, or it is missing", d.invite.ID, unknown)},
		{"a board twice", archive(func(ls []string) []string {
			return slices.Insert(ls, line(ls, boardLine...), ls[line(ls, boardLine...)])
		}, nil, ""),
			"board " + d.board.ID + " appears twice"},
		{"a favourite of someone not a member", archive(replace("board", d.board.ID, `"favouritedBy":["`+d.bob.ID, `"favouritedBy":["`+d.dave.ID), nil, ""),
			"not a member"},
		{"an attachment id that is no id", archive(replace("board", d.board.ID, `"id":"`+pdf.id, `"id":"../../`+pdf.id[6:]), nil, ""),
			"is not a valid id"},
		{"an answered invite without an answer", archive(replace("notification", d.accepted.ID, `"accepted":true`, `"accepted":null`), nil, ""),
			"exactly when it is handled"},
		{"a board record with an unknown field", archive(replace("board", d.board.ID, `"record":{`, `"record":{"admins":[],`), nil, ""),
			"unknown field"},
		{"a board in a version-3 archive", archive(func(ls []string) []string {
			ls[0] = `{"kind":"corkboard-export","version":3}`
			return ls
		}, nil, ""), `record 6: an export of version 3 carries no records of kind "board"`},
		{"a notification in a version-3 archive", archive(func(ls []string) []string {
			ls[0] = `{"kind":"corkboard-export","version":3}`
			return slices.Delete(ls, line(ls, boardLine...), line(ls, boardLine...)+1)
		}, nil, ""), `an export of version 3 carries no records of kind "notification"`},
		{"an end record without the board", archive(nil, nil, `{"kind":"end","counts":{"file":4,"notification":4,"session":0,"user":4}}`),
			"end record counts"},
		{"a file two records point at", archive(replace("user", d.carol.ID, `"roles":`, `"pictureId":"`+d.alice.PictureID+`","roles":`), nil, ""),
			// Users come in no set order: either may be named first.
			fmt.Sprintf("points at file pictures/%s, which user ", d.alice.PictureID)},
		{"a board's attachment missing from the archive", archive(nil, func(es []archiveEntry) []archiveEntry {
			return slices.Delete(es, entry(es, pdf), entry(es, pdf)+1)
		}, ""), fmt.Sprintf("file %s is missing from the export archive", pdf)},
		{"a board's background missing from the archive", archive(nil, func(es []archiveEntry) []archiveEntry {
			bg := fileRef{board.BackgroundBucket, d.board.BackgroundID}
			return slices.Delete(es, entry(es, bg), entry(es, bg)+1)
		}, ""), fmt.Sprintf("file backgrounds/%s is missing from the export archive", d.board.BackgroundID)},
		{"a board's attachment changed", archive(nil, func(es []archiveEntry) []archiveEntry {
			es[entry(es, pdf)].data[20] ^= 1
			return es
		}, ""), fmt.Sprintf("file %s: its bytes have sha256", pdf)},
		{"a board's attachment with no file record", archive(func(ls []string) []string {
			i := line(ls, `{"kind":"file","record":{"bucket":"attachments","id":"`+pdf.id+`"`)
			return slices.Delete(ls, i, i+1)
		}, func(es []archiveEntry) []archiveEntry { return slices.Delete(es, entry(es, pdf), entry(es, pdf)+1) }, ""),
			fmt.Sprintf("board %s points at file %s, which no file record describes", d.board.ID, pdf)},
		{"a board's attachment in the pictures bucket", archive(func(ls []string) []string {
			i := line(ls, `{"kind":"file","record":{"bucket":"attachments","id":"`+pdf.id+`"`)
			ls[i] = strings.Replace(ls[i], `"bucket":"attachments"`, `"bucket":"pictures"`, 1)
			return ls
		}, func(es []archiveEntry) []archiveEntry {
			es[entry(es, pdf)].hdr.Name = "files/pictures/" + pdf.id
			return es
		}, ""), fmt.Sprintf("points at file %s, which no file record describes", pdf)},
	}
	eachStore(t, func(t *testing.T, o storeOpener) {
		ctx := context.Background()
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				st := newStore(t, o)
				n, err := importStore(ctx, st, bytes.NewReader(tt.in), discardLog)
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("import of an export with %s = %v, %v; want an error saying %q", tt.name, n, err, tt.want)
				}
				wantEmpty(t, st)
				wantNoFilesOf(t, st, d.files)
			})
		}
		// The good archive, rebuilt by the same means, still imports.
		st := newStore(t, o)
		importArchive(t, st, archive(nil, nil, ""))
		wantFiles(t, st, d.files)
	})
}

// boardJSON returns b as JSON, for comparisons that print well.
func boardJSON(t *testing.T, b board.Board) string {
	t.Helper()
	raw, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// TestExportBoardsAsTheyShow exports, from each store, boards and
// notifications that a store serving requests, or one whose files were
// lost by hand, can hold. A board whose background and one attachment are
// missing goes without them, and one with a member and an invitee who are
// not users goes without them and the member's favourite, each with a
// warning; a board whose owner is not a user is left out, with its
// notifications, and so is a notification to someone who is not a user.
// A notification from someone who is not a user any more is exported. The
// export then imports into the other store.
func TestExportBoardsAsTheyShow(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		ctx := context.Background()
		src := newStore(t, o)
		d := putBoardData(t, src)
		attachments := d.board.Attachments()
		lostBackground := fileRef{board.BackgroundBucket, d.board.BackgroundID}
		lostPNG := fileRef{board.AttachmentBucket, attachments[0].ID}
		for _, f := range []fileRef{lostBackground, lostPNG} {
			if err := src.DeleteFile(ctx, f.bucket, f.id); err != nil {
				t.Fatal(err)
			}
		}
		ghost, ghost2, nobody := objectid.New(exportNow), objectid.New(exportNow), objectid.New(exportNow)

		// carol's board has a member and an invitee who are not users.
		b, err := board.New(d.carol.ID, "Choir", "https://example.com/choir.jpg", exportNow)
		if err != nil {
			t.Fatal(err)
		}
		for _, err := range []error{b.Invite(d.carol.ID, ghost), b.AcceptInvite(ghost), b.SetFavourite(ghost, true),
			b.SetFavourite(d.carol.ID, true), b.Invite(d.carol.ID, ghost2), b.Invite(d.carol.ID, d.bob.ID)} {
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := src.CreateBoard(ctx, *b); err != nil {
			t.Fatal(err)
		}
		choir, err := src.BoardByID(ctx, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		// A board whose owner is not a user, with a background, and a
		// notification about it.
		stray, err := board.New(nobody, "Stray", "", exportNow)
		if err != nil {
			t.Fatal(err)
		}
		strayFiles := make(map[fileRef][]byte)
		if _, err := stray.SetBackgroundFile(putFile(t, src, strayFiles, board.BackgroundBucket, usertest.PNG(t, 8, 8, 13))); err != nil {
			t.Fatal(err)
		}
		if err := stray.Invite(nobody, d.bob.ID); err != nil {
			t.Fatal(err)
		}
		if err := src.CreateBoard(ctx, *stray); err != nil {
			t.Fatal(err)
		}
		for _, n := range []board.Notification{
			{ID: objectid.New(exportNow), UserID: d.bob.ID, Type: board.NotificationInvite, BoardID: stray.ID, BoardTitle: stray.Title,
				FromUserID: nobody, FromUsername: "nobody", CreatedAt: exportNow},
			{ID: objectid.New(exportNow), UserID: ghost, Type: board.NotificationInvite, BoardID: d.board.ID, BoardTitle: d.board.Title,
				FromUserID: d.alice.ID, FromUsername: "alice", CreatedAt: exportNow},
		} {
			if err := src.CreateNotification(ctx, n); err != nil {
				t.Fatal(err)
			}
		}

		var logs bytes.Buffer
		var buf bytes.Buffer
		n, err := exportStore(ctx, src, &buf, slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil || n["user"] != 4 || n["board"] != 2 || n["notification"] != 4 || n["file"] != 2 {
			t.Fatalf("exportStore = %v, %v; want 4 users, 2 boards (not the stray one), alice's 4 notifications and 2 files (alice's picture and the PDF)", n, err)
		}
		for _, want := range [][]string{
			{"board", d.board.ID, "file=" + lostBackground.String()},
			{"board", d.board.ID, "file=" + lostPNG.String()},
			{"board", choir.ID, `ref="user ` + ghost + `"`},
			{"board", choir.ID, `ref="user ` + ghost2 + `"`},
		} {
			found := slices.ContainsFunc(strings.Split(logs.String(), "\n"), func(l string) bool {
				return strings.Contains(l, "level=WARN") && strings.Contains(l, "kind="+want[0]) && strings.Contains(l, "id="+want[1]) && strings.Contains(l, want[2])
			})
			if !found {
				t.Errorf("exportStore logged\n%s\nwant a warning about %s %s: %s", logs.String(), want[0], want[1], want[2])
			}
		}
		if got := strings.Count(logs.String(), "level=WARN"); got != 4 {
			t.Errorf("exportStore logged %d warnings, want 4:\n%s", got, logs.String())
		}

		dst := newStore(t, otherStore(o))
		importArchive(t, dst, buf.Bytes())
		wantBoard := func(want board.Board) {
			t.Helper()
			got, err := dst.BoardByID(ctx, want.ID)
			if err != nil {
				t.Fatalf("BoardByID(%s) after the import: %v", want.Title, err)
			}
			if g, w := boardJSON(t, got), boardJSON(t, want); g != w {
				t.Errorf("board %s after the move =\n%s\nwant\n%s", want.Title, g, w)
			}
		}
		holidays := *d.board.Clone()
		holidays.DropFile(board.FileRef{Bucket: lostBackground.bucket, ID: lostBackground.id})
		holidays.DropFile(board.FileRef{Bucket: lostPNG.bucket, ID: lostPNG.id})
		wantBoard(holidays)
		without := *choir.Clone()
		if err := without.RemoveMember(ghost); err != nil {
			t.Fatal(err)
		}
		if err := without.DropInvite(ghost2); err != nil {
			t.Fatal(err)
		}
		wantBoard(without)
		if _, err := dst.BoardByID(ctx, stray.ID); !errors.Is(err, board.ErrNotFound) {
			t.Errorf("BoardByID(stray) after the import = %v, want ErrNotFound", err)
		}
		if got, err := dst.Notifications(ctx, d.bob.ID); err != nil || len(got) != 1 || got[0].ID != d.accepted.ID {
			t.Errorf("Notifications(bob) after the import = %+v, %v; want only his invitation to alice's board", got, err)
		}
		if got, err := dst.NotificationByID(ctx, d.orphan.ID); err != nil || got.FromUserID != d.orphan.FromUserID {
			t.Errorf("NotificationByID(the answer of a deleted user) = %+v, %v; want it, as it was", got, err)
		}
		files := maps.Clone(d.files)
		delete(files, lostBackground)
		delete(files, lostPNG)
		wantFiles(t, dst, files)
		wantNoFilesOf(t, dst, strayFiles)
	})
}

// TestOrphanBoardFilesSwept: the orphan sweep keeps the files that boards
// point at (a background, attachments), of a board whose owner is gone
// too, until the board is deleted with them, and removes the files in
// their buckets that no record points at (an upload whose board was never
// written, a crash between the two), on each store: none while they are
// younger than the running server's bound, all of them at the start's.
func TestOrphanBoardFilesSwept(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, nil)
		ctx := context.Background()
		st := env.app.store
		d := putBoardData(t, st)
		kept := maps.Clone(d.files)
		stray, err := board.New(objectid.New(exportNow), "Stray", "", exportNow)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := stray.SetBackgroundFile(putFile(t, st, kept, board.BackgroundBucket, usertest.PNG(t, 8, 8, 14))); err != nil {
			t.Fatal(err)
		}
		if err := st.CreateBoard(ctx, *stray); err != nil {
			t.Fatal(err)
		}
		orphans := make(map[fileRef][]byte)
		for _, bucket := range []string{board.BackgroundBucket, board.AttachmentBucket, board.AttachmentBucket, user.PictureBucket} {
			putFile(t, st, orphans, bucket, minimalPDF("orphan"))
		}
		if n, err := env.app.sweepOrphanFiles(ctx, time.Now().Add(-orphanAge)); n != 0 || err != nil {
			t.Errorf("sweep with the running server's bound = %d, %v; want 0 (the orphans are young), nil", n, err)
		}
		wantFiles(t, st, orphans)
		if n, err := env.app.sweepOrphanFiles(ctx, time.Now().Add(time.Second)); n != len(orphans) || err != nil {
			t.Errorf("sweep of everything written until now = %d, %v; want %d, nil", n, err, len(orphans))
		}
		wantFiles(t, st, kept)
		wantNoFilesOf(t, st, orphans)
		for _, bucket := range []string{board.BackgroundBucket, board.AttachmentBucket, user.PictureBucket} {
			var want []string
			for f := range kept {
				if f.bucket == bucket {
					want = append(want, f.id)
				}
			}
			slices.Sort(want)
			if got := storedFiles(t, env, bucket); !slices.Equal(got, want) {
				t.Errorf("after the sweep, bucket %s holds %q; want %q", bucket, got, want)
			}
		}
	})
}

// version3Export is an export that `corkboard export` of commit d62ae80
// (export format version 3) wrote from a file store where gwen had signed
// up with a picture, hal without, and gwen had logged in once more: 2
// users, 3 sessions and the picture.
const version3Export = "testdata/export-v3.tar"

// TestImportVersion3 imports the version-3 export into each store: the
// records and the picture are the same, and the next export is of version
// 4, with the same records, and no boards or notifications. A version-3
// end record that counts boards is refused: version 3 had none.
func TestImportVersion3(t *testing.T) {
	v3, err := os.ReadFile(version3Export)
	if err != nil {
		t.Fatal(err)
	}
	entries := readArchive(t, v3)
	if len(entries) != 2 {
		t.Fatalf("%s holds %d entries, want the records and a picture", version3Export, len(entries))
	}
	records := string(entries[0].data)
	picture := fileRef{user.PictureBucket, strings.TrimPrefix(entries[1].hdr.Name, "files/pictures/")}
	eachStore(t, func(t *testing.T, o storeOpener) {
		ctx := context.Background()
		st := newStore(t, o)
		n, err := importStore(ctx, st, bytes.NewReader(v3), discardLog)
		if err != nil || n["user"] != 2 || n["session"] != 3 || n["file"] != 1 || n["board"] != 0 || n["notification"] != 0 {
			t.Fatalf("importStore(%s) = %v, %v; want 2 users, 3 sessions and 1 file", version3Export, n, err)
		}
		checkRecords(t, "records after importing a version-3 export", storedRecords(t, st), exportedRecords(t, entries[0].data))
		wantFiles(t, st, map[fileRef][]byte{picture: entries[1].data})

		again := recordsOf(t, exportArchive(t, st))
		lines := strings.Split(strings.TrimSpace(again), "\n")
		if lines[0] != `{"kind":"corkboard-export","version":4}` || lines[len(lines)-1] != `{"kind":"end","counts":{"board":0,"file":1,"notification":0,"session":3,"user":2}}` {
			t.Errorf("the export after the import starts with %s and ends with %s; want version 4, and counts of no boards and no notifications", lines[0], lines[len(lines)-1])
		}
		checkRecords(t, "records exported again", exportedRecords(t, []byte(again)), exportedRecords(t, entries[0].data))

		t.Run("end record counting boards", func(t *testing.T) {
			st := newStore(t, o)
			in := archiveOf(t, strings.Replace(records, `"counts":{`, `"counts":{"board":0,`, 1), entries[1])
			if _, err := importStore(ctx, st, bytes.NewReader(in), discardLog); err == nil || !strings.Contains(err.Error(), `unknown kind "board"`) {
				t.Fatalf("import of a version-3 export whose end record counts boards = %v, want an error saying %q", err, `unknown kind "board"`)
			}
			wantEmpty(t, st)
			wantNoFilesOf(t, st, map[fileRef][]byte{picture: nil})
		})
	})
}
