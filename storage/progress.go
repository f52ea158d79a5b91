package storage

import "context"

// copiedKey is the context key of the function told about bytes copied.
type copiedKey struct{}

// WithCopied returns a context under which CopyTree calls fn with the
// number of bytes of file content it has just copied, after every chunk
// (at most 8 MiB) rather than once per file: progress then rises during a
// large file instead of jumping at its end. CopyTree copies subtrees in
// several goroutines, so fn must be safe for concurrent use. Visit is
// still told each file's size as well.
func WithCopied(ctx context.Context, fn func(n int64)) context.Context {
	return context.WithValue(ctx, copiedKey{}, fn)
}

// copiedFunc returns the function WithCopied stored, or one that does
// nothing.
func copiedFunc(ctx context.Context) func(int64) {
	if fn, ok := ctx.Value(copiedKey{}).(func(int64)); ok && fn != nil {
		return fn
	}
	return func(int64) {}
}
