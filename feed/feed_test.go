package feed

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tickcast/tickcast/market"
)

func startConn(t testing.TB, dir string) (*Server, *Conn) {
	t.Helper()
	srv, err := StartServer(ServerConfig{StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := Connect(context.Background(), ConnConfig{Server: srv})
	if err != nil {
		srv.Shutdown()
		t.Fatal(err)
	}
	return srv, conn
}

func pub(t *testing.T, c *Conn, sym string, seq uint64) {
	t.Helper()
	tk := market.Tick{Symbol: sym, Seq: seq, Time: time.Now(), Price: 10, Bid: 9.99, Ask: 10.01, Size: 1, Volume: int64(seq)}
	if err := c.Publish(context.Background(), tk); err != nil {
		t.Fatal(err)
	}
}

// The epoch survives a restart of the server on the same store, and a
// recreated stream gets another.
func TestEpochAcrossRestartAndRecreate(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	srv, c := startConn(t, dir)
	st1, err := c.EnsureStream(ctx, StreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 5; i++ {
		pub(t, c, "AAA", i)
	}
	pub(t, c, "AAA", 5) // a retry of the same tick is stored once
	c.Close()
	srv.Shutdown()

	srv, c = startConn(t, dir)
	defer srv.Shutdown()
	defer c.Close()
	st2, err := c.EnsureStream(ctx, StreamConfig{MaxAge: 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if st1.Epoch != st2.Epoch || st2.LastSeq != 5 {
		t.Fatalf("after restart: epoch %s -> %s, last %d", st1.Epoch, st2.Epoch, st2.LastSeq)
	}
	last, err := c.LastTicks(ctx)
	if err != nil || last["AAA"].Tick.Seq != 5 || last["AAA"].Seq != 5 {
		t.Fatalf("LastTicks %+v %v", last, err)
	}
	if err := c.DeleteStream(ctx); err != nil {
		t.Fatal(err)
	}
	st3, err := c.EnsureStream(ctx, StreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if st3.Epoch == st1.Epoch || st3.LastSeq != 0 {
		t.Fatalf("recreated stream kept epoch %s (last %d)", st3.Epoch, st3.LastSeq)
	}
}

func TestReplay(t *testing.T) {
	ctx := context.Background()
	srv, c := startConn(t, t.TempDir())
	defer srv.Shutdown()
	defer c.Close()
	if _, err := c.EnsureStream(ctx, StreamConfig{MaxBytes: 4 << 10}); err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 200; i++ {
		pub(t, c, []string{"AAA", "BBB"}[i%2], i)
	}
	st, _ := c.State(ctx)
	if st.FirstSeq <= 1 {
		t.Fatalf("window kept everything: %+v", st)
	}
	var got []uint64
	err := c.Replay(ctx, st.FirstSeq+1, st.LastSeq-3, []string{"AAA"}, func(m Msg) error {
		got = append(got, m.Seq)
		return nil
	})
	if err != nil || len(got) == 0 {
		t.Fatalf("replay: %v %v", got, err)
	}
	for i, s := range got {
		if s < st.FirstSeq+1 || s > st.LastSeq-3 || i > 0 && s != got[i-1]+2 {
			t.Fatalf("replayed %v", got)
		}
	}
	// JetStream would start at the first sequence; Replay refuses.
	err = c.Replay(ctx, 1, st.LastSeq, nil, func(Msg) error { t.Fatal("delivered"); return nil })
	if !errors.Is(err, ErrTooOld) {
		t.Fatalf("replay from 1: %v", err)
	}
}

// SeqAt finds the first message stored at or after a moment, and says
// when the stream no longer holds that moment.
func TestSeqAt(t *testing.T) {
	ctx := context.Background()
	srv, c := startConn(t, t.TempDir())
	defer srv.Shutdown()
	defer c.Close()
	if _, err := c.EnsureStream(ctx, StreamConfig{MaxBytes: 16 << 10}); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	if seq, _, err := c.SeqAt(ctx, before); err != nil || seq != 1 {
		t.Fatalf("empty stream: %d %v, want 1", seq, err)
	}
	var at []time.Time // at[i]: a moment just before sequence i+1 was stored
	for i := uint64(1); i <= 20; i++ {
		at = append(at, time.Now())
		time.Sleep(2 * time.Millisecond)
		pub(t, c, "AAA", i)
	}
	st, _ := c.State(ctx)
	for i, ti := range at {
		if seq, _, err := c.SeqAt(ctx, ti); err != nil || seq != uint64(i+1) {
			t.Fatalf("at[%d]: %d %v, want %d", i, seq, err, i+1)
		}
	}
	if seq, epoch, err := c.SeqAt(ctx, time.Now().Add(time.Second)); err != nil || seq != 21 || epoch != st.Epoch {
		t.Fatalf("after the last: %d %s %v, want 21 %s", seq, epoch, err, st.Epoch)
	}
	if seq, _, err := c.SeqAt(ctx, before); err != nil || seq != 1 {
		t.Fatalf("before the first, nothing removed: %d %v, want 1", seq, err)
	}
	if _, _, err := c.SeqAt(ctx, before.Add(-time.Hour)); !errors.Is(err, ErrTooOld) {
		t.Fatalf("before the stream was created (an earlier incarnation may have held it): %v, want ErrTooOld", err)
	}
	for i := uint64(21); i <= 400; i++ {
		pub(t, c, "AAA", i)
	}
	if st, _ = c.State(ctx); st.FirstSeq <= 21 {
		t.Fatalf("window kept everything: %+v", st)
	}
	if _, _, err := c.SeqAt(ctx, at[5]); !errors.Is(err, ErrTooOld) {
		t.Fatalf("a moment that left the window: %v, want ErrTooOld", err)
	}
}
