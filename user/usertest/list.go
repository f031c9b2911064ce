package usertest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"corkboard/user"
)

// The contract of user.Store.ListUsers: newest first by (CreatedAt, ID),
// a case-insensitive username prefix, keyset pages that neither skip nor
// repeat a user while others sign up or are deleted.

// listTests are the ListUsers tests, run by TestStore.
var listTests = []struct {
	name string
	run  func(t *testing.T, s user.Store)
}{
	{"ListEmpty", testListEmpty},
	{"ListOrderAndLimit", testListOrder},
	{"ListTieBreakByID", testListTies},
	{"ListPrefix", testListPrefix},
	{"ListPages", testListPages},
	{"ListAfterAnyPosition", testListAfterAnyPosition},
	{"ListRenamed", testListRenamed},
	{"ListAfterDeleted", testListAfterDeleted},
	{"ListWhileUsersSignUpAndLeave", testListConcurrent},
}

// list calls ListUsers or stops the test.
func list(t *testing.T, s user.Store, q user.ListQuery) []user.User {
	t.Helper()
	got, err := s.ListUsers(context.Background(), q)
	if err != nil {
		t.Fatalf("ListUsers(%s) = %v, want nil", describeQuery(q), err)
	}
	return got
}

// describeQuery writes q for failure messages.
func describeQuery(q user.ListQuery) string {
	after := "nil"
	if q.After != nil {
		after = fmt.Sprintf("{%s %s}", q.After.CreatedAt.Format(time.RFC3339Nano), q.After.ID)
	}
	return fmt.Sprintf("{Prefix:%q Limit:%d After:%s}", q.Prefix, q.Limit, after)
}

// names lists the usernames of users, for failure messages.
func names(users []user.User) []string {
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = u.Username
	}
	return out
}

