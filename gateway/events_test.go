package gateway

// Tests of the event types beside ticks (issue 15): quote, trade, bar,
// status and clock events on /v1/stream, their counters, exact resume,
// merging, ?from=, GET /v1/bars and GET /v1/market, and the 400s. Over
// 400 lines: one scenario helper (publishMixed) serves every test of the
// file, which would otherwise repeat it.

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/gateway/sse"
	"github.com/tickcast/tickcast/market"
)

// mixed counts what publishMixed published, per type and symbol.
type mixed struct {
	quotes, bars1s, bars1m, status map[string]uint64
	clock                          uint64
	ticks                          int
}

func newMixed() *mixed {
	return &mixed{quotes: map[string]uint64{}, bars1s: map[string]uint64{}, bars1m: map[string]uint64{}, status: map[string]uint64{}}
}

// publishMixed publishes n rounds over syms: per symbol one tick, three
// quotes, a 1s bar every round, a 1m bar every 4th, a status every 5th,
// and a clock event every 3rd round.
func (e *env) publishMixed(m *mixed, n int, syms ...string) {
	e.t.Helper()
	if len(syms) == 0 {
		syms = testSymbols
	}
	ctx := context.Background()
	now := time.Now().UTC()
	for r := 0; r < n; r++ {
		for _, s := range syms {
			e.publish(1, s)
			m.ticks++
			for k := 0; k < 3; k++ {
				m.quotes[s]++
				q := market.Quote{Symbol: s, Seq: m.quotes[s], Time: time.Now().UTC(), MarketTime: now, Bid: 99.99, Ask: 100.01, BidSize: 100 + int64(k), AskSize: 200}
				if err := e.conn.PublishQuote(ctx, q); err != nil {
					e.t.Fatal(err)
				}
			}
			pubBar := func(iv string, ctr map[string]uint64, d time.Duration) {
				ctr[s]++
				start := now.Truncate(d).Add(time.Duration(ctr[s]) * d)
				b := market.Bar{Symbol: s, Interval: iv, Seq: ctr[s], Start: start, End: start.Add(d), MarketStart: start,
					Open: 100, High: 101, Low: 99, Close: 100.5, Volume: 300, Trades: 3}
				if err := e.conn.PublishBar(ctx, b); err != nil {
					e.t.Fatal(err)
				}
			}
			pubBar(market.Interval1s, m.bars1s, time.Second)
			if r%4 == 0 {
				pubBar(market.Interval1m, m.bars1m, time.Minute)
			}
			if r%5 == 0 {
				m.status[s]++
				state := market.StateOpen
				if m.status[s]%2 == 1 {
					state = market.StateHalted
				}
				st := market.Status{Symbol: s, Seq: m.status[s], Time: time.Now().UTC(), MarketTime: now, State: state, Reason: "test"}
				if err := e.conn.PublishStatus(ctx, st); err != nil {
					e.t.Fatal(err)
				}
			}
		}
		if r%3 == 0 {
			m.clock++
			k := market.Clock{Seq: m.clock, Time: time.Now().UTC(), MarketTime: now, Phase: market.PhaseRegular, Speed: 1,
				NextPhase: market.PhaseAfter, NextPhaseAt: now.Add(time.Hour), TZ: market.MarketTZ}
			if err := e.conn.PublishClock(ctx, k); err != nil {
				e.t.Fatal(err)
			}
		}
	}
	e.waitHub(e.state().LastSeq)
}

// counters checks events as a client would: per symbol and type, each
// counter is the previous plus merged (1 when absent); ids never go
// down. It returns the failures.
type counters struct {
	last   map[string]uint64 // "type/symbol[/interval]" -> seq
	lastID uint64
	n      map[string]int // events by type
}

func newCounters() *counters { return &counters{last: map[string]uint64{}, n: map[string]int{}} }

