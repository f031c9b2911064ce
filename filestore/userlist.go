package filestore

import (
	"container/heap"
	"context"
	"slices"
	"strings"
	"time"

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
// A search (a prefix) takes the cheaper of two ways. When the range is
// small (at most smallRange users) it is gathered whole, and a heap of
// limit entries keeps the newest ones after the cursor: O(range · log
// limit), at most a few thousand steps. When the range is large, the
// newest-first walk of byAge from the cursor skips users without the
// prefix until the page is full: with the matches spread evenly over
// time, it looks at about limit·n/range users, which is at most
// limit·n/smallRange and far less for a short prefix. Its worst case is a
// large range whose users are all old (a prefix that only early users
// share): the walk then passes every newer user once. A composite index
// could avoid that; the list does not need it yet.

// smallRange is the largest prefix range that a search gathers whole
// rather than walking the list by age for.
const smallRange = 4096

// listEntry is one user in the ordered indexes: what ordering and
// filtering need, so that a walk touches no map until it has its page.
type listEntry struct {
	createdAt time.Time
	id        string
	key       string // the lower-cased username
}

// compareAge orders entries by (createdAt, id), oldest first.
func compareAge(a, b listEntry) int {
	if c := a.createdAt.Compare(b.createdAt); c != 0 {
		return c
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
	return listEntry{createdAt: u.CreatedAt, id: u.ID, key: strings.ToLower(u.Username)}
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
	if err := s.failure(); err != nil {
		return nil, err
	}
	if q.Limit < 1 {
		return nil, nil
	}
	t := &s.st.users
	var page []listEntry
	if q.Prefix == "" {
		page = t.order.newest(q.After, q.Limit, func(listEntry) bool { return true })
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
// that keep accepts.
func (o *userOrder) newest(after *user.Position, limit int, keep func(listEntry) bool) []listEntry {
	at := o.byAge.end()
	if after != nil {
		at = o.byAge.search(listEntry{createdAt: after.CreatedAt, id: after.ID})
	}
	var page []listEntry
	for len(page) < limit {
		var ok bool
		if at, ok = o.byAge.prev(at); !ok {
			break
		}
		if e := o.byAge.at(at); keep(e) {
			page = append(page, e)
		}
	}
	return page
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
	if n > smallRange {
		return o.newest(after, limit, func(e listEntry) bool { return strings.HasPrefix(e.key, prefix) })
	}
	// A min-heap of the newest entries so far: its root is the oldest
	// of them, the first to give way to a newer one.
	h := &ageHeap{}
	var afterEntry listEntry
	if after != nil {
		afterEntry = listEntry{createdAt: after.CreatedAt, id: after.ID}
	}
	for at := lo; at != hi; at, _ = o.byName.next(at) {
		e := o.byName.at(at)
		if after != nil && compareAge(e, afterEntry) >= 0 {
			continue
		}
		switch {
		case h.Len() < limit:
			heap.Push(h, e)
		case compareAge(e, (*h)[0]) > 0:
			(*h)[0] = e
			heap.Fix(h, 0)
		}
	}
	page := []listEntry(*h)
	slices.SortFunc(page, func(a, b listEntry) int { return compareAge(b, a) })
	return page
}

// ageHeap is a min-heap of entries by age, for container/heap.
type ageHeap []listEntry

func (h ageHeap) Len() int           { return len(h) }
func (h ageHeap) Less(i, j int) bool { return compareAge(h[i], h[j]) < 0 }
func (h ageHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *ageHeap) Push(x any)        { *h = append(*h, x.(listEntry)) }
func (h *ageHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
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
	blk := slices.Delete(l.blocks[c.b], c.i, c.i+1)
	if len(blk) == 0 {
		l.blocks = slices.Delete(l.blocks, c.b, c.b+1)
		return
	}
	l.blocks[c.b] = blk
}
