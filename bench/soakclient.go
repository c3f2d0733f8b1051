package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// A soak client: one SSE stream of every event type (tick, quote, bar,
// status and the clock) over net/http, fed to the bench Parser, each
// type and symbol (and bar interval) checked by seqStats. It reads for a
// few seconds, goes away, and comes back as its kind says (soakKinds).

// Kinds of soak client: how it comes back.
const (
	kindHead   = "head"   // at once, from its last id
	kindMiddle = "middle" // from its last id, once that is half way through the window
	kindOldest = "oldest" // from its last id, once that is in the oldest tenth of the window
	kindFrom   = "from"   // after 1-3 s, by ?from= the time of its last event minus a second, with no id
)

var soakKinds = []string{kindHead, kindMiddle, kindOldest, kindFrom}

// kindEdge is the soak's own probe: every few seconds a stream from the
// oldest id the window holds (GET /v1/snapshot's first), read until its
// first event: a deep resume must answer, whatever the history index
// holds. reportKinds are every kind the report shows.
const kindEdge = "edge"

var reportKinds = append(append([]string{}, soakKinds...), kindEdge)

// soakEvent is what a soak client reads from any event it checks.
type soakEvent struct {
	Symbol   string    `json:"symbol"`
	Interval string    `json:"interval"`
	Seq      uint64    `json:"seq"`
	Merged   int64     `json:"merged"`
	Time     time.Time `json:"time"`
}

// soakKey is one counter's state in a client.
type soakKey struct {
	last  uint64
	fresh bool // since the last resume no event of it came: it may overlap
	from  bool // resumed by ?from=: repeats are allowed until it passes last
}

// soakClient is one reconnecting client. Only its goroutine touches it;
// it hands its figures to the soak under s.mu.
type soakClient struct {
	s    *soak
	n    int
	kind string
	p    Parser
	rng  *rand.Rand

	keys     map[string]*soakKey
	st       seqStats
	dupBad   uint64    // repeats or overlaps beyond the first event after a resume
	lastTime time.Time // time of the newest event read, for ?from=
	lastSeq  uint64    // stream sequence of the last id held
	resumeID string    // the id (or from=) of the resume in progress, for reports

	first     atomic.Bool // the first event of this connection came
	connected time.Time
	resuming  bool          // this connection is a resume (not the first connection)
	on        time.Duration // how long to read after the first event
	end       func()        // ends the stream in progress
	ending    *time.Timer   // calls end, on after the first event
}

func newSoakClient(s *soak, n int) *soakClient {
	c := &soakClient{s: s, n: n, kind: soakKinds[n%len(soakKinds)], keys: map[string]*soakKey{},
		rng: rand.New(rand.NewPCG(uint64(n), 0x736f616b))}
	c.p.Reset(c, false)
	return c
}

// run connects, reads, goes away and comes back until ctx ends.
func (c *soakClient) run(ctx context.Context) {
	from := ""
	for ctx.Err() == nil {
		if !c.s.awaitUp(ctx) {
			return
		}
		on := time.Duration(2000+c.rng.IntN(2000)) * time.Millisecond
		err := c.connect(ctx, from, on)
		if ctx.Err() != nil {
			return
		}
		if err != nil && !errors.Is(err, errSoakDown) {
			c.s.failf("client %d (%s): %v", c.n, c.kind, err)
		}
		from = c.away(ctx)
	}
}

var errSoakDown = errors.New("gateway down")

// connect opens one stream and reads it for on (less if the gateway
// ends it), retrying a stream the gateway turns away (lagging, not
// ready) as EventSource does, until it gets its first event.
func (c *soakClient) connect(ctx context.Context, from string, on time.Duration) error {
	c.connected = time.Now()
	c.resuming = len(c.p.LastID()) > 0 || from != ""
	c.resumeID = string(c.p.LastID())
	if from != "" {
		c.resumeID = "from=" + from
	}
	for _, k := range c.keys {
		k.fresh, k.from = true, from != ""
	}
	for attempt := 0; ; attempt++ {
		c.first.Store(false)
		retry, err := c.stream(ctx, from, on)
		if err != nil || c.first.Load() || ctx.Err() != nil {
			return err
		}
		if stall := c.s.cfg.Stall; time.Since(c.connected) > stall {
			c.s.stalled(c, time.Since(c.connected))
			return nil
		}
		// Turned away before any event: come back after its retry:.
		if retry <= 0 || retry > 2*time.Second {
			retry = 500 * time.Millisecond
		}
		if !sleepFor(ctx, retry) {
			return nil
		}
	}
}

// stream makes one request and reads it until on after its first event;
// it returns the retry: the gateway sent.
func (c *soakClient) stream(ctx context.Context, from string, on time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.on, c.end = on, cancel
	defer func() {
		if c.ending != nil {
			c.ending.Stop()
			c.ending = nil
		}
	}()
	q := url.Values{"events": {"tick,quote,bar,status"}}
	if from != "" {
		q.Set("from", from)
	}
	req, err := http.NewRequestWithContext(ctx, "GET", c.s.base()+"/v1/stream?"+q.Encode(), nil)
	if err != nil {
		return 0, err
	}
	if id := c.p.LastID(); len(id) > 0 && from == "" {
		req.Header.Set("Last-Event-ID", string(id))
	}
	// A stream with no first event within Stall is a stalled resume.
	watch := time.AfterFunc(c.s.cfg.Stall-time.Since(c.connected), func() {
		if !c.first.Load() {
			cancel()
		}
	})
	defer watch.Stop()
	resp, err := c.s.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil
		}
		return 0, fmt.Errorf("%w: %v", errSoakDown, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return 0, fmt.Errorf("GET /v1/stream (%s): %s %s", c.resumeID, resp.Status, strings.TrimSpace(string(b)))
	}
	c.p.Reset(c, false)
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if perr := c.p.Feed(buf[:n]); perr != nil {
				return 0, fmt.Errorf("stream (%s): %w", c.resumeID, perr)
			}
		}
		if err != nil {
			if !c.first.Load() && time.Since(c.connected) > c.s.cfg.Stall {
				c.s.stalled(c, time.Since(c.connected))
				c.first.Store(true) // given up on: do not retry it
			}
			return time.Duration(max(c.p.Retry, 0)) * time.Millisecond, nil
		}
	}
}

