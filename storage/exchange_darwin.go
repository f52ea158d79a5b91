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
// paths; their last elements are used), with renameatx_np RENAME_SWAP.
// A filesystem without it (ENOTSUP) answers ErrNoExchange.
func exchangeAt(fa int, a string, fb int, b string) error {
	err := unix.RenameatxNp(fa, path.Base(a), fb, path.Base(b), unix.RENAME_SWAP)
	switch {
	case errors.Is(err, unix.ENOTSUP), errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EINVAL) && a != b:
		return ErrNoExchange
	case err != nil:
		return &os.PathError{Op: "exchange", Path: a, Err: err}
	}
	return nil
}
