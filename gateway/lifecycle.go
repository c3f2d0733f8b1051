package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tickcast/tickcast/feed"
)

// Run reads the stream into the hub until ctx ends. When the stream is
// recreated it starts a new hub for the new epoch and ends every client
// of the old one (they come back with old ids and get a reset).
func (g *Gateway) Run(ctx context.Context) error {
	hbDone, lagDone := make(chan struct{}), make(chan struct{})
	go func() { g.heartbeats(ctx); close(hbDone) }()
	go func() { g.watchLag(ctx); close(lagDone) }()
	defer func() { <-hbDone; <-lagDone }()
	backoff := 250 * time.Millisecond
	for ctx.Err() == nil {
		err := g.runEpoch(ctx)
		if ctx.Err() != nil {
			break
		}
		if errors.Is(err, feed.ErrEpochChanged) {
			g.log.Warn("stream recreated: starting a new epoch", "err", err)
			backoff = 250 * time.Millisecond
			continue
		}
		if errors.Is(err, errHole) {
			g.log.Warn("messages left the stream before the tail read them: starting the ring again", "err", err)
			backoff = 250 * time.Millisecond
			continue
		}
		g.log.Warn("reading the stream failed; retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
	g.setReady(false)
	if h := g.hub.Load(); h != nil {
		h.close()
	}
	return nil
}

// errHole: the tail, restarted, found that messages after the hub's
// last had left the stream before it read them. The hub cannot hold a
// hole (its ring and its clients' cursors assume every message after
// startSeq), so runEpoch ends it as if the epoch ended and starts a new
// hub of the same epoch: its clients come back with their ids and,
// behind the hole, get a reset "expired" from the history read; ahead
// of it, a resume from memory.
var errHole = errors.New("gateway: the stream lost messages the tail had not read")

// warmStart bounds the messages a starting gateway reads back before it
// is ready: about 15 s of the default feed, which covers the clients
// that were connected when it stopped, however large the ring. Reading
// a whole default ring (524,288) back would hold every client off for
// seconds more at each restart.
const warmStart = 1 << 16

// runEpoch serves one epoch of the stream: it builds the epoch's hub,
// makes it the gateway's, and tails the stream into it until ctx ends,
// the epoch changes (feed.ErrEpochChanged) or the stream loses messages
// the tail had not read (errHole).
func (g *Gateway) runEpoch(ctx context.Context) error {
	g.setReady(false)
	h, es, err := g.newEpochHub(ctx)
	if err != nil {
		return err
	}
	st, from, need := es.st, es.from, es.need
	context.AfterFunc(h.ctx, func() { g.sweepLoop(h, evEpoch) })
	if old := g.hub.Swap(h); old != nil {
		old.close()
	}
	g.log.Info("reading stream", "epoch", st.Epoch, "first", st.FirstSeq, "last", st.LastSeq, "from", from, "symbols", es.symbols)
	if from >= need {
		g.setReady(true)
	}
	// The blocks behind the tail's start are indexed in the background
	// once the gateway is ready (indexer.go); those from it on by the
	// tail itself.
	ictx, stopIndex := context.WithCancel(ctx)
	defer stopIndex()
	go g.indexWhenReady(ictx, h, st.FirstSeq, from)
	t := &tailer{g: g, h: h, need: need, hist: g.history(h)}
	for {
		hole, err := t.tail(ctx)
		if hole != nil && ctx.Err() == nil {
			return hole
		}
		if ctx.Err() != nil || errors.Is(err, feed.ErrEpochChanged) {
			return err
		}
		if err != nil {
			// Trouble reading (e.g. a consumer that cannot be created
			// during a leader election): keep this epoch's hub and its
			// clients, unless the stream itself is gone or new.
			g.log.Warn("tailing the stream failed; retrying", "err", err)
			sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			cur, serr := g.src.State(sctx)
			cancel()
			if errors.Is(serr, feed.ErrNoStream) || serr == nil && cur.Epoch != st.Epoch {
				return fmt.Errorf("%w: %v", feed.ErrEpochChanged, err)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
}

// newEpochHub builds the hub of the stream's current epoch, seeded for
// a warm start: the tail starts a ring's length back, at most warmStart
// messages (or at the stream's first message), and the hub is ready once
// it has read up to need, the stream's last sequence at start, so
// clients of a gateway that restarted resume from memory (those further
// back, from history). Symbols with no tick in the ring keep the newest
// one from LastTicks for snapshots.
func (g *Gateway) newEpochHub(ctx context.Context) (*hub, epochStart, error) {
	st, err := g.src.State(ctx)
	if err != nil {
		return nil, epochStart{}, err
	}
	last, err := g.src.LastTicks(ctx)
	if err != nil {
		return nil, epochStart{}, err
	}
	h := newHub(g.opts.RingSize, st.Epoch, 0)
	from := st.LastSeq - min(st.LastSeq, uint64(min(len(h.ring), warmStart)))
	if st.FirstSeq > 0 {
		from = max(from, st.FirstSeq-1)
	}
	h.startSeq, h.lastSeq = from, from
	g.refreshUniverse(ctx, true)
	h.addSymbols(g.universeSymbols())
	need := st.LastSeq // the hub is ready once it holds every seeded tick and the stream at start
	for _, m := range last {
		h.seed(m)
		need = max(need, m.Seq)
	}
	// A tick LastTicks took from <stream>_LAST has no position (Seq 0),
	// and may be newer than st: ready only once the tail has read all
	// that was stored when LastTicks ran, so the snapshot never holds a
	// tick the stream then sends after it (a seq that goes back).
	if now, err := g.src.State(ctx); err == nil && now.Epoch == st.Epoch {
		need = max(need, now.LastSeq)
	}
	g.seedEvents(ctx, h)
	return h, epochStart{st: st, from: from, need: need, symbols: len(last)}, nil
}

// epochStart is where a new hub starts: the stream's state, the
// sequence the tail starts after, the one the gateway is ready at, and
// how many symbols LastTicks seeded.
type epochStart struct {
	st         feed.StreamState
	from, need uint64
	symbols    int
}

// indexWhenReady indexes the history behind the tail's start (from
// first to from) once the gateway is ready and indexDelay more has
// passed: the tail's warm start and the reconnect storm after it go
// first.
func (g *Gateway) indexWhenReady(ctx context.Context, h *hub, first, from uint64) {
	if g.indexDelay < 0 {
		return
	}
	for !g.ready.Load() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	select {
	case <-ctx.Done():
		return
	case <-time.After(g.indexDelay):
	}
	g.indexBehind(ctx, h, first, from)
}

// tailer reads one epoch's stream into its hub, across the tail's
// restarts.
type tailer struct {
	g    *Gateway
	h    *hub
	need uint64 // the gateway is ready once the tail has read up to it
	live liveBlocks
	hist *history
}

// tail runs one Source.Tail from the hub's last sequence until it ends:
// hole is errHole's error when messages left the stream before it read
// them, err the Tail's.
func (t *tailer) tail(ctx context.Context) (hole, err error) {
	g, h := t.g, t.h
	after := h.lastSeqNow()
	seen := after // the newest sequence delivered by this Tail
	tctx, stopTail := context.WithCancel(ctx)
	defer stopTail()
	err = g.src.Tail(tctx, h.epoch, after, func(m feed.Msg) {
		if hole != nil {
			return
		}
		g.m.ticksIn.Inc()
		if h.head.Load() == 0 {
			h.noteFirst(m.Seq)
		} else if m.Seq > seen+1 {
			// A jump: messages skipped as malformed, or gone from
			// the stream before this tail read them (a restart
			// after they aged out starts at the stream's first).
			if hole = g.checkHole(ctx, seen, m.Seq); hole != nil {
				stopTail()
				return
			}
		}
		seen = max(seen, m.Seq)
		e, appended := h.appendSym(m) // false once h is closed: a stale callback
		if appended {
			if b, sum := t.live.observe(m.Seq, e); sum != nil {
				if cur := g.history(h); cur != t.hist {
					t.hist = cur // the index was dropped (tests do that)
				}
				t.hist.storeSum(b, sum)
			}
		}
		g.m.lastSeq.Set(float64(m.Seq))
		// Read up to need, whether or not this message was one the
		// hub keeps (an event type it does not know is skipped).
		if m.Seq >= t.need && !g.ready.Load() {
			g.setReady(true)
		}
	}, func(err error) {
		if errors.Is(err, feed.ErrConsumer) {
			g.log.Warn("stream consumer", "err", err)
			return
		}
		g.m.badMsgs.Inc()
		g.log.Warn("skipping a bad stream message", "err", err)
		// A malformed message is read too: the newest stored one
		// must not keep the gateway from being ready.
		if me := (*feed.MsgError)(nil); errors.As(err, &me) && hole == nil {
			seen = max(seen, me.Seq)
			if me.Seq >= t.need && !g.ready.Load() {
				g.setReady(true)
			}
		}
	})
	return hole, err
}

// checkHole tells a jump from sequence seen to next that skipped only
// malformed messages (nil) from one over messages that left the stream
// unread (errHole): the stream's first sequence is past seen+1. When
// the stream cannot say, it is taken as a hole: a needless restart of
// the ring costs resumes, a silent gap would cost ticks.
func (g *Gateway) checkHole(ctx context.Context, seen, next uint64) error {
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := g.src.State(sctx)
	if err == nil && st.FirstSeq <= seen+1 {
		return nil
	}
	return fmt.Errorf("%w: read up to %d, next %d, stream's first %d (%v)", errHole, seen, next, st.FirstSeq, err)
}

// watchLag updates the consumer-lag gauge every 2s.
func (g *Gateway) watchLag(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h := g.hub.Load()
		if h == nil {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := g.src.State(sctx)
		cancel()
		if err != nil || st.Epoch != h.epoch {
			continue
		}
		if hs := h.lastSeqNow(); st.LastSeq > hs {
			g.m.lag.Set(float64(st.LastSeq - hs))
		} else {
			g.m.lag.Set(0)
		}
	}
}

// readyWait is how long a stream request waits for the gateway to be
// ready before it is turned away ("not_ready"). A restarted gateway
// reads its ring back before it is ready, seconds under a reconnect
// storm; the clients that came back first wait for it with their
// connection, not sent away to come back later than those after them.
const readyWait = 30 * time.Second

// waitReady waits up to readyWait for the hub to be ready. Waiting
// streams wait on one channel (readyCh), not on a timer each: a
// reconnect storm against a starting gateway costs it no CPU until it
// is ready.
func (g *Gateway) waitReady(ctx context.Context) (*hub, bool) {
	t := time.NewTimer(readyWait)
	defer t.Stop()
	for {
		g.readyMu.Lock()
		ch := g.readyCh
		g.readyMu.Unlock()
		if h := g.hub.Load(); h != nil && g.ready.Load() {
			return h, true
		}
		select {
		case <-ctx.Done():
			return nil, false
		case <-t.C:
			return nil, false
		case <-ch:
		}
	}
}

// setReady sets whether the gateway is ready, waking the streams that
// wait for it.
func (g *Gateway) setReady(on bool) {
	if g.ready.Load() == on {
		return
	}
	g.readyMu.Lock()
	defer g.readyMu.Unlock()
	if g.ready.Load() == on {
		return
	}
	g.ready.Store(on)
	if on {
		close(g.readyCh)
	} else {
		g.readyCh = make(chan struct{})
	}
}
