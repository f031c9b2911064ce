package filestore

import (
	"bytes"
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"corkboard/objectid"
)

// TestGroupCommitAcknowledgesWritten runs many writers at once, so that
// most of them wait for another's group commit, and checks after every
// acknowledged write that its journal line is already in the file: a
// writer must never return while its batch waits for a later round.
func TestGroupCommitAcknowledgesWritten(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{NoCompaction: true})
	journal := s.path(journalName(s.journalNum))
	const writers, writes = 16, 20
	now := time.Now()
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range writes {
				sess := testSession(objectid.New(now), now)
				if err := s.CreateSession(context.Background(), sess); err != nil {
					t.Errorf("CreateSession: %v", err)
					return
				}
				data, err := os.ReadFile(journal)
				if err != nil {
					t.Error(err)
					return
				}
				if !bytes.Contains(data, []byte(`"id":"`+sess.ID+`"`)) {
					t.Errorf("CreateSession(%s) returned before its line was in %s", sess.ID, journal)
					return
				}
			}
		})
	}
	wg.Wait()
}
