package filestore

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"corkboard/user"
)

// The user list (user.Store.ListUsers) is served from two ordered indexes
// that the user table keeps beside its maps, updated by its put and delete,
// so they are rebuilt at load like every other index (loading is a run of
// puts):
//
//   - byAge holds every user by (CreatedAt, ID), oldest first. A page of
//     the list is a binary search for the cursor and a walk towards the
//     old end: O(log n + limit), however deep the page.
//   - byName holds every user by lower-cased username. The users with a
//     prefix are one contiguous range of it, found by two binary searches.
//
// A search (a prefix matching r of the n users) takes the cheaper of two
// ways:
//
//   - gather: take the whole range of byName, keeping the newest limit
//     entries after the cursor in a small heap. It costs r steps, however
//     the matches are spread over time.
//   - walk: go down byAge from the cursor, newest first, skipping users
//     without the prefix until the page is full. With the matches spread
//     evenly over time that is about limit·n/r steps: few for a short
//     prefix that many users share.
//
// The search walks when limit·n/r < r, that is r² > limit·n, and gathers
// otherwise, so it expects at most √(limit·n) steps either way: about 1,500
// for a page of 21 among 100,000 users, 10,000 for a page of 101 among a
// million. (A fixed cut-off, say "gather up to 4,096", would walk
// limit·n/4096 steps just above it, 25,000 for that page among a million.)
// The walk's bad case is a range of only old users (a prefix that early
// users share): it would pass every newer user. So it gives up after r
// steps and the range is gathered instead: a search never costs more than
// 2r steps. Only a composite index (username, age) would do better, and
// the list does not need one yet.

// walks reports whether a search whose prefix matches r of n users should
// walk the list by age rather than gather its range (see above).
func walks(r, limit, n int) bool { return int64(r)*int64(r) > int64(limit)*int64(n) }

// listEntry is one user in the ordered indexes: what ordering and
// filtering need, so that a walk touches no map until it has its page.
type listEntry struct {
	// sec and nsec are the creation time, as Unix seconds and
	// nanoseconds: two integers compare faster than a time.Time, and
	// hold no pointer.
	sec  int64
	nsec int32
	id   string
	key  string // the lower-cased username
}

// ageEntry returns an entry that sorts by age at p; its key is empty.
func ageEntry(p user.Position) listEntry {
	return listEntry{sec: p.CreatedAt.Unix(), nsec: int32(p.CreatedAt.Nanosecond()), id: p.ID}
}

// compareAge orders entries by (creation time, id), oldest first.
func compareAge(a, b listEntry) int {
	switch {
	case a.sec != b.sec:
		return cmp.Compare(a.sec, b.sec)
	case a.nsec != b.nsec:
		return cmp.Compare(a.nsec, b.nsec)
	}
	return strings.Compare(a.id, b.id)
}

// compareName orders entries by lower-cased username. Usernames are
// unique, but a damaged file may hold two alike until check refuses it, so
// the id breaks ties and every entry keeps a place of its own.
func compareName(a, b listEntry) int {
	if c := strings.Compare(a.key, b.key); c != 0 {
		return c
	}
	return strings.Compare(a.id, b.id)
}

// entryOf returns u's entry in the ordered indexes.
func entryOf(u user.User) listEntry {
	e := ageEntry(user.PositionOf(u))
	e.key = strings.ToLower(u.Username)
	return e
}

// userOrder is the pair of ordered indexes of the user table.
type userOrder struct {
	byAge  orderedList
	byName orderedList
}

func newUserOrder() userOrder {
	return userOrder{byAge: orderedList{cmp: compareAge}, byName: orderedList{cmp: compareName}}
}

// add indexes u; remove drops the entries of u, a user as it was stored.
func (o *userOrder) add(u user.User) {
	e := entryOf(u)
	o.byAge.insert(e)
	o.byName.insert(e)
}

func (o *userOrder) remove(u user.User) {
	e := entryOf(u)
	o.byAge.remove(e)
	o.byName.remove(e)
}

