package main

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSignupAndMe(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, nil)
		c := env.newClient()
		r := c.do("POST", "/api/auth/signup", map[string]any{
			"username": "Alice", "email": "  Alice@Example.COM ", "password": "correct horse",
			"fullName": "Alice Liddell", "color": "#ff0000",
		}).want(t, http.StatusCreated)
		if ct := r.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Errorf("signup Content-Type = %q", ct)
		}
		var d authDoc
		r.json(t, &d)
		c.token = d.AccessToken
		if d.TokenType != "Bearer" || d.ExpiresIn != 900 || d.AccessToken == "" || d.RefreshToken != "" {
			t.Errorf("signup tokens = %+v, want Bearer, 900 s, an access token and no refreshToken in the body", d)
		}
		want := userDoc{ID: d.User.ID, Username: "Alice", Email: "alice@example.com", FullName: "Alice Liddell",
			Color: "#ff0000", Roles: []string{"user"}, CreatedAt: env.clock.Now()}
		if !sameUser(d.User, want) {
			t.Errorf("signup user = %+v, want %+v", d.User, want)
		}
		if strings.Contains(string(r.body), "$2a$") || strings.Contains(strings.ToLower(string(r.body)), "password") {
			t.Errorf("signup body leaks a password or hash: %s", r.body)
		}
		checkRefreshCookie(t, r, 7*24*3600)
		if c.refreshCookie() == "" {
			t.Fatal("cookie jar holds no refresh_token after signup")
		}

		var me struct{ User userDoc }
		c.do("GET", "/api/users/me", nil).want(t, http.StatusOK).json(t, &me)
		if !sameUser(me.User, want) {
			t.Errorf("GET /api/users/me = %+v, want %+v", me.User, want)
		}
		// X-Access-Token works as well as Authorization: Bearer.
		token := c.token
		c.token = ""
		c.do("GET", "/api/users/me", nil, "X-Access-Token", token).want(t, http.StatusOK)
	})
}

// sameUser compares user documents, times with Equal.
func sameUser(a, b userDoc) bool {
	return a.ID == b.ID && a.Username == b.Username && a.Email == b.Email && a.FullName == b.FullName &&
		a.Color == b.Color && slices.Equal(a.Roles, b.Roles) && a.PictureURL == b.PictureURL && a.CreatedAt.Equal(b.CreatedAt)
}

// checkRefreshCookie checks the attributes of the refresh cookie set by r.
func checkRefreshCookie(t *testing.T, r *response, maxAge int) {
	t.Helper()
	for _, line := range r.Header.Values("Set-Cookie") {
		if !strings.HasPrefix(line, "refresh_token=") {
			continue
		}
		for _, attr := range []string{"Path=/api/auth", "HttpOnly", "Secure", "SameSite=Lax", "Max-Age=" + strconv.Itoa(maxAge)} {
			if !strings.Contains(line, attr) {
				t.Errorf("Set-Cookie %q lacks %s", line, attr)
			}
		}
		return
	}
	t.Errorf("%s %s set no refresh_token cookie; Set-Cookie: %q", r.Request.Method, r.Request.URL.Path, r.Header.Values("Set-Cookie"))
}

func TestSignupConflicts(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, nil)
		env.newClient().signup("alice", "alice@example.com", "password1")
		tests := []struct {
			name, username, email, code string
		}{
			{"same email in other case", "alice2", "ALICE@example.com", "email_taken"},
			{"same username in other case", "ALICE", "other@example.com", "username_taken"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				env.newClient().do("POST", "/api/auth/signup", map[string]any{
					"username": tt.username, "email": tt.email, "password": "password1",
				}).wantProblem(t, http.StatusConflict, tt.code)
			})
		}
	})
}

