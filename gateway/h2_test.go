// Over 400 lines on purpose: the HTTP/2 tests share the TLS certificate,
// the h2 and h2c clients and the stalling connection defined here.

package gateway

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickcast/tickcast/feed"
)

// testCert is a self-signed certificate for 127.0.0.1, made once, and a
// pool that trusts it.
var testCert = sync.OnceValues(func() (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "tickcast test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
})

// serveProto serves the env's gateway on a second listener as
// cmd/tickcast does with --tls-cert ("tls": HTTP/2 and HTTP/1.1 by ALPN)
// or --h2c ("h2c": HTTP/1.1 and clear-text HTTP/2), behind
// LimitSendBuffer (and StickyWriteTimeout with TLS), and returns its base URL and how many connections it
// accepted so far.
func (e *env) serveProto(mode string) (string, *atomic.Int32) {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	ln = LimitSendBuffer(ln, testSndbuf)
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetHTTP2(mode == "tls")
	p.SetUnencryptedHTTP2(mode == "h2c")
	wt := e.g.opts.WriteTimeout
	conns := new(atomic.Int32)
	hs := &http.Server{
		Handler:           e.g.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		Protocols:         &p,
		HTTP2:             &http.HTTP2Config{WriteByteTimeout: wt},
		ErrorLog:          nil,
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		},
	}
	done := make(chan struct{})
	if mode == "tls" {
		cert, _ := testCert()
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		ln = StickyWriteTimeout(ln)
		go func() { _ = hs.ServeTLS(ln, "", ""); close(done) }()
	} else {
		go func() { _ = hs.Serve(ln); close(done) }()
	}
	e.t.Cleanup(func() { _ = hs.Close(); <-done })
	scheme := "https"
	if mode == "h2c" {
		scheme = "http"
	}
	return scheme + "://" + ln.Addr().String(), conns
}

// h2Client is an HTTP/2-only client (TLS with the test certificate
// trusted, or h2c with prior knowledge) that counts its dials. wrap, if
// set, wraps each TCP connection; h2 configures the client's HTTP/2.
func h2Client(t testing.TB, mode string, dials *atomic.Int32, h2 *http.HTTP2Config, wrap func(net.Conn) net.Conn) *http.Client {
	t.Helper()
	_, pool := testCert()
	var p http.Protocols
	if mode == "tls" {
		p.SetHTTP2(true)
	} else {
		p.SetUnencryptedHTTP2(true)
	}
	d := &net.Dialer{}
	tr := &http.Transport{
		Protocols:         &p,
		ForceAttemptHTTP2: true,
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		HTTP2:             h2,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			if dials != nil {
				dials.Add(1)
			}
			if wrap != nil {
				c = wrap(c)
			}
			return c, nil
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// doH2 sends a GET through client and insists on a 200 over HTTP/2.
func doH2(t testing.TB, client *http.Client, url string) (*http.Response, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := client.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	if resp.ProtoMajor != 2 {
		t.Fatalf("%s: %s, want HTTP/2", url, resp.Proto)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: status %d", url, resp.StatusCode)
	}
	return resp, cancel
}

// openWith is openURL through client, over HTTP/2.
func openWith(t testing.TB, client *http.Client, url string) *stream {
	t.Helper()
	resp, cancel := doH2(t, client, url)
	s := &stream{t: t, resp: resp, events: make(chan event, 100000), cancel: cancel}
	go s.read(resp.Body)
	return s
}

// nextTick waits up to within for s's next tick event.
func (s *stream) nextTick(within time.Duration) (event, bool) {
	deadline := time.After(within)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				return event{}, false
			}
			if ev.name == "tick" {
				return ev, true
			}
		case <-deadline:
			return event{}, false
		}
	}
}

// ticker publishes a tick of every test symbol every interval until the
// returned func is called.
func (e *env) ticker(interval time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				e.publish(len(testSymbols))
			}
		}
	}()
	return func() { cancel(); <-done }
}

// allLive checks that every stream gets a tick within within.
func allLive(t *testing.T, what string, ss []*stream, within time.Duration) {
	t.Helper()
	var wg sync.WaitGroup
	var dead atomic.Int32
	for _, s := range ss {
		wg.Go(func() {
			if _, ok := s.nextTick(within); !ok {
				dead.Add(1)
			}
		})
	}
	wg.Wait()
	if n := dead.Load(); n > 0 {
		t.Fatalf("%s: %d of %d streams got no tick within %s", what, n, len(ss), within)
	}
}

