package feed

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestTailNoCallbackAfterReturn: once Tail returns, its callback has
// finished and is never called again, so the caller may tear down what the
// callback uses (the gateway closes its hub) without a race.
func TestTailNoCallbackAfterReturn(t *testing.T) {
	srv, c := startConn(t, t.TempDir())
	defer srv.Shutdown()
	defer c.Close()
	ctx := context.Background()
	st, err := c.EnsureStream(ctx, StreamConfig{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 20; i++ {
		pub(t, c, "AAA", i)
	}
	var returned, late atomic.Bool
	inCallback := make(chan struct{}, 1)
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- c.Tail(tctx, st.Epoch, 0, func(Msg) {
			select {
			case inCallback <- struct{}{}:
			default:
			}
			time.Sleep(100 * time.Millisecond) // a slow callback, still running when Tail is told to stop
			if returned.Load() {
				late.Store(true)
			}
		}, func(error) {})
	}()
	select {
	case <-inCallback:
	case <-time.After(10 * time.Second):
		t.Fatal("no tick reached the callback")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Tail did not return after its context ended")
	}
	returned.Store(true)
	time.Sleep(300 * time.Millisecond) // a callback left running would now see returned
	if late.Load() {
		t.Fatal("the callback ran on after Tail returned")
	}
}
