//go:build !race

package main

// lockRaceRounds is how many rounds TestMultiLockRace runs (fewer under
// the race detector; see multirace_on_test.go).
const lockRaceRounds = 1000