func TestSignupBadInput(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, nil)
		good := `{"username":"bob","email":"bob@example.com","password":"password1"}`
		tests := []struct {
			name        string
			body        string
			contentType string
			status      int
			code        string
			fields      []string // the fields the 422 must name
		}{
			{"malformed JSON", `{"username":`, "", 400, "malformed_json", nil},
			{"empty body", ``, "", 400, "malformed_json", nil},
			{"trailing data", good + `{}`, "", 400, "malformed_json", nil},
			{"not an object", `[1,2]`, "", 422, "validation_failed", nil},
			{"unknown field", `{"username":"bob","email":"bob@example.com","password":"password1","admin":true}`, "", 422, "validation_failed", []string{"admin"}},
			{"operator object for email", `{"username":"bob","email":{"$ne":null},"password":"password1"}`, "", 422, "validation_failed", []string{"email"}},
			{"roles self-assigned", `{"username":"bob","email":"bob@example.com","password":"password1","roles":["admin"]}`, "", 422, "validation_failed", []string{"roles"}},
			{"everything missing", `{}`, "", 422, "validation_failed", []string{"username", "email", "password"}},
			{"bad fields", `{"username":"b!","email":"Bob <bob@example.com>","password":"short","fullName":"` + strings.Repeat("x", 101) + `","color":"` + strings.Repeat("c", 33) + `"}`, "", 422, "validation_failed", []string{"username", "email", "password", "fullName", "color"}},
			{"password over 72 bytes", `{"username":"bob","email":"bob@example.com","password":"` + strings.Repeat("é", 37) + `"}`, "", 422, "validation_failed", []string{"password"}},
			{"username too long", `{"username":"` + strings.Repeat("b", 33) + `","email":"bob@example.com","password":"password1"}`, "", 422, "validation_failed", []string{"username"}},
			{"body over 1 MiB", `{"username":"bob","email":"bob@example.com","password":"password1","fullName":"` + strings.Repeat("x", 1<<20) + `"}`, "", 413, "payload_too_large", nil},
			{"form body", `username=bob`, "application/x-www-form-urlencoded", 415, "unsupported_media_type", nil},
			{"password not valid UTF-8", "{\"username\":\"bob\",\"email\":\"bob@example.com\",\"password\":\"password\xff\"}", "", 422, "validation_failed", []string{"password"}},
			{"full name not valid UTF-8", "{\"username\":\"bob\",\"email\":\"bob@example.com\",\"password\":\"password1\",\"fullName\":\"B\xc3\"}", "", 422, "validation_failed", []string{"fullName"}},
		}
		c := env.newClient()
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ct := tt.contentType
				if ct == "" {
					ct = "application/json"
				}
				p := c.do("POST", "/api/auth/signup", tt.body, "Content-Type", ct).wantProblem(t, tt.status, tt.code)
				for _, f := range tt.fields {
					if p.Errors[f] == "" {
						t.Errorf("422 errors %v do not name field %q", p.Errors, f)
					}
				}
			})
		}
		// None of that created anything: the good sign-up still works.
		c.do("POST", "/api/auth/signup", good).want(t, http.StatusCreated)

		// Two passwords that differ only in bytes that are not UTF-8 would
		// both become "password\uFFFD" if the decoder replaced them: the
		// login with the other bytes is refused by name, never compared.
		c.do("POST", "/api/auth/login", "{\"email\":\"bob@example.com\",\"password\":\"password\xfe\"}").
			wantProblem(t, 422, "validation_failed")
	})
}

