package gateway

import (
	"encoding/binary"
	"hash/crc32"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
	"github.com/prometheus/client_golang/prometheus"
)

// Compress says which Content-Encodings a stream may use (Options.Compress).
type Compress string

const (
	CompressOff  Compress = "off"  // never
	CompressGzip Compress = "gzip" // gzip when the client accepts it
	CompressZstd Compress = "zstd" // zstd when the client accepts it
	CompressAuto Compress = "auto" // zstd or gzip, whichever the client prefers (zstd on a tie)
)

// DefaultCompress is Options.Compress's default.
// Off: compressing costs CPU per delivery (gzip ~+65% at 1,000 clients)
// and, for zstd, ~350 KiB per stream; see docs/api.md.
const DefaultCompress = CompressOff

// ParseCompress checks a --compress value.
func ParseCompress(s string) (Compress, bool) {
	switch c := Compress(strings.ToLower(strings.TrimSpace(s))); c {
	case CompressOff, CompressGzip, CompressZstd, CompressAuto:
		return c, true
	}
	return "", false
}

// Sizes that bound a compressed stream's memory.
const (
	// gzipHistory is how much of the stream's recent plain text a gzip
	// stream keeps as the next write's dictionary: all the state it has
	// between writes (encoders are shared, one per write at a time).
	gzipHistory = 2 << 10
	// zstdWindow is the zstd window. klauspost's encoder has ~400 KiB of
	// fixed tables and buffers besides, whatever the window.
	zstdWindow = 8 << 10
)

// encoding returns the Content-Encoding to use for r ("" for none) and,
// if one, sets it and Vary on w's header (before openSink writes it).
func (g *Gateway) encoding(w http.ResponseWriter, r *http.Request) string {
	mode := g.opts.Compress
	if mode == CompressOff {
		return ""
	}
	ae := r.Header.Values("Accept-Encoding")
	gz, zs := acceptQ(ae, "gzip"), acceptQ(ae, "zstd")
	enc := ""
	switch {
	case mode == CompressGzip && gz > 0, mode == CompressAuto && gz > zs:
		enc = "gzip"
	case mode == CompressZstd && zs > 0, mode == CompressAuto && zs > 0:
		enc = "zstd"
	}
	w.Header().Add("Vary", "Accept-Encoding")
	if enc != "" {
		w.Header().Set("Content-Encoding", enc)
	}
	return enc
}

// acceptQ is the quality (0 to 1000) that Accept-Encoding values give a
// coding (RFC 9110 12.5.3): its own entry, else "*"'s, else 0. Names are
// case-insensitive; "x-gzip" is gzip; a malformed q counts as 0.
func acceptQ(values []string, coding string) int {
	own, star := -1, -1
	for _, v := range values {
		for el := range strings.SplitSeq(v, ",") {
			name, params, _ := strings.Cut(el, ";")
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "x-gzip" {
				name = "gzip"
			}
			if name != coding && name != "*" {
				continue
			}
			q := 1000
			for p := range strings.SplitSeq(params, ";") {
				k, val, ok := strings.Cut(p, "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
					q = parseQ(strings.TrimSpace(val))
				}
			}
			if name == coding {
				own = max(own, q)
			} else {
				star = max(star, q)
			}
		}
	}
	switch {
	case own >= 0:
		return own
	case star >= 0:
		return star
	}
	return 0
}

// parseQ parses a qvalue ("0", "0.5", "1.000") in thousandths; anything
// else is 0.
func parseQ(s string) int {
	if len(s) == 0 || len(s) > 5 || (s[0] != '0' && s[0] != '1') {
		return 0
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1 {
		return 0
	}
	return int(f*1000 + 0.5)
}

// compressSink wraps out in the encoder for enc (the name encoding
// returned); end then finishes the compressed body before ending the
// stream. Every write is compressed and flushed at once, and goes to out
// as one write: nothing is held back.
func (g *Gateway) compressSink(enc string, out sink, end func()) (sink, func()) {
	var cs interface {
		sink
		finish() error
	}
	switch enc {
	case "gzip":
		cs = &gzipSink{out: out}
	case "zstd":
		cs = newZstdSink(out)
	default:
		return out, end
	}
	g.m.compressed.WithLabelValues(enc).Inc()
	wc := &wireCount{c: g.m.compressedBytes.WithLabelValues(enc)}
	switch s := cs.(type) {
	case *gzipSink:
		s.o.wc = wc
	case *zstdSink:
		s.o.wc = wc
	}
	return cs, func() {
		// A short deadline: the stream is over, and its client may be
		// the reason.
		_ = out.SetWriteDeadline(time.Now().Add(time.Second))
		_ = cs.finish()
		wc.flush()
		end()
	}
}

// wireCount adds a stream's compressed bytes to the shared counter every
// 64 writes and at the end (as client.flushCounts does).
type wireCount struct {
	c         prometheus.Counter
	n, writes int
}

func (w *wireCount) add(n int) {
	w.n += n
	if w.writes++; w.writes >= 64 {
		w.flush()
	}
}

func (w *wireCount) flush() {
	w.c.Add(float64(w.n))
	w.n, w.writes = 0, 0
}

// outBuf gathers an encoder's output for one write to the sink; its
// buffer comes from bufFree for the write only.
type outBuf struct {
	b  []byte
	bp *[]byte
	wc *wireCount
}

func (o *outBuf) Write(p []byte) (int, error) {
	o.b = append(o.b, p...)
	return len(p), nil
}

func (o *outBuf) grab() {
	o.bp = getBuf()
	o.b = (*o.bp)[:0]
}

// send writes the gathered bytes to out and returns the buffer.
func (o *outBuf) send(out sink) error {
	err := out.write(o.b)
	if o.wc != nil {
		o.wc.add(len(o.b))
	}
	o.drop()
	return err
}

// drop returns the buffer unsent.
func (o *outBuf) drop() {
	putBuf(o.bp, o.b)
	o.b, o.bp = nil, nil
}

// gzipSink is a gzip member written one flushed deflate segment per
// write, with no encoder kept between writes: each write is compressed
// by a shared encoder reset with the stream's last gzipHistory bytes as
// dictionary (valid deflate: a back-reference may reach 32 KiB back), and
// ends byte-aligned with a sync flush (an empty stored block).
type gzipSink struct {
	out     sink
	hist    []byte // the last gzipHistory bytes of plain text
	crc     uint32
	size    uint32
	started bool
	failed  bool
	o       outBuf
}

var gzipHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}

