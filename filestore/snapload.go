package filestore

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	"corkboard/auth"
	"corkboard/gcpace"
	"corkboard/user"
)

// Loading a large snapshot fast.
//
// readSnapshot walks a snapshot token by token with one json.Decoder and
// decodes every record by reflection, on one core: at a million sessions
// that took tens of seconds. But a snapshot this package wrote has one
// record per line (see writeSnapshot), so its records can be cut apart
// without parsing them and decoded on every core at once.
// loadCanonicalSnapshot does that for a file laid out exactly as
// writeSnapshot lays it out: the header line, a line opening each kind's
// array, one record per line, the lines closing them. Chunks of record
// lines go to one worker per core, which decode them (sessions, users and
// boards by hand, see fastdecode.go; the others with encoding/json, each
// line on its own, unknown fields and trailing data refused) and validate them; the
// chunks are then put into the state in file order, so a record that
// comes twice ends as the later one, as readSnapshot has it.
//
// Anything else — an older version, a hand-edited layout, a record that
// does not decode or validate, a read error — makes it report that it
// did not load the file, and readSnapshot reads it as before, with its
// exact error messages. A file this function loads is one readSnapshot
// would load to the same state (FuzzSnapshot checks it), so the format is
// unchanged, and old snapshots open as they always did.

// snapChunkBytes is about how many bytes of record lines go to a worker at
// once: large enough that handing over costs nothing, small enough that
// the chunks in flight stay a few MiB.
const snapChunkBytes = 1 << 20

// snapChunk is a run of record lines of one kind, and what a worker made
// of them. Chunks are reused, and their slices with them, so that a load
// makes little garbage besides the records it keeps.
type snapChunk struct {
	n     int // its place in the file, from 0
	table table
	buf   []byte   // the lines' bytes, each followed by a newline
	lines [][2]int // each line's start and end in buf, without the comma
	err   error
	// What a worker decoded: users and sessions unboxed (a million
	// records in an any each were much of the garbage a load made),
	// other kinds as put changes. The session table keeps sessions, the
	// slice itself (see sessionTable), so a chunk's next sessions go to
	// a new one.
	users    []user.User
	sessions []auth.Session
	recs     []change
}

// reset empties c for reuse.
func (c *snapChunk) reset() {
	clear(c.users)
	clear(c.sessions)
	clear(c.recs)
	*c = snapChunk{buf: c.buf[:0], lines: c.lines[:0], users: c.users[:0], sessions: c.sessions[:0], recs: c.recs[:0]}
}

// reserver is a table that can make room for the records a snapshot
// holds before they are put.
type reserver interface{ reserve(n int) }

// errNotCanonical means the snapshot is not laid out as writeSnapshot lays
// it out; readSnapshot reads it instead.
var errNotCanonical = errors.New("snapshot not in the canonical layout")

