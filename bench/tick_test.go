package bench

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tickcast/tickcast/market"
)

func randTick(rng *rand.Rand) market.Tick {
	syms := []string{"AAPL", "MSFT", "BRK-B", "X", "ABCDEFGHIJKLMNOP", "A1-2"}
	t := market.Tick{
		Symbol: syms[rng.IntN(len(syms))],
		Seq:    rng.Uint64N(1<<53) + 1,
		Time:   time.Unix(rng.Int64N(4_000_000_000), rng.Int64N(1e9)).UTC(),
		Price:  rng.Float64() * 1000,
		Bid:    rng.Float64() * 1000,
		Ask:    rng.Float64() * 1000,
		Size:   rng.Int64N(10000),
		Volume: rng.Int64N(1 << 40),
	}
	switch rng.IntN(4) {
	case 0:
		t.Time = t.Time.Truncate(time.Second) // no fraction
	case 1:
		t.Time = t.Time.Truncate(time.Millisecond) // trailing zeros trimmed
	}
	if rng.IntN(3) == 0 {
		t.Merged = rng.Int64N(1000) + 2
		t.High, t.Low = t.Price+1, t.Price-1
	}
	if rng.IntN(2) == 0 { // what the default simulator adds
		t.MarketTime = t.Time.Add(time.Duration(rng.Int64N(1e15)))
		t.Conditions = market.Conditions("TO6"[:rng.IntN(4)])
		t.Status = []string{"", market.StatusHalted, market.StatusOpen}[rng.IntN(3)]
	}
	return t
}

// The ticks the gateway sends with the default simulator carry
// marketTime, and at times status and conditions: the fast path must take
// them, or every event goes through encoding/json (20 times the CPU: the
// bench's clients then cost more than the gateway they measure).
func TestFastTickTakesTheGatewaysTicks(t *testing.T) {
	tk := market.Tick{Symbol: "AAPL", Seq: 36, Time: time.Date(2026, 12, 6, 22, 16, 24, 627624950, time.UTC),
		Price: 229.49, Bid: 229.49, Ask: 229.52, Size: 900, Volume: 7239,
		MarketTime: time.Date(2026, 12, 7, 14, 30, 29, 808483615, time.UTC)}
	for _, mod := range []func(*market.Tick){
		func(*market.Tick) {},
		func(t *market.Tick) { t.Status = market.StatusHalted },
		func(t *market.Tick) { t.Conditions = "TO" },
		func(t *market.Tick) { t.Merged, t.High, t.Low = 5, 230, 229 },
	} {
		x := tk
		mod(&x)
		data := x.AppendJSON(nil)
		var f tickFields
		if !fastTick(data, &f, nil) {
			t.Errorf("fastTick refused %s", data)
			continue
		}
		checkAgrees(t, data)
	}
	// with a string field the gateway may add (a trade's aggressor side)
	data := []byte(`{"symbol":"AAPL","seq":1,"time":"2026-11-23T14:30:00Z","price":1,"side":"buy","x":[],"y":null,"z":true}`)
	var f tickFields
	if !fastTick(data, &f, nil) {
		t.Errorf("fastTick refused %s", data)
	}
	// and leaves to slowTick what it cannot vouch for
	for _, s := range []string{
		`{"symbol":"A","seq":1,"time":"2026-11-23T14:30:00Z","s":"a\"b"}`,
		`{"symbol":"A","seq":1,"time":"2026-11-23T14:30:00Z","s":"é"}`,
		`{"symbol":"A","seq":1,"time":"2026-11-23T14:30:00Z","s":[[1]]}`,
		`{"symbol":"A","seq":1,"time":"2026-11-23T14:30:00Z","s":{}}`,
		`{"symbol":"A","seq":1,"time":"2026-11-23T14:30:00Z","s":tru}`,
	} {
		if fastTick([]byte(s), &f, nil) {
			t.Errorf("fastTick took %s", s)
		}
	}
}