func (s *gzipSink) write(b []byte) error {
	s.o.grab()
	if !s.started {
		s.started = true
		s.o.b = append(s.o.b, gzipHeader...)
		s.hist = make([]byte, 0, gzipHistory)
	}
	fw := getFlate(&s.o, s.hist)
	_, err := fw.Write(b)
	if err == nil {
		err = fw.Flush()
	}
	putFlate(fw)
	if err != nil {
		s.o.drop()
		s.failed = true
		return err
	}
	s.crc = crc32.Update(s.crc, crc32.IEEETable, b)
	s.size += uint32(len(b))
	if len(b) >= gzipHistory {
		s.hist = append(s.hist[:0], b[len(b)-gzipHistory:]...)
	} else {
		if drop := len(s.hist) + len(b) - gzipHistory; drop > 0 {
			s.hist = s.hist[:copy(s.hist, s.hist[drop:])]
		}
		s.hist = append(s.hist, b...)
	}
	err = s.o.send(s.out)
	s.failed = err != nil
	return err
}

// flateWriters are deflate encoders (BestSpeed, ~1 MiB each) shared by
// every gzip stream, each used for one write at a time: at most
// GOMAXPROCS are kept.
var flateWriters = make(chan *flate.Writer, runtime.GOMAXPROCS(0))

// getFlate returns an encoder writing to w that continues after dict.
func getFlate(w io.Writer, dict []byte) *flate.Writer {
	select {
	case fw := <-flateWriters:
		fw.ResetDict(w, dict)
		return fw
	default:
	}
	fw, err := flate.NewWriterDict(w, flate.BestSpeed, dict)
	if err != nil {
		panic(err) // a constant, valid level
	}
	return fw
}

func putFlate(fw *flate.Writer) {
	fw.ResetDict(io.Discard, nil) // keeps no reference to the stream
	select {
	case flateWriters <- fw:
	default:
	}
}

func (s *gzipSink) SetWriteDeadline(t time.Time) error { return s.out.SetWriteDeadline(t) }

// finish writes the final block and the gzip trailer (CRC-32, size).
func (s *gzipSink) finish() error {
	if !s.started || s.failed {
		return nil
	}
	s.o.grab()
	_ = flate.StatelessDeflate(&s.o, nil, true, nil)
	s.o.b = binary.LittleEndian.AppendUint32(s.o.b, s.crc)
	s.o.b = binary.LittleEndian.AppendUint32(s.o.b, s.size)
	s.hist = nil
	return s.o.send(s.out)
}

// zstdSink is one zstd frame, flushed after every write. Its encoder is
// stateful (~470 KiB); encoders are reused between streams.
type zstdSink struct {
	out    sink
	enc    *zstd.Encoder
	failed bool
	o      outBuf
}

var zstdPool sync.Pool // *zstd.Encoder, finished

func newZstdSink(out sink) *zstdSink {
	s := &zstdSink{out: out}
	if e, ok := zstdPool.Get().(*zstd.Encoder); ok {
		s.enc = e
		s.enc.Reset(&s.o)
		return s
	}
	e, err := zstd.NewWriter(&s.o, zstd.WithWindowSize(zstdWindow), zstd.WithEncoderConcurrency(1),
		zstd.WithLowerEncoderMem(true), zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderCRC(false))
	if err != nil {
		panic(err) // constant, valid options
	}
	s.enc = e
	return s
}

func (s *zstdSink) write(b []byte) error {
	s.o.grab()
	_, err := s.enc.Write(b)
	if err == nil {
		err = s.enc.Flush()
	}
	if err != nil {
		s.o.drop()
	} else {
		err = s.o.send(s.out)
	}
	s.failed = err != nil
	return err
}

func (s *zstdSink) SetWriteDeadline(t time.Time) error { return s.out.SetWriteDeadline(t) }

// finish ends the frame and gives the encoder back.
func (s *zstdSink) finish() error {
	s.o.grab()
	err := s.enc.Close()
	if err == nil && !s.failed && len(s.o.b) > 0 {
		err = s.o.send(s.out)
	} else {
		s.o.drop()
	}
	s.enc.Reset(nil)
	zstdPool.Put(s.enc)
	s.enc = nil
	return err
}
