package storage

import (
	"context"
	"errors"
	"os"
	"path"
)

// ErrNoExchange is returned by Exchange on storage that cannot swap two
// names atomically; the caller falls back to renames.
var ErrNoExchange = errors.New("storage cannot exchange two names atomically")

// Exchange swaps the resources named a and b in one step
// (renameat2 RENAME_EXCHANGE on Linux, renameatx_np RENAME_SWAP on
// macOS): at every instant, and after a crash, each name holds one of the
// two, never neither. Both must exist; symbolic links at a and b are
// swapped as links. Only directory storage on Linux and macOS can do it;
// other backends and Windows answer ErrNoExchange, as does a filesystem
// without the operation.
func (f *FileSystem) Exchange(ctx context.Context, a, b string) error {
	a, err := clean("exchange", a)
	if err != nil {
		return err
	}
	b, err = clean("exchange", b)
	if err != nil {
		return err
	}
	if a == "/" || b == "/" {
		return &os.PathError{Op: "exchange", Path: a, Err: os.ErrPermission}
	}
	if _, ok := f.fs.(*RootFs); !ok || !canExchange {
		return ErrNoExchange
	}
	ca, err := f.openCollection(path.Dir(a))
	if err != nil {
		return err
	}
	defer ca.close()
	cb, err := f.openCollection(path.Dir(b))
	if err != nil {
		return err
	}
	defer cb.close()
	fa, err := ca.(*rootCollection).dirFd()
	if err != nil {
		return err
	}
	fb, err := cb.(*rootCollection).dirFd()
	if err != nil {
		return err
	}
	return exchangeAt(fa, a, fb, b)
}
