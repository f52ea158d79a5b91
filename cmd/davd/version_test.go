package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// repoRoot is where the Makefile is, seen from this package's directory.
const repoRoot = "../.."

// runBounded runs a program with a deadline and returns its combined output.
func runBounded(t *testing.T, timeout time.Duration, dir, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// makeLDFlags returns the -ldflags the Makefile gives go build for target,
// with VERSION, COMMIT and DATE set as given.
func makeLDFlags(t *testing.T, target string, vars ...string) []string {
	t.Helper()
	mk := requireTool(t, "make")
	out := runBounded(t, 30*time.Second, repoRoot, mk, append([]string{"-n", "--no-print-directory", target}, vars...)...)
	m := regexp.MustCompile(`go build .*-ldflags '([^']*)'`).FindAllStringSubmatch(out, -1)
	if len(m) == 0 {
		t.Fatalf("make -n %s runs no go build with -ldflags:\n%s", target, out)
	}
	var flags []string
	for _, x := range m {
		flags = append(flags, x[1])
	}
	return flags
}

// TestVersionStamped builds davd with the ldflags of `make build` and checks
// that `davd version` and `davd --version` print the stamped version,
// commit and date.
func TestVersionStamped(t *testing.T) {
	t.Parallel()
	goBin := requireTool(t, "go")
	const (
		ver    = "v9.8.7-test"
		commit = "0123456789abcdef0123456789abcdef01234567"
		date   = "2001-02-03T04:05:06Z"
	)
	ld := makeLDFlags(t, "build", "VERSION="+ver, "COMMIT="+commit, "DATE="+date)[0]
	bin := filepath.Join(t.TempDir(), "davd")
	args := []string{"build", "-ldflags", ld, "-o", bin}
	if raceBuild() {
		args = append(args, "-race") // reuses the packages this test was built from
	}
	runBounded(t, 4*time.Minute, ".", goBin, append(args, ".")...)

	want := "davd version " + ver + " (commit " + commit + ", built " + date + ", go1."
	for _, arg := range []string{"version", "--version", "-v"} {
		out := runBounded(t, 10*time.Second, ".", bin, arg)
		if !strings.HasPrefix(out, want) || strings.Count(out, "\n") != 1 {
			t.Errorf("davd %s printed %q, want one line starting %q", arg, out, want)
		}
	}
}

// raceBuild says whether this test binary was built with -race.
func raceBuild() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

// TestMakeDist checks, without building, that `make dist` cross-builds
// static, stamped binaries for the six platforms into dist/, which git
// ignores.
func TestMakeDist(t *testing.T) {
	t.Parallel()
	mk := requireTool(t, "make")
	out := runBounded(t, 30*time.Second, repoRoot, mk, "-n", "--no-print-directory", "dist", "VERSION=v1.0.0", "COMMIT=abc", "DATE=2001-02-03T04:05:06Z")
	var builds []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "go build") {
			builds = append(builds, line)
		}
	}
	if len(builds) != 6 {
		t.Errorf("make dist runs %d go builds, want 6:\n%s", len(builds), out)
	}
	for _, p := range []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64", "windows/amd64", "windows/arm64"} {
		goos, goarch, _ := strings.Cut(p, "/")
		binName := "dist/davd-" + goos + "-" + goarch
		if goos == "windows" {
			binName += ".exe"
		}
		found := false
		for _, b := range builds {
			if !strings.Contains(b, "GOOS="+goos+" GOARCH="+goarch+" ") {
				continue
			}
			found = true
			for _, want := range []string{"CGO_ENABLED=0 ", "-o " + binName + " ",
				"-X main.buildVersion=v1.0.0", "-X main.buildCommit=abc", "-X main.buildDate=2001-02-03T04:05:06Z"} {
				if !strings.Contains(b, want) {
					t.Errorf("%s: the build lacks %q: %s", p, want, b)
				}
			}
		}
		if !found {
			t.Errorf("make dist does not build %s", p)
		}
	}
	if git, err := exec.LookPath("git"); err == nil {
		if err := exec.Command(git, "-C", repoRoot, "check-ignore", "-q", "dist/davd-linux-amd64").Run(); err != nil {
			t.Errorf("git does not ignore dist/: %v", err)
		}
	}
}

// TestBuildInfoFallback: a binary built without ldflags (go install, go
// run) takes its version, commit and date from Go's build information.
func TestBuildInfoFallback(t *testing.T) {
	t.Parallel()
	vcs := func(rev, tm, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev},
			{Key: "vcs.time", Value: tm}, {Key: "vcs.modified", Value: modified}}
	}
	info := func(v string, s []debug.BuildSetting) *debug.BuildInfo {
		return &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Path: "davd", Version: v}, Settings: s}
	}
	tests := []struct {
		name                string
		info                *debug.BuildInfo
		ldVer, ldCom, ldDat string
		want                string
	}{
		{"stamped", info("(devel)", vcs("aaaa", "2020-01-01T00:00:00Z", "true")), "v1.2.3", "bbbb", "2021-01-01T00:00:00Z",
			"v1.2.3 (commit bbbb, built 2021-01-01T00:00:00Z, go1.99)"},
		{"go build in a clean checkout", info("(devel)", vcs("aaaa", "2020-01-01T00:00:00Z", "false")), "", "", "",
			"devel (commit aaaa, built 2020-01-01T00:00:00Z, go1.99)"},
		{"go build with changes", info("", vcs("aaaa", "2020-01-01T00:00:00Z", "true")), "", "", "",
			"devel (commit aaaa-dirty, built 2020-01-01T00:00:00Z, go1.99)"},
		{"go install of a tagged module", info("v1.4.0", nil), "", "", "",
			"v1.4.0 (commit unknown, built unknown, go1.99)"},
		{"go install of a pseudo-version", info("v0.0.0-20200101000000-aaaaaaaaaaaa", vcs("aaaa", "2020-01-01T00:00:00Z", "false")), "", "", "",
			"v0.0.0-20200101000000-aaaaaaaaaaaa (commit aaaa, built 2020-01-01T00:00:00Z, go1.99)"},
		{"no build information", nil, "", "", "", "devel (commit unknown, built unknown, unknown)"},
		{"stamped version only", info("(devel)", vcs("aaaa", "2020-01-01T00:00:00Z", "false")), "v2.0.0", "", "",
			"v2.0.0 (commit aaaa, built 2020-01-01T00:00:00Z, go1.99)"},
	}
	for _, tt := range tests {
		if got := makeBuildInfo(tt.info, tt.ldVer, tt.ldCom, tt.ldDat).String(); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
