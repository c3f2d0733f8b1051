package gateway

import (
	"context"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/market"
)

func get(t *testing.T, url string, header map[string]string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestToken(t *testing.T) {
	e := newEnv(t, Options{Token: "s3cret"}, feed.StreamConfig{})
	e.publish(4)
	for _, tc := range []struct {
		name   string
		path   string
		header map[string]string
		want   int
	}{
		{"none", "/v1/stream", nil, 401},
		{"wrong query", "/v1/stream?token=nope", nil, 401},
		{"wrong bearer", "/v1/snapshot", map[string]string{"Authorization": "Bearer nope"}, 401},
		{"query", "/v1/snapshot?token=s3cret", nil, 200},
		{"bearer", "/v1/symbols", map[string]string{"Authorization": "Bearer s3cret"}, 200},
		{"health needs none", "/healthz", nil, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := get(t, e.hs.URL+tc.path, tc.header)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want == 401 && resp.Header.Get("Content-Type") != "application/json" {
				t.Fatal("401 without a JSON reason")
			}
		})
	}
	s := e.open("?token=s3cret", nil)
	if ev := s.next(); ev.name != "snapshot" {
		t.Fatal(ev)
	}
}

func TestCORS(t *testing.T) {
	e := newEnv(t, Options{AllowedOrigins: []string{"https://app.example"}}, feed.StreamConfig{})
	resp := get(t, e.hs.URL+"/v1/symbols", map[string]string{"Origin": "https://app.example"})
	if resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" || !strings.Contains(strings.Join(resp.Header.Values("Vary"), ","), "Origin") {
		t.Fatalf("allowed origin: %v", resp.Header)
	}
	resp = get(t, e.hs.URL+"/v1/symbols", map[string]string{"Origin": "https://evil.example"})
	if resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.Header.Get("Vary") == "" {
		t.Fatalf("other origin: %v", resp.Header)
	}
}

func TestPerIPCap(t *testing.T) {
	e := newEnv(t, Options{MaxConnsPerIP: 5}, feed.StreamConfig{})
	e.publish(4)
	var open []*stream
	for i := 0; i < 5; i++ {
		s := e.open("", nil)
		if ev := s.next(); ev.name != "snapshot" {
			t.Fatal(ev)
		}
		open = append(open, s)
	}
	// The sixth from the same address is told to come back later: 200,
	// a retry: and a close, never a status that stops a browser.
	s := e.open("", nil)
	if s.resp.StatusCode != 200 {
		t.Fatalf("status %d", s.resp.StatusCode)
	}
	s.expectEnd(5 * time.Second)
	if s.retry == "" {
		t.Fatal("turned away without retry:")
	}
	open[0].close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := e.open("", nil)
		ev, ok := <-s.events
		if ok && ev.name == "snapshot" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a slot freed by a closed stream was not reused")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestShutdownEndsStreamsWithRetry(t *testing.T) {
	e := newEnv(t, Options{ShutdownSpread: 300 * time.Millisecond}, feed.StreamConfig{})
	e.publish(4)
	var streams []*stream
	for i := 0; i < 10; i++ {
		s := e.open("", nil)
		s.next()
		streams = append(streams, s)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.g.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("shutdown took %s", took)
	}
	// Each stream ends with a retry: of Retry (1s) plus a random part of
	// the spread (1ms to 300ms), so the clients come back spread out.
	seen := map[string]bool{}
	for _, s := range streams {
		s.expectEnd(2 * time.Second)
		ms, err := strconv.Atoi(s.retry)
		if err != nil || ms <= 1000 || ms > 1300 {
			t.Fatalf("stream ended with retry: %q, want 1001 to 1300", s.retry)
		}
		seen[s.retry] = true
	}
	if len(seen) < 2 {
		t.Fatalf("10 streams all got retry: %v", seen)
	}
	if resp := get(t, e.hs.URL+"/readyz", nil); resp.StatusCode != 503 {
		t.Fatalf("readyz during shutdown: %d", resp.StatusCode)
	}
}

