package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/gateway/sse"
	"github.com/tickcast/tickcast/market"
)

type barsResp struct {
	Symbol, Interval, ID string
	Bars                 []market.Bar
}

// lateBars is the real feed whose bar history lags the stream by one
// bar: the newest bar is still on its way into <stream>_BARS.
type lateBars struct{ *feed.Conn }

func (l lateBars) ReadBars(ctx context.Context, symbol, interval string, from, to time.Time, limit int) ([]feed.BarMsg, error) {
	out, err := l.Conn.ReadBars(ctx, symbol, interval, from, to, limit)
	if n := len(out); n > 0 {
		out = out[:n-1]
	}
	return out, err
}

// nextBar reads the next event, which must be a bar.
func nextBar(t *testing.T, s *stream) market.Bar {
	t.Helper()
	ev := s.next()
	if ev.name != "bar" {
		t.Fatalf("got %s %s, want a bar", ev.name, ev.data)
	}
	var b market.Bar
	if err := json.Unmarshal([]byte(ev.data), &b); err != nil {
		t.Fatal(err)
	}
	return b
}

// A bar the stream holds but the bar history does not have yet is not
// skipped: the id GET /v1/bars returns is before it.
func TestBarsIDKeepsABarOnItsWay(t *testing.T) {
	e := newEnvWith(t, Options{}, feed.StreamConfig{}, true, func(c *feed.Conn) Source { return lateBars{c} })
	m := newMixed()
	e.publishMixed(m, 1)
	e.waitHub(e.state().LastSeq)
	var br barsResp
	getJSON(t, e.hs.URL+"/v1/bars?symbol=AAA&interval=1s", http.StatusOK, &br)
	if len(br.Bars) != 0 {
		t.Fatalf("bars %+v, want none (the one bar is on its way)", br.Bars)
	}
	s := e.open("?events=bar&bars=1s&symbols=AAA", map[string]string{"Last-Event-ID": br.ID})
	if b := nextBar(t, s); b.Seq != 1 {
		t.Fatalf("first bar %d, want 1 (the one on its way)", b.Seq)
	}
}

// After the stream is recreated, bars of the earlier stream (the bar
// history keeps them) do not lend their sequences to ids of the new one.
func TestBarsOfAnEarlierStreamGetNoCurrentID(t *testing.T) {
	e := newEnv(t, Options{}, feed.StreamConfig{})
	m := newMixed()
	e.publishMixed(m, 6)
	var br barsResp
	waitFor(t, 10*time.Second, "bars in history", func() bool {
		getJSON(t, e.hs.URL+"/v1/bars?symbol=AAA&interval=1s", http.StatusOK, &br)
		return len(br.Bars) == 6
	})
	oldEpoch := e.state().Epoch
	ctx := context.Background()
	if err := e.conn.DeleteStream(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.conn.EnsureStream(ctx, feed.StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	e.publish(12)
	st := e.state()
	waitFor(t, 10*time.Second, "the new epoch", func() bool {
		h := e.g.hub.Load()
		return h.epoch != oldEpoch && h.lastSeqNow() >= st.LastSeq
	})
	getJSON(t, e.hs.URL+"/v1/bars?symbol=AAA&interval=1s", http.StatusOK, &br)
	if len(br.Bars) == 0 {
		t.Skip("the bar history did not keep the earlier stream's bars")
	}
	if want := sse.FormatID(st.Epoch, st.LastSeq); br.ID != want {
		t.Fatalf("id %s, want %s: the earlier stream's bar sequence %d was stamped with the new epoch", br.ID, want, br.Bars[len(br.Bars)-1].Seq)
	}
	s := e.open("?events=bar&bars=1s&symbols=AAA", map[string]string{"Last-Event-ID": br.ID})
	m2 := newMixed()
	e.publishMixed(m2, 1)
	if b := nextBar(t, s); b.Seq != 1 || !strings.EqualFold(b.Symbol, "AAA") {
		t.Fatalf("first bar %+v, want the new stream's first", b)
	}
}
