package filestore

import (
	"strconv"
	"time"

	"corkboard/auth"
	"corkboard/jsonappend"
)

// appendSessionLine appends the journal line of batch seq as appendLine's
// encoding/json writes it, without reflection, when every change is a
// delete or a put of an auth.Session whose strings are printable ASCII
// without '"' or '\\' and whose times encoding/json writes as RFC 3339.
// It reports false for anything else, which appendLine leaves to
// encoding/json.
//
// A refresh's batch is one session put, and appendLine runs under the
// state's lock, so every writer queued on the lock waits for it: the
// load driver's profile of refresh showed encoding/json's reflection over
// the session there (4% of the CPU). TestSessionLineMatchesJSON and
// FuzzSessionLine hold the two encodings together.
func appendSessionLine(b []byte, seq uint64, changes []change) ([]byte, bool) {
	b = append(b, `{"version":`...)
	b = strconv.AppendInt(b, journalVersionPlain, 10)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `,"changes":`...)
	if changes == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, c := range changes {
			if i > 0 {
				b = append(b, ',')
			}
			var ok bool
			if b, ok = appendSessionChange(b, c); !ok {
				return b, false
			}
		}
		b = append(b, ']')
	}
	return append(b, "}\n"...), true
}

// appendSessionChange appends one change for appendSessionLine.
func appendSessionChange(b []byte, c change) ([]byte, bool) {
	if c.Op != opPut && c.Op != opDelete {
		return b, false // a patch makes the line a version 3 one
	}
	var ok bool
	b = append(b, `{"op":`...)
	if b, ok = jsonappend.Plain(b, c.Op, false); !ok {
		return b, false
	}
	b = append(b, `,"kind":`...)
	if b, ok = jsonappend.Plain(b, c.Kind, false); !ok {
		return b, false
	}
	b = append(b, `,"id":`...)
	if b, ok = jsonappend.Plain(b, c.ID, false); !ok {
		return b, false
	}
	switch rec := c.Record.(type) {
	case nil:
	case auth.Session:
		b = append(b, `,"record":`...)
		if b, ok = appendSession(b, &rec); !ok {
			return b, false
		}
	default:
		return b, false
	}
	return append(b, '}'), true
}

// appendSession appends s with auth.Session's JSON tags.
func appendSession(b []byte, s *auth.Session) ([]byte, bool) {
	ok := true
	str := func(key, v string) {
		if ok {
			b = append(b, key...)
			b, ok = jsonappend.Plain(b, v, false)
		}
	}
	tm := func(key string, t time.Time) {
		if ok {
			b = append(b, key...)
			b, ok = jsonappend.Time(b, t)
		}
	}
	str(`{"id":`, s.ID)
	str(`,"userId":`, s.UserID)
	b = append(b, `,"generation":`...)
	b = strconv.AppendUint(b, s.Generation, 10)
	b = append(b, `,"roles":`...)
	if s.Roles == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, r := range s.Roles {
			if i > 0 {
				b = append(b, ',')
			}
			str("", r)
		}
		b = append(b, ']')
	}
	tm(`,"createdAt":`, s.CreatedAt)
	if !s.RotatedAt.IsZero() {
		tm(`,"rotatedAt":`, s.RotatedAt)
	}
	tm(`,"lastUsedAt":`, s.LastUsedAt)
	tm(`,"expiresAt":`, s.ExpiresAt)
	if !s.RevokedAt.IsZero() {
		tm(`,"revokedAt":`, s.RevokedAt)
	}
	str(`,"userAgent":`, s.UserAgent)
	str(`,"ip":`, s.IP)
	if s.CredentialVersion != 0 {
		b = append(b, `,"credentialVersion":`...)
		b = strconv.AppendUint(b, s.CredentialVersion, 10)
	}
	return append(b, '}'), ok
}
