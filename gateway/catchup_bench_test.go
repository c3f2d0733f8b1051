package gateway

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/gateway/sse"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDeepResume measures one resume of a client 180,000 ticks
// behind (far behind the default ring): its merged catch-up over HTTP,
// in process CPU time per resume (gateway, client and, when cold, the
// embedded JetStream server). cold drops the history index before
// each resume; warm reuses it.
func BenchmarkDeepResume(b *testing.B) {
	e := newEnv(b, Options{}, feed.StreamConfig{Memory: true})
	var wg sync.WaitGroup
	for _, s := range testSymbols { // one publisher per symbol keeps its order
		wg.Add(1)
		go func() { defer wg.Done(); e.publish(185_000/len(testSymbols), s) }()
	}
	wg.Wait()
	last := e.state().LastSeq
	e.waitHub(last)
	id := sse.FormatID(e.state().Epoch, last-180_000)
	resume := func(b *testing.B) {
		req, _ := http.NewRequest(http.MethodGet, e.hs.URL+"/v1/stream", nil)
		req.Header.Set("Last-Event-ID", id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReaderSize(resp.Body, 64<<10)
		for n := 0; n < len(testSymbols); { // one merged event per symbol
			line, err := br.ReadSlice('\n')
			if err != nil {
				b.Fatalf("after %d events: %v", n, err)
			}
			if bytes.Equal(line, []byte("event: tick\n")) {
				n++
			}
		}
	}
	for _, mode := range []string{"cold", "warm"} {
		b.Run(mode, func(b *testing.B) {
			if mode == "warm" {
				resume(b)
			}
			var cpu time.Duration
			for i := 0; i < b.N; i++ {
				if mode == "cold" {
					e.g.cu.mu.Lock()
					e.g.cu.hist = nil
					e.g.cu.mu.Unlock()
				}
				c0 := cpuTime()
				resume(b)
				cpu += cpuTime() - c0
			}
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
		})
	}
}

// BenchmarkLiveDuringDeepResumes measures a healthy live client's
// latency (publish to receipt) while clients resume from deep in
// history at once (flood) against none (idle). The p99 of the two is the
// fairness figure: catch-ups are bounded and must not starve live
// fan-out. Each op is one round of 2s of live ticks.
func BenchmarkLiveDuringDeepResumes(b *testing.B) {
	for _, flood := range []int{0, 1000} {
		name := "idle"
		if flood > 0 {
			name = "flood"
		}
		b.Run(name, func(b *testing.B) {
			e := deepEnv(b, Options{}, nil)
			epoch := e.state().Epoch
			var lat []time.Duration
			for i := 0; i < b.N; i++ {
				live := openURL(b, e.hs.URL+"/v1/stream?symbols=AAA", nil)
				live.next() // snapshot
				stop := make(chan struct{})
				var wg sync.WaitGroup
				wg.Add(1)
				go func() {
					defer wg.Done()
					t := time.NewTicker(5 * time.Millisecond)
					defer t.Stop()
					for {
						select {
						case <-stop:
							return
						case <-t.C:
							e.publish(4)
						}
					}
				}()
				// The flood: 1000 clients resuming from deep ids within the
				// first second, each reading just its merged catch-up (one event per
				// symbol) with a lean reader, so the figure is the
				// gateway's and not the test clients' JSON parsing.
				var resumes atomic.Int64
				for k := 0; k < flood; k++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						from := uint64(101 + (k*16)%16000)
						// All at once, spread over the first second.
						time.Sleep(time.Duration(k) * time.Millisecond)
						deepRead(b, e.hs.URL, sse.FormatID(epoch, from), stop)
						resumes.Add(1)
					}()
				}
				end := time.Now().Add(2 * time.Second)
				for time.Now().Before(end) {
					ev := live.next()
					if ev.name == "tick" {
						lat = append(lat, ev.at.Sub(ev.tick(b).Time))
					}
				}
				close(stop)
				wg.Wait()
				live.close()
				if flood > 0 {
					b.ReportMetric(float64(resumes.Load())/2, "resumes/s")
				}
			}
			sortDurations(lat)
			if len(lat) > 0 {
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-us")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-us")
			}
		})
	}
}

// deepRead resumes from id and reads until one event per symbol.
func deepRead(b *testing.B, url, id string, stop chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/v1/stream", nil)
	req.Header.Set("Last-Event-ID", id)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	br := bufio.NewReaderSize(resp.Body, 16<<10)
	for n := 0; n < len(testSymbols); {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return
		}
		if bytes.Equal(line, []byte("event: tick\n")) {
			n++
		}
	}
}

func sortDurations(d []time.Duration) {
	slices.Sort(d)
}
