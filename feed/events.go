package feed

// The event types beside ticks (docs/events-design.md): their subjects,
// publishing them (Conn and Pipeline), the newest message of any subject
// (Last, LastAll) and the counters a restarted simulator continues
// (LastCounters). Bar history is in bars.go.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tickcast/tickcast/market"
)

// Subjects of the event types. Every one is in the one stream.
const (
	QuoteSubjectPrefix  = "quotes."      // quotes.<SYMBOL>
	BarSubjectPrefix    = "bars."        // bars.<SYMBOL>.<interval>
	StatusSubjectPrefix = "status."      // status.<SYMBOL>
	BookSubjectPrefix   = "books."       // books.<SYMBOL>
	ClockSubject        = "market.clock" // the market clock
)

// LastCopyPrefix prefixes the subjects on which publishers copy the
// newest quote and book of each symbol into the companion stream
// <stream>_LAST (tickcast.last.quotes.<SYMBOL>, tickcast.last.books.<SYMBOL>),
// which the server does not source them into (EnsureStream). Readers
// (Last, LastAll, LastCounters) take them under their own subjects.
const LastCopyPrefix = "tickcast.last."

// copiedToLast reports whether publishers, not the server, keep
// subject's newest message in <stream>_LAST.
func copiedToLast(subject string) bool {
	return strings.HasPrefix(subject, QuoteSubjectPrefix) || strings.HasPrefix(subject, BookSubjectPrefix)
}

// QuoteSubject returns the subject of symbol's quotes.
func QuoteSubject(symbol string) string { return QuoteSubjectPrefix + symbol }

// BarSubject returns the subject of symbol's bars of an interval ("1s",
// "1m").
func BarSubject(symbol, interval string) string { return BarSubjectPrefix + symbol + "." + interval }

// StatusSubject returns the subject of symbol's status events.
func StatusSubject(symbol string) string { return StatusSubjectPrefix + symbol }

// BookSubject returns the subject of symbol's books.
func BookSubject(symbol string) string { return BookSubjectPrefix + symbol }

// Each event is stored with a Nats-Msg-Id of its type, symbol and seq,
// so a retried publish is stored once.
func quoteMsg(q *market.Quote) *nats.Msg {
	return &nats.Msg{
		Subject: QuoteSubject(q.Symbol),
		Data:    q.AppendJSON(make([]byte, 0, 200)),
		Header:  msgID("q", q.Symbol, "", q.Seq),
	}
}

func barMsg(b *market.Bar) *nats.Msg {
	return &nats.Msg{
		Subject: BarSubject(b.Symbol, b.Interval),
		Data:    b.AppendJSON(make([]byte, 0, 300)),
		Header:  msgID("b", b.Symbol, b.Interval, b.Seq),
	}
}

func statusMsg(s *market.Status) *nats.Msg {
	return &nats.Msg{
		Subject: StatusSubject(s.Symbol),
		Data:    s.AppendJSON(make([]byte, 0, 250)),
		Header:  msgID("s", s.Symbol, "", s.Seq),
	}
}

func bookMsg(b *market.Book) *nats.Msg {
	return &nats.Msg{
		Subject: BookSubject(b.Symbol),
		Data:    b.AppendJSON(make([]byte, 0, 100+30*(len(b.Bids)+len(b.Asks)))),
		Header:  nats.Header{jetstream.MsgIDHeader: []string{"k:" + b.Symbol + ":" + strconv.FormatUint(b.Seq, 10)}},
	}
}

func clockMsg(c *market.Clock) *nats.Msg {
	return &nats.Msg{
		Subject: ClockSubject,
		Data:    c.AppendJSON(make([]byte, 0, 250)),
		Header:  nats.Header{jetstream.MsgIDHeader: []string{"c:" + strconv.FormatUint(c.Seq, 10)}},
	}
}

// PublishQuote stores q on quotes.<SYMBOL> and waits for the
// acknowledgement, retrying like Publish.
func (c *Conn) PublishQuote(ctx context.Context, q market.Quote) error {
	if err := q.Validate(); err != nil {
		return err
	}
	return c.publishKept(ctx, q.Symbol, quoteMsg(&q))
}

