package mongostore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"
)

// retryablePoolError stands in for the driver's unexported poolClearedError,
// which implements driver.RetryablePoolError and unwraps to nothing.
type retryablePoolError struct{}

func (retryablePoolError) Error() string {
	return "connection pool was cleared because another operation failed"
}
func (retryablePoolError) Retryable() bool { return true }

func TestUnavailable(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"our OpTimeout", fmt.Errorf("find: %w", context.DeadlineExceeded), true},
		{"client closed", mongo.ErrClientDisconnected, true},
		{"network label", mongo.CommandError{Code: 0, Message: "connection reset", Labels: []string{"NetworkError"}}, true},
		{"retryable write label", mongo.CommandError{Code: 0, Message: "x", Labels: []string{"RetryableWriteError"}}, true},
		{"server selection", topology.ServerSelectionError{Wrapped: errors.New("server selection timeout")}, true},
		{"server selection deadline", topology.ServerSelectionError{Wrapped: context.DeadlineExceeded}, true},
		{"connection", topology.ConnectionError{Wrapped: io.EOF}, true},
		{"pool wait", topology.WaitQueueTimeoutError{Wrapped: context.DeadlineExceeded}, true},
		{"shutting down", mongo.CommandError{Code: 91, Name: "ShutdownInProgress"}, true},
		{"not primary", mongo.CommandError{Code: 10107, Name: "NotWritablePrimary"}, true},
		{"max time", mongo.CommandError{Code: 50, Name: "MaxTimeMSExpired"}, true},
		{"FerretDB's SQLite interrupted at max time", mongo.CommandError{Code: 1, Name: "InternalError",
			Message: "[msg_find.go:344 handler.handleMaxTimeMSError] interrupted (9)"}, true},
		{"FerretDB's SQLite busy behind other writers", mongo.CommandError{Code: 1, Name: "InternalError",
			Message: "[msg_insert.go:168 handler.(*Handler).MsgInsert] [collection.go:135 sqlite.(*collection).InsertAll.func1] database is locked (517)"}, true},
		{"another internal error", mongo.CommandError{Code: 1, Name: "InternalError", Message: "[pool.go:42] disk I/O error (10)"}, false},
		{"dial refused", refused, true},
		{"pool cleared after another operation failed", fmt.Errorf("insert: %w", retryablePoolError{}), true},
		{"pool closed", topology.ErrPoolClosed, true},
		{"duplicate key", mongo.WriteException{WriteErrors: []mongo.WriteError{{Code: 11000, Message: "E11000"}}}, false},
		{"not implemented", mongo.CommandError{Code: 238, Name: "NotImplemented"}, false},
		{"no documents", mongo.ErrNoDocuments, false},
		{"decode", errors.New("error decoding key roles"), false},
		{"nil", nil, false},
	}
	s := &Store{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := unavailable(tc.err); got != tc.want {
				t.Errorf("unavailable(%#v) = %v, want %v", tc.err, got, tc.want)
			}
			if tc.err == nil {
				return
			}
			err := s.fail("op", tc.err)
			var u interface{ Unavailable() bool }
			if got := errors.As(err, &u) && u.Unavailable(); got != tc.want {
				t.Errorf("fail(%v) is unavailable = %v, want %v", tc.err, got, tc.want)
			}
			if !strings.Contains(err.Error(), tc.err.Error()) {
				t.Errorf("fail(%v) = %v, lost the cause", tc.err, err)
			}
		})
	}
}

func TestRedactURI(t *testing.T) {
	tests := []struct{ in, want string }{
		{"mongodb://127.0.0.1:1/", "mongodb://127.0.0.1:1/"},
		{"mongodb://user:secret@127.0.0.1:1/", "mongodb://***@127.0.0.1:1/"},
		{"mongodb://user:p@ss/w@rd@h1:1,h2:2/db?replicaSet=rs", "mongodb://***@h1:1,h2:2/db?replicaSet=rs"},
		{"mongodb+srv://u:p@cluster.example.net/?authSource=a@b", "mongodb+srv://***@cluster.example.net/?authSource=a@b"},
		{"user:secret@host", "(unparsable URI)"},
	}
	for _, tc := range tests {
		if got := redactURI(tc.in); got != tc.want {
			t.Errorf("redactURI(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestScrub(t *testing.T) {
	uri := "mongodb://admin:s%40cret@db.example.net/"
	msg := "auth failed for admin:s%40cret, password s@cret, s%40cret"
	got := scrub(msg, uri)
	for _, s := range []string{"s@cret", "s%40cret"} {
		if strings.Contains(got, s) {
			t.Errorf("scrub(%q) = %q, still contains %q", msg, got, s)
		}
	}
}

func TestFerretDB2(t *testing.T) {
	tests := []struct {
		version string
		want    bool
	}{
		{"unknown", false},
		{"", false},
		{"v1.24.0", false},
		{"1.24.0", false},
		{"v2.0.0", true},
		{"2.1.0", true},
		{"v10.0.0", true},
	}
	for _, tc := range tests {
		if got := ferretDB2(tc.version); got != tc.want {
			t.Errorf("ferretDB2(%q) = %v, want %v", tc.version, got, tc.want)
		}
	}
}

func TestDuplicateIndex(t *testing.T) {
	writeErr := func(t *testing.T, doc bson.D) error {
		t.Helper()
		raw, err := bson.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := bson.Raw(raw).Lookup("errmsg").StringValueOK()
		return mongo.WriteException{WriteErrors: []mongo.WriteError{{Code: 11000, Message: msg, Raw: raw}}}
	}
	tests := []struct {
		name string
		doc  bson.D
		want string
	}{
		{"MongoDB email", bson.D{
			{Key: "code", Value: 11000},
			{Key: "errmsg", Value: `E11000 duplicate key error collection: corkboard.users index: email_1 dup key: { email: "a@example.com" }`},
			{Key: "keyPattern", Value: bson.D{{Key: "email", Value: 1}}},
			{Key: "keyValue", Value: bson.D{{Key: "email", Value: "a@example.com"}}},
		}, emailIndex},
		{"MongoDB username", bson.D{
			{Key: "code", Value: 11000},
			{Key: "errmsg", Value: `E11000 duplicate key error collection: corkboard.users index: usernameKey_1 dup key: { usernameKey: "email_1" }`},
			{Key: "keyPattern", Value: bson.D{{Key: "usernameKey", Value: 1}}},
		}, usernameIndex},
		{"MongoDB _id", bson.D{
			{Key: "code", Value: 11000},
			{Key: "errmsg", Value: `E11000 duplicate key error collection: corkboard.users index: _id_ dup key: { _id: ObjectId('507f1f77bcf86cd799439011') }`},
			{Key: "keyPattern", Value: bson.D{{Key: "_id", Value: 1}}},
		}, "_id_"},
		{"older MongoDB, message only", bson.D{
			{Key: "code", Value: 11000},
			{Key: "errmsg", Value: `E11000 duplicate key error collection: corkboard.users index: usernameKey_1 dup key: { : "alice" }`},
		}, usernameIndex},
		{"FerretDB, collection only", bson.D{
			{Key: "code", Value: 11000},
			{Key: "errmsg", Value: `E11000 duplicate key error collection: corkboard.users`},
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := writeErr(t, tc.doc)
			if !mongo.IsDuplicateKeyError(err) {
				t.Fatalf("mongo.IsDuplicateKeyError(%v) = false", err)
			}
			if got := duplicateIndex(err); got != tc.want {
				t.Errorf("duplicateIndex(%v) = %q, want %q", err, got, tc.want)
			}
		})
	}
}
