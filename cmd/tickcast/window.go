package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tickcast/tickcast/feed"
)

// The stream's window in the log: what a client away for a while can
// resume from. At start, the limits and what the bytes hold at the
// default feed's peak rate; a minute later, and every hour, what they
// hold at the rate the stream took over the minute before.

// windowMeasure is how long the stream's rate is measured over.
const windowMeasure = time.Minute

// startWindowLog logs the stream's window now, and starts the goroutine
// that logs it measured. It returns a func that stops that and waits.
func startWindowLog(ctx context.Context, conn *feed.Conn, log *slog.Logger) (stop func()) {
	w, err := windowNow(ctx, conn)
	if err != nil {
		log.Warn("stream window unknown", "err", err)
		return func() {}
	}
	logWindowAt(log, w, feed.DefaultFeedPeakBytesPerSec, "the default feed's peak, measured")
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // owned by stop
		defer wg.Done()
		logWindowMeasured(ctx, conn, log, w)
	}()
	return func() { cancel(); wg.Wait() }
}

// logWindowMeasured logs the window at the rate the stream took over
// the minute after w, and again every hour.
func logWindowMeasured(ctx context.Context, conn *feed.Conn, log *slog.Logger, w feed.Window) {
	for {
		if !sleepCtx(ctx, windowMeasure) {
			return
		}
		w1, err := windowNow(ctx, conn)
		if err == nil && w1.LastSeq > w.LastSeq && w1.Msgs > 0 {
			msgs := float64(w1.LastSeq-w.LastSeq) / windowMeasure.Seconds()
			logWindowAt(log, w1, msgs*float64(w1.Bytes)/float64(w1.Msgs), "measured over the last "+windowMeasure.String())
		}
		if !sleepCtx(ctx, time.Hour-windowMeasure) {
			return
		}
		if w, err = windowNow(ctx, conn); err != nil {
			w = feed.Window{}
		}
	}
}

// sleepCtx waits d, or until ctx ends (false).
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func windowNow(ctx context.Context, conn *feed.Conn) (feed.Window, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return conn.Window(ctx)
}

// logWindowAt logs what w's limits hold at bytesPerSec: a warning when
// the bytes run out before the age.
func logWindowAt(log *slog.Logger, w feed.Window, bytesPerSec float64, how string) {
	eff := w.Effective(bytesPerSec)
	attrs := []any{"window", eff.Round(time.Second).String(),
		"max_age", w.MaxAge.String(), "max_bytes", byteSize(w.MaxBytes).String(),
		"bytes_hold", w.BytesHold(bytesPerSec).Round(time.Second).String(),
		"rate", fmt.Sprintf("%.2f MiB/s (%s)", bytesPerSec/(1<<20), how)}
	if eff < w.MaxAge*19/20 {
		log.Warn("stream window shorter than --max-age: --max-bytes runs out first; raise it to keep --max-age", attrs...)
		return
	}
	log.Info("stream window", attrs...)
}

// byteSize is a flag.Value of bytes: a number with an optional unit,
// KiB, MiB, GiB or TiB (or K, M, G, T: the same, powers of 1024).
type byteSize int64

var byteUnits = []struct {
	name  string
	shift uint
}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"T", 40}, {"G", 30}, {"M", 20}, {"K", 10}, {"B", 0}}

func (b *byteSize) Set(s string) error {
	s = strings.TrimSpace(s)
	shift := uint(0)
	for _, u := range byteUnits {
		if len(s) > len(u.name) && strings.EqualFold(s[len(s)-len(u.name):], u.name) {
			s, shift = strings.TrimSpace(s[:len(s)-len(u.name)]), u.shift
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)>>shift {
		return fmt.Errorf("want bytes, e.g. 1073741824, 512MiB or 4GiB")
	}
	*b = byteSize(n << shift)
	return nil
}

func (b byteSize) String() string {
	if b == 0 {
		return "0"
	}
	for _, u := range byteUnits[:4] {
		if b%(1<<u.shift) == 0 {
			return strconv.FormatInt(int64(b)>>u.shift, 10) + u.name
		}
	}
	return strconv.FormatInt(int64(b), 10)
}
