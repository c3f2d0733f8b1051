package gateway

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/gateway/sse"
	"github.com/tickcast/tickcast/market"
)

// BenchmarkResume measures one resume of 10,000 ticks over HTTP, from the
// gateway's memory (ring large enough) and from JetStream (ring tiny).
func BenchmarkResume(b *testing.B) {
	// The production default: below it, 32 KiB writes stall on TCP
	// acknowledgements (a 10,000-tick resume took 100ms with 16 KiB).
	defer func(n int) { testSndbuf = n }(testSndbuf)
	testSndbuf = DefaultSendBuffer
	for _, tc := range []struct {
		name string
		ring int
	}{{"memory", 1 << 15}, {"jetstream", 16}} {
		b.Run(tc.name+"/10000", func(b *testing.B) {
			e := newEnv(b, Options{RingSize: tc.ring, MergeAfter: 1 << 20}, feed.StreamConfig{Memory: true})
			e.publish(10_004)
			e.waitHub(10_004)
			id := sse.FormatID(e.state().Epoch, 4)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// A lean reader: count events as bytes arrive, so the
				// figure is the gateway's, not a Go test client's.
				resp, err := http.Get(e.hs.URL + "/v1/stream?lastEventId=" + id)
				if err != nil {
					b.Fatal(err)
				}
				br := bufio.NewReaderSize(resp.Body, 64<<10)
				n := 0
				for n < 10_000 {
					line, err := br.ReadSlice('\n')
					if err != nil {
						b.Fatalf("after %d events: %v", n, err)
					}
					if bytes.Equal(line, []byte("event: tick\n")) {
						n++
					}
				}
				resp.Body.Close()
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/10_000, "us/tick")
		})
	}
}

// BenchmarkHubAppend measures dispatch of one tick to the hub with
// clients registered (frame encoded once, wake-ups are flag checks).
func BenchmarkHubAppend(b *testing.B) {
	for _, clients := range []int{0, 1000} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			h := newHub(1<<16, "epoch123", 0)
			h.addSymbols([]string{"AAPL"})
			for i := 0; i < clients; i++ {
				c := &client{filter: filter{all: true}}
				c.wakeCh = make(chan struct{}, 1)
				c.signaled.Store(true) // already woken: the common case under load
				h.mu.Lock()
				h.registerLocked(c)
				h.mu.Unlock()
			}
			tk := market.Tick{Symbol: "AAPL", Time: time.Now(), Price: 189.23, Bid: 189.22, Ask: 189.24, Size: 100, Volume: 1000}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				tk.Seq = uint64(i + 1)
				h.append(feed.Msg{Seq: uint64(i + 1), Tick: tk})
			}
		})
	}
}

// BenchmarkPump measures a client copying 64 pending shared frames into
// its write buffer (the write itself excluded).
func BenchmarkPumpCopy(b *testing.B) {
	h := newHub(1<<16, "epoch123", 0)
	h.addSymbols([]string{"AAPL"})
	tk := market.Tick{Symbol: "AAPL", Time: time.Now(), Price: 189.23, Bid: 189.22, Ask: 189.24, Size: 100, Volume: 1000}
	for i := 1; i <= 64; i++ {
		tk.Seq = uint64(i)
		h.append(feed.Msg{Seq: uint64(i), Tick: tk})
	}
	c := &client{h: h, filter: filter{all: true}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.buf = c.buf[:0]
		for pos := uint64(1); pos <= 64; pos++ {
			e := h.at(pos)
			if c.wants(e.sym) {
				c.buf = append(c.buf, e.frame...)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/64, "ns/event")
}

// BenchmarkMerge measures folding 64 ticks of 8 symbols and encoding the
// merged events.
func BenchmarkMerge(b *testing.B) {
	h := newHub(1<<16, "epoch123", 0)
	syms := []string{"A", "B", "C", "D", "E", "F", "G", "H"}
	h.addSymbols(syms)
	for i := 1; i <= 64; i++ {
		tk := market.Tick{Symbol: syms[i%8], Seq: uint64(i), Time: time.Now(), Price: 100 + float64(i)/100, Bid: 99, Ask: 101, Size: 100, Volume: int64(i)}
		h.append(feed.Msg{Seq: uint64(i), Tick: tk})
	}
	c := &client{h: h, filter: filter{all: true, kinds: kTick}} // (without kinds it folded nothing before 2026-12-07)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.cursor, c.buf = 0, c.buf[:0]
		if err := c.collect(64); err != nil {
			b.Fatal(err)
		}
		// emitMerged without the write:
		for _, sym := range c.active {
			t := c.acc[sym].tick()
			c.buf = t.AppendJSON(c.buf)
			c.acc[sym] = mergeAcc{}
		}
		c.active = c.active[:0]
	}
}
