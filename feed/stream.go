package feed

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// SubjectPrefix is the first token of every tick subject: ticks.<SYMBOL>.
const SubjectPrefix = "ticks."

// Subject returns the subject ticks of symbol are published on.
func Subject(symbol string) string { return SubjectPrefix + symbol }

// StreamConfig is the retention window of the ticks stream. Zero fields
// mean the documented defaults.
type StreamConfig struct {
	MaxAge   time.Duration // default 1h
	MaxBytes int64         // default 1 GiB
	Memory   bool          // memory storage instead of file
	Replicas int           // default 1
}

// Defaults of StreamConfig.
const (
	DefaultMaxAge   = time.Hour
	DefaultMaxBytes = 1 << 30
)

// StreamState is where the stream stands.
type StreamState struct {
	Epoch    string    // changes whenever the stream is recreated
	Created  time.Time // when the stream was created
	FirstSeq uint64    // oldest sequence still held (LastSeq+1 when empty)
	LastSeq  uint64    // newest sequence, 0 when nothing was ever stored
}

// EnsureStream creates the ticks stream, or updates its window if it
// exists, and returns its state. Limits retention with DiscardOld keeps
// the window contiguous: messages leave only from the front.
func (c *Conn) EnsureStream(ctx context.Context, cfg StreamConfig) (StreamState, error) {
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	storage := jetstream.FileStorage
	if cfg.Memory {
		storage = jetstream.MemoryStorage
	}
	sc := jetstream.StreamConfig{
		Name:        c.stream,
		Description: "tickcast price ticks",
		Subjects:    []string{SubjectPrefix + ">"},
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      cfg.MaxAge,
		MaxBytes:    cfg.MaxBytes,
		Storage:     storage,
		Replicas:    cfg.Replicas,
		Duplicates:  2 * time.Minute,
		AllowDirect: true,
	}
	// The server can refuse for a moment (a stream just deleted whose
	// store is still being removed, a cluster electing its leader):
	// retry for a few seconds.
	var s jetstream.Stream
	var err error
	for attempt := 0; ; attempt++ {
		s, err = c.js.CreateOrUpdateStream(ctx, sc)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) || err != nil && strings.Contains(err.Error(), "can not change storage type") {
			// The stream exists with a setting we may not change (storage);
			// keep it as it is rather than destroy the ids clients hold.
			s, err = c.js.Stream(ctx, c.stream)
		}
		if err == nil || attempt == 20 || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
	if err != nil {
		return StreamState{}, fmt.Errorf("feed: stream %s: %w", c.stream, err)
	}
	return stateOf(s.CachedInfo()), nil
}

// ErrNoStream is returned (wrapped) by State when the stream does not
// exist.
var ErrNoStream = errors.New("feed: no such stream")

// State returns the stream's current state, or an error wrapping
// ErrNoStream if there is no stream.
func (c *Conn) State(ctx context.Context) (StreamState, error) {
	s, err := c.js.Stream(ctx, c.stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return StreamState{}, fmt.Errorf("feed: stream %s: %w: %w", c.stream, ErrNoStream, err)
	}
	if err != nil {
		return StreamState{}, fmt.Errorf("feed: stream %s: %w", c.stream, err)
	}
	return stateOf(s.CachedInfo()), nil
}

// DeleteStream removes the ticks stream and everything in it. Ids issued
// for it will never resume on a new one: its epoch differs.
func (c *Conn) DeleteStream(ctx context.Context) error {
	if err := c.js.DeleteStream(ctx, c.stream); err != nil {
		return fmt.Errorf("feed: delete stream %s: %w", c.stream, err)
	}
	return nil
}

func stateOf(info *jetstream.StreamInfo) StreamState {
	return StreamState{
		Epoch:    EpochOf(info.Config.Name, info.Created),
		Created:  info.Created,
		FirstSeq: info.State.FirstSeq,
		LastSeq:  info.State.LastSeq,
	}
}

var epochEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// EpochOf derives the stream's epoch tag from its name and creation time,
// which the server records once per stream: every reader of the same
// stream computes the same tag, and a recreated stream gets another one.
// It is 8 characters of [0-9a-v].
func EpochOf(stream string, created time.Time) string {
	sum := sha256.Sum256([]byte(stream + "\x00" + created.UTC().Format(time.RFC3339Nano)))
	return epochEncoding.EncodeToString(sum[:5])
}