func (c *counters) check(t *testing.T, ev event, exact bool) {
	t.Helper()
	var f struct {
		Symbol   string `json:"symbol"`
		Interval string `json:"interval"`
		Seq      uint64 `json:"seq"`
		Merged   uint64 `json:"merged"`
	}
	if err := json.Unmarshal([]byte(ev.data), &f); err != nil {
		t.Fatalf("%s %q: %v", ev.name, ev.data, err)
	}
	_, seq, err := sse.ParseID(ev.id)
	if err != nil {
		t.Fatalf("%s: id %q: %v", ev.name, ev.id, err)
	}
	if seq < c.lastID {
		t.Fatalf("%s: id %d after %d: ids went down", ev.name, seq, c.lastID)
	}
	c.lastID = seq
	key := ev.name + "/" + f.Symbol + "/" + f.Interval
	step := max(f.Merged, 1)
	if prev, ok := c.last[key]; ok && exact && f.Seq-prev != step {
		t.Fatalf("%s: seq %d after %d, merged %d: a gap or a repeat", key, f.Seq, prev, f.Merged)
	}
	if (ev.name == "bar" || ev.name == "status" || ev.name == "clock") && f.Merged != 0 {
		t.Fatalf("%s merged: %s", ev.name, ev.data)
	}
	c.last[key] = f.Seq
	c.n[ev.name]++
}

// until reads events into c until done says so.
func (c *counters) until(t *testing.T, s *stream, exact bool, done func() bool) []event {
	t.Helper()
	var out []event
	deadline := time.Now().Add(15 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("not done within 15s; counts %v, last %v", c.n, c.last)
		}
		ev := s.next()
		if ev.name == "snapshot" || ev.name == "reset" {
			t.Fatalf("unexpected %s: %s", ev.name, ev.data)
		}
		c.check(t, ev, exact)
		out = append(out, ev)
	}
	return out
}

func (c *counters) caughtUp(m *mixed, tick, trade bool) func() bool {
	return func() bool {
		for _, s := range testSymbols {
			if c.last["quote/"+s+"/"] != m.quotes[s] || c.last["bar/"+s+"/1s"] != m.bars1s[s] ||
				c.last["bar/"+s+"/1m"] != m.bars1m[s] || c.last["status/"+s+"/"] != m.status[s] {
				return false
			}
		}
		return c.last["clock//"] == m.clock
	}
}

const allEvents = "events=tick,quote,trade,bar,status"

// The default stream is today's: ticks only, whatever else the stream
// holds.
func TestEventsDefaultIsTicksOnly(t *testing.T) {
	e := newEnv(t, Options{}, feed.StreamConfig{})
	m := newMixed()
	e.publishMixed(m, 3)
	s := e.open("", nil)
	snap := s.next()
	if snap.name != "snapshot" || strings.Contains(snap.data, "quotes") {
		t.Fatalf("snapshot %q %q", snap.name, snap.data)
	}
	e.publishMixed(m, 2)
	for i := 0; i < 2*len(testSymbols); i++ {
		if ev := s.next(); ev.name != "tick" {
			t.Fatalf("event %q: %s", ev.name, ev.data)
		}
	}
	e.publish(1, "AAA")
	if ev := s.next(); ev.name != "tick" || ev.tick(t).Seq != 6 {
		t.Fatalf("%q %s", ev.name, ev.data)
	}
}

