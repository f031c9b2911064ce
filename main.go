// Command corkboard serves the corkboard JSON API: sign-up, login and JWT
// sessions with rotating refresh tokens, roles, and a small board app, on
// MongoDB or on a durable JSON-file store. See README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"

	"corkboard/auth"
)

// workerArg is the argument that makes the binary the bcrypt worker
// process (see auth.ServeWorker): the server starts itself again with it.
// It is not a command for people, so the usage does not list it.
const workerArg = "bcrypt-worker"

func main() {
	if len(os.Args) == 2 && os.Args[1] == workerArg {
		// A Ctrl-C or a service manager's SIGTERM reaches the whole
		// group; the worker finishes what the server still waits for and
		// exits when the server closes its input, or exits itself.
		signal.Ignore(syscall.SIGINT, syscall.SIGTERM)
		if err := auth.ServeWorker(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "corkboard bcrypt worker: %v\n", err)
			os.Exit(1)
		}
		return
	}
	// Only the real binary can start itself as the worker; tests that call
	// run in their own process leave bcryptWorker nil and get the pool in
	// their process.
	if exe, err := os.Executable(); err == nil {
		bcryptWorker = func() *exec.Cmd { return workerCommand(exe) }
	}
	if err := run(context.Background(), os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "corkboard: %v\n", err)
		os.Exit(1)
	}
}

// workerCommand is the command of the bcrypt worker process. On Linux it
// runs /proc/self/exe, the very file this process runs even if an upgrade
// has since replaced or removed it, so that a worker started again
// always speaks this server's protocol; elsewhere exe, the path the binary
// was started from. The worker gets no environment but the Go runtime's
// own settings: it needs none of the secrets the server was given.
func workerCommand(exe string) *exec.Cmd {
	path := exe
	if _, err := os.Stat("/proc/self/exe"); err == nil {
		path = "/proc/self/exe"
	}
	cmd := exec.Command(path, workerArg)
	cmd.Args[0] = exe // what ps shows
	cmd.Env = []string{}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "GOMAXPROCS", "GOGC", "GOMEMLIMIT", "GODEBUG", "GOTRACEBACK":
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Stderr = os.Stderr
	return cmd
}
