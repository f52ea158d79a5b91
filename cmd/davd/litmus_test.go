package main

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// litmusRequired lists the suites that must pass completely: all of them.
var litmusRequired = map[string]bool{"basic": true, "copymove": true, "props": true, "locks": true, "http": true}

var (
	litmusSummary = regexp.MustCompile("summary for `(\\w+)': of (\\d+) tests run: (\\d+) passed, (\\d+) failed")
	litmusSkipped = regexp.MustCompile(`(\d+) tests? were skipped`)
)

// TestLitmus runs the Debian litmus suite against davd on directory storage.
// Without litmus it skips, except under CI, where its absence is a failure.
func TestLitmus(t *testing.T) {
	t.Parallel()
	bin := requireTool(t, "litmus")
	// Directory storage with its default SQLite state: what users run.
	base := startDavd(t, t.TempDir())
	cmd := exec.Command(bin, "-k", base+"/")
	cmd.Dir = t.TempDir() // litmus writes debug.log and child.log here
	cmd.Env = append(os.Environ(), "TESTS=basic copymove props locks http")
	out, _ := cmd.CombinedOutput() // non-zero whenever any suite fails
	text := strings.ReplaceAll(string(out), "\r", "\n")

	seen := map[string]bool{}
	skipped := 0
	for _, line := range strings.Split(text, "\n") {
		if m := litmusSkipped.FindStringSubmatch(line); m != nil {
			skipped, _ = strconv.Atoi(m[1])
		}
		m := litmusSummary.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		suite := m[1]
		run, _ := strconv.Atoi(m[2])
		passed, _ := strconv.Atoi(m[3])
		seen[suite] = true
		t.Logf("litmus %-9s %d/%d passed, %d skipped", suite, passed, run+skipped, skipped)
		if litmusRequired[suite] && (passed != run || skipped != 0 || run == 0) {
			t.Errorf("litmus suite %s: %d of %d passed, %d skipped; it must pass completely", suite, passed, run, skipped)
		}
		skipped = 0
	}
	for suite := range litmusRequired {
		if !seen[suite] {
			t.Errorf("litmus suite %s did not report a summary", suite)
		}
	}
	// Warnings are deviations from RFC 4918 that litmus tolerates; davd
	// has none.
	if n := strings.Count(text, "WARNING"); n > 0 {
		t.Errorf("litmus printed %d warnings", n)
	}
	if t.Failed() {
		t.Logf("litmus output:\n%s", failureLines(text))
	}
}

func failureLines(text string) string {
	var keep []string
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, "FAIL") || strings.Contains(line, "WARNING") || strings.Contains(line, "summary") {
			keep = append(keep, strings.TrimSpace(line))
		}
	}
	return strings.Join(keep, "\n")
}