// loadCanonicalSnapshot loads the snapshot at path into st, which must be
// empty, and returns its journal and batch numbers and its size. ok is
// false when it did not load the file (see above): st may then hold part
// of it and must be made anew. A missing file is ok, with nothing loaded.
// advise asks for huge pages for a large file's state (see
// adviseHugePages): for a store being opened, not for one going back to
// its files while it serves, whose heap is large already.
func loadCanonicalSnapshot(path string, st *state, advise bool) (snap snapshot, size int64, ok bool) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return snapshot{}, 0, true
	}
	if err != nil {
		return snapshot{}, 0, false
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil && info.Size() >= relaxGCBytes {
		// A load builds a large heap that is nearly all live: at the
		// default GOGC of 100 the collector ran a cycle each time the heap
		// doubled, marking what was loaded so far again and again, a third
		// of the CPU time of a load of a million sessions. The garbage a
		// load makes is small (its chunks are reused), so at 400 the peak
		// RSS hardly moves. Loads may run at once (a process may open
		// several stores); gcpace keeps the largest setting asked for.
		defer gcpace.AtLeast(400)()
		if advise {
			// The loaded state takes about 1.2 times the file's size.
			adviseHugePages(info.Size() + info.Size()/4)
		}
	}

	// How many records of each kind the file holds, counted while the
	// first chunks are decoded, so that each table's maps are made at
	// their size before the first of its records is put.
	counted := make(chan map[string]int, 1)
	go func() { counted <- countRecords(path) }()

	workers := runtime.GOMAXPROCS(0)
	todo := make(chan *snapChunk)
	done := make(chan *snapChunk, 2*workers)
	// free holds the chunks not in use; taking one is what bounds the
	// chunks in flight.
	free := make(chan *snapChunk, 2*workers+8)
	for range cap(free) {
		free <- &snapChunk{buf: make([]byte, 0, snapChunkBytes+snapChunkBytes/4)}
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			in := newInterner()
			for c := range todo {
				c.err = decodeChunk(c, in)
				done <- c
			}
		})
	}

	// The reader cuts the file into chunks; this goroutine applies them.
	var readErr error
	read := make(chan struct{})
	cr := &countingReader{r: f}
	go func() {
		defer close(read)
		defer close(todo)
		snap, readErr = splitSnapshot(bufio.NewReaderSize(cr, 1<<16), st, free, todo)
	}()
	go func() {
		wg.Wait()
		close(done)
	}()

	// Chunks are applied in file order, each table's by goroutines of
	// its own (see applyStages), so that the tables fill at the same
	// time: putting the records, not decoding them, is what takes longest.
	var failed atomic.Bool
	var applying sync.WaitGroup
	stages := make(map[table]chan<- *snapChunk)
	counts := sync.OnceValue(func() map[string]int { return <-counted })
	next := 0
	waiting := make(map[int]*snapChunk)
	for c := range done {
		waiting[c.n] = c
		for c := waiting[next]; c != nil; c = waiting[next] {
			delete(waiting, next)
			next++
			if c.err != nil || failed.Load() {
				failed.Store(true)
				c.reset()
				free <- c
				continue
			}
			in, ok := stages[c.table]
			if !ok {
				in = applyStages(c.table, counts, &failed, free, &applying)
				stages[c.table] = in
			}
			in <- c
		}
	}
	for _, in := range stages {
		close(in)
	}
	applying.Wait()
	<-read
	if failed.Load() || readErr != nil || len(waiting) > 0 {
		return snapshot{}, 0, false
	}
	return snap, cr.n, true
}

// applyStages starts the goroutines that put t's chunks into t, in the
// order they are sent, and returns the channel to send them on. A chunk
// goes back to free once applied. Sessions take two stages, the map by id
// and the index by user, which hold nothing in common; a session id that
// comes twice sets failed (readSnapshot then loads the file, and the later
// record wins). Any other table puts its records as applyBatch would.
func applyStages(t table, counts func() map[string]int, failed *atomic.Bool, free chan<- *snapChunk, wg *sync.WaitGroup) chan<- *snapChunk {
	in := make(chan *snapChunk, 4)
	reserve := func() {
		if r, ok := t.(reserver); ok {
			r.reserve(counts()[t.kind()])
		}
	}
	release := func(c *snapChunk) {
		c.reset()
		free <- c
	}
	switch t := t.(type) {
	case *sessionTable:
		byUser := make(chan *snapChunk, 4)
		wg.Go(func() {
			defer close(byUser)
			reserve()
			for c := range in {
				for i := range c.sessions {
					if !t.addByID(&c.sessions[i]) {
						failed.Store(true)
					}
				}
				byUser <- c
			}
		})
		wg.Go(func() {
			for c := range byUser {
				for i := range c.sessions {
					t.addByUser(&c.sessions[i])
				}
				// The table keeps the sessions where they were
				// decoded: the chunk takes a new slice next time.
				c.sessions = nil
				release(c)
			}
		})
	case *userTable:
		wg.Go(func() {
			reserve()
			for c := range in {
				for _, u := range c.users {
					t.add(u)
				}
				release(c)
			}
		})
	default:
		wg.Go(func() {
			reserve()
			for c := range in {
				for _, ch := range c.recs {
					t.put(ch.Record)
				}
				release(c)
			}
		})
	}
	return in
}

