package auth

// This file is the strict, low-allocation reader of a token's claims that
// Verify uses once the signature has checked out.

import (
	"bytes"
	"encoding/json"
	"unicode/utf16"
	"unicode/utf8"
)

// parseClaims decodes the claims JSON of a token whose signature is good
// into c, using scratch for strings with escapes. It reports whether data is
// a JSON object whose known members have the types of Claims.
//
// It exists because json.Unmarshal costs about ten allocations and most of
// Verify's time; this costs one per string it returns (none for iss, roles
// and token_use values it knows) and one for the roles slice. It agrees
// with json.Unmarshal into Claims on every input it accepts (FuzzParseClaims
// checks that), and it is stricter: it refuses null, a member twice, a
// member name with escapes or in another case ("SUB", which
// encoding/json would take for sub), invalid UTF-8, and escaped UTF-16
// surrogates. json.Marshal of Claims never writes any of those. Members it
// does not know are ignored, as RFC 7519 asks, so a newer release may add
// claims without breaking tokens during a rolling deploy.
func parseClaims(data []byte, c *Claims, scratch *[]byte) bool {
	// With data known to be one valid JSON value, the parser below only
	// has to check the shape of Claims, and skipping an unknown value is
	// simple. json.Valid uses a pooled scanner: no allocation.
	if !utf8.Valid(data) || !json.Valid(data) {
		return false
	}
	p := claimsParser{data: data, scratch: scratch}
	p.space()
	if !p.eat('{') {
		return false
	}
	p.space()
	if p.eat('}') {
		return true
	}
	var seen uint
	for {
		p.space()
		key, ok := p.key()
		if !ok {
			return false
		}
		p.space()
		if !p.eat(':') {
			return false
		}
		p.space()
		var bit uint
		switch string(key) {
		case "sub":
			bit = 1 << 0
			c.Subject, ok = p.string()
		case "sid":
			bit = 1 << 1
			c.SessionID, ok = p.string()
		case "roles":
			bit = 1 << 2
			c.Roles, ok = p.strings()
		case "iss":
			bit = 1 << 3
			c.Issuer, ok = p.string()
		case "iat":
			bit = 1 << 4
			c.IssuedAt, ok = p.int64()
		case "exp":
			bit = 1 << 5
			c.ExpiresAt, ok = p.int64()
		case "nbf":
			bit = 1 << 6
			c.NotBefore, ok = p.int64()
		case "gen":
			bit = 1 << 7
			c.Generation, ok = p.uint64()
		case "token_use":
			bit = 1 << 8
			c.Use, ok = p.string()
		default:
			ok = !foldsToClaim(key) && p.skip()
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		p.space()
		if p.eat('}') {
			return true
		}
		if !p.eat(',') {
			return false
		}
	}
}

// foldsToClaim reports whether key is a case variant of a claim name:
// encoding/json matches names case-insensitively, so "Exp" would be exp to
// it but an unknown member to parseClaims. Refusing such keys keeps the two
// in agreement.
func foldsToClaim(key []byte) bool {
	for _, name := range [...]string{"sub", "sid", "roles", "iss", "iat", "exp", "nbf", "gen", "token_use"} {
		if bytes.EqualFold(key, []byte(name)) {
			return true
		}
	}
	return false
}

// claimsParser walks JSON that json.Valid has accepted. It still checks
// every index, so that it cannot panic whatever it is given.
type claimsParser struct {
	data    []byte
	i       int
	scratch *[]byte
}

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

func (p *claimsParser) eat(c byte) bool {
	if p.i < len(p.data) && p.data[p.i] == c {
		p.i++
		return true
	}
	return false
}

// rawString consumes a JSON string and returns what is between its quotes,
// and whether that contains an escape.
func (p *claimsParser) rawString() (raw []byte, escaped, ok bool) {
	if !p.eat('"') {
		return nil, false, false
	}
	start := p.i
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case '"':
			raw = p.data[start:p.i]
			p.i++
			return raw, escaped, true
		case '\\':
			escaped = true
			p.i += 2
		default:
			p.i++
		}
	}
	return nil, false, false
}

// key consumes a member name, which must have no escapes.
func (p *claimsParser) key() ([]byte, bool) {
	raw, escaped, ok := p.rawString()
	return raw, ok && !escaped
}

