package mongostore

import (
	"context"
	"errors"
	"fmt"
	"net"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"
)

// fail wraps a driver error from operation op for the caller. An error that
// means "the database cannot be reached right now" is an unavailableError,
// so the client gets a 503 and may retry; anything else is a fault and is
// wrapped plainly (a logged 500). The cause stays in the chain for the log
// line; the HTTP layer never shows it to the client.
func (s *Store) fail(op string, err error) error {
	wrapped := fmt.Errorf("mongostore: %s: %w", op, err)
	if unavailable(err) {
		return &unavailableError{wrapped}
	}
	return wrapped
}

// unavailableError marks a failure that a retry may cure: the server is
// unreachable, slow or stepping down. Its Unavailable method is how callers
// tell (errors.As), the way net.Error has Timeout; the store knows nothing
// of HTTP.
type unavailableError struct{ err error }

func (e *unavailableError) Error() string     { return e.err.Error() }
func (e *unavailableError) Unwrap() error     { return e.err }
func (e *unavailableError) Unavailable() bool { return true }

// Server error codes that mean the server is shutting down, stepping down or
// cannot reach its peers: a retry a moment later may well succeed.
var transientCodes = []int{
	6,     // HostUnreachable
	7,     // HostNotFound
	89,    // NetworkTimeout
	91,    // ShutdownInProgress
	189,   // PrimarySteppedDown
	262,   // ExceededTimeLimit
	9001,  // SocketException
	10107, // NotWritablePrimary
	11600, // InterruptedAtShutdown
	11602, // InterruptedDueToReplStateChange
	13435, // NotPrimaryNoSecondaryOk
	13436, // NotPrimaryOrSecondary
}

// unavailable reports whether err means the server could not be reached or
// did not answer in time, as opposed to a server that answered with an error.
func unavailable(err error) bool {
	if err == nil {
		return false
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded), // our OpTimeout, or the caller's deadline
		errors.Is(err, mongo.ErrClientDisconnected), // after Close, during shutdown
		mongo.IsTimeout(err),
		mongo.IsNetworkError(err):
		return true
	}
	// The topology package is the driver's "x" (experimental) API, but its
	// error types are what a failed server selection or connection returns
	// and the driver does not convert them.
	if errors.As(err, new(topology.ServerSelectionError)) ||
		errors.As(err, new(topology.ConnectionError)) ||
		errors.As(err, new(topology.WaitQueueTimeoutError)) ||
		errors.Is(err, topology.ErrPoolClosed) {
		return true
	}
	// When one operation loses its connection, the driver clears the pool
	// and fails the operations waiting on it with an error that hides the
	// network cause but says it is retryable (driver.RetryablePoolError).
	var pool interface{ Retryable() bool }
	if errors.As(err, &pool) && pool.Retryable() {
		return true
	}
	var le mongo.LabeledError
	if errors.As(err, &le) && (le.HasErrorLabel("NetworkError") || le.HasErrorLabel("RetryableWriteError")) {
		return true
	}
	var se mongo.ServerError
	if errors.As(err, &se) {
		for _, code := range transientCodes {
			if se.HasErrorCode(code) {
				return true
			}
		}
		// FerretDB 1.x on SQLite answers InternalError, with SQLite's own
		// message, for two conditions that are load, not faults, and that
		// a retry a moment later cures (both seen under 64 clients):
		//   - "interrupted (9)": it stopped a query at its maxTimeMS (our
		//     OpTimeout) by interrupting SQLite, and did not translate that
		//     into MaxTimeMSExpired;
		//   - "database is locked" (SQLITE_BUSY, 5, and its extended codes
		//     such as 517): a write waited out SQLite's busy timeout
		//     behind other writers.
		if se.HasErrorCodeWithMessage(1, "interrupted (9)") || se.HasErrorCodeWithMessage(1, "database is locked") {
			return true
		}
	}
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &ne) && ne.Timeout() || errors.As(err, &oe)
}
