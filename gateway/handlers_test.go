package gateway

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/gateway/sse"
	"github.com/tickcast/tickcast/market"
)

// Before the simulator has stored its universe, /v1/symbols is an empty
// array, not null.
func TestSymbolsEmptyArray(t *testing.T) {
	e := newEnvWith(t, Options{}, feed.StreamConfig{Memory: true}, false, nil)
	resp := get(t, e.hs.URL+"/v1/symbols", nil)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != "[]" {
		t.Fatalf("before any symbol: %d %s, want 200 []", resp.StatusCode, body)
	}
}

// Symbols seen only on the stream are listed with a null prevClose (the
// gateway does not know it), never their latest price.
func TestSymbolsStreamOnlyPrevClose(t *testing.T) {
	e := newEnvWith(t, Options{}, feed.StreamConfig{Memory: true}, false, nil)
	e.publish(8)
	e.waitHub(8)
	resp := get(t, e.hs.URL+"/v1/symbols", nil)
	var got []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(testSymbols) {
		t.Fatalf("got %v, want %d symbols", got, len(testSymbols))
	}
	for _, s := range got {
		pc, ok := s["prevClose"]
		if !ok || pc != nil {
			t.Fatalf("%v: want prevClose null for a symbol known only from the stream", s)
		}
	}
}

// With a universe, every entry has its prevClose.
func TestSymbolsPrevClose(t *testing.T) {
	e := newEnv(t, Options{}, feed.StreamConfig{Memory: true})
	resp := get(t, e.hs.URL+"/v1/symbols", nil)
	var got []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(testSymbols) {
		t.Fatalf("got %v", got)
	}
	for _, s := range got {
		if s["prevClose"] != 100.0 || s["name"] != s["symbol"].(string)+" Inc" {
			t.Fatalf("entry %v", s)
		}
	}
}

// A snapshot that cannot read the stream's state answers 503 with a JSON
// reason, not 500.
func TestSnapshotStreamUnreadable(t *testing.T) {
	e := newEnv(t, Options{}, feed.StreamConfig{Memory: true})
	e.publish(4)
	e.waitHub(4)
	e.srv.Shutdown() // NATS goes away; the gateway still holds its hub
	resp := get(t, e.hs.URL+"/v1/snapshot?symbols=AAA", nil)
	checkUnavailable(t, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Body)
}

// epochSource reports another epoch than the stream's once flipped: the
// stream recreated while the hub has not yet moved on.
type epochSource struct {
	*feed.Conn
	flipped atomic.Bool
}

func (s *epochSource) State(ctx context.Context) (feed.StreamState, error) {
	st, err := s.Conn.State(ctx)
	if s.flipped.Load() {
		st.Epoch += "x"
	}
	return st, err
}

// A snapshot's "first" comes from the same epoch as its "id", or the
// answer is a 503.
func TestSnapshotEpochMismatch(t *testing.T) {
	var src *epochSource
	e := newEnvWith(t, Options{}, feed.StreamConfig{Memory: true}, true, func(c *feed.Conn) Source {
		src = &epochSource{Conn: c}
		return src
	})
	e.publish(4)
	e.waitHub(4)
	resp := get(t, e.hs.URL+"/v1/snapshot?symbols=AAA", nil)
	var snap struct{ ID, First string }
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %v", resp.StatusCode, err)
	}
	ep, _, _ := sse.ParseID(snap.ID)
	fp, _, _ := sse.ParseID(snap.First)
	if ep != fp || ep != e.state().Epoch {
		t.Fatalf("id %s, first %s", snap.ID, snap.First)
	}
	src.flipped.Store(true)
	resp = get(t, e.hs.URL+"/v1/snapshot?symbols=AAA", nil)
	checkUnavailable(t, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Body)
}

