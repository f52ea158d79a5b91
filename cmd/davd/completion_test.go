package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// davdOnPath makes this test binary answer as `davd` (see TestMain) from a
// directory of its own, and returns that directory and the environment
// that puts it first on PATH.
func davdOnPath(t *testing.T) (dir string, env []string) {
	t.Helper()
	self, err := filepath.Abs(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	if err := os.Symlink(self, filepath.Join(dir, "davd")); err != nil {
		t.Fatal(err)
	}
	return dir, append(os.Environ(), "DAVD_TEST_AS_DAVD=1", "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// runIn runs name with env in dir, bounded, and returns its standard output.
func runIn(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = dir, env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.WaitDelay = time.Second
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// lines splits output into its non-empty lines.
func lines(s string) []string {
	var l []string
	for _, x := range strings.Split(s, "\n") {
		if x = strings.TrimSpace(x); x != "" {
			l = append(l, x)
		}
	}
	return l
}

func statOK(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}

func wantSame(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("%s: got %q, want %q", what, got, want)
	}
}

// TestCompletionScripts: `davd completion SHELL` prints a script the shell
// parses, and that completes commands, flags (not hidden ones) and shells
// by asking the binary, in bash and fish; zsh registers it for davd.
func TestCompletionScripts(t *testing.T) {
	t.Parallel()
	dir, env := davdOnPath(t)
	davd := filepath.Join(dir, "davd")
	readFlags := []string{"--read-header-timeout", "--read-only", "--read-timeout"}
	noFlags := []string{"--no-ui"} // not the hidden --no-journal

	t.Run("bash", func(t *testing.T) {
		t.Parallel()
		bash := requireTool(t, "bash")
		script := filepath.Join(dir, "davd.bash")
		os.WriteFile(script, []byte(runIn(t, dir, env, davd, "completion", "bash")), 0o644)
		runIn(t, dir, env, bash, "-n", script)
		complete := func(words ...string) []string {
			quoted := make([]string, len(words))
			for i, w := range words {
				quoted[i] = "'" + w + "'"
			}
			// What bash sets before it calls a completion function.
			line := strings.Join(words, " ")
			prog := "source " + script + "; COMP_WORDS=(" + strings.Join(quoted, " ") + "); COMP_CWORD=" +
				strconv.Itoa(len(words)-1) + "; COMP_LINE='" + line + "'; COMP_POINT=" + strconv.Itoa(len(line)) +
				"; _davd_complete; printf '%s\\n' \"${COMPREPLY[@]}\""
			out := lines(runIn(t, dir, env, bash, "--norc", "--noprofile", "-c", prog))
			// With bash-completion loaded, the script takes its _init_completion path.
			if lib := "/usr/share/bash-completion/bash_completion"; statOK(lib) {
				with := lines(runIn(t, dir, env, bash, "--norc", "--noprofile", "-c", "source "+lib+"; "+prog))
				wantSame(t, "with bash-completion, "+strings.Join(words, " "), with, out)
			}
			slices.Sort(out)
			return out
		}
		wantSame(t, "davd serve --read", complete("davd", "serve", "--read"), readFlags)
		wantSame(t, "davd serve --no-", complete("davd", "serve", "--no-"), noFlags)
		wantSame(t, "davd co", complete("davd", "co"), []string{"completion"})
		wantSame(t, "davd completion ", complete("davd", "completion", ""), []string{"bash", "fish", "zsh"})
	})

	t.Run("zsh", func(t *testing.T) {
		t.Parallel()
		zsh := requireTool(t, "zsh")
		script := filepath.Join(dir, "_davd")
		os.WriteFile(script, []byte(runIn(t, dir, env, davd, "completion", "zsh")), 0o644)
		runIn(t, dir, env, zsh, "-n", script)
		got := runIn(t, dir, env, zsh, "-f", "-c",
			"autoload -U compinit && compinit -u -D && source "+script+" && print -r -- $_comps[davd]")
		wantSame(t, "zsh completion function for davd", lines(got), []string{"_davd"})
	})

	t.Run("fish", func(t *testing.T) {
		t.Parallel()
		fish := requireTool(t, "fish")
		script := filepath.Join(dir, "davd.fish")
		os.WriteFile(script, []byte(runIn(t, dir, env, davd, "completion", "fish")), 0o644)
		runIn(t, dir, env, fish, "--no-config", "-n", script)
		complete := func(line string) []string {
			var out []string
			for _, l := range lines(runIn(t, dir, env, fish, "--no-config", "-c", "source "+script+"; complete -C '"+line+"'")) {
				name, _, _ := strings.Cut(l, "\t")
				out = append(out, name)
			}
			slices.Sort(out)
			return out
		}
		wantSame(t, "davd serve --read", complete("davd serve --read"), readFlags)
		wantSame(t, "davd serve --no-", complete("davd serve --no-"), noFlags)
		wantSame(t, "davd co", complete("davd co"), []string{"completion"})
		wantSame(t, "davd completion ", complete("davd completion "), []string{"bash", "fish", "zsh"})
	})

	t.Run("unknown shell", func(t *testing.T) {
		t.Parallel()
		cmd := exec.Command(davd, "completion", "powershell")
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "bash, zsh, fish") || strings.Count(string(out), "\n") != 1 {
			t.Errorf("davd completion powershell: %v, %q; want one line naming the shells", err, out)
		}
	})
}

// TestManPage: `davd man` (what `make man` writes to dist/davd.1) renders
// with groff and names every command and every visible flag of davd serve,
// and no hidden one.
func TestManPage(t *testing.T) {
	t.Parallel()
	dir, env := davdOnPath(t)
	page := filepath.Join(dir, "davd.1")
	os.WriteFile(page, []byte(runIn(t, dir, env, filepath.Join(dir, "davd"), "man")), 0o644)
	groff := requireTool(t, "groff")
	// Plain text (no SGR, no overstrike), lines too wide to wrap a flag.
	text := runIn(t, dir, env, groff, "-man", "-Tutf8", "-P-cbou", "-rLL=400n", "-ww", page)
	text = strings.NewReplacer("\u2010", "-", "\u2212", "-").Replace(text)
	if !strings.Contains(text, "davd - a WebDAV server") {
		t.Errorf("the man page has no NAME line:\n%.500s", text)
	}
	names := []string{"serve", "hash-password", "completion", "man", "version", "--version", "--help"}
	var hidden []string
	for _, f := range serveFlags() {
		if visible(f) {
			names = append(names, "--"+f.Names()[0])
		} else {
			hidden = append(hidden, "--"+f.Names()[0])
		}
	}
	for _, n := range names {
		if !strings.Contains(text, n) {
			t.Errorf("the rendered man page does not name %s", n)
		}
	}
	if len(hidden) == 0 {
		t.Error("serveFlags has no hidden flag; this test expects --no-journal")
	}
	for _, n := range hidden {
		if strings.Contains(text, n) {
			t.Errorf("the rendered man page names the hidden flag %s", n)
		}
	}

	mk := requireTool(t, "make")
	if out := runBounded(t, 30*time.Second, repoRoot, mk, "-n", "--no-print-directory", "man"); !strings.Contains(out, "cmd/davd man > dist/davd.1") {
		t.Errorf("make man does not write davd man into dist/davd.1:\n%s", out)
	}
}
