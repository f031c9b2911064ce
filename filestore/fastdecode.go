package filestore

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"corkboard/auth"
	"corkboard/board"
	"corkboard/user"
)

// A store of a hundred thousand users holds about a million sessions, and
// decoding them with encoding/json's reflection was most of the time Open
// took. decodeSessionFast and decodeUserFast decode by hand the one shape
// of session and user record that this package writes: compact JSON, the
// fields of the type under their own names, each once, strings of
// printable ASCII without escapes, null only for roles. Any other input —
// escapes, other spellings of a key, whitespace, another null, a number
// in another form, anything invalid — makes them report false, and the
// record is decoded by encoding/json as before. So they accept nothing
// encoding/json would refuse and give exactly what encoding/json gives
// (TestFastDecode and FuzzFastDecode hold them to that).

// Bits of the session fields seen, so that a repeated key falls back.
const (
	sfID = 1 << iota
	sfUserID
	sfGeneration
	sfRoles
	sfCreatedAt
	sfRotatedAt
	sfLastUsedAt
	sfExpiresAt
	sfRevokedAt
	sfUserAgent
	sfIP
	sfCredentialVersion
)

// interner hands out one copy of each string it has seen, so that a
// million sessions from a few browsers hold a few user agent strings,
// not a million. It stops adding once full, so that a snapshot of unique
// values costs no more than without it. One goroutine uses it.
type interner struct {
	strs    map[string]string
	roles   map[string][]string
	arena   stringArena
	scratch arrayScratch
}

// stringArena makes strings in blocks, many to an allocation: a million
// sessions' ids and user ids were two million allocations of 24 bytes,
// and as many objects for the collector. A block lives as long as any
// string made in it, which holds no more memory than the load made.
type stringArena struct {
	b strings.Builder
}

// arenaBlock is the size of a stringArena's blocks.
const arenaBlock = 64 << 10

// str returns b as a string made in the current block, or in a new one
// when it is full. A strings.Builder never changes the bytes it has
// handed out in a String: it only appends after them, or moves on to a
// new buffer when it grows, so earlier strings stay as they were.
func (a *stringArena) str(b []byte) string {
	if len(b) > arenaBlock/8 {
		return string(b)
	}
	if a.b.Cap()-a.b.Len() < len(b) {
		a.b = strings.Builder{}
		a.b.Grow(arenaBlock)
	}
	start := a.b.Len()
	a.b.Write(b)
	return a.b.String()[start:]
}

// maxInterned caps the strings an interner keeps.
const maxInterned = 4096

func newInterner() *interner {
	return &interner{strs: make(map[string]string), roles: make(map[string][]string)}
}

// str returns b as a string, shared with earlier equal ones where it can.
func (in *interner) str(b []byte) string {
	if s, ok := in.strs[string(b)]; ok { // the conversion does not allocate
		return s
	}
	s := string(b)
	if len(in.strs) < maxInterned {
		in.strs[s] = s
	}
	return s
}

// decodeSessionFast decodes data, one whole session record, if it is in
// the shape described above, and reports whether it was. Records are never
// modified in place (state.go), so sessions may share interned strings and
// role slices.
func decodeSessionFast(data []byte, in *interner) (auth.Session, bool) {
	var s auth.Session
	p := fastParser{data: data, arena: &in.arena}
	if !p.byte('{') {
		return s, false
	}
	if p.byte('}') {
		return s, p.pos == len(p.data)
	}
	seen := 0
	for {
		key, ok := p.str()
		if !ok || !p.byte(':') {
			return s, false
		}
		var bit int
		switch string(key) {
		case "id":
			bit = sfID
			s.ID, ok = p.string(nil)
		case "userId":
			bit = sfUserID
			s.UserID, ok = p.string(nil)
		case "generation":
			bit = sfGeneration
			s.Generation, ok = p.uint()
		case "roles":
			bit = sfRoles
			s.Roles, ok = p.roles(in)
		case "createdAt":
			bit = sfCreatedAt
			ok = p.time(&s.CreatedAt)
		case "rotatedAt":
			bit = sfRotatedAt
			ok = p.time(&s.RotatedAt)
		case "lastUsedAt":
			bit = sfLastUsedAt
			ok = p.time(&s.LastUsedAt)
		case "expiresAt":
			bit = sfExpiresAt
			ok = p.time(&s.ExpiresAt)
		case "revokedAt":
			bit = sfRevokedAt
			ok = p.time(&s.RevokedAt)
		case "userAgent":
			bit = sfUserAgent
			s.UserAgent, ok = p.string(in)
		case "ip":
			bit = sfIP
			s.IP, ok = p.string(in)
		case "credentialVersion":
			bit = sfCredentialVersion
			s.CredentialVersion, ok = p.uint()
		default:
			return s, false
		}
		if !ok || seen&bit != 0 {
			return s, false
		}
		seen |= bit
		switch {
		case p.byte(','):
		case p.byte('}'):
			return s, p.pos == len(p.data)
		default:
			return s, false
		}
	}
}

