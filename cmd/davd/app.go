package main

import (
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/urfave/cli/v2"
	"github.com/urfave/cli/v2/altsrc"
)

// newApp builds the davd command line. onListen, when not nil, learns the
// address the server listens on (tests serve on port 0).
func newApp(stdout, stderr io.Writer, onListen func(net.Addr)) *cli.App {
	flags := serveFlags()
	return &cli.App{
		Name:  "davd",
		Usage: "a WebDAV server whose slow operations never make a client time out",
		// Version also gives the app --version (and -v).
		Version:   version(),
		Writer:    stdout,
		ErrWriter: stderr,
		// One clear line instead of the whole help text on a bad flag.
		OnUsageError: usageError,
		// Errors go back to main, which prints them once and exits 1.
		ExitErrHandler: func(*cli.Context, error) {},
		// The help command is a package-level value in urfave/cli that every
		// App mutates while it sets up; --help covers the same need without
		// shared state between servers run in one process (tests do).
		HideHelpCommand: true,
		// `davd … --generate-bash-completion` lists what may come next;
		// the scripts of `davd completion` ask it.
		EnableBashCompletion: true,
		Action:               rootAction, // no command, or an unknown one
		Commands: []*cli.Command{
			{
				Name:            "serve",
				Usage:           "serve a storage over WebDAV",
				ArgsUsage:       "[DIR]",
				Flags:           flags,
				OnUsageError:    usageError,
				HideHelpCommand: true,
				// serveArgs first: the command line wins over the file.
				Before: func(c *cli.Context) error {
					if err := serveArgs(c); err != nil {
						return err
					}
					return loadConfig(flags)(c)
				},
				Action: func(c *cli.Context) error {
					if c.Bool("help") { // after DIR: davd serve ./data --help
						return cli.ShowCommandHelp(c.Lineage()[1], c.Command.Name)
					}
					cfg, err := configFrom(c, stderr)
					if err != nil {
						return err
					}
					return serve(c.Context, cfg, onListen)
				},
			},
			hashPasswordCommand(),
			completionCommand(),
			manCommand(),
			helpCommand(),
			{
				Name:  "version",
				Usage: "print the version, commit and build date (as --version does)",
				Action: func(c *cli.Context) error {
					fmt.Fprintf(stdout, "%s version %s\n", c.App.Name, c.App.Version)
					return nil
				},
			},
		},
	}
}

// loadConfig applies the YAML file named by --config to every flag not set
// on the command line or in the environment.
func loadConfig(flags []cli.Flag) cli.BeforeFunc {
	return func(c *cli.Context) error {
		src, err := altsrc.NewYamlSourceFromFlagFunc("config")(c)
		if err != nil {
			return fmt.Errorf("config file %s: %s", c.String("config"), oneLine(err))
		}
		if err := altsrc.ApplyInputSourceValues(c, src, flags); err != nil {
			return fmt.Errorf("config file %s: %s", c.String("config"), oneLine(err))
		}
		return nil
	}
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
