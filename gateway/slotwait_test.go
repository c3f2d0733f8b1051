package gateway

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/gateway/sse"
	"github.com/tickcast/tickcast/internal/ssetest"
)

// A resume that must wait for a catch-up slot waits its turn on its
// connection, with a comment every Heartbeat, never sent away with a
// retry:; once a slot frees it resumes exactly where it left off.
func TestCatchupSlotWaitKeepsConnection(t *testing.T) {
	e := deepEnv(t, Options{CatchupWorkers: 1, Heartbeat: 150 * time.Millisecond}, nil)
	epoch := e.state().Epoch
	e.g.cu.slots <- struct{}{} // the only slot, taken
	freed := false
	defer func() {
		if !freed {
			<-e.g.cu.slots
		}
	}()
	rc := dialRaw(t, e.hs.URL, "?symbols=AAA&lastEventId="+url.QueryEscape(sse.FormatID(epoch, 101)), 0)
	_ = rc.conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	resp, err := http.ReadResponse(rc.r, nil)
	if err != nil {
		t.Fatal(err)
	}
	comments, retries, caughtUp := 0, 0, false
	want := e.seqsOf([]string{"AAA"})["AAA"]
	err = ssetest.Scan(resp.Body, func(ev ssetest.Event) bool {
		if comments < 3 { // three heartbeats: it has waited well past any turn-away
			switch {
			case ev.Type == ssetest.Comment && strings.HasPrefix(ev.Data, " waiting"):
				if comments++; comments == 3 {
					<-e.g.cu.slots
					freed = true
				}
			case ev.Type == ssetest.Retry:
				if retries++; retries > 1 {
					t.Fatalf("sent away while waiting: retry: %s", ev.Data)
				}
			case ev.Type != ssetest.Comment:
				t.Fatalf("an event before the slot was free: %+v", ev)
			}
			return true
		}
		// The catch-up: AAA merged from 102 on, its last seq the stream's.
		if ev.Type == "tick" && strings.Contains(ev.Data, `"symbol":"AAA"`) && (strings.Contains(ev.Data, `"seq":`+strconv.FormatUint(want, 10)+`,`) || strings.Contains(ev.Data, `"seq":`+strconv.FormatUint(want, 10)+`}`)) {
			caughtUp = true
			return false
		}
		return true
	})
	if !caughtUp {
		t.Fatalf("after %d comments, no catch-up to AAA %d: %v", comments, want, err)
	}
}

// A stream request that reaches a gateway still reading its ring back
// (a restart) waits for it to be ready, however many seconds that takes
// within readyWait, and starts: never a turn-away to come back later.
func TestStreamWaitsForReadiness(t *testing.T) {
	e := newEnv(t, Options{}, feed.StreamConfig{Memory: true})
	e.publish(8)
	e.waitHub(8)
	e.stopGateway()
	g := New(e.src, Options{Logger: discardLogger(), ShutdownSpread: 20 * time.Millisecond})
	hs := httptestServerOf(g)
	defer hs.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	defer func() { cancel(); <-done }()
	rc := dialRaw(t, hs.URL, "?symbols=AAA", 0)
	// Not ready for longer than the old 5 s wait.
	time.AfterFunc(5500*time.Millisecond, func() { _ = g.Run(ctx); close(done) })
	_ = rc.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(rc.r, nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	snapshot := false
	err = ssetest.Scan(resp.Body, func(ev ssetest.Event) bool {
		if ev.Type == ssetest.Comment && strings.HasPrefix(ev.Data, " not_ready") {
			t.Fatal("turned away while the gateway was starting")
		}
		snapshot = ev.Type == "snapshot"
		return !snapshot
	})
	if !snapshot {
		t.Fatalf("no snapshot: %v", err)
	}
}
