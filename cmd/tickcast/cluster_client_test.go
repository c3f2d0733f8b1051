package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tickcast/tickcast/internal/ssetest"
)

// follower is an SSE client that behaves like EventSource: when its
// stream ends it waits the server's retry: delay and reconnects with
// Last-Event-ID. It records every event with the time it arrived.
type follower struct {
	name string
	done chan struct{}

	mu    sync.Mutex
	evs   []fevent
	conns int      // connections made
	errs  []string // failed connection attempts
}

type fevent struct {
	at   time.Time
	conn int // which connection (1-based) it came on
	name string
	id   string
	data string
}

func follow(ctx context.Context, name, base string) *follower {
	f := &follower{name: name, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		lastID, retry := "", time.Second
		for ctx.Err() == nil {
			lastID, retry = f.connect(ctx, base, lastID, retry)
			select {
			case <-ctx.Done():
			case <-time.After(retry):
			}
		}
	}()
	return f
}

func (f *follower) wait() { <-f.done }

// connect runs one connection until it ends and returns the last id and
// retry delay it learnt.
func (f *follower) connect(ctx context.Context, base, lastID string, retry time.Duration) (string, time.Duration) {
	f.mu.Lock()
	f.conns++
	conn := f.conns
	f.mu.Unlock()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/stream", nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.fail(ctx, "connect: %v", err)
		return lastID, retry
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		f.fail(ctx, "status %d: %s", resp.StatusCode, b)
		return lastID, retry
	}
	err = ssetest.Scan(resp.Body, func(e ssetest.Event) bool {
		switch e.Type {
		case ssetest.Retry:
			if ms, err := strconv.Atoi(e.Data); err == nil {
				retry = time.Duration(ms) * time.Millisecond
			}
		case ssetest.Comment:
		default:
			lastID = e.ID
			f.mu.Lock()
			f.evs = append(f.evs, fevent{name: e.Type, id: e.ID, data: e.Data, at: e.At, conn: conn})
			f.mu.Unlock()
		}
		return true
	})
	if err != nil {
		f.fail(ctx, "read: %v", err)
	}
	return lastID, retry
}

func (f *follower) fail(ctx context.Context, format string, args ...any) {
	if ctx.Err() != nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, time.Now().Format("15:04:05.000 ")+fmt.Sprintf(format, args...))
}

// lastSeq returns the stream sequence of the newest event received.
func (f *follower) lastSeq() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.evs) - 1; i >= 0; i-- {
		if _, seq, ok := strings.Cut(f.evs[i].id, "-"); ok {
			n, _ := strconv.ParseUint(seq, 10, 64)
			return n
		}
	}
	return 0
}

// ticksBySeq returns the data of every tick event by stream sequence.
func (f *follower) ticksBySeq() map[uint64]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[uint64]string{}
	for _, ev := range f.evs {
		if ev.name == "tick" {
			_, seq, _ := strings.Cut(ev.id, "-")
			n, _ := strconv.ParseUint(seq, 10, 64)
			out[n] = ev.data
		}
	}
	return out
}

// followReport is what one client saw around failures. Windows: [0] is
// before the first failure, [k] from failure k to the next.
type followReport struct {
	name              string
	ticks, conns      int
	resets, snapshots int
	gaps, missing     int // events after a hole, and the ticks in the holes
	dupsAtResume      int // repeated or overlapping ticks as a symbol's first event after a reconnect
	dups              int // ... anywhere else
	ticksIn           []int
	silence           []time.Duration // longest time between two ticks arriving
	latency           []time.Duration // worst arrival time minus the tick's time
	reconnects        []time.Duration // when a new connection's first event came, after the first failure
	lastTick          time.Time
	problems          []string
}

func (r followReport) String() string {
	round := func(ds []time.Duration) []time.Duration {
		out := make([]time.Duration, len(ds))
		for i, d := range ds {
			out[i] = d.Round(time.Millisecond)
		}
		return out
	}
	return fmt.Sprintf("%d ticks %v on %d connection(s); gaps %d (%d ticks missing), duplicates %d at a resume + %d elsewhere, resets %d; "+
		"longest silence %v, worst latency %v (before, after kill 1, after kill 2...); reconnected at %v after kill 1",
		r.ticks, r.ticksIn, r.conns, r.gaps, r.missing, r.dupsAtResume, r.dups, r.resets,
		round(r.silence), round(r.latency), r.reconnects)
}

