package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickcast/tickcast/internal/ssetest"
)

// syncBuffer is a goroutine-safe output sink that can wait for a pattern.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var urlRE = regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+`)

// program is the real tickcast running in this process.
type program struct {
	t      *testing.T
	url    string
	cancel context.CancelFunc
	done   chan error
	out    *syncBuffer
}

func start(t *testing.T, args ...string) *program {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &program{t: t, cancel: cancel, done: make(chan error, 1), out: &syncBuffer{}}
	go func() { p.done <- run(ctx, args, p.out, p.out) }()
	deadline := time.Now().Add(20 * time.Second)
	for p.url == "" {
		if time.Now().After(deadline) {
			t.Fatalf("no URL printed; output:\n%s", p.out)
		}
		select {
		case err := <-p.done:
			t.Fatalf("tickcast exited: %v\n%s", err, p.out)
		case <-time.After(20 * time.Millisecond):
		}
		p.url = urlRE.FindString(p.out.String())
	}
	t.Cleanup(func() { p.stop() })
	return p
}

// stop sends the equivalent of SIGINT and waits for a clean exit.
func (p *program) stop() {
	if p.cancel == nil {
		return
	}
	p.cancel()
	p.cancel = nil
	select {
	case err := <-p.done:
		if err != nil {
			p.t.Errorf("tickcast exited with %v", err)
		}
	case <-time.After(20 * time.Second):
		p.t.Error("tickcast did not stop within 20s")
	}
}

type sse struct {
	name, id, data string
}

// readSSE streams events from url into a channel until ctx ends.
func readSSE(t *testing.T, ctx context.Context, url string, header http.Header) <-chan sse {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if header != nil {
		req.Header = header
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	ch := make(chan sse, 10000)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		_ = ssetest.Scan(resp.Body, func(ev ssetest.Event) bool {
			if ev.Type != ssetest.Comment && ev.Type != ssetest.Retry {
				ch <- sse{name: ev.Type, id: ev.ID, data: ev.Data}
			}
			return true
		})
	}()
	return ch
}

type tick struct {
	Symbol string    `json:"symbol"`
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Price  *float64  `json:"price"`
	Bid    *float64  `json:"bid"`
	Ask    *float64  `json:"ask"`
	Size   *int64    `json:"size"`
	Volume *int64    `json:"volume"`
	Merged uint64    `json:"merged"`
}

var idRE = regexp.MustCompile(`^[0-9a-v]{8}-([0-9]+)$`)

func idSeq(t *testing.T, id string) uint64 {
	t.Helper()
	m := idRE.FindStringSubmatch(id)
	if m == nil {
		t.Fatalf("malformed id %q", id)
	}
	var n uint64
	for _, c := range m[1] {
		n = n*10 + uint64(c-'0')
	}
	return n
}

// checkTicks reads n tick events and checks ids and per-symbol seqs.
func checkTicks(t *testing.T, ch <-chan sse, n int, prevSeq map[string]uint64, prevID uint64) (uint64, string) {
	t.Helper()
	lastID := ""
	for i := 0; i < n; i++ {
		var ev sse
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatal("stream ended")
			}
			ev = e
		case <-time.After(10 * time.Second):
			t.Fatalf("no tick within 10s (got %d)", i)
		}
		if ev.name != "tick" {
			t.Fatalf("event %q, want tick", ev.name)
		}
		s := idSeq(t, ev.id)
		if s <= prevID {
			t.Fatalf("id %s after %d", ev.id, prevID)
		}
		prevID, lastID = s, ev.id
		var tk tick
		if err := json.Unmarshal([]byte(ev.data), &tk); err != nil {
			t.Fatal(err)
		}
		if tk.Price == nil || tk.Bid == nil || tk.Ask == nil || tk.Size == nil || tk.Volume == nil || tk.Time.IsZero() || tk.Symbol == "" {
			t.Fatalf("tick lacks fields: %s", ev.data)
		}
		if !(*tk.Bid < *tk.Ask) {
			t.Fatalf("bid >= ask: %s", ev.data)
		}
		if p, ok := prevSeq[tk.Symbol]; ok && tk.Seq != p+1 {
			t.Fatalf("%s seq %d after %d", tk.Symbol, tk.Seq, p)
		}
		prevSeq[tk.Symbol] = tk.Seq
	}
	return prevID, lastID
}

func snapshotOf(t *testing.T, ch <-chan sse) (map[string]uint64, uint64) {
	t.Helper()
	var ev sse
	select {
	case ev = <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no snapshot within 10s")
	}
	if ev.name != "snapshot" {
		t.Fatalf("first event %q, want snapshot", ev.name)
	}
	var snap struct{ Ticks []tick }
	if err := json.Unmarshal([]byte(ev.data), &snap); err != nil {
		t.Fatal(err)
	}
	seqs := map[string]uint64{}
	for _, tk := range snap.Ticks {
		seqs[tk.Symbol] = tk.Seq
	}
	return seqs, idSeq(t, ev.id)
}

