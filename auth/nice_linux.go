package auth

import "syscall"

// setThreadNice sets the nice value of the calling OS thread. On Linux
// nice is per thread (PRIO_PROCESS with a thread id names one thread), so
// a goroutine locked to its thread can run below everything else in the
// process. Raising one's own nice value needs no privilege; a seccomp
// profile may still forbid the call, and then the caller falls back.
func setThreadNice(nice int) error {
	return syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), nice)
}

// threadID returns the calling OS thread's id, for tests that look for
// the pool's threads in /proc/self/task.
func threadID() int { return syscall.Gettid() }
