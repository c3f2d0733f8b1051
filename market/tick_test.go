package market

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	for _, tk := range []Tick{
		{Symbol: "AAPL", Seq: 1042, Time: time.Date(2026, 11, 23, 14, 30, 0, 123456789, time.UTC), Price: 189.23, Bid: 189.22, Ask: 189.24, Size: 300, Volume: 1234500},
		{Symbol: "BRK-B", Seq: 1, Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600)), Price: 0.0001, Bid: 1e-7, Ask: 123456789.5, Size: 0, Volume: 0},
		{Symbol: "X", Seq: math.MaxUint64, Time: time.Unix(0, 1), Price: 5, Bid: 4, Ask: 6, Size: 7, Volume: 8, Merged: 3, High: 9, Low: 1},
		{Symbol: "H", Seq: 3, Time: time.Unix(0, 1), Price: 5, Bid: 4, Ask: 6, Status: StatusHalted},
	} {
		got := tk.AppendJSON(nil)
		tk.Time = tk.Time.UTC()
		want, _ := json.Marshal(tk)
		if string(got) != string(want) {
			t.Errorf("AppendJSON\n got %s\nwant %s", got, want)
		}
		var back Tick
		if err := json.Unmarshal(got, &back); err != nil || back != tk {
			t.Errorf("round trip: %+v, %v", back, err)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := Tick{Symbol: "AAPL", Seq: 1, Time: time.Now(), Price: 1, Bid: 1, Ask: 1}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Tick){
		"symbol":   func(t *Tick) { t.Symbol = "aapl" },
		"wildcard": func(t *Tick) { t.Symbol = "*" },
		"seq":      func(t *Tick) { t.Seq = 0 },
		"time":     func(t *Tick) { t.Time = time.Time{} },
		"nan":      func(t *Tick) { t.Price = math.NaN() },
		"inf":      func(t *Tick) { t.Ask = math.Inf(1) },
		"negative": func(t *Tick) { t.Size = -1 },
	} {
		tk := ok
		mut(&tk)
		if tk.Validate() == nil {
			t.Errorf("%s: invalid tick accepted", name)
		}
	}
}

func FuzzTickJSON(f *testing.F) {
	f.Add("AAPL", uint64(1), int64(1700000000123456789), 189.23, 189.22, 189.24, int64(300), int64(1234500), int64(0), 0.0, 0.0)
	f.Add("BRK-B", uint64(99), int64(0), 1e300, 1e-300, 5.0, int64(1), int64(2), int64(5), 9.0, 1.0)
	f.Fuzz(func(t *testing.T, sym string, seq uint64, ns int64, p, b, a float64, size, vol, merged int64, hi, lo float64) {
		tk := Tick{Symbol: sym, Seq: seq, Time: time.Unix(0, ns).UTC(), Price: p, Bid: b, Ask: a, Size: size, Volume: vol, Merged: merged, High: hi, Low: lo}
		if merged == 0 {
			tk.High, tk.Low = 0, 0
		}
		if tk.Validate() != nil {
			return
		}
		js := tk.AppendJSON(nil)
		for _, c := range js {
			if c == '\n' || c == '\r' {
				t.Fatalf("raw newline in %q", js)
			}
		}
		back, err := DecodeTick(js)
		if err != nil || back != tk {
			t.Fatalf("round trip of %q: %+v, %v", js, back, err)
		}
	})
}

func TestValidSymbol(t *testing.T) {
	for s, want := range map[string]bool{"AAPL": true, "BRK-B": true, "A1": true, "": false, "aapl": false, "AAPL.>": false,
		"*": false, ">": false, "ABCDEFGHIJKLMNOP": true, "ABCDEFGHIJKLMNOPQ": false, "A B": false} {
		if ValidSymbol(s) != want {
			t.Errorf("ValidSymbol(%q) != %v", s, want)
		}
	}
}
