package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Opening a client's stream: the TCP dial with the request, reading and
// checking the response head, and the query a client asks with.

// dial connects, sends the request and, unless the client is stalled,
// reads the response head and whatever events came with it.
func (c *client) dial(ctx context.Context) error {
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: c.local, Control: c.r.control(c.slow)}
	conn, err := d.DialContext(ctx, "tcp", c.r.hostport)
	if err != nil {
		return fmt.Errorf("dial %s: %w", c.r.hostport, err)
	}
	req := c.buf[:0]
	req = append(req, "GET "...)
	req = append(req, c.query...)
	req = append(req, " HTTP/1.1\r\nHost: "...)
	req = append(req, c.r.hostport...)
	req = append(req, "\r\nAccept: text/event-stream\r\nUser-Agent: tickcast-bench\r\n"...)
	if ae := c.r.cfg.AcceptEncoding; ae != "" {
		req = append(req, "Accept-Encoding: "...)
		req = append(req, ae...)
		req = append(req, "\r\n"...)
	}
	if id := c.p.LastID(); len(id) > 0 {
		req = append(req, "Last-Event-ID: "...)
		req = append(req, id...)
		req = append(req, "\r\n"...)
	}
	req = append(req, "\r\n"...)
	if _, err := conn.Write(req); err != nil {
		conn.Close()
		return fmt.Errorf("write request: %w", err)
	}
	c.conn = conn
	if c.slow {
		return nil
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := c.readHead(); err != nil {
		conn.Close()
		return err
	}
	conn.SetReadDeadline(time.Time{})
	return nil
}

// readHead reads and checks the response head, then feeds the bytes after
// it to the parser.
func (c *client) readHead() error {
	n := 0
	for {
		if n == len(c.buf) {
			return fmt.Errorf("response head longer than %d bytes", len(c.buf))
		}
		m, err := c.conn.Read(c.buf[n:])
		n += m
		if i := bytes.Index(c.buf[:n], []byte("\r\n\r\n")); i >= 0 {
			chunked, enc, err := checkHead(c.buf[:i+2])
			if err != nil {
				return err
			}
			if enc != c.r.cfg.AcceptEncoding {
				return fmt.Errorf("Content-Encoding %q, asked for %q", enc, c.r.cfg.AcceptEncoding)
			}
			c.p.Reset(c, chunked) // keeps the last id, the resume cursor
			rest := c.buf[i+4 : n]
			if enc != "" {
				if chunked {
					return errors.New("chunked and compressed: not supported")
				}
				c.countWire(len(rest))
				return c.startDecoder(enc, rest)
			}
			if len(rest) > 0 {
				c.countWire(len(rest))
				return c.feed(rest)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("read response head: %w", err)
		}
	}
}

// checkHead checks an HTTP/1.1 response head (status line and header lines,
// each ending in CRLF) for 200 and text/event-stream, and reports whether
// the body is chunked and its Content-Encoding.
func checkHead(h []byte) (chunked bool, enc string, err error) {
	line, rest, _ := bytes.Cut(h, []byte("\r\n"))
	proto, status, _ := bytes.Cut(line, []byte(" "))
	if !bytes.HasPrefix(proto, []byte("HTTP/1.")) {
		return false, "", fmt.Errorf("bad status line %q", line)
	}
	if len(status) < 3 || string(status[:3]) != "200" {
		return false, "", fmt.Errorf("status %q", status)
	}
	sse := false
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Type")):
			mt, _, _ := bytes.Cut(v, []byte(";"))
			sse = bytes.EqualFold(bytes.TrimSpace(mt), []byte("text/event-stream"))
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			chunked = bytes.Contains(bytes.ToLower(v), []byte("chunked"))
		case bytes.EqualFold(k, []byte("Content-Encoding")):
			enc = strings.ToLower(string(v))
		}
	}
	if !sse {
		return false, "", errors.New("response is not text/event-stream")
	}
	return chunked, enc, nil
}

// streamQuery builds the request path for a symbol list, throttle and
// event types.
func streamQuery(symbols []string, throttle time.Duration, events string) string {
	q := "/v1/stream"
	sep := "?"
	if len(symbols) > 0 {
		q += sep + "symbols=" + strings.Join(symbols, ",")
		sep = "&"
	}
	if throttle > 0 {
		q += sep + "throttle=" + url.QueryEscape(throttle.String())
		sep = "&"
	}
	if events != "" {
		q += sep + "events=" + url.QueryEscape(events)
	}
	return q
}
