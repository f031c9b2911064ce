package main

import (
	"runtime/debug"
	"strings"
)

// versionLine describes the build from its embedded build information:
// the module version ("(devel)" for a build from a checkout), the Go
// release, and, when go build ran in a git checkout, the commit, its time
// and whether the working tree had changes. A binary on a server can thus
// be traced to the source it was built from.
func versionLine(info *debug.BuildInfo, ok bool) string {
	if !ok {
		return "corkboard (no build information)"
	}
	version := info.Main.Version
	if version == "" {
		version = "(devel)"
	}
	parts := []string{"corkboard", version, info.GoVersion}
	settings := make(map[string]string)
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		parts = append(parts, "rev", rev)
		if t := settings["vcs.time"]; t != "" {
			parts = append(parts, t)
		}
		if settings["vcs.modified"] == "true" {
			parts = append(parts, "modified")
		}
	} else {
		parts = append(parts, "(no VCS revision)")
	}
	return strings.Join(parts, " ")
}
