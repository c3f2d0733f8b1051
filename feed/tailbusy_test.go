package feed

import (
	"context"
	"testing"
	"time"
)

// A tail whose callback is held up (a process busy with a reconnect
// storm) while the stream moves on by more than the consumer's pull
// batch is not taken for stalled: its consumer has delivered past what
// fn has seen. Tail goes on, no restart, every tick once and in order.
func TestTailBusyConsumerNoStall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv, c := startConn(t, t.TempDir())
	defer srv.Shutdown()
	defer c.Close()
	st, err := c.EnsureStream(ctx, StreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 1500 // more than the tail's pull batch (1000): some stay pending
	got := make(chan uint64, n+10)
	stalls := make(chan error, 10)
	hold := make(chan struct{})
	tctx, tcancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- c.Tail(tctx, st.Epoch, 0, func(m Msg) {
			if m.Tick.Seq == 1 {
				select { // busy: nothing for well past the stall check
				case <-hold:
				case <-tctx.Done():
				}
			}
			got <- m.Tick.Seq
		}, func(err error) { stalls <- err })
	}()
	for i := uint64(1); i <= n; i++ {
		pub(t, c, "AAA", i)
	}
	busy := time.NewTimer(3*stallAfter + 2*tailCheckEvery)
	select {
	case <-busy.C:
	case err := <-done:
		t.Fatalf("Tail returned while its callback was busy: %v", err)
	}
	close(hold)
	for want := uint64(1); want <= n; want++ {
		select {
		case seq := <-got:
			if seq != want {
				t.Fatalf("got seq %d, want %d", seq, want)
			}
		case err := <-done:
			t.Fatalf("Tail returned at seq %d of %d: %v (%d restarts)", want, n, err, len(stalls))
		case <-ctx.Done():
			t.Fatalf("no seq %d", want)
		}
	}
	tcancel()
	if err := <-done; err != nil {
		t.Fatalf("Tail: %v", err)
	}
	select {
	case err := <-stalls:
		t.Fatalf("Tail restarted a busy consumer: %v", err)
	default:
	}
}
