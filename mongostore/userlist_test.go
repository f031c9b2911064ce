package mongostore_test

import (
	"context"
	"fmt"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"corkboard/mongostore/mongotest"
)

// TestUserListIndexes: Open creates the indexes the user list relies on:
// {createdAt: -1, _id: -1} for the order, and usernameKey for a search.
func TestUserListIndexes(t *testing.T) {
	s := mongotest.Open(t)
	specs, err := s.Database().Collection("users").Indexes().ListSpecifications(context.Background())
	if err != nil {
		t.Fatalf("listing the indexes of users: %v", err)
	}
	found := make(map[string]string)
	for _, sp := range specs {
		var keys bson.D
		if err := bson.Unmarshal(sp.KeysDocument, &keys); err != nil {
			t.Fatal(err)
		}
		desc := ""
		for _, k := range keys {
			desc += fmt.Sprintf("%s:%v ", k.Key, k.Value)
		}
		found[sp.Name] = desc
	}
	for name, want := range map[string]string{
		"createdAt_-1__id_-1": "createdAt:-1 _id:-1 ",
		"usernameKey_1":       "usernameKey:1 ",
	} {
		if found[name] != want {
			t.Errorf("index %s has keys %q, want %q; the indexes: %v", name, found[name], want, found)
		}
	}
}
