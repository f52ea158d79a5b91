package main

import (
	"context"

	"davd/dav"
	"davd/processing"
)

// tracking is what every dav.Handler of one server shares, whichever user
// it serves: the registry of running operations (one /operations, one set
// of metrics, one shutdown that waits for all), what an operation does
// when its client goes away, and the server's lifetime.
type tracking struct {
	ops          *processing.Registry
	onDisconnect dav.OnDisconnect
	lifetime     context.Context
	noUI         bool // --no-ui: no file manager in any handler
	journal      *dav.Journal
}

// apply completes c with t.
func (t tracking) apply(c dav.Config) dav.Config {
	c.Operations, c.OnDisconnect, c.Lifetime, c.NoUI, c.Journal = t.ops, t.onDisconnect, t.lifetime, t.noUI, t.journal
	return c
}
