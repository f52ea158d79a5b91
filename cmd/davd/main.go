// Command davd is a WebDAV server. See README.md for its use.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// SIGHUP's default action terminates the process. `systemctl reload`
	// sends it, possibly while davd still opens its state, before
	// watchSignals subscribes to it: subscribing here, first, makes a
	// SIGHUP at any moment harmless. Signals are not queued for this
	// channel (nobody reads it, and a full channel drops them);
	// watchSignals (reload.go) has its own subscription and reloads.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newApp(os.Stdout, os.Stderr, nil).RunContext(ctx, os.Args); err != nil {
		reportError(os.Stderr, logFormat(os.Args[1:], os.Getenv), err)
		os.Exit(1)
	}
}
