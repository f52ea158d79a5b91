package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"davd/dav/auth"
)

// maxPassword is bcrypt's limit: it ignores everything past 72 bytes,
// which would make a longer password weaker than it looks.
const maxPassword = 72

func hashPasswordCommand() *cli.Command {
	return &cli.Command{
		Name:  "hash-password",
		Usage: "read a password from the terminal (without echo) or from stdin, print its bcrypt hash for the config file",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "cost", Value: 10, Usage: "bcrypt cost, 4 to 31; each step doubles the time a guess takes"},
		},
		OnUsageError:    usageError,
		HideHelpCommand: true,
		Action: func(c *cli.Context) error {
			pw, err := readPassword(c.App.Reader, c.App.ErrWriter)
			if err != nil {
				return err
			}
			if len(pw) > maxPassword {
				return fmt.Errorf("the password is %d bytes; bcrypt uses at most %d", len(pw), maxPassword)
			}
			hash, err := auth.HashPassword(pw, c.Int("cost"))
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(c.App.Writer, "%s\n", hash)
			return err
		},
	}
}

// readPassword asks twice on a terminal, without echo; otherwise it reads
// the first line of in, so that scripts can pipe a password in.
func readPassword(in io.Reader, prompt io.Writer) ([]byte, error) {
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(prompt, "Password: ")
		pw, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return nil, fmt.Errorf("read password: %w", err)
		}
		fmt.Fprint(prompt, "Again: ")
		again, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return nil, fmt.Errorf("read password: %w", err)
		}
		if !bytes.Equal(pw, again) {
			return nil, errors.New("the passwords differ")
		}
		if len(pw) == 0 {
			return nil, errors.New("empty password")
		}
		return pw, nil
	}
	line, err := bufio.NewReader(io.LimitReader(in, 4096)).ReadBytes('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read password from stdin: %w", err)
	}
	line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	if len(line) == 0 {
		return nil, errors.New("empty password on stdin")
	}
	return line, nil
}
