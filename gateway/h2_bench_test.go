package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/market"
)

// BenchmarkFanoutProto measures CPU per delivered tick with 100 streaming
// clients over HTTP/1.1 (one connection each, hijacked, raw writes) and
// over HTTP/2 (the 100 streams multiplexed over 4 connections, through
// net/http's HTTP/2 server), in clear text (h1, h2c) and over TLS
// (h1tls, h2tls). Each op is one tick, appended to the hub directly
// (no NATS in the figure) at 1,000 ticks/s over 4 symbols; every client
// wants every symbol. The clients are lean readers (they count
// "event: tick" lines) in the same process: cpu-us/delivery is the
// whole process's CPU (gateway, clients, both ends of TLS) divided by
// the ticks the clients received; nothing is subtracted.
//
//	go test -run XXX -bench FanoutProto -benchtime 5000x ./gateway
func BenchmarkFanoutProto(b *testing.B) {
	defer func(n int) { testSndbuf = n }(testSndbuf)
	testSndbuf = DefaultSendBuffer
	const clients, conns = 100, 4
	for _, proto := range []string{"h1", "h2c", "h1tls", "h2tls"} {
		b.Run(proto, func(b *testing.B) {
			e := newEnv(b, Options{}, feed.StreamConfig{Memory: true})
			e.publish(4)
			e.waitHub(4)
			url := e.hs.URL
			mode := map[string]string{"h2c": "h2c", "h1tls": "tls", "h2tls": "tls"}[proto]
			if mode != "" {
				url, _ = e.serveProto(mode)
			}
			// One client per connection for HTTP/1.1 (keep-alive is moot:
			// a stream holds its connection); conns clients for HTTP/2.
			var hcs []*http.Client
			switch proto {
			case "h1", "h1tls":
				_, pool := testCert()
				var p http.Protocols
				p.SetHTTP1(true)
				hc := &http.Client{Transport: &http.Transport{Protocols: &p, TLSClientConfig: &tls.Config{RootCAs: pool}, MaxConnsPerHost: 0}}
				hcs = append(hcs, hc)
			default:
				for range conns {
					hcs = append(hcs, h2Client(b, mode, nil, nil, nil))
				}
			}
			var got atomic.Int64
			var ready, done sync.WaitGroup
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			for i := range clients {
				ready.Add(1)
				done.Add(1)
				go func() {
					defer done.Done()
					req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/v1/stream", nil)
					resp, err := hcs[i%len(hcs)].Do(req)
					if err != nil {
						b.Error(err)
						ready.Done()
						return
					}
					defer resp.Body.Close()
					if want := map[bool]int{true: 2, false: 1}[proto == "h2c" || proto == "h2tls"]; resp.ProtoMajor != want {
						b.Errorf("%s: got %s", proto, resp.Proto)
					}
					br := bufio.NewReaderSize(resp.Body, 64<<10)
					first := true
					for {
						line, err := br.ReadSlice('\n')
						if err != nil {
							if first {
								ready.Done()
							}
							return
						}
						if first && bytes.HasPrefix(line, []byte("event: snapshot")) {
							first = false
							ready.Done()
						}
						if bytes.Equal(line, []byte("event: tick\n")) {
							got.Add(1)
						}
					}
				}()
			}
			ready.Wait()
			h := e.g.hub.Load()
			seq := h.lastSeqNow()
			tk := market.Tick{Price: 100, Bid: 99.99, Ask: 100.01, Size: 100, Volume: 1000}
			syms := testSymbols
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			c0 := cpuTime()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				<-tick.C
				seq++
				tk.Symbol, tk.Seq, tk.Time = syms[i%len(syms)], seq, time.Now()
				h.append(feed.Msg{Seq: seq, Tick: tk})
			}
			// Let the last ticks arrive.
			want := int64(b.N) * clients
			for deadline := time.Now().Add(5 * time.Second); got.Load() < want && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			cpu := cpuTime() - c0
			n := got.Load()
			cancel()
			done.Wait()
			b.ReportMetric(float64(cpu.Nanoseconds())/1000/float64(n), "cpu-us/delivery")
			b.ReportMetric(float64(n)/float64(b.N), "deliveries/op")
			b.ReportMetric(cpu.Seconds()/b.Elapsed().Seconds(), "cores")
		})
	}
}
