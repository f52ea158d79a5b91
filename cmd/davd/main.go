// Command davd is a WebDAV server. See README.md for its use.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newApp(os.Stdout, os.Stderr, nil).RunContext(ctx, os.Args); err != nil {
		reportError(os.Stderr, logFormat(os.Args[1:], os.Getenv), err)
		os.Exit(1)
	}
}
