//go:build race

package filestore

// raceEnabled reports whether the tests run under the race detector.
const raceEnabled = true
