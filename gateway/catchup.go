package gateway

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/tickcast/tickcast/feed"
)

var (
	// errLagging: the id is in the stream but this gateway's tail has not
	// reached it within aheadWait; the client is sent back with retry:
	// and the same id, never reset.
	errLagging      = errors.New("this gateway's tail is behind the requested id")
	errShuttingDown = errors.New("the gateway is shutting down")
)

// aheadWait is how long a resume from an id this gateway has not read
// yet (another gateway is ahead) waits for the tail.
const aheadWait = 3 * time.Second

// awaitHub waits until h holds seq, an id ahead of it. It returns
// resetAhead when the stream itself does not hold seq, errLagging when
// the hub did not get there in time or the stream is of another epoch
// (recreated; this gateway has not moved on yet).
func (g *Gateway) awaitHub(ctx context.Context, h *hub, seq uint64) (reset string, err error) {
	st, err := g.src.State(ctx)
	if err != nil {
		return "", err
	}
	if st.Epoch != h.epoch {
		return "", fmt.Errorf("%w: the stream's epoch is %s, this gateway still reads %s", errLagging, st.Epoch, h.epoch)
	}
	if seq > st.LastSeq {
		return resetAhead, nil
	}
	t := time.NewTimer(aheadWait)
	defer t.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for h.lastSeqNow() < seq {
		select {
		case <-ctx.Done():
			return "", context.Cause(ctx)
		case <-t.C:
			return "", fmt.Errorf("%w: hub at %d, id %d, stream at %d", errLagging, h.lastSeqNow(), seq, st.LastSeq)
		case <-tick.C:
		}
	}
	return "", nil
}

// catchUp resumes c from seq, which the ring no longer covers, from the
// history index: it folds history (seq, q] for a block boundary q the
// ring covers, joins the ring right after q, and sends what it folded
// merged per symbol together with the ring up to its head (or, for a
// client that wants every tick, each tick as it goes). When the ring
// holds no block boundary (a ring smaller than a block) it joins at the
// head first and reads history up to the hub's last sequence.
func (g *Gateway) catchUp(ctx context.Context, c *client, seq uint64, lastID string) error {
	h := c.h
	st, err := g.recentState(ctx)
	if err != nil {
		return err
	}
	if err := g.checkHubEpoch(ctx, h); err != nil {
		return err // the id is of the old stream, but a reset now would snapshot it
	}
	if seq+1 < st.FirstSeq {
		return g.reset(c, resetExpired, lastID)
	}
	hi := g.history(h)
	hi.trim(st.FirstSeq)
	cu := g.cu
	cu.waiting.Inc()
	err = g.waitSlot(ctx, c)
	cu.waiting.Dec()
	if err != nil {
		return err
	}
	cu.active.Inc()
	defer func() { <-cu.slots; cu.active.Dec() }()

	start := time.Now()
	merge := c.throttle > 0 || h.lastSeqNow()-seq > uint64(g.opts.catchupMergeAfter)
	c.lastSeq = seq
	from, registered := seq, false
	fail := func(err error) error {
		if registered {
			h.unregister(c)
		}
		if errors.Is(err, feed.ErrTooOld) {
			// History after the id aged out while we read it.
			c.drop()
			return g.reset(c, resetExpired, lastID)
		}
		return err
	}
	for attempt := 0; !registered; attempt++ {
		if attempt == 16 {
			return fmt.Errorf("gateway: catch-up from %d could not reach the ring", seq)
		}
		joined, readTo, err := h.joinCatchUp(c, from)
		if err != nil {
			return err
		}
		registered = joined
		if readTo == 0 {
			break // joined right after from
		}
		if err := g.foldHistory(ctx, hi, c, from, readTo, merge); err != nil {
			return fail(err)
		}
		if joined { // at the head: history up to it is read
			c.lastSeq = max(c.lastSeq, readTo)
		}
		from = readTo
	}
	g.m.resumeTicks.Add(float64(h.lastSeqNow() - seq))
	if merge && c.throttle == 0 {
		if err := c.collect(c.h.head.Load()); err != nil {
			return fail(err)
		}
		if err := c.emitMerged(); err != nil {
			return fail(err)
		}
	}
	// A throttled client's merged history goes out with its first window;
	// the retry: line and anything else pending go now.
	if err := c.flush(); err != nil {
		return fail(err)
	}
	g.m.resumes.WithLabelValues("jetstream").Inc()
	g.log.Debug("caught up from history", "from", seq, "merged", merge, "took", time.Since(start))
	return nil
}

