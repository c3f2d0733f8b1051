package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tickcast/tickcast/feed"
)

// On a disk with too little free space for the default window, serve
// still starts, with a smaller window it names; a --max-bytes the user
// set is never cut.
func TestStreamShrinksToFitTheDisk(t *testing.T) {
	srv, err := feed.StartServer(feed.ServerConfig{StoreDir: t.TempDir(), MaxStore: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := feed.Connect(ctx, feed.ConnConfig{Server: srv, Name: "room test"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	set := streamFlags{maxBytes: 2 << 30, barsBytes: feed.DefaultBarsMaxBytes, barsPerSeries: feed.DefaultBarsMaxPerSeries, barsAge: feed.DefaultBarsMaxAge}
	if err := set.ensure(ctx, conn, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("a --max-bytes of 2 GiB on a 1 GiB store: no error; want the server's refusal")
	}

	var logged bytes.Buffer
	def := streamFlags{barsBytes: feed.DefaultBarsMaxBytes, barsPerSeries: feed.DefaultBarsMaxPerSeries, barsAge: feed.DefaultBarsMaxAge}
	if err := def.ensure(ctx, conn, slog.New(slog.NewTextHandler(&logged, nil))); err != nil {
		t.Fatalf("defaults on a 1 GiB store: %v", err)
	}
	w, err := conn.Window(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if w.MaxBytes <= 0 || w.MaxBytes >= feed.DefaultMaxBytes || w.MaxBytes > 1<<30 {
		t.Errorf("stream max bytes %d, want below the default %d and within the 1 GiB store", w.MaxBytes, int64(feed.DefaultMaxBytes))
	}
	if !strings.Contains(logged.String(), "not enough free storage") || !strings.Contains(logged.String(), "max_bytes=") {
		t.Errorf("no warning naming the smaller window; log:\n%s", logged.String())
	}
}
