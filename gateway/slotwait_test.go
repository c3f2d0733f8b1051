package gateway

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/gateway/sse"
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
	comments, retries := 0, 0
	for comments < 3 { // three heartbeats: it has waited well past any turn-away
		line, err := rc.r.ReadString('\n')
		if err != nil {
			t.Fatalf("the waiting stream ended after %d comments: %v", comments, err)
		}
		switch {
		case strings.HasPrefix(line, ": waiting"):
			comments++
		case strings.HasPrefix(line, "retry:"):
			if retries++; retries > 1 {
				t.Fatalf("sent away while waiting: %q", line)
			}
		case strings.HasPrefix(line, "event:"), strings.HasPrefix(line, "data:"):
			t.Fatalf("an event before the slot was free: %q", line)
		}
	}
	<-e.g.cu.slots
	freed = true
	// The catch-up: AAA merged from 102 on, its last seq the stream's.
	want := e.seqsOf([]string{"AAA"})["AAA"]
	for {
		line, err := rc.r.ReadString('\n')
		if err != nil {
			t.Fatalf("no catch-up after the slot freed: %v", err)
		}
		if strings.HasPrefix(line, "data:") && strings.Contains(line, `"symbol":"AAA"`) && (strings.Contains(line, `"seq":`+strconv.FormatUint(want, 10)+`,`) || strings.Contains(line, `"seq":`+strconv.FormatUint(want, 10)+`}`)) {
			return
		}
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
	for {
		line, err := rc.r.ReadString('\n')
		if err != nil {
			t.Fatalf("no snapshot: %v", err)
		}
		if strings.HasPrefix(line, ": not_ready") {
			t.Fatal("turned away while the gateway was starting")
		}
		if strings.HasPrefix(line, "event: snapshot") {
			return
		}
	}
}
