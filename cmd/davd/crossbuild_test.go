package main

import (
	"context"
	"debug/macho"
	"debug/pe"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// crossBuildTimeout bounds each cross build and vet: from a cold cache
// they compile the standard library and every dependency (tests' too) for
// the target. On a fresh 2-core machine, beside the rest of the package's
// tests, the darwin build took about 4 minutes and its vet more than 5
// (a clean-clone run, 2026-12-03), so the bound is generous: it only
// has to stop a hang before make test's own timeout does.
const crossBuildTimeout = 15 * time.Minute

// runGoFor runs the go tool for goos/goarch with cgo off, as `make dist`
// does, in dir, and fails the test with its output if it fails.
func runGoFor(t *testing.T, goBin, goos, goarch, dir string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), crossBuildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=%s GOARCH=%s go %s: %v\n%s", goos, goarch, strings.Join(args, " "), err, out)
	}
}

// TestCrossBuild builds davd for macOS and Windows as `make dist` does,
// checks that each binary is an executable for its platform, and vets the
// server's packages (tests included) for both: Linux-only calls must stay
// behind build tags. The two platforms build in parallel; -short skips it.
func TestCrossBuild(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("cross builds take minutes from a cold cache")
	}
	goBin := requireTool(t, "go")
	for _, tc := range []struct {
		goos, goarch string
		check        func(file string) error
	}{
		{"darwin", "arm64", func(file string) error {
			f, err := macho.Open(file)
			if err != nil {
				return err
			}
			defer f.Close()
			if f.Cpu != macho.CpuArm64 || f.Type != macho.TypeExec {
				t.Errorf("%s: Mach-O cpu %v type %v, want an arm64 executable", file, f.Cpu, f.Type)
			}
			return nil
		}},
		{"windows", "amd64", func(file string) error {
			f, err := pe.Open(file)
			if err != nil {
				return err
			}
			defer f.Close()
			if f.Machine != pe.IMAGE_FILE_MACHINE_AMD64 {
				t.Errorf("%s: PE machine %#x, want amd64", file, f.Machine)
			}
			return nil
		}},
	} {
		t.Run(tc.goos+"-"+tc.goarch, func(t *testing.T) {
			t.Parallel()
			bin := filepath.Join(t.TempDir(), "davd")
			if tc.goos == "windows" {
				bin += ".exe"
			}
			runGoFor(t, goBin, tc.goos, tc.goarch, ".", "build", "-trimpath", "-o", bin, ".")
			if err := tc.check(bin); err != nil {
				t.Errorf("the %s/%s build is not an executable for it: %v", tc.goos, tc.goarch, err)
			}
			runGoFor(t, goBin, tc.goos, tc.goarch, repoRoot, "vet", "./storage/...", "./dav/...", "./cmd/...")
		})
	}
}
