package gateway

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	kflate "github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/gateway/sse"
	"github.com/tickcast/tickcast/market"
)

// plainClient sends exactly the Accept-Encoding a test sets (none if it
// sets none) and never decompresses.
var plainClient = &http.Client{Transport: &http.Transport{DisableCompression: true}}

// openEncoded opens a stream asking for Accept-Encoding ae ("" for no
// header) and reads it through the decoder its Content-Encoding names.
func openEncoded(t testing.TB, url, ae string, header map[string]string) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if ae != "" {
		req.Header.Set("Accept-Encoding", ae)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := plainClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s := &stream{t: t, resp: resp, events: make(chan event, 100000), cancel: cancel}
	t.Cleanup(s.close)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	go func() {
		body, err := decodeBody(resp.Header.Get("Content-Encoding"), resp.Body)
		if err != nil {
			s.events <- event{name: "BAD LINE", data: err.Error()}
			close(s.events)
			return
		}
		s.read(body)
	}()
	return s
}

// decodeBody decodes with the standard library's gzip (an independent
// implementation) and klauspost's zstd.
func decodeBody(enc string, r io.Reader) (io.Reader, error) {
	switch enc {
	case "":
		return r, nil
	case "gzip":
		return gzip.NewReader(r)
	case "zstd":
		return zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
	}
	return nil, io.ErrUnexpectedEOF
}

// nextWithin is next with a short timeout: the event must be decodable
// from what was sent, not wait for later bytes.
func (s *stream) nextWithin(d time.Duration) event {
	s.t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			s.t.Fatal("stream ended")
		}
		if ev.name == "BAD LINE" {
			s.t.Fatalf("malformed line %q", ev.data)
		}
		return ev
	case <-time.After(d):
		s.t.Fatalf("no event within %s", d)
	}
	return event{}
}

func TestCompressedStreams(t *testing.T) {
	for _, enc := range []string{"gzip", "zstd"} {
		t.Run(enc, func(t *testing.T) {
			e := newEnv(t, Options{Compress: CompressAuto}, feed.StreamConfig{})
			e.publish(4)
			e.waitHub(4)
			s := openEncoded(t, e.hs.URL+"/v1/stream", enc, nil)
			if got := s.resp.Header.Get("Content-Encoding"); got != enc {
				t.Fatalf("Content-Encoding %q, want %q", got, enc)
			}
			if v := s.resp.Header.Values("Vary"); !strings.Contains(strings.Join(v, ","), "Accept-Encoding") {
				t.Fatalf("Vary %q", v)
			}
			if ev := s.nextWithin(5 * time.Second); ev.name != "snapshot" {
				t.Fatalf("first event %q", ev.name)
			}
			// One tick at a time: each arrives, decoded, without more
			// bytes after it.
			for i := 0; i < 20; i++ {
				want := e.publish(1, "BBB")[0]
				ev := s.nextWithin(2 * time.Second)
				if tk := ev.tick(t); ev.name != "tick" || tk.Symbol != "BBB" || tk.Seq != want.Seq {
					t.Fatalf("event %d: %s %+v, want BBB seq %d", i, ev.name, tk, want.Seq)
				}
			}
			// A burst, then the gateway's counters.
			e.publish(400)
			for i := 0; i < 400; i++ {
				if ev := s.nextWithin(5 * time.Second); ev.name != "tick" {
					t.Fatalf("burst event %d: %q", i, ev.name)
				}
			}
			if n := counterValue(t, e, "tickcast_compressed_streams_total", enc); n != 1 {
				t.Fatalf("compressed streams %v, want 1", n)
			}
		})
	}
}

