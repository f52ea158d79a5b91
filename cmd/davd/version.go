package main

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// Stamped by `make build` and `make dist` with
// -ldflags "-X main.buildVersion=… -X main.buildCommit=… -X main.buildDate=…".
// They are never assigned at run time; empty means not stamped, and the
// build information Go records (go install, go build, go run) is used.
var (
	buildVersion string
	buildCommit  string
	buildDate    string
)

// buildInfo says which davd this is. Every field is non-empty.
type buildInfo struct {
	version string // v1.2.3, a module pseudo-version, or "devel"
	commit  string // VCS revision, "-dirty" appended for uncommitted changes, or "unknown"
	date    string // build date (stamped) or commit time (from Go's VCS stamp), RFC 3339, or "unknown"
	goVer   string // Go toolchain, e.g. go1.26.8
}

// String is the one line `davd version` and `davd --version` print after
// "davd version ".
func (b buildInfo) String() string {
	return fmt.Sprintf("%s (commit %s, built %s, %s)", b.version, b.commit, b.date, b.goVer)
}

// currentBuild describes the running binary.
func currentBuild() buildInfo {
	info, _ := debug.ReadBuildInfo()
	return makeBuildInfo(info, buildVersion, buildCommit, buildDate)
}

// makeBuildInfo prefers the linker-stamped values and falls back on Go's
// build information (info may be nil) for each one missing.
func makeBuildInfo(info *debug.BuildInfo, version, commit, date string) buildInfo {
	b := buildInfo{version: version, commit: commit, date: date, goVer: "unknown"}
	if info != nil {
		b.goVer = info.GoVersion
		if b.version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.version = info.Main.Version
		}
		var rev, vcsTime string
		var modified bool
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				vcsTime = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if b.commit == "" && rev != "" {
			b.commit = rev
			if modified {
				b.commit += "-dirty"
			}
		}
		if b.date == "" {
			b.date = vcsTime
		}
	}
	for _, f := range []struct {
		p   *string
		def string
	}{{&b.version, "devel"}, {&b.commit, "unknown"}, {&b.date, "unknown"}, {&b.goVer, "unknown"}} {
		if *f.p = strings.TrimSpace(*f.p); *f.p == "" {
			*f.p = f.def
		}
	}
	return b
}

// version is currentBuild as one line: what `davd version` prints after
// "davd version ", and what the startup log line records.
func version() string {
	return currentBuild().String()
}