func TestLogin(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, nil)
		signup := env.newClient().signup("Carol", "carol@example.com", "password1")

		for _, by := range []struct{ field, value string }{
			{"email", "carol@example.com"},
			{"email", " CAROL@Example.com"},
			{"username", "carol"},
			{"username", "CAROL"},
		} {
			c := env.newClient()
			d := c.login(by.field, by.value, "password1")
			if d.User.ID != signup.User.ID || c.refreshCookie() == "" {
				t.Errorf("login by %s %q: user %q, cookie %q; want user %q and a cookie", by.field, by.value, d.User.ID, c.refreshCookie(), signup.User.ID)
			}
		}

		c := env.newClient()
		wrong := c.do("POST", "/api/auth/login", map[string]any{"email": "carol@example.com", "password": "wrong-password"})
		unknown := c.do("POST", "/api/auth/login", map[string]any{"email": "nobody@example.com", "password": "wrong-password"})
		tooLong := c.do("POST", "/api/auth/login", map[string]any{"email": "carol@example.com", "password": "password1" + strings.Repeat("x", 64)})
		for name, r := range map[string]*response{"wrong password": wrong, "unknown user": unknown, "password over 72 bytes": tooLong} {
			r.wantProblem(t, http.StatusUnauthorized, "invalid_credentials")
			if got := r.Header.Get("WWW-Authenticate"); got != `Bearer realm="corkboard"` {
				t.Errorf("%s: WWW-Authenticate = %q", name, got)
			}
		}
		if string(wrong.body) != string(unknown.body) {
			t.Errorf("wrong password and unknown user differ:\n%s\n%s", wrong.body, unknown.body)
		}
		c.do("POST", "/api/auth/login", map[string]any{"password": "x"}).wantProblem(t, 422, "validation_failed")
		c.do("POST", "/api/auth/login", map[string]any{"email": "carol@example.com", "username": "carol", "password": "password1"}).wantProblem(t, 422, "validation_failed")
	})
}

func TestAccessTokenRejections(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, nil)
		c := env.newClient()
		d := c.signup("dave", "dave@example.com", "password1")
		tests := []struct {
			name, header, value string
			code, description   string
		}{
			{"no token", "", "", "missing_token", ""},
			{"basic auth", "Authorization", "Basic ZGF2ZTpwYXNzd29yZDE=", "missing_token", ""},
			{"garbage", "Authorization", "Bearer not.a.jwt", "invalid_token", "access token invalid"},
			{"refresh token as access token", "Authorization", "Bearer " + env.newClient().signupForBody("refresher").RefreshToken, "invalid_token", "access token invalid"},
			{"tampered", "Authorization", "Bearer " + d.AccessToken[:len(d.AccessToken)-2] + "AA", "invalid_token", "access token invalid"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				anon := env.newClient()
				var r *response
				if tt.header == "" {
					r = anon.do("GET", "/api/users/me", nil)
				} else {
					r = anon.do("GET", "/api/users/me", nil, tt.header, tt.value)
				}
				r.wantProblem(t, http.StatusUnauthorized, tt.code)
				want := `Bearer realm="corkboard"`
				if tt.description != "" {
					want += `, error="invalid_token", error_description="` + tt.description + `"`
				}
				if got := r.Header.Get("WWW-Authenticate"); got != want {
					t.Errorf("WWW-Authenticate = %q, want %q", got, want)
				}
			})
		}
		t.Run("expired", func(t *testing.T) {
			env.clock.Advance(15*time.Minute + time.Second)
			r := c.do("GET", "/api/users/me", nil)
			r.wantProblem(t, http.StatusUnauthorized, "token_expired")
			if got, want := r.Header.Get("WWW-Authenticate"), `Bearer realm="corkboard", error="invalid_token", error_description="access token expired"`; got != want {
				t.Errorf("WWW-Authenticate = %q, want %q", got, want)
			}
		})
	})
}

