package market

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	evWall   = time.Date(2026, 11, 23, 14, 30, 0, 123456789, time.UTC)
	evMarket = time.Date(2026, 11, 23, 14, 31, 5, 0, time.UTC)
)

func sampleEvents() (Quote, Bar, Status, Clock) {
	return Quote{Symbol: "AAPL", Seq: 7, Time: evWall, MarketTime: evMarket, Bid: 189.22, Ask: 189.24, BidSize: 300, AskSize: 1200},
		Bar{Symbol: "BRK-B", Interval: Interval1m, Seq: 3, Start: evWall.Truncate(time.Minute), End: evWall.Truncate(time.Minute).Add(time.Minute),
			MarketStart: evMarket, Open: 10, High: 12.5, Low: 9.75, Close: 11, Volume: 5000, Trades: 12},
		Status{Symbol: "TSLA", Seq: 1, Time: evWall, MarketTime: evMarket, State: StateLimitDown, Reason: "luld", BandLow: 95, BandHigh: 105},
		Clock{Seq: 9, Time: evWall, MarketTime: evMarket, Phase: PhaseRegular, Speed: 39, NextPhase: PhaseAfter,
			NextPhaseAt: evMarket.Add(time.Hour), TZ: MarketTZ}
}

func sameJSON(t *testing.T, name string, got []byte, v any) {
	t.Helper()
	want, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("%s AppendJSON\n got %s\nwant %s", name, got, want)
	}
}

func TestEventsAppendJSONMatchesEncodingJSON(t *testing.T) {
	q, b, s, c := sampleEvents()
	sameJSON(t, "quote", q.AppendJSON(nil), q)
	q.Merged = 4
	sameJSON(t, "merged quote", q.AppendJSON(nil), q)
	sameJSON(t, "bar", b.AppendJSON(nil), b)
	sameJSON(t, "status", s.AppendJSON(nil), s)
	s.Reason = "a <b> & \"c\""
	sameJSON(t, "status with escapes", s.AppendJSON(nil), s)
	sameJSON(t, "clock", c.AppendJSON(nil), c)
}

func TestEventsRoundTrip(t *testing.T) {
	q, b, s, c := sampleEvents()
	if got, err := DecodeQuote(q.AppendJSON(nil)); err != nil || got != q {
		t.Errorf("quote: %+v %v", got, err)
	}
	if got, err := DecodeBar(b.AppendJSON(nil)); err != nil || got != b {
		t.Errorf("bar: %+v %v", got, err)
	}
	if got, err := DecodeStatus(s.AppendJSON(nil)); err != nil || got != s {
		t.Errorf("status: %+v %v", got, err)
	}
	if got, err := DecodeClock(c.AppendJSON(nil)); err != nil || got != c {
		t.Errorf("clock: %+v %v", got, err)
	}
}

func TestEventsValidate(t *testing.T) {
	q, b, s, c := sampleEvents()
	for name, err := range map[string]error{"quote": q.Validate(), "bar": b.Validate(), "status": s.Validate(), "clock": c.Validate()} {
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	bad := map[string]error{}
	q1 := q
	q1.Bid = 200
	bad["crossed quote"] = q1.Validate()
	q1 = q
	q1.MarketTime = time.Time{}
	bad["quote without market time"] = q1.Validate()
	b1 := b
	b1.Interval = "5m"
	bad["bar interval"] = b1.Validate()
	b1 = b
	b1.High = 10.5
	bad["bar high below close"] = b1.Validate()
	b1 = b
	b1.End = b1.Start
	bad["bar empty range"] = b1.Validate()
	s1 := s
	s1.State = "paused"
	bad["status state"] = s1.Validate()
	s1 = s
	s1.BandLow = 200
	bad["status band"] = s1.Validate()
	c1 := c
	c1.Phase = "lunch"
	bad["clock phase"] = c1.Validate()
	c1 = c
	c1.Speed = 0
	bad["clock speed"] = c1.Validate()
	for name, err := range bad {
		if !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("%s: accepted (%v)", name, err)
		}
	}
	if _, err := DecodeBar([]byte(`{"symbol":"A"`)); !errors.Is(err, ErrInvalidEvent) {
		t.Errorf("truncated bar: %v", err)
	}
}