// decodeChunk decodes and validates the record lines of c, as
// decodeRecords would: users, sessions and boards mostly by hand (fastdecode.go),
// the rest, and what the hand decoders leave, with encoding/json.
func decodeChunk(c *snapChunk, in *interner) error {
	var dec *json.Decoder // one for the chunk, made when first needed
	slow := func(l [2]int) (any, error) {
		if dec == nil {
			dec = strictDecoder(bytes.NewReader(c.buf))
		}
		return decodeLine(dec, c.table, l)
	}
	kind := c.table.kind()
	for _, l := range c.lines {
		line := c.buf[l[0]:l[1]]
		switch kind {
		case userKind:
			u, ok := decodeUserFast(line, in)
			if ok {
				if err := u.Validate(); err != nil {
					return err
				}
			} else {
				rec, err := slow(l)
				if err != nil {
					return err
				}
				u = rec.(user.User)
			}
			c.users = append(c.users, u)
		case sessionKind:
			if c.sessions == nil {
				c.sessions = make([]auth.Session, 0, len(c.lines))
			}
			s, ok := decodeSessionFast(line, in)
			if ok {
				if err := s.Validate(); err != nil {
					return err
				}
			} else {
				rec, err := slow(l)
				if err != nil {
					return err
				}
				s = rec.(auth.Session)
			}
			c.sessions = append(c.sessions, s)
		case boardKind:
			b, ok := decodeBoardFast(line, in)
			var rec any = b
			if ok && b.ID != "" {
				if err := c.table.validate(b.ID, rec); err != nil {
					return err
				}
			} else {
				var err error
				if rec, err = slow(l); err != nil {
					return err
				}
			}
			c.recs = append(c.recs, putChange(kind, "", rec))
		default:
			rec, err := slow(l)
			if err != nil {
				return err
			}
			c.recs = append(c.recs, putChange(kind, "", rec))
		}
	}
	return nil
}

// decodeLine decodes the record on the line of c.buf at l with t's
// decoder, and validates it, as decodeRecords does. dec reads all of
// c.buf, lines in order: those before l were decoded or skipped. The
// record must end where the line does (no trailing data).
func decodeLine(dec *json.Decoder, t table, l [2]int) (any, error) {
	// The line before l ends at l[0]-1, with its newline. Lines the hand
	// decoders took are skipped, one value each.
	for dec.InputOffset() < int64(l[0])-1 {
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	rec, id, err := t.decode(dec)
	switch {
	case err != nil:
		return nil, err
	case dec.InputOffset() != int64(l[1]):
		return nil, errors.New("unexpected data after the record")
	case id == "":
		return nil, errors.New("record without an id")
	}
	if err := t.validate(id, rec); err != nil {
		return nil, err
	}
	return rec, nil
}

// countRecords counts the lines of each kind's array in the snapshot at
// path, reading it as fast as the disk gives it: a hint for the size of
// the tables, right for a canonical snapshot and harmless for any other.
func countRecords(path string) map[string]int {
	counts := make(map[string]int)
	f, err := os.Open(path)
	if err != nil {
		return counts
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<16)
	kind := ""
	for {
		line, err := r.ReadSlice('\n')
		if len(line) > 0 && line[0] == '"' {
			if name, _, ok := cutKindLine(bytes.TrimSuffix(line, []byte("\n"))); ok {
				kind = name
				continue
			}
		}
		if len(line) > 0 && line[0] == '{' && kind != "" {
			counts[kind]++
		}
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = r.ReadSlice('\n')
		}
		if err != nil {
			return counts
		}
	}
}

