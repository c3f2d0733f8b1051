package feed

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// SubjectPrefix is the first token of every tick subject: ticks.<SYMBOL>.
const SubjectPrefix = "ticks."

// Subject returns the subject ticks of symbol are published on.
func Subject(symbol string) string { return SubjectPrefix + symbol }

// StreamConfig is the retention window of the ticks stream and the
// bounds of its companions. Zero fields mean the documented defaults.
type StreamConfig struct {
	// MaxAge and MaxBytes bound the ticks stream's window, whichever
	// is reached first. Defaults: DefaultMaxAge and DefaultMaxBytes (an
	// hour, 4 GiB: the hour holds at the default feed's peak rate) on
	// disk, DefaultMemoryMaxAge and DefaultMemoryMaxBytes (15 minutes,
	// 1 GiB of RAM) in memory.
	MaxAge   time.Duration
	MaxBytes int64
	Memory   bool // memory storage instead of file
	Replicas int  // default 1

	// BarsMaxAge is how long the companion <stream>_BARS keeps bars
	// (GET /v1/bars history); default DefaultBarsMaxAge (a week).
	BarsMaxAge time.Duration
	// BarsMaxPerSeries caps the bars it keeps of one symbol and
	// interval, the newest first; default DefaultBarsMaxPerSeries
	// (21,600: 6 hours of 1 s bars; 1 min bars reach BarsMaxAge first).
	BarsMaxPerSeries int64
	// BarsMaxBytes caps the companion's bytes, the oldest bars going
	// first; default DefaultBarsMaxBytes.
	BarsMaxBytes int64
}

// Defaults of StreamConfig, and the bound of <stream>_LAST.
//
// The ticks stream's: the default feed (tickcast serve: 300 trades/s
// with 8 quotes each, 1 s and 1 min bars of 44 symbols, the U-shaped
// intraday curve) stores about 250 bytes a message and 4,000-4,500
// messages/s at the open and close, DefaultFeedPeakBytesPerSec; 4 GiB
// hold an hour of that. In memory the default is a quarter: 1 GiB of
// RAM, 15 minutes.
//
// The bars companion's: 21,600 bars per symbol and interval are 6 hours
// of 1 s bars and 15 days of 1 min bars (so the week of BarsMaxAge
// governs those); with 44 symbols that is about 1.4M messages of about
// 375 bytes (a sourced copy), some 500 MiB, under DefaultBarsMaxBytes.
//
// <stream>_LAST keeps one message per subject (about 5 subjects per
// symbol); LastMaxBytes is a bound it reaches only with some 40,000
// symbols, when its oldest subjects go first.
const (
	DefaultMaxAge         = time.Hour
	DefaultMaxBytes       = 4 << 30
	DefaultMemoryMaxAge   = 15 * time.Minute
	DefaultMemoryMaxBytes = 1 << 30

	DefaultBarsMaxAge       = 168 * time.Hour
	DefaultBarsMaxPerSeries = 21_600
	DefaultBarsMaxBytes     = 768 << 20

	LastMaxBytes = 64 << 20

	// DefaultFeedPeakBytesPerSec is what the default feed stores per
	// second at its busiest (the open and close), measured: about 1.1
	// MiB/s.
	DefaultFeedPeakBytesPerSec = 1_150_000
)

// withDefaults fills in the zero fields of cfg; memory is the storage
// the ticks stream will have.
func (cfg StreamConfig) withDefaults(memory bool) StreamConfig {
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
		if memory {
			cfg.MaxAge = DefaultMemoryMaxAge
		}
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
		if memory {
			cfg.MaxBytes = DefaultMemoryMaxBytes
		}
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.BarsMaxAge <= 0 {
		cfg.BarsMaxAge = DefaultBarsMaxAge
	}
	if cfg.BarsMaxPerSeries <= 0 {
		cfg.BarsMaxPerSeries = DefaultBarsMaxPerSeries
	}
	if cfg.BarsMaxBytes <= 0 {
		cfg.BarsMaxBytes = DefaultBarsMaxBytes
	}
	return cfg
}

// StreamSubjects are the subjects of the one stream: ticks, quotes,
// bars, status events, books and the market clock.
var StreamSubjects = []string{SubjectPrefix + ">", QuoteSubjectPrefix + ">", BarSubjectPrefix + ">", StatusSubjectPrefix + ">", BookSubjectPrefix + ">", "market.>"}