func TestTickMarketTimeAndConditions(t *testing.T) {
	tk := Tick{Symbol: "AAPL", Seq: 1, Time: evWall, Price: 1, Bid: 1, Ask: 1, Size: 1, Volume: 1}
	plain := string(tk.AppendJSON(nil))
	if want := `{"symbol":"AAPL","seq":1,"time":"2026-11-23T14:30:00.123456789Z","price":1,"bid":1,"ask":1,"size":1,"volume":1}`; plain != want {
		t.Fatalf("a tick without the new fields changed:\n got %s\nwant %s", plain, want)
	}
	for _, cond := range []Conditions{"", "O", "T6", "TOT"} {
		tk.MarketTime, tk.Conditions = evMarket, cond
		js := tk.AppendJSON(nil)
		sameJSON(t, "tick "+string(cond), js, tk)
		if got, ok := decodeCanonical(js); !ok || got != tk {
			t.Errorf("fast decode of %s: %+v %v", js, got, ok)
		}
		var back Tick
		if err := json.Unmarshal(js, &back); err != nil || back != tk {
			t.Errorf("encoding/json of %s: %+v %v", js, back, err)
		}
	}
	tk.Conditions = "X"
	if tk.Validate() == nil {
		t.Error("unknown condition accepted")
	}
	if !Conditions("TO").Has(CondOpening) || Conditions("T").Has(CondClosing) {
		t.Error("Has")
	}
}

func FuzzEventsJSON(f *testing.F) {
	f.Add("AAPL", uint64(1), int64(1700000000123456789), int64(1700000000000000000), 189.23, 189.24, int64(300), int64(100), "luld")
	f.Add("BRK-B", uint64(99), int64(0), int64(5), 1e-7, 1e21, int64(0), int64(0), "")
	f.Fuzz(func(t *testing.T, sym string, seq uint64, ns, mns int64, lo, hi float64, n1, n2 int64, reason string) {
		wall, mkt := time.Unix(0, ns).UTC(), time.Unix(0, mns).UTC()
		reason = strings.ToValidUTF8(reason, "?") // encoding/json would rewrite the rest
		q := Quote{Symbol: sym, Seq: seq, Time: wall, MarketTime: mkt, Bid: lo, Ask: hi, BidSize: n1, AskSize: n2}
		if q.Validate() == nil {
			js := q.AppendJSON(nil)
			sameJSON(t, "quote", js, q)
			if back, err := DecodeQuote(js); err != nil || back != q {
				t.Fatalf("quote round trip of %s: %+v %v", js, back, err)
			}
		}
		b := Bar{Symbol: sym, Interval: Interval1s, Seq: seq, Start: wall, End: wall.Add(time.Second), MarketStart: mkt,
			Open: lo, High: hi, Low: lo, Close: hi, Volume: n1, Trades: n2}
		if b.Validate() == nil {
			js := b.AppendJSON(nil)
			sameJSON(t, "bar", js, b)
			if back, err := DecodeBar(js); err != nil || back != b {
				t.Fatalf("bar round trip of %s: %+v %v", js, back, err)
			}
		}
		s := Status{Symbol: sym, Seq: seq, Time: wall, MarketTime: mkt, State: StateHalted, Reason: reason, BandLow: lo, BandHigh: hi}
		if s.Validate() == nil {
			js := s.AppendJSON(nil)
			sameJSON(t, "status", js, s)
			if back, err := DecodeStatus(js); err != nil || back != s {
				t.Fatalf("status round trip of %s: %+v %v", js, back, err)
			}
		}
		c := Clock{Seq: seq, Time: wall, MarketTime: mkt, Phase: PhaseClosed, Speed: hi, NextPhase: PhasePre, NextPhaseAt: mkt, TZ: reason}
		if c.Validate() == nil {
			js := c.AppendJSON(nil)
			sameJSON(t, "clock", js, c)
			if back, err := DecodeClock(js); err != nil || back != c {
				t.Fatalf("clock round trip of %s: %+v %v", js, back, err)
			}
		}
	})
}
