package mongostore

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"

	"go.mongodb.org/mongo-driver/v2/event"
)

// countedCommands are the commands the store sends on its request paths,
// each with its own counter, so that counting one is an atomic add without
// a lookup in a map or an allocation.
var countedCommands = [...]string{
	"find", "findAndModify", "insert", "update", "delete", "aggregate", "getMore",
	"count", "killCursors", "createIndexes", "ping", "hello", "buildInfo",
}

// CommandCounts counts the commands a Store sends to the server, by command
// name, since it was made. It is an expvar.Var: published (the program names
// it "mongo.commands"), its String is a JSON object from command name to
// count, which a load driver reads before and after a scenario to tell the
// commands per request. It is safe for concurrent use, and one CommandCounts
// may count for several Stores.
type CommandCounts struct {
	known [len(countedCommands)]atomic.Int64
	// others counts the rare commands not in countedCommands (dropDatabase,
	// endSessions, ...), under mu.
	mu     sync.Mutex
	others map[string]int64
}

// Add counts one command called name.
func (c *CommandCounts) Add(name string) {
	for i, n := range countedCommands {
		if n == name {
			c.known[i].Add(1)
			return
		}
	}
	c.mu.Lock()
	if c.others == nil {
		c.others = make(map[string]int64)
	}
	c.others[name]++
	c.mu.Unlock()
}

// Counts returns the counts so far, leaving out the commands never sent.
func (c *CommandCounts) Counts() map[string]int64 {
	m := make(map[string]int64)
	for i, n := range countedCommands {
		if v := c.known[i].Load(); v > 0 {
			m[n] = v
		}
	}
	c.mu.Lock()
	for n, v := range c.others {
		m[n] = v
	}
	c.mu.Unlock()
	return m
}

// String returns the counts as a JSON object, for expvar.
func (c *CommandCounts) String() string {
	b, err := json.Marshal(c.Counts())
	if err != nil { // a map of string to int64 always encodes
		return "{}"
	}
	return string(b)
}

// monitor returns a command monitor that counts every command started into
// c, then tells next, if any.
func (c *CommandCounts) monitor(next *event.CommandMonitor) *event.CommandMonitor {
	m := &event.CommandMonitor{
		Started: func(ctx context.Context, e *event.CommandStartedEvent) {
			c.Add(e.CommandName)
			if next != nil && next.Started != nil {
				next.Started(ctx, e)
			}
		},
	}
	if next != nil {
		m.Succeeded = next.Succeeded
		m.Failed = next.Failed
	}
	return m
}
