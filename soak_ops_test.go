package main

import (
	"bytes"
	"sort"
	"strings"
)

// step does one thing the worker picks at random: one request of the
// soak's mix, or a few when a route needs something made first. About one
// step in five is bad input.
func (w *soakWorker) step() {
	if w.rnd.IntN(5) == 0 {
		w.badInput()
		return
	}
	ops := w.ops()
	ops[w.rnd.IntN(len(ops))]()
}

// ops lists the good requests of the mix, each a closure over the worker.
func (w *soakWorker) ops() []func() {
	get := func(pattern, path string, want ...int) func() {
		return func() { w.call(w.c, pattern, request{method: "GET", path: path}, want...) }
	}
	return []func(){
		get("GET /healthz", "/healthz", 200),
		get("GET /api/openapi.json", "/api/openapi.json", 200),
		get("GET /{$}", "/", 200),
		get("GET /reset-password", "/reset-password", 200),
		get("GET /verify-email", "/verify-email", 200),
		get("GET /assets/{name}", "/assets/app.css", 200),
		get("GET /api/test/all", "/api/test/all", 200),
		get("GET /api/test/user", "/api/test/user", 200),
		get("GET /api/test/mod", "/api/test/mod", 403),
		get("GET /api/test/admin", "/api/test/admin", 403),
		get("GET /api/users", "/api/users?limit=5", 200),
		get("GET /api/auth/sessions", "/api/auth/sessions", 200),
		get("GET /api/notifications", "/api/notifications", 200),
		w.opMe, w.opPeer, w.opLogin, w.opRefresh, w.opLogout, w.opDeleteSession, w.opLogoutAll,
		w.opChangePassword, w.opForgot, w.opTokens, w.opResend, w.opSignup, w.opDeleteAccount,
		w.opProfile, w.opRoles, w.opPicture, w.opPicture, w.opFile,
		w.opCreateBoard, w.opListBoards, w.opBoardRead, w.opBoardRead, w.opBoardTitle, w.opDeleteBoard,
		w.opBackground, w.opFavourite, w.opMembers, w.opInvite, w.opNotification, w.opRemoveMember,
		w.opAddList, w.opEditList, w.opDeleteList,
		w.opAddCard, w.opAddCard, w.opMoveCard, w.opMoveCard, w.opEditCard, w.opDeleteCard,
		w.opAttach, w.opGetAttachment, w.opDeleteAttachment,
	}
}

func (w *soakWorker) opMe() {
	o, ok := w.call(w.c, "GET /api/users/me", request{method: "GET", path: "/api/users/me"}, 200)
	var d struct{ User userDoc }
	if ok && o.decode(&d) == nil && (d.User.FullName != w.me.fullName || d.User.PictureURL != w.me.pictureURL) {
		w.fail("lost write during the run: me is %q %q, want %q %q", d.User.FullName, d.User.PictureURL, w.me.fullName, w.me.pictureURL)
	}
}

func (w *soakWorker) opPeer() {
	if id, ok := pick(w, w.peers); ok {
		w.call(w.c, "GET /api/users/{id}", request{method: "GET", path: "/api/users/" + id}, 200)
	}
}

func (w *soakWorker) opLogin() { w.login(w.me) }

func (w *soakWorker) opRefresh() {
	o, ok := w.call(w.c, "POST /api/auth/refresh", request{method: "POST", path: "/api/auth/refresh", body: map[string]string{"refreshToken": w.me.refresh}}, 200)
	var d tokenDoc
	if ok && o.decode(&d) == nil {
		w.me.refresh, w.c.token = d.RefreshToken, d.AccessToken
	}
}

func (w *soakWorker) opLogout() {
	if _, d, ok := w.login(w.me); ok {
		w.call(w.c, "POST /api/auth/logout", request{method: "POST", path: "/api/auth/logout", body: map[string]string{"refreshToken": d.RefreshToken}}, 204)
		w.call(w.c, "POST /api/auth/refresh", request{method: "POST", path: "/api/auth/refresh", body: map[string]string{"refreshToken": d.RefreshToken}}, 401)
	}
}

