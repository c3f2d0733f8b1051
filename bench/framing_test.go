package bench

import (
	"fmt"
	"testing"
	"time"

	"github.com/tickcast/tickcast/market"
)

// With FramingCentrifuge the client reads the ticks inside centrifuge's
// unidirectional pushes (as Centrifugo's uni_sse sends them), skips the
// connect push, and accounts every tick as it does tickcast's events.
func TestCentrifugeFraming(t *testing.T) {
	syms := []string{"AAPL", "MSFT"}
	c := benchClient(syms)
	c.r.cfg.Framing = FramingCentrifuge
	c.p.Reset(c, false)
	in := []byte("\r\ndata: {\"connect\":{\"client\":\"c1\",\"version\":\"0.0.0\",\"subs\":{\"ticks:AAPL\":{}}}}\n\n")
	t0 := time.Now()
	for i := 0; i < 10; i++ {
		tk := market.Tick{Symbol: syms[i%2], Seq: uint64(i/2 + 1), Time: t0, Price: 1, MarketTime: t0}
		if i == 7 {
			tk.Seq++ // one tick of MSFT lost
		}
		in = fmt.Appendf(in, "data: {\"channel\":\"ticks:%s\",\"pub\":{\"data\":%s,\"offset\":%d}}\n\n", tk.Symbol, tk.AppendJSON(nil), i)
	}
	c.now, c.ws, c.we = t0.UnixNano(), 0, 1<<63-1
	if err := c.p.Feed(in); err != nil {
		t.Fatal(err)
	}
	c.flush()
	if st := c.sh.st; st.Events != 10 || st.Gaps != 1 || c.sh.bad != 0 || c.sh.winOther != 0 {
		t.Errorf("events %d gaps %d bad %d other %d; want 10, 1, 0, 0", st.Events, st.Gaps, c.sh.bad, c.sh.winOther)
	}
}
