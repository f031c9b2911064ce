package web

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLogWriter logs from many goroutines at once through a LogWriter into
// a real file and checks that after Close every line is there, whole, once,
// and in each goroutine's order; and that a line written after Close still
// reaches the file.
func TestLogWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lw := NewLogWriter(f)
	const writers, lines = 16, 2000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range lines {
				// Long enough lines that the buffer passes maxLogBuffer.
				line := fmt.Sprintf("w=%d i=%d %s\n", w, i, strings.Repeat("x", 100))
				if n, err := lw.Write([]byte(line)); n != len(line) || err != nil {
					t.Errorf("Write(%q) = %d, %v; want %d, nil", line, n, err, len(line))
					return
				}
			}
		})
	}
	wg.Wait()
	if err := lw.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	lw.Write([]byte("after close\n"))
	lw.Close() // a second Close is harmless

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if want := writers*lines + 1; len(got) != want {
		t.Fatalf("the file has %d lines, want %d", len(got), want)
	}
	if last := got[len(got)-1]; last != "after close" {
		t.Errorf("last line %q, want the one written after Close", last)
	}
	next := make([]int, writers)
	for _, line := range got[:len(got)-1] {
		var w, i int
		if _, err := fmt.Sscanf(line, "w=%d i=%d ", &w, &i); err != nil || w < 0 || w >= writers {
			t.Fatalf("garbled line %q", line)
		}
		if i != next[w] {
			t.Fatalf("writer %d: line %d where line %d was due", w, i, next[w])
		}
		next[w]++
	}
}

// TestLogWriterIdle checks that a line logged on an idle server reaches the
// file without Close: the writing goroutine picks it up on its own.
func TestLogWriterIdle(t *testing.T) {
	var mu sync.Mutex
	var out bytes.Buffer
	written := make(chan struct{}, 1)
	lw := NewLogWriter(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		out.Write(p)
		select {
		case written <- struct{}{}:
		default:
		}
		return len(p), nil
	}))
	defer lw.Close()
	lw.Write([]byte("one line\n"))
	select {
	case <-written:
	case <-time.After(30 * time.Second): // a hang guard, not a speed limit
		t.Fatal("a line written to an idle LogWriter did not go out")
	}
	mu.Lock()
	defer mu.Unlock()
	if got := out.String(); got != "one line\n" {
		t.Errorf("written %q, want %q", got, "one line\n")
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// countingWriter records each write it is given.
type countingWriter struct {
	mu     sync.Mutex
	writes []string
	wrote  chan struct{} // a token after each write; capacity 1
}

func newCountingWriter() *countingWriter { return &countingWriter{wrote: make(chan struct{}, 1)} }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes = append(c.writes, string(p))
	c.mu.Unlock()
	signal(c.wrote)
	return len(p), nil
}

func (c *countingWriter) got() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.writes)
}

// TestLogWriterGathers checks that the lines logged within the flush delay
// go out in one write, and none before the delay, Close or a full buffer
// calls for it: with a delay of an hour, a hundred lines are one write, made
// by Close.
func TestLogWriterGathers(t *testing.T) {
	out := newCountingWriter()
	lw := newLogWriter(out, time.Hour)
	var want strings.Builder
	for i := range 100 {
		line := fmt.Sprintf("line %d\n", i)
		want.WriteString(line)
		lw.Write([]byte(line))
	}
	time.Sleep(10 * time.Millisecond) // a chance to go wrong, not a bound
	if got := out.got(); len(got) != 0 {
		t.Fatalf("%d writes before the delay was up or Close, want none", len(got))
	}
	lw.Close()
	if got := out.got(); len(got) != 1 || got[0] != want.String() {
		t.Fatalf("after Close: %d writes %q, want one with all 100 lines", len(got), got)
	}
}

// TestLogWriterFlushesWhenFull checks that once logFlushSize bytes gather,
// they are written without waiting for the delay or Close.
func TestLogWriterFlushesWhenFull(t *testing.T) {
	out := newCountingWriter()
	lw := newLogWriter(out, time.Hour)
	defer lw.Close()
	line := strings.Repeat("x", 1023) + "\n"
	for range logFlushSize / len(line) {
		lw.Write([]byte(line))
	}
	select {
	case <-out.wrote:
	case <-time.After(30 * time.Second): // a hang guard, not a speed limit
		t.Fatal("a full buffer was not written before the delay was up")
	}
	if got := out.got(); len(got) != 1 || len(got[0]) != logFlushSize {
		t.Fatalf("%d writes, want one of the %d bytes logged", len(got), logFlushSize)
	}
}
