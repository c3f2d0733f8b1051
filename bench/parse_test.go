package bench

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/tickcast/tickcast/market"
)

type ev struct{ typ, id, data string }

type recorder struct{ evs []ev }

func (r *recorder) Event(typ, id, data []byte) {
	r.evs = append(r.evs, ev{string(typ), string(id), string(data)})
}

// parseAll parses in in pieces of size step (0: all at once).
func parseAll(in []byte, chunked bool, step int) ([]ev, int, error) {
	var r recorder
	var p Parser
	p.Reset(&r, chunked)
	if step <= 0 {
		step = len(in) + 1
	}
	var err error
	for len(in) > 0 && err == nil {
		n := min(step, len(in))
		err = p.Feed(in[:n])
		in = in[n:]
	}
	return r.evs, p.Retry, err
}

// chunk encodes b in HTTP/1.1 chunked encoding, size bytes a chunk,
// with the terminating chunk.
func chunk(b []byte, size int, ext bool) []byte {
	var out bytes.Buffer
	for len(b) > 0 {
		n := min(size, len(b))
		if ext {
			fmt.Fprintf(&out, "%X;x=y\r\n", n)
		} else {
			fmt.Fprintf(&out, "%x\r\n", n)
		}
		out.Write(b[:n])
		out.WriteString("\r\n")
		b = b[n:]
	}
	out.WriteString("0\r\nTrailer: x\r\n\r\n")
	return out.Bytes()
}

func TestParser(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  []ev
		retry int
	}{
		{"one event", "event: tick\nid: 1\ndata: {}\n\n", []ev{{"tick", "1", "{}"}}, -1},
		{"default type", "data: x\n\n", []ev{{"message", "", "x"}}, -1},
		{"crlf", "event: a\r\ndata: x\r\n\r\ndata: y\r\n\r\n", []ev{{"a", "", "x"}, {"message", "", "y"}}, -1},
		{"cr", "event: a\rdata: x\r\rdata: y\r\r", []ev{{"a", "", "x"}, {"message", "", "y"}}, -1},
		{"multi-line data", "data: a\ndata:b\ndata\n\n", []ev{{"message", "", "a\nb\n"}}, -1},
		{"comments and retry", ": hi\nretry: 1500\n\n: again\n\ndata: z\n\n", []ev{{"message", "", "z"}}, 1500},
		{"no data no event", "event: tick\nid: 7\n\ndata: q\n\n", []ev{{"message", "7", "q"}}, -1},
		{"id persists", "id: 5\ndata: a\n\ndata: b\n\n", []ev{{"message", "5", "a"}, {"message", "5", "b"}}, -1},
		{"unterminated", "data: a\n\ndata: b\n", []ev{{"message", "", "a"}}, -1},
		{"unknown field", "foo: bar\ndata: a\n\n", []ev{{"message", "", "a"}}, -1},
		{"bad retry", "retry: 1x\ndata: a\n\n", []ev{{"message", "", "a"}}, -1},
		{"id with NUL ignored", "id: 1\x002\ndata: a\n\n", []ev{{"message", "", "a"}}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, chunked := range []bool{false, true} {
				for _, step := range []int{0, 1, 2, 3, 7} {
					in := []byte(tt.in)
					if chunked {
						in = chunk(in, 5, step == 3)
					}
					got, retry, err := parseAll(in, chunked, step)
					if chunked && err != io.EOF {
						t.Fatalf("chunked step %d: err %v, want io.EOF", step, err)
					}
					if !chunked && err != nil {
						t.Fatalf("step %d: %v", step, err)
					}
					if fmt.Sprint(got) != fmt.Sprint(tt.want) || retry != tt.retry {
						t.Errorf("chunked %v step %d: got %q retry %d, want %q retry %d", chunked, step, got, retry, tt.want, tt.retry)
					}
				}
			}
		})
	}
}

func TestParserChunkErrors(t *testing.T) {
	for _, in := range []string{
		"x\r\n",
		"\r\n",
		"5\r\nabcdeXX",
		"5\rX",
		"fffffffffffffffffff\r\n",
		"3\r\nabc\r\n-1\r\n",
	} {
		_, _, err := parseAll([]byte(in), true, 0)
		if !errors.Is(err, ErrStream) {
			t.Errorf("%q: err %v, want ErrStream", in, err)
		}
	}
	// After the last chunk, nothing more is read.
	var r recorder
	var p Parser
	p.Reset(&r, true)
	if err := p.Feed([]byte("0\r\n\r\n")); err != io.EOF {
		t.Fatalf("err %v", err)
	}
	if err := p.Feed([]byte("5\r\ndata: x\n\n")); err != io.EOF || len(r.evs) != 0 {
		t.Fatalf("after EOF: err %v, events %v", err, r.evs)
	}
}

func TestParserLimits(t *testing.T) {
	var r recorder
	var p Parser
	p.Reset(&r, false)
	big := bytes.Repeat([]byte("a"), MaxEventBytes/4)
	var err error
	for i := 0; i < 5 && err == nil; i++ {
		err = p.Feed(big)
	}
	if !errors.Is(err, ErrStream) {
		t.Fatalf("long line: err %v, want ErrStream", err)
	}
}

