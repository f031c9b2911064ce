package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// readUnit parses a systemd unit file into section → key → values (a key
// may repeat), following lines continued with a backslash.
func readUnit(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	unit := make(map[string]map[string][]string)
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		for strings.HasSuffix(line, "\\") && sc.Scan() {
			line = strings.TrimSuffix(line, "\\") + " " + strings.TrimSpace(sc.Text())
		}
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
			unit[section] = make(map[string][]string)
		default:
			key, value, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s line %d: %q is not KEY=VALUE in a section", path, n, line)
			}
			unit[section][key] = append(unit[section][key], value)
		}
	}
	return unit
}

// TestSystemdUnit checks deploy/corkboard.service: the hardening options
// are there, the capability is only the one to bind ports below 1024, the
// stop timeout leaves room for the 10 s shutdown, and ExecStart's
// arguments are ones corkboard accepts. Where systemd-analyze is
// installed, systemd itself checks the file too.
func TestSystemdUnit(t *testing.T) {
	path := filepath.Join("deploy", "corkboard.service")
	svc := readUnit(t, path)["Service"]
	if svc == nil {
		t.Fatalf("%s has no [Service] section", path)
	}
	want := map[string]string{
		"DynamicUser": "yes", "StateDirectory": "corkboard", "EnvironmentFile": "/etc/corkboard/env",
		"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
		"PrivateDevices": "yes", "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
		"ProtectKernelLogs": "yes", "ProtectControlGroups": "yes", "RestrictNamespaces": "yes",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX", "LockPersonality": "yes",
		"MemoryDenyWriteExecute": "yes", "SystemCallArchitectures": "native", "UMask": "0077",
		"Restart": "on-failure", "AmbientCapabilities": "CAP_NET_BIND_SERVICE",
		"CapabilityBoundingSet": "CAP_NET_BIND_SERVICE", "TimeoutStopSec": "30s",
	}
	for key, value := range want {
		if got := svc[key]; len(got) != 1 || got[0] != value {
			t.Errorf("%s: %s = %q, want [%q]", path, key, got, value)
		}
	}
	if got := svc["SystemCallFilter"]; len(got) == 0 || got[0] != "@system-service" {
		t.Errorf("%s: SystemCallFilter = %q, want @system-service first", path, got)
	}
	if len(svc["LimitNOFILE"]) != 1 {
		t.Errorf("%s: no LimitNOFILE", path)
	}

	exec1 := svc["ExecStart"]
	if len(exec1) != 1 {
		t.Fatalf("%s: ExecStart = %q, want one command", path, exec1)
	}
	args := strings.Fields(exec1[0])
	if args[0] != "/usr/local/bin/corkboard" || len(args) < 2 || args[1] != "serve" {
		t.Fatalf("%s: ExecStart = %q, want /usr/local/bin/corkboard serve ...", path, exec1[0])
	}
	cfg, err := loadConfig(args[2:], func(string) string { return "" }, nil, io.Discard)
	if err != nil {
		t.Fatalf("%s: corkboard refuses ExecStart's flags %q: %v", path, args[2:], err)
	}
	if cfg.dataDir != "/var/lib/corkboard" {
		t.Errorf("%s: ExecStart sets the data directory %q, want StateDirectory's /var/lib/corkboard", path, cfg.dataDir)
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze is not installed: the unit is checked by this test only")
		return
	}
	// systemd-analyze wants ExecStart's binary to exist: point it at one.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(t.TempDir(), "corkboard.service")
	os.WriteFile(copyPath, []byte(strings.Replace(string(data), "ExecStart=/usr/local/bin/corkboard", "ExecStart="+shippedBinary(t), 1)), 0o644)
	out, err := exec.Command(analyze, "verify", copyPath).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify %s: %v\n%s", path, err, out)
	}
}

// TestContainerfile checks deploy/Containerfile for what the README says
// of it: a static build, a final stage FROM scratch with CA certificates,
// a non-root user, the data volume, and a health check by the binary.
func TestContainerfile(t *testing.T) {
	path := filepath.Join("deploy", "Containerfile")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, want := range []string{
		"CGO_ENABLED=0 go build -trimpath",
		"\nFROM scratch\n",
		"/etc/ssl/certs/ca-certificates.crt",
		"\nUSER 65532:65532\n",
		"DATA_DIR=/data",
		`VOLUME ["/data"]`,
		"\nEXPOSE 8080\n",
		`CMD ["/corkboard", "healthcheck"]`,
		`ENTRYPOINT ["/corkboard"]`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("%s lacks %q", path, want)
		}
	}
}