// Every type live, with its counter; the snapshot carries each type's
// newest; then an exact resume from many ids of the run.
func TestEventsLiveAndExactResume(t *testing.T) {
	e := newEnv(t, Options{}, feed.StreamConfig{})
	m := newMixed()
	e.publishMixed(m, 2)
	s := e.open("?"+allEvents, nil)
	snap := s.next()
	var sd struct {
		Ticks, Quotes, Bars, Statuses []json.RawMessage
		Clock                         *market.Clock
	}
	if err := json.Unmarshal([]byte(snap.data), &sd); err != nil || snap.name != "snapshot" {
		t.Fatalf("snapshot %q: %v", snap.data, err)
	}
	if len(sd.Ticks) != 4 || len(sd.Quotes) != 4 || len(sd.Bars) != 8 || len(sd.Statuses) != 4 || sd.Clock == nil || sd.Clock.Seq != m.clock {
		t.Fatalf("snapshot: %d ticks, %d quotes, %d bars, %d statuses, clock %v", len(sd.Ticks), len(sd.Quotes), len(sd.Bars), len(sd.Statuses), sd.Clock)
	}
	c := newCounters()
	for _, s := range testSymbols {
		c.last["quote/"+s+"/"], c.last["bar/"+s+"/1s"], c.last["bar/"+s+"/1m"], c.last["status/"+s+"/"] = m.quotes[s], m.bars1s[s], m.bars1m[s], m.status[s]
		c.last["tick/"+s+"/"], c.last["trade/"+s+"/"] = 2, 2
	}
	c.last["clock//"] = m.clock
	e.publishMixed(m, 6)
	evs := c.until(t, s, true, c.caughtUp(m, true, true))
	if c.n["tick"] != c.n["trade"] || c.n["tick"] < 6*4 {
		t.Fatalf("ticks %d, trades %d", c.n["tick"], c.n["trade"])
	}
	s.close()
	if len(evs) < 150 {
		t.Fatalf("only %d events", len(evs))
	}
	// Resume from ids of the run: exactly the events of the messages
	// after it, of the types asked for. A tick that comes with its trade
	// carries the id of the position before its message (the trade, its
	// own), so a resume from a tick's id repeats the tick, an overlap the
	// contract allows, and never skips the trade.
	msgSeq := func(x event) uint64 {
		_, seq, _ := sse.ParseID(x.id)
		if x.name == "tick" {
			seq++
		}
		return seq
	}
	for i := 0; i < len(evs)-1; i += 11 {
		for _, q := range []string{allEvents, "events=bar&bars=1m", "events=quote,status&symbols=BBB"} {
			r := e.open("?"+q, map[string]string{"Last-Event-ID": evs[i].id})
			_, from, _ := sse.ParseID(evs[i].id)
			var want []event
			for _, x := range evs[i:] {
				if matches(x, q) && msgSeq(x) > from {
					want = append(want, x)
				}
			}
			for k, exp := range want {
				ev := r.next()
				if ev.name != exp.name || ev.data != exp.data || ev.id != exp.id {
					t.Fatalf("resume %s from %s: event %d is %s %s %s, want %s %s %s", q, evs[i].id, k, ev.name, ev.id, ev.data, exp.name, exp.id, exp.data)
				}
			}
			r.close()
		}
	}
}

// matches says whether a client of query q gets ev.
func matches(ev event, q string) bool {
	switch {
	case q == allEvents:
		return true
	case strings.HasPrefix(q, "events=bar&bars=1m"):
		return ev.name == "bar" && strings.Contains(ev.data, `"interval":"1m"`)
	default: // quote,status of BBB (status brings the clock)
		return ev.name == "clock" || (ev.name == "quote" || ev.name == "status") && strings.Contains(ev.data, `"symbol":"BBB"`)
	}
}

// Throttled: quotes merge to the newest with merged; bars, status and
// clock come whole; every counter is accounted for.
func TestEventsMergeThrottled(t *testing.T) {
	e := newEnv(t, Options{}, feed.StreamConfig{})
	m := newMixed()
	e.publishMixed(m, 1)
	s := e.open("?"+allEvents+"&throttle=300ms", nil)
	if ev := s.next(); ev.name != "snapshot" {
		t.Fatal(ev.name)
	}
	c := newCounters()
	for _, sym := range testSymbols {
		c.last["quote/"+sym+"/"], c.last["bar/"+sym+"/1s"], c.last["bar/"+sym+"/1m"], c.last["status/"+sym+"/"] = m.quotes[sym], m.bars1s[sym], m.bars1m[sym], m.status[sym]
		c.last["tick/"+sym+"/"], c.last["trade/"+sym+"/"] = 1, 1
	}
	c.last["clock//"] = m.clock
	e.publishMixed(m, 10)
	c.until(t, s, true, c.caughtUp(m, true, true))
	if c.n["quote"] >= 30*len(testSymbols) {
		t.Fatalf("%d quote events for %d quotes: not merged", c.n["quote"], 30*len(testSymbols))
	}
	if c.n["bar"] != 10*4+3*4 {
		t.Fatalf("%d bar events, want every one (%d)", c.n["bar"], 13*4)
	}
}

