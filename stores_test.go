package main

import (
	"testing"

	"corkboard/filestore"
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

// eachStore runs test once per store kind, as a subtest named after it.
func eachStore(t *testing.T, test func(t *testing.T, opener storeOpener)) {
	for _, o := range storeOpeners(t) {
		t.Run(o.name, func(t *testing.T) { test(t, o) })
	}
}

// storeOpeners lists the store kinds available to this test run.
func storeOpeners(t *testing.T) []storeOpener {
	return []storeOpener{fileStore}
}
