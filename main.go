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
		bcryptWorker = func() *exec.Cmd {
			cmd := exec.Command(exe, workerArg)
			cmd.Stderr = os.Stderr
			return cmd
		}
	}
	if err := run(context.Background(), os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "corkboard: %v\n", err)
		os.Exit(1)
	}
}
