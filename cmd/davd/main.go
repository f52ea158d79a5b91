// Command davd is a WebDAV server. See README.md for its use.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newApp(os.Stdout, os.Stderr, nil).RunContext(ctx, os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "davd:", err)
		os.Exit(1)
	}
}
