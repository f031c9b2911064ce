//go:build !linux

package auth

import (
	"errors"
	"fmt"
)

// setThreadNice fails outside Linux: elsewhere the nice value belongs to
// the whole process (or to no thread the runtime lets us name), so the
// bcrypt pool cannot run below the other goroutines and the gate keeps a
// core back instead.
func setThreadNice(nice int) error {
	return fmt.Errorf("per-thread nice value: %w", errors.ErrUnsupported)
}

func threadID() int { return 0 }

// yieldThread does nothing outside Linux, where the pool is not used.
func yieldThread() {}

// cpuQuota finds no quota outside Linux; there the pool is not used anyway.
func cpuQuota() (string, bool) { return "", false }