// FuzzParse checks that the parser never panics, that how the input is
// split does not matter, and that chunked encoding is transparent.
func FuzzParse(f *testing.F) {
	f.Add([]byte("event: tick\nid: 1-2\ndata: {\"symbol\":\"AAPL\",\"seq\":1}\n\n"), 3, 4)
	f.Add([]byte("retry: 100\r\n: c\r\n\r\ndata: a\r\ndata: b\r\rdata\n\n"), 1, 1)
	f.Add([]byte("data: x\rid: \x00\n\nevent:\ndata:\n\n"), 2, 100)
	f.Add([]byte("3\r\nabc\r\n0\r\n\r\n"), 0, 2)
	f.Fuzz(func(t *testing.T, in []byte, step, size int) {
		if len(in) > 1<<16 {
			return
		}
		step = step%16 + 1
		if step < 1 {
			step = -step + 1
		}
		size = size%64 + 1
		if size < 1 {
			size = -size + 1
		}
		whole, r1, err1 := parseAll(in, false, 0)
		split, r2, err2 := parseAll(in, false, step)
		if (err1 == nil) != (err2 == nil) || fmt.Sprint(whole) != fmt.Sprint(split) || r1 != r2 {
			t.Fatalf("split %d changed the result: %q/%v vs %q/%v", step, whole, err1, split, err2)
		}
		ch, r3, err3 := parseAll(chunk(in, size, step%2 == 0), true, step)
		if err1 == nil && (err3 != io.EOF || fmt.Sprint(whole) != fmt.Sprint(ch) || r1 != r3) {
			t.Fatalf("chunked: %q/%v vs %q/%v", whole, err1, ch, err3)
		}
		// Raw bytes as a chunked body: anything goes but a panic.
		parseAll(in, true, step)
	})
}

// tickStream returns n tick events as the gateway writes them, chunked one
// event per chunk.
func tickStream(n int, symbols []string) []byte {
	var raw, out []byte
	t0 := time.Date(2026, 11, 23, 14, 30, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		sym := symbols[i%len(symbols)]
		tk := market.Tick{Symbol: sym, Seq: uint64(i/len(symbols) + 1), Time: t0.Add(time.Duration(i) * 1234567),
			Price: 189.23, Bid: 189.22, Ask: 189.24, Size: 300, Volume: 1234500 + int64(i),
			MarketTime: t0.Add(time.Duration(i) * 7654321)} // as the default simulator sends them
		if i%50 == 0 {
			tk.Conditions = market.Conditions("O")
		}
		raw = raw[:0]
		raw = fmt.Appendf(raw, "id: ab12-%d\nevent: tick\ndata: ", i+1)
		raw = tk.AppendJSON(raw)
		raw = append(raw, "\n\n"...)
		out = fmt.Appendf(out, "%x\r\n", len(raw))
		out = append(out, raw...)
		out = append(out, "\r\n"...)
	}
	return out
}

func benchClient(symbols []string) *client {
	r := &runner{index: map[string]int32{}}
	for i, s := range symbols {
		r.index[s] = int32(i)
	}
	r.winStart.Store(0)
	r.winEnd.Store(1<<63 - 1)
	c := &client{r: r, sh: newShard(), last: make([]uint64, len(symbols))}
	c.p.Reset(c, true)
	return c
}

// BenchmarkParse measures a client's whole per-event path: chunked
// decoding, SSE parsing, tick fields, seq accounting and latency batching.
// It must report 0 allocs/op.
func BenchmarkParse(b *testing.B) {
	syms := strings.Fields("AAPL MSFT NVDA AMZN GOOGL META BRK-B TSLA")
	const perOp = 1000
	stream := tickStream(perOp, syms)
	c := benchClient(syms)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clear(c.last) // the same seqs again: no gaps
		c.now = time.Now().UnixNano()
		c.ws, c.we = 0, 1<<63-1
		for s := stream; len(s) > 0; {
			n := min(4096, len(s))
			if err := c.p.Feed(s[:n]); err != nil {
				b.Fatal(err)
			}
			s = s[n:]
		}
	}
	b.StopTimer()
	c.flush()
	if c.sh.st.Gaps != 0 || c.sh.bad != 0 || c.sh.st.Events != uint64(perOp*b.N) {
		b.Fatalf("stats %+v bad %d", c.sh.st, c.sh.bad)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(perOp*b.N), "ns/event")
}

func TestParseNoAllocs(t *testing.T) {
	syms := []string{"AAPL", "MSFT"}
	stream := tickStream(200, syms)
	c := benchClient(syms)
	allocs := testing.AllocsPerRun(20, func() {
		clear(c.last)
		c.now = time.Now().UnixNano()
		c.ws, c.we = 0, 1<<63-1
		if err := c.p.Feed(stream); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per 200 events, want 0", allocs)
	}
}

// A stream cut between an event's id: line and its blank line (a write
// the gateway cut at its deadline) must not move the id a reconnecting
// client resumes from: that event was never handled, and resuming after
// it would lose it (the bench counted such cuts as gaps of one tick).
func TestParserLastIDOnlyDispatched(t *testing.T) {
	for _, cut := range []string{
		"id: e-11\n",
		"id: e-11\nevent: tick\n",
		"id: e-11\nevent: tick\ndata: {\"symbol\":\"AAA\"}\n",
	} {
		var r recorder
		var p Parser
		p.Reset(&r, false)
		if err := p.Feed([]byte("id: e-10\nevent: tick\ndata: {}\n\n" + cut)); err != nil {
			t.Fatal(err)
		}
		if len(r.evs) != 1 || string(p.LastID()) != "e-10" {
			t.Errorf("cut after %q: %d events, last id %q, want 1 and e-10", cut, len(r.evs), p.LastID())
		}
		p.Reset(&r, false) // the reconnect keeps the dispatched id
		if string(p.LastID()) != "e-10" {
			t.Errorf("after Reset: last id %q", p.LastID())
		}
		if err := p.Feed([]byte("id: e-12\nevent: tick\ndata: {}\n\n")); err != nil || string(p.LastID()) != "e-12" {
			t.Errorf("next event: %v, last id %q", err, p.LastID())
		}
	}
}
