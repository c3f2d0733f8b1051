package gateway

// Tests of book events (issue 26) from the real simulator through
// embedded JetStream: the gap rule, the top of book against the quotes,
// exact resume, merging, ?depth= and the snapshot's books.

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/gateway/sse"
	"github.com/tickcast/tickcast/market"
	"github.com/tickcast/tickcast/sim"
)

// runSim runs the simulator over the test symbols into e's stream for
// d, with books every 50 ms (a light feed, so that it keeps up under the
// race detector), and waits until the hub holds all of it.
func (e *env) runSim(seed int64, d time.Duration) {
	e.t.Helper()
	var u []market.SymbolInfo
	for _, s := range testSymbols {
		u = append(u, market.SymbolInfo{Symbol: s, Name: s, Sector: "Test", PrevClose: 100, TickSize: 0.01, Volatility: 0.3})
	}
	s, err := sim.New(sim.Config{Seed: seed, Rate: 100, Universe: u,
		Events: sim.Events{BookEvery: 50 * time.Millisecond, QuotesPerTrade: 3, Bars: []string{}}})
	if err != nil {
		e.t.Fatal(err)
	}
	p := e.conn.NewPipeline()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := s.Run(ctx, p); err != nil {
		e.t.Fatal(err)
	}
	cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ccancel()
	if err := p.Close(cctx); err != nil {
		e.t.Fatal(err)
	}
	e.waitHub(e.state().LastSeq)
}

// bookChecker checks book events as a client would: valid, never
// crossed, the gap rule per symbol, and (with quotes) the top of each
// book equal to the symbol's last quote before it.
type bookChecker struct {
	seq    map[string]uint64
	quote  map[string]market.Quote
	books  int
	merged int
	tops   int // books whose top was checked against a quote
}

func newBookChecker() *bookChecker {
	return &bookChecker{seq: map[string]uint64{}, quote: map[string]market.Quote{}}
}

func (c *bookChecker) check(t *testing.T, ev event, depth int, quotes bool) {
	t.Helper()
	switch ev.name {
	case "quote":
		var q market.Quote
		if err := json.Unmarshal([]byte(ev.data), &q); err != nil {
			t.Fatal(err)
		}
		c.quote[q.Symbol] = q
	case "book":
		b, err := market.DecodeBook([]byte(ev.data))
		if err != nil {
			t.Fatalf("book %s: %v", ev.data, err)
		}
		if len(b.Bids) != depth || len(b.Asks) != depth {
			t.Fatalf("book with %d bids, %d asks, want %d: %s", len(b.Bids), len(b.Asks), depth, ev.data)
		}
		step := max(b.Merged, 1)
		if prev, ok := c.seq[b.Symbol]; ok && b.Seq-prev != uint64(step) {
			t.Fatalf("%s: book seq %d after %d, merged %d", b.Symbol, b.Seq, prev, b.Merged)
		}
		c.seq[b.Symbol] = b.Seq
		c.books++
		if b.Merged >= 2 {
			c.merged++
		}
		// Merged events stand for a stretch: only an unmerged book
		// after an unmerged quote is of one moment.
		if q, ok := c.quote[b.Symbol]; quotes && ok && q.Merged == 0 && b.Merged == 0 {
			if b.Bids[0] != (market.Level{Price: q.Bid, Size: q.BidSize}) || b.Asks[0] != (market.Level{Price: q.Ask, Size: q.AskSize}) {
				t.Fatalf("%s: book top %v / %v, last quote %+v", b.Symbol, b.Bids[0], b.Asks[0], q)
			}
			c.tops++
		}
	}
}

