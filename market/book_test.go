package market

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

func sampleBook() Book {
	return Book{Symbol: "AAPL", Seq: 12, Time: evWall, MarketTime: evMarket,
		Bids: []Level{{189.22, 300}, {189.21, 500}, {189.2, 1200}},
		Asks: []Level{{189.24, 200}, {189.25, 700}}}
}

func TestBookJSON(t *testing.T) {
	b := sampleBook()
	js := b.AppendJSON(nil)
	want := `{"symbol":"AAPL","seq":12,"time":"2026-11-23T14:30:00.123456789Z","marketTime":"2026-11-23T14:31:05Z",` +
		`"bids":[[189.22,300],[189.21,500],[189.2,1200]],"asks":[[189.24,200],[189.25,700]]}`
	if string(js) != want {
		t.Fatalf("AppendJSON\n got %s\nwant %s", js, want)
	}
	sameJSON(t, "book", js, b)
	b.Merged = 3
	sameJSON(t, "merged book", b.AppendJSON(nil), b)
	got, err := DecodeBook(b.AppendJSON(nil))
	if err != nil || !reflect.DeepEqual(got, b) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	empty := Book{Symbol: "X", Seq: 1, Time: evWall, MarketTime: evMarket}
	if js := empty.AppendJSON(nil); string(js) != `{"symbol":"X","seq":1,"time":"2026-11-23T14:30:00.123456789Z","marketTime":"2026-11-23T14:31:05Z","bids":[],"asks":[]}` {
		t.Errorf("empty book: %s", js)
	}
	if top := b.Top(1); len(top.Bids) != 1 || len(top.Asks) != 1 || top.Bids[0] != b.Bids[0] || len(b.Bids) != 3 {
		t.Errorf("Top(1): %+v", top)
	}
	if top := b.Top(10); len(top.Bids) != 3 || len(top.Asks) != 2 {
		t.Errorf("Top(10): %+v", top)
	}
}

func TestBookValidate(t *testing.T) {
	for name, mod := range map[string]func(*Book){
		"crossed":         func(b *Book) { b.Asks[0].Price = 189.22 },
		"bids rising":     func(b *Book) { b.Bids[1].Price = 189.23 },
		"asks falling":    func(b *Book) { b.Asks[1].Price = 189.23 },
		"zero size":       func(b *Book) { b.Bids[2].Size = 0 },
		"zero price":      func(b *Book) { b.Bids[2].Price = 0 },
		"no seq":          func(b *Book) { b.Seq = 0 },
		"no market time":  func(b *Book) { b.MarketTime = time.Time{} },
		"bad symbol":      func(b *Book) { b.Symbol = "a b" },
		"too deep":        func(b *Book) { b.Asks = make([]Level, MaxBookDepth+1) },
		"negative merged": func(b *Book) { b.Merged = -1 },
	} {
		b := sampleBook()
		mod(&b)
		if err := b.Validate(); !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("%s: accepted (%v)", name, err)
		}
	}
	if _, err := DecodeBook([]byte(`{"symbol":"AAPL","seq":1,"bids":[[1,"x"]]}`)); !errors.Is(err, ErrInvalidEvent) {
		t.Errorf("bad level: %v", err)
	}
	b := sampleBook()
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestTickSide(t *testing.T) {
	tk := Tick{Symbol: "AAPL", Seq: 1, Time: evWall, Price: 1, Bid: 1, Ask: 1, Size: 1, Volume: 1, MarketTime: evMarket, Conditions: "O"}
	for _, side := range []string{SideBuy, SideSell} {
		tk.Side = side
		js := tk.AppendJSON(nil)
		sameJSON(t, "tick "+side, js, tk)
		if got, ok := decodeCanonical(js); !ok || got != tk {
			t.Errorf("fast decode of %s: %+v %v", js, got, ok)
		}
		var back Tick
		if err := json.Unmarshal(js, &back); err != nil || back != tk {
			t.Errorf("encoding/json of %s: %+v %v", js, back, err)
		}
	}
	tk.Side = "sideways"
	if _, err := DecodeTick(tk.AppendJSON(nil)); !errors.Is(err, ErrInvalidTick) {
		t.Errorf("unknown side accepted: %v", err)
	}
}

// FuzzDecodeBook checks that DecodeBook, fast path or not, gives what
// encoding/json gives (and the same verdict), and that every document
// the fast path takes is one encoding/json reads the same.
func FuzzDecodeBook(f *testing.F) {
	b := sampleBook()
	f.Add(b.AppendJSON(nil))
	b.Merged = 3
	f.Add(b.AppendJSON(nil))
	js, _ := json.Marshal(b)
	f.Add(js)
	empty := Book{Symbol: "X", Seq: 1, Time: evWall, MarketTime: evMarket}
	f.Add(empty.AppendJSON(nil))
	f.Add([]byte(`{"symbol":"A","seq":1,"time":"2026-01-01T00:00:00Z","marketTime":"2026-01-01T00:00:00Z","bids":[[1,1,7]],"asks":[[2,-0]]}`))
	f.Add([]byte(`{"symbol":"A","seq":1,"time":"2026-01-01T00:00:00Z","marketTime":"2026-01-01T00:00:00Z","bids":[[1e2,1.0]],"asks":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var want Book
		werr := decodeEvent(data, &want, want.Validate)
		got, gerr := DecodeBook(data)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("%q: json err %v, fast err %v", data, werr, gerr)
		}
		if werr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: json %+v, fast %+v", data, want, got)
		}
		if c, ok := decodeBookCanonical(data); ok {
			var j Book
			if err := json.Unmarshal(data, &j); err != nil {
				t.Fatalf("%q: canonical for the fast path but json says %v", data, err)
			}
			if !reflect.DeepEqual(c, j) {
				t.Fatalf("%q: json %+v, fast %+v", data, j, c)
			}
		}
	})
}

// BenchmarkDecodeBook is the gateway's cost per book read from the
// stream.
func BenchmarkDecodeBook(b *testing.B) {
	bk := sampleBook()
	data := bk.AppendJSON(nil)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeBook(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var v Book
			if err := decodeEvent(data, &v, v.Validate); err != nil {
				b.Fatal(err)
			}
		}
	})
}
