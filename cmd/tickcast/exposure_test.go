package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tickcast/tickcast/feed"
)

// TestExposureRefused: serve will not start listeners that let anyone on
// the network change the market, and says what to do instead.
func TestExposureRefused(t *testing.T) {
	t.Setenv("TICKCAST_TOKEN", "")
	t.Setenv("TICKCAST_NATS_TOKEN", "")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"nats off loopback, no token", []string{"--nats-listen", "0.0.0.0:0"}, "--nats-token"},
		{"nats on all interfaces, no token", []string{"--nats-listen", ":0"}, "--nats-token"},
		{"http off loopback with sim control, no token", []string{"--addr", "0.0.0.0:0"}, "--sim-control=false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var out strings.Builder
			err := run(ctx, append([]string{"serve", "--memory"}, tc.args...), io.Discard, &out)
			if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a usage error naming %s", err, tc.want)
			}
		})
	}
}

// TestNATSToken: with --nats-token the embedded NATS listener refuses
// clients without the token (at once, with a clear error) and serves those
// with it; serve itself keeps working.
func TestNATSToken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	natsAddr := ln.Addr().String()
	ln.Close()
	p := start(t, "serve", "--memory", "--addr", "127.0.0.1:0", "--symbols", "3", "--rate", "50",
		"--nats-listen", natsAddr, "--nats-token", "n4ts", "--sim-control=false")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := feed.Connect(ctx, feed.ConnConfig{URL: "nats://" + natsAddr}); err == nil || !strings.Contains(err.Error(), "--nats-token") {
		t.Errorf("connect without the token: %v, want an authorization error at once", err)
	}
	if ctx.Err() != nil {
		t.Error("connecting with a wrong token retried until the deadline")
	}
	conn, err := feed.Connect(ctx, feed.ConnConfig{URL: "nats://" + natsAddr, Token: "n4ts"})
	if err != nil {
		t.Fatalf("connect with the token: %v", err)
	}
	defer conn.Close()
	if _, err := conn.State(ctx); err != nil {
		t.Errorf("stream state with the token: %v", err)
	}
	resp, err := http.Get(p.url + "/v1/symbols")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/v1/symbols: %v %v", resp, err)
	}
	resp.Body.Close()
}