func TestServeEndToEnd(t *testing.T) {
	dir := t.TempDir()
	p := start(t, "--addr", "127.0.0.1:0", "--data", dir, "--rate", "400", "--seed", "7")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := readSSE(t, ctx, p.url+"/v1/stream", nil)
	seqs, id := snapshotOf(t, ch)
	if len(seqs) == 0 {
		// The simulator may not have ticked every symbol yet; at least
		// the stream must then continue from the snapshot id.
		t.Log("empty snapshot")
	}
	_, lastID := checkTicks(t, ch, 300, seqs, id)
	cancel()

	// The other endpoints answer.
	for _, path := range []string{"/", "/healthz", "/v1/symbols", "/v1/snapshot?symbols=AAPL", "/metrics"} {
		resp, err := http.Get(p.url + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(b) == 0 {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		if path == "/v1/symbols" {
			var syms []struct {
				Symbol, Name, Sector string
				PrevClose            float64
			}
			if err := json.Unmarshal(b, &syms); err != nil || len(syms) < 30 || syms[0].Name == "" || syms[0].Sector == "" || syms[0].PrevClose <= 0 {
				t.Fatalf("symbols: %v %.200s", err, b)
			}
		}
	}

	// Restart on the same data: the id resumes exactly, and the
	// simulator continues every symbol's seq.
	p.stop()
	p2 := start(t, "--addr", "127.0.0.1:0", "--data", dir, "--rate", "400", "--seed", "8")
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	h := http.Header{}
	h.Set("Last-Event-ID", lastID)
	ch2 := readSSE(t, ctx2, p2.url+"/v1/stream", h)
	// No snapshot or reset: the ticks after lastID, contiguous per symbol.
	last := map[string]uint64{}
	for s, q := range seqs {
		last[s] = q
	}
	checkTicks(t, ch2, 600, last, idSeq(t, lastID))
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"serve", "--help"}, {"sim", "--help"}, {"gateway", "--help"}} {
		var out syncBuffer
		err := run(context.Background(), args, &out, &out)
		if code := exitCode(err, io.Discard); code != 0 {
			t.Errorf("%v: exit %d (%v)", args, code, err)
		}
		if !strings.Contains(out.String(), "-") || len(out.String()) < 100 {
			t.Errorf("%v: help too short:\n%s", args, out.String())
		}
	}
	var out syncBuffer
	if code := exitCode(run(context.Background(), []string{"nope"}, &out, &out), io.Discard); code != 2 {
		t.Errorf("unknown command: exit %d", code)
	}
	if code := exitCode(run(context.Background(), []string{"sim"}, &out, &out), io.Discard); code != 2 {
		t.Errorf("sim without --nats: exit %d", code)
	}
}

// A client that dribbles its request headers (slowloris) is cut off
// after --read-header-timeout, and an oversized header gets 431.
func TestSlowHeadersCut(t *testing.T) {
	p := start(t, "--addr", "127.0.0.1:0", "--memory", "--read-header-timeout", "500ms")
	addr := strings.TrimPrefix(p.url, "http://")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /v1/stream HTTP/1.1\r\nHost: x\r\n")
	start := time.Now()
	for i := 0; ; i++ {
		if _, err := fmt.Fprintf(c, "X-Slow-%d: 1\r\n", i); err != nil {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("slow headers not cut within 10s")
		}
		time.Sleep(100 * time.Millisecond)
		_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			break // closed by the server
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("cut after %s", d)
	}
	req, _ := http.NewRequest(http.MethodGet, p.url+"/v1/stream", nil)
	req.Header.Set("Last-Event-ID", strings.Repeat("x", 64<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("64 KiB header: %d", resp.StatusCode)
	}
}

// The bench against the real gateway: every tick accounted for, latency
// measured, JSON with the contract's keys. The drain is long (it ends as
// soon as no client lags) so that a loaded machine delays ticks but never
// loses them from the count.
func TestBenchAgainstRealGateway(t *testing.T) {
	p := start(t, "--addr", "127.0.0.1:0", "--memory", "--rate", "200", "--session=false", "--arrivals", "regular")
	out := t.TempDir() + "/bench.json"
	var buf syncBuffer
	err := run(context.Background(), []string{"bench", "--target", p.url, "--clients", "20", "--rate", "200",
		"--duration", "2s", "--warmup", "1s", "--drain", "60s", "--json", out, "--quiet"}, &buf, &buf)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, buf.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var res map[string]any
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"clients", "rate", "duration_s", "delivered", "deliveries_per_sec", "latency_us", "gaps", "merged", "shed", "gateway_cpu_s", "rss_bytes",
		"bench_cpu_s", "bench_cpu_us_per_delivery", "gateway_cpu_us_per_delivery", "saturated", "machine"} {
		if _, ok := res[k]; !ok {
			t.Errorf("bench JSON lacks %q", k)
		}
	}
	lat, _ := res["latency_us"].(map[string]any)
	// 20 clients x 200 ticks/s x 2 s, give or take a tick at each end of
	// each client's window
	if res["delivered"].(float64) < 20*(400-2) || res["lagging"].(float64) != 0 || res["gaps"].(float64) != 0 || lat["p50"].(float64) <= 0 {
		t.Fatalf("bench result %s\n%s", b, buf.String())
	}
}