func (w *soakWorker) opDeleteSession() {
	c, d, ok := w.login(w.me)
	if !ok {
		return
	}
	sid, _ := claimsOf(w.t, d.AccessToken)["sid"].(string)
	w.call(w.c, "DELETE /api/auth/sessions/{id}", request{method: "DELETE", path: "/api/auth/sessions/" + sid}, 204)
	w.call(c, "GET /api/users/me", request{method: "GET", path: "/api/users/me"}, 401)
}

// other returns one of the worker's throwaway accounts, making one when
// there is none.
func (w *soakWorker) other() *soakAccount {
	if a, ok := pick(w, w.others); ok && w.rnd.IntN(4) > 0 {
		return a
	}
	a := w.signup(w.rnd.IntN(2) == 0)
	if a != nil {
		w.others = append(w.others, a)
	}
	return a
}

func (w *soakWorker) opSignup() { w.other() }

func (w *soakWorker) opLogoutAll() {
	a := w.other()
	if a == nil {
		return
	}
	if c, _, ok := w.login(a); ok {
		w.call(c, "POST /api/auth/logout-all", request{method: "POST", path: "/api/auth/logout-all"}, 204)
		w.call(c, "GET /api/users/me", request{method: "GET", path: "/api/users/me"}, 401)
	}
}

func (w *soakWorker) opChangePassword() {
	a := w.other()
	if a == nil {
		return
	}
	c, _, ok := w.login(a)
	if !ok {
		return
	}
	next := w.name("password-")
	if _, ok := w.call(c, "POST /api/auth/change-password", request{method: "POST", path: "/api/auth/change-password",
		body: map[string]string{"currentPassword": a.password, "newPassword": next}}, 200, 429); ok {
		a.password = next
	}
}

func (w *soakWorker) opForgot() {
	w.call(w.c, "POST /api/auth/forgot-password", request{method: "POST", path: "/api/auth/forgot-password", body: map[string]string{"email": w.me.name + "@example.com"}}, 202)
}

// opTokens sends tokens that are not valid: unknown, or garbage.
func (w *soakWorker) opTokens() {
	tok := strings.Repeat("A", w.rnd.IntN(60))
	w.call(w.c, "POST /api/auth/reset-password", request{method: "POST", path: "/api/auth/reset-password",
		body: map[string]string{"token": tok, "password": "password9", "passwordConfirm": "password9"}}, 400, 422)
	w.call(w.c, "POST /api/auth/verify-email", request{method: "POST", path: "/api/auth/verify-email", body: map[string]string{"token": tok}}, 400, 422)
}

func (w *soakWorker) opResend() {
	w.call(w.c, "POST /api/auth/resend-verification", request{method: "POST", path: "/api/auth/resend-verification"}, 202, 429)
}

func (w *soakWorker) opDeleteAccount() {
	if len(w.others) < 3 {
		return
	}
	i := w.rnd.IntN(len(w.others))
	a := w.others[i]
	c, _, ok := w.login(a)
	if !ok {
		return
	}
	if _, ok := w.call(c, "DELETE /api/users/{id}", request{method: "DELETE", path: "/api/users/" + a.id, body: map[string]string{"currentPassword": a.password}}, 204); ok {
		w.others = append(w.others[:i], w.others[i+1:]...)
		w.gone = append(w.gone, a)
	}
}

func (w *soakWorker) opProfile() {
	name := w.name("Full Name ")
	if _, ok := w.call(w.c, "PATCH /api/users/{id}", request{method: "PATCH", path: "/api/users/" + w.me.id, body: map[string]string{"fullName": name}}, 200); ok {
		w.me.fullName = name
	}
}

func (w *soakWorker) opRoles() {
	w.call(w.c, "PUT /api/users/{id}/roles", request{method: "PUT", path: "/api/users/" + w.me.id + "/roles", body: map[string]any{"roles": []string{"admin"}}}, 403)
}

func (w *soakWorker) opPicture() {
	if w.rnd.IntN(3) == 0 {
		if _, ok := w.call(w.c, "DELETE /api/users/{id}/picture", request{method: "DELETE", path: "/api/users/" + w.me.id + "/picture"}, 204); ok {
			w.me.pictureURL = ""
		}
		return
	}
	body, ct := multipartBody(w.t, part{name: "picture", filename: "me.png", data: w.pictures[w.rnd.IntN(len(w.pictures))]})
	o, ok := w.call(w.c, "PUT /api/users/{id}/picture", request{method: "PUT", path: "/api/users/" + w.me.id + "/picture", body: body, contentType: ct}, 200)
	var d struct{ User userDoc }
	if ok && o.decode(&d) == nil {
		w.me.pictureURL = d.User.PictureURL
	}
}

