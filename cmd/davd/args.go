package main

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
	"github.com/urfave/cli/v2/altsrc"
)

// This file is about the command line as people type it: flags after the
// DIR argument, the DIR argument itself, and one-line errors that say what
// was expected or what was probably meant.

// defaultStorage is the storage served when none is named. It is the one
// directory created when missing without --create: the first run of
// `davd serve` should work, a misspelt path should not become a new share.
const defaultStorage = "./data"

// serveArgs is the Before step of `davd serve` that reads what urfave/cli
// leaves unparsed: Go's flag package stops at the first argument, so in
// `davd serve ./data --read-only` the flag arrives as an argument. It sets
// those flags as if they had come before DIR, then makes DIR the storage.
// It runs before the config file is applied, so that the command line
// (DIR included) wins over the file and the environment; "--" ends the
// flags, as everywhere.
func serveArgs(c *cli.Context) error {
	rest := c.Args().Slice()
	ended := endedByDashes(c, len(rest))
	var dirs []string
	storageSet := onCommandLine(c, "storage")
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if ended || a == "-" || !strings.HasPrefix(a, "-") {
			dirs = append(dirs, a)
			continue
		}
		if a == "--" {
			ended = true
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(a[1:], "-"), "=")
		f := lookupFlag(c.Command.Flags, name)
		if f == nil {
			return unknownFlag(c, name)
		}
		if !takesValue(f) {
			if !hasValue {
				value = "true"
			}
		} else if !hasValue {
			if i+1 == len(rest) {
				return fmt.Errorf("--%s needs a value%s", name, wantForm(f, name, ""))
			}
			i++
			value = rest[i]
		}
		if err := c.Set(name, value); err != nil {
			return badValue(f, name, value, "", err)
		}
		storageSet = storageSet || slices.Contains(f.Names(), "storage")
	}
	switch len(dirs) {
	case 0:
		return nil
	case 1:
	default:
		return fmt.Errorf("serve takes at most one DIR, got %d arguments: %s", len(dirs), strings.Join(dirs, " "))
	}
	dir := dirs[0]
	if isCommandName(c.App, dir) {
		return fmt.Errorf("DIR %q is a davd command, not a directory: run `davd help serve` for help, or `davd %s`; to serve a directory of that name write ./%s", dir, dir, dir)
	}
	if storageSet {
		return errors.New("give the storage either as DIR or as --storage, not both")
	}
	return c.Set("storage", dir)
}

// commandArgs returns the arguments of the running command as typed, flags
// included, and how many of them urfave/cli parsed.
func commandArgs(c *cli.Context, unparsed int) (args []string, parsed int) {
	lineage := c.Lineage()
	if len(lineage) < 2 || lineage[1].Args().Len() == 0 {
		return nil, 0
	}
	args = lineage[1].Args().Tail() // the parent's arguments start with the command name
	return args, max(0, len(args)-unparsed)
}

// endedByDashes reports whether urfave/cli stopped parsing the command's
// flags at "--" rather than at an argument.
func endedByDashes(c *cli.Context, unparsed int) bool {
	args, parsed := commandArgs(c, unparsed)
	return parsed > 0 && args[parsed-1] == "--"
}

// onCommandLine reports whether flag name was given on the command line
// (before the first argument), as opposed to the environment or a file.
func onCommandLine(c *cli.Context, name string) bool {
	args, parsed := commandArgs(c, c.Args().Len())
	for _, a := range args[:parsed] {
		if a == "--" {
			break
		}
		a, _, _ = strings.Cut(a, "=")
		if a == "-"+name || a == "--"+name {
			return true
		}
	}
	return false
}

func isCommandName(app *cli.App, s string) bool {
	for _, cmd := range app.Commands {
		if slices.Contains(cmd.Names(), s) {
			return true
		}
	}
	return s == "help"
}

func lookupFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			return f
		}
	}
	return nil
}

// takesValue is false for boolean flags, which stand alone (--read-only)
// or take =false.
func takesValue(f cli.Flag) bool {
	if v, ok := f.(interface{ TakesValue() bool }); ok {
		return v.TakesValue()
	}
	return true
}

// flagNames lists the names of the visible flags, help included.
func flagNames(flags []cli.Flag) []string {
	var names []string
	for _, f := range flags {
		if visible(f) {
			names = append(names, f.Names()...)
		}
	}
	return names
}

// visible reports whether f is one users are told about: in help, the man
// page, completion, suggestions and config file keys. A hidden flag (such
// as --no-journal, for make bench) works on the command line only.
func visible(f cli.Flag) bool {
	v, ok := f.(cli.VisibleFlag)
	return !ok || v.IsVisible()
}

func unknownFlag(c *cli.Context, name string) error {
	if hint := removedFlag(name); hint != "" {
		return fmt.Errorf("--%s was removed: %s (see %s --help)", name, hint, helpName(c))
	}
	if s := closest(name, flagNames(c.Command.Flags)); s != "" {
		return fmt.Errorf("unknown flag --%s: did you mean --%s? (see %s --help)", name, s, helpName(c))
	}
	return fmt.Errorf("unknown flag --%s (see %s --help)", name, helpName(c))
}

// removedFlag says what replaces a flag davd no longer has, or "" when
// name never was a flag. An old command line, environment or config file
// must meet what to do now, not a guess at a similar name.
func removedFlag(name string) string {
	switch name {
	case "allow-remote-admin":
		return "a non-loopback --admin-addr needs --admin-token-file FILE instead, and every admin request but /healthz then sends its token"
	}
	return ""
}

func helpName(c *cli.Context) string {
	if c.Command != nil && c.Command.Name != "" {
		return c.App.Name + " " + c.Command.Name
	}
	return c.App.Name
}