func TestUserProfilesAndRoles(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env, sink := mailEnv(t, o, nil)
		alice := env.newClient()
		a := alice.signup("alice", "alice@example.com", "password1")
		bob := env.newClient()
		b := bob.signup("bob", "bob@example.com", "password1")
		// ADMIN_EMAILS gives the role once the address is proved, by the
		// password its owner chooses through the mailed link.
		root := env.admin(sink)
		rootDoc := root.login("username", "root", "password1")
		if !slices.Equal(rootDoc.User.Roles, []string{"user", "admin"}) {
			t.Errorf("ADMIN_EMAILS user roles once verified = %v, want [user admin]", rootDoc.User.Roles)
		}

		var got struct{ User userDoc }
		bob.do("GET", "/api/users/"+a.User.ID, nil).want(t, 200).json(t, &got)
		if got.User.Username != "alice" || got.User.Email != "" || got.User.Roles != nil {
			t.Errorf("bob sees alice as %+v; want username only, no email or roles", got.User)
		}
		root.do("GET", "/api/users/"+b.User.ID, nil).want(t, 200).json(t, &got)
		if got.User.Email != "bob@example.com" || !slices.Equal(got.User.Roles, []string{"user"}) {
			t.Errorf("admin sees bob as %+v; want email and roles", got.User)
		}
		bob.do("GET", "/api/users/"+b.User.ID, nil).want(t, 200).json(t, &got)
		if got.User.Email != "bob@example.com" {
			t.Errorf("bob sees himself as %+v; want his email", got.User)
		}
		bob.do("GET", "/api/users/000000000000000000000000", nil).wantProblem(t, 404, "not_found")
		bob.do("GET", "/api/users/..%2f..%2fetc", nil).wantProblem(t, 404, "not_found")

		tests := []struct {
			path    string
			c       *client
			status  int
			code    string
			message string
		}{
			{"/api/test/all", env.newClient(), 200, "", "Public Content."},
			{"/api/test/user", env.newClient(), 401, "missing_token", ""},
			{"/api/test/user", bob, 200, "", "User Content."},
			{"/api/test/mod", bob, 403, "insufficient_role", ""},
			{"/api/test/mod", root, 200, "", "Moderator Content."},
			{"/api/test/admin", bob, 403, "insufficient_role", ""},
			{"/api/test/admin", env.newClient(), 401, "missing_token", ""},
			{"/api/test/admin", root, 200, "", "Admin Content."},
		}
		for _, tt := range tests {
			r := tt.c.do("GET", tt.path, nil)
			if tt.code != "" {
				r.wantProblem(t, tt.status, tt.code)
				continue
			}
			var m struct{ Message string }
			r.want(t, tt.status).json(t, &m)
			if m.Message != tt.message {
				t.Errorf("GET %s = %q, want %q", tt.path, m.Message, tt.message)
			}
		}
	})
}

func TestMuxProblemsAndCORS(t *testing.T) {
	env := startEnv(t, fileStore, nil)
	c := env.newClient()
	c.do("GET", "/api/nothing-here", nil).wantProblem(t, 404, "not_found")
	r := c.do("DELETE", "/api/auth/login", nil)
	r.wantProblem(t, 405, "method_not_allowed")
	if allow := r.Header.Get("Allow"); !strings.Contains(allow, "POST") {
		t.Errorf("405 Allow = %q, want it to list POST", allow)
	}

	var h struct{ Status, Store string }
	c.do("GET", "/healthz", nil).want(t, 200).json(t, &h)
	if h.Status != "ok" || h.Store != "file" {
		t.Errorf("healthz = %+v", h)
	}

	r = c.do("GET", "/api/test/all", nil, "Origin", "http://localhost:5173")
	if r.Header.Get("Access-Control-Allow-Origin") != "http://localhost:5173" || r.Header.Get("Access-Control-Allow-Credentials") != "true" || !slices.Contains(r.Header.Values("Vary"), "Origin") {
		t.Errorf("allowed origin got headers %v", r.Header)
	}
	r = c.do("GET", "/api/test/all", nil, "Origin", "https://evil.example")
	if r.Header.Get("Access-Control-Allow-Origin") != "" || r.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("disallowed origin got CORS headers %v", r.Header)
	}
	r = c.do("OPTIONS", "/api/auth/login", nil, "Origin", "http://localhost:3000", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type")
	r.want(t, 204)
	if !strings.Contains(r.Header.Get("Access-Control-Allow-Methods"), "POST") || !strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "X-Access-Token") || !strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "Prefer") {
		t.Errorf("preflight headers %v", r.Header)
	}
}

