package feed

import (
	"context"
	"testing"
	"time"

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
