package bench

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Handler receives the events a Parser finds. The slices alias the
// parser's buffers and are valid only during the call.
type Handler interface {
	Event(typ, id, data []byte)
}

// ExtraHandler is a Handler that also hears comments (the text after
// ':') and retry: values, in their place in the stream (tests use it;
// the bench's clients do not).
type ExtraHandler interface {
	Handler
	Comment(text []byte)
	Retry(ms int)
}

// ErrStream is wrapped by Parser.Feed when the bytes are not a valid
// chunked body or an event grows past MaxEventBytes.
var ErrStream = errors.New("bench: bad stream")

// MaxEventBytes bounds one line and one event's data, so a broken server
// cannot make a client buffer without limit.
const MaxEventBytes = 8 << 20

// keepBytes is the buffer capacity a parser keeps after an event; a larger
// buffer (a snapshot of many symbols) is dropped after use so that 10,000
// idle clients do not each hold one.
const keepBytes = 64 << 10

type chunkState uint8

const (
	csSize    chunkState = iota // reading hex digits of a chunk size
	csExt                       // skipping a chunk extension up to '\n'
	csSizeLF                    // after '\r' of the size line
	csData                      // inside chunk data
	csDataCR                    // expecting "\r\n" after chunk data
	csDataLF                    // expecting '\n' after chunk data
	csTrailer                   // after the last chunk, up to an empty line
	csDone                      // body complete
)

// Parser decodes an SSE body, optionally in HTTP/1.1 chunked transfer
// encoding, incrementally and without allocating per event: Feed it the
// bytes as they arrive, in pieces of any size. It understands the fields
// event, id, data and retry; comments and other fields are skipped.
// The zero Parser is not usable: call Reset first.
type Parser struct {
	h       Handler
	x       ExtraHandler // h, if it is one
	chunked bool
	err     error

	// chunked decoding
	cs      chunkState
	remain  uint64 // bytes left in the current chunk
	ndigits int
	tlen    int // length of the current trailer line

	// SSE
	line    []byte // a line that spans Feed calls
	skipLF  bool   // the last byte was '\r': a '\n' right after it ends nothing
	typ     []byte
	id      []byte // the last event ID buffer: set by an id: line
	lastID  []byte // the last event ID string: id as of the last dispatch
	data    []byte
	hasData bool

	// Retry is the last retry: value in milliseconds, or -1.
	Retry int
	// Strict makes Feed refuse, as ErrStream, what the gateway never
	// sends though the format allows it: a CR, a field other than event,
	// id, data and retry, an empty id. Tests set it; Reset keeps it.
	Strict bool
}

// Reset prepares p for a new body, keeping its buffers and the last event
// id (the SSE "last event ID buffer"), from which a reconnecting client
// resumes.
func (p *Parser) Reset(h Handler, chunked bool) {
	p.h = h
	p.x, _ = h.(ExtraHandler)
	p.chunked = chunked
	p.err = nil
	p.cs = csSize
	p.remain, p.ndigits, p.tlen = 0, 0, 0
	p.line = p.line[:0]
	p.skipLF = false
	p.typ = p.typ[:0]
	p.data = p.data[:0]
	p.hasData = false
	p.Retry = -1
}

// LastID returns the id of the last event dispatched (the SSE "last
// event ID string", which EventSource sends on reconnecting): an id:
// line whose event was cut off before its blank line does not count, or
// a client whose stream broke there would resume past an event it never
// handled. It aliases p's buffer.
func (p *Parser) LastID() []byte { return p.lastID }

// Feed parses b, calling the handler for each complete event. It returns
// io.EOF once the last chunk of a chunked body has been read, and an error
// wrapping ErrStream on malformed input; after an error, Feed returns the
// same error and reads nothing more.
func (p *Parser) Feed(b []byte) error {
	if p.err != nil {
		return p.err
	}
	if !p.chunked {
		p.err = p.feedSSE(b)
		return p.err
	}
	p.err = p.feedChunked(b)
	return p.err
}

