package filestore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"corkboard/user"
)

// TestOrderedList checks the block list against a plain sorted slice
// through thousands of random inserts and removes, enough to split blocks
// many times and to empty some.
func TestOrderedList(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	l := orderedList{cmp: compareName}
	var ref []listEntry
	entry := func() listEntry {
		return listEntry{key: fmt.Sprintf("k%05d", rng.IntN(8_000)), id: fmt.Sprintf("%024x", rng.IntN(4))}
	}
	for step := range 8_000 {
		e := entry()
		if i, found := slices.BinarySearchFunc(ref, e, compareName); found {
			l.remove(e)
			ref = slices.Delete(ref, i, i+1)
		} else if step%5 == 0 && len(ref) > 0 {
			// Remove an entry that is there, and one that is not.
			j := rng.IntN(len(ref))
			l.remove(ref[j])
			ref = slices.Delete(ref, j, j+1)
			l.remove(listEntry{key: "missing", id: "x"})
		} else {
			l.insert(e)
			ref = slices.Insert(ref, i, e)
		}
		if step%997 == 0 || step == 7_999 {
			checkOrderedList(t, &l, ref, rng)
		}
	}
	// A list that grows at its end (the list by age) fills its blocks.
	l = orderedList{cmp: compareName}
	for i := range 5000 {
		l.insert(listEntry{key: fmt.Sprintf("k%05d", i)})
	}
	if want := 5000/(maxBlock-1) + 1; len(l.blocks) > want {
		t.Errorf("5000 appended entries fill %d blocks, want at most %d", len(l.blocks), want)
	}
}

// checkOrderedList compares l with ref, the same entries in a sorted slice.
func checkOrderedList(t *testing.T, l *orderedList, ref []listEntry, rng *rand.Rand) {
	t.Helper()
	var all []listEntry
	for c, ok := (cursor{}), len(l.blocks) > 0; ok && c != l.end(); c, ok = l.next(c) {
		all = append(all, l.at(c))
	}
	if !slices.Equal(all, ref) || l.len() != len(ref) {
		t.Fatalf("list walked forwards holds %d entries, want the %d of the reference", len(all), len(ref))
	}
	var back []listEntry
	for c, ok := l.prev(l.end()); ok; c, ok = l.prev(c) {
		back = append(back, l.at(c))
	}
	slices.Reverse(back)
	if !slices.Equal(back, ref) {
		t.Fatalf("list walked backwards holds %d entries, want the %d of the reference", len(back), len(ref))
	}
	for _, blk := range l.blocks {
		if len(blk) == 0 || len(blk) >= maxBlock {
			t.Fatalf("a block holds %d entries, want 1 to %d", len(blk), maxBlock-1)
		}
	}
	for range 200 {
		probe := listEntry{key: fmt.Sprintf("k%05d", rng.IntN(8_001)), id: fmt.Sprintf("%024x", rng.IntN(5))}
		want, _ := slices.BinarySearchFunc(ref, probe, compareName)
		if got := l.rank(l.search(probe)); got != want {
			t.Fatalf("rank(search(%v)) = %d, want %d", probe, got, want)
		}
	}
}