// Bits of the user fields seen.
const (
	ufID = 1 << iota
	ufUsername
	ufEmail
	ufEmailVerified
	ufFullName
	ufColor
	ufRoles
	ufPictureID
	ufPasswordHash
	ufCredentialVersion
	ufCreatedAt
	ufUpdatedAt
	ufDeletingAt
)

// decodeUserFast is decodeSessionFast for a user record.
func decodeUserFast(data []byte, in *interner) (user.User, bool) {
	var u user.User
	p := fastParser{data: data, arena: &in.arena}
	if !p.byte('{') {
		return u, false
	}
	if p.byte('}') {
		return u, p.pos == len(p.data)
	}
	seen := 0
	for {
		key, ok := p.str()
		if !ok || !p.byte(':') {
			return u, false
		}
		var bit int
		switch string(key) {
		case "id":
			bit = ufID
			u.ID, ok = p.string(nil)
		case "username":
			bit = ufUsername
			u.Username, ok = p.string(nil)
		case "email":
			bit = ufEmail
			u.Email, ok = p.string(nil)
		case "emailVerified":
			bit = ufEmailVerified
			u.EmailVerified, ok = p.bool()
		case "fullName":
			bit = ufFullName
			u.FullName, ok = p.string(nil)
		case "color":
			bit = ufColor
			u.Color, ok = p.string(in)
		case "roles":
			bit = ufRoles
			u.Roles, ok = p.roles(in)
		case "pictureId":
			bit = ufPictureID
			u.PictureID, ok = p.string(nil)
		case "passwordHash":
			bit = ufPasswordHash
			u.PasswordHash, ok = p.string(nil)
		case "credentialVersion":
			bit = ufCredentialVersion
			u.CredentialVersion, ok = p.uint()
		case "createdAt":
			bit = ufCreatedAt
			ok = p.time(&u.CreatedAt)
		case "updatedAt":
			bit = ufUpdatedAt
			ok = p.time(&u.UpdatedAt)
		case "deletingAt":
			bit = ufDeletingAt
			ok = p.time(&u.DeletingAt)
		default:
			return u, false
		}
		if !ok || seen&bit != 0 {
			return u, false
		}
		seen |= bit
		switch {
		case p.byte(','):
		case p.byte('}'):
			return u, p.pos == len(p.data)
		default:
			return u, false
		}
	}
}

// Bits of the board fields seen.
const (
	bfID = 1 << iota
	bfTitle
	bfOwnerID
	bfBackgroundID
	bfBackgroundURL
	bfMembers
	bfInvited
	bfFavouritedBy
	bfLists
	bfVersion
	bfCreatedAt
	bfUpdatedAt
	bfDeletingAt
)