func (p *Parser) feedChunked(b []byte) error {
	for len(b) > 0 {
		switch p.cs {
		case csSize:
			c := b[0]
			b = b[1:]
			if v, ok := hexVal(c); ok {
				if p.remain > 1<<58 {
					return fmt.Errorf("%w: chunk size too large", ErrStream)
				}
				p.remain = p.remain<<4 | uint64(v)
				p.ndigits++
				continue
			}
			if p.ndigits == 0 {
				return fmt.Errorf("%w: chunk size: unexpected byte %q", ErrStream, c)
			}
			switch c {
			case ';', ' ', '\t':
				p.cs = csExt
			case '\r':
				p.cs = csSizeLF
			case '\n':
				p.endSize()
			default:
				return fmt.Errorf("%w: chunk size: unexpected byte %q", ErrStream, c)
			}
		case csExt:
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				return nil
			}
			b = b[i+1:]
			p.endSize()
		case csSizeLF:
			if b[0] != '\n' {
				return fmt.Errorf("%w: chunk size: missing LF", ErrStream)
			}
			b = b[1:]
			p.endSize()
		case csData:
			n := uint64(len(b))
			if n > p.remain {
				n = p.remain
			}
			if err := p.feedSSE(b[:n]); err != nil {
				return err
			}
			b = b[n:]
			p.remain -= n
			if p.remain == 0 {
				p.cs = csDataCR
			}
		case csDataCR:
			c := b[0]
			b = b[1:]
			switch c {
			case '\r':
				p.cs = csDataLF
			case '\n':
				p.cs = csSize
			default:
				return fmt.Errorf("%w: missing CRLF after chunk", ErrStream)
			}
		case csDataLF:
			if b[0] != '\n' {
				return fmt.Errorf("%w: missing LF after chunk", ErrStream)
			}
			b = b[1:]
			p.cs = csSize
		case csTrailer:
			c := b[0]
			b = b[1:]
			switch c {
			case '\n':
				if p.tlen == 0 {
					p.cs = csDone
					return io.EOF
				}
				p.tlen = 0
			case '\r':
			default:
				p.tlen++
			}
		case csDone:
			return io.EOF
		}
	}
	return nil
}

func (p *Parser) endSize() {
	p.ndigits = 0
	if p.remain == 0 {
		p.cs = csTrailer
		p.tlen = 0
		return
	}
	p.cs = csData
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// feedSSE splits b into lines (ended by "\r\n", "\n" or "\r") and
// processes each. Lines wholly inside b are not copied.
func (p *Parser) feedSSE(b []byte) error {
	for len(b) > 0 {
		if p.skipLF {
			p.skipLF = false
			if b[0] == '\n' {
				b = b[1:]
				continue
			}
		}
		i := bytes.IndexByte(b, '\n')
		end := b
		if i >= 0 {
			end = b[:i]
		}
		if j := bytes.IndexByte(end, '\r'); j >= 0 {
			if p.Strict {
				return fmt.Errorf("%w: CR in the stream", ErrStream)
			}
			i = j
		}
		if i < 0 {
			if len(p.line)+len(b) > MaxEventBytes {
				return fmt.Errorf("%w: line longer than %d bytes", ErrStream, MaxEventBytes)
			}
			p.line = append(p.line, b...)
			return nil
		}
		line := b[:i]
		if len(p.line) > 0 {
			if len(p.line)+i > MaxEventBytes {
				return fmt.Errorf("%w: line longer than %d bytes", ErrStream, MaxEventBytes)
			}
			p.line = append(p.line, line...)
			line = p.line
		}
		if b[i] == '\r' {
			p.skipLF = true
		}
		b = b[i+1:]
		if err := p.processLine(line); err != nil {
			return err
		}
		p.line = p.line[:0]
		if cap(p.line) > keepBytes {
			p.line = nil
		}
	}
	return nil
}

var typeMessage = []byte("message")

func (p *Parser) processLine(line []byte) error {
	if len(line) == 0 {
		p.dispatch()
		return nil
	}
	if line[0] == ':' {
		if p.x != nil {
			p.x.Comment(line[1:])
		}
		return nil
	}
	field, value := line, line[:0]
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		field, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(field) {
	case "data":
		if len(p.data)+len(value)+1 > MaxEventBytes {
			return fmt.Errorf("%w: event data longer than %d bytes", ErrStream, MaxEventBytes)
		}
		if p.hasData {
			p.data = append(p.data, '\n')
		}
		p.data = append(p.data, value...)
		p.hasData = true
	case "event":
		p.typ = append(p.typ[:0], value...)
	case "id":
		if p.Strict && len(value) == 0 {
			return fmt.Errorf("%w: empty id line", ErrStream)
		}
		if bytes.IndexByte(value, 0) < 0 {
			p.id = append(p.id[:0], value...)
		}
	case "retry":
		n := 0
		for _, c := range value {
			if c < '0' || c > '9' || n > 1<<40 {
				return nil
			}
			n = n*10 + int(c-'0')
		}
		if len(value) > 0 {
			p.Retry = n
			if p.x != nil {
				p.x.Retry(n)
			}
		}
	default:
		if p.Strict {
			return fmt.Errorf("%w: unknown line %q", ErrStream, line)
		}
	}
	return nil
}

func (p *Parser) dispatch() {
	p.lastID = append(p.lastID[:0], p.id...)
	if !p.hasData {
		p.typ = p.typ[:0]
		return
	}
	typ := p.typ
	if len(typ) == 0 {
		typ = typeMessage
	}
	p.h.Event(typ, p.id, p.data)
	p.typ = p.typ[:0]
	p.data = p.data[:0]
	p.hasData = false
	if cap(p.data) > keepBytes {
		p.data = nil
	}
}
