package gateway

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/gateway/sse"
)

// cutTail is the real feed whose Tail can be cut (it returns an error,
// as on a lost connection) and whose next Tail then waits to start.
type cutTail struct {
	*feed.Conn
	mu     sync.Mutex
	cut    context.CancelFunc
	resume chan struct{} // closed to let the Tail after a cut start
}

var errCut = errors.New("test: tail cut")

func (c *cutTail) Tail(ctx context.Context, epoch string, after uint64, fn func(feed.Msg), bad func(error)) error {
	c.mu.Lock()
	wait := c.resume
	c.mu.Unlock()
	if wait != nil {
		select {
		case <-wait:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	tctx, cancel := context.WithCancelCause(ctx)
	c.mu.Lock()
	c.cut = func() { cancel(errCut) }
	c.mu.Unlock()
	err := c.Conn.Tail(tctx, epoch, after, fn, bad)
	if ctx.Err() == nil && errors.Is(context.Cause(tctx), errCut) {
		return errCut
	}
	return err
}

// cutAndHold cuts the tail and holds the next one back until the
// returned function is called.
func (c *cutTail) cutAndHold() (release func()) {
	ch := make(chan struct{})
	c.mu.Lock()
	c.resume = ch
	cut := c.cut
	c.mu.Unlock()
	cut()
	return func() { close(ch) }
}

// A tail restarted after the messages it had not read yet left the
// stream starts at the stream's first message: the ring must not claim
// the hole. A live client behind it gets no silent gap (its stream ends
// and it comes back with its id), and a resume from before or inside
// the hole gets a reset "expired".
func TestTailRestartAfterAgedOutLeavesNoSilentGap(t *testing.T) {
	var ct *cutTail
	setIndexDelay(t, -1)
	e := newEnvWith(t, Options{RingSize: 4096}, feed.StreamConfig{Memory: true, MaxBytes: 16 << 10}, true,
		func(c *feed.Conn) Source { ct = &cutTail{Conn: c}; return ct })
	e.publish(40)
	e.waitHub(40)
	live := openAcct(t, e.hs.URL+"/v1/stream", "", nil)
	live.waitFor(e.seqsOf(testSymbols), 5*time.Second)
	waitFor(t, 5*time.Second, "tail running", func() bool { ct.mu.Lock(); defer ct.mu.Unlock(); return ct.cut != nil })
	release := ct.cutAndHold()
	before := e.g.hub.Load().lastSeqNow()
	e.publish(1000) // far more than the stream keeps: before+1 ages out
	st := e.state()
	if st.FirstSeq <= before+1 {
		t.Fatalf("stream still holds %d (first %d)", before+1, st.FirstSeq)
	}
	release()
	e.waitHub(st.LastSeq)
	e.publish(8)
	e.waitHub(st.LastSeq + 8)
	// The live client must not have been carried across the hole.
	live.mu.Lock()
	probs := live.problems
	live.mu.Unlock()
	if len(probs) > 0 {
		t.Fatalf("live client: %v", probs)
	}
	live.waitEnd(5 * time.Second)
	live.mu.Lock()
	id, prev := live.lastID, live.prev
	live.mu.Unlock()
	epoch := st.Epoch
	for _, tc := range []struct{ name, id string }{
		{"the live client's id", id},
		{"inside the hole", sse.FormatID(epoch, before+10)},
	} {
		a := openAcct(t, e.hs.URL+"/v1/stream", tc.id, prev)
		a.waitFor(e.seqsOf(testSymbols), 10*time.Second)
		a.mu.Lock()
		if a.resets != 1 || a.snaps != 1 {
			t.Errorf("%s (%s): %d resets, %d snapshots; want a reset and a snapshot", tc.name, tc.id, a.resets, a.snaps)
		}
		a.mu.Unlock()
		a.close()
	}
}

// An id of a newer epoch than this gateway's hub (the stream was
// recreated, another gateway already reads it) is not reset with a
// snapshot of the deleted stream: the client is sent back with
// ": lagging" and a retry:, to come again once this gateway caught up.
func TestNewerEpochIDIsLagging(t *testing.T) {
	var src *epochSource
	e := newEnvWith(t, Options{}, feed.StreamConfig{Memory: true}, true, func(c *feed.Conn) Source {
		src = &epochSource{Conn: c}
		return src
	})
	e.publish(8)
	e.waitHub(8)
	src.flipped.Store(true) // the stream is of epoch <hub's>x now
	a := openAcct(t, e.hs.URL+"/v1/stream", sse.FormatID(e.state().Epoch+"x", 5), nil)
	a.waitEnd(10 * time.Second)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.resets+a.snaps+a.ticks != 0 || len(a.retries) == 0 || !slices.Contains(a.comments, "lagging") {
		t.Fatalf("%d resets, %d snapshots, %d ticks, comments %v, retries %v; want lagging and a retry", a.resets, a.snaps, a.ticks, a.comments, a.retries)
	}
}

// spoilTail is the real feed whose Tail turns the message at sequence
// seq into one the gateway cannot use: a malformed tick (as feed.Tail
// reports one) or an event it cannot decode.
type spoilTail struct {
	*feed.Conn
	seq       uint64
	malformed bool
}

func (s *spoilTail) Tail(ctx context.Context, epoch string, after uint64, fn func(feed.Msg), bad func(error)) error {
	return s.Conn.Tail(ctx, epoch, after, func(m feed.Msg) {
		switch {
		case m.Seq != s.seq:
			fn(m)
		case s.malformed:
			bad(&feed.MsgError{Seq: m.Seq, Err: errors.New("test: malformed tick")})
		default:
			fn(feed.Msg{Seq: m.Seq, Subject: feed.StatusSubjectPrefix + "AAA", Data: []byte("{not a status")})
		}
	}, bad)
}

// A gateway whose stream's newest message is not a valid event is
// ready all the same, and serves what came before it.
func TestReadyWhenNewestMessageIsBad(t *testing.T) {
	for _, malformed := range []bool{true, false} {
		e := newEnv(t, Options{}, feed.StreamConfig{Memory: true})
		e.publish(10)
		e.waitHub(10)
		e.stopGateway()
		e.startGatewaySource(Options{}, &spoilTail{Conn: e.conn, seq: 10, malformed: malformed}) // fails if never ready
		s := e.open("?symbols=BBB", nil)
		if ev := s.next(); ev.name != "snapshot" || !strings.Contains(ev.data, `"seq":3`) {
			t.Fatalf("malformed %v: %s %s", malformed, ev.name, ev.data)
		}
	}
}