// StreamState is where the stream stands.
type StreamState struct {
	Epoch    string    // changes whenever the stream is recreated
	Created  time.Time // when the stream was created
	FirstSeq uint64    // oldest sequence still held (LastSeq+1 when empty)
	LastSeq  uint64    // newest sequence, 0 when nothing was ever stored
}

// dedupeWindow is how long the ticks stream remembers Nats-Msg-Ids, so a
// retried publish is stored once; never longer than the window itself
// (the server refuses that). The server keeps every id of the window in
// memory (at the default rates 3,000 a second, some 40 MB that the
// garbage collector of a serve process scans every cycle), but a
// shorter one does not hold: with 10 s, a retry after a leader failover
// in a cluster was stored twice (TestCluster). A retry later than half
// of it checks the subject's newest message first (publishMsg).
const dedupeWindow = 2 * time.Minute

// sourcedLast are the subjects the server copies into <stream>_LAST:
// every one but quotes and books, which publishers copy (LastCopyPrefix).
var sourcedLast = []jetstream.SubjectTransformConfig{
	{Source: SubjectPrefix + ">", Destination: SubjectPrefix + ">"},
	{Source: BarSubjectPrefix + ">", Destination: BarSubjectPrefix + ">"},
	{Source: StatusSubjectPrefix + ">", Destination: StatusSubjectPrefix + ">"},
	{Source: "market.>", Destination: "market.>"},
}

// lastSuffix names the companion of a ticks stream: <stream>_LAST;
// barsSuffix the companion keeping bars: <stream>_BARS.
const (
	lastSuffix = "_LAST"
	barsSuffix = "_BARS"
)

// EnsureStream creates the ticks stream, or updates its window if it
// exists, and returns its state. Limits retention with DiscardOld keeps
// the window contiguous: messages leave only from the front.
//
// The stream takes StreamSubjects (ticks, quotes, bars, status, books,
// the clock); a stream made by an older tickcast, without some of them,
// gets the others added.
//
// It also ensures the companion stream <stream>_LAST: one message per
// subject (MaxMsgsPerSubject 1, so it is bounded by the subjects), no
// age limit, LastMaxBytes at most. It holds every subject's newest message
// (every symbol's newest tick, quote, bar, status and book, and the
// clock) for good, whatever left the window, so that LastTicks and
// LastCounters can continue every counter. Ticks, bars, status and the
// clock the server sources from the ticks stream (sourcedLast), durably,
// so a publisher that dies loses none of them. Quotes and books, most of
// the feed's messages, are not sourced (copying each cost the server a
// fifth of the default feed's CPU): publishers copy each subject's
// newest into the companion on LastCopyPrefix subjects, a Pipeline at
// most once a second and at Close (see Pipeline). It survives
// DeleteStream on purpose: a recreated ticks stream continues the seqs
// too, and the companion sources the new stream once the server notices
// (its source retry backoff, up to about two minutes). A companion made
// by an older tickcast, which sourced every subject, is narrowed; the
// quotes and books it copied stay until newer copies replace them.
//
// And it ensures <stream>_BARS, sourced from the stream's bars.> only,
// kept for cfg.BarsMaxAge, at most cfg.BarsMaxPerSeries bars per symbol
// and interval and cfg.BarsMaxBytes in all (ReadBars reads it).
//
// Every limit is applied to existing streams too (made by an older
// tickcast, or with other flags): a lower one drops their oldest
// messages at once.
//
// A stream's storage type cannot change: an existing stream keeps its
// own, rather than being destroyed with the ids clients hold; the
// defaults follow the storage it has. Transient
// errors are retried for up to 30 s; permanent ones (an invalid
// configuration) fail at once.
func (c *Conn) EnsureStream(ctx context.Context, cfg StreamConfig) (StreamState, error) {
	memory := cfg.Memory
	if s, err := c.js.Stream(ctx, c.stream); err == nil {
		memory = s.CachedInfo().Config.Storage == jetstream.MemoryStorage
	}
	cfg = cfg.withDefaults(memory)
	storage := jetstream.FileStorage
	if memory {
		storage = jetstream.MemoryStorage
	}
	info, err := c.ensure(ctx, jetstream.StreamConfig{
		Name:        c.stream,
		Description: "tickcast price ticks",
		Subjects:    StreamSubjects,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      cfg.MaxAge,
		MaxBytes:    cfg.MaxBytes,
		Storage:     storage,
		Replicas:    cfg.Replicas,
		Duplicates:  min(dedupeWindow, cfg.MaxAge),
		AllowDirect: true,
	})
	if err != nil {
		return StreamState{}, err
	}
	last, err := c.ensure(ctx, jetstream.StreamConfig{
		Name:              c.stream + lastSuffix,
		Description:       "tickcast: the newest message of every subject ever stored in " + c.stream,
		Subjects:          []string{LastCopyPrefix + ">"},
		Sources:           []*jetstream.StreamSource{{Name: c.stream, SubjectTransforms: sourcedLast}},
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxMsgsPerSubject: 1,
		MaxBytes:          LastMaxBytes,
		Storage:           storage,
		Replicas:          cfg.Replicas,
		AllowDirect:       true,
	})
	if err != nil {
		return StreamState{}, err
	}
	bars, err := c.ensure(ctx, jetstream.StreamConfig{
		Name:              c.stream + barsSuffix,
		Description:       "tickcast: the bars of " + c.stream + ", kept longer for history",
		Sources:           []*jetstream.StreamSource{{Name: c.stream, FilterSubject: BarSubjectPrefix + ">"}},
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxAge:            cfg.BarsMaxAge,
		MaxMsgsPerSubject: cfg.BarsMaxPerSeries,
		MaxBytes:          cfg.BarsMaxBytes,
		Storage:           storage,
		Replicas:          cfg.Replicas,
		AllowDirect:       true,
	})
	if err != nil {
		return StreamState{}, err
	}
	c.awaitSourcing(ctx, last)
	c.awaitSourcing(ctx, bars)
	return stateOf(info), nil
}

