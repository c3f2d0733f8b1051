package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/market"
)

// The history index serves catch-ups from behind the ring. History is
// cut into fixed blocks of blockSeqs stream sequences: block b holds
// sequences b*blockSeqs+1 to (b+1)*blockSeqs. Each block is read from
// JetStream at most once while it is cached (single flight: concurrent
// wanters wait for the one read), through a small pool of readers, so
// the number of JetStream consumers is bounded by Options.HistoryReaders
// whatever the number of clients. A block read whole leaves a summary:
// one merge accumulator per symbol (n, first sequence, newest tick,
// high, low, summed size), which is all a merged catch-up needs; and for
// a while its raw messages, for catch-ups that start inside it or want
// every tick.
const blockSeqs = 4096

// RangeReader is what the history index needs from the feed beyond
// Source: reading a range of sequences exactly (feed.Conn.ReadRange). A
// Source without it is read with Replay.
type RangeReader interface {
	ReadRange(ctx context.Context, from, until uint64, fn func(m feed.Msg, bad error) error) error
}

// rawMsg is one stream message of a raw block. A tick comes decoded
// (tick, sym); another message as it was stored (subj, data), until
// rawBlock.entries decodes it into its hub-style entry e, frame encoded,
// and sets sym. sym < 0 for a message that is neither a valid tick nor
// an event the gateway knows.
type rawMsg struct {
	seq  uint64
	sym  int
	tick *market.Tick
	subj string
	data []byte
	e    *entry
}

// rawBlock is a contiguous run of messages of one block, from to until.
type rawBlock struct {
	from, until uint64
	msgs        []rawMsg // msgs[i].seq == from+i
	decode      sync.Once
}

// flight is one read of a block in progress. Whoever waited for it
// takes its result from the flight, not from the cache: the cache may
// drop a block the moment it is stored (the lowest goes first), and a
// reader that looked it up again would read it again, forever.
type flight struct {
	done chan struct{} // closed when the read ends; the fields below are set before
	raw  *rawBlock     // what was read; nil on error
	sum  *blockSum     // its summary, for a whole block
	err  error
}

// history is the index of one epoch (one hub). Bounds: summaries up to
// Options.HistoryCacheBytes (the oldest blocks are dropped first, and
// any block that left the stream's window); maxRawBlocks raw blocks, the
// least recently used dropped first.
type history struct {
	g *Gateway
	h *hub

	mu       sync.Mutex
	sums     map[uint64]*blockSum
	sumBytes int
	raws     map[uint64]*rawBlock
	rawUse   map[uint64]uint64 // block -> last use (a counter)
	useClock uint64
	flights  map[uint64]*flight
}

const maxRawBlocks = 8

func newHistory(g *Gateway, h *hub) *history {
	return &history{g: g, h: h, sums: map[uint64]*blockSum{}, raws: map[uint64]*rawBlock{},
		rawUse: map[uint64]uint64{}, flights: map[uint64]*flight{}}
}

func blockOf(seq uint64) uint64                { return (seq - 1) / blockSeqs }
func blockRange(b uint64) (from, until uint64) { return b*blockSeqs + 1, (b + 1) * blockSeqs }

// trim drops every block that left the stream's window (ends before
// first).
func (hi *history) trim(first uint64) {
	hi.mu.Lock()
	defer hi.mu.Unlock()
	for b, s := range hi.sums {
		if _, until := blockRange(b); until < first {
			hi.sumBytes -= s.bytes
			delete(hi.sums, b)
		}
	}
	for b := range hi.raws {
		if _, until := blockRange(b); until < first {
			delete(hi.raws, b)
			delete(hi.rawUse, b)
		}
	}
	hi.g.cu.cacheBytes.Set(float64(hi.sumBytes))
}

