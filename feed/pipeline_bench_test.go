package feed

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tickcast/tickcast/market"
)

// BenchmarkPipelinePublish is the simulator's publish path per tick:
// Pipeline.Publish into an embedded JetStream (memory storage), 20
// symbols in turn, acknowledgements awaited as the pipeline does.
func BenchmarkPipelinePublish(b *testing.B) {
	ctx := context.Background()
	srv, c := startConn(b, b.TempDir())
	defer srv.Shutdown()
	defer c.Close()
	if _, err := c.EnsureStream(ctx, StreamConfig{Memory: true}); err != nil {
		b.Fatal(err)
	}
	syms := make([]string, 20)
	for i := range syms {
		syms[i] = fmt.Sprintf("S%d", i)
	}
	p := c.NewPipeline()
	now := time.Now()
	seq := uint64(0)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%len(syms) == 0 {
			seq++
		}
		tk := market.Tick{Symbol: syms[i%len(syms)], Seq: seq, Time: now, Price: 10, Bid: 9.99, Ask: 10.01, Size: 100, Volume: int64(seq) * 100}
		if err := p.Publish(ctx, tk); err != nil {
			b.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		b.Fatal(err)
	}
}