// Live books with quotes: the gap rule, the top of each book the quote
// of the same moment, then an exact resume from ids all through.
func TestBookEventsLiveAndResume(t *testing.T) {
	e := newEnv(t, Options{}, feed.StreamConfig{})
	const q = "?events=quote,book"
	s := e.open(q, nil)
	snap := s.next()
	if snap.name != "snapshot" || !strings.Contains(snap.data, `"books":[]`) {
		t.Fatalf("snapshot %s %s", snap.name, snap.data)
	}
	e.runSim(1, 1500*time.Millisecond)
	final := e.newestBookSeqs()
	c := newBookChecker()
	var evs []event
	deadline := time.Now().Add(15 * time.Second)
	for !maps.Equal(c.seq, final) && time.Now().Before(deadline) {
		ev := s.next()
		c.check(t, ev, maxBookDepth, true)
		evs = append(evs, ev)
	}
	if !maps.Equal(c.seq, final) || c.books < 20 || c.tops < c.books/2 {
		t.Fatalf("live: %d books (%d checked against quotes), seqs %v, want %v", c.books, c.tops, c.seq, final)
	}
	s.close()
	// Resume from ids all through: every book after the id accounted
	// for (far behind, merged per symbol), up to the newest.
	for i := 0; i < len(evs)-1; i += 37 {
		rc := newBookChecker()
		for _, ev := range evs[:i+1] {
			rc.check(t, ev, maxBookDepth, false)
		}
		r := e.open(q, map[string]string{"Last-Event-ID": evs[i].id})
		deadline := time.Now().Add(10 * time.Second)
		for !maps.Equal(rc.seq, final) {
			if time.Now().After(deadline) {
				t.Fatalf("resume from %s: books %v, want %v", evs[i].id, rc.seq, final)
			}
			ev := r.next()
			if ev.name == "reset" || ev.name == "snapshot" {
				t.Fatalf("resume from %s: %s %s", evs[i].id, ev.name, ev.data)
			}
			rc.check(t, ev, maxBookDepth, false)
		}
		r.close()
	}
	// From a recent id, not merged: exactly the events after it.
	i := len(evs) - 30
	r := e.open(q, map[string]string{"Last-Event-ID": evs[i].id})
	for k, exp := range evs[i+1:] {
		ev := r.next()
		if ev.name != exp.name || ev.data != exp.data || ev.id != exp.id {
			t.Fatalf("resume from %s: event %d is %s %s %s, want %s %s %s", evs[i].id, k, ev.name, ev.id, ev.data, exp.name, exp.id, exp.data)
		}
	}
	r.close()
	// A new client's snapshot has every symbol's newest book.
	s = e.open(q+"&depth=2", nil)
	snap = s.next()
	var sd struct{ Books []market.Book }
	if err := json.Unmarshal([]byte(snap.data), &sd); err != nil || len(sd.Books) != len(testSymbols) {
		t.Fatalf("snapshot books %s: %v", snap.data, err)
	}
	for _, b := range sd.Books {
		if err := b.Validate(); err != nil || len(b.Bids) != 2 || len(b.Asks) != 2 || b.Seq != c.seq[b.Symbol] && b.Seq < c.seq[b.Symbol] {
			t.Fatalf("snapshot book %+v: %v", b, err)
		}
	}
}

// Throttled: books merge to the newest with merged, every book
// accounted for; ?depth= cuts them.
func TestBookEventsThrottled(t *testing.T) {
	e := newEnv(t, Options{}, feed.StreamConfig{})
	s := e.open("?events=book&depth=3&throttle=400ms", nil)
	if ev := s.next(); ev.name != "snapshot" {
		t.Fatal(ev.name)
	}
	e.runSim(2, 1500*time.Millisecond)
	want := e.newestBookSeqs()
	c := newBookChecker()
	deadline := time.Now().Add(15 * time.Second)
	for !maps.Equal(c.seq, want) && time.Now().Before(deadline) {
		c.check(t, s.next(), 3, false)
	}
	if !maps.Equal(c.seq, want) || c.merged == 0 {
		t.Fatalf("throttled: %d books, %d merged, seqs %v, want %v", c.books, c.merged, c.seq, want)
	}
}

// Resumed from behind the ring (JetStream history): every book
// accounted for, up to the newest.
func TestBookEventsResumeFromHistory(t *testing.T) {
	e := newEnv(t, Options{RingSize: 64, MergeAfter: 16}, feed.StreamConfig{})
	start := sse.FormatID(e.state().Epoch, e.state().LastSeq)
	e.runSim(3, 1500*time.Millisecond)
	want := e.newestBookSeqs()
	// From the start: hundreds of messages behind a ring of 64.
	r := e.open("?events=book", map[string]string{"Last-Event-ID": start})
	c := newBookChecker()
	for sym := range want {
		c.seq[sym] = 0
	}
	deadline := time.Now().Add(15 * time.Second)
	for !maps.Equal(c.seq, want) && time.Now().Before(deadline) {
		ev := r.next()
		if ev.name == "reset" || ev.name == "snapshot" {
			t.Fatalf("%s: %s", ev.name, ev.data)
		}
		c.check(t, ev, maxBookDepth, false)
	}
	if !maps.Equal(c.seq, want) {
		t.Fatalf("resume from history: seqs %v, want %v", c.seq, want)
	}
}

