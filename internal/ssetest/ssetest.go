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

// Event is one dispatched event. ID is the last event id as the spec
// keeps it (an event without an id: line carries the one before it;
// the gateway's only such event is a reset, first on its stream).
type Event struct {
	Type, ID, Data string
	At             time.Time // when the reader parsed it
}

// Bad is the Type of the last Event a Reader sends when the stream was
// malformed; its Data is the error.
const Bad = "BAD STREAM"

type collect struct{ out []Event }

func (c *collect) Event(typ, id, data []byte) {
	c.out = append(c.out, Event{Type: string(typ), ID: string(id), Data: string(data), At: time.Now()})
}

// Parse parses a whole body strictly: every line ended by LF, no BOM,
// no CR. It returns the events and the last retry: value (-1: none).
func Parse(b []byte) ([]Event, int, error) {
	if bytes.HasPrefix(b, []byte("\xEF\xBB\xBF")) {
		return nil, -1, errors.New("ssetest: BOM")
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		return nil, -1, errors.New("ssetest: unterminated line")
	}
	var c collect
	var p bench.Parser
	p.Strict = true
	p.Reset(&c, false)
	if err := p.Feed(b); err != nil {
		return c.out, p.Retry, err
	}
	return c.out, p.Retry, nil
}

// Reader reads a body as it arrives and sends its events on Events,
// which it closes at the end of the body (or after a Bad event).
type Reader struct {
	Events chan Event
	retry  atomic.Int64
	p      bench.Parser
}

type send struct{ r *Reader }

func (s send) Event(typ, id, data []byte) {
	s.r.retry.Store(int64(s.r.p.Retry))
	s.r.Events <- Event{Type: string(typ), ID: string(id), Data: string(data), At: time.Now()}
}

// Read starts reading body. buffer bounds Events: a reader that falls
// that far behind blocks the reading, as a browser would.
func Read(body io.Reader, buffer int) *Reader {
	r := &Reader{Events: make(chan Event, buffer)}
	r.retry.Store(-1)
	go r.run(body)
	return r
}

func (r *Reader) run(body io.Reader) {
	defer close(r.Events)
	p := &r.p
	p.Strict = true
	p.Reset(send{r}, false)
	buf := make([]byte, 64<<10)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			ferr := p.Feed(buf[:n])
			r.retry.Store(int64(p.Retry))
			if ferr != nil {
				r.Events <- Event{Type: Bad, Data: ferr.Error()}
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Retry returns the last retry: the stream sent, as its text ("" when
// none yet). It is up to date once the event after it has come.
func (r *Reader) Retry() string {
	if n := r.retry.Load(); n >= 0 {
		return strconv.FormatInt(n, 10)
	}
	return ""
}