// splitSnapshot reads a snapshot in the canonical layout from r and sends
// its record lines to todo in chunks, taking their buffers from free. It
// returns the header's numbers, or errNotCanonical (or a read error) as
// soon as the layout differs.
func splitSnapshot(r *bufio.Reader, st *state, free chan *snapChunk, todo chan<- *snapChunk) (snapshot, error) {
	var snap snapshot
	var line []byte
	next := func() bool {
		var err error
		line, err = readLine(r, line[:0])
		return err == nil
	}
	if !next() {
		return snap, errNotCanonical
	}
	if !parseSnapshotHeader(line, &snap) {
		return snap, errNotCanonical
	}
	n := 0
	var c *snapChunk
	send := func() {
		if c != nil && len(c.lines) > 0 {
			todo <- c
			n++
		} else if c != nil {
			free <- c
		}
		c = nil
	}
	defer send()
	for {
		// A line opening a kind: "kind":[ or, with no records, "kind":[],
		// or "kind":[]}} when it is the last.
		if !next() {
			return snap, errNotCanonical
		}
		name, rest, ok := cutKindLine(line)
		t := st.table(name)
		if !ok || t == nil {
			return snap, errNotCanonical
		}
		switch string(rest) {
		case "[],":
			continue
		case "[]}}":
			return snap, endOfSnapshot(r)
		case "[":
		default:
			return snap, errNotCanonical
		}
		// Record lines, each but the last ending with a comma, then
		// the closing line.
		for {
			if !next() {
				return snap, errNotCanonical
			}
			if len(line) == 0 || line[0] != '{' {
				return snap, errNotCanonical
			}
			rec, more := bytes.CutSuffix(line, []byte(","))
			if c == nil || c.table != t || len(c.buf)+len(rec) > snapChunkBytes && len(c.lines) > 0 {
				send()
				c = <-free
				c.n, c.table = n, t
			}
			start := len(c.buf)
			c.buf = append(c.buf, rec...)
			c.lines = append(c.lines, [2]int{start, len(c.buf)})
			c.buf = append(c.buf, '\n')
			if !more {
				break
			}
		}
		if !next() {
			return snap, errNotCanonical
		}
		switch string(line) {
		case "],":
		case "]}}":
			send()
			return snap, endOfSnapshot(r)
		default:
			return snap, errNotCanonical
		}
	}
}

// readLine appends the next line of r to buf, without its newline. A last
// line without a newline is not canonical.
func readLine(r *bufio.Reader, buf []byte) ([]byte, error) {
	for {
		part, err := r.ReadSlice('\n')
		buf = append(buf, part...)
		switch {
		case err == nil:
			return buf[:len(buf)-1], nil
		case !errors.Is(err, bufio.ErrBufferFull):
			if err == io.EOF {
				err = errNotCanonical
			}
			return buf, err
		}
	}
}

// endOfSnapshot reports errNotCanonical unless r is at its end.
func endOfSnapshot(r *bufio.Reader) error {
	if _, err := r.Peek(1); err != io.EOF {
		return errNotCanonical
	}
	return nil
}

// parseSnapshotHeader parses the first line of a canonical snapshot,
//
//	{"version":2,"journal":3,"seq":120,"records":{
func parseSnapshotHeader(line []byte, snap *snapshot) bool {
	rest, ok := bytes.CutPrefix(line, fmt.Appendf(nil, `{"version":%d,"journal":`, snapshotVersion))
	if !ok {
		return false
	}
	journal, rest, ok := cutNumber(rest)
	if !ok {
		return false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"seq":`)); !ok {
		return false
	}
	seq, rest, ok := cutNumber(rest)
	if !ok || string(rest) != `,"records":{` {
		return false
	}
	j, err := strconv.ParseInt(string(journal), 10, 0)
	if err != nil {
		return false
	}
	s, err := strconv.ParseUint(string(seq), 10, 64)
	if err != nil {
		return false
	}
	snap.Journal, snap.Seq = int(j), s
	return true
}

// cutNumber cuts a JSON integer without sign or leading zero off b.
func cutNumber(b []byte) (digits, rest []byte, ok bool) {
	i := 0
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	if i == 0 || i > 1 && b[0] == '0' {
		return nil, nil, false
	}
	return b[:i], b[i:], true
}

// cutKindLine splits a line opening a kind's array, "kind":…, into the
// kind's name and what follows the colon. Kind names are plain words.
func cutKindLine(line []byte) (string, []byte, bool) {
	if len(line) < 4 || line[0] != '"' {
		return "", nil, false
	}
	end := bytes.IndexByte(line[1:], '"') + 1
	if end < 2 || end+1 >= len(line) || line[end+1] != ':' {
		return "", nil, false
	}
	for _, c := range line[1:end] {
		if c < 'a' || c > 'z' {
			return "", nil, false
		}
	}
	return string(line[1:end]), line[end+2:], true
}

// relaxGCBytes is the snapshot size from which a load runs the garbage
// collector less often, and advises huge pages.
const relaxGCBytes = 64 << 20