// report checks what f saw: one snapshot, no reset, per symbol seq + 1
// (or + merged) from one event to the next, and a repeat only as the
// first event of a symbol after a reconnect; ids increasing within a
// connection and a resume after the last id. It measures silences and
// latency in each window between the failures at kills.
func (f *follower) report(kills []time.Time) followReport {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(kills) + 1
	r := followReport{name: f.name, conns: f.conns, ticksIn: make([]int, n), silence: make([]time.Duration, n), latency: make([]time.Duration, n)}
	for _, e := range f.errs {
		r.problems = append(r.problems, "connection error "+e)
	}
	window := func(at time.Time) (int, time.Time) {
		w, start := 0, time.Time{}
		for k, kt := range kills {
			if !at.Before(kt) {
				w, start = k+1, kt
			}
		}
		return w, start
	}
	last := map[string]uint64{}
	onConn := map[string]bool{} // symbols with an event on this connection
	var prevAt time.Time
	var prevID uint64
	var epoch string
	conn := 0
	for i, ev := range f.evs {
		ep, seqStr, _ := strings.Cut(ev.id, "-")
		id, err := strconv.ParseUint(seqStr, 10, 64)
		if ev.name != "reset" {
			if err != nil {
				r.problems = append(r.problems, fmt.Sprintf("event %d: malformed id %q", i, ev.id))
				continue
			}
			if epoch == "" {
				epoch = ep
			} else if ep != epoch {
				r.problems = append(r.problems, fmt.Sprintf("event %d: epoch %s, was %s", i, ep, epoch))
			}
		}
		if ev.conn != conn {
			if conn != 0 && len(kills) > 0 && ev.at.After(kills[0]) {
				r.reconnects = append(r.reconnects, ev.at.Sub(kills[0]).Round(time.Millisecond))
			}
			conn = ev.conn
			clear(onConn)
			if ev.name == "tick" && id <= prevID {
				r.problems = append(r.problems, fmt.Sprintf("event %d: resumed at id %s, not after %d", i, ev.id, prevID))
			}
		} else if ev.id != "" && id <= prevID {
			r.problems = append(r.problems, fmt.Sprintf("event %d: id %s after %d on one connection", i, ev.id, prevID))
		}
		if ev.id != "" {
			prevID = id
		}
		switch ev.name {
		case "reset":
			r.resets++
			r.problems = append(r.problems, fmt.Sprintf("event %d: reset %s", i, ev.data))
			continue
		case "snapshot":
			r.snapshots++
			if r.snapshots > 1 {
				r.problems = append(r.problems, fmt.Sprintf("event %d: a second snapshot", i))
			}
			var snap struct{ Ticks []tick }
			if err := json.Unmarshal([]byte(ev.data), &snap); err != nil {
				r.problems = append(r.problems, fmt.Sprintf("event %d: snapshot %v", i, err))
			}
			for _, tk := range snap.Ticks {
				last[tk.Symbol] = tk.Seq
			}
			continue
		case "tick":
		default:
			r.problems = append(r.problems, fmt.Sprintf("event %d: unexpected event %q", i, ev.name))
			continue
		}
		var tk tick
		if err := json.Unmarshal([]byte(ev.data), &tk); err != nil {
			r.problems = append(r.problems, fmt.Sprintf("event %d: %v", i, err))
			continue
		}
		r.ticks++
		w, wStart := window(ev.at)
		r.ticksIn[w]++
		r.latency[w] = max(r.latency[w], ev.at.Sub(tk.Time))
		if from := prevAt; !from.IsZero() {
			if from.Before(wStart) {
				from = wStart // a silence that began before the failure counts from it
			}
			r.silence[w] = max(r.silence[w], ev.at.Sub(from))
		}
		prevAt, r.lastTick = ev.at, ev.at

		step := max(tk.Merged, 1)
		p, seen := last[tk.Symbol]
		first := !onConn[tk.Symbol]
		onConn[tk.Symbol] = true
		last[tk.Symbol] = max(p, tk.Seq)
		switch {
		case !seen:
		case tk.Seq-step == p:
		case tk.Seq <= p || tk.Seq-step < p:
			if first && ev.conn > 1 {
				r.dupsAtResume++
			} else {
				r.dups++
				r.problems = append(r.problems, fmt.Sprintf("event %d (%s): %s seq %d (merged %d) repeats ticks up to %d, not right after a reconnect", i, ev.id, tk.Symbol, tk.Seq, tk.Merged, p))
			}
		default:
			r.gaps++
			r.missing += int(tk.Seq - step - p)
			r.problems = append(r.problems, fmt.Sprintf("event %d (%s): %s seq %d (merged %d) after %d: %d tick(s) missing", i, ev.id, tk.Symbol, tk.Seq, tk.Merged, p, tk.Seq-step-p))
		}
	}
	if r.snapshots != 1 {
		r.problems = append(r.problems, fmt.Sprintf("%d snapshots, want 1 (the first connection's)", r.snapshots))
	}
	if len(r.problems) > 20 {
		r.problems = append(r.problems[:20], fmt.Sprintf("... and %d more", len(r.problems)-20))
	}
	return r
}