// Twenty streams share one HTTP/2 connection, all live at once; a
// stream turned away at MaxConns on that connection ends alone: the
// others go on, and the next stream still goes over the same connection
// (no GOAWAY, which Connection: close would have caused).
func TestHTTP2ManyStreamsOneConnection(t *testing.T) {
	for _, mode := range []string{"tls", "h2c"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, Options{MaxConns: 20}, feed.StreamConfig{Memory: true})
			e.publish(4)
			e.waitHub(4)
			url, accepted := e.serveProto(mode)
			var dials atomic.Int32
			client := h2Client(t, mode, &dials, nil, nil)
			stop := e.ticker(20 * time.Millisecond)
			defer stop()

			var ss []*stream
			first := openWith(t, client, url+"/v1/stream")
			if ev := first.next(); ev.name != "snapshot" {
				t.Fatalf("first event %q", ev.name)
			}
			ss = append(ss, first)
			var mu sync.Mutex
			var wg sync.WaitGroup
			for range 19 {
				wg.Go(func() {
					s := openWith(t, client, url+"/v1/stream")
					mu.Lock()
					ss = append(ss, s)
					mu.Unlock()
				})
			}
			wg.Wait()
			allLive(t, "20 streams", ss, 5*time.Second)

			// The 21st: turned away, on the same connection.
			away, _ := doH2(t, client, url+"/v1/stream")
			if v := away.Header.Get("Connection"); v != "" {
				t.Errorf("turned-away HTTP/2 response has Connection: %q", v)
			}
			body, err := io.ReadAll(away.Body)
			if err != nil || !bytes.HasPrefix(body, []byte(": capacity\nretry: ")) {
				t.Fatalf("turned away: %q, %v", body, err)
			}
			// The 20 keep going for a while after it.
			time.Sleep(300 * time.Millisecond)
			for range 3 {
				allLive(t, "the 20 after a turn-away", ss, 5*time.Second)
			}
			// A slot freed: the next stream opens on the same connection.
			ss[0].close()
			deadline := time.Now().Add(5 * time.Second)
			for e.g.conns.Load() > 19 {
				if time.Now().After(deadline) {
					t.Fatal("a closed HTTP/2 stream was not released")
				}
				time.Sleep(5 * time.Millisecond)
			}
			again := openWith(t, client, url+"/v1/stream")
			if ev := again.next(); ev.name != "snapshot" {
				t.Fatalf("stream after the turn-away: %q", ev.name)
			}
			allLive(t, "the 20 again", append(ss[1:], again), 5*time.Second)
			if d, a := dials.Load(), accepted.Load(); d != 1 || a != 1 {
				t.Fatalf("%d dials, %d connections accepted: want all streams on one connection", d, a)
			}
		})
	}
}

// An HTTP/2 stream quieter than the write timeout stays open: its write
// deadline holds only while a write is in progress (net/http's HTTP/2
// write deadline alone would reset it when it passes, writing or not).
func TestHTTP2QuietStreamOutlivesWriteTimeout(t *testing.T) {
	e := newEnv(t, Options{WriteTimeout: 200 * time.Millisecond, Heartbeat: time.Hour}, feed.StreamConfig{Memory: true})
	e.publish(4)
	e.waitHub(4)
	url, _ := e.serveProto("tls")
	s := openWith(t, h2Client(t, "tls", nil, nil, nil), url+"/v1/stream?symbols=AAA")
	s.next() // snapshot
	time.Sleep(time.Second)
	e.publish(1, "AAA")
	if _, ok := s.nextTick(5 * time.Second); !ok {
		t.Fatal("the quiet stream was cut")
	}
	if v := counterValue(t, e, "tickcast_shed_total", "write_timeout"); v != 0 {
		t.Fatalf("write_timeout sheds: %v", v)
	}
}

