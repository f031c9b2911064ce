package filestore

import (
	"context"
	"runtime"
	"testing"
	"time"

	"corkboard/objectid"
)

// BenchmarkRotateSession64 runs 64 goroutines that each rotate their own
// session in a loop, as 64 clients refreshing do: with group commit and,
// as the baseline in the same run, with one fsync per write. It reports
// rotations per second.
func BenchmarkRotateSession64(b *testing.B) {
	const clients = 64
	for _, mode := range syncModes {
		b.Run(mode.name, func(b *testing.B) {
			s := openStore(b, b.TempDir(), mode.opts)
			now := time.Now()
			sessions := make(chan string, clients+runtime.GOMAXPROCS(0))
			for range cap(sessions) {
				sess := testSession(objectid.New(now), now)
				if err := s.CreateSession(context.Background(), sess); err != nil {
					b.Fatal(err)
				}
				sessions <- sess.ID
			}
			procs := runtime.GOMAXPROCS(0)
			b.SetParallelism((clients + procs - 1) / procs)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				id := <-sessions
				for gen := uint64(1); pb.Next(); gen++ {
					t := time.Now()
					if _, err := s.RotateSession(ctx, id, gen, t, t.Add(time.Hour)); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rotations/s")
		})
	}
}
