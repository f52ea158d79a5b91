package dav

import "context"

// userKey is the context key of the authenticated user's name.
type userKey struct{}

// WithUser returns a copy of ctx carrying the name of the authenticated
// user, for locks, the operation registry and logs to attribute work to.
// Authentication itself happens in front of the Handler.
func WithUser(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, userKey{}, name)
}

// UserFrom returns the user name WithUser stored in ctx, or "" for an
// anonymous request.
func UserFrom(ctx context.Context) string {
	name, _ := ctx.Value(userKey{}).(string)
	return name
}
