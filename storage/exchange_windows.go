package storage

// canExchange tells whether the platform has an atomic exchange: Windows
// has none, and callers fall back to renames.
const canExchange = false

// exchangeAt is never called where canExchange is false.
func exchangeAt(fa int, a string, fb int, b string) error { return ErrNoExchange }
