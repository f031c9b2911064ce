package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"corkboard/auth"
	"corkboard/user"
)

// exportVersion is the version of the export format, written in its
// first line and checked on import.
const exportVersion = 1

// exportRecord is one line of an export: a header, a user or a session.
// The records are the stores' own domain types, so an export carries
// everything (password hashes, session generations) needed for logins and
// refresh tokens to keep working after an import.
type exportRecord struct {
	Kind    string        `json:"kind"`
	Version int           `json:"version,omitempty"`
	User    *user.User    `json:"user,omitempty"`
	Session *auth.Session `json:"session,omitempty"`
}

const (
	kindHeader  = "corkboard-export"
	kindUser    = "user"
	kindSession = "session"
)

// exportStore writes the whole dataset of st to w as JSON lines: a header,
// then every user, then every session. Users come before sessions so an
// import never sees a session before its user.
func exportStore(ctx context.Context, st store, w io.Writer) (users, sessions int, err error) {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(exportRecord{Kind: kindHeader, Version: exportVersion}); err != nil {
		return 0, 0, err
	}
	err = st.EachUser(ctx, func(u user.User) error {
		users++
		return enc.Encode(exportRecord{Kind: kindUser, User: &u})
	})
	if err != nil {
		return users, 0, fmt.Errorf("exporting users: %w", err)
	}
	err = st.EachSession(ctx, func(s auth.Session) error {
		sessions++
		return enc.Encode(exportRecord{Kind: kindSession, Session: &s})
	})
	if err != nil {
		return users, sessions, fmt.Errorf("exporting sessions: %w", err)
	}
	return users, sessions, bw.Flush()
}

// errStop ends an Each walk early.
var errStop = errors.New("stop")

// isEmpty reports whether st holds no users and no sessions.
func isEmpty(ctx context.Context, st store) (bool, error) {
	found := false
	stop := func() error { found = true; return errStop }
	for _, walk := range []func() error{
		func() error { return st.EachUser(ctx, func(user.User) error { return stop() }) },
		func() error { return st.EachSession(ctx, func(auth.Session) error { return stop() }) },
	} {
		if err := walk(); err != nil && !errors.Is(err, errStop) {
			return false, err
		}
	}
	return !found, nil
}

// importStore reads an export from r into st, which must be empty: an
// import never merges into or overwrites existing data. A bad line stops
// the import with an error naming it; what was read before stays imported,
// so a failed import is repaired by emptying the store and running again.
func importStore(ctx context.Context, st store, r io.Reader) (users, sessions int, err error) {
	empty, err := isEmpty(ctx, st)
	if err != nil {
		return 0, 0, err
	}
	if !empty {
		return 0, 0, errors.New("the target store is not empty; import only into a new store")
	}
	dec := json.NewDecoder(bufio.NewReader(r))
	dec.DisallowUnknownFields()
	for line := 1; ; line++ {
		var rec exportRecord
		err := dec.Decode(&rec)
		if errors.Is(err, io.EOF) {
			if line == 1 {
				return 0, 0, errors.New("the input is empty; expected a corkboard export")
			}
			return users, sessions, nil
		}
		if err != nil {
			return users, sessions, fmt.Errorf("record %d: %v", line, err)
		}
		switch {
		case line == 1:
			if rec.Kind != kindHeader || rec.Version != exportVersion {
				return 0, 0, fmt.Errorf("record 1 is not a corkboard export header of version %d", exportVersion)
			}
		case rec.Kind == kindUser && rec.User != nil:
			if err := st.CreateUser(ctx, *rec.User); err != nil {
				return users, sessions, fmt.Errorf("record %d (user %s): %w", line, rec.User.ID, err)
			}
			users++
		case rec.Kind == kindSession && rec.Session != nil:
			if err := st.CreateSession(ctx, *rec.Session); err != nil {
				return users, sessions, fmt.Errorf("record %d (session %s): %w", line, rec.Session.ID, err)
			}
			sessions++
		default:
			return users, sessions, fmt.Errorf("record %d: unknown kind %q", line, rec.Kind)
		}
	}
}