// A resume from behind the ring (history from JetStream) of every type:
// bars and status whole, quotes and ticks accounted for.
func TestEventsResumeFromHistory(t *testing.T) {
	e := newEnv(t, Options{RingSize: 64, MergeAfter: 16}, feed.StreamConfig{})
	m := newMixed()
	e.publishMixed(m, 1)
	id := sse.FormatID(e.state().Epoch, e.state().LastSeq)
	c := newCounters()
	for _, sym := range testSymbols {
		c.last["quote/"+sym+"/"], c.last["bar/"+sym+"/1s"], c.last["bar/"+sym+"/1m"], c.last["status/"+sym+"/"] = m.quotes[sym], m.bars1s[sym], m.bars1m[sym], m.status[sym]
		c.last["tick/"+sym+"/"], c.last["trade/"+sym+"/"] = 1, 1
	}
	c.last["clock//"] = m.clock
	e.publishMixed(m, 40) // ~1,000 messages: far behind a ring of 64
	s := e.open("?"+allEvents, map[string]string{"Last-Event-ID": id})
	c.until(t, s, true, c.caughtUp(m, true, true))
	if c.n["bar"] != 40*4+10*4 || c.n["status"] != 8*4 {
		t.Fatalf("bars %d, status %d: some were dropped", c.n["bar"], c.n["status"])
	}
	e.publishMixed(m, 2)
	c.until(t, s, true, c.caughtUp(m, true, true))
}

// ?from= starts at the first message at or after that moment, from the
// ring or from JetStream.
func TestStreamFrom(t *testing.T) {
	e := newEnv(t, Options{}, feed.StreamConfig{})
	e.publish(4)
	time.Sleep(20 * time.Millisecond)
	at := time.Now().UTC()
	time.Sleep(20 * time.Millisecond)
	later := e.publish(4)
	e.waitHub(e.state().LastSeq)
	s := e.open("?from="+at.Format(time.RFC3339Nano), nil)
	for _, want := range later {
		ev := s.next()
		if ev.name != "tick" || ev.tick(t).Symbol != want.Symbol || ev.tick(t).Seq != want.Seq {
			t.Fatalf("got %s %s, want %s %d", ev.name, ev.data, want.Symbol, want.Seq)
		}
	}

	// Older than the ring: found in JetStream by time and read from
	// history, then live, with nothing missed.
	e2 := newEnv(t, Options{RingSize: 16, MergeAfter: 1000}, feed.StreamConfig{})
	created2 := time.Now().UTC()
	early := e2.publish(100)
	time.Sleep(20 * time.Millisecond)
	at2 := time.Now().UTC()
	time.Sleep(20 * time.Millisecond)
	want := e2.publish(100)
	e2.waitHub(e2.state().LastSeq)
	s2 := e2.open("?from="+at2.Format(time.RFC3339Nano), nil)
	want = append(want, e2.publish(10)...) // live, after the catch-up
	for _, w := range want {
		ev := s2.next()
		if ev.name != "tick" || ev.tick(t).Symbol != w.Symbol || ev.tick(t).Seq != w.Seq {
			t.Fatalf("from history: got %s %s, want %s %d", ev.name, ev.data, w.Symbol, w.Seq)
		}
	}
	// Before the stream's first message, when nothing has left it and
	// after the stream was created: from its start.
	s3 := e2.open("?from="+created2.Format(time.RFC3339Nano), nil)
	if ev := s3.next(); ev.name != "tick" || ev.tick(t).Symbol != early[0].Symbol || ev.tick(t).Seq != 1 {
		t.Fatalf("from before the start: got %s %s, want the first tick", ev.name, ev.data)
	}
	// Before the stream was created: an earlier incarnation may have
	// held messages after it, gone now: a reset.
	s5 := e2.open("?from=2020-01-01T00:00:00Z", nil)
	if ev := s5.next(); ev.name != "reset" || !strings.Contains(ev.data, resetExpired) {
		t.Fatalf("from before the stream was created: %s %s, want reset expired", ev.name, ev.data)
	}

	// Older than the stream's window (its first messages were removed):
	// a reset, then a snapshot.
	e4 := newEnv(t, Options{RingSize: 16}, feed.StreamConfig{MaxBytes: 8 << 10})
	e4.publish(100)
	e4.waitHub(e4.state().LastSeq)
	if e4.state().FirstSeq == 1 {
		t.Fatal("the stream kept its first message; the test needs it gone")
	}
	s4 := e4.open("?from=2020-01-01T00:00:00Z", nil)
	if ev := s4.next(); ev.name != "reset" || !strings.Contains(ev.data, resetExpired) {
		t.Fatalf("%s %s", ev.name, ev.data)
	}
	if ev := s4.next(); ev.name != "snapshot" {
		t.Fatal(ev.name)
	}
}

