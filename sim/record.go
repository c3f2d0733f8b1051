package sim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"github.com/tickcast/tickcast/market"
)

// RecordingFormat is Header.Recording of the current format.
const RecordingFormat = "tickcast/1"

// Header is the optional first line of a recording: what made it, so a
// replay can serve the same universe.
type Header struct {
	Recording string              `json:"recording"` // RecordingFormat
	Seed      int64               `json:"seed,omitempty"`
	Rate      float64             `json:"rate,omitempty"`
	Speed     float64             `json:"speed,omitempty"`
	Universe  []market.SymbolInfo `json:"universe,omitempty"`
	// Scenarios is the Config's scenario script (not those set at run
	// time): with Seed, Rate, Speed and Universe, what made the ticks.
	Scenarios []Scenario `json:"scenarios,omitempty"`
}

// HeaderFor returns the header describing a run of s made with cfg.
func HeaderFor(cfg Config, s *Sim) Header {
	return Header{Recording: RecordingFormat, Seed: cfg.Seed, Rate: s.rate, Speed: s.speed, Universe: s.Universe(),
		Scenarios: s.scn.script}
}

// Recorder is a Publisher that writes every tick it is given as one line
// of a recording, then hands it on to the next Publisher (if any). Only
// ticks that next published are recorded. Lines are buffered and written
// at least once a second; Close writes the rest. A Recorder is safe for
// use by several goroutines.
type Recorder struct {
	next Publisher

	mu      sync.Mutex
	w       *bufio.Writer
	line    []byte
	flushed time.Time
	err     error // the first write error; every later Publish returns it
}

// NewRecorder returns a Recorder writing to w that publishes to next (nil:
// only record). If h is not nil it is written first, as the header line.
func NewRecorder(w io.Writer, next Publisher, h *Header) (*Recorder, error) {
	r := &Recorder{next: next, w: bufio.NewWriterSize(w, 64<<10), flushed: time.Now()}
	if h != nil {
		if h.Recording == "" {
			h.Recording = RecordingFormat
		}
		b, err := json.Marshal(h)
		if err != nil {
			return nil, fmt.Errorf("sim: record header: %w", err)
		}
		r.w.Write(append(b, '\n'))
		if err := r.w.Flush(); err != nil {
			return nil, fmt.Errorf("sim: record header: %w", err)
		}
	}
	return r, nil
}

// Publish publishes t to the next Publisher, then records it. A write
// error is returned as "sim: record: ..." and ends recording.
func (r *Recorder) Publish(ctx context.Context, t market.Tick) error {
	if r.next != nil {
		if err := r.next.Publish(ctx, t); err != nil {
			return err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.line = append(t.AppendJSON(r.line[:0]), '\n')
	_, err := r.w.Write(r.line)
	if err == nil && time.Since(r.flushed) >= time.Second {
		err = r.w.Flush()
		r.flushed = time.Now()
	}
	if err != nil {
		r.err = fmt.Errorf("sim: record: %w", err)
	}
	return r.err
}

// PublishQuote hands q on to the next Publisher if it is an
// EventPublisher (a recording holds only ticks); so do PublishBar,
// PublishStatus and PublishClock.
func (r *Recorder) PublishQuote(ctx context.Context, q market.Quote) error {
	if ep, ok := r.next.(EventPublisher); ok {
		return ep.PublishQuote(ctx, q)
	}
	return nil
}

// PublishBar: see PublishQuote.
func (r *Recorder) PublishBar(ctx context.Context, b market.Bar) error {
	if ep, ok := r.next.(EventPublisher); ok {
		return ep.PublishBar(ctx, b)
	}
	return nil
}

// PublishStatus: see PublishQuote.
func (r *Recorder) PublishStatus(ctx context.Context, st market.Status) error {
	if ep, ok := r.next.(EventPublisher); ok {
		return ep.PublishStatus(ctx, st)
	}
	return nil
}

// PublishClock: see PublishQuote.
func (r *Recorder) PublishClock(ctx context.Context, c market.Clock) error {
	if ep, ok := r.next.(EventPublisher); ok {
		return ep.PublishClock(ctx, c)
	}
	return nil
}

// Flush writes any buffered lines.
func (r *Recorder) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		if err := r.w.Flush(); err != nil {
			r.err = fmt.Errorf("sim: record: %w", err)
		}
	}
	return r.err
}

// ErrRecording is wrapped by every error about a malformed recording.
var ErrRecording = errors.New("sim: bad recording")

// maxLine is the longest line a recording may hold (a header with a big
// universe is the longest).
const maxLine = 16 << 20

// RecordingReader reads a recording line by line, so a long one need not
// fit in memory.
type RecordingReader struct {
	sc     *bufio.Scanner
	line   int
	header *Header
	peeked *market.Tick
	err    error
}

// NewRecordingReader returns a reader of the recording in r. It reads the
// first line at once, to find the header: an error there (wrapping
// ErrRecording, or from r) is returned now.
func NewRecordingReader(r io.Reader) (*RecordingReader, error) {
	rr := &RecordingReader{sc: bufio.NewScanner(r)}
	rr.sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	b, err := rr.nextLine()
	if err == io.EOF {
		return rr, nil
	}
	if err != nil {
		return nil, err
	}
	if bytes.Contains(b, []byte(`"recording"`)) {
		var h Header
		if err := json.Unmarshal(b, &h); err == nil && h.Recording != "" {
			if h.Recording != RecordingFormat {
				return nil, fmt.Errorf("%w: line 1: format %q, want %q", ErrRecording, h.Recording, RecordingFormat)
			}
			rr.header = &h
			return rr, nil
		}
	}
	t, err := rr.parse(b)
	if err != nil {
		return nil, err
	}
	rr.peeked = &t
	return rr, nil
}

