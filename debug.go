package main

import (
	"encoding/json"
	"errors"
	"expvar"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"corkboard/mongostore"
)

// mutexProfileRate is the mutex profile's sampling rate while the debug
// listener is on (see runtime.SetMutexProfileFraction).
const mutexProfileRate = 10

// debugHandler serves the runtime's profiles (/debug/pprof/) and counters
// (/debug/vars) for the load driver and for an operator chasing a slow
// request. It is served on its own listener (-debug-addr), never on the API's:
// profiles show the program's inner workings and cost CPU to take.
func debugHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /debug/vars", serveVars)
	return mux
}

// serveVars writes the published expvar variables as one JSON object, as
// expvar.Handler does, but without "cmdline": a command line can carry a
// connection string with its password (-mongo-uri), and the profiles'
// cmdline endpoint is left out for the same reason.
func serveVars(w http.ResponseWriter, _ *http.Request) {
	vars := make(map[string]json.RawMessage)
	expvar.Do(func(kv expvar.KeyValue) {
		if kv.Key != "cmdline" {
			vars[kv.Key] = json.RawMessage(kv.Value.String())
		}
	})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(vars)
}

// checkDebugAddr refuses a -debug-addr that is not on the loopback
// interface: the profiles have no authentication, so they must not be
// reachable from the network. An ssh tunnel reaches them from afar.
func checkDebugAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-debug-addr %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return errors.New("-debug-addr must be a loopback address such as 127.0.0.1:6060: its profiles have no authentication")
}

// debugServer returns the server of the debug listener. It has no write
// timeout, since a CPU profile streams for as long as it was asked to run.
func debugServer() *http.Server {
	return &http.Server{
		Handler:           debugHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
	}
}

// mongoCommands returns the counts of MongoDB commands sent, published once
// per process as the expvar "mongo.commands" (a map from command name to
// count), which the load driver reads before and after each scenario. expvar
// names are process-wide and publishing one twice panics, while run may be
// called many times in one process (the tests do): hence one CommandCounts
// per process, counting for every store opened in it.
var mongoCommands = sync.OnceValue(func() *mongostore.CommandCounts {
	c := new(mongostore.CommandCounts)
	expvar.Publish("mongo.commands", c)
	return c
})