func (w *soakWorker) opFile() {
	path := "/api/files/" + strings.Repeat("0", 24)
	want := 404
	if w.me.pictureURL != "" {
		path, want = w.me.pictureURL[strings.Index(w.me.pictureURL, "/api/"):], 200
	}
	w.call(w.c, "GET /api/files/{id}", request{method: "GET", path: path}, want)
}

func (w *soakWorker) opCreateBoard() {
	if len(w.boards) >= 4 {
		return
	}
	o, ok := w.call(w.c, "POST /api/boards", request{method: "POST", path: "/api/boards", body: map[string]any{"title": w.name("board ")}}, 201)
	if !ok {
		return
	}
	var d struct{ Board boardDoc }
	if o.decode(&d) == nil {
		w.boards[d.Board.ID] = &soakBoard{layout: layoutOf(d.Board), attachments: make(map[string][]byte)}
	}
}

func (w *soakWorker) opListBoards() {
	o, ok := w.call(w.c, "GET /api/boards", request{method: "GET", path: "/api/boards"}, 200)
	var d struct{ Boards []summaryDoc }
	if !ok || o.decode(&d) != nil {
		return
	}
	for _, b := range d.Boards {
		if m := w.boards[b.ID]; m != nil && m.favourite != b.IsFavourite {
			w.fail("lost write during the run: board %s isFavourite %v, last set %v", b.ID, b.IsFavourite, m.favourite)
		}
	}
}

func (w *soakWorker) opBoardRead() { w.someBoard() }

func (w *soakWorker) opBoardTitle() {
	if id, b := w.someBoard(); b != nil {
		if o, ok := w.call(w.c, "PATCH /api/boards/{id}", request{method: "PATCH", path: "/api/boards/" + id, body: map[string]string{"title": w.name("title ")}}, 200); ok {
			w.acked(o)
		}
	}
}

func (w *soakWorker) opDeleteBoard() {
	if len(w.boards) < 3 {
		return
	}
	if id, b := w.someBoard(); b != nil {
		if _, ok := w.call(w.c, "DELETE /api/boards/{id}", request{method: "DELETE", path: "/api/boards/" + id}, 204); ok {
			delete(w.boards, id)
			w.deleted = append(w.deleted, id)
		}
	}
}

func (w *soakWorker) opBackground() {
	id, b := w.someBoard()
	if b == nil {
		return
	}
	body, ct := multipartBody(w.t, part{name: "background", filename: "bg.png", data: w.pictures[w.rnd.IntN(len(w.pictures))]})
	if o, ok := w.call(w.c, "PUT /api/boards/{id}/background", request{method: "PUT", path: "/api/boards/" + id + "/background", body: body, contentType: ct}, 200); ok {
		if nb := w.acked(o); nb != nil && nb.BackgroundURL != "" {
			w.call(w.c, "GET /api/files/{id}", request{method: "GET", path: nb.BackgroundURL[strings.Index(nb.BackgroundURL, "/api/"):]}, 200)
		}
	}
}

func (w *soakWorker) opFavourite() {
	if id, b := w.someBoard(); b != nil {
		fav := w.rnd.IntN(2) == 0
		if _, ok := w.call(w.c, "PUT /api/boards/{id}/favourite", request{method: "PUT", path: "/api/boards/" + id + "/favourite", body: map[string]bool{"favourite": fav}}, 200); ok {
			w.boards[id].favourite = fav
		}
	}
}

func (w *soakWorker) opMembers() {
	if id, b := w.someBoard(); b != nil {
		w.call(w.c, "GET /api/boards/{id}/members", request{method: "GET", path: "/api/boards/" + id + "/members"}, 200)
	}
}

func (w *soakWorker) opInvite() {
	peer, _ := pick(w, w.peers)
	if id, b := w.someBoard(); b != nil {
		w.call(w.c, "POST /api/boards/{id}/invites", request{method: "POST", path: "/api/boards/" + id + "/invites", body: map[string]string{"userId": peer}}, 201, 409)
	}
}

