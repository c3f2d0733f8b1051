package gateway

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/market"
)

// GET /v1/bars on a bounded <stream>_BARS: the newest bars the companion
// keeps, oldest first, and an id a bar stream continues from with
// nothing missed; the 1 min bars are kept apart from the 1 s bars' count.
func TestBarsHistoryBounded(t *testing.T) {
	e := newEnv(t, Options{}, feed.StreamConfig{BarsMaxPerSeries: 4})
	m := newMixed()
	e.publishMixed(m, 8)
	var br struct {
		Symbol, Interval, ID string
		Bars                 []market.Bar
	}
	waitFor(t, 10*time.Second, "the newest 4 bars in history", func() bool {
		getJSON(t, e.hs.URL+"/v1/bars?symbol=AAA&interval=1s", http.StatusOK, &br)
		return len(br.Bars) == 4 && br.Bars[3].Seq == 8
	})
	for i, b := range br.Bars {
		if b.Seq != uint64(5+i) {
			t.Fatalf("bars %+v: want 5 to 8", br.Bars)
		}
	}
	var mb struct{ Bars []market.Bar }
	getJSON(t, e.hs.URL+"/v1/bars?symbol=AAA&interval=1m", http.StatusOK, &mb)
	if len(mb.Bars) != 2 {
		t.Fatalf("1m bars %+v: want both", mb.Bars)
	}
	s := e.open("?events=bar&bars=1s&symbols=AAA", map[string]string{"Last-Event-ID": br.ID})
	e.publishMixed(m, 2)
	for want := uint64(9); want <= 10; want++ {
		ev := s.next()
		var b market.Bar
		if err := json.Unmarshal([]byte(ev.data), &b); err != nil || ev.name != "bar" || b.Seq != want {
			t.Fatalf("got %s %s, want bar %d: %v", ev.name, ev.data, want, err)
		}
	}
}