func FuzzQuery(f *testing.F) {
	for _, q := range []string{"symbols=AAPL,msft&throttle=250ms", "symbols=*", "symbols=AAPL.%3E", "throttle=1e9h", "symbols=,,,", "symbols=%00"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		r, err := http.NewRequest(http.MethodGet, "/v1/stream?"+q, nil)
		if err != nil {
			return
		}
		syms, err := parseSymbols(r)
		if err == nil {
			if len(syms) > MaxSymbolsPerRequest {
				t.Fatalf("%d symbols accepted", len(syms))
			}
			for _, s := range syms {
				if !market.ValidSymbol(s) || strings.ContainsAny(s, ".*> ") {
					t.Fatalf("symbol %q accepted", s)
				}
			}
		}
		d, err := parseThrottle(r)
		if err == nil && (d < 0 || d > MaxThrottle) {
			t.Fatalf("throttle %s accepted", d)
		}
	})
}

// 1,000 connections from one address against a per-address cap of 100:
// 100 stream, 900 are told to come back later (200 + retry: + close).
func TestThousandConnectionsFromOneAddress(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	e := newEnv(t, Options{MaxConnsPerIP: 100}, feed.StreamConfig{Memory: true})
	e.publish(4)
	e.waitHub(4)
	const n = 1000
	results := make(chan string, n)
	for i := 0; i < n; i++ {
		go func() {
			rc := dialRaw(t, e.hs.URL, "?symbols=AAA", 0)
			_ = rc.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			var head strings.Builder
			buf := make([]byte, 4096)
			for {
				k, err := rc.r.Read(buf)
				head.Write(buf[:k])
				s := head.String()
				switch {
				case strings.Contains(s, "event: snapshot"):
					results <- "stream"
					return
				case strings.Contains(s, "per_ip_cap") && strings.Contains(s, "retry: "):
					if !strings.HasPrefix(s, "HTTP/1.1 200") {
						results <- "bad status: " + s[:min(len(s), 40)]
						return
					}
					results <- "turned away"
					return
				}
				if err != nil {
					results <- "error: " + err.Error()
					return
				}
			}
		}()
	}
	counts := map[string]int{}
	for i := 0; i < n; i++ {
		counts[<-results]++
	}
	if counts["stream"] != 100 || counts["turned away"] != 900 {
		t.Fatalf("got %v, want 100 streams and 900 turned away", counts)
	}
}

// Behind a trusted proxy the per-IP cap counts the forwarded client
// address, the right-most one the proxy added, not what a client forged
// to its left.
func TestPerIPCapBehindTrustedProxy(t *testing.T) {
	e := newEnv(t, Options{MaxConnsPerIP: 1, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, feed.StreamConfig{})
	e.publish(4)
	e.waitHub(4)
	a := e.open("", map[string]string{"X-Forwarded-For": "10.0.0.1"})
	if ev := a.next(); ev.name != "snapshot" {
		t.Fatal(ev)
	}
	b := e.open("", map[string]string{"X-Forwarded-For": "10.0.0.2"})
	if ev := b.next(); ev.name != "snapshot" {
		t.Fatal("a second client address was capped:", ev)
	}
	forged := e.open("", map[string]string{"X-Forwarded-For": "6.6.6.6, 10.0.0.1"})
	forged.expectEnd(5 * time.Second)
	if forged.retry == "" {
		t.Fatal("the cap did not count the forwarded address")
	}
}

// A CORS preflight from an allowed origin gets 204 with the headers it
// asks for, without the access token; any other origin gets no CORS
// headers at all.
func TestCORSPreflight(t *testing.T) {
	e := newEnv(t, Options{AllowedOrigins: []string{"https://app.example"}, Token: "s3cret"}, feed.StreamConfig{})
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, e.hs.URL+"/v1/stream?symbols=AAA", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "GET")
		req.Header.Set("Access-Control-Request-Headers", "authorization, last-event-id")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := preflight("https://app.example")
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("allowed origin: status %d", resp.StatusCode)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "https://app.example" {
		t.Fatalf("Access-Control-Allow-Origin %q", got)
	}
	allowed := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers"))
	for _, h := range []string{"authorization", "last-event-id"} {
		if !strings.Contains(allowed, h) {
			t.Fatalf("Access-Control-Allow-Headers %q lacks %s", allowed, h)
		}
	}
	if m := resp.Header.Get("Access-Control-Allow-Methods"); !strings.Contains(m, "GET") {
		t.Fatalf("Access-Control-Allow-Methods %q", m)
	}
	resp = preflight("https://evil.example")
	for k := range resp.Header {
		if strings.HasPrefix(strings.ToLower(k), "access-control-") {
			t.Fatalf("other origin got %s: %v", k, resp.Header)
		}
	}
}
