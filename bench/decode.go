package bench

import (
	"bufio"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// decoder decompresses a client's body (Config.AcceptEncoding). Its
// decoders are kept across reconnects; each new body resets them.
type decoder struct {
	on   bool
	src  wireReader
	br   *bufio.Reader
	gz   *gzip.Reader
	zs   *zstd.Decoder
	read io.Reader // gz or zs
}

// wireReader hands the decoder the bytes that came with the response
// head, then the connection's, counting them.
type wireReader struct {
	c       *client
	pending []byte
}

func (w *wireReader) Read(b []byte) (int, error) {
	if len(w.pending) > 0 {
		n := copy(b, w.pending)
		w.pending = w.pending[n:]
		return n, nil
	}
	n, err := w.c.conn.Read(b)
	w.c.countWire(n)
	return n, err
}

// startDecoder prepares the decoder for a new body whose first bytes are
// rest; decodeLoop reads it.
func (c *client) startDecoder(enc string, rest []byte) error {
	d := &c.dec
	d.on = true
	d.src = wireReader{c: c, pending: append(d.src.pending[:0], rest...)}
	switch enc {
	case "gzip":
		// gzip.Reader reads its header at once: do that in decodeLoop.
		d.read = nil
	case "zstd":
		if d.zs == nil {
			zs, err := zstd.NewReader(&d.src, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(1<<20))
			if err != nil {
				return err
			}
			d.zs = zs
		} else if err := d.zs.Reset(&d.src); err != nil {
			return err
		}
		d.read = d.zs
	default:
		return fmt.Errorf("Content-Encoding %q: not supported", enc)
	}
	return nil
}

// decodeLoop reads and decompresses until the connection ends or fails.
func (c *client) decodeLoop() error {
	d := &c.dec
	if d.read == nil {
		if d.br == nil {
			d.br = bufio.NewReaderSize(&d.src, 2048)
		} else {
			d.br.Reset(&d.src)
		}
		var err error
		if d.gz == nil {
			d.gz, err = gzip.NewReader(d.br)
		} else {
			err = d.gz.Reset(d.br)
		}
		if err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		d.gz.Multistream(false)
		d.read = d.gz
	}
	for {
		n, err := d.read.Read(c.buf)
		if n > 0 {
			if ferr := c.feed(c.buf[:n]); ferr != nil {
				return ferr
			}
		}
		if err != nil {
			return err
		}
	}
}