// Event implements Handler: it checks every counter.
func (c *soakClient) Event(typ, id, data []byte) {
	if !c.first.Swap(true) {
		if c.resuming {
			c.s.resumed(c, time.Since(c.connected))
		}
		c.ending = time.AfterFunc(c.on, c.end)
	}
	if seq, ok := idSeq(id); ok {
		c.lastSeq = seq
	}
	switch string(typ) {
	case "snapshot":
		c.snapshot(data)
		return
	case "reset":
		var r struct{ Reason string }
		json.Unmarshal(data, &r)
		c.s.reset(c, r.Reason)
		return
	case "tick", "quote", "bar", "status", "clock":
	default:
		return
	}
	var e soakEvent
	if err := json.Unmarshal(data, &e); err != nil {
		c.s.failf("client %d: bad %s event %q: %v", c.n, typ, data, err)
		return
	}
	if e.Time.After(c.lastTime) {
		c.lastTime = e.Time
	}
	key := string(typ[:1]) + ":" + e.Symbol + ":" + e.Interval
	k := c.keys[key]
	if k == nil {
		k = &soakKey{}
		c.keys[key] = k
	}
	before := c.st
	prev := k.last
	c.st.observe(&k.last, e.Seq, e.Merged)
	if c.st.Gaps > before.Gaps {
		c.s.lost(c, key, prev, e.Seq, e.Merged, c.st.Gaps-before.Gaps)
	}
	if (c.st.Dups > before.Dups || c.st.Overlaps > before.Overlaps) && !k.fresh {
		c.dupBad++
		c.s.dup(c, key, prev, e.Seq, e.Merged)
	}
	if !k.from || e.Seq > prev {
		k.fresh, k.from = false, false
	}
}

// snapshot replaces the client's state with the snapshot's: every
// counter continues exactly from it.
func (c *soakClient) snapshot(data []byte) {
	var s struct {
		Ticks, Quotes, Bars, Statuses []soakEvent
		Clock                         *soakEvent
	}
	if err := json.Unmarshal(data, &s); err != nil {
		c.s.failf("client %d: bad snapshot: %v", c.n, err)
		return
	}
	clear(c.keys)
	set := func(typ string, es []soakEvent) {
		for _, e := range es {
			c.keys[typ+":"+e.Symbol+":"+e.Interval] = &soakKey{last: e.Seq}
			if e.Time.After(c.lastTime) {
				c.lastTime = e.Time
			}
		}
	}
	set("t", s.Ticks)
	set("q", s.Quotes)
	set("b", s.Bars)
	set("s", s.Statuses)
	if s.Clock != nil {
		set("c", []soakEvent{*s.Clock})
	}
	c.s.snapshot()
}

// away waits as the client's kind says and returns the from= to resume
// with ("" for an id).
func (c *soakClient) away(ctx context.Context) string {
	switch c.kind {
	case kindHead:
		sleepFor(ctx, time.Duration(c.rng.IntN(200))*time.Millisecond)
	case kindMiddle, kindOldest:
		share := 0.5
		if c.kind == kindOldest {
			share = 0.1
		}
		// Until our position is that far into the window (first..last):
		// then the resume starts there. At most 3 windows of waiting.
		// A stream recreated meanwhile holds no position of ours: come
		// back at once (for the epoch reset).
		deadline := time.Now().Add(3 * c.s.cfg.MaxAge)
		for time.Now().Before(deadline) && sleepFor(ctx, 200*time.Millisecond) {
			first, last, ok := c.s.window()
			if c.s.recreated.Load() > c.connected.UnixNano() ||
				ok && c.lastSeq > 0 && (c.lastSeq < first || float64(c.lastSeq-first) <= share*float64(last-first)) {
				break
			}
		}
	case kindFrom:
		sleepFor(ctx, time.Duration(1000+c.rng.IntN(2000))*time.Millisecond)
		if !c.lastTime.IsZero() {
			return c.lastTime.Add(-time.Second).UTC().Format(time.RFC3339Nano)
		}
	}
	return ""
}

// idSeq returns the sequence of an id "<epoch>-<seq>".
func idSeq(id []byte) (uint64, bool) {
	i := strings.LastIndexByte(string(id), '-')
	if i < 0 {
		return 0, false
	}
	v, _, ok := parseUint(id, i+1)
	return v, ok
}

func sleepFor(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// soakTally is what the clients found, under soak.mu.
type soakTally struct {
	st        seqStats
	dupBad    uint64
	resets    map[string]int
	snapshots int
	resumes   map[string]*SoakResumes
	details   []string // the first losses and repeats, for the failure message

	fromRecreated uint64 // events lost by ?from= across the recreation
}