// awaitSourcing waits, up to 5 s, until the companion has reached the
// ticks stream (the server sets up a source a moment after creating or
// recovering the stream), so a caller that goes on to publish finds it
// copying. Past that it returns anyway: the server keeps trying, and the
// companion catches up from the ticks stream's window.
func (c *Conn) awaitSourcing(ctx context.Context, info *jetstream.StreamInfo) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		if len(info.Sources) > 0 && info.Sources[0].Active >= 0 || time.Now().After(deadline) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		s, err := c.js.Stream(sctx, info.Config.Name)
		cancel()
		if err == nil {
			info = s.CachedInfo()
		}
	}
}

// ensure creates or updates a stream, keeping the storage type of an
// existing one, and retries transient errors.
func (c *Conn) ensure(ctx context.Context, sc jetstream.StreamConfig) (*jetstream.StreamInfo, error) {
	var info *jetstream.StreamInfo
	err := retry(ctx, 10*time.Second, func(ctx context.Context) error {
		cur, err := c.js.Stream(ctx, sc.Name)
		switch {
		case err == nil:
			sc.Storage = cur.CachedInfo().Config.Storage
		case !errors.Is(err, jetstream.ErrStreamNotFound):
			return err
		}
		s, err := c.js.CreateOrUpdateStream(ctx, sc)
		if err != nil {
			return err
		}
		info = s.CachedInfo()
		return nil
	})
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && (apiErr.ErrorCode == errCodeStorageExceeded || apiErr.ErrorCode == errCodeInsufficient) {
		return nil, fmt.Errorf("feed: stream %s: %w: %w", sc.Name, ErrNoRoom, err)
	}
	if err != nil {
		return nil, fmt.Errorf("feed: stream %s: %w", sc.Name, err)
	}
	return info, nil
}

// ErrNoRoom is returned (wrapped) by EnsureStream when the server cannot
// reserve the byte limits asked for: JetStream reserves MaxBytes when it
// creates a stream, and an embedded server grants at most 75% of the
// disk's free space (or of the memory, for memory storage).
var ErrNoRoom = errors.New("feed: not enough storage for the stream's limits")

// JetStream's error codes for a stream whose limits exceed what the
// server or account can reserve.
const (
	errCodeStorageExceeded jetstream.ErrorCode = 10047
	errCodeInsufficient    jetstream.ErrorCode = 10023
)

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
// for it will never resume on a new one: its epoch differs. The
// companion <stream>_LAST stays, so seqs continue on the new stream.
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
