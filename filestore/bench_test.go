package filestore

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"corkboard/board"
	"corkboard/objectid"
	"corkboard/user"
)

// prefill makes a store in a fresh directory holding n users and returns
// the directory and the users' ids. It writes without fsync, from several
// goroutines, then closes the store so that benchmarks reopen it durably.
func prefill(b *testing.B, n int) (string, []string) {
	b.Helper()
	dir := b.TempDir()
	s, err := Open(dir, Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, n)
	now := time.Now()
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				u := benchUser(fmt.Sprintf("user%d", i), now)
				if err := s.CreateUser(context.Background(), u); err != nil {
					b.Error(err)
					return
				}
				ids[i] = u.ID
			}
		})
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	return dir, ids
}

// benchUser returns a user of realistic size.
func benchUser(name string, now time.Time) user.User {
	return user.User{
		ID:           objectid.New(now),
		Username:     name,
		Email:        name + "@example.com",
		FullName:     "Benchmark " + name,
		Color:        "#3366ff",
		Roles:        []string{"user"},
		PasswordHash: "$2a$10$" + strings.Repeat("N", 53),
		CreatedAt:    now,
		UpdatedAt:    now,
	}
}

// BenchmarkCreateUser shows that a write costs the same in a store of 100
// users as in one of 100,000: with fsync, and without it, where the
// in-memory work and the journal append are all that is measured.
func BenchmarkCreateUser(b *testing.B) {
	for _, n := range []int{100, 100_000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			dir, _ := prefill(b, n)
			for _, mode := range []struct {
				name string
				opts Options
			}{{"fsync", Options{}}, {"nosync", Options{NoSync: true}}} {
				b.Run(mode.name, func(b *testing.B) {
					s := openStore(b, dir, mode.opts)
					now := time.Now()
					ctx := context.Background()
					for b.Loop() {
						// Named by a fresh id: reruns share the prefilled directory.
						u := benchUser("bench-"+objectid.New(now), now)
						if err := s.CreateUser(ctx, u); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
					closeStore(b, s)
				})
			}
		})
	}
}

// syncModes are the two ways of making writes durable that the write
// benchmarks compare in one run: group commit, and the baseline that
// fsyncs once per write (Options.SyncEachWrite).
var syncModes = []struct {
	name string
	opts Options
}{
	{"group-commit", Options{}},
	{"fsync-per-write", Options{SyncEachWrite: true}},
}

// BenchmarkConcurrentWrites runs 64 concurrent writers with group commit
// and with the baseline that fsyncs once per write (Options.SyncEachWrite),
// in the same run, so that their writes/s can be compared.
func BenchmarkConcurrentWrites(b *testing.B) {
	const writers = 64
	for _, mode := range syncModes {
		b.Run(mode.name, func(b *testing.B) {
			s := openStore(b, b.TempDir(), mode.opts)
			procs := runtime.GOMAXPROCS(0)
			b.SetParallelism((writers + procs - 1) / procs) // RunParallel starts parallelism×GOMAXPROCS goroutines
			var seq atomic.Int64
			now := time.Now()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					sess := testSession(objectid.New(now), now)
					sess.UserAgent = fmt.Sprintf("writer %d", seq.Add(1))
					if err := s.CreateSession(ctx, sess); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
		})
	}
}

