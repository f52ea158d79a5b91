package storage

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrNoAnswer is returned by Probe when the storage does not answer in
// time.
var ErrNoAnswer = errors.New("storage does not answer")

// Probe describes the top of the storage and reports whether that
// answered within timeout: a storage that hangs (a stuck network mount, a
// deadlocked backend) makes health checks fail instead of pass. At most
// one probe waits on the storage at a time: while one is stuck, later
// ones fail at once with ErrNoAnswer, so a hung storage does not pile up
// goroutines.
func (b *Backend) Probe(ctx context.Context, timeout time.Duration) error {
	if !b.probing.CompareAndSwap(false, true) {
		return fmt.Errorf("%w: an earlier probe still waits", ErrNoAnswer)
	}
	done := make(chan error, 1)
	go func() {
		defer b.probing.Store(false)
		fi, err := b.Fs.Stat("/")
		if err == nil {
			fi.ModTime() // memory storage takes the directory's lock here
		}
		done <- err
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return fmt.Errorf("%w within %v", ErrNoAnswer, timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}