// foldHistory takes history (from, to] into c: whole blocks as their
// summaries when merging, partial ones message by message; without
// merging every wanted message is written out.
func (g *Gateway) foldHistory(ctx context.Context, hi *history, c *client, from, to uint64, merge bool) error {
	pf := newPrefetcher(ctx, hi, to, g.opts.HistoryReaders)
	defer pf.stop()
	var js []byte
	sent := time.Now()
	for from < to {
		b := blockOf(from + 1)
		bFrom, bUntil := blockRange(b)
		end := min(bUntil, to)
		if merge {
			pf.ahead(b)
		}
		switch {
		case merge && from+1 == bFrom && end == bUntil:
			s, err := pf.summary(ctx, b)
			if err != nil {
				return err
			}
			c.foldSummary(s)
		case merge && c.kinds&kMemoryOnly == 0 && end == bUntil && hi.foldTail(ctx, c, b, from):
			// Started inside a complete block: its summary's tail folded
			// the rest of it.
		default:
			r, err := hi.raw(ctx, b, from+1, end)
			if err != nil {
				return err
			}
			if js, err = c.takeRaw(r, from, end, merge, js); err != nil {
				return err
			}
		}
		from = end
		if merge {
			c.lastSeq = max(c.lastSeq, from)
			// Bars, status and clock events are never merged: an hour of
			// 1 s bars is ~160k events. Send what is pending every
			// keepFlushAt of them (the last event's id is from, up to
			// which everything is folded), so the batch in memory and
			// each write stay bounded; and at least every
			// catchupProgress, so a catch-up that reads blocks from
			// JetStream shows the client its history as it goes rather
			// than nothing until the end. Each send is exact: merged
			// events of (previous send, from], ids rising.
			if len(c.keep) >= keepFlushAt || time.Since(sent) >= catchupProgress {
				if err := c.emitMerged(); err != nil {
					return err
				}
				sent = time.Now()
			}
		}
	}
	return nil
}

// foldSummary folds a whole block's summary into c's pending merge.
func (c *client) foldSummary(s *blockSum) {
	for i := range s.syms {
		if sa := &s.syms[i]; c.wants(sa.sym) {
			c.foldAcc(sa.sym, &sa.acc)
		}
	}
	s.foldOthers(c)
}

// takeRaw takes messages (from, end] of r, read from history message by
// message, into c by the live path's rules (events.go): folded when
// merging (foldEntry, foldTick), else written as they go (appendEntry,
// appendTickMsg). js is scratch, returned for reuse.
func (c *client) takeRaw(r *rawBlock, from, end uint64, merge bool, js []byte) ([]byte, error) {
	for i := from + 1 - r.from; i <= end-r.from; i++ {
		m := &r.msgs[i]
		if m.sym < 0 || !c.wants(m.sym) {
			continue
		}
		switch {
		case m.e != nil && m.e.mask&c.kinds == 0:
			continue // another event type, not wanted
		case merge && m.e != nil:
			c.foldEntry(m.e)
			continue
		case merge:
			c.foldTick(m.sym, m.seq, m.tick)
			continue
		case m.e != nil:
			c.appendEntry(m.e)
		default:
			js = c.appendTickMsg(m.seq, m.tick, js)
		}
		c.lastSeq = m.seq
		if len(c.buf) >= flushSize {
			if err := c.flush(); err != nil {
				return js, err
			}
		}
	}
	return js, nil
}

