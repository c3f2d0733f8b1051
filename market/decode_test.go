package market

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

func sampleTicks() []Tick {
	at := time.Date(2026, 11, 23, 14, 30, 0, 123456789, time.UTC)
	return []Tick{
		{Symbol: "AAPL", Seq: 1042, Time: at, Price: 189.23, Bid: 189.22, Ask: 189.24, Size: 300, Volume: 1234500},
		{Symbol: "BRK-B", Seq: 1, Time: at.Truncate(time.Second), Price: 1e-7, Bid: 0, Ask: 1e21, Size: 0, Volume: 0},
		{Symbol: "X", Seq: math.MaxUint64 / 10, Time: at.Add(time.Millisecond), Price: 3, Bid: 2, Ask: 4, Size: 5, Volume: 6,
			Merged: 7, High: 8.5, Low: 1.25, Status: StatusHalted, Side: SideSell},
		{Symbol: "Y", Seq: 9, Time: time.Date(2024, 2, 29, 23, 59, 59, 100, time.UTC), Price: 1, Status: StatusOpen},
	}
}

func TestDecodeTickFastCanonical(t *testing.T) {
	for _, want := range sampleTicks() {
		data := want.AppendJSON(nil)
		got, ok := decodeCanonical(data)
		if !ok {
			t.Fatalf("%s: not taken as canonical", data)
		}
		if !sameTick(got, want) {
			t.Fatalf("%s: got %+v want %+v", data, got, want)
		}
	}
}

func sameTick(a, b Tick) bool {
	at, bt := a.Time, b.Time
	a.Time, b.Time = time.Time{}, time.Time{}
	return a == b && at.Equal(bt) && at.Location().String() == bt.Location().String()
}

// FuzzDecodeTick checks that the fast path and encoding/json agree on
// every document the fast path accepts, and that DecodeTickFast as a
// whole gives what encoding/json gives.
func FuzzDecodeTick(f *testing.F) {
	for _, tk := range sampleTicks() {
		f.Add(tk.AppendJSON(nil))
		b, _ := json.Marshal(tk)
		f.Add(b)
	}
	f.Add([]byte(`{"symbol":"A","seq":01,"time":"2026-01-01T00:00:00Z","price":1,"bid":1,"ask":1,"size":1,"volume":1}`))
	f.Add([]byte(`{"symbol":"A","seq":1,"time":"2026-02-30T00:00:00Z","price":1.,"bid":1,"ask":1,"size":1,"volume":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		want, werr := decodeJSON(data)
		got, gerr := DecodeTickFast(data)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("%q: json err %v, fast err %v", data, werr, gerr)
		}
		if werr == nil && !sameTick(got, want) {
			t.Fatalf("%q: json %+v, fast %+v", data, want, got)
		}
		if c, ok := decodeCanonical(data); ok {
			var j Tick
			if err := json.Unmarshal(data, &j); err != nil {
				t.Fatalf("%q: canonical for the fast path but json says %v", data, err)
			}
			if !sameTick(c, j) {
				t.Fatalf("%q: json %+v, fast %+v", data, j, c)
			}
		}
	})
}

func BenchmarkDecodeTick(b *testing.B) {
	data := sampleTicks()[0].AppendJSON(nil)
	b.Run("fast", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := DecodeTickFast(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := decodeJSON(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzDecodeQuote checks that DecodeQuote, fast path or not, gives what
// encoding/json gives (and the same verdict), and that every document
// the fast path takes is one encoding/json reads the same.
func FuzzDecodeQuote(f *testing.F) {
	q, _, _, _ := sampleEvents()
	f.Add(q.AppendJSON(nil))
	q.Merged = 3
	f.Add(q.AppendJSON(nil))
	b, _ := json.Marshal(q)
	f.Add(b)
	f.Add([]byte(`{"symbol":"A","seq":1,"time":"2026-01-01T00:00:00Z","marketTime":"2026-01-01T00:00:00.5Z","bid":1,"ask":2,"bidSize":1,"askSize":-0}`))
	f.Add([]byte(`{"symbol":"A","seq":1,"time":"2026-01-01T00:00:00Z","marketTime":"2026-01-01T00:00:00Z","bid":1,"ask":2,"bidSize":1,"askSize":1,"bid":3}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var want Quote
		werr := decodeEvent(data, &want, want.Validate)
		got, gerr := DecodeQuote(data)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("%q: json err %v, fast err %v", data, werr, gerr)
		}
		if werr == nil && got != want {
			t.Fatalf("%q: json %+v, fast %+v", data, want, got)
		}
		if c, ok := decodeQuoteCanonical(data); ok {
			var j Quote
			if err := json.Unmarshal(data, &j); err != nil {
				t.Fatalf("%q: canonical for the fast path but json says %v", data, err)
			}
			if c != j {
				t.Fatalf("%q: json %+v, fast %+v", data, j, c)
			}
		}
	})
}

// BenchmarkDecodeQuote is the gateway's cost per quote read from the
// stream (quotes are most of the default feed's messages).
func BenchmarkDecodeQuote(b *testing.B) {
	q, _, _, _ := sampleEvents()
	data := q.AppendJSON(nil)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeQuote(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var q Quote
			if err := decodeEvent(data, &q, q.Validate); err != nil {
				b.Fatal(err)
			}
		}
	})
}