// GET /v1/bars returns history oldest first and an id from which a bar
// stream continues with nothing missed or doubled.
func TestBarsHistoryThenLive(t *testing.T) {
	e := newEnv(t, Options{}, feed.StreamConfig{})
	m := newMixed()
	e.publishMixed(m, 8)
	var br struct {
		Symbol, Interval, ID string
		Bars                 []market.Bar
	}
	waitFor(t, 10*time.Second, "bars in history", func() bool {
		getJSON(t, e.hs.URL+"/v1/bars?symbol=aaa&interval=1s", http.StatusOK, &br)
		return len(br.Bars) == 8
	})
	for i, b := range br.Bars {
		if b.Seq != uint64(i+1) || b.Symbol != "AAA" || b.Interval != "1s" {
			t.Fatalf("bar %d: %+v", i, b)
		}
	}
	getJSON(t, e.hs.URL+"/v1/bars?symbol=AAA&interval=1s&limit=3", http.StatusOK, &br)
	if len(br.Bars) != 3 || br.Bars[0].Seq != 6 || br.Bars[2].Seq != 8 {
		t.Fatalf("limit 3: %+v", br.Bars)
	}
	s := e.open("?events=bar&bars=1s&symbols=AAA", map[string]string{"Last-Event-ID": br.ID})
	e.publishMixed(m, 3)
	for want := uint64(9); want <= 11; want++ {
		ev := s.next()
		var b market.Bar
		if err := json.Unmarshal([]byte(ev.data), &b); err != nil || ev.name != "bar" || b.Seq != want || b.Symbol != "AAA" {
			t.Fatalf("got %s %s, want bar %d: %v", ev.name, ev.data, want, err)
		}
	}
}

// GET /v1/market: the newest clock extrapolated, and who is not open.
func TestMarketEndpoint(t *testing.T) {
	e := newEnv(t, Options{}, feed.StreamConfig{})
	var mr struct {
		Clock    *market.Clock
		Statuses []market.Status
	}
	getJSON(t, e.hs.URL+"/v1/market", http.StatusOK, &mr)
	if mr.Clock != nil || mr.Statuses == nil {
		t.Fatalf("before any clock: %+v", mr)
	}
	m := newMixed()
	e.publishMixed(m, 1) // status 1 of each symbol: halted
	getJSON(t, e.hs.URL+"/v1/market", http.StatusOK, &mr)
	if mr.Clock == nil || mr.Clock.Phase != market.PhaseRegular || mr.Clock.Seq != 1 || len(mr.Statuses) != 4 || mr.Statuses[0].State != market.StateHalted {
		t.Fatalf("market: %+v", mr)
	}
	if d := time.Since(mr.Clock.Time); d < 0 || d > 5*time.Second {
		t.Fatalf("clock time %v not now", mr.Clock.Time)
	}
	// A restarted gateway knows the clock from the companion stream.
	e.stopGateway()
	e.publish(300)
	e.startGateway(Options{RingSize: 64})
	mr.Clock = nil
	getJSON(t, e.hs.URL+"/v1/market", http.StatusOK, &mr)
	if mr.Clock == nil || mr.Clock.Seq != 1 {
		t.Fatalf("after restart: %+v", mr)
	}
}

func TestEventsBadRequests(t *testing.T) {
	e := newEnv(t, Options{}, feed.StreamConfig{})
	for _, q := range []string{
		"/v1/stream?events=ticks", "/v1/stream?events=,", "/v1/stream?events=bar&bars=5m", "/v1/stream?bars=1s",
		"/v1/stream?events=quote&bars=1m", "/v1/stream?from=yesterday",
		"/v1/bars", "/v1/bars?symbol=a.b", "/v1/bars?symbol=AAA&interval=1h", "/v1/bars?symbol=AAA&limit=0",
		"/v1/bars?symbol=AAA&limit=5001", "/v1/bars?symbol=AAA&from=x", "/v1/bars?symbol=ZZZ",
		"/v1/bars?symbol=AAA&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
	} {
		var body struct{ Error string }
		getJSON(t, e.hs.URL+q, http.StatusBadRequest, &body)
		if body.Error == "" {
			t.Errorf("%s: no error text", q)
		}
	}
}