// A stream whose client stops reading it (its flow-control window is
// spent) is cut by the write timeout; the other streams of the same
// connection and of other connections keep receiving.
func TestHTTP2StalledStreamCut(t *testing.T) {
	const wt = 500 * time.Millisecond
	e := newEnv(t, Options{WriteTimeout: wt}, feed.StreamConfig{Memory: true})
	e.publish(4)
	e.waitHub(4)
	url, _ := e.serveProto("tls")
	// A 16 KiB stream window: a stream not read blocks after 16 KiB.
	stallConn := h2Client(t, "tls", nil, &http.HTTP2Config{MaxReceiveBufferPerStream: 16 << 10}, nil)
	other := h2Client(t, "tls", nil, nil, nil)

	stalled, _ := doH2(t, stallConn, url+"/v1/stream") // never read
	neighbour := openWith(t, stallConn, url+"/v1/stream")
	var live []*stream
	for range 3 {
		live = append(live, openWith(t, other, url+"/v1/stream"))
	}
	stop := e.ticker(2 * time.Millisecond)
	defer stop()
	start := time.Now()
	for counterValue(t, e, "tickcast_shed_total", "write_timeout") < 1 {
		if time.Since(start) > 10*time.Second {
			t.Fatal("the stalled stream was not cut within 10s")
		}
		allLive(t, "neighbour and other connection", append([]*stream{neighbour}, live...), 5*time.Second)
	}
	took := time.Since(start)
	t.Logf("stalled HTTP/2 stream cut %s after the ticks started (write timeout %s)", took.Round(time.Millisecond), wt)
	for range 3 {
		allLive(t, "after the cut", append([]*stream{neighbour}, live...), 5*time.Second)
	}
	// What the stalled stream holds ends in a reset, not a clean end.
	n, err := io.Copy(io.Discard, stalled.Body)
	if err == nil || !strings.Contains(err.Error(), "stream error") {
		t.Fatalf("stalled stream after %d bytes: %v, want a stream error", n, err)
	}
}

// stallConn stops reading the connection when stalled is set, as a
// client whose machine or network froze: its receive window closes, the
// server's writes block.
type stallConn struct {
	net.Conn
	stalled   atomic.Bool
	closed    chan struct{}
	closeOnce sync.Once
}

func (c *stallConn) Read(b []byte) (int, error) {
	if c.stalled.Load() {
		<-c.closed
		return 0, net.ErrClosed
	}
	return c.Conn.Read(b)
}

func (c *stallConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// A client that stops reading its whole HTTP/2 connection has all its
// streams cut after about the write timeout (the server's
// HTTP2.WriteByteTimeout closes the connection: the per-stream resets
// cannot get out through it); the streams of another connection keep
// receiving.
func TestHTTP2StalledConnectionCut(t *testing.T) {
	const wt = 500 * time.Millisecond
	e := newEnv(t, Options{WriteTimeout: wt}, feed.StreamConfig{Memory: true})
	e.publish(4)
	e.waitHub(4)
	url, _ := e.serveProto("tls")
	var sc *stallConn
	stalling := h2Client(t, "tls", nil, nil, func(c net.Conn) net.Conn {
		_ = c.(*net.TCPConn).SetReadBuffer(8 << 10)
		sc = &stallConn{Conn: c, closed: make(chan struct{})}
		return sc
	})
	var victims []*stream
	for range 3 {
		victims = append(victims, openWith(t, stalling, url+"/v1/stream"))
	}
	t.Cleanup(func() { _ = sc.Close() })
	var live []*stream
	other := h2Client(t, "tls", nil, nil, nil)
	for range 3 {
		live = append(live, openWith(t, other, url+"/v1/stream"))
	}
	stop := e.ticker(2 * time.Millisecond)
	defer stop()
	allLive(t, "before the stall", append(victims, live...), 5*time.Second)
	if n := e.g.conns.Load(); n != 6 {
		t.Fatalf("%d streams open, want 6", n)
	}
	sc.stalled.Store(true)
	start := time.Now()
	for e.g.conns.Load() > 3 {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("the stalled connection's streams still open after 10s: %d streams", e.g.conns.Load())
		}
		allLive(t, "the other connection", live, 5*time.Second)
	}
	took := time.Since(start)
	t.Logf("stalled HTTP/2 connection's 3 streams cut %s after the ticks started (write timeout %s)", took.Round(time.Millisecond), wt)
	if took > 4*time.Second { // 5.5s when closing the TLS connection waited for its close_notify
		t.Errorf("cut only after %s", took)
	}
	for range 3 {
		allLive(t, "the other connection after the cut", live, 5*time.Second)
	}
}