// opNotification answers one of the worker's notifications: accept,
// decline or delete.
func (w *soakWorker) opNotification() {
	o, ok := w.call(w.c, "GET /api/notifications", request{method: "GET", path: "/api/notifications"}, 200)
	var d struct{ Notifications []notificationDoc }
	if !ok || o.decode(&d) != nil {
		return
	}
	n, ok := pick(w, d.Notifications)
	if !ok {
		return
	}
	base := "/api/notifications/" + n.ID
	switch w.rnd.IntN(3) {
	case 0:
		w.call(w.c, "POST /api/notifications/{id}/accept", request{method: "POST", path: base + "/accept"}, 200, 404, 409)
	case 1:
		w.call(w.c, "POST /api/notifications/{id}/decline", request{method: "POST", path: base + "/decline"}, 204, 404, 409)
	default:
		w.call(w.c, "DELETE /api/notifications/{id}", request{method: "DELETE", path: base}, 204, 404)
	}
}

func (w *soakWorker) opRemoveMember() {
	id, b := w.someBoard()
	if b == nil {
		return
	}
	for _, m := range b.Members {
		if !m.Owner {
			w.call(w.c, "DELETE /api/boards/{id}/members/{userId}", request{method: "DELETE", path: "/api/boards/" + id + "/members/" + m.ID}, 204, 404)
			return
		}
	}
	w.call(w.c, "DELETE /api/boards/{id}/members/{userId}", request{method: "DELETE", path: "/api/boards/" + id + "/members/" + w.me.id}, 409)
}

func (w *soakWorker) opAddList() {
	id, b := w.someBoard()
	if b == nil || len(b.Lists) >= 5 {
		return
	}
	o, ok := w.call(w.c, "POST /api/boards/{id}/lists", request{method: "POST", path: "/api/boards/" + id + "/lists", body: map[string]string{"name": w.name("list ")}}, 201)
	var d struct{ List boardListDoc }
	if ok && o.decode(&d) == nil {
		w.refresh(id)
	}
}

// refresh takes the board as it now reads as the model, after a write
// whose answer is not the whole board; the read is of the worker's own
// writes only, since nobody else writes to its boards' layouts.
func (w *soakWorker) refresh(id string) {
	o, ok := w.call(w.c, "GET /api/boards/{id}", request{method: "GET", path: "/api/boards/" + id}, 200)
	if ok {
		w.acked(o)
	}
}

func (w *soakWorker) opEditList() {
	id, b := w.someBoard()
	if b == nil || len(b.Lists) == 0 {
		return
	}
	l, _ := pick(w, b.Lists)
	body := map[string]any{"name": w.name("list ")}
	if w.rnd.IntN(2) == 0 {
		body = map[string]any{"position": w.rnd.IntN(len(b.Lists) + 1)}
	}
	if o, ok := w.call(w.c, "PATCH /api/boards/{id}/lists/{listId}", request{method: "PATCH", path: "/api/boards/" + id + "/lists/" + l.ID, body: body}, 200); ok {
		w.acked(o)
	}
}

func (w *soakWorker) opDeleteList() {
	id, b := w.someBoard()
	if b == nil || len(b.Lists) < 3 {
		return
	}
	l, _ := pick(w, b.Lists)
	if _, ok := w.call(w.c, "DELETE /api/boards/{id}/lists/{listId}", request{method: "DELETE", path: "/api/boards/" + id + "/lists/" + l.ID}, 204); ok {
		for _, c := range l.Cards {
			w.forgetAttachments(id, c.ID)
		}
		w.refresh(id)
	}
}

// forgetAttachments drops from the model the attachments of a card that
// is gone.
func (w *soakWorker) forgetAttachments(boardID, cardID string) {
	m := w.boards[boardID]
	for p := range m.attachments {
		if strings.Contains(p, "/cards/"+cardID+"/") {
			delete(m.attachments, p)
		}
	}
}