// Header returns the recording's header, or nil if it has none.
func (rr *RecordingReader) Header() *Header { return rr.header }

// Next returns the next tick, or io.EOF after the last. A malformed line
// gives an error wrapping ErrRecording with its line number.
func (rr *RecordingReader) Next() (market.Tick, error) {
	if rr.peeked != nil {
		t := *rr.peeked
		rr.peeked = nil
		return t, nil
	}
	if rr.err != nil {
		return market.Tick{}, rr.err
	}
	b, err := rr.nextLine()
	if err != nil {
		rr.err = err
		return market.Tick{}, err
	}
	t, err := rr.parse(b)
	if err != nil {
		rr.err = err
	}
	return t, err
}

// nextLine returns the next non-blank line, or io.EOF.
func (rr *RecordingReader) nextLine() ([]byte, error) {
	for rr.sc.Scan() {
		rr.line++
		if b := bytes.TrimSpace(rr.sc.Bytes()); len(b) > 0 {
			return b, nil
		}
	}
	if err := rr.sc.Err(); err != nil {
		return nil, fmt.Errorf("sim: read recording after line %d: %w", rr.line, err)
	}
	return nil, io.EOF
}

func (rr *RecordingReader) parse(b []byte) (market.Tick, error) {
	t, err := market.DecodeTick(b)
	if err != nil {
		return t, fmt.Errorf("%w: line %d: %v", ErrRecording, rr.line, err)
	}
	return t, nil
}

// ReadRecording reads a whole recording: its header (nil if it has none)
// and its ticks. Errors are as for RecordingReader.
func ReadRecording(r io.Reader) (*Header, []market.Tick, error) {
	rr, err := NewRecordingReader(r)
	if err != nil {
		return nil, nil, err
	}
	var ticks []market.Tick
	for {
		t, err := rr.Next()
		if err == io.EOF {
			return rr.Header(), ticks, nil
		}
		if err != nil {
			return rr.Header(), ticks, err
		}
		ticks = append(ticks, t)
	}
}

// Replay republishes a recording.
//
// Spacing: the first tick is published at once and each later one at its
// recorded time after the first, divided by Speed; like Sim.Run it paces
// open-loop, stamps each tick with its scheduled time (so times are new
// but the gaps between them are as recorded) and publishes late ticks at
// once, skipping none.
//
// Numbering: a symbol that has no entry in Resume keeps its recorded seq
// and volume, so replaying into an empty stream reproduces the recorded
// ticks exactly but for their times: the same seq numbers, prices, sizes
// and order that a client saw when the bug showed. A symbol with a
// Resume entry (a stream that already holds ticks for it) is renumbered
// to continue after it, each recorded step of seq kept, so seq never
// repeats or goes back in the stream; its volume is as recorded.
// To reproduce a bug seq for seq, replay into a fresh stream (tickcast
// --memory, or a new --data directory).
type Replay struct {
	Resume map[string]market.Tick // last tick per symbol already in the stream
	Speed  float64                // replay speed-up; 0 means 1, as recorded

	src *RecordingReader
}

// NewReplay returns a Replay of the recording in r; see
// NewRecordingReader for the errors.
func NewReplay(r io.Reader) (*Replay, error) {
	src, err := NewRecordingReader(r)
	if err != nil {
		return nil, err
	}
	return &Replay{src: src}, nil
}

// Header returns the recording's header, or nil if it has none.
func (p *Replay) Header() *Header { return p.src.Header() }

// Run publishes the recording to pub, paced as recorded, until it ends
// (then it returns nil) or ctx is cancelled (nil too). A malformed line
// ends it with an error wrapping ErrRecording, as does a tick recorded
// before the one preceding it; a Publish error ends it as
// "sim: publish SYMBOL: ...".
func (p *Replay) Run(ctx context.Context, pub Publisher) error {
	speed := p.Speed
	if speed <= 0 || math.IsNaN(speed) {
		speed = 1
	}
	shift := map[string]int64{} // seq renumbering per symbol, once known
	var first, prev time.Time
	var start time.Time
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for n := 0; ; n++ {
		t, err := p.src.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if n == 0 {
			first, start = t.Time, time.Now()
		} else if t.Time.Before(prev) {
			return fmt.Errorf("%w: tick %d (%s seq %d) at %v, before the one before it at %v",
				ErrRecording, n+1, t.Symbol, t.Seq, t.Time.Format(time.RFC3339Nano), prev.Format(time.RFC3339Nano))
		}
		prev = t.Time
		at := start.Add(time.Duration(float64(t.Time.Sub(first)) / speed))
		if !waitUntil(ctx, timer, at) {
			return nil
		}
		d, ok := shift[t.Symbol]
		if !ok {
			if r, resumed := p.Resume[t.Symbol]; resumed {
				d = int64(r.Seq+1) - int64(t.Seq)
			}
			shift[t.Symbol] = d
		}
		t.Seq = uint64(int64(t.Seq) + d)
		t.Time = at.UTC()
		if err := pub.Publish(ctx, t); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("sim: publish %s: %w", t.Symbol, err)
		}
	}
}