// ListUsers implements user.Store from the ordered indexes, under the read
// lock; only the page found is copied out.
func (s *Store) ListUsers(ctx context.Context, q user.ListQuery) ([]user.User, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.readable(); err != nil {
		return nil, err
	}
	if q.Limit < 1 {
		return nil, nil
	}
	t := &s.st.users
	var page []listEntry
	if q.Prefix == "" {
		page, _ = t.order.newest(q.After, q.Limit, -1, func(listEntry) bool { return true })
	} else {
		page = t.order.search(q.Prefix, q.After, q.Limit)
	}
	users := make([]user.User, len(page))
	for i, e := range page {
		users[i] = cloneUser(t.byID[e.id])
	}
	return users, nil
}

// newest walks byAge newest first, from just after the position after
// (from the newest user when nil), and returns the first limit entries
// that keep accepts. It gives up after budget steps (never when budget is
// negative), and then reports false.
func (o *userOrder) newest(after *user.Position, limit, budget int, keep func(listEntry) bool) ([]listEntry, bool) {
	at := o.byAge.end()
	if after != nil {
		at = o.byAge.search(ageEntry(*after))
	}
	page := make([]listEntry, 0, min(limit, o.byAge.len()))
	for ; len(page) < limit; budget-- {
		if budget == 0 {
			return nil, false
		}
		var ok bool
		if at, ok = o.byAge.prev(at); !ok {
			break
		}
		if e := o.byAge.at(at); keep(e) {
			page = append(page, e)
		}
	}
	return page, true
}

// search returns the newest limit entries whose key starts with prefix and
// that are older than after, by whichever way is cheaper (see the comment
// at the top of this file).
func (o *userOrder) search(prefix string, after *user.Position, limit int) []listEntry {
	lo := o.byName.search(listEntry{key: prefix})
	hi := o.byName.end()
	if end := user.PrefixEnd(prefix); end != "" {
		hi = o.byName.search(listEntry{key: end})
	}
	n := o.byName.rank(hi) - o.byName.rank(lo)
	if n == 0 {
		return nil
	}
	if walks(n, limit, o.byAge.len()) {
		page, done := o.newest(after, limit, n, func(e listEntry) bool { return strings.HasPrefix(e.key, prefix) })
		if done {
			return page
		}
	}
	// A min-heap of the newest entries so far: its root is the oldest
	// of them, the first to give way to a newer one.
	h := ageHeap{list: &o.byName, items: make([]cursor, 0, min(limit, n))}
	var afterEntry listEntry
	if after != nil {
		afterEntry = ageEntry(*after)
	}
	for at := lo; at != hi; at, _ = o.byName.next(at) {
		e := o.byName.at(at)
		switch {
		case after != nil && compareAge(e, afterEntry) >= 0:
			// not after the cursor
		case len(h.items) < limit:
			h.push(at)
		case compareAge(e, h.entry(0)) > 0:
			h.replaceRoot(at)
		}
	}
	page := make([]listEntry, len(h.items))
	for i, at := range h.items {
		page[i] = o.byName.at(at)
	}
	slices.SortFunc(page, func(a, b listEntry) int { return compareAge(b, a) })
	return page
}

// ageHeap is a min-heap by age of entries of list, held by their places
// in it. Places hold no pointers, so moving them costs no write barriers
// while the garbage collector runs, which moving entries (with their
// strings) would; and it is written out rather than used through
// container/heap, whose interface would box every item pushed.
type ageHeap struct {
	list  *orderedList
	items []cursor
}

// entry returns the entry of the i-th item.
func (h *ageHeap) entry(i int) listEntry { return h.list.at(h.items[i]) }

func (h *ageHeap) less(i, j int) bool { return compareAge(h.entry(i), h.entry(j)) < 0 }

// push adds the entry at c.
func (h *ageHeap) push(c cursor) {
	h.items = append(h.items, c)
	for i := len(h.items) - 1; i > 0; {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			return
		}
		h.items[i], h.items[parent] = h.items[parent], h.items[i]
		i = parent
	}
}

// replaceRoot puts the entry at c in place of the oldest one.
func (h *ageHeap) replaceRoot(c cursor) {
	h.items[0] = c
	for i := 0; ; {
		least := i
		for _, child := range []int{2*i + 1, 2*i + 2} {
			if child < len(h.items) && h.less(child, least) {
				least = child
			}
		}
		if least == i {
			return
		}
		h.items[i], h.items[least] = h.items[least], h.items[i]
		i = least
	}
}

