package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"corkboard/auth"
	"corkboard/filestore"
	"corkboard/web"
)

// The fuzz targets of this file send fuzzed requests through the real
// handler (every route, every middleware) of one corkboard on a file
// store, set up once per target, without a network in between: thousands
// of requests a second, each checked for the promise of API.md about bad
// input. A request that is refused must change nothing: the file store
// appends every change to its journal (compaction is off here), so an
// unchanged journal size, one stat per request, proves an unchanged store.

// fuzzEnv is one corkboard for a fuzz target, with a signed-up user who
// owns a board with a list and a card.
type fuzzEnv struct {
	app     *app
	handler http.Handler
	dataDir string
	clock   *clock
	users   int // sign-ups made, for fresh names
	fx      fixture
}

// fixture is the user whose token the fuzzed requests carry, and the ids
// that fill the path values of routes.
type fixture struct {
	email, token, refresh        string
	userID, sessionID            string
	boardID, listID, cardID      string
	attachmentID, notificationID string
}

// newFuzzEnv starts corkboard on a file store in a directory of f's, with
// rate limits off (the fuzzer is one client making thousands of
// requests), and makes the first fixture.
func newFuzzEnv(f *testing.F) *fuzzEnv {
	f.Helper()
	cfg, err := baseConfig(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	cfg.rateLimits = false
	st, err := filestore.Open(cfg.dataDir, filestore.Options{NoSync: true, CompactBytes: 1 << 62})
	if err != nil {
		f.Fatal(err)
	}
	clk := newClock()
	a, err := newApp(cfg, st, clk.Now, slog.New(slog.DiscardHandler))
	if err != nil {
		st.Close()
		f.Fatal(err)
	}
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a.close(ctx)
		st.Close()
	})
	e := &fuzzEnv{app: a, handler: a.routes(), dataDir: cfg.dataDir, clock: clk}
	if err := e.renew(); err != nil {
		f.Fatal(err)
	}
	return e
}

// do serves one request and returns the recorded response.
func (e *fuzzEnv) do(method, path string, body []byte, headers ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "https://corkboard.test"+path, bytes.NewReader(body))
	r.RemoteAddr = "192.0.2.1:1234"
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	e.handler.ServeHTTP(w, r)
	return w
}

// call serves a request that set-up needs to succeed, decoding its answer
// into out when out is not nil.
func (e *fuzzEnv) call(method, path string, in, out any, want int) error {
	body, _ := json.Marshal(in)
	w := e.do(method, path, body, "Content-Type", "application/json", "Authorization", "Bearer "+e.fx.token)
	if w.Code != want {
		return fmt.Errorf("%s %s: %d %s, want %d", method, path, w.Code, w.Body, want)
	}
	if out != nil {
		return json.Unmarshal(w.Body.Bytes(), out)
	}
	return nil
}

// renew signs up a fresh user and makes its board, list, card and picture:
// called at the start, and after a fuzzed request deleted or ended any of
// them (a logout-all, a password change, an account deleted).
func (e *fuzzEnv) renew() error {
	e.users++
	fx := fixture{email: fmt.Sprintf("fuzz%d@example.com", e.users)}
	var d authDoc
	w := e.do("POST", "/api/auth/signup", mustJSON(map[string]any{
		"username": fmt.Sprintf("fuzz%d", e.users), "email": fx.email, "password": "password1", "returnRefreshToken": true,
	}), "Content-Type", "application/json")
	if w.Code != http.StatusCreated {
		return fmt.Errorf("signup: %d %s", w.Code, w.Body)
	}
	if err := json.Unmarshal(w.Body.Bytes(), &d); err != nil {
		return err
	}
	fx.token, fx.refresh, fx.userID = d.AccessToken, d.RefreshToken, d.User.ID
	fx.sessionID = tokenClaim(d.AccessToken, "sid")
	e.fx = fx
	type id struct {
		ID string `json:"id"`
	}
	var b struct{ Board id }
	var l struct{ List id }
	var c struct{ Card id }
	if err := e.call("POST", "/api/boards", map[string]any{"title": "Plans"}, &b, http.StatusCreated); err != nil {
		return err
	}
	if err := e.call("POST", "/api/boards/"+b.Board.ID+"/lists", map[string]any{"name": "To do"}, &l, http.StatusCreated); err != nil {
		return err
	}
	if err := e.call("POST", "/api/boards/"+b.Board.ID+"/lists/"+l.List.ID+"/cards", map[string]any{"title": "Fuzz"}, &c, http.StatusCreated); err != nil {
		return err
	}
	e.fx.boardID, e.fx.listID, e.fx.cardID = b.Board.ID, l.List.ID, c.Card.ID
	e.fx.attachmentID, e.fx.notificationID = "0123456789abcdef01234567", "0123456789abcdef01234568"
	return nil
}

