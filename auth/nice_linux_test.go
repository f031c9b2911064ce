package auth

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCPUQuotaAt lays out cgroup files as the kernel does and checks that a
// quota is found on the process's own cgroup or on one above it, in
// cgroup v2 and v1, and that "no limit" is read as none.
func TestCPUQuotaAt(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cgroup  string            // /proc/self/cgroup
		files   map[string]string // under the cgroup mount point
		want    string
		limited bool
	}{
		{"v2 unlimited", "0::/app\n", map[string]string{"app/cpu.max": "max 100000\n"}, "", false},
		{"v2 own limit", "0::/app\n", map[string]string{"app/cpu.max": "150000 100000\n"}, "cpu.max 150000 100000", true},
		{"v2 parent's limit", "0::/system.slice/app.service\n", map[string]string{
			"system.slice/app.service/cpu.max": "max 100000\n",
			"system.slice/cpu.max":             "50000 100000\n",
		}, "cpu.max 50000 100000", true},
		{"v2 no cpu controller files", "0::/\n", nil, "", false},
		{"v1 unlimited", "4:memory:/x\n2:cpu,cpuacct:/x\n", map[string]string{"cpu,cpuacct/x/cpu.cfs_quota_us": "-1\n"}, "", false},
		{"v1 limit", "4:memory:/x\n2:cpu,cpuacct:/x\n", map[string]string{"cpu,cpuacct/x/cpu.cfs_quota_us": "200000\n"}, "cpu.cfs_quota_us 200000", true},
		{"v1 mounted as cpu", "1:cpu:/x\n", map[string]string{"cpu/cpu.cfs_quota_us": "100000\n", "cpu/x/cpu.cfs_quota_us": "-1\n"}, "cpu.cfs_quota_us 100000", true},
		{"v1 other controllers only", "4:memory:/x\n", map[string]string{"cpu/x/cpu.cfs_quota_us": "100000\n"}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			procCgroup := filepath.Join(dir, "cgroup")
			if err := os.WriteFile(procCgroup, []byte(tc.cgroup), 0o600); err != nil {
				t.Fatal(err)
			}
			root := filepath.Join(dir, "fs")
			for name, content := range tc.files {
				p := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, limited := cpuQuotaAt(procCgroup, root)
			if got != tc.want || limited != tc.limited {
				t.Errorf("cpuQuotaAt = %q, %v; want %q, %v", got, limited, tc.want, tc.limited)
			}
		})
	}
}
