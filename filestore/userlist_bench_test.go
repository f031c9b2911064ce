package filestore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"corkboard/user"
)

// listStore makes a store of n users who signed up a second apart, named
// user0 … user<n-1> in a shuffled order (a name says nothing of its
// owner's age), and reopens it, so the ordered indexes are the ones a
// start rebuilds. It returns the store and the users' positions, newest
// first.
func listStore(b *testing.B, n int) (*Store, []user.Position) {
	b.Helper()
	dir := b.TempDir()
	s, err := Open(dir, Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(n), 7))
	names := rng.Perm(n)
	start := time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC)
	positions := make([]user.Position, n)
	for i := range n {
		u := benchUser(fmt.Sprintf("user%d", names[i]), start.Add(time.Duration(i)*time.Second))
		if err := s.CreateUser(context.Background(), u); err != nil {
			b.Fatal(err)
		}
		positions[n-1-i] = user.PositionOf(u)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	opened := time.Now()
	s = openStore(b, dir, Options{})
	b.Logf("%d users: Open took %v", n, time.Since(opened).Round(time.Millisecond))
	return s, positions
}

// BenchmarkListUsers shows that a page of the user list costs about the
// same with 100,000 users as with 1,000: the first page, a page from the
// middle of the list (a cursor halfway down), and a search, first and deep.
// Each asks for 21 users, as the service does for a page of 20.
//
// "user1" matches 111 users of 1,000 (a small range, gathered whole) and
// 11,111 of 100,000 (a large one, walked by age); "user99" matches 11 and
// 1,111 (gathered both times).
func BenchmarkListUsers(b *testing.B) {
	for _, n := range []int{1000, 100_000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			s, positions := listStore(b, n)
			mid := positions[n/2]
			for _, bc := range []struct {
				name string
				q    user.ListQuery
			}{
				{"first-page", user.ListQuery{Limit: 21}},
				{"deep-page", user.ListQuery{Limit: 21, After: &mid}},
				{"search", user.ListQuery{Prefix: "user1", Limit: 21}},
				{"search-deep", user.ListQuery{Prefix: "user1", Limit: 21, After: &mid}},
				{"search-rare", user.ListQuery{Prefix: "user99", Limit: 21}},
			} {
				b.Run(bc.name, func(b *testing.B) {
					ctx := context.Background()
					for b.Loop() {
						page, err := s.ListUsers(ctx, bc.q)
						if err != nil || len(page) == 0 {
							b.Fatalf("ListUsers(%+v) = %d users, %v", bc.q, len(page), err)
						}
					}
				})
			}
		})
	}
}
