package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/gateway/sse"
	"github.com/tickcast/tickcast/market"
)

func TestStreamSnapshotThenTicks(t *testing.T) {
	e := newEnv(t, Options{}, feed.StreamConfig{})
	e.publish(8) // two ticks per symbol
	e.waitHub(8)
	s := e.open("?symbols=aaa,BBB,aaa", nil)
	if ct := s.resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	if s.resp.Header.Get("X-Accel-Buffering") != "no" || s.resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("headers %v", s.resp.Header)
	}
	epoch := e.state().Epoch
	snap := s.next()
	if snap.name != "snapshot" || snap.id != sse.FormatID(epoch, 8) {
		t.Fatalf("first event %+v, want snapshot with id %s", snap, sse.FormatID(epoch, 8))
	}
	if s.retry == "" {
		t.Fatal("no retry: line before the snapshot")
	}
	var body struct{ Ticks []market.Tick }
	if err := json.Unmarshal([]byte(snap.data), &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Ticks) != 2 || body.Ticks[0].Symbol != "AAA" || body.Ticks[0].Seq != 2 || body.Ticks[1].Symbol != "BBB" || body.Ticks[1].Seq != 2 {
		t.Fatalf("snapshot ticks %+v", body.Ticks)
	}
	e.publish(40)
	prevSeq := map[string]uint64{"AAA": 2, "BBB": 2}
	var prevID uint64 = 8
	for i := 0; i < 20; i++ { // 10 of 40 for each of AAA, BBB
		ev := s.next()
		if ev.name != "tick" {
			t.Fatalf("event %+v", ev)
		}
		ep, seq, err := sse.ParseID(ev.id)
		if err != nil || ep != epoch || seq <= prevID {
			t.Fatalf("id %q after %d: %v", ev.id, prevID, err)
		}
		prevID = seq
		tk := ev.tick(t)
		if tk.Symbol != "AAA" && tk.Symbol != "BBB" {
			t.Fatalf("unrequested symbol %s", tk.Symbol)
		}
		if tk.Seq != prevSeq[tk.Symbol]+1 {
			t.Fatalf("%s seq %d after %d", tk.Symbol, tk.Seq, prevSeq[tk.Symbol])
		}
		prevSeq[tk.Symbol] = tk.Seq
		for _, f := range []string{`"symbol"`, `"seq"`, `"time"`, `"price"`, `"bid"`, `"ask"`, `"size"`, `"volume"`} {
			if !strings.Contains(ev.data, f) {
				t.Fatalf("tick %s lacks %s", ev.data, f)
			}
		}
	}
}

func TestBadRequests(t *testing.T) {
	e := newEnv(t, Options{}, feed.StreamConfig{})
	e.publish(4)
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf("S%d", i)
	}
	thousand := make([]string, 1000)
	for i := range thousand {
		thousand[i] = fmt.Sprintf("T%d", i)
	}
	for _, tc := range []struct{ name, query, want string }{
		{"unknown symbol", "?symbols=AAA,NOPE", "unknown symbol"},
		{"wildcard", "?symbols=*", "invalid symbol"},
		{"subject tail", "?symbols=AAA.%3E", "invalid symbol"},
		{"too long", "?symbols=ABCDEFGHIJKLMNOPQ", "invalid symbol"},
		{"too many", "?symbols=" + strings.Join(many, ","), "too many symbols"},
		{"a thousand", "?symbols=" + strings.Join(thousand, ","), "too many symbols"},
		{"bad throttle", "?throttle=banana", "invalid throttle"},
		{"negative throttle", "?throttle=-1s", "out of range"},
		{"huge throttle", "?throttle=61s", "out of range"},
	} {
		for _, path := range []string{"/v1/stream", "/v1/snapshot"} {
			if path == "/v1/snapshot" && strings.Contains(tc.query, "throttle") {
				continue
			}
			t.Run(tc.name+path, func(t *testing.T) {
				resp, err := http.Get(e.hs.URL + path + tc.query)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var body struct{ Error string }
				if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != 400 || !strings.Contains(body.Error, tc.want) || resp.Header.Get("Content-Type") != "application/json" {
					t.Fatalf("got %d %q, want 400 with %q", resp.StatusCode, body.Error, tc.want)
				}
			})
		}
	}
}

// collect reads ticks until every symbol in want reached its seq.
func collect(t *testing.T, s *stream, want map[string]uint64) []market.Tick {
	t.Helper()
	var out []market.Tick
	got := map[string]uint64{}
	for {
		done := true
		for sym, seq := range want {
			if got[sym] < seq {
				done = false
			}
		}
		if done {
			return out
		}
		ev := s.next()
		if ev.name != "tick" {
			t.Fatalf("unexpected %s event %s", ev.name, ev.data)
		}
		tk := ev.tick(t)
		got[tk.Symbol] = tk.Seq
		out = append(out, tk)
	}
}

