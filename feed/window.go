package feed

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Window is the ticks stream's retention limits and what it holds now.
type Window struct {
	MaxAge   time.Duration // the age limit
	MaxBytes int64         // the byte limit
	Memory   bool          // memory storage

	Msgs, Bytes         uint64    // held now
	FirstSeq, LastSeq   uint64    // as in StreamState
	FirstTime, LastTime time.Time // when the oldest and newest held were stored
}

// Window returns the ticks stream's limits and usage, or an error
// wrapping ErrNoStream if there is no stream.
func (c *Conn) Window(ctx context.Context) (Window, error) {
	s, err := c.js.Stream(ctx, c.stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return Window{}, fmt.Errorf("feed: stream %s: %w: %w", c.stream, ErrNoStream, err)
	}
	if err != nil {
		return Window{}, fmt.Errorf("feed: stream %s: %w", c.stream, err)
	}
	info := s.CachedInfo()
	return Window{
		MaxAge: info.Config.MaxAge, MaxBytes: info.Config.MaxBytes,
		Memory: info.Config.Storage == jetstream.MemoryStorage,
		Msgs:   info.State.Msgs, Bytes: info.State.Bytes,
		FirstSeq: info.State.FirstSeq, LastSeq: info.State.LastSeq,
		FirstTime: info.State.FirstTime, LastTime: info.State.LastTime,
	}, nil
}

// BytesHold is how long MaxBytes holds at bytesPerSec; 0 when either
// is not positive.
func (w Window) BytesHold(bytesPerSec float64) time.Duration {
	if w.MaxBytes <= 0 || bytesPerSec <= 0 {
		return 0
	}
	return time.Duration(float64(w.MaxBytes) / bytesPerSec * float64(time.Second))
}

// Effective is the window clients can resume within at bytesPerSec: the
// shorter of MaxAge and BytesHold (MaxAge when the rate is unknown).
func (w Window) Effective(bytesPerSec float64) time.Duration {
	if h := w.BytesHold(bytesPerSec); h > 0 && (w.MaxAge <= 0 || h < w.MaxAge) {
		return h
	}
	return w.MaxAge
}