func checkAgrees(t *testing.T, data []byte) {
	t.Helper()
	var want market.Tick
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatalf("encoding/json: %v on %s", err, data)
	}
	var got tickFields
	var tc timeCache
	if !parseTick(data, &got, &tc) {
		t.Fatalf("parseTick refused %s", data)
	}
	var slow tickFields
	if !slowTick(data, &slow, nil) || string(slow.symbol) != string(got.symbol) || slow.seq != got.seq || slow.timeNs != got.timeNs || slow.merged != got.merged {
		t.Fatalf("slowTick disagrees on %s", data)
	}
	if string(got.symbol) != want.Symbol || got.seq != want.Seq || got.timeNs != want.Time.UnixNano() || got.merged != want.Merged {
		t.Fatalf("parseTick(%s) = %s %d %d %d, encoding/json: %s %d %d %d", data,
			got.symbol, got.seq, got.timeNs, got.merged, want.Symbol, want.Seq, want.Time.UnixNano(), want.Merged)
	}
}

func TestParseTickAgreesWithEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 5000; i++ {
		tk := randTick(rng)
		checkAgrees(t, tk.AppendJSON(nil))
		if i%10 == 0 { // other spacing and key order
			ind, _ := json.MarshalIndent(tk, "", "  ")
			checkAgrees(t, ind)
			m := map[string]any{}
			json.Unmarshal(tk.AppendJSON(nil), &m)
			m["extra"] = map[string]any{"a": []any{1, "x\"}", nil, true}}
			b, _ := json.Marshal(m) // keys sorted: time before symbol
			checkAgrees(t, b)
		}
	}
	// Offsets other than Z.
	checkAgrees(t, []byte(`{"symbol":"A","seq":1,"time":"2026-11-23T09:30:00.5-05:00"}`))
	checkAgrees(t, []byte(`{"symbol":"A","seq":2,"time":"2024-02-29T23:59:59.999999999+01:30","merged":3}`))
}

func TestParseTickRefuses(t *testing.T) {
	for _, s := range []string{
		``,
		`[]`,
		`{"symbol":"A","seq":1}`,
		`{"symbol":"A","time":"2026-11-23T14:30:00Z"}`,
		`{"seq":1,"time":"2026-11-23T14:30:00Z"}`,
		`{"symbol":"A","seq":1.5,"time":"2026-11-23T14:30:00Z"}`,
		`{"symbol":"A","seq":-1,"time":"2026-11-23T14:30:00Z"}`,
		`{"symbol":"A","seq":01,"time":"2026-11-23T14:30:00Z"}`,
		`{"symbol":"A","seq":1,"time":"2026-02-30T14:30:00Z"}`,
		`{"symbol":"A","seq":1,"time":"2026-11-23T24:30:00Z"}`,
		`{"symbol":"A","seq":1,"time":"2026-11-23T14:30:00.1234567891Z"}`,
		`{"symbol":"A","seq":1,"time":"2026-11-23 14:30:00Z"}`,
		`{"symbol":"A","seq":1,"time":"2026-11-23T14:30:00"}`,
		`{"symbol":"A","seq":1,"time":"2026-11-23T14:30:00Z"`,
		`{"symbol":"A","seq":1,"time":"2026-11-23T14:30:00Z"} x`,
		`{"symbol":"A","seq":1,"time":"2026-11-23T14:30:00Z","x":[1,}`,
		`{"symbol":"A","seq":1,"time":"2026-11-23T14:30:00Z","x":"a
b"}`,
		`{"symbol":"A","seq":1,"time":"2026-11-23T14:30:00Z","x":[1 2]}`,
		`{"symbol":"A","seq":1,"time":"2026-11-23T14:30:00Z","x":nul}`,
		`{"symbol":"A","seq":1,"time":"2026-11-23T14:30:00Z","x":"abc}`,
		`{"symbol":"A","seq":18446744073709551616,"time":"2026-11-23T14:30:00Z"}`,
	} {
		var f tickFields
		if parseTick([]byte(s), &f, nil) {
			t.Errorf("parseTick accepted %s", s)
		}
	}
}

func TestSnapshotTicks(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var ticks []market.Tick
	for i := 0; i < 20; i++ {
		ticks = append(ticks, randTick(rng))
	}
	data, _ := json.Marshal(map[string]any{"id": "x-1", "ticks": ticks})
	arr, ok := snapshotTicks(data)
	if !ok {
		t.Fatalf("no ticks in %s", data)
	}
	pos, n := 0, 0
	for {
		el, ok := nextElem(arr, &pos)
		if !ok {
			break
		}
		var f tickFields
		if !parseTick(el, &f, nil) || f.seq != ticks[n].Seq || string(f.symbol) != ticks[n].Symbol {
			t.Fatalf("element %d: %s", n, el)
		}
		n++
	}
	if n != len(ticks) {
		t.Fatalf("got %d ticks, want %d", n, len(ticks))
	}
	if _, ok := snapshotTicks([]byte(`{"ticks":{}}`)); ok {
		t.Fatal("ticks not an array accepted")
	}
}