// decodeBoardFast is decodeSessionFast for a board record, with its lists,
// cards and attachments. Boards are a tenth of a snapshot's bytes at scale
// and took encoding/json as long to decode as the million sessions took
// by hand. User ids are not interned: a board's slices are its own.
func decodeBoardFast(data []byte, in *interner) (board.Board, bool) {
	var b board.Board
	p := fastParser{data: data, arena: &in.arena, scratch: &in.scratch}
	ok := p.object(func(key []byte) (int, bool) {
		var ok bool
		switch string(key) {
		case "id":
			b.ID, ok = p.string(nil)
			return bfID, ok
		case "title":
			b.Title, ok = p.string(nil)
			return bfTitle, ok
		case "ownerId":
			b.OwnerID, ok = p.string(nil)
			return bfOwnerID, ok
		case "backgroundId":
			b.BackgroundID, ok = p.string(nil)
			return bfBackgroundID, ok
		case "backgroundURL":
			b.BackgroundURL, ok = p.string(nil)
			return bfBackgroundURL, ok
		case "members":
			b.Members, ok = p.strings()
			return bfMembers, ok
		case "invited":
			b.Invited, ok = p.strings()
			return bfInvited, ok
		case "favouritedBy":
			b.FavouritedBy, ok = p.strings()
			return bfFavouritedBy, ok
		case "lists":
			b.Lists, ok = fastArray(&p, &p.scratch.lists, (*fastParser).list)
			return bfLists, ok
		case "version":
			b.Version, ok = p.int64()
			return bfVersion, ok
		case "createdAt":
			return bfCreatedAt, p.time(&b.CreatedAt)
		case "updatedAt":
			return bfUpdatedAt, p.time(&b.UpdatedAt)
		case "deletingAt":
			return bfDeletingAt, p.time(&b.DeletingAt)
		}
		return 0, false
	})
	return b, ok && p.pos == len(p.data)
}

// list consumes a board.List.
func (p *fastParser) list() (board.List, bool) {
	var l board.List
	ok := p.object(func(key []byte) (int, bool) {
		var ok bool
		switch string(key) {
		case "id":
			l.ID, ok = p.string(nil)
			return 1, ok
		case "name":
			l.Name, ok = p.string(nil)
			return 2, ok
		case "cards":
			l.Cards, ok = fastArray(p, &p.scratch.cards, (*fastParser).card)
			return 4, ok
		}
		return 0, false
	})
	return l, ok
}

// card consumes a board.Card.
func (p *fastParser) card() (board.Card, bool) {
	var c board.Card
	ok := p.object(func(key []byte) (int, bool) {
		var ok bool
		switch string(key) {
		case "id":
			c.ID, ok = p.string(nil)
			return 1, ok
		case "title":
			c.Title, ok = p.string(nil)
			return 2, ok
		case "description":
			c.Description, ok = p.string(nil)
			return 4, ok
		case "attachments":
			c.Attachments, ok = fastArray(p, &p.scratch.attachments, (*fastParser).attachment)
			return 8, ok
		case "createdAt":
			return 16, p.time(&c.CreatedAt)
		}
		return 0, false
	})
	return c, ok
}

// attachment consumes a board.Attachment.
func (p *fastParser) attachment() (board.Attachment, bool) {
	var a board.Attachment
	ok := p.object(func(key []byte) (int, bool) {
		var ok bool
		switch string(key) {
		case "id":
			a.ID, ok = p.string(nil)
			return 1, ok
		case "name":
			a.Name, ok = p.string(nil)
			return 2, ok
		case "contentType":
			a.ContentType, ok = p.string(nil)
			return 4, ok
		case "size":
			a.Size, ok = p.int64()
			return 8, ok
		case "createdAt":
			return 16, p.time(&a.CreatedAt)
		}
		return 0, false
	})
	return a, ok
}

// object consumes a JSON object, calling field for each key with the
// parser at its value. field consumes the value and returns the key's bit,
// or false for a key it does not know or a value it cannot read; a key
// that comes twice fails too.
func (p *fastParser) object(field func(key []byte) (int, bool)) bool {
	if !p.byte('{') {
		return false
	}
	if p.byte('}') {
		return true
	}
	seen := 0
	for {
		key, ok := p.str()
		if !ok || !p.byte(':') {
			return false
		}
		bit, ok := field(key)
		if !ok || bit == 0 || seen&bit != 0 {
			return false
		}
		seen |= bit
		switch {
		case p.byte(','):
		case p.byte('}'):
			return true
		default:
			return false
		}
	}
}

