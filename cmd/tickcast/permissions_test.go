package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// deployAuthBlock is the `authorization { ... }` block of the NATS users
// in docs/deploy.md, as written there.
func deployAuthBlock(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```\n# nats-server.conf: the users of tickcast\n(authorization \\{.*?\n\\})\n```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/deploy.md: no ``` block starting '# nats-server.conf: the users of tickcast' with an authorization { } block")
	}
	return string(m[1])
}

// TestNATSPermissions runs the NATS permissions of docs/deploy.md on an
// embedded server: a simulator with its user publishes every event type
// (ticks, quotes, bars, status, clock) and its companions, a gateway with
// its user serves them, and the gateway's user cannot delete the stream.
func TestNATSPermissions(t *testing.T) {
	dir := t.TempDir()
	port := freePorts(t, 1)[0]
	t.Setenv("TICKCAST_SIM_PASSWORD", "sim-secret")
	t.Setenv("TICKCAST_GATEWAY_PASSWORD", "gateway-secret")
	conf := fmt.Sprintf("listen: 127.0.0.1:%d\njetstream { store_dir: %q }\n%s\n", port, filepath.Join(dir, "js"), deployAuthBlock(t))
	confFile := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(confFile)
	if err != nil {
		t.Fatalf("docs/deploy.md's block does not load: %v", err)
	}
	opts.NoSigs, opts.NoLog = true, true
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready after 10s")
	}
	simURL := fmt.Sprintf("nats://tickcast-sim:sim-secret@127.0.0.1:%d", port)
	gwURL := fmt.Sprintf("nats://tickcast-gateway:gateway-secret@127.0.0.1:%d", port)

	sim := launch(t, regexp.MustCompile(`simulator starting`), "sim", "--nats", simURL, "--rate", "200", "--seed", "7", "--symbols", "4", "--memory")
	gw := start(t, "gateway", "--nats", gwURL, "--addr", "127.0.0.1:0")
	waitHealthy(t, gw.url)

	// Every event type reaches a client through the gateway.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seen := map[string]bool{}
	ch := readSSE(t, ctx, gw.url+"/v1/stream?events=tick,quote,trade,bar,status&bars=1s", nil)
	for !(seen["snapshot"] && seen["tick"] && seen["quote"] && seen["bar"]) {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatalf("stream ended; saw %v\nsim:\n%s\ngateway:\n%s", seen, sim.out, gw.out)
			}
			seen[e.name] = true
		case <-ctx.Done():
			t.Fatalf("saw only %v in 30s (want snapshot, tick, quote, bar)\nsim:\n%s\ngateway:\n%s", seen, sim.out, gw.out)
		}
	}
	for _, want := range []string{"snapshot", "tick", "quote", "bar"} {
		if !seen[want] {
			t.Errorf("no %s event", want)
		}
	}
	// /v1/bars reads TICKS_BARS; /v1/symbols the universe bucket.
	for _, path := range []string{"/v1/bars?symbol=AAPL&interval=1s", "/v1/symbols", "/v1/market"} {
		resp, err := http.Get(gw.url + path)
		if err != nil {
			t.Fatal(err)
		}
		var body any
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != 200 || err != nil {
			t.Errorf("GET %s: %d %v", path, resp.StatusCode, err)
		}
	}
	if strings.Contains(sim.out.String(), "Permissions Violation") || strings.Contains(gw.out.String(), "Permissions Violation") {
		t.Errorf("a permissions violation was logged:\nsim:\n%s\ngateway:\n%s", sim.out, gw.out)
	}

	// The gateway's user reads; it cannot delete the stream or publish.
	nc, err := nats.Connect(gwURL, nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {})) // the refusal below is expected: not logged
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	dctx, dcancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer dcancel()
	if err := js.DeleteStream(dctx, "TICKS"); err == nil {
		t.Error("the gateway's user deleted the stream")
	}
	ictx, icancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer icancel()
	if _, err := js.Stream(ictx, "TICKS"); err != nil {
		t.Errorf("the stream is gone or unreadable after the refused delete: %v", err)
	}
}