// string consumes a JSON string and returns its value.
func (p *claimsParser) string() (string, bool) {
	raw, escaped, ok := p.rawString()
	if !ok {
		return "", false
	}
	if escaped {
		if raw, ok = unescapeJSON((*p.scratch)[:0], raw); !ok {
			return "", false
		}
		*p.scratch = raw
	}
	return internClaim(raw), true
}

// strings consumes a JSON array of strings.
func (p *claimsParser) strings() ([]string, bool) {
	if !p.eat('[') {
		return nil, false
	}
	// Size the slice once: count the commas up to the closing bracket.
	// A wrong count (from a nested array, say) only wastes capacity; the
	// loop below refuses anything but strings.
	n := 1
	for j, inString := p.i, false; j < len(p.data); j++ {
		c := p.data[j]
		if inString {
			if c == '\\' {
				j++
			} else if c == '"' {
				inString = false
			}
			continue
		}
		if c == '"' {
			inString = true
		} else if c == ',' {
			n++
		} else if c == ']' {
			break
		}
	}
	out := make([]string, 0, n)
	p.space()
	if p.eat(']') {
		return out, true // [] is an empty slice, as encoding/json makes it
	}
	for {
		p.space()
		s, ok := p.string()
		if !ok {
			return nil, false
		}
		out = append(out, s)
		p.space()
		if p.eat(']') {
			return out, true
		}
		if !p.eat(',') {
			return nil, false
		}
	}
}

// number consumes a JSON number and returns its text.
func (p *claimsParser) number() []byte {
	start := p.i
	for p.i < len(p.data) {
		switch c := p.data[p.i]; {
		case '0' <= c && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
			p.i++
		default:
			return p.data[start:p.i]
		}
	}
	return p.data[start:p.i]
}

// uint64 consumes a non-negative JSON integer that fits in a uint64; like
// encoding/json, it refuses fractions and exponents ("1.0", "1e3").
func (p *claimsParser) uint64() (uint64, bool) {
	return parseDigits(p.number())
}

// int64 consumes a JSON integer that fits in an int64.
func (p *claimsParser) int64() (int64, bool) {
	b := p.number()
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	u, ok := parseDigits(b)
	switch {
	case !ok:
		return 0, false
	case neg && u <= 1<<63:
		return int64(-u), true // two's complement: also right for -1<<63
	case !neg && u <= 1<<63-1:
		return int64(u), true
	}
	return 0, false
}

// parseDigits parses a non-empty run of decimal digits that fits in a
// uint64.
func parseDigits(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// skip consumes one JSON value of any kind. The input is valid JSON, so
// the value ends at the first ',', '}' or ']' outside strings and outside
// the value's own brackets.
func (p *claimsParser) skip() bool {
	depth := 0
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case '"':
			if _, _, ok := p.rawString(); !ok {
				return false
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return true
			}
			depth--
		case ',':
			if depth == 0 {
				return true
			}
		}
		p.i++
	}
	return false
}

// unescapeJSON appends the value of the JSON string body s to dst. It refuses
// escaped surrogates, which json.Marshal never writes.
func unescapeJSON(dst, s []byte) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		i++
		if i == len(s) {
			return nil, false
		}
		switch s[i] {
		case '"', '\\', '/':
			dst = append(dst, s[i])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			if len(s)-i < 5 {
				return nil, false
			}
			var r rune
			for _, h := range s[i+1 : i+5] {
				switch {
				case '0' <= h && h <= '9':
					h -= '0'
				case 'a' <= h && h <= 'f':
					h -= 'a' - 10
				case 'A' <= h && h <= 'F':
					h -= 'A' - 10
				default:
					return nil, false
				}
				r = r<<4 | rune(h)
			}
			if utf16.IsSurrogate(r) {
				return nil, false
			}
			dst = utf8.AppendRune(dst, r)
			i += 4
		default:
			return nil, false
		}
	}
	return dst, true
}

// internClaim returns b as a string, without allocating for the values every
// token repeats.
func internClaim(b []byte) string {
	switch string(b) {
	case Issuer:
		return Issuer
	case RoleUser:
		return RoleUser
	case RoleModerator:
		return RoleModerator
	case RoleAdmin:
		return RoleAdmin
	case UseAccess:
		return UseAccess
	case UseRefresh:
		return UseRefresh
	}
	return string(b)
}