// checkExact asserts ticks continue every symbol's seq from prev by one.
func checkExact(t *testing.T, ticks []market.Tick, prev map[string]uint64) {
	t.Helper()
	for _, tk := range ticks {
		want := prev[tk.Symbol] + 1
		if tk.Merged != 0 || tk.Seq != want {
			t.Fatalf("%s: seq %d (merged %d), want %d", tk.Symbol, tk.Seq, tk.Merged, want)
		}
		prev[tk.Symbol] = tk.Seq
	}
}

func TestResume(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ring   int
		source string
		header bool
	}{
		{"memory header", 1 << 12, "memory", true},
		{"memory query", 1 << 12, "memory", false},
		{"jetstream header", 16, "jetstream", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Options{RingSize: tc.ring, MergeAfter: 1 << 20}, feed.StreamConfig{})
			e.publish(4)
			e.waitHub(4)
			s := e.open("?symbols=AAA,CCC", nil)
			snap := s.next()
			e.publish(8)
			got := collect(t, s, map[string]uint64{"AAA": 3, "CCC": 3})
			s.close()
			_ = got
			// The client's last id is that of CCC seq 3, stream seq 11.
			lastID := sse.FormatID(e.state().Epoch, 11)
			e.publish(200)
			e.waitHub(212)
			var s2 *stream
			if tc.header {
				s2 = e.open("?symbols=AAA,CCC&lastEventId=junk", map[string]string{"Last-Event-ID": lastID})
			} else {
				s2 = e.open("?symbols=AAA,CCC&lastEventId="+lastID, nil)
			}
			ticks := collect(t, s2, map[string]uint64{"AAA": 53, "CCC": 53})
			checkExact(t, ticks, map[string]uint64{"AAA": 3, "CCC": 3})
			e.publish(4) // and live after the hand-over
			checkExact(t, collect(t, s2, map[string]uint64{"AAA": 54, "CCC": 54}), map[string]uint64{"AAA": 53, "CCC": 53})
			if !strings.HasPrefix(snap.id, e.state().Epoch) {
				t.Fatal(snap.id)
			}
			if n := counterValue(t, e, "tickcast_resumes_total", tc.source); n != 1 {
				t.Fatalf("resumes from %s = %v, want 1", tc.source, n)
			}
		})
	}
}

// counterValue reads one labelled series from /metrics.
func counterValue(t *testing.T, e *env, name, label string) float64 {
	t.Helper()
	resp, err := http.Get(e.hs.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, name) && (label == "" && strings.HasPrefix(line, name+" ") || label != "" && strings.Contains(line, `"`+label+`"`)) {
			var v float64
			fmt.Sscanf(line[strings.LastIndexByte(line, ' ')+1:], "%g", &v)
			return v
		}
	}
	return 0
}

func TestResets(t *testing.T) {
	e := newEnv(t, Options{RingSize: 16}, feed.StreamConfig{MaxBytes: 8 << 10})
	e.publish(400) // the stream keeps ~8 KiB: the first ticks are gone
	e.waitHub(400)
	st := e.state()
	if st.FirstSeq < 10 {
		t.Fatalf("stream kept everything (first %d)", st.FirstSeq)
	}
	epoch := st.Epoch
	other := "zzzzzzzz"
	if epoch == other {
		other = "yyyyyyyy"
	}
	for _, tc := range []struct{ name, id, reason string }{
		{"garbage", "abc", resetMalformed},
		{"negative", epoch + "--1", resetMalformed},
		{"overflow", epoch + "-99999999999999999999999", resetMalformed},
		{"leading zero", epoch + "-0012", resetMalformed},
		{"huge", strings.Repeat("x", 10<<10), resetMalformed},
		{"other epoch", other + "-5", resetEpoch},
		{"ahead", sse.FormatID(epoch, st.LastSeq+1000), resetAhead},
		{"expired", sse.FormatID(epoch, 1), resetExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := e.open("?symbols=AAA", map[string]string{"Last-Event-ID": tc.id})
			if s.resp.StatusCode != 200 {
				t.Fatalf("status %d", s.resp.StatusCode)
			}
			ev := s.next()
			var body struct{ Reason, Requested string }
			if err := json.Unmarshal([]byte(ev.data), &body); err != nil {
				t.Fatal(err)
			}
			if ev.name != "reset" || ev.id != "" || body.Reason != tc.reason {
				t.Fatalf("got %+v, want reset %s", ev, tc.reason)
			}
			if len(tc.id) < 100 && body.Requested != tc.id {
				t.Fatalf("requested %q", body.Requested)
			}
			snap := s.next()
			if snap.name != "snapshot" || snap.id != sse.FormatID(epoch, st.LastSeq) {
				t.Fatalf("after reset: %+v", snap)
			}
			e.publish(4)
			if ev := s.next(); ev.name != "tick" || ev.tick(t).Symbol != "AAA" {
				t.Fatalf("after snapshot: %+v", ev)
			}
			st = e.state()
			e.waitHub(st.LastSeq)
		})
	}
	// The oldest id /v1/snapshot reports as resumable does resume.
	resp, err := http.Get(e.hs.URL + "/v1/snapshot?symbols=AAA")
	if err != nil {
		t.Fatal(err)
	}
	var sn struct{ ID, First string }
	_ = json.NewDecoder(resp.Body).Decode(&sn)
	resp.Body.Close()
	s := e.open("", map[string]string{"Last-Event-ID": sn.First})
	if ev := s.next(); ev.name != "tick" {
		t.Fatalf("resume from first %s: %+v", sn.First, ev)
	}
}

