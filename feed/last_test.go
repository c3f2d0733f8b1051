package feed

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tickcast/tickcast/market"
)

// waitKept waits until the companion stream holds sym's tick seq.
func waitKept(t *testing.T, c *Conn, sym string, seq uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, err := c.js.Stream(context.Background(), c.stream+lastSuffix)
		var m *jetstream.RawStreamMsg
		if err == nil {
			m, err = s.GetLastMsgForSubject(context.Background(), Subject(sym))
		}
		if err == nil {
			if tk, derr := market.DecodeTick(m.Data); derr == nil && tk.Seq == seq {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("companion lacks %s seq %d after 10s (%v)", sym, seq, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A rarely traded symbol whose last tick MaxBytes pushed out of the
// window is still known to LastTicks, so its seq continues; its Msg.Seq
// is 0 (no position in the ticks stream), while symbols still in the
// window keep their stream sequence.
func TestLastTicksOutliveMaxBytes(t *testing.T) {
	ctx := context.Background()
	srv, c := startConn(t, t.TempDir())
	defer srv.Shutdown()
	defer c.Close()
	if _, err := c.EnsureStream(ctx, StreamConfig{MaxBytes: 4 << 10}); err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 3; i++ {
		pub(t, c, "RARE", i)
	}
	// The server sources within milliseconds; the window is far longer
	// in real use. Here it is a few messages, so wait for the copy.
	waitKept(t, c, "RARE", 3)
	for i := uint64(1); i <= 200; i++ {
		pub(t, c, "AAA", i)
	}
	st, err := c.State(ctx)
	if err != nil || st.FirstSeq <= 3 {
		t.Fatalf("RARE still in the window: %+v %v", st, err)
	}
	last, err := c.LastTicks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m := last["RARE"]; m.Tick.Seq != 3 || m.Seq != 0 {
		t.Fatalf("RARE: %+v", m)
	}
	if m := last["AAA"]; m.Tick.Seq != 200 || m.Seq != st.LastSeq {
		t.Fatalf("AAA: %+v, stream last %d", m, st.LastSeq)
	}
}

// Seqs continue over a deleted and recreated ticks stream: the companion
// outlives it, and LastTicks takes the newer tick of the two streams.
func TestLastTicksAcrossRecreate(t *testing.T) {
	ctx := context.Background()
	srv, c := startConn(t, t.TempDir())
	defer srv.Shutdown()
	defer c.Close()
	if _, err := c.EnsureStream(ctx, StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 7; i++ {
		pub(t, c, "AAA", i)
	}
	waitKept(t, c, "AAA", 7)
	if err := c.DeleteStream(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.EnsureStream(ctx, StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	last, err := c.LastTicks(ctx)
	if err != nil || last["AAA"].Tick.Seq != 7 || last["AAA"].Seq != 0 {
		t.Fatalf("after recreate: %+v %v", last, err)
	}
	pub(t, c, "AAA", 8) // the simulator continues
	last, err = c.LastTicks(ctx)
	if err != nil || last["AAA"].Tick.Seq != 8 || last["AAA"].Seq != 1 {
		t.Fatalf("after a new tick: %+v %v", last, err)
	}
}

// A window under the 2-minute dedupe window is accepted at once.
func TestEnsureStreamShortMaxAge(t *testing.T) {
	ctx := context.Background()
	srv, c := startConn(t, t.TempDir())
	defer srv.Shutdown()
	defer c.Close()
	for _, age := range []time.Duration{30 * time.Second, 3 * time.Second, time.Hour} {
		begin := time.Now()
		if _, err := c.EnsureStream(ctx, StreamConfig{MaxAge: age}); err != nil {
			t.Fatalf("max age %s: %v", age, err)
		}
		if d := time.Since(begin); d > 2*time.Second {
			t.Fatalf("max age %s took %s", age, d)
		}
	}
}

// A permanent error (replicas a single server cannot have) fails at
// once, with the server's reason, instead of being retried.
func TestEnsureStreamPermanentErrorFailsFast(t *testing.T) {
	ctx := context.Background()
	srv, c := startConn(t, t.TempDir())
	defer srv.Shutdown()
	defer c.Close()
	begin := time.Now()
	_, err := c.EnsureStream(ctx, StreamConfig{Replicas: 3})
	var api *jetstream.APIError
	if !errors.As(err, &api) || api.ErrorCode != 10074 {
		t.Fatalf("replicas 3 on one server: %v", err)
	}
	if d := time.Since(begin); d > time.Second {
		t.Fatalf("failed after %s, want at once", d)
	}
}

func TestTransient(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{context.DeadlineExceeded, true},
		{context.Canceled, false},
		{&jetstream.APIError{Code: 503, ErrorCode: 10008}, true},
		{&jetstream.APIError{Code: 500, ErrorCode: 10052}, false},
		{jetstream.ErrStreamNotFound, false},
		{jetstream.ErrStreamNameAlreadyInUse, true},
		{jetstream.ErrNoHeartbeat, true},
		{errors.New("something else"), false},
	} {
		if got := transient(tc.err); got != tc.want {
			t.Errorf("transient(%v) = %v", tc.err, got)
		}
	}
}

// LastTicks rides out a server that is away for longer than one request
// may wait (a restart, an election), as a restarting simulator must.
func TestLastTicksRidesOutOutage(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	srv, err := StartServer(ServerConfig{StoreDir: dir, Listen: addr})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Connect(ctx, ConnConfig{URL: srv.ClientURL()})
	if err != nil {
		srv.Shutdown()
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.EnsureStream(ctx, StreamConfig{}); err != nil {
		srv.Shutdown()
		t.Fatal(err)
	}
	for i := uint64(1); i <= 4; i++ {
		pub(t, c, "AAA", i)
	}
	srv.Shutdown()

	type result struct {
		last map[string]Msg
		err  error
	}
	done := make(chan result, 1)
	go func() {
		last, err := c.LastTicks(ctx) // no deadline, as the simulator calls it
		done <- result{last, err}
	}()
	// Longer than nats.go's default 5 s request timeout.
	time.Sleep(6 * time.Second)
	srv, err = StartServer(ServerConfig{StoreDir: dir, Listen: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	select {
	case r := <-done:
		if r.err != nil || r.last["AAA"].Tick.Seq != 4 {
			t.Fatalf("LastTicks: %+v %v", r.last, r.err)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("LastTicks did not return within 40s")
	}
}
