package storage

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/spf13/afero"
)

// statFails is an afero.Fs whose Stat of one name fails with err, as a
// storage server that went down fails every request.
type statFails struct {
	afero.Fs
	name string
	err  error
}

func (s statFails) Stat(name string) (os.FileInfo, error) {
	if name == s.name {
		return nil, &os.PathError{Op: "stat", Path: name, Err: s.err}
	}
	return s.Fs.Stat(name)
}

// TestParentUnreadable: every write (and Parent) whose parent cannot be looked at
// fails with the reason (a 503 for a storage server that is down), and
// only a parent that is missing or not a collection is ErrNoParent (409).
// Found by TestS3Unavailable: a COPY that reached its destination check
// after the S3 server stopped answered 409 "parent collection does not
// exist".
func TestParentUnreadable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	mem := afero.NewMemMapFs()
	mem.MkdirAll("/down/src", 0o755)
	afero.WriteFile(mem, "/down/src/a", []byte("a"), 0o644)
	afero.WriteFile(mem, "/file", []byte("f"), 0o644)
	f := NewFileSystem(statFails{mem, "/down", ErrUnavailable})
	writes := map[string]func(name string) error{
		"Mkdir": func(name string) error { return f.Mkdir(ctx, name, 0o755) },
		"WriteAtomic": func(name string) error {
			_, err := f.WriteAtomic(ctx, name, strings.NewReader("x"), 0o644, -1)
			return err
		},
		"OpenFile": func(name string) error {
			file, err := f.OpenFile(ctx, name, os.O_CREATE|os.O_WRONLY, 0o644)
			if err == nil {
				file.Close()
			}
			return err
		},
		"CopyTree": func(name string) error { return f.CopyTree(ctx, "/file", name, true, nil) },
		"Rename":   func(name string) error { return f.Rename(ctx, "/file", name) },
		"Parent":   func(name string) error { _, err := f.Parent(ctx, name); return err },
	}
	for method, write := range writes {
		if err := write("/down/new"); !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrNoParent) {
			t.Errorf("%s below a parent that cannot be read: %v, want ErrUnavailable", method, err)
		}
		for _, name := range []string{"/missing/new", "/file/new"} {
			if err := write(name); !errors.Is(err, ErrNoParent) {
				t.Errorf("%s of %s: %v, want ErrNoParent", method, name, err)
			}
		}
	}
}
