package gateway

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tickcast/tickcast/feed"
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
	ep, _, _ := ParseID(snap.ID)
	fp, _, _ := ParseID(snap.First)
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