// BenchmarkUserByID measures the lookup behind every authenticated request,
// in a store of 100,000 users.
func BenchmarkUserByID(b *testing.B) {
	dir, ids := prefill(b, 100_000)
	s := openStore(b, dir, Options{})
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			if _, err := s.UserByID(ctx, ids[i%len(ids)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		var seq atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			i := int(seq.Add(1)) * 7919
			for pb.Next() {
				i++
				if _, err := s.UserByID(ctx, ids[i%len(ids)]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// benchBoard returns a board of realistic size, owned by owner: three
// lists of eight cards, each with a short description, and member as a
// second member (none when member is the owner).
func benchBoard(tb testing.TB, owner, member string, i int, now time.Time) board.Board {
	tb.Helper()
	x, err := board.New(owner, fmt.Sprintf("Board %d", i), "", now)
	if err != nil {
		tb.Fatal(err)
	}
	for l := range 3 {
		list, err := x.AddList(fmt.Sprintf("List %d", l), now)
		if err != nil {
			tb.Fatal(err)
		}
		for c := range 8 {
			if _, err := x.AddCard(list.ID, fmt.Sprintf("Card %d.%d", l, c), "Something to do, in a line or so.", now); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := x.AddMember(member); err != nil && !errors.Is(err, board.ErrAlreadyMember) {
		tb.Fatal(err)
	}
	return *x
}

// prefillBoards makes a store in a fresh directory holding n boards and
// returns the directory and the boards' ids, like prefill.
func prefillBoards(b *testing.B, n int) (string, []string) {
	b.Helper()
	dir := b.TempDir()
	s, err := Open(dir, Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, n)
	now := time.Now()
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				x := benchBoard(b, boardUser(i%100), boardUser(100+i%100), i, now)
				if err := s.CreateBoard(context.Background(), x); err != nil {
					b.Error(err)
					return
				}
				ids[i] = x.ID
			}
		})
	}
	wg.Wait()
	// A snapshot of the whole store now, so that the benchmark does not
	// pay for the one its first write would start in the background.
	forceCompaction(s)
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	return dir, ids
}

// moveOne moves the first card of the longest list to the end of the
// shortest, so that however many moves run, and in however many runs, the
// board keeps its size and shape and every iteration does the same work.
func moveOne(e *board.Board) error {
	from, to := 0, 0
	for i, l := range e.Lists {
		if len(l.Cards) > len(e.Lists[from].Cards) {
			from = i
		}
		if len(l.Cards) < len(e.Lists[to].Cards) {
			to = i
		}
	}
	return e.MoveCard(e.Lists[from].Cards[0].ID, e.Lists[to].ID, len(e.Lists[to].Cards))
}

// BenchmarkBoard shows that reading a board and moving one of its cards
// cost the same in a store of 10 boards as in one of 10,000: the board is
// found by id, and a move writes one journal line of that board alone.
//
// Both stores are open at once and every iteration works on each in turn,
// timing each call, so that both sizes meet the same load from whatever
// else the machine runs: their ratio is the result, and holds up where two
// separate runs on a shared machine can differ threefold. It reports
// microseconds a call at each size and the ratio 10,000 to 10. The moves run with
// fsync, as served, and without, where the work in memory (a copy of the
// board, the move, Validate, the journal line, and the compactions that
// the journal's growth brings about) is all that is measured.
func BenchmarkBoard(b *testing.B) {
	sizes := []int{10, 10_000}
	dirs := make([]string, len(sizes))
	ids := make([]string, len(sizes))
	for i, n := range sizes {
		dir, all := prefillBoards(b, n)
		dirs[i], ids[i] = dir, all[n/2]
	}
	ctx := context.Background()
	for _, mode := range []struct {
		name string
		opts Options
	}{{"fsync", Options{}}, {"nosync", Options{NoSync: true}}} {
		stores := make([]*Store, len(sizes))
		for i, dir := range dirs {
			stores[i] = openStore(b, dir, mode.opts)
		}
		if mode.name == "fsync" {
			b.Run("read", func(b *testing.B) {
				interleave(b, sizes, func(i int) error {
					_, err := stores[i].BoardByID(ctx, ids[i])
					return err
				})
			})
		}
		b.Run("move-"+mode.name, func(b *testing.B) {
			interleave(b, sizes, func(i int) error {
				_, err := stores[i].UpdateBoard(ctx, ids[i], moveOne)
				return err
			})
		})
		for _, s := range stores {
			closeStore(b, s)
		}
	}
}

// interleave runs call(i) for every store i in each iteration, times each
// call, and reports the mean time of a call at each size, in µs, and the
// ratio of the last size's to the first's.
func interleave(b *testing.B, sizes []int, call func(i int) error) {
	spent := make([]time.Duration, len(sizes))
	for b.Loop() {
		for i := range sizes {
			start := time.Now()
			if err := call(i); err != nil {
				b.Fatal(err)
			}
			spent[i] += time.Since(start)
		}
	}
	for i, n := range sizes {
		b.ReportMetric(float64(spent[i])/float64(time.Microsecond)/float64(b.N), fmt.Sprintf("us@%d", n))
	}
	b.ReportMetric(float64(spent[len(sizes)-1])/float64(spent[0]), "ratio")
}
