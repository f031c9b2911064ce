package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// listDoc is the body of GET /api/users.
type listDoc struct {
	Users      []userDoc `json:"users"`
	NextCursor *string   `json:"nextCursor"` // nil when the key is missing
}

// listPage reads one page of the user list, checking that the answer is a
// 200 with both keys.
func (c *client) listPage(query url.Values) listDoc {
	c.env.t.Helper()
	var d listDoc
	c.do("GET", "/api/users?"+query.Encode(), nil).want(c.env.t, http.StatusOK).json(c.env.t, &d)
	if d.Users == nil || d.NextCursor == nil {
		c.env.t.Fatalf("GET /api/users?%s: body without users or nextCursor: %+v", query.Encode(), d)
	}
	return d
}

// listAll follows nextCursor from the first page to the last and returns
// every user in the order seen; between runs between pages, when not nil.
func (c *client) listAll(search string, limit int, between func()) []userDoc {
	c.env.t.Helper()
	query := url.Values{"limit": {fmt.Sprint(limit)}}
	if search != "" {
		query.Set("search", search)
	}
	var all []userDoc
	for range 1000 {
		page := c.listPage(query)
		if len(page.Users) > limit {
			c.env.t.Fatalf("a page of limit %d holds %d users", limit, len(page.Users))
		}
		all = append(all, page.Users...)
		if *page.NextCursor == "" {
			return all
		}
		query.Set("cursor", *page.NextCursor)
		if between != nil {
			between()
		}
	}
	c.env.t.Fatalf("the list of %q did not end after 1000 pages", search)
	return nil
}

// newestFirst sorts users as the list orders them: by createdAt, then id,
// both descending.
func newestFirst(users []userDoc) []userDoc {
	out := slices.Clone(users)
	slices.SortFunc(out, func(a, b userDoc) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out
}

// ids lists the ids of users.
func ids(users []userDoc) []string {
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = u.ID
	}
	return out
}