func getJSON(t *testing.T, url string, status int, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != status {
		t.Fatalf("%s: status %d, want %d", url, resp.StatusCode, status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s: %v", url, fmt.Errorf("decode: %w", err))
	}
}

// A client of ticks is not woken for quotes, but a long run of quotes
// only (a closed market) does not lap it: the hub wakes every client
// now and then, so its cursor follows the ring.
func TestTickClientNotLappedByQuotes(t *testing.T) {
	e := newEnv(t, Options{RingSize: 2048}, feed.StreamConfig{})
	e.publish(1, "AAA")
	e.waitHub(e.state().LastSeq) // else the snapshot may come before tick 1, and tick 1 after it
	a := e.open("", nil)
	b := e.open("?symbols=AAA", nil)
	for _, s := range []*stream{a, b} {
		if ev := s.next(); ev.name != "snapshot" {
			t.Fatal(ev.name)
		}
	}
	now := time.Now().UTC()
	for i := uint64(1); i <= 5000; i++ {
		q := market.Quote{Symbol: "AAA", Seq: i, Time: now, MarketTime: now, Bid: 99, Ask: 100, BidSize: 1, AskSize: 1}
		if err := e.conn.PublishQuote(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
	e.waitHub(e.state().LastSeq)
	e.publish(1, "AAA")
	for _, s := range []*stream{a, b} {
		if ev := s.next(); ev.name != "tick" || ev.tick(t).Seq != 2 {
			t.Fatalf("%s %s", ev.name, ev.data)
		}
	}
}

// A ticks-only client resuming from any id of a stream of every event
// type (from memory, from a block's tail, from whole-block summaries)
// gets each symbol's ticks with no gap: seq - previous == merged.
func TestTickResumeAmongOtherTypes(t *testing.T) {
	e := newEnv(t, Options{RingSize: 256, MergeAfter: 16}, feed.StreamConfig{})
	m := newMixed()
	for r := 0; r < 700; r++ {
		e.publishMixed(m, 1) // ~22 messages: 700 rounds span 3 blocks
	}
	e.waitHub(e.state().LastSeq)
	epoch := e.state().Epoch
	lastSeq := e.state().LastSeq
	state := make([]map[string]uint64, lastSeq+1)
	cur := map[string]uint64{}
	state[0] = maps.Clone(cur)
	if err := e.conn.ReadRange(context.Background(), 1, lastSeq, func(m feed.Msg, bad error) error {
		if m.IsTick() {
			cur[m.Tick.Symbol] = m.Tick.Seq
		}
		state[m.Seq] = maps.Clone(cur)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for r := uint64(0); r < lastSeq-30; r += 113 {
		s := e.open("", map[string]string{"Last-Event-ID": sse.FormatID(epoch, r)})
		last := maps.Clone(state[r])
		deadline := time.Now().Add(10 * time.Second)
		for done := false; !done; {
			if time.Now().After(deadline) {
				t.Fatalf("from %d: not caught up within 10s: %v", r, last)
			}
			ev := s.next()
			if ev.name != "tick" {
				t.Fatalf("from %d: %s %s", r, ev.name, ev.data)
			}
			var f struct {
				Symbol string
				Seq    uint64
				Merged uint64
			}
			if err := json.Unmarshal([]byte(ev.data), &f); err != nil {
				t.Fatal(err)
			}
			if f.Seq-last[f.Symbol] != max(f.Merged, 1) {
				t.Fatalf("from %d: %s seq %d after %d, merged %d", r, f.Symbol, f.Seq, last[f.Symbol], f.Merged)
			}
			last[f.Symbol] = f.Seq
			done = true
			for _, sym := range testSymbols {
				if last[sym] != 700 {
					done = false
				}
			}
		}
		s.close()
	}
}
