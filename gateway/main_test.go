package gateway

import (
	"os"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	// A merged catch-up sends what it folded at least every
	// catchupProgress; under the race detector on a loaded machine a
	// catch-up can take longer than the default second, and tests that
	// count a catch-up's events would vary with it. They get one send;
	// TestDeepResumeSendsAsItGoes sets it.
	catchupProgress = time.Hour
	os.Exit(m.Run())
}
