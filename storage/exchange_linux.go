package storage

import (
	"errors"
	"os"
	"path"

	"golang.org/x/sys/unix"
)

// canExchange tells whether the platform has an atomic exchange.
const canExchange = true

// exchangeAt swaps a, in directory fa, and b, in directory fb (cleaned
// paths; their last elements are used), with renameat2 RENAME_EXCHANGE.
func exchangeAt(fa int, a string, fb int, b string) error {
	err := unix.Renameat2(fa, path.Base(a), fb, path.Base(b), unix.RENAME_EXCHANGE)
	switch {
	case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EINVAL) && a != b:
		return ErrNoExchange
	case err != nil:
		return &os.PathError{Op: "exchange", Path: a, Err: err}
	}
	return nil
}