// mustJSON encodes v, which set-up builds from plain values.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// tokenClaim returns a string claim of a token this server signed.
func tokenClaim(token, name string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	data, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var m map[string]any
	json.Unmarshal(data, &m)
	s, _ := m[name].(string)
	return s
}

// path fills the path values of a route pattern with the fixture's ids.
func (e *fuzzEnv) path(pattern string) string {
	_, path, _ := strings.Cut(pattern, " ")
	values := map[string]string{
		"{listId}": e.fx.listID, "{cardId}": e.fx.cardID, "{attachmentId}": e.fx.attachmentID,
		"{userId}": e.fx.userID, "{name}": "app.js", "{$}": "",
	}
	switch {
	case strings.HasPrefix(path, "/api/boards/"):
		values["{id}"] = e.fx.boardID
	case strings.HasPrefix(path, "/api/users/"):
		values["{id}"] = e.fx.userID
	case strings.HasPrefix(path, "/api/auth/sessions/"):
		values["{id}"] = e.fx.sessionID
	case strings.HasPrefix(path, "/api/notifications/"):
		values["{id}"] = e.fx.notificationID
	default:
		values["{id}"] = e.fx.userID
	}
	for k, v := range values {
		path = strings.ReplaceAll(path, k, v)
	}
	return path
}

