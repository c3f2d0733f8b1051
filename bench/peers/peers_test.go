package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary stand in for `peers serve NAME`, the
// child process compare starts for each peer.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		if err := runServe(os.Args[2:], os.Stderr); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Each peer's server delivers every tick to the bench client, read in its
// framing, and the comparison names it in its table.
func TestPeersSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := options{clients: 3, rate: 50, duration: time.Second, warmup: 300 * time.Millisecond, drain: 500 * time.Millisecond,
		peers: "r3labs,centrifuge", started: "now"}
	rows, err := compare(ctx, &o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("%d rows", len(rows))
	}
	for _, r := range rows {
		res := r.Result
		if res.Connected != 3 || res.Delivered == 0 || res.Gaps != 0 || res.BadEvents != 0 || res.Disconnects != 0 {
			t.Errorf("%s: connected %d delivered %d gaps %d bad %d disconnects %d; errors %v",
				r.Server, res.Connected, res.Delivered, res.Gaps, res.BadEvents, res.Disconnects, res.Errors)
		}
		if res.GatewayCPUS <= 0 || res.RSSBytes <= 0 {
			t.Errorf("%s: server cpu %v rss %d: not measured", r.Server, res.GatewayCPUS, res.RSSBytes)
		}
	}
	md := markdown(o, rows)
	for _, want := range []string{"| r3labs/sse |", "| centrifuge uni_sse |", "r3labs/sse/v2 v2.10.0", "Centrifugo v6.9.1"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}