// fastArray consumes an array of what elem consumes, or null. Like
// encoding/json, it gives nil for null and an empty slice, not nil, for [].
// The elements are gathered at the end of *scratch, which an array within
// an element may use in turn, and then copied into a slice of their
// number: a board's lists and cards grown by append, one element at a
// time, were half the time boards took to decode, and as much garbage.
// Without scratch (nil), it appends.
func fastArray[T any](p *fastParser, scratch *[]T, elem func(*fastParser) (T, bool)) ([]T, bool) {
	if p.null() {
		return nil, true
	}
	if !p.byte('[') {
		return nil, false
	}
	var own []T
	if scratch == nil {
		scratch = &own
	}
	base := len(*scratch)
	defer func() {
		clear((*scratch)[base:]) // hold no pointer into what was decoded
		*scratch = (*scratch)[:base]
	}()
	for first := true; !p.byte(']'); first = false {
		if !first && !p.byte(',') {
			return nil, false
		}
		v, ok := elem(p)
		if !ok {
			return nil, false
		}
		*scratch = append(*scratch, v)
	}
	return append([]T{}, (*scratch)[base:]...), true
}

// strings consumes an array of strings, or null, without interning.
func (p *fastParser) strings() ([]string, bool) {
	return fastArray(p, &p.scratch.strs, func(p *fastParser) (string, bool) { return p.string(nil) })
}

// null consumes null if it comes next.
func (p *fastParser) null() bool {
	if bytes.HasPrefix(p.data[p.pos:], []byte("null")) {
		p.pos += len("null")
		return true
	}
	return false
}

// int64 consumes a JSON integer without sign, fraction or exponent that
// fits in an int64. A negative one is left to encoding/json.
func (p *fastParser) int64() (int64, bool) {
	n, ok := p.uint()
	if !ok || n > math.MaxInt64 {
		return 0, false
	}
	return int64(n), true
}

// fastParser reads the plain JSON that decodeSessionFast accepts.
type fastParser struct {
	data    []byte
	pos     int
	arena   *stringArena  // where strings not interned are made
	scratch *arrayScratch // where fastArray gathers elements, or nil
}

// arrayScratch is where fastArray gathers the elements of the arrays of a
// board, one slice of each type, reused from record to record.
type arrayScratch struct {
	lists       []board.List
	cards       []board.Card
	attachments []board.Attachment
	strs        []string
}

// byte consumes c if it comes next.
func (p *fastParser) byte(c byte) bool {
	if p.pos < len(p.data) && p.data[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

// str consumes a string of printable ASCII without escapes and returns
// its contents, which point into the data.
func (p *fastParser) str() ([]byte, bool) {
	if !p.byte('"') {
		return nil, false
	}
	start := p.pos
	// Eight bytes at a time while none of them ends the string or needs
	// a closer look: user agents make strings a third of a session's
	// bytes, and a byte at a time was the decoder's largest cost.
	for p.pos+8 <= len(p.data) && plainASCII8(binary.LittleEndian.Uint64(p.data[p.pos:])) {
		p.pos += 8
	}
	for ; p.pos < len(p.data); p.pos++ {
		switch c := p.data[p.pos]; {
		case c == '"':
			p.pos++
			return p.data[start : p.pos-1], true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return nil, false
		}
	}
	return nil, false
}

// plainASCII8 reports whether each of the eight bytes of x is printable
// ASCII, neither a quote nor a backslash: what str may pass over without
// looking. The last three are the usual test for "some byte is below n"
// (a borrow only starts at such a byte, so it is exact), on x for n = 0x20
// and on x with the byte looked for turned into zero for n = 1.
func plainASCII8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	const space, quote, backslash = ones * ' ', ones * '"', ones * '\\'
	return (x|(x+ones))&highs == 0 && // no byte of 0x7f or more
		(x-space)&^x&highs == 0 && // nor a control byte
		((x^quote)-ones)&^(x^quote)&highs == 0 &&
		((x^backslash)-ones)&^(x^backslash)&highs == 0
}

// string consumes a string as str does and returns it as a Go string,
// interned by in unless in is nil, else made in p's arena.
func (p *fastParser) string(in *interner) (string, bool) {
	b, ok := p.str()
	switch {
	case !ok:
		return "", false
	case in != nil:
		return in.str(b), true
	case p.arena != nil:
		return p.arena.str(b), true
	}
	return string(b), true
}

// bool consumes true or false.
func (p *fastParser) bool() (bool, bool) {
	for _, lit := range []string{"false", "true"} {
		if bytes.HasPrefix(p.data[p.pos:], []byte(lit)) {
			p.pos += len(lit)
			return lit == "true", true
		}
	}
	return false, false
}

// uint consumes a JSON integer without sign, fraction or exponent that
// fits in a uint64.
func (p *fastParser) uint() (uint64, bool) {
	start := p.pos
	for p.pos < len(p.data) && '0' <= p.data[p.pos] && p.data[p.pos] <= '9' {
		p.pos++
	}
	digits := p.data[start:p.pos]
	if len(digits) == 0 || len(digits) > 1 && digits[0] == '0' {
		return 0, false
	}
	if p.pos < len(p.data) && bytes.IndexByte([]byte(".eE"), p.data[p.pos]) >= 0 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(digits), 10, 64)
	return n, err == nil
}

