package main

import (
	"testing"

	"corkboard/filestore"
	"corkboard/mongostore/mongotest"
)

// fileStore opens a file store in the test's data directory.
var fileStore = storeOpener{name: "file", open: func(t *testing.T, cfg *config) store {
	t.Helper()
	st, err := filestore.Open(cfg.dataDir, filestore.Options{})
	if err != nil {
		t.Fatalf("filestore.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}}

// mongoStore opens a MongoDB store on a fresh database at MONGO_URI, or
// skips the test when MONGO_URI is not set.
var mongoStore = storeOpener{name: "mongo", open: func(t *testing.T, cfg *config) store {
	t.Helper()
	cfg.store = "mongo"
	return mongotest.Open(t)
}}

// eachStore runs test once per store kind, as a subtest named after it, so
// every end-to-end test checks that both stores behave the same.
func eachStore(t *testing.T, test func(t *testing.T, opener storeOpener)) {
	for _, o := range []storeOpener{fileStore, mongoStore} {
		t.Run(o.name, func(t *testing.T) { test(t, o) })
	}
}
