package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"corkboard/mongostore/mongotest"
)

// TestDebugVarsMongoCommands checks that a run on MongoDB publishes the
// commands it sends as the expvar "mongo.commands", and that a request moves
// them: the load driver divides their growth by the requests it made.
func TestDebugVarsMongoCommands(t *testing.T) {
	uri := mongotest.URI(t)
	db := mongotest.NewDatabaseName(t)
	mongotest.OpenDatabase(t, db) // drops the database at cleanup
	addr, debugAddr, stop := runWithDebug(t, "-store", "mongo", "-mongo-uri", uri, "-mongo-db", db)
	commands := func() map[string]int64 {
		t.Helper()
		resp, err := http.Get("http://" + debugAddr + "/debug/vars")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var vars struct {
			Commands map[string]int64 `json:"mongo.commands"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&vars); err != nil || vars.Commands == nil {
			t.Fatalf("GET /debug/vars: %v, mongo.commands %v; want a map of command counts", err, vars.Commands)
		}
		return vars.Commands
	}
	before := commands()
	resp, err := http.Post("http://"+addr+"/api/auth/signup", "application/json",
		strings.NewReader(`{"username":"alice","email":"alice@example.com","password":"correct horse battery"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/auth/signup = %d, want 201", resp.StatusCode)
	}
	after := commands()
	// A sign-up inserts at least the user and its first session.
	if got := after["insert"] - before["insert"]; got < 2 {
		t.Errorf("insert commands counted for a sign-up = %d, want at least 2 (before %v, after %v)", got, before, after)
	}
	stop()
}