// TestRolesAPI: only an admin changes roles; the change takes effect on the
// user's next request, with the token they already hold; unknown roles are
// refused.
func TestRolesAPI(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env, sink := mailEnv(t, o, nil)
		alice := env.newClient()
		a := alice.signup("alice", "alice@example.com", "password1")
		bob := env.newClient()
		b := bob.signup("bob", "bob@example.com", "password1")
		root := env.admin(sink)

		alice.do("PUT", "/api/users/"+b.User.ID+"/roles", map[string]any{"roles": []string{"admin"}}).wantProblem(t, 403, "forbidden")
		alice.do("PUT", "/api/users/"+a.User.ID+"/roles", map[string]any{"roles": []string{"admin"}}).wantProblem(t, 403, "forbidden")
		alice.do("GET", "/api/test/mod", nil).wantProblem(t, 403, "insufficient_role")

		r := root.do("PUT", "/api/users/"+a.User.ID+"/roles", map[string]any{"roles": []string{"moderator"}}).want(t, 200)
		var got struct{ User userDoc }
		r.json(t, &got)
		if !slices.Equal(got.User.Roles, []string{"user", "moderator"}) {
			t.Errorf("roles after PUT [moderator] = %v, want [user moderator]", got.User.Roles)
		}
		alice.do("GET", "/api/test/mod", nil).want(t, 200) // the same token, at once

		root.do("PUT", "/api/users/"+a.User.ID+"/roles", map[string]any{"roles": []string{"root"}}).wantProblem(t, 422, "validation_failed")
		root.do("PUT", "/api/users/0123456789abcdef01234567/roles", map[string]any{"roles": []string{"user"}}).wantProblem(t, 404, "not_found")
		root.do("PUT", "/api/users/"+a.User.ID+"/roles", map[string]any{"roles": []string{}}).want(t, 200)
		alice.do("GET", "/api/test/mod", nil).wantProblem(t, 403, "insufficient_role") // demoted at once
	})
}

// TestUpdateProfile: a user edits their own profile, an admin anyone's,
// nobody else's; a taken username is a 409, bad fields a 422, and a
// refused edit changes nothing.
func TestUpdateProfile(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env, sink := mailEnv(t, o, nil)
		alice := env.newClient()
		a := alice.signup("alice", "alice@example.com", "password1")
		bob := env.newClient()
		b := bob.signup("bob", "bob@example.com", "password1")
		root := env.admin(sink)

		var got struct{ User userDoc }
		alice.do("PATCH", "/api/users/"+a.User.ID, map[string]any{"fullName": "Alice Liddell", "color": "#ff0000"}).want(t, 200).json(t, &got)
		if got.User.FullName != "Alice Liddell" || got.User.Color != "#ff0000" || got.User.Username != "alice" {
			t.Errorf("after PATCH of her own profile: %+v", got.User)
		}
		alice.do("PATCH", "/api/users/"+b.User.ID, map[string]any{"fullName": "pwned"}).wantProblem(t, 403, "forbidden")
		alice.do("PATCH", "/api/users/"+a.User.ID, map[string]any{"username": "BOB"}).wantProblem(t, 409, "username_taken")
		p := alice.do("PATCH", "/api/users/"+a.User.ID, map[string]any{"username": "a!", "color": strings.Repeat("c", 33)}).wantProblem(t, 422, "validation_failed")
		if p.Errors["username"] == "" || p.Errors["color"] == "" {
			t.Errorf("422 errors %v, want username and color named", p.Errors)
		}
		alice.do("PATCH", "/api/users/"+a.User.ID, map[string]any{"roles": []string{"admin"}}).wantProblem(t, 422, "validation_failed")
		root.do("PATCH", "/api/users/"+b.User.ID, map[string]any{"username": "robert"}).want(t, 200)
		env.newClient().login("username", "robert", "password1")
		bob.do("GET", "/api/users/"+b.User.ID, nil).want(t, 200).json(t, &got)
		if got.User.FullName != "" || got.User.Username != "robert" {
			t.Errorf("bob after the refused and the admin's edits: %+v", got.User)
		}
		root.do("PATCH", "/api/users/0123456789abcdef01234567", map[string]any{"fullName": "x"}).wantProblem(t, 404, "not_found")
	})
}