// publishKept publishes msg (a quote or a book) as publishMsg does, then
// copies it into <stream>_LAST (LastCopyPrefix) and waits for that too.
func (c *Conn) publishKept(ctx context.Context, sym string, msg *nats.Msg) error {
	if err := c.publishMsg(ctx, sym, msg, time.Now()); err != nil {
		return err
	}
	return retry(ctx, 5*time.Second, func(ctx context.Context) error {
		_, err := c.js.PublishMsg(ctx, &nats.Msg{Subject: LastCopyPrefix + msg.Subject, Data: msg.Data})
		return err
	})
}

// PublishBar stores b on bars.<SYMBOL>.<interval>, as PublishQuote.
func (c *Conn) PublishBar(ctx context.Context, b market.Bar) error {
	if err := b.Validate(); err != nil {
		return err
	}
	return c.publishMsg(ctx, b.Symbol, barMsg(&b), time.Now())
}

// PublishStatus stores s on status.<SYMBOL>, as PublishQuote.
func (c *Conn) PublishStatus(ctx context.Context, s market.Status) error {
	if err := s.Validate(); err != nil {
		return err
	}
	return c.publishMsg(ctx, s.Symbol, statusMsg(&s), time.Now())
}

// PublishBook stores b on books.<SYMBOL>, as PublishQuote.
func (c *Conn) PublishBook(ctx context.Context, b market.Book) error {
	if err := b.Validate(); err != nil {
		return err
	}
	return c.publishKept(ctx, b.Symbol, bookMsg(&b))
}

// PublishClock stores k on market.clock, as PublishQuote.
func (c *Conn) PublishClock(ctx context.Context, k market.Clock) error {
	if err := k.Validate(); err != nil {
		return err
	}
	return c.publishMsg(ctx, "clock", clockMsg(&k), time.Now())
}

// PublishQuote sends q once the previous message of its subject is
// stored (see Pipeline): a symbol's quotes stay in order.
func (p *Pipeline) PublishQuote(ctx context.Context, q market.Quote) error {
	if err := q.Validate(); err != nil {
		return err
	}
	ps, m, err := p.next(ctx, QuoteSubjectPrefix, q.Symbol, "")
	if err != nil {
		return err
	}
	m.Data = q.AppendJSON(m.Data[:0])
	p.setID(m, "q", q.Symbol, "", q.Seq)
	return p.send(ctx, q.Symbol, ps, m)
}

// PublishBar sends b as PublishQuote does: a symbol's bars of an
// interval stay in order.
func (p *Pipeline) PublishBar(ctx context.Context, b market.Bar) error {
	if err := b.Validate(); err != nil {
		return err
	}
	ps, m, err := p.next(ctx, BarSubjectPrefix, b.Symbol, b.Interval)
	if err != nil {
		return err
	}
	m.Data = b.AppendJSON(m.Data[:0])
	p.setID(m, "b", b.Symbol, b.Interval, b.Seq)
	return p.send(ctx, b.Symbol, ps, m)
}

// PublishStatus sends s as PublishQuote does.
func (p *Pipeline) PublishStatus(ctx context.Context, s market.Status) error {
	if err := s.Validate(); err != nil {
		return err
	}
	ps, m, err := p.next(ctx, StatusSubjectPrefix, s.Symbol, "")
	if err != nil {
		return err
	}
	m.Data = s.AppendJSON(m.Data[:0])
	p.setID(m, "s", s.Symbol, "", s.Seq)
	return p.send(ctx, s.Symbol, ps, m)
}

// PublishBook sends b as PublishQuote does: a symbol's books stay in
// order. b's level slices may be reused once it returns.
func (p *Pipeline) PublishBook(ctx context.Context, b market.Book) error {
	if err := b.Validate(); err != nil {
		return err
	}
	ps, m, err := p.next(ctx, BookSubjectPrefix, b.Symbol, "")
	if err != nil {
		return err
	}
	m.Data = b.AppendJSON(m.Data[:0])
	p.setID(m, "k", b.Symbol, "", b.Seq)
	return p.send(ctx, b.Symbol, ps, m)
}

