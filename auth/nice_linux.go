package auth

import (
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
)

// setThreadNice sets the nice value of the calling OS thread. On Linux
// nice is per thread (PRIO_PROCESS with a thread id names one thread), so
// a goroutine locked to its thread can run below everything else in the
// process. Raising one's own nice value needs no privilege; a seccomp
// profile may still forbid the call, and then the caller falls back.
func setThreadNice(nice int) error {
	return syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), nice)
}

// yieldThread lets another thread that waits for this one's core run
// first (sched_yield). With nothing else waiting it returns at once.
func yieldThread() { syscall.RawSyscall(syscall.SYS_SCHED_YIELD, 0, 0, 0) }

// threadID returns the calling OS thread's id, for tests that look for
// the pool's threads in /proc/self/task.
func threadID() int { return syscall.Gettid() }

// cpuQuota reports whether this process's cgroup, or one above it, limits
// its CPU time (cgroup v2 cpu.max, or v1 cpu.cfs_quota_us), and the limit
// found. Under a quota a thread of low priority still spends the quota,
// and once it is spent the kernel stops every thread of the process until
// the next period, so lending cores to bcrypt would stall the rest.
func cpuQuota() (string, bool) { return cpuQuotaAt("/proc/self/cgroup", "/sys/fs/cgroup") }

// cpuQuotaAt is cpuQuota with the process's cgroup list and the cgroup
// file system's mount point given, so that tests can lay out their own.
func cpuQuotaAt(procCgroup, root string) (string, bool) {
	b, err := os.ReadFile(procCgroup)
	if err != nil {
		return "", false
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		controllers, dir := parts[1], parts[2]
		for ; ; dir = path.Dir(dir) {
			switch {
			case controllers == "":
				// cgroup v2: "max 100000" means no limit.
				if b, err := os.ReadFile(path.Join(root, dir, "cpu.max")); err == nil {
					if f := strings.Fields(string(b)); len(f) > 0 && f[0] != "max" {
						return "cpu.max " + strings.Join(f, " "), true
					}
				}
			case slices.Contains(strings.Split(controllers, ","), "cpu"):
				// cgroup v1: a quota of -1 means no limit.
				for _, mount := range []string{path.Join(root, "cpu,cpuacct"), path.Join(root, "cpu")} {
					if b, err := os.ReadFile(path.Join(mount, dir, "cpu.cfs_quota_us")); err == nil {
						if q := strings.TrimSpace(string(b)); q != "-1" {
							return "cpu.cfs_quota_us " + q, true
						}
						break
					}
				}
			}
			if dir == "/" || dir == "." || dir == "" {
				break
			}
		}
	}
	return "", false
}
