package mongostore

// MaxUpdateAttempts is maxUpdateAttempts, for the tests of package
// mongostore_test.
const MaxUpdateAttempts = maxUpdateAttempts