// HTTP/1.1 over TLS is still hijacked and written raw.
func TestTLSHTTP1Hijacked(t *testing.T) {
	e := newEnv(t, Options{}, feed.StreamConfig{Memory: true})
	e.publish(4)
	e.waitHub(4)
	url, _ := e.serveProto("tls")
	_, pool := testCert()
	var p http.Protocols
	p.SetHTTP1(true)
	client := &http.Client{Transport: &http.Transport{Protocols: &p, TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, _ := http.NewRequest(http.MethodGet, url+"/v1/stream", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ProtoMajor != 1 || resp.TLS == nil || len(resp.TransferEncoding) != 0 || !resp.Close {
		t.Fatalf("%s, TLS %v, Transfer-Encoding %v, close %v: want a raw HTTP/1.1 body over TLS", resp.Proto, resp.TLS != nil, resp.TransferEncoding, resp.Close)
	}
	s := &stream{t: t, resp: resp, events: make(chan event, 100000), cancel: func() {}}
	t.Cleanup(s.close)
	go s.read(resp.Body)
	if ev := s.next(); ev.name != "snapshot" {
		t.Fatalf("first event %q", ev.name)
	}
	stop := e.ticker(10 * time.Millisecond)
	defer stop()
	if _, ok := s.nextTick(5 * time.Second); !ok {
		t.Fatal("no tick over HTTP/1.1 and TLS")
	}
}

// syncLog is a logger's output, safe to read while it is written.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A panic in a stream's goroutine ends that stream only, over HTTP/1.1
// (a goroutine of ours after the hijack: unrecovered, it would end the
// process) and HTTP/2 (the handler): it is logged with its stack, and
// what the stream held is released.
func TestStreamPanicRecovered(t *testing.T) {
	testHookRun = func(c *client) {
		if len(c.symIdx) == 1 && c.h.symNames[c.symIdx[0]] == "BBB" {
			panic("test panic in a stream")
		}
	}
	t.Cleanup(func() { testHookRun = nil })
	for _, proto := range []string{"h1", "h2"} {
		t.Run(proto, func(t *testing.T) {
			var log syncLog
			e := newEnv(t, Options{MaxConnsPerIP: 3, Logger: slog.New(slog.NewTextHandler(&log, nil))}, feed.StreamConfig{Memory: true})
			e.publish(4)
			e.waitHub(4)
			open := func(q string) *stream { return e.open(q, nil) }
			if proto == "h2" {
				url, _ := e.serveProto("tls")
				client := h2Client(t, "tls", nil, nil, nil)
				open = func(q string) *stream { return openWith(t, client, url+"/v1/stream"+q) }
			}
			healthy := open("?symbols=AAA")
			for range 5 { // more than MaxConnsPerIP: each released its slot
				s := open("?symbols=BBB")
				s.expectEnd(5 * time.Second)
			}
			deadline := time.Now().Add(5 * time.Second)
			for e.g.conns.Load() != 1 || counterValue(t, e, "tickcast_connections", "") != 1 {
				if time.Now().After(deadline) {
					t.Fatalf("after the panics: %d streams counted, gauge %v; want 1", e.g.conns.Load(), counterValue(t, e, "tickcast_connections", ""))
				}
				time.Sleep(10 * time.Millisecond)
			}
			e.g.ipMu.Lock()
			ips := len(e.g.ipConns)
			e.g.ipMu.Unlock()
			if ips != 1 {
				t.Errorf("per-IP counts of %d addresses, want 1", ips)
			}
			out := log.String()
			if n := strings.Count(out, "stream panicked"); n != 5 || !strings.Contains(out, "test panic in a stream") || !strings.Contains(out, "h2_test.go") {
				t.Fatalf("%d panics logged, want 5 with the panic and its stack:\n%.3000s", n, out)
			}
			stop := e.ticker(10 * time.Millisecond)
			defer stop()
			if _, ok := healthy.nextTick(5 * time.Second); !ok {
				t.Fatal("the healthy stream got no tick after the panics")
			}
			if _, ok := open("?symbols=AAA").nextTick(5 * time.Second); !ok {
				t.Fatal("a new stream got no tick after the panics")
			}
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := e.g.Shutdown(sctx); err != nil {
				t.Fatalf("Shutdown after the panics: %v", err)
			}
		})
	}
}
