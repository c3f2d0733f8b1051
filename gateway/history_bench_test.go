package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/sim"
)

// BenchmarkHistoryBlock reads and summarises one 4,096-message block of
// the default feed (the real simulator, default universe and event
// types: quotes, books, 1 s and 1 min bars, the clock) from JetStream,
// as a cold catch-up or the background indexer does. cpu-ms/block is
// the process's CPU (the gateway and the embedded server it reads
// from; nothing is published meanwhile), B/summary what the history
// index holds per block.
func BenchmarkHistoryBlock(b *testing.B) {
	e := newEnv(b, Options{}, feed.StreamConfig{})
	s, err := sim.New(sim.Config{Seed: 3, Rate: 300, Universe: sim.DefaultUniverse()})
	if err != nil {
		b.Fatal(err)
	}
	p := e.conn.NewPipeline()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	if err := s.Run(ctx, p); err != nil {
		b.Fatal(err)
	}
	cancel()
	cctx, ccancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer ccancel()
	if err := p.Close(cctx); err != nil {
		b.Fatal(err)
	}
	last := e.state().LastSeq
	e.waitHub(last)
	blocks := last / blockSeqs
	if blocks < 2 {
		b.Fatalf("only %d messages", last)
	}
	h := e.g.hub.Load()
	hi := e.g.history(h)
	b.ResetTimer()
	cpu0 := cpuTime()
	bytes := 0
	for i := 0; i < b.N; i++ {
		blk := uint64(i) % blocks
		hi.mu.Lock()
		delete(hi.sums, blk)
		delete(hi.raws, blk)
		delete(hi.rawUse, blk)
		hi.mu.Unlock()
		sum, err := hi.summary(context.Background(), blk)
		if err != nil {
			b.Fatal(err)
		}
		bytes += sum.bytes
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/block")
	b.ReportMetric(float64(bytes)/float64(b.N), "B/summary")
}
