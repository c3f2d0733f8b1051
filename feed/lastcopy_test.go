package feed

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tickcast/tickcast/market"
)

func testQuote(sym string, seq uint64) market.Quote {
	now := time.Now().UTC()
	return market.Quote{Symbol: sym, Seq: seq, Time: now, MarketTime: now, Bid: 9, Ask: 10, BidSize: 100, AskSize: 200}
}

// lastQuoteSeq is the quote seq <stream>_LAST keeps for sym (0: none).
func lastQuoteSeq(t *testing.T, c *Conn, sym string) uint64 {
	t.Helper()
	m, err := c.Last(context.Background(), QuoteSubject(sym))
	if err != nil {
		return 0
	}
	q, err := market.DecodeQuote(m.Data)
	if err != nil {
		t.Fatalf("last quote: %v", err)
	}
	return q.Seq
}

// A publisher that dies without Close (a SIGKILL) has copied its quotes
// into the companion up to about a second before: the copy of a quote
// published over a second before its last is there, without Close.
func TestPipelineCopiesQuotesWithoutClose(t *testing.T) {
	ctx := context.Background()
	srv, c := startConn(t, t.TempDir())
	defer srv.Shutdown()
	defer c.Close()
	if _, err := c.EnsureStream(ctx, StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	p := c.NewPipeline()
	var sent []time.Time // by seq-1
	start := time.Now()
	for seq := uint64(1); time.Since(start) < 2500*time.Millisecond; seq++ {
		if err := p.PublishQuote(ctx, testQuote("AAA", seq)); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, time.Now())
		time.Sleep(10 * time.Millisecond)
	}
	// No Close. A round of copies runs at the first send copyEvery after
	// the last round, so the newest copy is of a quote sent less than
	// copyEvery plus the longest gap between two sends (the test's own
	// pace, longer under load) before the last one.
	last := sent[len(sent)-1]
	var gap time.Duration
	for i := 1; i < len(sent); i++ {
		gap = max(gap, sent[i].Sub(sent[i-1]))
	}
	var want uint64
	for i, at := range sent {
		if last.Sub(at) <= copyEvery+gap {
			want = uint64(i + 1)
			break
		}
	}
	waitFor(t, "a recent copy", func() bool { return lastQuoteSeq(t, c, "AAA") >= want })
	if got := lastQuoteSeq(t, c, "AAA"); got > uint64(len(sent)) {
		t.Fatalf("copied seq %d, only %d sent", got, len(sent))
	}
	// The counters a restarted simulator would continue: the stream's
	// own newest (the window holds it here), whatever the copy says.
	cnt, err := c.LastCounters(ctx)
	if err != nil || cnt.Quotes["AAA"] != uint64(len(sent)) {
		t.Fatalf("counters %+v %v; want quote %d", cnt.Quotes, err, len(sent))
	}
}

// A companion an older tickcast made sourced every subject: EnsureStream
// narrows its source to ticks, bars, status and the clock, so the server
// stops copying quotes and books; the quotes it copied before stay
// readable until a publisher's copy replaces them.
func TestLastCompanionNarrowed(t *testing.T) {
	ctx := context.Background()
	srv, c := startConn(t, t.TempDir())
	defer srv.Shutdown()
	defer c.Close()
	old := []jetstream.StreamConfig{
		{Name: c.stream, Subjects: StreamSubjects, MaxAge: time.Hour},
		{Name: c.stream + lastSuffix, Sources: []*jetstream.StreamSource{{Name: c.stream}}, MaxMsgsPerSubject: 1},
	}
	for _, sc := range old {
		if _, err := c.js.CreateStream(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	// An older simulator's quote: sourced by the server.
	if err := c.publishMsg(ctx, "AAA", quoteMsg(new(testQuote("AAA", 5))), time.Now()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the old companion's copy", func() bool { return lastQuoteSeq(t, c, "AAA") == 5 })

	if _, err := c.EnsureStream(ctx, StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	sc := streamConfig(t, c, c.stream+lastSuffix)
	if len(sc.Sources) != 1 || len(sc.Sources[0].SubjectTransforms) != len(sourcedLast) || len(sc.Subjects) != 1 || sc.Subjects[0] != LastCopyPrefix+">" {
		t.Fatalf("_LAST not narrowed: subjects %v, sources %+v", sc.Subjects, sc.Sources[0])
	}
	// A quote stored without a copy (as a publisher that died before
	// making one) is not sourced: a tick published after it is, and the
	// server sources in order, so once the tick is there the quote
	// would have been too.
	if err := c.publishMsg(ctx, "AAA", quoteMsg(new(testQuote("AAA", 6))), time.Now()); err != nil {
		t.Fatal(err)
	}
	pub(t, c, "AAA", 1)
	waitKept(t, c, "AAA", 1)
	if got := lastQuoteSeq(t, c, "AAA"); got != 5 {
		t.Fatalf("companion quote seq %d after narrowing; want 5 (not sourced any more)", got)
	}
	// A publisher's copy is newer than the old sourced one.
	p := c.NewPipeline()
	if err := p.PublishQuote(ctx, testQuote("AAA", 7)); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := lastQuoteSeq(t, c, "AAA"); got != 7 {
		t.Fatalf("companion quote seq %d after Close; want 7", got)
	}
	all, err := c.LastAll(ctx, QuoteSubjectPrefix+">")
	if err != nil || len(all) != 1 || all[0].Subject != QuoteSubject("AAA") {
		t.Fatalf("LastAll: %+v %v", all, err)
	}
	if q, err := market.DecodeQuote(all[0].Data); err != nil || q.Seq != 7 {
		t.Fatalf("LastAll quote: %+v %v", q, err)
	}
}