// orderedList keeps entries sorted by cmp in a list of blocks of at most
// maxBlock entries each. An insert or a delete moves at most one block's
// entries, and a search is two binary searches, so a sign-up costs the
// same in a store of a million users as in one of a thousand; one sorted
// slice would move half the slice on every insert in the middle, which is
// where a new username usually goes.
type orderedList struct {
	cmp    func(a, b listEntry) int
	blocks [][]listEntry // none empty; every entry of a block before every entry of the next
	n      int           // entries in all
}

// maxBlock is the size at which a block splits in two.
const maxBlock = 512

// cursor is a place in an orderedList: block b, index i within it. The end
// of the list is {len(blocks), 0}.
type cursor struct{ b, i int }

// end returns the place after the last entry.
func (l *orderedList) end() cursor { return cursor{len(l.blocks), 0} }

// at returns the entry at c, which must not be the end.
func (l *orderedList) at(c cursor) listEntry { return l.blocks[c.b][c.i] }

// search returns the place of the first entry not less than e (the end if
// there is none).
func (l *orderedList) search(e listEntry) cursor {
	// The first block whose last entry is not less than e holds it.
	b, _ := slices.BinarySearchFunc(l.blocks, e, func(blk []listEntry, e listEntry) int {
		return l.cmp(blk[len(blk)-1], e)
	})
	if b == len(l.blocks) {
		return l.end()
	}
	i, _ := slices.BinarySearchFunc(l.blocks[b], e, l.cmp)
	return cursor{b, i}
}

// next and prev step one entry forwards or backwards; prev reports false
// at the start, next at the end.
func (l *orderedList) next(c cursor) (cursor, bool) {
	if c.b == len(l.blocks) {
		return c, false
	}
	if c.i+1 < len(l.blocks[c.b]) {
		return cursor{c.b, c.i + 1}, true
	}
	return cursor{c.b + 1, 0}, true
}

func (l *orderedList) prev(c cursor) (cursor, bool) {
	if c.i > 0 {
		return cursor{c.b, c.i - 1}, true
	}
	if c.b == 0 {
		return c, false
	}
	return cursor{c.b - 1, len(l.blocks[c.b-1]) - 1}, true
}

// len returns how many entries the list holds.
func (l *orderedList) len() int { return l.n }

// rank returns how many entries come before c. It adds up block sizes:
// n/maxBlock additions, a few hundred at a hundred thousand users.
func (l *orderedList) rank(c cursor) int {
	n := c.i
	for _, blk := range l.blocks[:c.b] {
		n += len(blk)
	}
	return n
}

// insert adds e in its place. Appending to the last block, the usual case
// for the list by age (a new user is the newest), moves nothing.
func (l *orderedList) insert(e listEntry) {
	l.n++
	if len(l.blocks) == 0 {
		l.blocks = append(l.blocks, []listEntry{e})
		return
	}
	c := l.search(e)
	if c.b == len(l.blocks) { // after every entry: the end of the last block
		c = cursor{len(l.blocks) - 1, len(l.blocks[len(l.blocks)-1])}
	}
	blk := slices.Insert(l.blocks[c.b], c.i, e)
	if len(blk) < maxBlock {
		l.blocks[c.b] = blk
		return
	}
	// Split in two halves, each with room to grow. The last block splits
	// unevenly when the entry went to its end, so that a list that grows
	// at its end fills its blocks instead of leaving them half empty.
	half := len(blk) / 2
	if c.b == len(l.blocks)-1 && c.i == len(blk)-1 {
		half = len(blk) - 1
	}
	left, right := slices.Clone(blk[:half]), slices.Clone(blk[half:])
	l.blocks[c.b] = left
	l.blocks = slices.Insert(l.blocks, c.b+1, right)
}

// remove deletes the entry equal to e under cmp, if there is one.
func (l *orderedList) remove(e listEntry) {
	c := l.search(e)
	if c.b == len(l.blocks) || l.cmp(l.at(c), e) != 0 {
		return
	}
	l.n--
	blk := slices.Delete(l.blocks[c.b], c.i, c.i+1)
	if len(blk) == 0 {
		l.blocks = slices.Delete(l.blocks, c.b, c.b+1)
		return
	}
	l.blocks[c.b] = blk
}
