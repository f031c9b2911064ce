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

// exportRecord is one line of an export: the header, a user, a session, or
// the end record. The records are the stores' own domain types, so an
// export carries everything (password hashes, session generations) that
// logins and refresh tokens need to keep working after an import. The end
// record carries the counts, so a cut-off export cannot pass for a whole one.
type exportRecord struct {
	Kind     string        `json:"kind"`
	Version  int           `json:"version,omitempty"`
	User     *user.User    `json:"user,omitempty"`
	Session  *auth.Session `json:"session,omitempty"`
	Users    int           `json:"users,omitempty"`
	Sessions int           `json:"sessions,omitempty"`
}

const (
	kindHeader  = "corkboard-export"
	kindUser    = "user"
	kindSession = "session"
	kindEnd     = "end"
)

// exportStore writes the whole dataset of st to w as JSON lines: the
// header, every user, every session of an exported user, and the end
// record. Users and sessions are read in two passes, so on a store that is
// serving requests a session may appear whose user did not exist during
// the first pass; it is left out rather than exported as an orphan.
func exportStore(ctx context.Context, st store, w io.Writer) (users, sessions int, err error) {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(exportRecord{Kind: kindHeader, Version: exportVersion}); err != nil {
		return 0, 0, err
	}
	exported := make(map[string]bool)
	err = st.EachUser(ctx, func(u user.User) error {
		exported[u.ID] = true
		users++
		return enc.Encode(exportRecord{Kind: kindUser, User: &u})
	})
	if err != nil {
		return users, 0, fmt.Errorf("exporting users: %w", err)
	}
	err = st.EachSession(ctx, func(s auth.Session) error {
		if !exported[s.UserID] {
			return nil
		}
		sessions++
		return enc.Encode(exportRecord{Kind: kindSession, Session: &s})
	})
	if err != nil {
		return users, sessions, fmt.Errorf("exporting sessions: %w", err)
	}
	if err := enc.Encode(exportRecord{Kind: kindEnd, Users: users, Sessions: sessions}); err != nil {
		return users, sessions, err
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

// dataset is a whole export, read and checked.
type dataset struct {
	users    []user.User
	sessions []auth.Session
}

// readExport reads an export from r and checks all of it: the header
// first, the end record last with matching counts, every record well
// formed, ids unique, every session's user present. Nothing is stored
// until the whole input has passed, so a truncated or crafted file changes
// nothing. It holds the dataset in memory (a few hundred bytes a record).
func readExport(r io.Reader) (dataset, error) {
	var d dataset
	dec := json.NewDecoder(bufio.NewReader(r))
	dec.DisallowUnknownFields()
	userIDs := make(map[string]bool)
	sessionIDs := make(map[string]bool)
	ended := false
	for line := 1; ; line++ {
		var rec exportRecord
		err := dec.Decode(&rec)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return d, fmt.Errorf("record %d: %v", line, err)
		}
		switch {
		case ended:
			return d, fmt.Errorf("record %d: data after the end record", line)
		case line == 1:
			if rec.Kind != kindHeader || rec.Version != exportVersion {
				return d, fmt.Errorf("record 1 is not a corkboard export header of version %d", exportVersion)
			}
		case rec.Kind == kindUser && rec.User != nil:
			u := *rec.User
			if err := u.Validate(); err != nil {
				return d, fmt.Errorf("record %d: %v", line, err)
			}
			if userIDs[u.ID] {
				return d, fmt.Errorf("record %d: user %s appears twice", line, u.ID)
			}
			userIDs[u.ID] = true
			d.users = append(d.users, u)
		case rec.Kind == kindSession && rec.Session != nil:
			s := *rec.Session
			if err := s.Validate(); err != nil {
				return d, fmt.Errorf("record %d: %v", line, err)
			}
			if sessionIDs[s.ID] || !userIDs[s.UserID] {
				return d, fmt.Errorf("record %d: session %s appears twice or before its user", line, s.ID)
			}
			sessionIDs[s.ID] = true
			d.sessions = append(d.sessions, s)
		case rec.Kind == kindEnd:
			if rec.Users != len(d.users) || rec.Sessions != len(d.sessions) {
				return d, fmt.Errorf("record %d: the end record counts %d users and %d sessions, the export holds %d and %d",
					line, rec.Users, rec.Sessions, len(d.users), len(d.sessions))
			}
			ended = true
		default:
			return d, fmt.Errorf("record %d: unknown or empty record of kind %q", line, rec.Kind)
		}
	}
	if !ended {
		return d, errors.New("the export is incomplete: it has no end record (was the export interrupted?)")
	}
	return d, nil
}

// importStore reads a whole export from r, checks it, and stores it in st,
// which must be empty: an import never merges into or overwrites data.
// Bad input stores nothing. Only a store failure part-way (a lost database
// connection, a full disk) can leave a partial import, and the error then
// says how to start over.
func importStore(ctx context.Context, st store, r io.Reader) (users, sessions int, err error) {
	d, err := readExport(r)
	if err != nil {
		return 0, 0, err
	}
	empty, err := isEmpty(ctx, st)
	if err != nil {
		return 0, 0, err
	}
	if !empty {
		return 0, 0, errors.New("the target store is not empty; import only into a new store")
	}
	partial := func(err error) error {
		return fmt.Errorf("%w; the store now holds part of the import: empty it (MongoDB: drop the database; "+
			"file store: remove snapshot.json and journal-*.jsonl from the data directory, keeping secrets.json) and import again", err)
	}
	for _, u := range d.users {
		if err := st.CreateUser(ctx, u); err != nil {
			return users, sessions, partial(fmt.Errorf("storing user %s: %w", u.ID, err))
		}
		users++
	}
	for _, s := range d.sessions {
		if err := st.CreateSession(ctx, s); err != nil {
			return users, sessions, partial(fmt.Errorf("storing session %s: %w", s.ID, err))
		}
		sessions++
	}
	return users, sessions, nil
}
