package main

import (
	"debug/buildinfo"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

// buildCorkboard builds the program the way .ci/run and the README do
// (CGO_ENABLED=0, -trimpath) from the source in dir into a temporary
// directory and returns the binary's path. GOFLAGS is cleared so that a
// -buildvcs=false set in the machine's go env does not drop the revision.
func buildCorkboard(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "corkboard")
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=auto", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build -trimpath in %s: %v\n%s", dir, err, msg)
	}
	return out
}

// shippedBinary returns the binary to test: CORKBOARD_BINARY when set
// (.ci/run sets it to the binary it built), else one built now.
func shippedBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("CORKBOARD_BINARY"); bin != "" {
		return bin
	}
	return buildCorkboard(t, ".")
}

// TestStaticBuild checks that the binary is the single static executable
// the README promises: no program interpreter (the dynamic loader), no
// shared libraries needed, built without cgo and with -trimpath, and that
// it prints its version.
func TestStaticBuild(t *testing.T) {
	bin := shippedBinary(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("reading %s as ELF: %v", bin, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has a program interpreter (PT_INTERP): it is dynamically linked", bin)
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("%s needs shared libraries %v (%v); want none", bin, libs, err)
	}

	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatalf("reading the build information of %s: %v", bin, err)
	}
	settings := make(map[string]string)
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if settings["CGO_ENABLED"] != "0" || settings["-trimpath"] != "true" {
		t.Errorf("%s was built with CGO_ENABLED=%q -trimpath=%q; want 0 and true", bin, settings["CGO_ENABLED"], settings["-trimpath"])
	}

	out, err := exec.Command(bin, "-version").Output()
	if err != nil || !strings.HasPrefix(string(out), "corkboard ") || !strings.Contains(string(out), info.GoVersion) {
		t.Errorf("%s -version = %q, %v; want a line naming corkboard and %s, exit 0", bin, out, err, info.GoVersion)
	}
}

// TestVersionFromGitCheckout builds the committed source from a fresh git
// clone and checks that -version names the commit it was built from.
// (A clone, because go build looks for a .git directory: a git worktree
// has a .git file and gets no revision.)
func TestVersionFromGitCheckout(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not in a git checkout: %v", err)
	}
	rev := strings.TrimSpace(string(head))
	clone := filepath.Join(t.TempDir(), "src")
	if msg, err := exec.Command("git", "clone", "--quiet", "--no-checkout", ".", clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, msg)
	}
	if msg, err := exec.Command("git", "-C", clone, "checkout", "--quiet", rev).CombinedOutput(); err != nil {
		t.Fatalf("git checkout %s: %v\n%s", rev, err, msg)
	}
	bin := buildCorkboard(t, clone)
	out, err := exec.Command(bin, "-version").Output()
	if err != nil {
		t.Fatalf("corkboard -version: %v", err)
	}
	if !strings.Contains(string(out), " rev "+rev+" ") || strings.Contains(string(out), "modified") {
		t.Errorf("corkboard -version built from a clean checkout of %s printed %q; want that revision, not modified", rev, out)
	}
}

func TestVersionLine(t *testing.T) {
	info := func(version string, settings ...string) *debug.BuildInfo {
		bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "corkboard", Version: version}}
		for i := 0; i < len(settings); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return bi
	}
	tests := []struct {
		name string
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{"clean checkout", info("(devel)", "vcs.revision", "7df554a", "vcs.time", "2026-11-29T13:41:00Z", "vcs.modified", "false"), true,
			"corkboard (devel) go1.26.8 rev 7df554a 2026-11-29T13:41:00Z"},
		{"changed checkout", info("v1.2.0", "vcs.revision", "7df554a", "vcs.time", "2026-11-29T13:41:00Z", "vcs.modified", "true"), true,
			"corkboard v1.2.0 go1.26.8 rev 7df554a 2026-11-29T13:41:00Z modified"},
		{"no VCS", info(""), true, "corkboard (devel) go1.26.8 (no VCS revision)"},
		{"no build information", nil, false, "corkboard (no build information)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := versionLine(tt.info, tt.ok); got != tt.want {
				t.Errorf("versionLine = %q, want %q", got, tt.want)
			}
		})
	}
}
