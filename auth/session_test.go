package auth

import (
	"math/rand/v2"
	"testing"
	"time"
)

// storableByYear is StorableTime as its comment states it.
func storableByYear(t time.Time, optional bool) bool {
	if t.IsZero() {
		return optional
	}
	y := t.UTC().Year()
	return y >= 1 && y <= 9999
}

// TestStorableTime compares StorableTime with the year it states, at the
// edges of years 1 and 9999 in several zones, with a monotonic reading,
// and at random instants from year -2 to 10002.
func TestStorableTime(t *testing.T) {
	zones := []*time.Location{time.UTC, time.FixedZone("+14", 14*3600), time.FixedZone("-12", -12*3600)}
	var times []time.Time
	for _, loc := range zones {
		for _, edge := range []time.Time{
			time.Date(1, time.January, 1, 0, 0, 0, 0, time.UTC),
			time.Date(10000, time.January, 1, 0, 0, 0, 0, time.UTC),
			time.Date(0, time.December, 31, 23, 59, 59, 999999999, time.UTC),
		} {
			for _, d := range []time.Duration{-time.Hour, -1, 0, 1, time.Hour, 14 * time.Hour} {
				times = append(times, edge.Add(d).In(loc))
			}
		}
	}
	times = append(times, time.Time{}, time.Now(), time.Unix(0, 0))
	r := rand.New(rand.NewPCG(1, 2))
	lo, hi := time.Date(-2, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), time.Date(10002, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for range 100_000 {
		times = append(times, time.Unix(lo+r.Int64N(hi-lo), r.Int64N(1e9)).In(zones[r.IntN(len(zones))]))
	}
	storable := 0
	for _, tm := range times {
		for _, optional := range []bool{false, true} {
			got, want := StorableTime(tm, optional), storableByYear(tm, optional)
			if got != want {
				t.Fatalf("StorableTime(%v, %v) = %v, want %v", tm, optional, got, want)
			}
			if got {
				storable++
			}
		}
	}
	if storable == 0 || storable == 2*len(times) {
		t.Fatalf("%d of %d storable: the cases do not reach both answers", storable, 2*len(times))
	}
}
