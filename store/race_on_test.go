//go:build race

package store_test

// raceEnabled reports whether the race detector is on.
const raceEnabled = true