func (w *soakWorker) opAddCard() {
	id, b := w.someBoard()
	if b == nil || len(b.Lists) == 0 {
		return
	}
	if cards, _ := allCards(b); len(cards) >= 25 {
		return
	}
	l, _ := pick(w, b.Lists)
	if _, ok := w.call(w.c, "POST /api/boards/{id}/lists/{listId}/cards", request{method: "POST", path: "/api/boards/" + id + "/lists/" + l.ID + "/cards",
		body: map[string]string{"title": w.name("card "), "description": strings.Repeat("d", w.rnd.IntN(200))}}, 201); ok {
		w.refresh(id)
	}
}

func (w *soakWorker) opMoveCard() {
	id, b := w.someBoard()
	if b == nil {
		return
	}
	cards, _ := allCards(b)
	c, ok := pick(w, cards)
	if !ok {
		return
	}
	l, _ := pick(w, b.Lists)
	if o, ok := w.call(w.c, "PATCH /api/boards/{id}/cards/{cardId}", request{method: "PATCH", path: "/api/boards/" + id + "/cards/" + c.ID,
		body: map[string]any{"listId": l.ID, "position": w.rnd.IntN(len(l.Cards) + 2)}}, 200); ok {
		w.acked(o)
	}
}

func (w *soakWorker) opEditCard() {
	id, b := w.someBoard()
	if b == nil {
		return
	}
	cards, _ := allCards(b)
	if c, ok := pick(w, cards); ok {
		if o, ok := w.call(w.c, "PATCH /api/boards/{id}/cards/{cardId}", request{method: "PATCH", path: "/api/boards/" + id + "/cards/" + c.ID,
			body: map[string]any{"title": w.name("card "), "description": w.name("about ")}}, 200); ok {
			w.acked(o)
		}
	}
}

func (w *soakWorker) opDeleteCard() {
	id, b := w.someBoard()
	if b == nil {
		return
	}
	cards, _ := allCards(b)
	if c, ok := pick(w, cards); ok && len(cards) > 5 {
		if _, ok := w.call(w.c, "DELETE /api/boards/{id}/cards/{cardId}", request{method: "DELETE", path: "/api/boards/" + id + "/cards/" + c.ID}, 204); ok {
			w.forgetAttachments(id, c.ID)
			w.refresh(id)
		}
	}
}

func (w *soakWorker) opAttach() {
	id, b := w.someBoard()
	if b == nil {
		return
	}
	cards, _ := allCards(b)
	c, ok := pick(w, cards)
	if !ok || len(c.Attachments) >= 3 {
		return
	}
	data := minimalPDF(w.name("attachment "))
	if w.rnd.IntN(2) == 0 {
		data = w.pictures[w.rnd.IntN(len(w.pictures))]
	}
	body, ct := multipartBody(w.t, part{name: "file", filename: w.name("file ") + ".bin", data: data})
	cardPath := "/api/boards/" + id + "/cards/" + c.ID + "/attachments"
	o, ok := w.call(w.c, "POST /api/boards/{id}/cards/{cardId}/attachments", request{method: "POST", path: cardPath, body: body, contentType: ct}, 201)
	var d struct{ Attachment attachmentDoc }
	if ok && o.decode(&d) == nil {
		w.boards[id].attachments[cardPath+"/"+d.Attachment.ID] = data
		w.refresh(id)
	}
}