func checkUnavailable(t *testing.T, status int, ctype string, body io.Reader) {
	t.Helper()
	var msg map[string]string
	err := json.NewDecoder(body).Decode(&msg)
	if status != 503 || ctype != "application/json" || err != nil || msg["error"] == "" || msg["error"] == "internal error" {
		t.Fatalf("got %d %s %v (%v), want 503 with a JSON reason", status, ctype, msg, err)
	}
}

// A symbol the simulator adds to its universe is accepted at once, even
// right after another refresh; one that is in no universe is still a 400.
func TestNewSymbolFoundRightAfterARefresh(t *testing.T) {
	e := newEnv(t, Options{}, feed.StreamConfig{Memory: true})
	e.publish(4)
	e.waitHub(4)
	if resp := get(t, e.hs.URL+"/v1/symbols", nil); resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	var u []market.SymbolInfo
	for _, s := range append(testSymbols, "EEE") {
		u = append(u, market.SymbolInfo{Symbol: s, Name: s + " Inc", Sector: "Test", PrevClose: 100, TickSize: 0.01})
	}
	if err := e.conn.PutUniverse(context.Background(), u, 1); err != nil {
		t.Fatal(err)
	}
	if resp := get(t, e.hs.URL+"/v1/snapshot?symbols=EEE", nil); resp.StatusCode != 200 {
		t.Fatalf("snapshot of a symbol just added: %s", resp.Status)
	}
	s := e.open("?symbols=EEE", nil)
	if ev := s.next(); ev.name != "snapshot" {
		t.Fatal(ev)
	}
	if resp := get(t, e.hs.URL+"/v1/snapshot?symbols=ZZZ", nil); resp.StatusCode != 400 {
		t.Fatalf("unknown symbol: %s", resp.Status)
	}
}

// When the universe cannot be read, an unknown symbol is a temporary
// condition: 503 for a snapshot, a retry: back-off on a stream.
func TestUnknownSymbolUniverseUnreadable(t *testing.T) {
	e := newEnv(t, Options{}, feed.StreamConfig{Memory: true})
	e.publish(4)
	e.waitHub(4)
	e.srv.Shutdown()
	resp := get(t, e.hs.URL+"/v1/snapshot?symbols=ZZZ", nil)
	checkUnavailable(t, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Body)
	s := e.open("?symbols=ZZZ", nil)
	if s.resp.StatusCode != 200 {
		t.Fatalf("stream: status %d", s.resp.StatusCode)
	}
	s.expectEnd(5 * time.Second)
	if s.retry == "" {
		t.Fatal("stream turned away without retry:")
	}
}

// Option values at the edges are limited, not trusted: a Heartbeat of a
// few nanoseconds must not panic the sweep's ticker, and MergeAfter is at
// most 7/8 of the ring (else a client would be lapped before it merged).
func TestOptionLimits(t *testing.T) {
	e := newEnv(t, Options{Heartbeat: 2, RingSize: 64, MergeAfter: 1000}, feed.StreamConfig{Memory: true})
	if m := e.g.opts.MergeAfter; m > 56 || m < 1 {
		t.Fatalf("MergeAfter %d with a ring of 64", m)
	}
	e.publish(4)
	s := e.open("?symbols=AAA", nil)
	if ev := s.next(); ev.name != "snapshot" {
		t.Fatal(ev)
	}
	time.Sleep(20 * time.Millisecond) // a few heartbeat sweeps
	e.publish(4)
	if ev := s.next(); ev.name != "tick" {
		t.Fatal(ev)
	}
	for _, tc := range []struct{ ring, merge, want int }{
		{0, 0, 1024}, {16, 0, 4}, {100, 0, 32}, {100, 100, 100}, {100, 200, 112}, {1 << 16, 1 << 20, 57344}, {1, 0, 1},
	} {
		o := Options{RingSize: tc.ring, MergeAfter: tc.merge}
		o.setDefaults()
		if o.MergeAfter != tc.want {
			t.Errorf("RingSize %d, MergeAfter %d: got %d, want %d", tc.ring, tc.merge, o.MergeAfter, tc.want)
		}
	}
}