// storeSize is the size of the journal and the names of the stored files:
// what every write to the store changes.
func (e *fuzzEnv) storeSize(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	journals, err := filepath.Glob(filepath.Join(e.dataDir, "journal-*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range journals {
		info, err := os.Stat(j)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %d\n", filepath.Base(j), info.Size())
	}
	for _, f := range e.storedFiles(t) {
		b.WriteString(f + "\n")
	}
	return b.String()
}

// storedFiles lists every file under DATA_DIR/files, temporary ones too,
// as bucket/name.
func (e *fuzzEnv) storedFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	buckets, _ := os.ReadDir(filepath.Join(e.dataDir, "files"))
	for _, b := range buckets {
		entries, err := os.ReadDir(filepath.Join(e.dataDir, "files", b.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range entries {
			out = append(out, b.Name()+"/"+f.Name())
		}
	}
	return out
}

// checkAnswer checks what every answer to bad input must be: no 5xx, and
// a 4xx is a problem document with the same status and a code.
func checkAnswer(t *testing.T, what string, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code >= 500 {
		t.Fatalf("%s: %d %.500s", what, w.Code, w.Body)
	}
	if w.Code < 400 {
		return
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("%s: %d with Content-Type %q: %.300s", what, w.Code, ct, w.Body)
	}
	var p web.Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Status != w.Code || p.Code == "" {
		t.Fatalf("%s: %d with problem %.300s (%v)", what, w.Code, w.Body, err)
	}
}

// endsFixture reports whether a successful request to pattern may have
// ended the fixture's session or deleted one of its records, so that the
// next request needs a new fixture.
func endsFixture(pattern string) bool {
	return strings.HasPrefix(pattern, "DELETE ") || slices.Contains([]string{
		"POST /api/auth/logout-all", "POST /api/auth/logout", "POST /api/auth/change-password",
		"PUT /api/users/{id}/roles",
	}, pattern)
}

// jsonRouteSeeds are request bodies for the JSON routes: valid ones, so
// that the fuzzer starts from bodies that reach the service, and hostile
// ones. A seed is (route pattern, body).
var jsonRouteSeeds = [][2]string{
	{"POST /api/auth/signup", `{"username":"newuser","email":"new@example.com","password":"password1"}`},
	{"POST /api/auth/signup", `{"username":{"$ne":null},"email":"a@b.c","password":"password1"}`},
	{"POST /api/auth/login", `{"email":"fuzz1@example.com","password":"wrong-password"}`},
	{"POST /api/auth/login", `{"email":{"$gt":""},"password":{"$gt":""}}`},
	{"POST /api/auth/refresh", `{"refreshToken":"a.b.c"}`},
	{"POST /api/auth/logout", `{"refreshToken":{"a":1}}`},
	{"POST /api/auth/change-password", `{"currentPassword":"wrong-password","newPassword":"password2"}`},
	{"POST /api/auth/forgot-password", `{"email":"nobody@example.com"}`},
	{"POST /api/auth/reset-password", `{"token":"abc","password":"password2","passwordConfirm":"password2"}`},
	{"POST /api/auth/verify-email", `{"token":"abc"}`},
	{"PATCH /api/users/{id}", `{"fullName":"Fuzz Example","color":"#123456"}`},
	{"PATCH /api/users/{id}", `{"username":"","color":"red; background:url(x)"}`},
	{"DELETE /api/users/{id}", `{"currentPassword":"wrong-password"}`},
	{"PUT /api/users/{id}/roles", `{"roles":["admin"]}`},
	{"POST /api/boards", `{"title":"Trip","invite":["0123456789abcdef01234567"]}`},
	{"POST /api/boards", `{"title":"x","backgroundURL":"javascript:alert(1)"}`},
	{"PATCH /api/boards/{id}", `{"title":"Renamed","backgroundURL":"https://example.com/a.png"}`},
	{"PUT /api/boards/{id}/favourite", `{"favourite":true}`},
	{"POST /api/boards/{id}/invites", `{"userId":"0123456789abcdef01234567"}`},
	{"POST /api/boards/{id}/lists", `{"name":"Doing"}`},
	{"PATCH /api/boards/{id}/lists/{listId}", `{"name":"Done","position":3}`},
	{"PATCH /api/boards/{id}/lists/{listId}", `{"position":-1}`},
	{"POST /api/boards/{id}/lists/{listId}/cards", `{"title":"Card","description":"two\nlines"}`},
	{"PATCH /api/boards/{id}/cards/{cardId}", `{"title":"Moved","listId":"","position":0}`},
	// Moves of the plain shape the web client sends (read without
	// encoding/json): to a list that is not there; and one just outside
	// that shape, an id in capitals, which it leaves to encoding/json.
	{"PATCH /api/boards/{id}/cards/{cardId}", `{"listId":"0123456789abcdef01234567","position":999999999}`},
	{"PATCH /api/boards/{id}/cards/{cardId}", `{"listId":"0123456789ABCDEF01234567","position":0}`},
	{"PATCH /api/boards/{id}/cards/{cardId}", `{"position":9223372036854775807}`},
	{"PATCH /api/boards/{id}/cards/{cardId}", `{"description":"` + strings.Repeat("d", 20000) + `"}`},
	{"POST /api/notifications/{id}/accept", `{}`},
}

// routeIndex returns the index of pattern in routes, or fails.
func routeIndex(f *testing.F, routes []route, pattern string) uint8 {
	for i, rt := range routes {
		if rt.pattern == pattern {
			return uint8(i)
		}
	}
	f.Fatalf("no route %q", pattern)
	return 0
}

// FuzzJSONRoutes sends a fuzzed body to a route of routeList chosen by a
// fuzzed index, as JSON with the fixture's valid access token, through
// the real handler. Every answer is a success or a 4xx problem document,
// never a 5xx; and a refused request (4xx) changes nothing in the store:
// not a journal byte, not a file.
func FuzzJSONRoutes(f *testing.F) {
	e := newFuzzEnv(f)
	routes := e.app.routeList()
	for _, s := range jsonRouteSeeds {
		f.Add(routeIndex(f, routes, s[0]), []byte(s[1]))
	}
	// A move of the plain shape to the fixture's own list: one that is
	// done, through the card PATCH's reader without encoding/json.
	f.Add(routeIndex(f, routes, "PATCH /api/boards/{id}/cards/{cardId}"), []byte(`{"listId":"`+e.fx.listID+`","position":0}`))
	for i := range routes {
		f.Add(uint8(i), []byte(`null`))
	}
	f.Fuzz(func(t *testing.T, index uint8, body []byte) {
		rt := routes[int(index)%len(routes)]
		method, _, _ := strings.Cut(rt.pattern, " ")
		path := e.path(rt.pattern)
		before := e.storeSize(t)
		w := e.do(method, path, body, "Content-Type", "application/json", "Authorization", "Bearer "+e.fx.token)
		what := fmt.Sprintf("%s %s with body %.200q", method, path, body)
		checkAnswer(t, what, w)
		if w.Code >= 400 {
			if after := e.storeSize(t); after != before {
				t.Fatalf("%s: refused with %d %.300s, but the store changed:\n%s\nthen\n%s", what, w.Code, w.Body, before, after)
			}
			return
		}
		if endsFixture(rt.pattern) {
			if err := e.renew(); err != nil {
				t.Fatalf("after %s: a new fixture: %v", what, err)
			}
		}
	})
}

// FuzzRefresh presents arbitrary refresh tokens, in the JSON body or in
// the refresh cookie, to POST /api/auth/refresh and POST /api/auth/logout.
// None may get a 5xx or anything but a 4xx problem (logout answers 204
// to anything, by design), and none may change a stored session. The
// fixture's own refresh token is the one input that may rotate a session:
// it is skipped; and a token of the server's own signing ends its session
// at logout. The seeds are tokens a client could hold: the fixture's
// access token, refresh tokens signed with the real key for a session that
// does not exist, of a later generation, expired, or for another use.
func FuzzRefresh(f *testing.F) {
	e := newFuzzEnv(f)
	key := auth.NewTokenKey(e.app.cfg.refreshSecret, auth.UseRefresh)
	now := e.clock.Now()
	claims := func(sid string, gen uint64, exp time.Time) auth.Claims {
		return auth.Claims{Subject: e.fx.userID, SessionID: sid, Generation: gen, IssuedAt: now.Unix(), ExpiresAt: exp.Unix()}
	}
	week := now.Add(7 * 24 * time.Hour)
	for _, tok := range []string{
		e.fx.token,
		key.Sign(claims("0123456789abcdef01234567", 1, week)),
		key.Sign(claims(e.fx.sessionID, 2, week)),
		key.Sign(claims(e.fx.sessionID, 1, now.Add(-time.Second))),
		auth.NewTokenKey(e.app.cfg.accessSecret, auth.UseRefresh).Sign(claims(e.fx.sessionID, 1, week)),
		strings.Replace(e.fx.refresh, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9", "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0", 1),
		e.fx.refresh[:len(e.fx.refresh)-1],
		e.fx.refresh + "\n",
		"", ".", "..", "a.b.c", strings.Repeat("A", 9000),
	} {
		f.Add(tok, false)
		f.Add(tok, true)
	}
	f.Fuzz(func(t *testing.T, token string, inCookie bool) {
		if token == e.fx.refresh {
			t.Skip("the fixture's own refresh token rotates its session")
		}
		for _, path := range []string{"/api/auth/refresh", "/api/auth/logout"} {
			before := e.storeSize(t)
			var w *httptest.ResponseRecorder
			if inCookie {
				// Raw, not through http.Cookie, which would drop the
				// bytes a cookie value may not hold.
				w = e.do("POST", path, nil, "Cookie", authRefreshCookie+"="+token)
			} else {
				w = e.do("POST", path, mustJSON(map[string]string{"refreshToken": token}), "Content-Type", "application/json")
			}
			what := fmt.Sprintf("POST %s with token %.200q (cookie %v)", path, token, inCookie)
			checkAnswer(t, what, w)
			if path == "/api/auth/refresh" && w.Code < 400 {
				t.Fatalf("%s: %d %.300s; want it refused", what, w.Code, w.Body)
			}
			if _, err := key.Verify(token, e.clock.Now()); err == nil && path == "/api/auth/logout" {
				// A token of our own signing, for the fixture's session
				// (a seed: the fuzzer cannot sign): logging out with it
				// ends the session, as it should.
				if err := e.renew(); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if after := e.storeSize(t); after != before {
				t.Fatalf("%s: %d, and the store changed:\n%s\nthen\n%s", what, w.Code, before, after)
			}
		}
	})
}

// authRefreshCookie is the name of the refresh cookie.
const authRefreshCookie = "refresh_token"

// uploadRoutes are the routes that take a multipart body, with the name
// of their file part and the types their files may have.
var uploadRoutes = []struct {
	pattern, part, bucket string
	types                 []string
}{
	{"PUT /api/users/{id}/picture", "picture", "pictures", web.ImageTypes},
	{"PUT /api/boards/{id}/background", "background", "backgrounds", web.ImageTypes},
	{"POST /api/boards/{id}/cards/{cardId}/attachments", "file", "attachments", web.AttachmentTypes},
	{"POST /api/auth/signup", "picture", "pictures", web.ImageTypes},
}

// FuzzUploadRoutes sends arbitrary multipart bodies with an arbitrary
// boundary to the routes that take files, with the fixture's token. No
// answer is a 5xx or a 4xx without a problem document; a refused upload
// leaves no file behind and no record changed; and a file that is
// accepted is stored with bytes of a type its route accepts: never a
// non-image as a picture.
func FuzzUploadRoutes(f *testing.F) {
	e := newFuzzEnv(f)
	for _, s := range uploadSeeds() {
		f.Add(s.route, s.boundary, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, index uint8, boundary string, body []byte) {
		rt := uploadRoutes[int(index)%len(uploadRoutes)]
		method, _, _ := strings.Cut(rt.pattern, " ")
		path := e.path(rt.pattern)
		before := e.storeSize(t)
		filesBefore := e.storedFiles(t)
		w := e.do(method, path, body, "Content-Type", "multipart/form-data; boundary="+boundary, "Authorization", "Bearer "+e.fx.token)
		what := fmt.Sprintf("%s %s boundary %q body %.200q", method, path, boundary, body)
		checkAnswer(t, what, w)
		if w.Code >= 400 {
			if after := e.storeSize(t); after != before {
				t.Fatalf("%s: refused with %d %.300s, but the store changed:\n%s\nthen\n%s", what, w.Code, w.Body, before, after)
			}
			return
		}
		for _, name := range e.storedFiles(t) {
			if slices.Contains(filesBefore, name) {
				continue
			}
			bucket, _, _ := strings.Cut(name, "/")
			data, err := os.ReadFile(filepath.Join(e.dataDir, "files", name))
			if err != nil {
				t.Fatal(err)
			}
			typ := web.DetectType(data[:min(len(data), 512)])
			if bucket != rt.bucket || !slices.Contains(rt.types, typ) {
				t.Fatalf("%s: %d stored %s, of type %s", what, w.Code, name, typ)
			}
		}
	})
}

// uploadSeed is one seed of FuzzUploadRoutes.
type uploadSeed struct {
	route          uint8
	boundary, body string
}

// uploadSeeds are valid uploads for each route, and the attacks the
// upload tests use: a type the bytes deny, an SVG, a polyglot, a body cut
// short, a part twice, a traversal file name, an empty part.
func uploadSeeds() []uploadSeed {
	const gif = "GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
	part := func(name, filename, ctype, data string) string {
		h := `Content-Disposition: form-data; name="` + name + `"`
		if filename != "" {
			h += `; filename="` + filename + `"`
		}
		if ctype != "" {
			h += "\r\nContent-Type: " + ctype
		}
		return "--x\r\n" + h + "\r\n\r\n" + data + "\r\n"
	}
	var seeds []uploadSeed
	for i, rt := range uploadRoutes {
		r := uint8(i)
		fields := ""
		if rt.pattern == "POST /api/auth/signup" {
			fields = part("username", "", "", fmt.Sprintf("upload%d", i)) + part("email", "", "", fmt.Sprintf("upload%d@example.com", i)) +
				part("password", "", "", "password1")
		}
		seeds = append(seeds,
			uploadSeed{r, "x", fields + part(rt.part, "a.gif", "image/gif", gif) + "--x--\r\n"},
			uploadSeed{r, "x", fields + part(rt.part, "a.png", "image/png", "<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>") + "--x--\r\n"},
			uploadSeed{r, "x", fields + part(rt.part, "a.gif", "image/gif", gif+"<script>alert(1)</script>") + "--x--\r\n"},
			uploadSeed{r, "x", fields + part(rt.part, "../../../etc/passwd", "", gif)},
			uploadSeed{r, "x", fields + part(rt.part, "a.gif", "", gif) + part(rt.part, "b.gif", "", gif) + "--x--\r\n"},
			uploadSeed{r, "x", fields + part(rt.part, "a.pdf", "application/pdf", "%PDF-1.4\n%%EOF\n") + "--x--\r\n"},
			uploadSeed{r, "x", part(rt.part, "", "", "") + "--x--\r\n"},
			uploadSeed{r, "x", part("other", "", "", "x") + part(rt.part, "a.gif", "", gif) + "--x--\r\n"},
		)
	}
	// The signup form with a picture and a taken email: the picture is
	// stored before the fields are checked, and must go again.
	seeds = append(seeds, uploadSeed{3, "x", part("picture", "a.gif", "", gif) + part("username", "", "", "taken") +
		part("email", "", "", "fuzz1@example.com") + part("password", "", "", "password1") + "--x--\r\n"})
	return seeds
}
