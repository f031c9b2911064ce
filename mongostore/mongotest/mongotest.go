// Package mongotest opens mongostore Stores on fresh, throw-away databases for
// tests. The server comes from the MONGO_URI environment variable; without
// it, tests that need MongoDB skip, saying how to run them (no mongod can be
// installed on the build machines, so the server is testdata/mongowire, a
// FerretDB-based stand-in).
package mongotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"corkboard/mongostore"
)

// SkipMessage is what a test without MONGO_URI says when it skips.
const SkipMessage = "MONGO_URI is not set: build and start testdata/mongowire (see README) to run the MongoDB tests"

// URI returns the MongoDB connection string from MONGO_URI, or skips the
// test when it is not set.
func URI(t testing.TB) string {
	t.Helper()
	uri := os.Getenv("MONGO_URI")
	if uri == "" {
		t.Skip(SkipMessage)
	}
	return uri
}

// Open opens a Store on a fresh database named corkboard_test_<random hex>,
// or skips the test when MONGO_URI is not set. Cleanup drops the database
// and closes the store.
func Open(t testing.TB) *mongostore.Store {
	t.Helper()
	return OpenDatabase(t, NewDatabaseName(t))
}

// NewDatabaseName returns a database name no other test uses.
func NewDatabaseName(t testing.TB) string {
	t.Helper()
	var b [8]byte
	rand.Read(b[:])
	return "corkboard_test_" + hex.EncodeToString(b[:])
}

// OpenDatabase opens a Store on the named database, or skips the test when
// MONGO_URI is not set. Cleanup drops the database and closes the store.
// Opening one name twice gives two Stores on the same data, as two processes
// would have; each drops the database at cleanup, which is harmless.
func OpenDatabase(t testing.TB, name string) *mongostore.Store {
	t.Helper()
	uri := URI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	// No TTL index: tests run on fixed clocks in the past, and MongoDB's
	// TTL monitor would delete their sessions while they run.
	s, err := mongostore.Open(ctx, uri, name, mongostore.Options{NoTTLIndex: true})
	if err != nil {
		t.Fatalf("mongostore.Open(%q) = %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Database().Drop(ctx); err != nil {
			t.Errorf("dropping test database %s: %v", name, err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("closing store on %s: %v", name, err)
		}
	})
	return s
}
