package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
	"github.com/urfave/cli/v2/altsrc"
)

// readmeFlagSections are the README.md sections whose tables document the
// flags of davd serve.
var readmeFlagSections = []string{"Flags", "Processing flags", "Exposing davd"}

// readmeFlagRow is one row of a README flag table.
type readmeFlagRow struct {
	line    int
	names   []string // every --flag named in the first cell
	wild    bool     // the cell stands for a family, e.g. `--processing…`
	deflt   string   // the default cell, as written
	section string
}

var (
	readmeFlagName = regexp.MustCompile(`--[a-z0-9][a-z0-9-]*`)
	readmeCode     = regexp.MustCompile("`([^`]*)`")
)

// readmeFlagRows returns the rows of the flag tables in readmeFlagSections.
// A section runs from its heading to the next heading of any level.
func readmeFlagRows(t *testing.T) []readmeFlagRow {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []readmeFlagRow
	section := ""
	seen := map[string]bool{}
	for i, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "#") {
			section = strings.TrimSpace(strings.TrimLeft(line, "#"))
			continue
		}
		in := false
		for _, s := range readmeFlagSections {
			in = in || s == section
		}
		if !in || !strings.HasPrefix(line, "| `--") {
			continue
		}
		seen[section] = true
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) < 3 {
			t.Errorf("README.md:%d: a flag row needs flag, default and meaning: %q", i+1, line)
			continue
		}
		rows = append(rows, readmeFlagRow{
			line:    i + 1,
			names:   readmeFlagName.FindAllString(cells[0], -1),
			wild:    strings.Contains(cells[0], "…"),
			deflt:   strings.TrimSpace(cells[1]),
			section: section,
		})
	}
	for _, s := range readmeFlagSections {
		if !seen[s] {
			t.Errorf("README.md has no flag table under a heading %q", s)
		}
	}
	return rows
}

// TestREADMEFlags keeps README.md's flag tables and the flags of davd serve
// in step: every visible flag is documented, every documented flag exists
// and is visible, and a default the README states in code is the flag's
// default. Hidden flags (--no-journal, for make bench) have no rows.
func TestREADMEFlags(t *testing.T) {
	t.Parallel()
	flags := map[string]cli.Flag{}
	for _, f := range serveFlags() {
		for _, n := range f.Names() {
			flags["--"+n] = f
		}
	}
	rows := readmeFlagRows(t)
	documented := map[string]bool{}
	for _, r := range rows {
		if len(r.names) == 0 {
			t.Errorf("README.md:%d: no flag name in the first cell", r.line)
		}
		for _, n := range r.names {
			if flags[n] == nil || !visible(flags[n]) {
				t.Errorf("README.md:%d (%s): %s is not a visible flag of davd serve", r.line, r.section, n)
			}
			if !r.wild {
				documented[n] = true
			}
		}
		if len(r.names) == 1 && !r.wild {
			if msg := readmeDefaultMismatch(flags[r.names[0]], r.deflt); msg != "" {
				t.Errorf("README.md:%d: %s default %s", r.line, r.names[0], msg)
			}
		}
	}
	for _, f := range serveFlags() {
		if n := "--" + f.Names()[0]; visible(f) && !documented[n] {
			t.Errorf("%s is missing from README.md's flag tables (%v); add a row with its default and meaning",
				n, readmeFlagSections)
		}
	}
}

// readmeDefaultMismatch compares a README default cell with a flag's default.
// Only a value in backticks is compared; (none), (off) and prose stand for
// the zero value or a default explained elsewhere.
func readmeDefaultMismatch(f cli.Flag, cell string) string {
	m := readmeCode.FindStringSubmatch(cell)
	var want string
	switch f := f.(type) {
	case nil:
		return ""
	case *cli.BoolFlag:
		if cell != strconv.FormatBool(f.Value) {
			return "is " + strconv.FormatBool(f.Value) + ", the README says " + cell
		}
		return ""
	case *cli.StringFlag:
		want = f.Value
	case *cli.IntFlag:
		want = strconv.Itoa(f.Value)
	case *cli.DurationFlag:
		if m == nil {
			if f.Value != 0 {
				return "is " + f.Value.String() + ", the README gives none in backticks"
			}
			return ""
		}
		d, err := time.ParseDuration(m[1])
		if err != nil || d != f.Value {
			return "is " + f.Value.String() + ", the README says " + cell
		}
		return ""
	case *altsrc.StringFlag:
		return readmeDefaultMismatch(f.StringFlag, cell)
	case *altsrc.IntFlag:
		return readmeDefaultMismatch(f.IntFlag, cell)
	case *altsrc.BoolFlag:
		return readmeDefaultMismatch(f.BoolFlag, cell)
	case *altsrc.DurationFlag:
		return readmeDefaultMismatch(f.DurationFlag, cell)
	default:
		return "" // slices and flag kinds whose README default is prose
	}
	if m == nil {
		if want != "" {
			return "is `" + want + "`, the README gives none in backticks"
		}
		return ""
	}
	if m[1] != want {
		return "is `" + want + "`, the README says " + cell
	}
	return ""
}

// TestREADMEGoVersion: the Go the README asks for is the go line of go.mod.
func TestREADMEGoVersion(t *testing.T) {
	t.Parallel()
	mod, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "needs Go " + string(m[1]) + " or newer"; !strings.Contains(string(readme), want) {
		t.Errorf("README.md does not say %q (the go line of go.mod)", want)
	}
}