// PublishClock sends k as PublishQuote does.
func (p *Pipeline) PublishClock(ctx context.Context, k market.Clock) error {
	if err := k.Validate(); err != nil {
		return err
	}
	ps, m, err := p.next(ctx, ClockSubject, "", "")
	if err != nil {
		return err
	}
	m.Data = k.AppendJSON(m.Data[:0])
	p.setID(m, "c", "", "", k.Seq)
	return p.send(ctx, "clock", ps, m)
}

// RawMsg is one message of any subject as stored, undecoded.
type RawMsg struct {
	Subject string
	// Seq is the message's sequence in the ticks stream: for a copy kept
	// by a companion stream, the origin's (from its Nats-Stream-Source
	// header), 0 if unknown. After the stream was recreated it may be a
	// position of the earlier stream: compare with StreamState.
	Seq  uint64
	Time time.Time // when it was stored
	Data []byte
}

// originSeq is the ticks stream sequence of a message a companion
// stream sourced, from its Nats-Stream-Source header
// ("<stream> <seq> <filter> <transform> <subject>"), or 0.
func originSeq(h nats.Header) uint64 {
	src := h.Get(streamSourceHeader)
	if src == "" {
		return 0
	}
	f := strings.Fields(src)
	if len(f) < 2 {
		return 0
	}
	n, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// streamSourceHeader is the header a sourced copy carries (nats-server
// sets it; nats.go has no constant for it).
const streamSourceHeader = "Nats-Stream-Source"

// ErrNotFound is returned (wrapped) by Last when no message of the
// subject was ever kept.
var ErrNotFound = errors.New("feed: no message for the subject")

// Last returns the newest message ever stored on subject (e.g.
// ClockSubject, QuoteSubject("AAPL"), BarSubject("AAPL", "1m")), as the
// companion <stream>_LAST keeps it, with its ticks-stream sequence (0 for
// a quote or book, which publishers copy: see LastCopyPrefix). An error
// wraps ErrNotFound if there is none.
func (c *Conn) Last(ctx context.Context, subject string) (RawMsg, error) {
	s, err := c.js.Stream(ctx, c.stream+lastSuffix)
	if err != nil {
		return RawMsg{}, fmt.Errorf("feed: last %s: %w", subject, err)
	}
	var out RawMsg
	subjects := []string{subject}
	if copiedToLast(subject) {
		// A companion of an older tickcast sourced them: take the newer.
		subjects = append(subjects, LastCopyPrefix+subject)
	}
	for _, sub := range subjects {
		m, err := s.GetLastMsgForSubject(ctx, sub)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return RawMsg{}, fmt.Errorf("feed: last %s: %w", subject, err)
		}
		if out.Subject == "" || m.Time.After(out.Time) {
			out = RawMsg{Subject: subject, Seq: originSeq(m.Header), Time: m.Time, Data: m.Data}
		}
	}
	if out.Subject == "" {
		return RawMsg{}, fmt.Errorf("feed: last %s: %w", subject, ErrNotFound)
	}
	return out, nil
}

// LastAll returns the newest message of every subject matching filter
// (e.g. "quotes.>", "bars.*.1m", "status.>", ">") that the companion
// <stream>_LAST keeps, in no particular order, each with its
// ticks-stream sequence (see RawMsg). The companion copies within
// milliseconds of a publish; a caller that must not miss the newest
// ones tails the ticks stream from StreamState.LastSeq read before.
//
// Quotes and books come from the publishers' copies (LastCopyPrefix,
// under their own subjects, Seq 0) or, for a companion an older tickcast
// sourced them into, the server's copy, whichever is newer.
func (c *Conn) LastAll(ctx context.Context, filter string) ([]RawMsg, error) {
	var out []RawMsg
	at := map[string]int{} // subject -> index in out
	keep := func(m jetstream.Msg, md *jetstream.MsgMetadata) {
		r := RawMsg{Subject: strings.TrimPrefix(m.Subject(), LastCopyPrefix), Seq: originSeq(m.Headers()), Time: md.Timestamp, Data: m.Data()}
		if i, ok := at[r.Subject]; ok {
			if r.Time.After(out[i].Time) {
				out[i] = r
			}
			return
		}
		at[r.Subject] = len(out)
		out = append(out, r)
	}
	filters := []string{filter}
	if copiedToLast(filter) || strings.HasPrefix(filter, "*") || filter == ">" {
		filters = append(filters, LastCopyPrefix+filter)
	}
	for _, f := range filters {
		if err := c.lastRaw(ctx, c.stream+lastSuffix, f, keep); err != nil {
			return nil, fmt.Errorf("feed: last %s: %w", filter, err)
		}
	}
	return out, nil
}

