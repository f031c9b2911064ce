package web

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"testing"
	"time"
)

// textRecord builds a record at t with msg and attrs.
func textRecord(t time.Time, level slog.Level, msg string, attrs ...slog.Attr) slog.Record {
	r := slog.NewRecord(t, level, msg, 0)
	r.AddAttrs(attrs...)
	return r
}

// checkTextHandler logs r with NewTextHandler and with slog's text
// handler and fails if the two lines differ. It returns whether the fast
// path wrote the line itself.
func checkTextHandler(t *testing.T, r slog.Record) bool {
	t.Helper()
	var got, want bytes.Buffer
	if err := NewTextHandler(&got).Handle(context.Background(), r); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if err := slog.NewTextHandler(&want, nil).Handle(context.Background(), r); err != nil {
		t.Fatalf("slog Handle: %v", err)
	}
	if got.String() != want.String() {
		t.Fatalf("NewTextHandler wrote\n%q\nslog's text handler writes\n%q", got.String(), want.String())
	}
	_, fast := appendTextRecord(nil, r)
	return fast
}

// TestTextHandlerMatchesSlog checks NewTextHandler's lines against slog's
// text handler for records on both sides of every rule of the fast path,
// and that the request log's line takes the fast path.
func TestTextHandlerMatchesSlog(t *testing.T) {
	at := time.Date(2026, 11, 29, 20, 14, 34, 123456789, time.UTC)
	east := time.FixedZone("east", 5*3600+30*60)
	for _, tc := range []struct {
		name string
		r    slog.Record
		fast bool
	}{
		{"request line", textRecord(at, slog.LevelInfo, "request",
			slog.String("method", "GET"), slog.String("pattern", "GET /api/users/me"), slog.Int("status", 200),
			slog.Duration("duration", 1234567*time.Nanosecond), slog.String("request_id", "0123456789abcdef")), true},
		{"every plain kind", textRecord(at, slog.LevelWarn, "m",
			slog.Int64("i", math.MinInt64), slog.Uint64("u", math.MaxUint64), slog.Float64("f", 1.5e-300),
			slog.Float64("inf", math.Inf(-1)), slog.Float64("nan", math.NaN()), slog.Bool("b", false),
			slog.Duration("d", 0)), true},
		{"non-ASCII key", textRecord(at, slog.LevelInfo, "m", slog.Duration("µ", 1500)), false},
		{"durations", textRecord(at, slog.LevelInfo, "m", slog.Duration("a", 1500), slog.Duration("b", -time.Hour-1)), true},
		{"quoted", textRecord(at, slog.LevelError, "two words",
			slog.String("k=v", "a=b"), slog.String("q", `say "hi"`), slog.String("e", ""), slog.String("bs", `a\b`),
			slog.String("bsq", `a\ b`)), true},
		{"levels", textRecord(at, slog.LevelDebug+1, "", slog.String("x", "y")), true},
		{"zero time", textRecord(time.Time{}, slog.LevelInfo, "m"), true},
		{"time zone and monotonic", textRecord(time.Now().In(east), slog.LevelInfo, "m"), true},
		{"whole millisecond", textRecord(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), slog.LevelInfo, "m"), true},
		{"year 10000", textRecord(time.Date(10000, 1, 2, 3, 4, 5, 0, time.UTC), slog.LevelInfo, "m"), false},
		{"negative year", textRecord(time.Date(-1, 1, 2, 3, 4, 5, 0, time.UTC), slog.LevelInfo, "m"), false},
		{"control byte", textRecord(at, slog.LevelInfo, "a\nb"), false},
		{"tab in a value", textRecord(at, slog.LevelInfo, "m", slog.String("k", "a\tb")), false},
		{"DEL", textRecord(at, slog.LevelInfo, "m", slog.String("k", "a\x7fb")), false},
		{"UTF-8", textRecord(at, slog.LevelInfo, "m", slog.String("k", "café")), false},
		{"invalid UTF-8", textRecord(at, slog.LevelInfo, "m", slog.String("k", "\xff")), false},
		{"error value", textRecord(at, slog.LevelError, "m", slog.Any("err", errors.New("boom: it broke"))), false},
		{"time value", textRecord(at, slog.LevelInfo, "m", slog.Time("t", at)), false},
		{"group", textRecord(at, slog.LevelInfo, "m", slog.Group("g", slog.Int("a", 1))), false},
		{"empty key", textRecord(at, slog.LevelInfo, "m", slog.String("", "v")), false},
		{"empty attr", textRecord(at, slog.LevelInfo, "m", slog.Attr{}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if fast := checkTextHandler(t, tc.r); fast != tc.fast {
				t.Errorf("fast path taken: %v, want %v", fast, tc.fast)
			}
		})
	}
}

// TestTextHandlerDerived checks that WithAttrs and WithGroup write what
// slog's handler writes, and that a record at a level below Info is not
// written.
func TestTextHandlerDerived(t *testing.T) {
	var got, want bytes.Buffer
	at := time.Date(2026, 11, 29, 20, 14, 34, 0, time.UTC)
	for _, h := range []slog.Handler{NewTextHandler(&got), slog.NewTextHandler(&want, nil)} {
		l := slog.New(h)
		if l.Enabled(context.Background(), slog.LevelDebug) {
			t.Errorf("%T enabled at Debug", h)
		}
		_ = l.With("a", 1).WithGroup("g").Handler().Handle(context.Background(), textRecord(at, slog.LevelInfo, "m", slog.Int("b", 2)))
	}
	if got.String() != want.String() {
		t.Errorf("derived handler wrote %q, slog's writes %q", got.String(), want.String())
	}
}

// FuzzTextHandler checks NewTextHandler's line against slog's text
// handler for any message, key and string value, with an integer and a
// duration, at any time.
func FuzzTextHandler(f *testing.F) {
	f.Add("request", "pattern", "GET /api/users/me", int64(200), int64(1234567), int64(1764447274123456789), int32(0))
	f.Add("", "k=v", `a"b\c`, int64(-1), int64(-1), int64(0), int32(3600))
	f.Add("\x00", "é", "\xff", int64(0), int64(0), int64(-62135596800000000), int32(-1))
	f.Fuzz(func(t *testing.T, msg, key, val string, n, d, unixNano int64, zone int32) {
		at := time.Unix(0, unixNano).In(time.FixedZone("z", int(zone%(24*3600))))
		checkTextHandler(t, textRecord(at, slog.LevelInfo, msg,
			slog.String(key, val), slog.Int64("n", n), slog.Duration("d", time.Duration(d))))
	})
}

// TestTextHandlerConcurrent logs from many goroutines through both paths
// at once into one buffer: the lines must come out whole (run with -race).
func TestTextHandlerConcurrent(t *testing.T) {
	var out bytes.Buffer
	l := slog.New(NewTextHandler(&out))
	done := make(chan struct{})
	for g := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 100 {
				if g%2 == 0 {
					l.Info("fast", "n", g)
				} else {
					l.Info("slow", "v", "é")
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
	lines := bytes.Split(bytes.TrimSuffix(out.Bytes(), []byte("\n")), []byte("\n"))
	if len(lines) != 800 {
		t.Fatalf("%d lines, want 800", len(lines))
	}
	for _, line := range lines {
		if !bytes.HasPrefix(line, []byte("time=")) || !(bytes.HasSuffix(line, []byte("n=0")) || bytes.Contains(line, []byte("msg=fast")) || bytes.HasSuffix(line, []byte("v=é"))) {
			t.Fatalf("mangled line %q", line)
		}
	}
}