func (w *soakWorker) attachment() (string, string, bool) {
	id, b := w.someBoard()
	if b == nil {
		return "", "", false
	}
	var paths []string
	for p := range w.boards[id].attachments {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	p, ok := pick(w, paths)
	return id, p, ok
}

func (w *soakWorker) opGetAttachment() {
	id, p, ok := w.attachment()
	if !ok {
		return
	}
	o, ok := w.call(w.c, "GET /api/boards/{id}/cards/{cardId}/attachments/{attachmentId}", request{method: "GET", path: p}, 200)
	if ok && !bytes.Equal(o.body, w.boards[id].attachments[p]) {
		w.fail("attachment %s reads %d bytes that differ from the %d uploaded", p, len(o.body), len(w.boards[id].attachments[p]))
	}
}

func (w *soakWorker) opDeleteAttachment() {
	id, p, ok := w.attachment()
	if !ok {
		return
	}
	if _, ok := w.call(w.c, "DELETE /api/boards/{id}/cards/{cardId}/attachments/{attachmentId}", request{method: "DELETE", path: p}, 204); ok {
		delete(w.boards[id].attachments, p)
		w.refresh(id)
	}
}

// badInput sends a hostile request to a random route of the route list:
// malformed JSON, wrong types, hostile multipart, bad tokens, unknown ids,
// on the worker's own records or not. Any 4xx (or a success, for a route
// that takes no body) will do; never a 5xx, and, checked by the next reads
// of the model, never a changed record.
func (w *soakWorker) badInput() {
	w.stats.bad.Add(1)
	routes := w.s.env.app.routeList()
	rt := routes[w.rnd.IntN(len(routes))]
	method, path, _ := strings.Cut(rt.pattern, " ")
	// Path values: the worker's own ids, or ids that are not.
	var ids []string
	for id := range w.boards {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	ids = append(ids, w.me.id, strings.Repeat("0", 24), "x", strings.Repeat("f", 300), "%00", "..%2f..")
	for strings.Contains(path, "{") {
		i, j := strings.Index(path, "{"), strings.Index(path, "}")
		id, _ := pick(w, ids)
		path = path[:i] + id + path[j+1:]
	}
	path = strings.TrimSuffix(path, "{$}")
	bodies := []struct{ body, ctype string }{
		{`{`, "application/json"}, {`[]`, "application/json"}, {`null`, "application/json"},
		{`{"title":1,"name":["x"],"position":"first","listId":{"$ne":null}}`, "application/json"},
		{`{"favourite":"yes","userId":123,"refreshToken":{"a":1}}`, "application/json"},
		{`{"email":{"$gt":""},"password":{"$ne":null}}`, "application/json"},
		{`{"title":"ok"}{"title":"again"}`, "application/json"},
		{"{\"title\":\"\xff\xfe\"}", "application/json"},
		{`{"unknown":true}`, "application/json"},
		{"--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"../../a.png\"\r\n\r\n\x89PNG\r\n\x1a\n\x00", "multipart/form-data; boundary=x"},
		{"--x\r\nContent-Disposition: form-data; name=\"picture\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\nMZ\x90\x00 not an image\r\n--x--\r\n", "multipart/form-data; boundary=x"},
		{"--x\r\n\r\nno disposition\r\n--x--\r\n", "multipart/form-data; boundary=x"},
		{"plain text", "text/plain"},
	}
	b, _ := pick(w, bodies)
	c := w.c
	// Requests that end things (deletions, logouts) go with a bad token
	// or none: the worker's own token would rightly carry them out on a
	// body the route does not read.
	destructive := method == "DELETE" || strings.Contains(path, "logout")
	switch k := w.rnd.IntN(4); {
	case k == 0 || destructive && k%2 == 0: // a bad token
		c = w.client()
		c.token, _ = pick(w, []string{"e30.e30.e30", strings.Repeat("A", 3000), "a.b", w.c.token + "x"})
	case k == 1 || destructive: // no token
		c = w.client()
	}
	w.call(c, rt.pattern, request{method: method, path: path, body: b.body, contentType: b.ctype})
}

// check reads back everything the worker's model holds.
func (w *soakWorker) check(when string) {
	w.c = w.client()
	c, d, ok := w.login(w.me)
	if !ok {
		w.fail("lost write %s: %s cannot log in", when, w.me.name)
		return
	}
	w.c, w.me.refresh = c, d.RefreshToken
	w.opMe()
	for id := range w.boards {
		w.readBoard(id, when)
		for p, data := range w.boards[id].attachments {
			if o, ok := w.call(w.c, "GET /api/boards/{id}/cards/{cardId}/attachments/{attachmentId}", request{method: "GET", path: p}, 200); ok && !bytes.Equal(o.body, data) {
				w.fail("lost write %s: attachment %s differs", when, p)
			}
		}
	}
	w.opListBoards()
	for _, id := range w.deleted {
		w.call(w.c, "GET /api/boards/{id}", request{method: "GET", path: "/api/boards/" + id}, 404)
	}
	if w.me.pictureURL != "" {
		w.opFile()
	}
	for _, a := range w.others {
		if _, _, ok := w.login(a); !ok {
			w.fail("lost write %s: account %s cannot log in with its last password", when, a.name)
		}
	}
	for _, a := range w.gone {
		w.call(w.c, "POST /api/auth/login", request{method: "POST", path: "/api/auth/login", body: map[string]string{"username": a.name, "password": a.password}}, 401)
	}
}
