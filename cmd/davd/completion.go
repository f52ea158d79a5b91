package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"
)

// Shell completion asks the binary itself: the scripts run
// `davd … --generate-bash-completion` (urfave/cli's EnableBashCompletion),
// which prints the commands or flags that fit where the cursor is. The
// scripts are urfave/cli's autocomplete/bash_autocomplete and
// zsh_autocomplete with the program name filled in; fish gets a static
// script generated from the command definitions.

const bashCompletion = `# bash completion for davd: source <(davd completion bash)
_davd_complete() {
  local cur words cword
  COMPREPLY=()
  cur="${COMP_WORDS[COMP_CWORD]}"
  if declare -F _init_completion >/dev/null 2>&1; then
    _init_completion -n "=:" || return
  else
    words=("${COMP_WORDS[@]}")
    cword=$COMP_CWORD
  fi
  words=("${words[@]:0:$cword}")
  local request
  if [[ "$cur" == "-"* ]]; then
    request="${words[*]} ${cur} --generate-bash-completion"
  else
    request="${words[*]} --generate-bash-completion"
  fi
  local opts
  opts=$(eval "${request}" 2>/dev/null)
  COMPREPLY=($(compgen -W "${opts}" -- "${cur}"))
  return 0
}
complete -o bashdefault -o default -o nospace -F _davd_complete davd
`

const zshCompletion = `#compdef davd
# zsh completion for davd: davd completion zsh > "${fpath[1]}/_davd",
# or source <(davd completion zsh) after compinit.
_davd() {
  local -a opts
  local cur
  cur=${words[-1]}
  if [[ "$cur" == "-"* ]]; then
    opts=("${(@f)$(${words[@]:0:#words[@]-1} ${cur} --generate-bash-completion)}")
  else
    opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion)}")
  fi
  if [[ "${opts[1]}" != "" ]]; then
    _describe 'values' opts
  else
    _files
  fi
}
if [[ "$funcstack[1]" == "_davd" ]]; then
  _davd "$@"
else
  compdef _davd davd
fi
`

// completionShells are the shells `davd completion` writes a script for.
var completionShells = []string{"bash", "zsh", "fish"}

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script: source <(davd completion bash), or zsh, or fish",
		ArgsUsage: strings.Join(completionShells, "|"),
		// Completing `davd completion <TAB>` offers the shells.
		BashComplete: func(c *cli.Context) {
			for _, s := range completionShells {
				fmt.Fprintln(c.App.Writer, s)
			}
		},
		OnUsageError:    usageError,
		HideHelpCommand: true,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("completion takes one shell: %s", strings.Join(completionShells, ", "))
			}
			return writeCompletion(c.App, c.App.Writer, c.Args().First())
		},
	}
}

// writeCompletion writes app's completion script for shell.
func writeCompletion(app *cli.App, w io.Writer, shell string) error {
	var script string
	switch shell {
	case "bash":
		script = bashCompletion
	case "zsh":
		script = zshCompletion
	case "fish":
		s, err := fishCompletion(app)
		if err != nil {
			return err
		}
		script = s
	default:
		return fmt.Errorf("completion: unknown shell %q; use %s", shell, strings.Join(completionShells, ", "))
	}
	_, err := io.WriteString(w, script)
	return err
}

func manCommand() *cli.Command {
	return &cli.Command{
		Name:            "man",
		Usage:           "print the manual page (roff): davd man | man -l -",
		OnUsageError:    usageError,
		HideHelpCommand: true,
		Action: func(c *cli.Context) error {
			page, err := c.App.ToManWithSection(1)
			if err != nil {
				return fmt.Errorf("man page: %w", err)
			}
			_, err = io.WriteString(c.App.Writer, page)
			return err
		},
	}
}

// fileFlags take a file or directory name, which fish should complete.
var fileFlags = []string{"config", "storage", "tls-cert", "tls-key"}

// fishCompletion is urfave/cli's fish script with two fixes: it lists the
// root's --help and --version twice (once as flags of the app, once as
// its own additions), and it turns off file completion for the values of
// altsrc flags, whose TakesFile it does not see.
func fishCompletion(app *cli.App) (string, error) {
	s, err := app.ToFishCompletion()
	if err != nil {
		return "", fmt.Errorf("fish completion: %w", err)
	}
	var b strings.Builder
	seen := map[string]bool{}
	for _, line := range strings.SplitAfter(s, "\n") {
		if strings.HasPrefix(line, "complete ") {
			if seen[line] {
				continue
			}
			seen[line] = true
			for _, f := range fileFlags {
				if strings.Contains(line, " -l "+f+" ") {
					line = strings.Replace(line, "' -f -l ", "' -l ", 1)
				}
			}
		}
		b.WriteString(line)
	}
	fmt.Fprintf(&b, "complete -c %s -n '__fish_seen_subcommand_from completion' -f -a '%s'\n",
		app.Name, strings.Join(completionShells, " "))
	return b.String(), nil
}
