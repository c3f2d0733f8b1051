package feed

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tickcast/tickcast/market"
)

func testBar(sym, iv string, seq uint64, start time.Time) market.Bar {
	d, _ := market.IntervalDuration(iv)
	return market.Bar{Symbol: sym, Interval: iv, Seq: seq, Start: start, End: start.Add(d), MarketStart: start,
		Open: 10, High: 11, Low: 9, Close: 10.5, Volume: 100, Trades: 2}
}

// waitFor polls cond every 20 ms for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 10s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A stream made by an older tickcast (ticks.> only) gains the event
// subjects; every type is stored on its subject; the companions keep the
// newest of each subject (_LAST) and the bars (_BARS), and the counters
// a restarted simulator continues read back.
func TestEventsSubjectsLastAndCounters(t *testing.T) {
	ctx := context.Background()
	srv, c := startConn(t, t.TempDir())
	defer srv.Shutdown()
	defer c.Close()
	if _, err := c.js.CreateStream(ctx, jetstream.StreamConfig{Name: c.stream, Subjects: []string{"ticks.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.EnsureStream(ctx, StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	s, err := c.js.Stream(ctx, c.stream)
	if err != nil || !slices.Equal(s.CachedInfo().Config.Subjects, StreamSubjects) {
		t.Fatalf("subjects not updated: %v %v", s.CachedInfo().Config.Subjects, err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	p := c.NewPipeline()
	pub(t, c, "AAA", 1)
	for i := uint64(1); i <= 3; i++ {
		q := market.Quote{Symbol: "AAA", Seq: i, Time: now, MarketTime: now, Bid: 9, Ask: 10, BidSize: 100, AskSize: 200}
		if err := p.PublishQuote(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.PublishBar(ctx, testBar("AAA", "1s", 4, now)); err != nil {
		t.Fatal(err)
	}
	if err := p.PublishBar(ctx, testBar("AAA", "1m", 2, now.Truncate(time.Minute))); err != nil {
		t.Fatal(err)
	}
	st := market.Status{Symbol: "AAA", Seq: 5, Time: now, MarketTime: now, State: market.StateLimitUp, Reason: "luld", BandLow: 9, BandHigh: 11}
	if err := p.PublishStatus(ctx, st); err != nil {
		t.Fatal(err)
	}
	bk := market.Book{Symbol: "AAA", Seq: 6, Time: now, MarketTime: now,
		Bids: []market.Level{{Price: 10, Size: 100}, {Price: 9.99, Size: 300}}, Asks: []market.Level{{Price: 10.01, Size: 200}}}
	for _, seq := range []uint64{6, 7} {
		bk.Seq = seq
		if err := p.PublishBook(ctx, bk); err != nil {
			t.Fatal(err)
		}
	}
	clk := market.Clock{Seq: 8, Time: now, MarketTime: now, Phase: market.PhasePre, Speed: 39, NextPhase: market.PhaseRegular, NextPhaseAt: now.Add(time.Hour), TZ: market.MarketTZ}
	if err := p.PublishClock(ctx, clk); err != nil {
		t.Fatal(err)
	}
	// A retry of a stored event is stored once.
	if err := c.PublishClock(ctx, clk); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	state, err := c.State(ctx)
	if err != nil || state.LastSeq != 1+3+2+1+2+1 {
		t.Fatalf("stream: %+v %v", state, err)
	}
	var last RawMsg
	waitFor(t, "clock in _LAST", func() bool {
		last, err = c.Last(ctx, ClockSubject)
		return err == nil
	})
	if last.Seq != state.LastSeq || last.Subject != ClockSubject {
		t.Fatalf("last clock: %+v", last)
	}
	if k, err := market.DecodeClock(last.Data); err != nil || k != clk {
		t.Fatalf("last clock: %+v %v", k, err)
	}
	if _, err := c.Last(ctx, QuoteSubject("ZZZ")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing subject: %v", err)
	}
	// Quotes and books: the Pipeline's copies (Close made them), with no
	// position in the ticks stream.
	waitFor(t, "quotes in _LAST", func() bool {
		m, err := c.Last(ctx, QuoteSubject("AAA"))
		if err != nil {
			return false
		}
		q, err := market.DecodeQuote(m.Data)
		return err == nil && q.Seq == 3 && m.Seq == 0 && m.Subject == QuoteSubject("AAA")
	})
	waitFor(t, "books in _LAST", func() bool {
		m, err := c.Last(ctx, BookSubject("AAA"))
		if err != nil || m.Seq != 0 {
			return false
		}
		got, err := market.DecodeBook(m.Data)
		if err != nil || got.Seq != 7 || len(got.Bids) != 2 || got.Asks[0] != bk.Asks[0] {
			t.Fatalf("last book: %+v %v", got, err)
		}
		return true
	})
	all, err := c.LastAll(ctx, "bars.>")
	if err != nil || len(all) != 2 {
		t.Fatalf("last bars: %+v %v", all, err)
	}
	cnt, err := c.LastCounters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cnt.Quotes["AAA"] != 3 || cnt.Bars[market.BarKey("AAA", "1s")] != 4 || cnt.Bars[market.BarKey("AAA", "1m")] != 2 ||
		cnt.Status["AAA"] != 5 || cnt.Books["AAA"] != 7 || cnt.Clock.Seq != 8 {
		t.Fatalf("counters: %+v", cnt)
	}
	// The counters outlive the stream (the companion keeps them).
	if err := c.DeleteStream(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.EnsureStream(ctx, StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	cnt, err = c.LastCounters(ctx)
	if err != nil || cnt.Quotes["AAA"] != 3 || cnt.Books["AAA"] != 7 || cnt.Clock.Seq != 8 {
		t.Fatalf("counters after recreate: %+v %v", cnt, err)
	}
}

// ReadBars returns the bars in range, oldest first, the newest limit of
// them, each with its sequence in the ticks stream.
func TestReadBars(t *testing.T) {
	ctx := context.Background()
	srv, c := startConn(t, t.TempDir())
	defer srv.Shutdown()
	defer c.Close()
	if _, err := c.EnsureStream(ctx, StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	if got, err := c.ReadBars(ctx, "AAA", "1s", time.Time{}, time.Time{}, 0); err != nil || len(got) != 0 {
		t.Fatalf("no bars: %v %v", got, err)
	}
	t0 := time.Now().UTC().Truncate(time.Second).Add(-30 * time.Second)
	seqs := map[uint64]uint64{} // bar seq -> stream seq
	for i := uint64(1); i <= 20; i++ {
		pub(t, c, "AAA", i) // interleaved with other subjects
		if err := c.PublishBar(ctx, testBar("AAA", "1s", i, t0.Add(time.Duration(i)*time.Second))); err != nil {
			t.Fatal(err)
		}
		if err := c.PublishBar(ctx, testBar("BBB", "1s", i, t0.Add(time.Duration(i)*time.Second))); err != nil {
			t.Fatal(err)
		}
		st, _ := c.State(ctx)
		seqs[i] = st.LastSeq - 1
	}
	var got []BarMsg
	var err error
	waitFor(t, "bars sourced", func() bool {
		got, err = c.ReadBars(ctx, "AAA", "1s", time.Time{}, time.Time{}, 100)
		return err == nil && len(got) == 20
	})
	for i, m := range got {
		if m.Bar.Seq != uint64(i+1) || m.Bar.Symbol != "AAA" || m.Seq != seqs[m.Bar.Seq] {
			t.Fatalf("bar %d: %+v (stream seq want %d)", i, m, seqs[m.Bar.Seq])
		}
	}
	got, err = c.ReadBars(ctx, "AAA", "1s", t0.Add(5*time.Second), t0.Add(15*time.Second), 4)
	if err != nil || len(got) != 4 || got[0].Bar.Seq != 11 || got[3].Bar.Seq != 14 {
		t.Fatalf("range with limit: %+v %v", got, err)
	}
	got, err = c.ReadBars(ctx, "AAA", "1s", t0.Add(5*time.Second), time.Time{}, 0)
	if err != nil || len(got) != 16 || got[0].Bar.Seq != 5 {
		t.Fatalf("from: %d bars, %v", len(got), err)
	}
	if got, err := c.ReadBars(ctx, "AAA", "1m", time.Time{}, time.Time{}, 0); err != nil || len(got) != 0 {
		t.Fatalf("1m: %v %v", got, err)
	}
	if _, err := c.ReadBars(ctx, "AAA", "5m", time.Time{}, time.Time{}, 0); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("bad interval: %v", err)
	}
}

// ReadRange reads a range that holds other event types too, passing
// those undecoded (Subject, Data), every sequence once.
func TestReadRangeSkipsEvents(t *testing.T) {
	ctx := context.Background()
	srv, c := startConn(t, t.TempDir())
	defer srv.Shutdown()
	defer c.Close()
	if _, err := c.EnsureStream(ctx, StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for i := uint64(1); i <= 5; i++ {
		pub(t, c, "AAA", i)
		q := market.Quote{Symbol: "AAA", Seq: i, Time: now, MarketTime: now, Bid: 9, Ask: 10, BidSize: 1, AskSize: 1}
		if err := c.PublishQuote(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	var got, seqs []uint64
	err := c.ReadRange(ctx, 2, 10, func(m Msg, bad error) error {
		if bad != nil {
			t.Errorf("bad: %v", bad)
		}
		seqs = append(seqs, m.Seq)
		if m.IsTick() {
			got = append(got, m.Tick.Seq)
		} else if m.Subject != QuoteSubject("AAA") || len(m.Data) == 0 {
			t.Errorf("event %d: %q %q", m.Seq, m.Subject, m.Data)
		}
		return nil
	})
	if !slices.Equal(seqs, []uint64{2, 3, 4, 5, 6, 7, 8, 9, 10}) {
		t.Errorf("sequences %v", seqs)
	}
	if err != nil || !slices.Equal(got, []uint64{2, 3, 4, 5}) {
		t.Fatalf("ReadRange: %v %v", got, err)
	}
}

// Tail does not take a stream that moves on with other event types
// only (quotes, no ticks) for a stalled consumer: no restart, and the
// next tick arrives.
func TestTailQuietTicksNoStall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	srv, c := startConn(t, t.TempDir())
	defer srv.Shutdown()
	defer c.Close()
	st, err := c.EnsureStream(ctx, StreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan market.Tick, 10)
	stalls := make(chan error, 10)
	tctx, tcancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- c.Tail(tctx, st.Epoch, 0, func(m Msg) {
			if m.IsTick() { // the quotes reach fn too, undecoded
				got <- m.Tick
			}
		}, func(err error) { stalls <- err })
	}()
	pub(t, c, "AAA", 1)
	select {
	case <-got:
	case <-ctx.Done():
		t.Fatal("no first tick")
	}
	now := time.Now().UTC()
	quiet := time.Now().Add(3*stallAfter + time.Second)
	for i := uint64(1); time.Now().Before(quiet); i++ {
		q := market.Quote{Symbol: "AAA", Seq: i, Time: now, MarketTime: now, Bid: 9, Ask: 10, BidSize: 1, AskSize: 1}
		if err := c.PublishQuote(ctx, q); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	pub(t, c, "AAA", 2)
	select {
	case tk := <-got:
		if tk.Seq != 2 {
			t.Fatalf("got %+v", tk)
		}
	case <-ctx.Done():
		t.Fatal("no tick after the quiet spell")
	}
	tcancel()
	if err := <-done; err != nil {
		t.Fatalf("Tail: %v", err)
	}
	select {
	case err := <-stalls:
		t.Fatalf("Tail restarted over quotes: %v", err)
	default:
	}
}
