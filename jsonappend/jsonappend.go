// Package jsonappend appends the JSON of plain strings and of times to a
// byte slice, byte for byte as encoding/json writes them, for the few hot
// paths that write their JSON by hand (the answers of /me and refresh, the
// access token's claims, the file store's journal line of a session). It
// holds only the rules those paths share and would otherwise each copy: a
// string that needs no escaping, and time.Time's MarshalJSON format. Each
// function reports false for a value it leaves to encoding/json.
//
// It imports nothing of corkboard, so that the HTTP helpers (web), the
// domain (auth) and the stores may all use it.
package jsonappend

import "time"

// Plain appends s as a JSON string, quoted, if encoding/json would write
// it as it is: printable ASCII without '"' or '\\', and, when escapeHTML is
// set (json.Marshal, and json.Encoder by default), without '<', '>' or
// '&'. It reports false, having appended nothing, for any other string.
func Plain(b []byte, s string, escapeHTML bool) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e || c == '"' || c == '\\':
			return b, false
		case escapeHTML && (c == '<' || c == '>' || c == '&'):
			return b, false
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), true
}

// Time appends t as time.Time's MarshalJSON writes it (RFC 3339 with
// nanoseconds, quoted), and reports false, having appended nothing, for a
// time it refuses or writes otherwise: a year outside 0 to 9999, or a zone
// offset that is not whole minutes under a day.
func Time(b []byte, t time.Time) ([]byte, bool) {
	if y := t.Year(); y < 0 || y > 9999 {
		return b, false
	}
	if _, off := t.Zone(); off%60 != 0 || off <= -24*3600 || off >= 24*3600 {
		return b, false
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), true
}