// lastRaw calls fn with the newest message of every subject of stream
// matching filter.
func (c *Conn) lastRaw(ctx context.Context, stream, filter string, fn func(jetstream.Msg, *jetstream.MsgMetadata)) error {
	s, err := c.js.Stream(ctx, stream)
	if err != nil {
		return err
	}
	if st := s.CachedInfo().State; st.LastSeq == 0 || st.Msgs == 0 {
		return nil
	}
	cons, err := c.js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{filter},
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
	})
	if err != nil {
		return err
	}
	if info := cons.CachedInfo(); info != nil && info.NumPending == 0 {
		return nil
	}
	return readUntil(ctx, cons, func(m jetstream.Msg) (bool, error) {
		md, err := m.Metadata()
		if err != nil {
			return true, err
		}
		fn(m, md)
		return md.NumPending == 0, nil
	})
}

// LastCounters returns the newest seq of every event counter in the
// stream or kept by <stream>_LAST (the higher of the two), so a
// restarted simulator continues each: quotes, bars, status and books by
// symbol, and the clock, whose newest event it also returns (to
// continue the market time). Malformed messages are skipped. Without
// any event it returns empty maps and a zero Clock.
func (c *Conn) LastCounters(ctx context.Context) (market.Counters, error) {
	var out market.Counters
	err := retry(ctx, 5*time.Second, func(ctx context.Context) error {
		out = market.Counters{Quotes: map[string]uint64{}, Bars: map[string]uint64{}, Status: map[string]uint64{}, Books: map[string]uint64{}}
		for _, stream := range []string{c.stream, c.stream + lastSuffix} {
			err := c.lastRaw(ctx, stream, ">", func(m jetstream.Msg, _ *jetstream.MsgMetadata) {
				addCounter(&out, strings.TrimPrefix(m.Subject(), LastCopyPrefix), m.Data())
			})
			if errors.Is(err, jetstream.ErrStreamNotFound) && stream != c.stream {
				continue
			}
			if errors.Is(err, jetstream.ErrStreamNotFound) {
				return fmt.Errorf("feed: stream %s: %w: %w", c.stream, ErrNoStream, err)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return market.Counters{}, fmt.Errorf("feed: last counters: %w", err)
	}
	return out, nil
}

// addCounter raises the counter a message of subject holds, if higher.
func addCounter(c *market.Counters, subject string, data []byte) {
	raise := func(m map[string]uint64, k string, seq uint64) {
		if seq > m[k] {
			m[k] = seq
		}
	}
	switch {
	case strings.HasPrefix(subject, QuoteSubjectPrefix):
		if q, err := market.DecodeQuote(data); err == nil {
			raise(c.Quotes, q.Symbol, q.Seq)
		}
	case strings.HasPrefix(subject, BarSubjectPrefix):
		if b, err := market.DecodeBar(data); err == nil {
			raise(c.Bars, market.BarKey(b.Symbol, b.Interval), b.Seq)
		}
	case strings.HasPrefix(subject, StatusSubjectPrefix):
		if s, err := market.DecodeStatus(data); err == nil {
			raise(c.Status, s.Symbol, s.Seq)
		}
	case strings.HasPrefix(subject, BookSubjectPrefix):
		if b, err := market.DecodeBook(data); err == nil {
			raise(c.Books, b.Symbol, b.Seq)
		}
	case subject == ClockSubject:
		if k, err := market.DecodeClock(data); err == nil && k.Seq > c.Clock.Seq {
			c.Clock = k
		}
	}
}
