//go:build race

package main

// lockRaceRounds is how many rounds TestMultiLockRace runs: under the race
// detector both davd instances run instrumented, about three times
// slower, and 1,000 rounds would take half a minute.
const lockRaceRounds = 400