// TestCompressedStreamEnds checks the compressed body is complete when
// the gateway ends the stream: the gzip trailer's CRC and size, the zstd
// frame's end.
func TestCompressedStreamEnds(t *testing.T) {
	for _, enc := range []string{"gzip", "zstd"} {
		t.Run(enc, func(t *testing.T) {
			e := newEnv(t, Options{Compress: CompressAuto}, feed.StreamConfig{})
			e.publish(8)
			e.waitHub(8)
			req, _ := http.NewRequest(http.MethodGet, e.hs.URL+"/v1/stream", nil)
			req.Header.Set("Accept-Encoding", enc)
			resp, err := plainClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw := make(chan []byte, 1)
			go func() { b, _ := io.ReadAll(resp.Body); raw <- b }()
			time.Sleep(100 * time.Millisecond)
			e.publish(50)
			e.waitHub(58)
			time.Sleep(100 * time.Millisecond)
			e.stopGateway() // Shutdown: the stream ends with a retry:
			var b []byte
			select {
			case b = <-raw:
			case <-time.After(10 * time.Second):
				t.Fatal("stream did not end")
			}
			var plain []byte
			switch enc {
			case "gzip":
				zr, err := gzip.NewReader(bytes.NewReader(b))
				if err != nil {
					t.Fatal(err)
				}
				zr.Multistream(false)
				if plain, err = io.ReadAll(zr); err != nil {
					t.Fatalf("gzip body: %v", err)
				}
			case "zstd":
				zr, _ := zstd.NewReader(bytes.NewReader(b))
				defer zr.Close()
				if plain, err = io.ReadAll(zr); err != nil {
					t.Fatalf("zstd body: %v", err)
				}
			}
			text := string(plain)
			if !strings.HasPrefix(text, "retry: ") || strings.Count(text, "event: tick\n") != 50 || !strings.HasSuffix(text, "\n\n") {
				t.Fatalf("decoded body: %d ticks, %q ... %q", strings.Count(text, "event: tick\n"), text[:min(40, len(text))], text[max(0, len(text)-40):])
			}
			if len(b) >= len(plain)/2 {
				t.Fatalf("%d bytes for %d plain: hardly compressed", len(b), len(plain))
			}
		})
	}
}

func TestCompressNegotiation(t *testing.T) {
	e := newEnv(t, Options{Compress: CompressAuto}, feed.StreamConfig{})
	off := newEnvSameFeed(t, e, Options{Compress: CompressOff})
	gz := newEnvSameFeed(t, e, Options{Compress: CompressGzip})
	zs := newEnvSameFeed(t, e, Options{Compress: CompressZstd})
	def := newEnvSameFeed(t, e, Options{})
	for _, tc := range []struct {
		env  *env
		ae   string
		want string
	}{
		{e, "", ""},
		{e, "gzip", "gzip"},
		{e, "zstd", "zstd"},
		{e, "gzip, deflate, br, zstd", "zstd"}, // Chrome 123+
		{e, "gzip, deflate", "gzip"},           // undici
		{e, "GZIP", "gzip"},
		{e, "x-gzip", "gzip"},
		{e, "gzip;q=0", ""},
		{e, "gzip; Q=0.000", ""},
		{e, "gzip;q=0, zstd", "zstd"},
		{e, "zstd;q=0, gzip", "gzip"},
		{e, "zstd;q=0.5, gzip;q=1", "gzip"},
		{e, "zstd;q=0.5, gzip;q=0.5", "zstd"},
		{e, "*", "zstd"},
		{e, "*;q=0", ""},
		{e, "*, zstd;q=0", "gzip"},
		{e, "identity", ""},
		{e, "br", ""},
		{e, "gzip;q=abc", ""},
		{e, "gzip;q=2", ""},
		{e, "gzip;q=-1", ""},
		{e, ";;,,;=;q", ""},
		{e, "gzip;q", "gzip"},
		{e, "gzipx, zstdy", ""},
		{e, strings.Repeat("gzip;q=0,", 500) + "br", ""},
		{off, "gzip, zstd", ""},
		{off, "*", ""},
		{gz, "gzip, deflate, br, zstd", "gzip"},
		{gz, "zstd", ""},
		{zs, "gzip, deflate, br, zstd", "zstd"},
		{zs, "gzip", ""},
		{def, "gzip, deflate, br, zstd", ""}, // DefaultCompress is off
	} {
		s := openEncoded(t, tc.env.hs.URL+"/v1/stream", tc.ae, nil)
		if got := s.resp.Header.Get("Content-Encoding"); got != tc.want {
			t.Errorf("%s, Accept-Encoding %q: Content-Encoding %q, want %q", tc.env.g.opts.Compress, tc.ae, got, tc.want)
		}
		if ev := s.nextWithin(5 * time.Second); ev.name != "snapshot" {
			t.Errorf("Accept-Encoding %q: first event %q", tc.ae, ev.name)
		}
		s.close()
	}
}

