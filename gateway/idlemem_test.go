package gateway

import (
	"bytes"
	"cmp"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tickcast/tickcast/feed"
)

// What an idle stream holds in the gateway's heap, measured from the
// heap profile (every allocation sampled): the live bytes allocated while
// 1,000 idle HTTP/1.1 streams were opened (three rounds, the least), less
// those of the test's own client connections, per stream. Run:
//
//	go test -run '^$' -bench 'BenchmarkIdleStreamMemory' -benchtime 1x ./gateway
//
// It reports B/stream and, with -v, where they are (the allocating
// function, in the gateway's code where there is one).
func BenchmarkIdleStreamMemory(b *testing.B) {
	for range b.N {
		per, sites := idleStreamBytes(b, 1000, "?symbols=AAA,BBB,CCC,DDD")
		b.ReportMetric(per, "B/stream")
		for _, s := range sites {
			b.Logf("%8.0f B/stream  %s", s.bytes, s.where)
		}
	}
}

// An idle stream of some symbols holds at most 2 KiB of heap in the
// gateway: live bytes after a GC, every allocation sampled, so the
// figure of a round moves with shared maps' growth and whatever else the
// process allocated meanwhile, and the least of three rounds is taken.
func TestIdleStreamMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 1,500 streams")
	}
	per, sites := idleStreamBytes(t, 500, "?symbols=AAA,CCC")
	for _, s := range sites {
		t.Logf("%8.0f B/stream  %s", s.bytes, s.where)
	}
	t.Logf("%.0f bytes of heap per idle stream", per)
	if per > 2048 {
		t.Fatalf("an idle stream holds %.0f bytes of heap, want at most 2048", per)
	}
}

type memSite struct {
	where string
	bytes float64
}

// idleStreamBytes opens n idle streams with query, three times over in
// one gateway, and returns the least of the three figures of live heap
// bytes per stream, with the sites that hold them. A one-off allocation
// elsewhere in the process while a round ran (JetStream's, a buffer the
// runtime grew) only adds to a round: the least is the streams' own.
func idleStreamBytes(tb testing.TB, n int, query string) (float64, []memSite) {
	old := runtime.MemProfileRate
	runtime.MemProfileRate = 1
	defer func() { runtime.MemProfileRate = old }()

	e := newEnv(tb, Options{}, feed.StreamConfig{Memory: true})
	e.publish(8)
	e.waitHub(8)
	first := idleDial(tb, e.hs.URL, query) // starts the workers and the poller
	idleRead(tb, first)
	defer first.Close()

	conns := make([]net.Conn, 0, 3*n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	best, bestSites := -1.0, []memSite(nil)
	for round := 1; round <= 3; round++ {
		before := heapSites()
		for range n {
			conns = append(conns, idleDial(tb, e.hs.URL, query))
		}
		for _, c := range conns[len(conns)-n:] {
			idleRead(tb, c)
		}
		waitFor(tb, 10*time.Second, "streams on the loop", func() bool { return loopCount(e.g) == round*n+1 })
		waitFor(tb, 10*time.Second, "handlers to end", func() bool { return runtime.NumGoroutine() < 200 })
		after := heapSites()

		by := map[string]float64{}
		var total float64
		for k, v := range after {
			d := float64(v.bytes - before[k].bytes)
			if d == 0 || v.client {
				continue
			}
			total += d
			by[v.where] += d
		}
		per := total / float64(n)
		tb.Logf("round %d: %.0f bytes per stream", round, per)
		if best >= 0 && per >= best {
			continue
		}
		best, bestSites = per, nil
		for w, d := range by {
			if d/float64(n) >= 8 {
				bestSites = append(bestSites, memSite{w, d / float64(n)})
			}
		}
	}
	slices.SortFunc(bestSites, func(a, b memSite) int { return cmp.Compare(b.bytes, a.bytes) })
	return best, bestSites
}

// idleDial opens a stream on a raw TCP connection.
func idleDial(tb testing.TB, url, query string) net.Conn {
	addr := strings.TrimPrefix(url, "http://")
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	fmt.Fprintf(c, "GET /v1/stream%s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", query, addr)
	return c
}

// idleRead reads c's stream up to the end of its snapshot.
func idleRead(tb testing.TB, c net.Conn) {
	var buf [8192]byte
	n := 0
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		k, err := c.Read(buf[n:])
		if err != nil {
			tb.Fatalf("reading a stream: %v (got %q)", err, buf[:n])
		}
		n += k
		if i := bytes.Index(buf[:n], []byte("event: snapshot")); i >= 0 && bytes.Contains(buf[i:n], []byte("\n\n")) {
			return
		}
		if n == len(buf) {
			tb.Fatal("no snapshot in the first 8 KiB")
		}
	}
}

type heapSite struct {
	bytes  int64
	where  string
	client bool // allocated by the test's own clients
}

// heapSites returns the live bytes of every allocation stack of the heap
// profile, after enough collections that the profile is current.
func heapSites() map[[32]uintptr]heapSite {
	for range 3 {
		runtime.GC()
	}
	var recs []runtime.MemProfileRecord
	for {
		n, ok := runtime.MemProfile(recs, false)
		if ok {
			recs = recs[:n]
			break
		}
		recs = make([]runtime.MemProfileRecord, n+64)
	}
	out := make(map[[32]uintptr]heapSite, len(recs))
	for _, r := range recs {
		s := heapSite{bytes: r.InUseBytes()}
		fr := runtime.CallersFrames(r.Stack())
		var first, ours string
		for {
			f, more := fr.Next()
			switch {
			case strings.Contains(f.Function, "idleDial"), strings.Contains(f.Function, "idleRead"),
				strings.Contains(f.Function, "heapSites"), strings.Contains(f.Function, "idleStreamBytes"):
				s.client = true
			case first == "" && !strings.HasPrefix(f.Function, "runtime."):
				first = f.Function
			}
			if ours == "" && strings.Contains(f.Function, "tickcast/gateway.") {
				ours = fmt.Sprintf("%s:%d", strings.TrimPrefix(f.Function, "github.com/tickcast/tickcast/"), f.Line)
			}
			if !more {
				break
			}
		}
		// The allocating function, and the gateway's line that called it.
		s.where = strings.TrimPrefix(first, "github.com/tickcast/tickcast/")
		if ours != "" && !strings.HasPrefix(ours, s.where+":") {
			s.where += " <- " + ours
		} else if ours != "" {
			s.where = ours
		}
		out[r.Stack0] = s
	}
	return out
}
