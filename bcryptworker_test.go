package main

import (
	"bytes"
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var workerPIDRE = regexp.MustCompile(`bcrypt admission: lending idle cores.* worker_pid=(\d+)`)

// procState returns the state letter of process pid (R, S, Z...), or ""
// once it is gone.
func procState(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return f[0]
}

// cpuTicks returns the user and system CPU time of process pid, in clock
// ticks.
func cpuTicks(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	utime, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	return utime + stime
}

// TestBcryptWorkerProcess: the real binary runs bcrypt in a worker
// process, its own binary started again: its child, with one thread at
// nice 19. Sign-up and login work through it, and the worker ends with
// the server, whether the server is stopped or killed (its input closes).
func TestBcryptWorkerProcess(t *testing.T) {
	for _, end := range []string{"stopped", "killed"} {
		t.Run(end, func(t *testing.T) {
			// The real cost, so that the worker's CPU time shows the work.
			p := startProcess(t, nil, map[string]string{"DATA_DIR": t.TempDir(), "BCRYPT_COST": "10"})
			m := workerPIDRE.FindStringSubmatch(p.log())
			if m == nil {
				if strings.Contains(p.log(), "holding a core back") {
					t.Skipf("no cores to lend here:\n%s", lastLines(p.log(), 20))
				}
				t.Fatalf("no worker process in the start-up log:\n%s", lastLines(p.log(), 20))
			}
			pid, _ := strconv.Atoi(m[1])
			cmdline, err := os.ReadFile("/proc/" + m[1] + "/cmdline")
			if err != nil {
				t.Fatalf("worker %d: %v", pid, err)
			}
			if args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00"); len(args) != 2 || args[1] != workerArg {
				t.Errorf("worker %d runs %q, want the binary with %q", pid, args, workerArg)
			}
			b, _ := os.ReadFile("/proc/" + m[1] + "/stat")
			if f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:])); len(f) < 2 || f[1] != strconv.Itoa(p.cmd.Process.Pid) {
				t.Errorf("worker %d's stat %q: its parent is not the server %d", pid, b, p.cmd.Process.Pid)
			}
			lent := 0
			tasks, _ := os.ReadDir("/proc/" + m[1] + "/task")
			for _, task := range tasks {
				b, err := os.ReadFile("/proc/" + m[1] + "/task/" + task.Name() + "/stat")
				if err != nil {
					continue
				}
				if f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:])); len(f) > 16 && f[16] == "19" {
					lent++
				}
			}
			if lent != 1 {
				t.Errorf("worker %d has %d threads at nice 19, want 1", pid, lent)
			}

			before := cpuTicks(t, pid)
			alice := &account{username: "alice", email: "alice@example.com", password: "password1", c: newPClient(p.URL)}
			if _, err := alice.c.want("POST", "/api/auth/signup", map[string]string{"username": alice.username, "email": alice.email, "password": alice.password}, 201); err != nil {
				t.Fatal(err)
			}
			if _, err := alice.c.want("POST", "/api/auth/login", map[string]string{"email": alice.email, "password": alice.password}, 200); err != nil {
				t.Fatal(err)
			}
			if _, err := alice.c.want("POST", "/api/auth/login", map[string]string{"email": alice.email, "password": "password2"}, 401); err != nil {
				t.Fatal(err)
			}

			// A hash and two checks at cost 10: about 0.2 s of CPU, in the
			// worker and not in the server.
			if spent := cpuTicks(t, pid) - before; spent < 5 {
				t.Errorf("the worker spent %d clock ticks on a sign-up and two logins: they did not run there", spent)
			}
			if env, err := os.ReadFile("/proc/" + m[1] + "/environ"); err != nil || strings.Contains(string(env), "SECRET") {
				t.Errorf("the worker's environment (read: %v) holds the server's secrets", err)
			}

			if end == "stopped" {
				p.term()
				if code := p.wait(30 * time.Second); code != 0 {
					t.Fatalf("server exited %d after SIGTERM", code)
				}
			} else {
				p.kill()
			}
			// Stopped, the server reaps its worker; killed, the worker sees
			// its input end and exits, and whoever adopted it reaps it (a
			// zombie has ended all the same).
			deadline := time.Now().Add(30 * time.Second)
			for st := procState(pid); st != "" && st != "Z"; st = procState(pid) {
				if time.Now().After(deadline) {
					t.Fatalf("worker %d still running (state %s) 30 s after the server %s", pid, st, end)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if err := syscall.Kill(pid, 0); end == "stopped" && !errors.Is(err, syscall.ESRCH) {
				t.Errorf("signal 0 to the worker after a clean stop: %v, want ESRCH (reaped by the server)", err)
			}
		})
	}
}
