package filestore

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"corkboard/auth"
	"corkboard/objectid"
	"corkboard/user"
)

// Environment variables that turn the test binary into the child process of
// TestCrashConsistency.
const (
	crashDirEnv   = "FILESTORE_CRASH_CHILD_DIR"
	crashRoundEnv = "FILESTORE_CRASH_CHILD_ROUND"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		os.Exit(crashChild(dir, os.Getenv(crashRoundEnv)))
	}
	os.Exit(m.Run())
}

// crashChild writes to the store in dir from several goroutines until it is
// killed, printing a line for every acknowledged write:
//
//	user <id> <username>
//	session <id> <generation>
//
// Small compactions run all the time, so kills land in every phase.
func crashChild(dir, round string) int {
	s, err := Open(dir, Options{CompactBytes: 32 << 10})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var out sync.Mutex
	ack := func(format string, args ...any) {
		out.Lock()
		defer out.Unlock()
		fmt.Fprintf(os.Stdout, format+"\n", args...) // one write(2) per line
	}
	die := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ack("ready")
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				now := time.Now()
				name := fmt.Sprintf("r%s-w%d-%d", round, w, i)
				u := user.User{ID: objectid.New(now), Username: name, Email: name + "@example.com",
					Roles: []string{"user"}, PasswordHash: "$2a$04$" + strings.Repeat("c", 53), CreatedAt: now, UpdatedAt: now}
				if err := s.CreateUser(ctx, u); err != nil {
					die(err)
				}
				ack("user %s %s", u.ID, u.Username)
				sess := auth.Session{ID: objectid.New(now), UserID: u.ID, Generation: 1,
					CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour)}
				if err := s.CreateSession(ctx, sess); err != nil {
					die(err)
				}
				ack("session %s 1", sess.ID)
				if _, err := s.RotateSession(ctx, sess.ID, 1, now, now.Add(time.Hour)); err != nil {
					die(err)
				}
				ack("session %s 2", sess.ID)
			}
		})
	}
	wg.Wait()
	return 0
}

// TestCrashConsistency kills a writing process with SIGKILL at a random
// moment, several times over one directory, and checks after each kill that
// the store opens and holds every write the process acknowledged.
func TestCrashConsistency(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	users := make(map[string]string)    // acknowledged users: id → username
	sessions := make(map[string]uint64) // acknowledged sessions: id → generation
	for round := range 4 {
		acks := runCrashChild(t, dir, round, 100+rand.IntN(500), func(line string) error {
			f := strings.Fields(line)
			switch {
			case len(f) == 3 && f[0] == "user":
				users[f[1]] = f[2]
			case len(f) == 3 && f[0] == "session":
				gen, err := strconv.ParseUint(f[2], 10, 64)
				if err != nil {
					return err
				}
				sessions[f[1]] = gen
			default:
				return fmt.Errorf("unexpected line %q", line)
			}
			return nil
		})

		s, err := Open(dir, Options{})
		if err != nil {
			t.Fatalf("round %d: Open after SIGKILL = %v, want nil", round, err)
		}
		ctx := context.Background()
		for id, name := range users {
			if u, err := s.UserByID(ctx, id); err != nil || u.Username != name {
				t.Errorf("round %d: acknowledged user %s (%s): UserByID = %q, %v; want it stored", round, id, name, u.Username, err)
			}
		}
		for id, gen := range sessions {
			// A rotation that was done but not yet acknowledged may
			// have reached the disk: the generation is at least the
			// acknowledged one.
			if sess, err := s.Session(ctx, id); err != nil || sess.Generation < gen {
				t.Errorf("round %d: acknowledged session %s at generation %d: Session = generation %d, %v", round, id, gen, sess.Generation, err)
			}
		}
		t.Logf("round %d: killed after %d acknowledged writes; %d users and %d sessions verified", round, acks, len(users), len(sessions))
		closeStore(t, s)
	}
}

// runCrashChild starts the child on dir, feeds each acknowledgement line to
// record, kills the child with SIGKILL after killAfter of them and returns
// how many it read, including those printed before the kill landed.
func runCrashChild(t *testing.T, dir string, round, killAfter int, record func(string) error) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashRoundEnv+"="+strconv.Itoa(round))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() || sc.Text() != "ready" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("round %d: child did not start: %q, stderr %s", round, sc.Text(), stderr.String())
	}
	// The running child holds the directory.
	if s, err := Open(dir, Options{}); !errors.Is(err, ErrLocked) {
		if s != nil {
			s.Close()
		}
		t.Errorf("round %d: Open while another process has the directory = %v, want %v", round, err, ErrLocked)
	}

	acks := 0
	for sc.Scan() {
		if err := record(sc.Text()); err != nil {
			t.Errorf("round %d: %v", round, err)
		}
		if acks++; acks == killAfter {
			cmd.Process.Kill() // SIGKILL; lines already in the pipe are still read
		}
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != -1 {
		t.Fatalf("round %d: child ended with %v before it was killed; stderr:\n%s", round, err, stderr.String())
	}
	return acks
}