// newEnvSameFeed starts another gateway on e's JetStream.
func newEnvSameFeed(t *testing.T, e *env, opts Options) *env {
	t.Helper()
	e2 := &env{t: t, srv: e.srv, conn: e.conn, src: e.conn, seqs: map[string]uint64{}, last: map[string]market.Tick{}}
	e2.startGateway(opts)
	return e2
}

func TestCompressedResume(t *testing.T) {
	for _, enc := range []string{"gzip", "zstd"} {
		t.Run(enc, func(t *testing.T) {
			e := newEnv(t, Options{Compress: CompressAuto, MergeAfter: 1 << 20}, feed.StreamConfig{})
			e.publish(4)
			e.waitHub(4)
			s := openEncoded(t, e.hs.URL+"/v1/stream?symbols=AAA,CCC", enc, nil)
			s.nextWithin(5 * time.Second)
			e.publish(8)
			collect(t, s, map[string]uint64{"AAA": 3, "CCC": 3})
			s.close()
			lastID := sse.FormatID(e.state().Epoch, 11) // CCC seq 3
			e.publish(200)
			e.waitHub(212)
			s2 := openEncoded(t, e.hs.URL+"/v1/stream?symbols=AAA,CCC", enc, map[string]string{"Last-Event-ID": lastID})
			if got := s2.resp.Header.Get("Content-Encoding"); got != enc {
				t.Fatalf("Content-Encoding %q", got)
			}
			checkExact(t, collect(t, s2, map[string]uint64{"AAA": 53, "CCC": 53}), map[string]uint64{"AAA": 3, "CCC": 3})
			e.publish(4)
			checkExact(t, collect(t, s2, map[string]uint64{"AAA": 54, "CCC": 54}), map[string]uint64{"AAA": 53, "CCC": 53})
		})
	}
}

func TestParseQ(t *testing.T) {
	for s, want := range map[string]int{"0": 0, "1": 1000, "0.5": 500, "0.001": 1, "1.000": 1000, "0.0001": 0, "": 0, "2": 0, "1.5": 0, "-0": 0, "x": 0, "0x1p-1": 0, "NaN": 0} {
		if got := parseQ(s); got != want {
			t.Errorf("parseQ(%q) = %d, want %d", s, got, want)
		}
	}
}

// TestGzipSinkRoundTrip writes an SSE-like stream in writes of many
// sizes (larger than the history and than a stateless block too) and
// decodes it with the standard library.
func TestGzipSinkRoundTrip(t *testing.T) {
	var out recSink
	s := &gzipSink{out: &out}
	var want []byte
	line := []byte("event: tick\nid: abc-123\ndata: {\"symbol\":\"AAPL\",\"price\":229.06}\n\n")
	for i, n := range []int{1, 7, 100, 1 << 10, 3 << 10, 40 << 10, 70 << 10, 5} {
		var b []byte
		for len(b) < n {
			b = append(b, line...)
			b = append(b, byte('a'+i))
		}
		b = b[:n]
		want = append(want, b...)
		if err := s.write(b); err != nil {
			t.Fatal(err)
		}
		// Everything so far decodes from what has been written.
		fr := kflate.NewReader(bytes.NewReader(out.b[len(gzipHeader):]))
		got := make([]byte, len(want))
		if _, err := io.ReadFull(fr, got); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("after write %d: %v", i, err)
		}
	}
	if err := s.finish(); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(out.b))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("gzip: %v, %d bytes, want %d", err, len(got), len(want))
	}
	if out.writes != 9 {
		t.Fatalf("%d writes, want one per write and one for the end", out.writes)
	}
}

type recSink struct {
	b      []byte
	writes int
}

func (r *recSink) write(b []byte) error {
	r.b = append(r.b, b...)
	r.writes++
	return nil
}

func (r *recSink) SetWriteDeadline(time.Time) error { return nil }
