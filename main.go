// Command corkboard serves the corkboard JSON API: sign-up, login and JWT
// sessions with rotating refresh tokens, roles, and a small board app, on
// MongoDB or on a durable JSON-file store. See README.md.
package main

import (
	"context"
	"fmt"
	"os"
)

func main() {
	if err := run(context.Background(), os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "corkboard: %v\n", err)
		os.Exit(1)
	}
}