// badValue explains a value that does not parse for flag f; from names
// where it came from when not the command line.
func badValue(f cli.Flag, name, value, from string, err error) error {
	if want := wantForm(f, name, value); want != "" {
		return fmt.Errorf("--%s %s%s%s", name, value, from, want)
	}
	return fmt.Errorf("--%s %s%s: %s", name, value, from, oneLine(err))
}

// wantForm says, after a colon, what form flag f expects; "" when it has
// nothing to add to the parser's own error.
func wantForm(f cli.Flag, name, value string) string {
	switch f.(type) {
	case *cli.DurationFlag, *altsrc.DurationFlag:
		example := "20s, 5m or 1h30m"
		if _, err := strconv.ParseFloat(value, 64); err == nil {
			example = value + "s"
		}
		return ": want a duration with a unit, e.g. " + example
	case *cli.IntFlag, *altsrc.IntFlag:
		return ": want a whole number, e.g. 10"
	case *cli.BoolFlag, *altsrc.BoolFlag:
		return fmt.Sprintf(": want true or false (--%s alone means true)", name)
	}
	return ""
}

var (
	undefinedFlagRE = regexp.MustCompile(`^flag provided but not defined: -+(.+)$`)
	invalidValueRE  = regexp.MustCompile(`^invalid (?:boolean )?value "(.*)" for (?:flag )?-+([^:]+): `)
	needsValueRE    = regexp.MustCompile(`^flag needs an argument: -+(.+)$`)
	envValueRE      = regexp.MustCompile(`^could not parse "(.*)" as \w+ value from (.+) for flag ([^:]+): `)
)

// usageError turns urfave/cli's parse errors into one line that says what
// was meant or expected, instead of the whole help text.
func usageError(c *cli.Context, err error, _ bool) error {
	msg := err.Error()
	if m := undefinedFlagRE.FindStringSubmatch(msg); m != nil {
		return unknownFlag(c, m[1])
	}
	var flags []cli.Flag
	if c.Command != nil {
		flags = c.Command.Flags
	}
	if m := invalidValueRE.FindStringSubmatch(msg); m != nil {
		if f := lookupFlag(flags, m[2]); f != nil {
			return badValue(f, m[2], m[1], "", err)
		}
	}
	if m := envValueRE.FindStringSubmatch(msg); m != nil {
		if f := lookupFlag(flags, m[3]); f != nil {
			return badValue(f, m[3], m[1], " (from "+m[2]+")", err)
		}
	}
	if m := needsValueRE.FindStringSubmatch(msg); m != nil {
		if f := lookupFlag(flags, m[1]); f != nil {
			return fmt.Errorf("--%s needs a value%s", m[1], wantForm(f, m[1], ""))
		}
	}
	return fmt.Errorf("%w (see %s --help)", err, helpName(c))
}

// checkAddr says what form an address flag wants: a port alone
// (--addr 18081) is a common slip.
func checkAddr(flag, addr string) error {
	if addr == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		example := "127.0.0.1:8080"
		if _, perr := strconv.Atoi(addr); perr == nil {
			example = "127.0.0.1:" + addr
		} else if !strings.Contains(addr, ":") {
			example = addr + ":8080"
		}
		bare := ":PORT for every interface"
		if flag == "admin-addr" {
			bare = "PORT alone for 127.0.0.1" // adminListenAddr
		}
		return fmt.Errorf("--%s %s: want HOST:PORT, e.g. %s (or %s)", flag, addr, example, bare)
	}
	return nil
}

// storageCreated reports whether a missing storage directory is created:
// with --create, or for the default ./data of a server that writes.
func storageCreated(c *cli.Context, storage string) bool {
	return c.Bool("create") || (!c.Bool("read-only") && filepath.Clean(storage) == filepath.Clean(defaultStorage))
}

// rootAction runs for `davd` with no command or an unknown one.
func rootAction(c *cli.Context) error {
	if !c.Args().Present() {
		return cli.ShowAppHelp(c)
	}
	return unknownCommand(c.App, c.Args().First())
}

func unknownCommand(app *cli.App, name string) error {
	var names []string
	for _, cmd := range app.Commands {
		if !cmd.Hidden {
			names = append(names, cmd.Names()...)
		}
	}
	if s := closest(name, names); s != "" {
		return fmt.Errorf("unknown command %q: did you mean %q? (commands: %s)", name, s, strings.Join(names, ", "))
	}
	return fmt.Errorf("unknown command %q (commands: %s)", name, strings.Join(names, ", "))
}

// helpCommand is `davd help [COMMAND]`. urfave/cli's own help command is
// a package-level value that every App mutates while it sets up, which
// servers run in one process (tests do) must not share.
func helpCommand() *cli.Command {
	return &cli.Command{
		Name:      "help",
		Usage:     "show the commands, or the flags of one",
		ArgsUsage: "[COMMAND]",
		Action: func(c *cli.Context) error {
			switch c.NArg() {
			case 0:
				return cli.ShowAppHelp(c)
			case 1:
			default:
				return fmt.Errorf("help takes one command, got %d arguments", c.NArg())
			}
			name := c.Args().First()
			if c.App.Command(name) == nil {
				return unknownCommand(c.App, name)
			}
			return cli.ShowCommandHelp(c.Lineage()[1], name)
		},
	}
}

// closest returns the candidate nearest to s by edit distance, if it is
// near enough to be what was meant; "" otherwise.
func closest(s string, candidates []string) string {
	best, bestD := "", len(s)/3+2 // --readonly is --read-only; --foo is nothing
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
