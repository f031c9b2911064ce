// Command mongowire serves the MongoDB wire protocol on loopback for
// integration tests, using embedded FerretDB with its SQLite backend.
//
// It prints exactly one line to stdout, the MongoDB URI (for example
// mongodb://127.0.0.1:27017/), once the TCP port accepts connections, and
// runs until it receives SIGINT or SIGTERM.
//
// Usage:
//
//	mongowire [-addr 127.0.0.1:0] [-dir DIR] [-uri-file FILE] [-log-level error]
//
// With port 0 in -addr a free loopback port is chosen. Without -dir the
// SQLite data lives in a fresh temporary directory that is removed at exit.
// With -uri-file the URI is also written (atomically) to that file once
// the server is ready. FerretDB logs go to stderr; the default level, error,
// keeps them quiet (at warn it dumps every error reply it sends).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// readyTimeout bounds how long to wait for the listener to accept connections.
const readyTimeout = 20 * time.Second

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "TCP listen address; port 0 picks a free port")
	dir := flag.String("dir", "", "SQLite data directory (default: a temporary directory removed at exit)")
	uriFile := flag.String("uri-file", "", "if set, write the MongoDB URI to this file once ready")
	logLevel := flag.String("log-level", "error", "FerretDB log level on stderr: debug, info, warn or error")
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintln(os.Stderr, "mongowire: bad -log-level:", err)
		os.Exit(2)
	}

	if err := run(*addr, *dir, *uriFile, level); err != nil {
		fmt.Fprintln(os.Stderr, "mongowire:", err)
		os.Exit(1)
	}
}

func run(addr, dir, uriFile string, level slog.Level) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	addr, err := resolveAddr(addr)
	if err != nil {
		return err
	}

	if dir == "" {
		tmp, err := os.MkdirTemp("", "mongowire-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}

	absDir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}

	// The SQLite backend wants a "file:" URI naming a directory, with a trailing slash.
	sqliteURL := (&url.URL{Scheme: "file", Path: filepath.ToSlash(absDir) + "/", OmitHost: true}).String()

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: addr},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: sqliteURL,
	})
	if err != nil {
		return err
	}

	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()

	done := make(chan error, 1)
	go func() { done <- f.Run(runCtx) }()

	if err := waitReady(ctx, addr, done); err != nil {
		cancelRun()
		<-done
		if ctx.Err() != nil {
			return nil // signaled during startup: a clean stop
		}
		return err
	}

	uri := f.MongoDBURI()

	if uriFile != "" {
		if err := writeFileAtomic(uriFile, uri+"\n"); err != nil {
			cancelRun()
			<-done
			return err
		}
	}

	fmt.Println(uri)

	select {
	case <-ctx.Done():
		cancelRun()
		return <-done
	case err := <-done:
		if err == nil {
			err = errors.New("FerretDB stopped unexpectedly")
		}
		return err
	}
}

// resolveAddr replaces port 0 with a free loopback port,
// because FerretDB also reports the configured address to clients.
func resolveAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("bad -addr %q: %w", addr, err)
	}

	if port != "0" && port != "" {
		return addr, nil
	}

	if host == "" {
		host = "127.0.0.1"
	}

	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", err
	}
	p := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return "", err
	}

	return net.JoinHostPort(host, strconv.Itoa(p)), nil
}

// waitReady polls addr until it accepts a TCP connection, the server stops,
// ctx is canceled, or readyTimeout passes.
func waitReady(ctx context.Context, addr string, done <-chan error) error {
	deadline := time.Now().Add(readyTimeout)

	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return conn.Close()
		}

		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not accept connections within %s: %w", addr, readyTimeout, err)
		}

		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-done:
			return fmt.Errorf("FerretDB stopped before it was ready: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// writeFileAtomic writes data to a temporary file beside path and renames it into place.
func writeFileAtomic(path, data string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}

	if _, err := tmp.WriteString(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}

	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}

	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}

	return nil
}