// referenceList is ListUsers done the slow, obvious way, from every user.
func referenceList(t *testing.T, s *Store, q user.ListQuery) []user.User {
	t.Helper()
	var out []user.User
	err := s.EachUser(context.Background(), func(u user.User) error {
		if strings.HasPrefix(strings.ToLower(u.Username), q.Prefix) && (q.After == nil || user.PositionOf(u).Before(*q.After)) {
			out = append(out, u)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(out, func(a, b user.User) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out[:min(q.Limit, len(out))]
}

// checkPages pages through the list with prefix, limit users a page, and
// checks that the pages, end to end, are the reference list. It returns
// how many users it listed.
func checkPages(t *testing.T, s *Store, prefix string, limit int) int {
	t.Helper()
	want := referenceList(t, s, user.ListQuery{Prefix: prefix, Limit: 1 << 30})
	q := user.ListQuery{Prefix: prefix, Limit: limit}
	total := 0
	for {
		got, err := s.ListUsers(context.Background(), q)
		if err != nil {
			t.Fatalf("ListUsers(%q) = %v", prefix, err)
		}
		wantPage := want[total:min(total+limit, len(want))]
		if !slices.EqualFunc(got, wantPage, func(a, b user.User) bool { return a.ID == b.ID }) {
			t.Fatalf("ListUsers(prefix %q, limit %d) after %d users: %d users differ from the %d of the reference", prefix, limit, total, len(got), len(wantPage))
		}
		total += len(got)
		if len(got) < limit {
			return total
		}
		after := user.PositionOf(got[len(got)-1])
		q.After = &after
	}
}

// TestListUsersBothSearchWays checks both ways a search takes against the
// reference: prefixes whose range it gathers, and prefixes for which it
// walks the list by age, including a range of only old users, where the
// walk gives up and the range is gathered after all.
func TestListUsersBothSearchWays(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{NoSync: true})
	ctx := context.Background()
	start := testTime()
	add := func(name string, at time.Time) {
		t.Helper()
		u := testUser(name, at)
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatalf("CreateUser(%s) = %v", name, err)
		}
	}
	// Early users: 5000 "old…", older than anyone else.
	for i := range 5000 {
		add(fmt.Sprintf("old%04d", i), start.Add(time.Duration(i/3)*time.Millisecond))
	}
	// Then 4500 "Mix…" spread over time among 1500 "few…".
	for i := range 6000 {
		name := fmt.Sprintf("Mix%04d", i)
		if i%4 == 0 {
			name = fmt.Sprintf("few%04d", i)
		}
		add(name, start.Add(time.Hour+time.Duration(i/2)*time.Millisecond))
	}
	for _, tc := range []struct {
		prefix string
		limit  int
		walk   bool
	}{
		{"old", 100, true}, // 5000 old users: the walk gives up, the range is gathered
		{"o", 33, true},
		{"old1", 7, true}, // 1000 of them
		{"old12", 7, false},
		{"mix", 100, true}, // 4500 users spread over time: the walk finds them
		{"m", 21, true},
		{"mix12", 5, false},
		{"few", 50, true},
		{"few10", 3, false},
		{"zzz", 5, false},
	} {
		t.Run(fmt.Sprintf("prefix=%q", tc.prefix), func(t *testing.T) {
			o := &s.st.users.order
			lo := o.byName.search(listEntry{key: tc.prefix})
			hi := o.byName.search(listEntry{key: user.PrefixEnd(tc.prefix)})
			if r := o.byName.rank(hi) - o.byName.rank(lo); walks(r, tc.limit, o.byAge.len()) != tc.walk {
				t.Fatalf("prefix %q matches %d users: walks = %v; the test wants %v", tc.prefix, r, !tc.walk, tc.walk)
			}
			if got := checkPages(t, s, tc.prefix, tc.limit); got == 0 && tc.prefix != "zzz" {
				t.Errorf("prefix %q listed nobody", tc.prefix)
			}
		})
	}
	checkPages(t, s, "", 100)
}

// TestListUsersAfterRestart: the ordered indexes are rebuilt from the files,
// snapshot and journal alike, renames included.
func TestListUsersAfterRestart(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{CompactBytes: 4 << 10})
	ctx := context.Background()
	var ids []string
	for i := range 60 {
		u := testUser(fmt.Sprintf("user%02d", i), testTime().Add(time.Duration(i%7)*time.Second))
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	for i, id := range ids[:10] {
		if err := s.SetProfile(ctx, id, fmt.Sprintf("renamed%02d", i), "", "", testTime()); err != nil {
			t.Fatal(err)
		}
	}
	before := map[string][]user.User{}
	for _, prefix := range []string{"", "user", "renamed", "user0"} {
		before[prefix] = referenceList(t, s, user.ListQuery{Prefix: prefix, Limit: 100})
	}
	closeStore(t, s)

	s = openStore(t, dir, Options{})
	for prefix, want := range before {
		got, err := s.ListUsers(ctx, user.ListQuery{Prefix: prefix, Limit: 100})
		if err != nil {
			t.Fatalf("ListUsers(%q) after restart = %v", prefix, err)
		}
		if !slices.EqualFunc(got, want, func(a, b user.User) bool { return a.ID == b.ID }) {
			t.Errorf("ListUsers(%q) after restart lists %d users, want the %d listed before", prefix, len(got), len(want))
		}
		checkPages(t, s, prefix, 4)
	}
	if got := len(before["renamed"]); got != 10 {
		t.Errorf("%d renamed users listed, want 10", got)
	}
}
