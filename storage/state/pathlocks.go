package state

import (
	"context"

	"davd/storage/pathlock"
)

// Acquire implements pathlock.Locker for both Stores of this package: one
// process, so an in-process Manager is enough.
func (lt *locker) Acquire(ctx context.Context, claims ...pathlock.Claim) (func(), error) {
	return lt.paths.Acquire(ctx, claims...)
}

// Acquire claims the view's paths under the prefix in the underlying
// store.
func (s *prefixed) Acquire(ctx context.Context, claims ...pathlock.Claim) (func(), error) {
	mapped := make([]pathlock.Claim, len(claims))
	for i, c := range claims {
		p, err := s.in(c.Path)
		if err != nil {
			return nil, err
		}
		c.Path = p
		mapped[i] = c
	}
	return s.st.Acquire(ctx, mapped...)
}