// TestListUsers: GET /api/users pages through everyone newest first, searches
// by username prefix whatever the case, refuses a bad limit or cursor with a
// 422 naming it, and shows email and roles only to the user themself and to
// admins.
func TestListUsers(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env, sink := mailEnv(t, o, func(c *config) { c.rateLimits = false })
		root := env.admin(sink)
		var signed []userDoc
		var alice *client
		for i, name := range []string{"alice", "Alina", "ALBERT", "bob", "carol", "dave", "eve", "frank", "grace", "heidi",
			"ivan", "judy", "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "a.b-c_d"} {
			c := env.newClient()
			signed = append(signed, c.signup(name, strings.ToLower(name)+"@example.com", "password1").User)
			if i == 0 {
				alice = c
			}
			if i%3 == 0 { // some share a creation time, some do not
				env.clock.Advance(time.Second)
			}
		}
		var me struct{ User userDoc }
		root.do("GET", "/api/users/me", nil).want(t, 200).json(t, &me)
		everyone := newestFirst(append(signed, me.User))

		env.newClient().do("GET", "/api/users", nil).wantProblem(t, 401, "missing_token")

		// Paging visits everyone once, newest first, whatever the page size.
		for _, limit := range []int{1, 7, 23, 100} {
			if got := alice.listAll("", limit, nil); !slices.Equal(ids(got), ids(everyone)) {
				t.Errorf("paging by %d visited %d users in another order than the %d newest first", limit, len(got), len(everyone))
			}
		}
		first := alice.listPage(nil) // the default limit is 20
		if len(first.Users) != 20 || *first.NextCursor == "" {
			t.Errorf("first page without a limit: %d users, nextCursor %q; want 20 and a cursor", len(first.Users), *first.NextCursor)
		}
		last := alice.listPage(url.Values{"limit": {"100"}})
		if *last.NextCursor != "" || !bytes.Contains(alice.do("GET", "/api/users?limit=100", nil).body, []byte(`"nextCursor":""`)) {
			t.Errorf("a page holding everyone has nextCursor %q; want an empty one", *last.NextCursor)
		}

		// What each caller sees of others.
		for _, u := range last.Users {
			self := u.ID == signed[0].ID
			if (u.Email != "") != self || (u.Roles != nil) != self || (u.EmailVerified != nil) != self {
				t.Errorf("alice sees %s with email %q, roles %v, emailVerified %v; want those only for herself", u.Username, u.Email, u.Roles, u.EmailVerified)
			}
			if u.Username == "" || u.CreatedAt.IsZero() {
				t.Errorf("alice sees a user without username or createdAt: %+v", u)
			}
		}
		for _, u := range root.listPage(url.Values{"limit": {"100"}}).Users {
			if u.Email == "" || u.Roles == nil || u.EmailVerified == nil {
				t.Errorf("an admin sees %s without email, roles or emailVerified: %+v", u.Username, u)
			}
		}
		if body := alice.do("GET", "/api/users?limit=100", nil).body; bytes.Contains(body, []byte("$2a$")) || bytes.Contains(body, []byte("passwordHash")) {
			t.Errorf("the list shows a password hash: %s", body)
		}

		// Search: a case-insensitive username prefix.
		for _, tc := range []struct {
			search string
			want   []string
		}{
			{"al", []string{"ALBERT", "Alina", "alice"}},
			{"ALI", []string{"Alina", "alice"}},
			{"a.", []string{"a.b-c_d"}},
			{"a.b-c_d", []string{"a.b-c_d"}},
			{"r", []string{"rupert", "root"}},
			{"zed", nil},
			// No username can start with these: nothing, never an error,
			// and never a pattern.
			{"a.*", nil},
			{"^a", nil},
			{".*", nil},
			{`{"$ne":""}`, nil},
			{"al\x00", nil},
			{"al\xff", nil}, // not UTF-8
			{strings.Repeat("a", 33), nil},
		} {
			var want []userDoc
			for _, u := range everyone {
				if slices.Contains(tc.want, u.Username) {
					want = append(want, u)
				}
			}
			if got := alice.listAll(tc.search, 2, nil); !slices.Equal(ids(got), ids(want)) {
				var names []string
				for _, u := range got {
					names = append(names, u.Username)
				}
				t.Errorf("search %q found %q, want %q (newest first)", tc.search, names, tc.want)
			}
		}

		// Bad limits and cursors: a 422 naming them. Unknown parameters
		// are ignored.
		cursor := *alice.listPage(url.Values{"limit": {"3"}}).NextCursor
		// The same bytes with the unused low bits of the last character
		// set: a second spelling, which a strict decoder refuses.
		const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		tampered := cursor[:len(cursor)-1] + string(b64[strings.IndexByte(b64, cursor[len(cursor)-1])|0x0f])
		for _, tc := range []struct {
			query  string
			fields []string
		}{
			{"limit=0", []string{"limit"}},
			{"limit=101", []string{"limit"}},
			{"limit=x", []string{"limit"}},
			{"limit=-1", []string{"limit"}},
			{"limit=1.5", []string{"limit"}},
			{"limit=%2B5", []string{"limit"}},
			{"limit=5&limit=6", []string{"limit"}},
			{"cursor=zzz", []string{"cursor"}},
			{"cursor=" + tampered, []string{"cursor"}},
			{"cursor=" + cursor + "%3D%3D", []string{"cursor"}},
			{"cursor=" + strings.Repeat("A", 10_000), []string{"cursor"}},
			{"limit=0&cursor=zzz", []string{"limit", "cursor"}},
			{"search=a&search=b", []string{"search"}},
		} {
			p := alice.do("GET", "/api/users?"+tc.query, nil).wantProblem(t, 422, "validation_failed")
			if len(p.Errors) != len(tc.fields) {
				t.Errorf("GET /api/users?%.60s: errors %v, want exactly %v named", tc.query, p.Errors, tc.fields)
			}
			for _, f := range tc.fields {
				if p.Errors[f] == "" {
					t.Errorf("GET /api/users?%.60s: errors %v do not name %s", tc.query, p.Errors, f)
				}
			}
		}
		alice.do("GET", "/api/users?limit=%zz", nil).wantProblem(t, 400, "malformed_query")
		alice.do("GET", "/api/users?limit=5;cursor=x", nil).wantProblem(t, 400, "malformed_query")
		var page listDoc
		alice.do("GET", "/api/users?limit=2&sort=name&offset=5&limit_=9", nil).want(t, 200).json(t, &page)
		if !slices.Equal(ids(page.Users), ids(everyone[:2])) {
			t.Errorf("unknown parameters changed the page: %v, want %v", ids(page.Users), ids(everyone[:2]))
		}
		if tampered == cursor {
			t.Fatalf("the test's tampered cursor is the cursor itself")
		}
	})
}