func TestStreamRecreatedEndsClientsAndResets(t *testing.T) {
	e := newEnv(t, Options{}, feed.StreamConfig{})
	e.publish(8)
	e.waitHub(8)
	s := e.open("", nil)
	old := s.next()
	ctx := context.Background()
	if err := e.conn.DeleteStream(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.conn.EnsureStream(ctx, feed.StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	s.expectEnd(10 * time.Second)
	e.mu.Lock()
	e.seqs = map[string]uint64{}
	e.mu.Unlock()
	e.publish(20) // the new stream reaches beyond the old id's sequence
	deadline := time.Now().Add(10 * time.Second)
	for e.g.hub.Load().epoch == strings.Split(old.id, "-")[0] || e.g.hub.Load().lastSeqNow() < 20 {
		if time.Now().After(deadline) {
			t.Fatal("gateway did not move to the new epoch")
		}
		time.Sleep(20 * time.Millisecond)
	}
	s2 := e.open("", map[string]string{"Last-Event-ID": old.id})
	if ev := s2.next(); ev.name != "reset" || !strings.Contains(ev.data, resetEpoch) {
		t.Fatalf("old id on a new stream: %+v", ev)
	}
}

func TestTwoGatewaysSameIDs(t *testing.T) {
	e := newEnv(t, Options{}, feed.StreamConfig{})
	g1 := e.hs.URL
	// A second gateway on its own connection to the same stream.
	conn2, err := feed.Connect(context.Background(), feed.ConnConfig{Server: e.srv})
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	gw2 := New(conn2, Options{Logger: discardLogger()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = gw2.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	hs2 := httptestServer(t, gw2)
	if _, ok := gw2.waitReady(ctx); !ok {
		t.Fatal("second gateway not ready")
	}
	e.publish(4)
	e.waitHub(4)
	waitFor(t, 5*time.Second, "second gateway's hub", func() bool { return gw2.hub.Load().lastSeqNow() >= 4 })
	a := openURL(t, g1+"/v1/stream?symbols=BBB", nil)
	b := openURL(t, hs2+"/v1/stream?symbols=BBB", nil)
	a.next()
	b.next()
	e.publish(40)
	for i := 0; i < 10; i++ {
		x, y := a.next(), b.next()
		if x.id != y.id || x.data != y.data {
			t.Fatalf("gateways differ: %+v vs %+v", x, y)
		}
	}
	a.close()
	// An id from gateway 1 resumes exactly on gateway 2.
	lastID := sse.FormatID(e.state().Epoch, 22) // BBB seq 6
	e.publish(40)
	c := openURL(t, hs2+"/v1/stream?symbols=BBB", map[string]string{"Last-Event-ID": lastID})
	checkExact(t, collect(t, c, map[string]uint64{"BBB": 21}), map[string]uint64{"BBB": 6})
}

// An id the stream still holds but more than MaxResume messages behind
// gets a too_far reset, then a snapshot from which the stream goes on.
func TestResetTooFar(t *testing.T) {
	e := newEnv(t, Options{RingSize: 16, MaxResume: 50}, feed.StreamConfig{Memory: true})
	e.publish(200)
	e.waitHub(200)
	st := e.state()
	if st.FirstSeq > 1 {
		t.Fatalf("the stream lost ticks (first %d)", st.FirstSeq)
	}
	near := sse.FormatID(st.Epoch, st.LastSeq-40) // behind the ring, within MaxResume: replayed
	s := e.open("?symbols=AAA", map[string]string{"Last-Event-ID": near})
	if ev := s.next(); ev.name != "tick" {
		t.Fatalf("resume 40 behind: %+v", ev)
	}
	far := sse.FormatID(st.Epoch, st.LastSeq-100)
	s = e.open("?symbols=AAA", map[string]string{"Last-Event-ID": far})
	ev := s.next()
	var body struct{ Reason, Requested string }
	if err := json.Unmarshal([]byte(ev.data), &body); err != nil {
		t.Fatal(err)
	}
	if ev.name != "reset" || body.Reason != resetTooFar || body.Requested != far {
		t.Fatalf("got %+v, want reset %s", ev, resetTooFar)
	}
	if snap := s.next(); snap.name != "snapshot" || snap.id != sse.FormatID(st.Epoch, st.LastSeq) {
		t.Fatalf("after reset: %+v", snap)
	}
	if n := counterValue(t, e, "tickcast_resets_total", resetTooFar); n != 1 {
		t.Fatalf("too_far resets counted %v", n)
	}
	e.publish(4)
	if ev := s.next(); ev.name != "tick" || ev.tick(t).Symbol != "AAA" {
		t.Fatalf("after snapshot: %+v", ev)
	}
}