// prefetcher keeps up to HistoryReaders whole blocks ahead of a merged
// catch-up being read, so a cold catch-up uses the reader pool in
// parallel. Each prefetch hands its summary to this catch-up (pre), so
// the cache dropping it meanwhile costs no second read. Bound:
// HistoryReaders summaries held per catch-up. stop cancels and waits
// for the reads.
type prefetcher struct {
	hi      *history
	ctx     context.Context // the prefetches'
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	to      uint64 // the catch-up reads history up to to
	readers uint64
	next    uint64 // the first block not prefetched
	pre     map[uint64]chan *blockSum
}

func newPrefetcher(ctx context.Context, hi *history, to uint64, readers int) *prefetcher {
	p := &prefetcher{hi: hi, to: to, readers: uint64(readers), pre: map[uint64]chan *blockSum{}}
	p.ctx, p.cancel = context.WithCancel(ctx)
	return p
}

// ahead starts reading the whole blocks after b, up to HistoryReaders
// ahead, that are not being read yet.
func (p *prefetcher) ahead(b uint64) {
	last := blockOf(p.to)
	if _, u := blockRange(last); u > p.to {
		if last == 0 {
			return // the only block is partial
		}
		last-- // the final block is partial: read raw, not summarised
	}
	for k := max(p.next, b+1); k <= min(last, b+p.readers); k++ {
		ch := make(chan *blockSum, 1) // the one summary, or nil
		p.pre[k] = ch
		p.wg.Add(1)
		go func() { defer p.wg.Done(); s, _ := p.hi.summary(p.ctx, k); ch <- s }()
		p.next = k + 1
	}
}

// summary returns block b's summary: its prefetch's, or read now.
func (p *prefetcher) summary(ctx context.Context, b uint64) (*blockSum, error) {
	if ch, ok := p.pre[b]; ok {
		delete(p.pre, b)
		select {
		case s := <-ch:
			if s != nil {
				return s, nil
			}
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
	return p.hi.summary(ctx, b)
}

func (p *prefetcher) stop() {
	p.cancel()
	p.wg.Wait()
}

// keepFlushAt bounds the unmerged events (bars, status, clock) a merged
// catch-up holds before it sends them (with whatever else it merged so
// far): about 1 MiB of frames, plus at most a block's worth.
var keepFlushAt = 4096 // a variable for tests

// catchupProgress is the longest a merged catch-up folds history without
// sending what it folded so far.
var catchupProgress = time.Second // a variable for tests

// startFailed ends a stream whose start failed with err: never a bare
// close. A client that left gets nothing; one that must leave because
// the gateway shuts down or the epoch ended gets a retry: spread over
// ShutdownSpread; any other failure (JetStream limits, a lagging tail,
// an unreadable stream) is logged and answered like turnAway: a comment
// with the reason and a jittered retry:, so the client comes back with
// the same id.
func (g *Gateway) startFailed(streamCtx context.Context, c *client, err error) {
	if cause := context.Cause(streamCtx); cause != nil && !errors.Is(cause, errShuttingDown) && !errors.Is(cause, errEpoch) {
		g.log.Debug("stream start ended: client gone", "err", err)
		return
	}
	switch {
	case errors.Is(err, errShuttingDown), errors.Is(err, errEpoch):
		g.log.Debug("stream start ended", "err", err)
		c.buf = g.appendSpreadRetry(c.buf)
	default:
		reason := "unavailable"
		if errors.Is(err, errLagging) {
			reason = "lagging"
		}
		g.m.rejected.WithLabelValues(reason).Inc()
		g.log.Warn("stream could not start; sent back with retry", "reason", reason, "err", err)
		c.buf = append(c.buf, ": "+reason+"\nretry: "...)
		c.buf = strconv.AppendInt(c.buf, g.opts.Retry.Milliseconds()+1000+rand.Int64N(4000), 10)
		c.buf = append(c.buf, "\n\n"...)
	}
	_ = c.flush()
}

// appendSpreadRetry appends a retry: of Retry plus a random part of
// ShutdownSpread, so clients sent away together do not all come back at
// once.
func (g *Gateway) appendSpreadRetry(dst []byte) []byte {
	dst = append(dst, "retry: "...)
	dst = strconv.AppendInt(dst, (g.opts.Retry + rand.N(g.opts.ShutdownSpread)).Milliseconds(), 10)
	return append(dst, "\n\n"...)
}