// newestFirst returns users sorted as ListUsers lists them.
func newestFirst(users []user.User) []user.User {
	out := slices.Clone(users)
	slices.SortFunc(out, func(a, b user.User) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out
}

// wantList checks that ListUsers(q) returns exactly want, in order, with
// every field as stored.
func wantList(t *testing.T, s user.Store, q user.ListQuery, want []user.User) {
	t.Helper()
	got := list(t, s, q)
	if len(got) != len(want) || !slices.EqualFunc(got, want, func(a, b user.User) bool { return a.ID == b.ID }) {
		t.Errorf("ListUsers(%s) = %q, want %q", describeQuery(q), names(got), names(want))
		return
	}
	for i := range got {
		if d := diffUser(got[i], want[i]); d != "" {
			t.Errorf("ListUsers(%s)[%d] differs from the stored user:\n%s", describeQuery(q), i, d)
		}
	}
}

func testListEmpty(t *testing.T, s user.Store) {
	wantList(t, s, user.ListQuery{Limit: 10}, nil)
	wantList(t, s, user.ListQuery{Prefix: "a", Limit: 10}, nil)
	mustCreate(t, s, newUser("alice", baseTime()))
	wantList(t, s, user.ListQuery{Limit: 0}, nil) // a limit below 1 lists nobody
	wantList(t, s, user.ListQuery{Prefix: "b", Limit: 10}, nil)
}

// testListOrder: newest first whatever the order of creation, and no more
// than the limit.
func testListOrder(t *testing.T, s user.Store) {
	var users []user.User
	for i, minutes := range []int{3, 0, 7, 1, 5, 2, 6, 4} {
		u := newUser(fmt.Sprintf("user%d", i), baseTime().Add(time.Duration(minutes)*time.Minute))
		mustCreate(t, s, u)
		users = append(users, u)
	}
	want := newestFirst(users)
	wantList(t, s, user.ListQuery{Limit: 100}, want)
	wantList(t, s, user.ListQuery{Limit: 3}, want[:3])
	wantList(t, s, user.ListQuery{Limit: 1}, want[:1])
	wantList(t, s, user.ListQuery{Limit: len(want)}, want)
}

// testListTies: users created in the same millisecond are ordered by id,
// descending, and a page may end between two of them.
func testListTies(t *testing.T, s user.Store) {
	var users []user.User
	for i := range 9 {
		// Three instants, three users each.
		u := newUser(fmt.Sprintf("tie%d", i), baseTime().Add(time.Duration(i%3)*time.Second))
		mustCreate(t, s, u)
		users = append(users, u)
	}
	want := newestFirst(users)
	wantList(t, s, user.ListQuery{Limit: 20}, want)
	for i := range want[:len(want)-1] {
		after := user.PositionOf(want[i])
		wantList(t, s, user.ListQuery{Limit: 2, After: &after}, want[i+1:min(i+3, len(want))])
	}
	last := user.PositionOf(want[len(want)-1])
	wantList(t, s, user.ListQuery{Limit: 2, After: &last}, nil)
}

// testListPrefix: the prefix is matched against the username without
// regard to its case, and a prefix that ends in '-' does not match '.'
// (the next byte), the bound a range query must get right.
func testListPrefix(t *testing.T, s user.Store) {
	byName := make(map[string]user.User)
	for i, name := range []string{"Alice", "alina", "ALBERT", "alf", "bob", "a-b", "a.b", "a_b", "a0b", "Zed", "zz-top"} {
		u := newUser(name, baseTime().Add(time.Duration(i)*time.Second))
		mustCreate(t, s, u)
		byName[name] = u
	}
	pick := func(names ...string) []user.User {
		var out []user.User
		for _, n := range names {
			out = append(out, byName[n])
		}
		return newestFirst(out)
	}
	for _, tc := range []struct {
		prefix string
		want   []user.User
	}{
		{"al", pick("Alice", "alina", "ALBERT", "alf")},
		{"ali", pick("Alice", "alina")},
		{"alice", pick("Alice")},
		{"alicex", nil},
		{"alb", pick("ALBERT")},
		{"a-", pick("a-b")},
		{"a.", pick("a.b")},
		{"a_", pick("a_b")},
		{"a0", pick("a0b")},
		{"a", pick("Alice", "alina", "ALBERT", "alf", "a-b", "a.b", "a_b", "a0b")},
		{"z", pick("Zed", "zz-top")},
		{"zz", pick("zz-top")},
		{"zz-top", pick("zz-top")},
		{"c", nil},
	} {
		wantList(t, s, user.ListQuery{Prefix: tc.prefix, Limit: 100}, tc.want)
	}
	wantList(t, s, user.ListQuery{Prefix: "a", Limit: 3}, pick("Alice", "alina", "ALBERT", "alf", "a-b", "a.b", "a_b", "a0b")[:3])
}

// testListPages: following the last position of each page visits every
// user once, in order, with and without a prefix.
func testListPages(t *testing.T, s user.Store) {
	var all, fours []user.User
	for i := range 30 {
		name := fmt.Sprintf("page%02d", i)
		if i%3 == 0 {
			name = fmt.Sprintf("FOUR%02d", i)
		}
		// Two users per second: ties on most page boundaries too.
		u := newUser(name, baseTime().Add(time.Duration(i/2)*time.Second))
		mustCreate(t, s, u)
		all = append(all, u)
		if i%3 == 0 {
			fours = append(fours, u)
		}
	}
	for _, tc := range []struct {
		prefix string
		limit  int
		want   []user.User
	}{
		{"", 4, newestFirst(all)},
		{"", 1, newestFirst(all)},
		{"", 30, newestFirst(all)},
		{"four", 3, newestFirst(fours)},
		{"page", 7, newestFirst(slices.DeleteFunc(slices.Clone(all), func(u user.User) bool { return strings.HasPrefix(u.Username, "FOUR") }))},
	} {
		got := pageThrough(t, s, tc.prefix, tc.limit, nil)
		if !slices.EqualFunc(got, tc.want, func(a, b user.User) bool { return a.ID == b.ID }) {
			t.Errorf("paging prefix %q by %d visited %q, want %q", tc.prefix, tc.limit, names(got), names(tc.want))
		}
	}
}

// pageThrough reads every page of the list with prefix, limit users a
// page, and returns the users in the order visited. Between pages it calls
// between, when not nil.
func pageThrough(t *testing.T, s user.Store, prefix string, limit int, between func()) []user.User {
	t.Helper()
	var visited []user.User
	q := user.ListQuery{Prefix: prefix, Limit: limit}
	for range 1000 { // a list that never ends is a failure, not a hang
		page := list(t, s, q)
		visited = append(visited, page...)
		if len(page) < limit {
			return visited
		}
		after := user.PositionOf(page[len(page)-1])
		q.After = &after
		if between != nil {
			between()
		}
	}
	t.Fatalf("paging prefix %q by %d did not end after 1,000 pages", prefix, limit)
	return nil
}

// testListAfterAnyPosition: a position need not be a user's (the user may
// be gone): the page starts with the first user older than it.
func testListAfterAnyPosition(t *testing.T, s user.Store) {
	var users []user.User
	for i := range 5 {
		u := newUser(fmt.Sprintf("user%d", i), baseTime().Add(time.Duration(i)*time.Minute))
		mustCreate(t, s, u)
		users = append(users, u)
	}
	want := newestFirst(users) // user4 … user0
	between := user.Position{CreatedAt: baseTime().Add(150 * time.Second), ID: strings.Repeat("f", 24)}
	wantList(t, s, user.ListQuery{Limit: 10, After: &between}, want[2:]) // user2, user1, user0
	sameTime := user.Position{CreatedAt: users[2].CreatedAt, ID: strings.Repeat("f", 24)}
	wantList(t, s, user.ListQuery{Limit: 10, After: &sameTime}, want[2:]) // user2 has a smaller id
	sameTime.ID = strings.Repeat("0", 24)
	wantList(t, s, user.ListQuery{Limit: 10, After: &sameTime}, want[3:])
	future := user.Position{CreatedAt: baseTime().Add(24 * time.Hour), ID: strings.Repeat("0", 24)}
	wantList(t, s, user.ListQuery{Limit: 10, After: &future}, want)
	past := user.Position{CreatedAt: baseTime().Add(-time.Hour), ID: strings.Repeat("f", 24)}
	wantList(t, s, user.ListQuery{Limit: 10, After: &past}, nil)
	wantList(t, s, user.ListQuery{Prefix: "user", Limit: 10, After: &between}, want[2:])
}

// testListRenamed: after a change of username the user is found under the
// new name only, still in its place by age.
func testListRenamed(t *testing.T, s user.Store) {
	ctx := context.Background()
	alice := newUser("alice", baseTime())
	bob := newUser("bob", baseTime().Add(time.Minute))
	mustCreate(t, s, alice)
	mustCreate(t, s, bob)
	later := ms(baseTime().Add(time.Hour))
	if err := s.SetProfile(ctx, alice.ID, "Zelda", alice.FullName, alice.Color, later); err != nil {
		t.Fatalf("SetProfile(alice → Zelda) = %v", err)
	}
	alice.Username, alice.UpdatedAt = "Zelda", later
	wantList(t, s, user.ListQuery{Prefix: "al", Limit: 10}, nil)
	wantList(t, s, user.ListQuery{Prefix: "zel", Limit: 10}, []user.User{alice})
	wantList(t, s, user.ListQuery{Limit: 10}, []user.User{bob, alice}) // order by age is unchanged
	// Other changes keep the user listed once.
	if err := s.SetRoles(ctx, bob.ID, []string{"user", "moderator"}, later); err != nil {
		t.Fatalf("SetRoles(bob) = %v", err)
	}
	bob.Roles, bob.UpdatedAt = []string{"user", "moderator"}, later
	wantList(t, s, user.ListQuery{Limit: 10}, []user.User{bob, alice})
	wantList(t, s, user.ListQuery{Prefix: "b", Limit: 10}, []user.User{bob})
}

// testListConcurrent: while other goroutines sign users up (newer ones,
// and ones of the same millisecond as the existing users, which fall among
// them by id) and delete users (a third of those there at the start, and
// some of the new ones), paging through the list visits every user that
// was there at the start and stayed exactly once, and no user twice.
func testListConcurrent(t *testing.T, s user.Store) {
	const existing = 40
	var stay, doomed []user.User
	for i := range existing {
		u := newUser(fmt.Sprintf("old%02d", i), baseTime().Add(time.Duration(i/4)*time.Second))
		mustCreate(t, s, u)
		if i%3 == 2 {
			doomed = append(doomed, u)
		} else {
			stay = append(stay, u)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var added, deleted atomic.Int64
	fresh := make(chan user.User, 1000) // new users the deleter may take
	for w := range 2 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				at := baseTime().Add(time.Duration(i%10) * time.Second) // among the existing users' times
				if w == 1 {
					at = baseTime().Add(time.Hour + time.Duration(i)*time.Millisecond) // newer than all
				}
				u := newUser(fmt.Sprintf("new%d_%d", w, i), at)
				if err := s.CreateUser(context.Background(), u); err != nil {
					t.Errorf("CreateUser(%s) while listing = %v", describe(u), err)
					return
				}
				added.Add(1)
				if i%2 == 0 {
					select {
					case fresh <- u:
					default:
					}
				}
			}
		})
	}
	wg.Go(func() {
		del := func(u user.User) bool {
			if _, err := s.DeleteUser(context.Background(), u.ID); err != nil {
				t.Errorf("DeleteUser(%s) while listing = %v", describe(u), err)
				return false
			}
			deleted.Add(1)
			time.Sleep(time.Millisecond)
			return true
		}
		for _, u := range doomed {
			if ctx.Err() != nil || !del(u) {
				return
			}
		}
		for {
			select {
			case <-ctx.Done():
				return
			case u := <-fresh:
				if !del(u) {
					return
				}
			}
		}
	})
	for _, prefix := range []string{"", "old", "o"} {
		visited := pageThrough(t, s, prefix, 3, func() { time.Sleep(time.Millisecond) })
		seen := make(map[string]int)
		for _, u := range visited {
			seen[u.ID]++
			if seen[u.ID] == 2 {
				t.Errorf("paging prefix %q visited %s twice", prefix, describe(u))
			}
		}
		for _, u := range stay {
			if seen[u.ID] != 1 {
				t.Errorf("paging prefix %q visited %s %d times, want 1", prefix, describe(u), seen[u.ID])
			}
		}
		// Whatever else it saw, the order held.
		if want := newestFirst(visited); !slices.EqualFunc(visited, want, func(a, b user.User) bool { return a.ID == b.ID }) {
			t.Errorf("paging prefix %q visited users out of order: %q", prefix, names(visited))
		}
	}
	cancel()
	wg.Wait()
	t.Logf("%d users signed up and %d deleted while the list was read", added.Load(), deleted.Load())
	if added.Load() == 0 || deleted.Load() == 0 {
		t.Errorf("%d users signed up and %d deleted while the list was read, want some of each: the test proved little", added.Load(), deleted.Load())
	}
}

// testListAfterDeleted: deleting the user a page ended with, and the one
// that would start the next page, leaves neither a gap nor a repeat.
func testListAfterDeleted(t *testing.T, s user.Store) {
	ctx := context.Background()
	var users []user.User
	for i := range 6 {
		u := newUser(fmt.Sprintf("user%d", i), baseTime().Add(time.Duration(i)*time.Second))
		mustCreate(t, s, u)
		users = append(users, u)
	}
	want := newestFirst(users) // user5 … user0
	first := list(t, s, user.ListQuery{Limit: 2})
	wantList(t, s, user.ListQuery{Limit: 2}, want[:2])
	for _, u := range []user.User{want[1], want[2]} { // the cursor's user, and the next one
		if _, err := s.DeleteUser(ctx, u.ID); err != nil {
			t.Fatalf("DeleteUser(%s) = %v", describe(u), err)
		}
	}
	after := user.PositionOf(first[len(first)-1])
	wantList(t, s, user.ListQuery{Limit: 2, After: &after}, want[3:5])
	wantList(t, s, user.ListQuery{Limit: 10}, []user.User{want[0], want[3], want[4], want[5]})
	wantList(t, s, user.ListQuery{Prefix: "user", Limit: 10, After: &after}, want[3:])
}
