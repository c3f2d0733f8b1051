package sim

import (
	"context"
	"testing"
	"time"

	"github.com/tickcast/tickcast/market"
)

// How books should travel (docs/events-design.md): whole states,
// throttled or not, against changes (only the levels that changed,
// size 0 for a level gone) with a whole state every second, at the
// default rate over 10 s of a session. Each reports the bytes and
// messages a second of feed it makes and the encoding time per message.
//
//	go test -run '^$' -bench BookWire -benchtime 5x ./sim

type bookWire struct {
	diffs    bool
	every    time.Duration // diffs: a whole state this often
	bytes    int
	msgs     int
	encode   time.Duration // in PublishBook
	buf      []byte
	prev     map[string]market.Book
	lastFull map[string]time.Time
}

func (w *bookWire) Publish(context.Context, market.Tick) error         { return nil }
func (w *bookWire) PublishQuote(context.Context, market.Quote) error   { return nil }
func (w *bookWire) PublishBar(context.Context, market.Bar) error       { return nil }
func (w *bookWire) PublishStatus(context.Context, market.Status) error { return nil }
func (w *bookWire) PublishClock(context.Context, market.Clock) error   { return nil }

func (w *bookWire) PublishBook(_ context.Context, b market.Book) error {
	start := time.Now()
	defer func() { w.encode += time.Since(start) }()
	w.msgs++
	if !w.diffs || b.Time.Sub(w.lastFull[b.Symbol]) >= w.every {
		w.buf = b.AppendJSON(w.buf[:0])
		w.bytes += len(w.buf)
		if w.diffs {
			w.lastFull[b.Symbol] = b.Time
			w.keep(b)
		}
		return nil
	}
	p := w.prev[b.Symbol]
	d := b
	d.Bids, d.Asks = diffLevels(p.Bids, b.Bids, true), diffLevels(p.Asks, b.Asks, false)
	w.buf = d.AppendJSON(w.buf[:0])
	w.buf = append(w.buf, `,"diff":true`...) // what a diff would carry besides
	w.bytes += len(w.buf)
	w.keep(b)
	return nil
}

func (w *bookWire) keep(b market.Book) {
	b.Bids = append([]market.Level(nil), b.Bids...)
	b.Asks = append([]market.Level(nil), b.Asks...)
	w.prev[b.Symbol] = b
}

// diffLevels is what changed from old to cur: levels new or resized,
// and old ones gone with size 0 (written as 0, which a real diff format
// would allow).
func diffLevels(old, cur []market.Level, bids bool) []market.Level {
	var out []market.Level
	at := map[float64]int64{}
	for _, l := range old {
		at[l.Price] = l.Size
	}
	for _, l := range cur {
		if at[l.Price] != l.Size {
			out = append(out, l)
		}
		delete(at, l.Price)
	}
	for p := range at {
		out = append(out, market.Level{Price: p})
	}
	return out
}

func BenchmarkBookWire(b *testing.B) {
	const ticks = 3000 // 10 s at the default 300 a second
	for _, c := range []struct {
		name      string
		bookEvery time.Duration
		diffs     bool
	}{
		{"no-books", -1, false},
		{"states-100ms", DefaultBookEvery, false},
		{"states-every-change", time.Nanosecond, false},
		{"diffs-every-change-state-1s", time.Nanosecond, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			var w *bookWire
			var secs float64
			for b.Loop() {
				s := mustNew(b, Config{Seed: 1, Session: &Session{}, Arrivals: Poisson, Events: Events{BookEvery: c.bookEvery}})
				w = &bookWire{diffs: c.diffs, every: time.Second, prev: map[string]market.Book{}, lastFull: map[string]time.Time{}}
				driveEvents(b, s, w, ticks)
				secs = s.Due().Seconds()
			}
			b.ReportMetric(float64(w.bytes)/secs, "bytes/s")
			b.ReportMetric(float64(w.msgs)/secs, "books/s")
			if w.msgs > 0 {
				b.ReportMetric(float64(w.bytes)/float64(w.msgs), "bytes/book")
				b.ReportMetric(float64(w.encode.Nanoseconds())/float64(w.msgs), "ns-encode/book")
			}
		})
	}
}