// time consumes a string and decodes it as encoding/json does, with
// time.Time's own UnmarshalJSON, but for the one form the store writes
// (see utcStamp), which it reads itself: five times in every session
// record made parsing times a fifth of the time a session took to decode.
func (p *fastParser) time(t *time.Time) bool {
	start := p.pos
	b, ok := p.str()
	if !ok {
		return false
	}
	if u, ok := utcStamp(b); ok {
		*t = u
		return true
	}
	return t.UnmarshalJSON(p.data[start:p.pos]) == nil
}

// utcStamp parses b if it is a time in the form a UTC time.Time encodes
// to, 2006-01-02T15:04:05Z with a fraction of one to nine digits or none,
// with a valid date and time, and reports whether it was. It gives what
// time.Time.UnmarshalJSON gives for such a string (the same checks of the
// fields' ranges, the same time.Date in UTC); any other string is left to
// UnmarshalJSON, with its own rules and errors.
func utcStamp(b []byte) (time.Time, bool) {
	const layout = "2006-01-02T15:04:05Z"
	if len(b) < len(layout) || b[len(b)-1] != 'Z' ||
		b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	ok := true
	num := func(d []byte, lo, hi int) int {
		n := 0
		for _, c := range d {
			if c < '0' || c > '9' {
				ok = false
				return lo
			}
			n = n*10 + int(c-'0')
		}
		if n < lo || n > hi {
			ok = false
		}
		return n
	}
	year := num(b[0:4], 0, 9999)
	month := num(b[5:7], 1, 12)
	day := 0
	if ok {
		day = num(b[8:10], 1, daysIn(month, year))
	}
	hour := num(b[11:13], 0, 23)
	minute := num(b[14:16], 0, 59)
	sec := num(b[17:19], 0, 59)
	nsec := 0
	switch frac := b[19 : len(b)-1]; {
	case len(frac) == 0:
	case len(frac) < 2 || len(frac) > 10 || frac[0] != '.':
		return time.Time{}, false
	default:
		nsec = num(frac[1:], 0, 999_999_999)
		for range 10 - len(frac) {
			nsec *= 10
		}
	}
	if !ok {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), true
}

// daysIn returns the number of days in the month of the year, with the
// Gregorian calendar's leap years, as the time package counts them.
func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// roles consumes an array of strings, or null. Like encoding/json, it
// gives nil for null and an empty slice, not nil, for [].
func (p *fastParser) roles(in *interner) ([]string, bool) {
	if bytes.HasPrefix(p.data[p.pos:], []byte("null")) {
		p.pos += len("null")
		return nil, true
	}
	start := p.pos
	if !p.byte('[') {
		return nil, false
	}
	for first := true; !p.byte(']'); first = false {
		if !first && !p.byte(',') {
			return nil, false
		}
		if _, ok := p.str(); !ok {
			return nil, false
		}
	}
	raw := p.data[start:p.pos]
	if r, ok := in.roles[string(raw)]; ok {
		return r, true
	}
	sub := fastParser{data: raw, pos: 1}
	roles := []string{}
	for !sub.byte(']') {
		sub.byte(',')
		v, _ := sub.str()
		roles = append(roles, in.str(v))
	}
	// Clipped, so that an append to a shared slice copies it.
	roles = slices.Clip(roles)
	if len(in.roles) < maxInterned {
		in.roles[string(raw)] = roles
	}
	return roles, true
}
