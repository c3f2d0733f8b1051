// Package ssetest reads Server-Sent Events in tests: every test of the
// module that checks what a stream said goes through it, and it goes
// through bench.Parser, the one SSE parser of the module, in its strict
// mode (a CR, an unknown field or an empty id is an error: the gateway
// never sends them).
package ssetest

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/tickcast/tickcast/bench"
)

// Event is one dispatched event, or, from Scan and Parse, a comment or a
// retry: line in its place (Type Comment or Retry, the text in Data). ID
// is the last event id as the spec keeps it: an event without an id:
// line carries the one before it (the gateway's only such event is a
// reset, first on its stream).
type Event struct {
	Type, ID, Data string
	At             time.Time // when the reader parsed it
}

// The Types of what is not an event.
const (
	Comment = ":"      // a comment line; Data is its text, without the colon
	Retry   = "retry:" // a retry: line; Data is its value in milliseconds
	Bad     = "BAD"    // the stream was malformed; Data is why (Read only)
)

type handler struct {
	p      *bench.Parser
	fn     func(Event) bool
	stop   *bool
	extras bool
	retry  *atomic.Int64
}

func (h handler) Event(typ, id, data []byte) {
	if h.retry != nil {
		h.retry.Store(int64(h.p.Retry))
	}
	h.call(Event{Type: string(typ), ID: string(id), Data: string(data), At: time.Now()})
}

func (h handler) call(ev Event) {
	if !*h.stop && !h.fn(ev) {
		*h.stop = true
	}
}

func (h handler) Comment(text []byte) {
	if h.extras {
		h.call(Event{Type: Comment, Data: string(text), At: time.Now()})
	}
}

func (h handler) Retry(ms int) {
	if h.extras {
		h.call(Event{Type: Retry, Data: strconv.Itoa(ms), At: time.Now()})
	}
}

// Scan reads body to its end, calling fn with each event, comment and
// retry: in stream order, until fn returns false. It returns nil at the
// end of the body or when fn stops it, the parser's error (wrapping
// bench.ErrStream) if the stream is malformed, else the read's error.
func Scan(body io.Reader, fn func(Event) bool) error {
	return scan(body, handler{fn: fn, extras: true})
}

func scan(body io.Reader, h handler) error {
	var p bench.Parser
	p.Strict = true
	h.p = &p
	h.stop = new(bool)
	p.Reset(h, false)
	if h.retry != nil {
		defer func() { h.retry.Store(int64(p.Retry)) }()
	}
	buf := make([]byte, 64<<10)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if ferr := p.Feed(buf[:n]); ferr != nil {
				return ferr
			}
			if *h.stop {
				return nil
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// Parse parses a whole body strictly: every line ended by LF, no BOM,
// no CR. It returns the events, comments and retries in order.
func Parse(b []byte) ([]Event, error) {
	if bytes.HasPrefix(b, []byte("\xEF\xBB\xBF")) {
		return nil, errors.New("ssetest: BOM")
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		return nil, errors.New("ssetest: unterminated line")
	}
	var out []Event
	err := Scan(bytes.NewReader(b), func(ev Event) bool { out = append(out, ev); return true })
	return out, err
}

// Reader reads a body as it arrives and sends its events (not comments
// or retries) on Events, which it closes at the end of the body, after a
// Bad event if the stream was malformed.
type Reader struct {
	Events chan Event
	retry  atomic.Int64
}

// Read starts reading body. buffer bounds Events: a test that falls that
// far behind blocks the reading, as a browser would.
func Read(body io.Reader, buffer int) *Reader {
	r := &Reader{Events: make(chan Event, buffer)}
	r.retry.Store(-1)
	go func() {
		defer close(r.Events)
		send := func(ev Event) bool { r.Events <- ev; return true }
		err := scan(body, handler{fn: send, retry: &r.retry})
		if errors.Is(err, bench.ErrStream) {
			r.Events <- Event{Type: Bad, Data: err.Error()}
		}
	}()
	return r
}

// Retry returns the last retry: the stream sent, as its text ("" when
// none). It is up to date once the event after it has come, or once
// Events is closed.
func (r *Reader) Retry() string {
	if n := r.retry.Load(); n >= 0 {
		return strconv.FormatInt(n, 10)
	}
	return ""
}
