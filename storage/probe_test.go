package storage

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestProbe: a storage slower than the timeout fails the probe, a second
// probe while the first still waits fails at once, and once the storage
// answers the probe passes again.
func TestProbe(t *testing.T) {
	t.Parallel()
	b, err := Open("mem://?latency=300ms", Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := b.Probe(ctx, 20*time.Millisecond); !errors.Is(err, ErrNoAnswer) {
		t.Errorf("slow storage: %v, want ErrNoAnswer", err)
	}
	start := time.Now()
	if err := b.Probe(ctx, time.Second); !errors.Is(err, ErrNoAnswer) {
		t.Errorf("while a probe waits: %v, want ErrNoAnswer", err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("the second probe waited %v", d)
	}
	// The first probe's Stat returns after the 300 ms latency (later on
	// a loaded machine).
	for deadline := time.Now().Add(10 * time.Second); b.probing.Load() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if err := b.Probe(ctx, 2*time.Second); err != nil {
		t.Errorf("storage answering: %v", err)
	}
}
