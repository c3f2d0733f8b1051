package feed

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tickcast/tickcast/market"
)

// Pipelined publishes keep each symbol's ticks in order in the stream and
// store each exactly once.
func TestPipelineOrderPerSymbol(t *testing.T) {
	ctx := context.Background()
	srv, c := startConn(t, t.TempDir())
	defer srv.Shutdown()
	defer c.Close()
	if _, err := c.EnsureStream(ctx, StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	p := c.NewPipeline()
	syms := []string{"A", "B", "C"}
	const n = 3000
	for i := 0; i < n; i++ {
		s := syms[i%3]
		tk := market.Tick{Symbol: s, Seq: uint64(i/3 + 1), Time: time.Now(), Price: 1, Bid: 1, Ask: 1}
		if err := p.Publish(ctx, tk); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st, _ := c.State(ctx)
	if st.LastSeq != n {
		t.Fatalf("stored %d, want %d", st.LastSeq, n)
	}
	last := map[string]uint64{}
	err := c.Replay(ctx, 1, n, nil, func(m Msg) error {
		if m.Tick.Seq != last[m.Tick.Symbol]+1 {
			t.Fatalf("%s seq %d after %d", m.Tick.Symbol, m.Tick.Seq, last[m.Tick.Symbol])
		}
		last[m.Tick.Symbol] = m.Tick.Seq
		return nil
	})
	if err != nil || last["C"] != n/3 {
		t.Fatalf("replay: %v %v", err, last)
	}
}

// A retry that comes after the stream's duplicate window (its ack was
// lost, the server was out of reach for longer) is still stored once: a
// tick stored twice would repeat its seq for every client. The stream
// here forgets Nats-Msg-Ids after 100 ms; the retry claims a first send
// an hour ago.
func TestPublishRetryAfterDuplicateWindowStoresOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	srv, c := startConn(t, t.TempDir())
	defer srv.Shutdown()
	defer c.Close()
	if _, err := c.js.CreateStream(ctx, jetstream.StreamConfig{Name: c.stream, Subjects: StreamSubjects, Duplicates: 100 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	tk := market.Tick{Symbol: "AAPL", Seq: 1, Time: time.Now(), Price: 10, Bid: 9.99, Ask: 10.01, Size: 1, Volume: 1}
	msg := &nats.Msg{Subject: Subject(tk.Symbol), Data: tk.AppendJSON(nil), Header: msgID("", tk.Symbol, "", tk.Seq)}
	if err := c.publishMsg(ctx, tk.Symbol, msg, time.Now()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // past the window: the server no longer knows the id
	if err := c.publishMsg(ctx, tk.Symbol, msg, time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	// A message that never was stored still is, once, by a late retry.
	tk2 := tk
	tk2.Seq = 2
	msg2 := &nats.Msg{Subject: Subject(tk2.Symbol), Data: tk2.AppendJSON(nil), Header: msgID("", tk2.Symbol, "", tk2.Seq)}
	if err := c.publishMsg(ctx, tk2.Symbol, msg2, time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	st, err := c.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.LastSeq != 2 {
		t.Fatalf("stream holds %d messages, want 2 (tick 1 once, tick 2 once)", st.LastSeq)
	}
}

// A publish the server refuses (here: no stream takes the subject yet,
// so the ack is a no-responders status) is retried until it is stored,
// once, and the symbol's next tick comes after it.
func TestPipelineRetriesRefusedPublish(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	srv, c := startConn(t, t.TempDir())
	defer srv.Shutdown()
	defer c.Close()
	p := c.NewPipeline()
	tk := market.Tick{Symbol: "AAPL", Seq: 1, Time: time.Now(), Price: 10, Bid: 9.99, Ask: 10.01, Size: 1, Volume: 1}
	if err := p.Publish(ctx, tk); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the refusal arrives
	if _, err := c.EnsureStream(ctx, StreamConfig{Memory: true}); err != nil {
		t.Fatal(err)
	}
	tk.Seq, tk.Volume = 2, 2
	if err := p.Publish(ctx, tk); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	err := c.Replay(ctx, 1, 10, nil, func(m Msg) error {
		seqs = append(seqs, m.Tick.Seq)
		return nil
	})
	if err != nil || len(seqs) != 2 || seqs[0] != 1 || seqs[1] != 2 {
		t.Fatalf("stored tick seqs %v (%v), want [1 2]", seqs, err)
	}
}
