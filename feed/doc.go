// Package feed is tickcast's only door to NATS and JetStream: the
// embedded server, the connection, the ticks stream and its window, the
// publishers the simulator uses and the readers the gateway uses. No
// other package imports nats-io modules; the tick itself (its fields,
// JSON and validation) is package market's.
//
// # The stream
//
// Every tick is stored once in one JetStream stream (DefaultStream,
// "TICKS") on the subject ticks.<SYMBOL> (Subject), with the
// Nats-Msg-Id "<SYMBOL>:<seq>", so a publish retried after a lost
// acknowledgement is stored once. The stream keeps a contiguous window of
// recent ticks: limits retention by age and bytes (StreamConfig) with
// DiscardOld, so ticks leave only from the front and the stream
// sequences it holds have no holes.
//
// The window's defaults (StreamConfig) hold what the documentation
// promises at the default feed's rate: an hour in 4 GiB on disk (the
// default feed stores up to DefaultFeedPeakBytesPerSec), 15 minutes in
// 1 GiB in memory. Conn.Window reports the limits and what the stream
// holds, for the startup log. Nothing the feed stores grows without a
// bound: the stream by age and bytes, the companions below by subjects,
// counts, age and bytes.
//
// A companion stream, "<stream>_LAST", keeps one message per subject
// (LastMaxBytes at most, no age limit): every subject's newest message
// after it has left the window, so a simulator restarted after any
// outage (or on a recreated stream) continues each symbol's seq instead
// of repeating it. The server sources every tick, bar, status and clock
// message into it; quotes and books, most of the feed, publishers copy
// (LastCopyPrefix): a Pipeline the subjects that changed at most once a
// second and all at Close, Conn.PublishQuote and PublishBook each one.
// So only after a crash (no Close) and an outage in which every
// message of a quote or book subject left the window does its counter
// continue from a copy up to a second old, repeating that second's
// counters. LastTicks returns, per symbol, the newer of the
// two; a tick known only from the companion has Msg.Seq 0 (its position
// in the ticks stream is gone).
//
// # Event types
//
// Beside ticks the stream holds (docs/events-design.md): quotes on
// quotes.<SYMBOL> (QuoteSubject), bars on bars.<SYMBOL>.<interval>
// (BarSubject; intervals "1s" and "1m"), status events on
// status.<SYMBOL> (StatusSubject), books (whole top-of-book states, at
// most one per symbol per 100 ms by default) on books.<SYMBOL>
// (BookSubject) and the market clock on market.clock (ClockSubject);
// StreamSubjects lists them, and EnsureStream adds them to a stream made
// by an older tickcast. Payloads are package market's Quote, Bar,
// Status, Book and Clock; each is stored with a Nats-Msg-Id of its type,
// symbol (and interval) and seq. Conn.PublishQuote, PublishBar,
// PublishStatus, PublishBook and PublishClock publish one and wait; the
// Pipeline methods of the same names keep one publish in flight per
// subject, and reuse its message (data buffer, header) for the
// subject's next once it is stored.
//
// Reading them (for the gateway):
//
//   - Conn.Last(ctx, subject) is the newest message ever stored on a
//     subject (e.g. ClockSubject), as <stream>_LAST keeps it, and
//     Conn.LastAll(ctx, filter) the newest of every subject matching a
//     filter ("quotes.>", "bars.*.1m", "status.>"): RawMsg values with the
//     subject, the data and Seq, the message's sequence in the ticks
//     stream (from the copy's Nats-Stream-Source header; 0 for the
//     quotes and books publishers copy). ErrNotFound
//     when a subject never had a message.
//   - Conn.ReadBars(ctx, symbol, interval, from, to, limit) reads bar
//     history from the companion <stream>_BARS, which sources bars.> and
//     keeps it for StreamConfig.BarsMaxAge (default DefaultBarsMaxAge, a
//     week), at most BarsMaxPerSeries bars per symbol and interval
//     (21,600: 6 hours of 1 s bars) and BarsMaxBytes in all (768 MiB),
//     the oldest going first: the bars whose Start is in [from, to) (zero: open), oldest
//     first, the newest limit of them (DefaultBarsLimit 500, at most
//     MaxBarsLimit), each a BarMsg with the bar and its sequence in the
//     ticks stream, so "<epoch>-<Seq>" of the last one is the id a stream
//     continues from with nothing missed or doubled. ErrBadRequest for a
//     bad symbol or interval.
//   - Conn.LastCounters gives the newest seq of every event counter
//     (market.Counters: quotes, bars by market.BarKey, status and books
//     by symbol, and the newest clock), from the stream or _LAST, so a restarted
//     simulator continues each as LastTicks lets it continue ticks.
//
// Tail and ReadRange read every subject of the stream, so the gateway
// serves every event type (Msg.IsTick tells a tick from the others,
// whose Subject and Data are set; a message that is not a valid event
// reaches the bad-message callback as a MsgError with its sequence).
// Tail's stall check asks its consumer whether messages are pending
// when the stream moved on, and how far it delivered: one that
// delivered past what the callback has seen is busy, not stalled.
// Replay filters ticks.> (the ticks of the given symbols).
//
// The simulator also stores its universe (symbols, names, sectors,
// previous closes) in the key-value bucket "tickcast_universe"
// (PutUniverse, Universe), so a gateway on another machine can list and
// validate symbols.
//
// # Ids and epochs
//
// An SSE event id is "<epoch>-<stream sequence>". The epoch (EpochOf) is
// a hash of the stream's name and the creation time the server recorded
// for it, so every gateway reading the same stream computes the same
// epoch and issues the same ids, and a deleted and recreated stream gets
// another epoch: an id from before can never be taken for a position in
// the new stream. StreamState reports the epoch with the window
// (FirstSeq, LastSeq).
//
// # Data flow
//
//	sim ─Publish/Pipeline─▶ TICKS stream ─Tail─▶ gateway hub (one per gateway)
//	                                     └Replay─▶ one resuming client
//	                                     └LastTicks─▶ a (re)starting simulator or gateway
//
// Publish stores one tick and waits for its acknowledgement, retrying
// with the same message until ctx ends. A Pipeline keeps one publish in
// flight per symbol, so symbols overlap while each symbol's ticks stay in
// order. Tail is the gateway's one live consumer; Replay is a bounded
// read of history for a resume; LastTicks gives each symbol's newest tick.
//
// # Goroutines and who stops them
//
//   - StartServer starts the embedded nats-server's goroutines; Shutdown
//     stops them and waits.
//   - Connect starts nats.go's connection goroutines; Close stops them.
//   - Tail runs a JetStream ordered consumer whose callback runs on one
//     nats.go goroutine, and checks the stream every 2 s from the calling
//     goroutine. It returns when ctx ends, when the stream's epoch
//     changes (ErrEpochChanged), or when the tail stalls (nil: call it
//     again from the last sequence received); its consumer is stopped
//     before it returns.
//   - Replay and LastTicks read with an ordered consumer from the calling
//     goroutine and stop it before they return.
//   - A Pipeline starts none: acknowledgements are awaited by the caller
//     (Publish of the same subject, or Close). They arrive on one
//     subscription to an inbox of the Pipeline's, whose callback runs on
//     a nats.go goroutine and hands each to its subject's slot (a
//     channel of one); Close unsubscribes.
//
// Stream creation and LastTicks retry transient JetStream errors (no
// leader yet, temporarily unavailable, timeouts), matched by error code,
// for up to 30 s; anything else fails at once.
//
// Errors name what failed ("feed: publish AAPL: ...") and wrap the
// sentinels (ErrEpochChanged, ErrTooOld, ErrNoStream, ErrNoUniverse,
// ErrConsumer) so errors.Is works.
package feed