// FuzzParseTick checks parseTick against encoding/json on the ticks the
// gateway writes, and that it never panics on anything else.
func FuzzParseTick(f *testing.F) {
	f.Add("AAPL", uint64(1), int64(1795444200123456789), int64(0), []byte(`{"symbol":"A","seq":1,"time":"2026-11-23T14:30:00Z"}`))
	f.Add("BRK-B", uint64(99), int64(0), int64(3), []byte(`{"a":[{"b":"\"}"}],"symbol":"A"}`))
	f.Add("KO", uint64(7), int64(1), int64(0), []byte(`{"symbol":"A","seq":1,"time":"2026-11-23T14:30:00Z","marketTime":"2026-11-23T09:30:00Z","status":"open","conditions":["O","6"],"x":null}`))
	f.Fuzz(func(t *testing.T, sym string, seq uint64, ns int64, merged int64, raw []byte) {
		var tf, sf tickFields
		if fastTick(raw, &tf, nil) { // the fast path must agree with the general one
			if !slowTick(raw, &sf, nil) || string(sf.symbol) != string(tf.symbol) || sf.seq != tf.seq || sf.timeNs != tf.timeNs || sf.merged != tf.merged {
				t.Fatalf("fastTick(%s) = %+v, slowTick: %+v", raw, tf, sf)
			}
		}
		parseTick(raw, &tf, nil) // must not panic
		if !market.ValidSymbol(sym) || seq == 0 || merged < 0 || merged > 1<<40 {
			return
		}
		tm := time.Unix(0, ns).UTC()
		if tm.Year() < 1678 || tm.Year() > 2261 {
			return
		}
		tk := market.Tick{Symbol: sym, Seq: seq, Time: tm, Price: 1, Merged: merged}
		checkAgrees(t, tk.AppendJSON(nil))
	})
}

// FuzzParseRFC3339 checks that whatever parseRFC3339 accepts, time.Parse
// reads as the same instant.
func FuzzParseRFC3339(f *testing.F) {
	f.Add("2026-11-23T14:30:00.123456789Z")
	f.Add("2024-02-29T00:00:00+05:30")
	f.Add("1999-12-31T23:59:59.1-00:00")
	f.Add("2026-11-23T14:30:59.5+01:00")
	f.Fuzz(func(t *testing.T, s string) {
		ns, ok := parseRFC3339([]byte(s), nil)
		var tc timeCache // a cached prefix must give the same answer
		parseRFC3339([]byte("2026-11-23T14:30:00Z"), &tc)
		if ns2, ok2 := parseRFC3339([]byte(s), &tc); ok2 != ok || ns2 != ns {
			t.Fatalf("parseRFC3339(%q) with cache = %d %v, without: %d %v", s, ns2, ok2, ns, ok)
		}
		if !ok {
			return
		}
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatalf("parseRFC3339(%q) = %d, time.Parse: %v", s, ns, err)
		}
		if tm.UnixNano() != ns {
			t.Fatalf("parseRFC3339(%q) = %d, time.Parse: %d", s, ns, tm.UnixNano())
		}
	})
}

func BenchmarkParseTick(b *testing.B) {
	tk := market.Tick{Symbol: "AAPL", Seq: 1042, Time: time.Date(2026, 11, 23, 14, 30, 0, 123456789, time.UTC),
		Price: 189.23, Bid: 189.22, Ask: 189.24, Size: 300, Volume: 1234500,
		MarketTime: time.Date(2026, 11, 23, 9, 30, 0, 987654321, time.UTC)} // as the default feed sends it
	data := tk.AppendJSON(nil)
	b.ReportAllocs()
	var f tickFields
	var tc timeCache
	for i := 0; i < b.N; i++ {
		if !parseTick(data, &f, &tc) {
			b.Fatal("refused")
		}
	}
}
