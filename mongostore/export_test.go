package mongostore

// MaxUpdateAttempts is maxUpdateAttempts, for the tests of package
// mongostore_test.
const MaxUpdateAttempts = maxUpdateAttempts

// SetIDOnlyFilters chooses the session compare-and-swaps' shape: true for
// FerretDB 1.x's (find by _id, check, update by _id), false for MongoDB's
// (the conditions in the filter of one findAndModify or update). Open chooses
// by the server; the tests run the contract suite with both shapes on
// whatever server they have. The other shape is safe only where updates are
// serialized (FerretDB 1.x), which the tests check.
func SetIDOnlyFilters(s *Store, on bool) {
	if on && s.updateLock == nil {
		panic("id-only filters need the update lock: they are for FerretDB 1.x only")
	}
	s.idOnlyFilters = on
}

// UpdatesSerialized reports whether the store runs its updates one at a
// time (on FerretDB 1.x).
func UpdatesSerialized(s *Store) bool { return s.updateLock != nil }