// newestBookSeqs returns the seq of each symbol's newest book.
func (e *env) newestBookSeqs() map[string]uint64 {
	out := map[string]uint64{}
	for _, b := range e.lastBooks() {
		out[b.Symbol] = b.Seq
	}
	return out
}

// lastBooks returns the newest book of each symbol in the stream.
func (e *env) lastBooks() []market.Book {
	e.t.Helper()
	var out []market.Book
	for _, s := range testSymbols {
		var m feed.RawMsg
		waitFor(e.t, 5*time.Second, "last book of "+s, func() bool {
			var err error
			m, err = e.conn.Last(context.Background(), feed.BookSubject(s))
			return err == nil
		})
		b, err := market.DecodeBook(m.Data)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func TestBookBadRequests(t *testing.T) {
	e := newEnv(t, Options{}, feed.StreamConfig{})
	for _, q := range []string{"events=book&depth=0", "events=book&depth=11", "events=book&depth=x", "events=quote&depth=3", "depth=5", "events=books"} {
		resp, err := http.Get(e.hs.URL + "/v1/stream?" + q)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Error string }
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || err != nil || body.Error == "" {
			t.Errorf("%s: %d %+v %v", q, resp.StatusCode, body, err)
		}
	}
	if maxBookDepth != sim.BookLevels {
		t.Errorf("the gateway's most depth %d is not the simulator's %d", maxBookDepth, sim.BookLevels)
	}
}

// A book client far behind resumes across whole history blocks from
// their summaries: each symbol's books merged to the newest at the
// client's depth, the gap rule exact, and no block read from JetStream
// again (the tail summarised them).
func TestBookDeepResumeFoldsSummaries(t *testing.T) {
	e := newEnv(t, Options{RingSize: 1024, MergeAfter: 64}, feed.StreamConfig{})
	start := e.state()
	p := e.conn.NewPipeline()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	want := map[string]uint64{}
	for i := 0; i < 3*blockSeqs+500; i++ {
		s := testSymbols[i%len(testSymbols)]
		want[s]++
		px := 100 + float64(i%7)/100
		b := market.Book{Symbol: s, Seq: want[s], Time: time.Now().UTC(), MarketTime: time.Now().UTC(),
			Bids: []market.Level{{Price: px, Size: 100}, {Price: px - 0.01, Size: 200}, {Price: px - 0.02, Size: 300}},
			Asks: []market.Level{{Price: px + 0.01, Size: 100}, {Price: px + 0.02, Size: 200}, {Price: px + 0.03, Size: 300}}}
		if err := p.PublishBook(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	e.waitHub(e.state().LastSeq)
	before := counterValue(t, e, "tickcast_history_blocks_read_total", "")

	r := e.open("?events=book&depth=2", map[string]string{"Last-Event-ID": sse.FormatID(start.Epoch, start.LastSeq)})
	got := map[string]uint64{}
	merged := 0
	deadline := time.Now().Add(20 * time.Second)
	for !maps.Equal(got, want) && time.Now().Before(deadline) {
		ev := r.next()
		if ev.name != "book" {
			t.Fatalf("%s event: %s", ev.name, ev.data)
		}
		var b market.Book
		if err := json.Unmarshal([]byte(ev.data), &b); err != nil {
			t.Fatal(err)
		}
		if len(b.Bids) != 2 || len(b.Asks) != 2 {
			t.Fatalf("book at depth 2 with %d bids and %d asks: %s", len(b.Bids), len(b.Asks), ev.data)
		}
		if n := max(b.Merged, 1); b.Seq-got[b.Symbol] != uint64(n) {
			t.Fatalf("%s book %d after %d with merged %d: the gap rule", b.Symbol, b.Seq, got[b.Symbol], b.Merged)
		}
		if b.Merged > 0 {
			merged++
		}
		got[b.Symbol] = b.Seq
	}
	if !maps.Equal(got, want) {
		t.Fatalf("books resumed to %v, want %v", got, want)
	}
	if merged == 0 {
		t.Error("no merged book in a resume blocks behind: the history was sent book by book")
	}
	if n := counterValue(t, e, "tickcast_history_blocks_read_total", ""); n != before {
		t.Errorf("%v history blocks read: the tail's summaries were not used", n-before)
	}
}
