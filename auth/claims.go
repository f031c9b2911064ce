package auth

import (
	"encoding/json"
	"strconv"

	"corkboard/jsonappend"
)

// decodeClaims decodes the claims JSON of a token whose signature is good
// into c. It reports whether data is a JSON object whose claims have the
// types of Claims. Members it does not know are ignored, as RFC 7519 asks,
// so a newer release may add claims without breaking tokens during a
// rolling deploy.
//
// What it accepts, and what it makes of it, is exactly what
// json.Unmarshal into a Claims does: encoding/json is the definition, and
// FuzzDecodeClaims holds the two together. It is lenient in places where
// JSON parsers disagree (a member given twice, "SUB" for "sub"), but only
// a token whose HMAC checked out gets this far, and Sign never writes such
// JSON: to exploit the leniency one would need the secret, which signs
// anything anyway.
//
// The claims of every token this service signs take the fast path,
// fastClaims, which reads the one shape Sign writes without reflection
// (json.Unmarshal was 6% of the CPU of GET /api/users/me under load, and
// most of Verify's allocations). Anything outside that shape (an escape, a
// byte outside printable ASCII, a member it does not know, a number with a
// fraction, a null) goes to json.Unmarshal, so the fast path never has to
// reproduce encoding/json's rules for those cases, only to stay inside
// the cases where its answer is plainly the same.
func decodeClaims(data []byte, c *Claims) bool {
	if fastClaims(data, c) {
		return true
	}
	// Into a Claims of its own, so that c, which the fast path fills in
	// place, does not escape to the heap on every call for this path's
	// sake.
	fallback := new(Claims)
	if json.Unmarshal(data, fallback) != nil {
		*c = Claims{}
		return false
	}
	*c = *fallback
	return true
}

// fastClaims decodes data into c if data has the shape Sign writes: one
// object of the known claims, each of its own type, with plain strings
// (printable ASCII, no escapes) and integers, and JSON whitespace anywhere
// the grammar allows it. It reports false, with c left in any state, for
// anything else, valid or not; decodeClaims then asks encoding/json.
// A member given twice keeps the last value, as encoding/json does.
func fastClaims(data []byte, c *Claims) bool {
	p := claimsParser{data: data}
	p.space()
	if !p.byte('{') {
		return false
	}
	p.space()
	if p.byte('}') {
		p.space()
		return p.i == len(p.data)
	}
	for {
		key, ok := p.plainString()
		if !ok {
			return false
		}
		p.space()
		if !p.byte(':') {
			return false
		}
		p.space()
		switch string(key) { // no allocation: the compiler compares in place
		case "sub":
			c.Subject, ok = p.stringValue()
		case "sid":
			c.SessionID, ok = p.stringValue()
		case "iss":
			c.Issuer, ok = p.stringValue()
		case "token_use":
			c.Use, ok = p.stringValue()
		case "iat":
			c.IssuedAt, ok = p.int()
		case "exp":
			c.ExpiresAt, ok = p.int()
		case "nbf":
			c.NotBefore, ok = p.int()
		case "gen":
			c.Generation, ok = p.uint()
		case "roles":
			c.Roles, ok = p.roles()
		default:
			// An unknown member, or a known one spelled in another case:
			// encoding/json has rules for both (skip it; match it
			// case-insensitively, with Unicode folding), which the fallback
			// applies.
			return false
		}
		if !ok {
			return false
		}
		p.space()
		if p.byte('}') {
			p.space()
			return p.i == len(p.data)
		}
		if !p.byte(',') {
			return false
		}
		p.space()
	}
}

// claimsParser walks the claims JSON for fastClaims.
type claimsParser struct {
	data []byte
	i    int
}

// space skips JSON whitespace.
func (p *claimsParser) space() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// byte consumes b if it is next.
func (p *claimsParser) byte(b byte) bool {
	if p.i < len(p.data) && p.data[p.i] == b {
		p.i++
		return true
	}
	return false
}

// plainString reads a string of printable ASCII without escapes and
// returns its bytes (inside data). Anything else is not for the fast path:
// escapes, control bytes (invalid JSON), and other bytes (encoding/json
// replaces invalid UTF-8) all have rules of their own.
func (p *claimsParser) plainString() ([]byte, bool) {
	if !p.byte('"') {
		return nil, false
	}
	start := p.i
	for p.i < len(p.data) {
		b := p.data[p.i]
		switch {
		case b == '"':
			s := p.data[start:p.i]
			p.i++
			return s, true
		case b < 0x20 || b > 0x7e || b == '\\':
			return nil, false
		}
		p.i++
	}
	return nil, false
}

