package gateway

import (
	"bufio"
	"bytes"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tickcast/tickcast/feed"
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
	id := FormatID(e.state().Epoch, last-180_000)
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
