//go:build race

package sim

// raceEnabled: the race detector slows the model about tenfold; the
// heaviest statistical tests skip under it (scripts/test.sh runs them
// without).
const raceEnabled = true