// once is the single flight of block b's reads: it returns what hit
// finds in the cache (under hi.mu), else what took finds in the flight
// of a read another caller is doing once it ends, else it registers a
// flight and runs read, whose result the caller keeps: a result is
// never looked up again after a read, so eviction cannot starve it. A
// flight that did not give what took wants (a partial read, one that
// failed) is followed by another look.
func (hi *history) once(ctx context.Context, b uint64, hit func() bool, took func(*flight) bool, read func(*flight) error) error {
	for {
		hi.mu.Lock()
		if hit() {
			hi.mu.Unlock()
			return nil
		}
		if f := hi.flights[b]; f != nil {
			hi.mu.Unlock()
			if err := waitFlight(ctx, f); err != nil {
				return err
			}
			if took(f) {
				return nil
			}
			continue
		}
		f := &flight{done: make(chan struct{})}
		hi.flights[b] = f
		hi.mu.Unlock()
		return read(f)
	}
}

// summary returns block b merged per symbol, reading it if needed:
// from the cache, from the read another reader is doing (its flight),
// or from this caller's own read (once).
func (hi *history) summary(ctx context.Context, b uint64) (*blockSum, error) {
	var s *blockSum
	err := hi.once(ctx, b,
		func() bool { s = hi.sums[b]; return s != nil },
		func(f *flight) bool { s = f.sum; return s != nil },
		func(f *flight) error {
			from, until := blockRange(b)
			err := hi.read(ctx, b, from, until, f)
			s = f.sum
			return err
		})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// raw returns messages of block b covering from to until (within the
// block), reading them if needed; like summary, from the cache, another
// reader's flight or its own read.
func (hi *history) raw(ctx context.Context, b, from, until uint64) (*rawBlock, error) {
	bFrom, bUntil := blockRange(b)
	covers := func(r *rawBlock) bool { return r != nil && r.from <= from && r.until >= until }
	var r *rawBlock
	err := hi.once(ctx, b,
		func() bool {
			if r = hi.raws[b]; !covers(r) {
				return false
			}
			hi.useClock++
			hi.rawUse[b] = hi.useClock
			return true
		},
		func(f *flight) bool { r = f.raw; return covers(r) },
		func(f *flight) error {
			// Read the whole block when it is complete (a summary
			// comes with it); the block's start may have aged out
			// while from has not: then read from from.
			rFrom, rUntil := bFrom, until
			if until == bUntil || hi.h.lastSeqNow() >= bUntil {
				rUntil = bUntil
			}
			err := hi.read(ctx, b, rFrom, rUntil, f)
			if errors.Is(err, feed.ErrTooOld) && from > rFrom {
				f = &flight{done: make(chan struct{})}
				hi.mu.Lock()
				hi.flights[b] = f
				hi.mu.Unlock()
				err = hi.read(ctx, b, from, rUntil, f)
			}
			r = f.raw
			return err
		})
	if err != nil {
		return nil, err
	}
	return hi.entries(r), nil
}

// foldTail folds block b after sequence from into c from the block's
// summary (read whole if need be), exactly and with no read when it is
// cached. It reports false, having folded nothing, when the block is
// not complete, cannot be read whole (its start aged out) or has no
// tail: then the caller reads the messages.
func (hi *history) foldTail(ctx context.Context, c *client, b, from uint64) bool {
	if _, until := blockRange(b); hi.h.lastSeqNow() < until {
		return false
	}
	s, err := hi.summary(ctx, b)
	return err == nil && s.foldTail(c, b, from)
}

func waitFlight(ctx context.Context, f *flight) error {
	select {
	case <-f.done:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// read reads from..until of block b with a reader from the pool, and
// stores the raw messages and, for a whole block, its summary, in the
// cache (which may drop them at once) and in flight f, which the caller
// registered and read ends.
func (hi *history) read(ctx context.Context, b, from, until uint64, f *flight) (err error) {
	defer func() {
		f.err = err
		hi.mu.Lock()
		if hi.flights[b] == f {
			delete(hi.flights, b)
		}
		hi.mu.Unlock()
		close(f.done)
	}()
	symOf := hi.symbols()
	r, err := hi.fetch(ctx, b, from, until, symOf)
	if err != nil {
		return err
	}
	var sum *blockSum
	if bFrom, bUntil := blockRange(b); from == bFrom && until == bUntil {
		sum = summarize(r, hi.h.epoch, symOf)
	}
	hi.store(b, r, sum)
	f.raw, f.sum = r, sum
	return nil
}

// fetch reads from..until of block b from JetStream with a reader from
// the pool (Options.HistoryReaders at once, for every catch-up).
func (hi *history) fetch(ctx context.Context, b, from, until uint64, symOf func(string) int) (r *rawBlock, err error) {
	cu := hi.g.cu
	if err := cu.acquire(ctx, cu.readers); err != nil {
		return nil, err
	}
	cu.readersGauge.Inc()
	defer func() {
		cu.readersGauge.Dec()
		<-cu.readers
	}()
	cu.blocksRead.Inc()
	r = &rawBlock{from: from, until: until, msgs: make([]rawMsg, 0, until-from+1)}
	add := func(m feed.Msg, bad error) error {
		if m.Seq != from+uint64(len(r.msgs)) {
			return fmt.Errorf("gateway: history block %d: sequence %d, want %d: %w", b, m.Seq, from+uint64(len(r.msgs)), feed.ErrTooOld)
		}
		rm := rawMsg{seq: m.Seq, sym: -1}
		switch {
		case bad != nil:
			hi.g.m.badMsgs.Inc()
		case m.IsTick():
			t := m.Tick
			rm.tick, rm.sym = &t, symOf(t.Symbol)
		default:
			rm.subj, rm.data = m.Subject, m.Data
		}
		r.msgs = append(r.msgs, rm)
		return nil
	}
	if rr, ok := hi.g.src.(RangeReader); ok {
		err = rr.ReadRange(ctx, from, until, add)
	} else {
		err = hi.g.src.Replay(ctx, from, until, nil, func(m feed.Msg) error { return add(m, nil) })
	}
	if err == nil && uint64(len(r.msgs)) != until-from+1 {
		err = fmt.Errorf("gateway: history block %d: read %d of %d messages: %w", b, len(r.msgs), until-from+1, feed.ErrTooOld)
	}
	if err != nil {
		return nil, fmt.Errorf("gateway: history %d-%d: %w", from, until, err)
	}
	return r, nil
}

// store keeps block b's raw messages (at most maxRawBlocks blocks, the
// least recently used dropped first) and its summary, if any, in the
// cache.
func (hi *history) store(b uint64, r *rawBlock, sum *blockSum) {
	hi.mu.Lock()
	defer hi.mu.Unlock()
	if old := hi.raws[b]; old == nil || old.from >= r.from && old.until <= r.until {
		hi.raws[b] = r
	}
	hi.useClock++
	hi.rawUse[b] = hi.useClock
	for len(hi.raws) > maxRawBlocks {
		var victim uint64
		oldest := ^uint64(0)
		for k, u := range hi.rawUse {
			if u < oldest {
				victim, oldest = k, u
			}
		}
		delete(hi.raws, victim)
		delete(hi.rawUse, victim)
	}
	if sum != nil {
		hi.storeSumLocked(b, sum)
	}
	hi.g.cu.cacheBytes.Set(float64(hi.sumBytes))
}

// symbols returns a lookup of symbol indexes in the hub, remembering
// what it looked up.
func (hi *history) symbols() func(string) int {
	index := map[string]int{}
	return func(s string) int {
		if i, ok := index[s]; ok {
			return i
		}
		i := hi.h.symbolIndex(s)
		index[s] = i
		return i
	}
}

// entries decodes r's messages of other types than tick into hub-style
// entries, once, for catch-ups that read r message by message; a
// summary does not need them.
func (hi *history) entries(r *rawBlock) *rawBlock {
	r.decode.Do(func() {
		symOf := hi.symbols()
		var a arena // the block's entries live and die together
		for i := range r.msgs {
			m := &r.msgs[i]
			if m.data == nil {
				continue
			}
			if e, s, ok := eventEntry(hi.h.epoch, &feed.Msg{Seq: m.seq, Subject: m.subj, Data: m.data}, &a); ok {
				e.sym = symOf(s)
				m.e, m.sym = e, e.sym
			}
		}
	})
	return r
}