// TestListUsersWhileUsersComeAndGo: while one client signs users up (some
// in the same second as the users already there, which fall among them by
// id, and some newer) and some of the users there delete their accounts,
// paging through the list visits every user that was there at the start
// and stayed exactly once, and nobody twice.
func TestListUsersWhileUsersComeAndGo(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, func(c *config) { c.rateLimits = false })
		reader := env.newClient()
		stay := []userDoc{reader.signup("reader", "reader@example.com", "password1").User}
		type account struct {
			c  *client
			id string
		}
		var leaving []account
		for i := range 30 {
			c := env.newClient()
			u := c.signup(fmt.Sprintf("early%02d", i), fmt.Sprintf("early%02d@example.com", i), "password1").User
			if i%3 == 2 {
				leaving = append(leaving, account{c, u.ID})
			} else {
				stay = append(stay, u)
			}
		}

		stop := make(chan struct{})
		var added, deleted atomic.Int64
		var wg sync.WaitGroup
		// send makes one request off the test's goroutine, where a failure
		// may only be reported, and tells whether it got the status wanted.
		send := func(c *client, method, path string, body any, want int) bool {
			data, _ := json.Marshal(body)
			req, _ := http.NewRequest(method, env.srv.URL+path, bytes.NewReader(data))
			req.Header.Set("Content-Type", "application/json")
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			resp, err := c.http.Do(req)
			if err != nil {
				t.Errorf("%s %s while listing: %v", method, path, err)
				return false
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("%s %s while listing: status %d, want %d", method, path, resp.StatusCode, want)
				return false
			}
			return true
		}
		wg.Go(func() {
			signer := env.newClient()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if i%4 == 3 {
					env.clock.Advance(time.Second) // then newer than everyone before
				}
				body := map[string]string{"username": fmt.Sprintf("late%03d", i), "email": fmt.Sprintf("late%03d@example.com", i), "password": "password1"}
				if !send(signer, "POST", "/api/auth/signup", body, http.StatusCreated) {
					return
				}
				added.Add(1)
			}
		})
		wg.Go(func() {
			for _, a := range leaving {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				if !send(a.c, "DELETE", "/api/users/"+a.id, map[string]string{"currentPassword": "password1"}, http.StatusNoContent) {
					return
				}
				deleted.Add(1)
			}
		})
		for _, search := range []string{"", "e"} {
			seen := make(map[string]int)
			visited := reader.listAll(search, 3, func() { time.Sleep(15 * time.Millisecond) })
			for _, u := range visited {
				if seen[u.ID]++; seen[u.ID] == 2 {
					t.Errorf("search %q: %s listed twice", search, u.Username)
				}
			}
			for _, u := range stay {
				if search != "" && !strings.HasPrefix(u.Username, search) {
					continue
				}
				if seen[u.ID] != 1 {
					t.Errorf("search %q: %s listed %d times, want once", search, u.Username, seen[u.ID])
				}
			}
			if want := newestFirst(visited); !slices.Equal(ids(visited), ids(want)) {
				t.Errorf("search %q: the pages were not in order, newest first", search)
			}
		}
		close(stop)
		wg.Wait()
		t.Logf("%d users signed up and %d left while the list was read", added.Load(), deleted.Load())
		if added.Load() == 0 || deleted.Load() == 0 {
			t.Errorf("%d users signed up and %d left while the list was read, want some of each: the test proved little", added.Load(), deleted.Load())
		}
	})
}