// stringValue reads a plain string as a Go string. The values every token
// carries (the issuer, the token uses, the roles) are given as constants,
// so that only the ids cost an allocation.
func (p *claimsParser) stringValue() (string, bool) {
	b, ok := p.plainString()
	if !ok {
		return "", false
	}
	switch string(b) {
	case Issuer:
		return Issuer, true
	case UseRefresh:
		return UseRefresh, true
	case UseAccess:
		return UseAccess, true
	case RoleUser:
		return RoleUser, true
	case RoleModerator:
		return RoleModerator, true
	case RoleAdmin:
		return RoleAdmin, true
	}
	return string(b), true
}

// integer returns the next JSON number if it is an integer literal
// (-?(0|[1-9][0-9]*)) followed by something that cannot continue a number.
// A fraction or an exponent is left to encoding/json, which refuses them
// for an integer field; so is a malformed number.
func (p *claimsParser) integer() ([]byte, bool) {
	start := p.i
	p.byte('-')
	digits := p.i
	for p.i < len(p.data) && '0' <= p.data[p.i] && p.data[p.i] <= '9' {
		p.i++
	}
	n := p.i - digits
	if n == 0 || (n > 1 && p.data[digits] == '0') {
		return nil, false
	}
	if p.i < len(p.data) {
		switch p.data[p.i] {
		case '.', 'e', 'E':
			return nil, false
		}
	}
	return p.data[start:p.i], true
}

// int reads an integer that fits an int64; one that does not is left to
// encoding/json, which refuses it.
func (p *claimsParser) int() (int64, bool) {
	lit, ok := p.integer()
	if !ok {
		return 0, false
	}
	neg := lit[0] == '-'
	if neg {
		lit = lit[1:]
	}
	u, ok := parseDigits(lit)
	switch {
	case !ok:
		return 0, false
	case neg && u <= 1<<63:
		return -int64(u), true // -1<<63 wraps to itself, as it should
	case !neg && u < 1<<63:
		return int64(u), true
	}
	return 0, false
}

// uint reads an integer that fits a uint64; a negative one (even -0, as
// encoding/json has it) or a larger one is left to encoding/json.
func (p *claimsParser) uint() (uint64, bool) {
	lit, ok := p.integer()
	if !ok || lit[0] == '-' {
		return 0, false
	}
	return parseDigits(lit)
}

// parseDigits returns the value of a run of decimal digits, and false if
// it does not fit a uint64. strconv would do, but its argument escapes
// into its error, which costs an allocation per number.
func parseDigits(d []byte) (uint64, bool) {
	var v uint64
	for _, c := range d {
		if v > (1<<64-1)/10 {
			return 0, false
		}
		v *= 10
		x := uint64(c - '0')
		if v > 1<<64-1-x {
			return 0, false
		}
		v += x
	}
	return v, true
}

// roles reads an array of plain strings. An empty array gives an empty,
// non-nil slice, as encoding/json makes it.
func (p *claimsParser) roles() ([]string, bool) {
	if !p.byte('[') {
		return nil, false
	}
	p.space()
	roles := make([]string, 0, 1)
	if p.byte(']') {
		return roles, true
	}
	for {
		r, ok := p.stringValue()
		if !ok {
			return nil, false
		}
		roles = append(roles, r)
		p.space()
		if p.byte(']') {
			return roles, true
		}
		if !p.byte(',') {
			return nil, false
		}
		p.space()
	}
}

// appendClaims appends c as json.Marshal writes it, without reflection,
// when its strings are printable ASCII without '"', '\\', '<', '>' or '&'
// (which json.Marshal escapes), and reports false for anything else, which
// Sign leaves to json.Marshal. Every token a refresh or a login makes goes
// through here twice; FuzzClaimsRoundTrip compares the two encodings.
func appendClaims(b []byte, c *Claims) ([]byte, bool) {
	ok := true
	str := func(key, v string) {
		if !ok {
			return
		}
		b = append(b, key...)
		b, ok = jsonappend.Plain(b, v, true)
	}
	str(`{"sub":`, c.Subject)
	str(`,"sid":`, c.SessionID)
	if len(c.Roles) > 0 {
		for i, r := range c.Roles {
			if i == 0 {
				str(`,"roles":[`, r)
			} else {
				str(",", r)
			}
		}
		b = append(b, ']')
	}
	str(`,"iss":`, c.Issuer)
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, c.IssuedAt, 10)
	b = append(b, `,"exp":`...)
	b = strconv.AppendInt(b, c.ExpiresAt, 10)
	if c.NotBefore != 0 {
		b = append(b, `,"nbf":`...)
		b = strconv.AppendInt(b, c.NotBefore, 10)
	}
	if c.Generation != 0 {
		b = append(b, `,"gen":`...)
		b = strconv.AppendUint(b, c.Generation, 10)
	}
	if c.Use != "" {
		str(`,"token_use":`, c.Use)
	}
	return append(b, '}'), ok
}
