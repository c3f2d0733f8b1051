// Package gateway serves the tick stream to browsers over HTTP and
// Server-Sent Events: the chi routes, the in-memory fan-out hub,
// per-client merging, throttling and shedding, and the SSE writer. It
// reads the feed through Source, an interface it defines; *feed.Conn
// implements it.
//
// # Data flow
//
// One Gateway holds one live JetStream consumer, never one per browser:
//
//	JetStream stream --Source.Tail--> hub ring --> fan-out workers (or client goroutines) --> socket --> browser
//
// Run reads the stream with Source.Tail. Its callback, hub.appendSym, parses
// each tick once, encodes its SSE frame once ("event: tick", "id:",
// "data:") and stores both in an entry of the hub's ring: a power-of-two
// array of atomic pointers, Options.RingSize long (default 2^19 = 524,288
// messages of every type: about 100 s of the default feed at the open,
// ~600 bytes each, ~300 MiB when full; see DefaultRingSize), whose
// oldest entry is overwritten. Entries are shared read-only by every
// client. append then wakes the clients that want the tick's symbol; a
// wake-up is a flag and a non-blocking send on the client's one-slot
// channel, so a slow client never slows the hub or other clients. The
// wake lists are copy-on-write and read without a lock.
//
// An HTTP/1.1 stream on TCP that is not compressed is served by the event
// loop (loop.go, internal/poll; Options.NoEventLoop, --event-loop=false,
// turns it off): it holds no goroutine. A few fan-out workers (one per
// core, shared by the process) run a woken client's step, which writes
// the shared frames with non-blocking writes. When the socket is full the
// unsent rest stays in the client's buffer, the poller (one epoll
// goroutine per process) waits for EPOLLOUT, and new messages stop waking the
// client until the socket drains; what it missed meanwhile is then
// merged per symbol as below, and if nothing drains for WriteTimeout it
// is shed. The poller also notices a client's close (EPOLLRDHUP, EOF) and
// reads and discards what a client sends (at most 64 KiB per wake-up, so
// a client sending without end gets no more than its share). When the
// worker takes a stream over, the poller takes its descriptor for its own
// (a duplicate; the hijacked net.TCPConn is closed), so the runtime's
// state for the connection (a 512-byte poll descriptor, the netFD and
// addresses) is not held for the stream's life. Compressed,
// HTTP/2 and TLS streams, and systems without epoll, keep the goroutine
// path. Options.FlushInterval (--flush-interval) coalesces a client's
// writes, on both paths: at most one per interval, never holding an
// event longer, every event sent. Both paths drive one state machine
// (machine.go: turn), so what a stream does on each event is written
// once; they differ in how they wait and write.
//
// On the goroutine path each client has one goroutine that does all of
// its work: it reads the ring from its own cursor, merges when needed,
// and writes. The worker's step does the same work without waiting. A client of
// some symbols reads only their entries: each entry links to its
// symbol's previous one (entry.prev) and the hub keeps each symbol's
// newest position (hub.symLast), so the client walks its symbols' chains
// back to its cursor and sends what it finds in ring order; its work
// follows its own symbols' messages, not the whole feed's. On HTTP/1.1 the
// connection is hijacked and written directly (rawSink: one write per
// flush, the body ends with the connection); on HTTP/2 (TLS with ALPN,
// or h2c), or if hijacking fails, it goes through the ResponseWriter and
// is flushed (httpSink: one Write and one Flush per flush). Output is
// gathered up to 32 KiB or until the ring is drained, then written.
//
// Every stream starts with "retry: <Options.Retry in ms>". Then, for a
// new client, an "event: snapshot" with the newest tick of each wanted
// symbol (the hub keeps it per symbol, seeded from Source.LastTicks when
// an epoch starts); then ticks. A comment line ":" is a heartbeat.
//
// # Event types
//
// The stream holds ticks, quotes, bars, status, books and the market
// clock (docs/events-design.md), and the hub's ring holds every message: each
// entry carries its kind and the event types it is sent as (events.go;
// a tick message is both a tick and a trade, the trade frame encoded on
// first use; to a client of both, the tick goes with the id of the
// position before it and the trade with the message's own, so a client
// cut between the two gets the trade, and the tick again, on resume). A client asks for types with ?events= (default tick only)
// and skips the entries of other types, so hub positions, stream
// sequences and ids stay those of the one stream and never decrease.
// The hub wakes a client only for entries of a type it wants, and every
// client every 1024 positions, so a cursor follows the ring while only
// skipped types arrive. MergeAfter counts a tick client's ticks, and
// another client's messages of its types, not the entries it skips. The ring holds every type, so with quotes at 8
// per trade it spans about a ninth of the time it did with ticks only;
// resumes from further back go to history.
// The per-symbol chains link a symbol's entries of every type; the
// clock has a pseudo-symbol of its own, followed by clients of status.
// Merging (merge.go): ticks and trades as below, quotes to the newest
// with merged, bars, status and clock never merged: each goes whole in
// its place in stream order. Books (book.go) are whole states: ?depth=
// cuts each to N levels a side (the full frame encoded once, each
// shorter depth once on first use), merging keeps the newest with
// merged, and the snapshot carries the newest per symbol. History
// blocks (history.go) keep the
// other types' messages raw; a block's summary also holds each
// symbol's quotes and books merged and its bar, status and clock events whole, so
// a merged catch-up of a client of any types folds whole blocks from
// summaries and reads only a partial first block raw; the events never
// merged are sent every 4096 of them (keepFlushAt) as the catch-up goes,
// not gathered for the whole window into one write. ?from= starts at the
// first ring entry, in stream order, whose wall time is at or after the
// moment (wall times are not monotone in stream order: each entry keeps
// the latest wall time up to it, which is, and is binary-searched); a
// time at or before the ring's oldest entry is found in JetStream
// (TimeSeeker, feed.Conn.SeqAt: by the time each message was stored;
// ErrTooOld, a reset "expired", for a time before the stream's window
// or before the stream was created) and started as a catch-up from the
// sequence just before it (resume.go). GET /v1/bars reads a symbol's
// bars from JetStream (BarReader, feed.Conn.ReadBars), with the id from
// which ?events=bar continues; GET /v1/market is the market clock and
// the statuses the hub holds (bars.go).
// feed.Conn.ReadBars (BarReader), GET /v1/market the newest clock and
// statuses the hub keeps (seeded from <stream>_LAST at an epoch start).
//
// # Event ids
//
// Every id is "<epoch>-<seq>" (package sse: FormatID, ParseID). seq is the JetStream
// stream sequence of the tick. epoch is feed.EpochOf the stream's name
// and creation time, which the server records once per stream: every
// gateway reading the same stream issues the same id for the same tick,
// so a client may resume on any of them, and a recreated stream gets a
// new epoch, so an id from the old one is never mistaken for a position
// in the new one. A snapshot's id is the last stream sequence the hub
// had read when it was taken. GET /v1/snapshot also returns "first", the
// id just before the oldest message the stream still holds.
//
// # Resume
//
// A client resumes with the Last-Event-ID header or ?lastEventId=
// (start, in resume.go):
//
//   - An id of the hub's epoch that the ring still covers resumes from
//     memory: the cursor is set after that sequence and the client's
//     first turn sends the rest. Entries within RingSize/8 of being overwritten do not
//     count as covered. A gateway (re)starting on an existing stream
//     fills its ring first (warm start, lifecycle.go): its tail starts
//     RingSize messages back (or at the stream's first), and it is ready
//     for streams once it has read up to the stream's last sequence at
//     start (a malformed message, or one of a type it does not know,
//     counts as read: feed.MsgError carries a skipped one's sequence), so clients of a restarted gateway resume from memory.
//   - An id behind the ring resumes from the history index (catchup.go,
//     history.go): history is cut into blocks of 4096 stream sequences;
//     each block is read from JetStream once while cached (single
//     flight), by one of Options.HistoryReaders readers (default 4; one
//     short-lived consumer per read, deleted after it, so consumers are
//     bounded whatever the number of clients), and leaves a summary:
//     one merge accumulator per symbol, and each tick's offset, symbol,
//     price and size (20 bytes a tick), so a catch-up that starts inside a
//     block folds the rest of it exactly without reading it again. The
//     catch-up takes the stream's state (epoch, first sequence) from a
//     cache at most 250ms old (a stale first sequence is safe: history
//     that aged out fails the read, and the client gets a reset
//     "expired"). The catch-up folds the messages
//     after the id in its first block, then whole-block summaries, up to
//     a block boundary the ring covers, joins the ring there and sends
//     everything up to the ring's head merged per symbol (as in Merging,
//     below): an hour's absence costs about one event per symbol; a
//     catch-up that takes longer than catchupProgress (a second:
//     blocks read from JetStream) sends what it folded so far each
//     time, exact, so its first events come after about a second. A
//     client not MergeAfter behind (only with a MergeAfter larger than
//     the ring) gets every tick instead, from the blocks' messages. With
//     a ring smaller than a block the client joins at the head first
//     and reads history up to it. At most Options.CatchupWorkers
//     catch-ups run at once (default GOMAXPROCS/2), the others wait
//     first come first served; summaries are bounded by
//     Options.HistoryCacheBytes (--history-cache, default 64 MiB; a block
//     costs ~90 KiB of ticks only, ~85 KiB of the default feed with its
//     quotes, books and bars (BenchmarkHistoryBlock), so about 770
//     blocks or 3.1M messages, ~12 minutes of the open; the oldest go
//     first, counted by
//     tickcast_history_evictions_total; blocks that left the stream's
//     window are dropped) and raw blocks to 8. A read hands what it read
//     to every reader that waited for it (the flight carries the result)
//     and a catch-up keeps the blocks it prefetched, whether or not the
//     cache keeps them: eviction never makes a reader read again, so a
//     resume from the oldest id of a window larger than the cache reads
//     the blocks the cache lacks once each and completes. Every read checks
//     that it got each sequence from its first on: history that ages out
//     while it is read ends in a reset "expired", never a silent gap.
//     Options.MaxResume (default 0: none) caps how far behind an id may
//     be ("too_far"). The index is also filled ahead of need
//     (indexer.go): the tail summarises every block it reads from the
//     block's first message (about 14 ns per tick, no JetStream read),
//     and 3s after a gateway is ready a background indexer reads the
//     complete blocks of the window behind its warm start, newest first,
//     one at a time, resting three times as long as each read took (a
//     quarter of a core at most), until the summaries are within a block
//     of HistoryCacheBytes. So the first deep resume after a restart is
//     warm too, once that has run.
//   - An id ahead of this gateway's hub but not of the stream (another
//     gateway is ahead, or this one's tail lags) waits up to 3s for the
//     hub; if it does not get there the stream ends with ": lagging" and
//     a retry:, so the client comes back with the same id: a client is
//     never sent backwards. Likewise when the stream's epoch (Source.State,
//     at most 250ms old) is no longer the hub's (recreated; the tail has
//     not moved on): an id of another epoch than the hub's may be of the
//     new stream, and any reset would snapshot the deleted one, so the
//     client gets ": lagging" and comes back once the hub is current
//     (checkHubEpoch). Only a hub of the stream's epoch answers "epoch".
//   - Anything else gets an "event: reset" (no id; data: reason, detail,
//     the requested id cut to 128 bytes) followed by a snapshot. Reasons:
//     "malformed" (not an id this feed issues), "epoch" (an earlier
//     incarnation of the stream), "ahead" (beyond the stream's last
//     sequence, checked with Source.State), "expired" (the ticks after
//     it have left the stream's window), "too_far" (more than MaxResume
//     behind, when set).
//
// A stream that cannot start for any other reason (JetStream refusing a
// consumer at its limit, an unreadable stream) ends like a turned-away
// request: a comment naming the reason (": unavailable"), a retry: with
// 1 to 5s of jitter, and a logged warning; never a bare close. A start
// in progress (a catch-up, the wait for the tail) ends on Shutdown and
// with the epoch, with a retry: spread over ShutdownSpread.
//
// When Run starts a new epoch (the stream was deleted or recreated), the
// old hub is closed and its clients' streams end, each with a retry: of
// Retry plus a random part of ShutdownSpread, so they do not all come
// back at once; they reconnect with old-epoch ids and get a reset.
//
// # Merging and throttling
//
// A client that wakes more than Options.MergeAfter messages behind the
// head (ring positions for a client of every symbol, its ticks only for
// one of ticks and trades; its own symbols' messages of its types for a
// client of some; default 1024, or RingSize/4 if less, at most
// 7/8 of RingSize) does not get every tick: it folds everything up to the head into one accumulator per
// symbol and writes one event per symbol (merge.go). A merged event has
// the newest tick's fields plus "merged" (how many ticks), "high", "low"
// and the summed "size". Events go in order of their first pending tick;
// each carries as id the sequence just before the first pending tick of
// the symbols still to come, and the last one the position read up to,
// so resuming from any id the client holds loses nothing.
//
// A client asking for throttle= (0 to 60s, rounded up to a whole
// millisecond) is never woken by the hub. It
// wakes on its own timer (at least every 250ms) and at each multiple of
// its interval since the Unix epoch (at least 10ms) sends one window:
// every tick the hub appended before that instant, merged per symbol
// (window.go). All clients with the same interval share the clock, so
// two with the same interval, symbols and cursor send identical bytes:
// the first encodes the window and caches it on the hub (at most 8 MiB
// of windows; the oldest are dropped first), the others copy it.
// A throttled client more than RingSize/4 behind in the middle of a
// window folds early so the ring cannot lap it.
//
// # Slow consumers
//
// The ring is every client's queue; there is no per-client queue to
// fill. A client that falls behind is first merged (above). One that
// falls more than the ring behind (an entry it has yet to read, of its
// own symbols, was overwritten; other symbols' messages never count) is
// disconnected, counted in tickcast_shed_total{cause="lapped"}; it can
// resume from its last id. Every write runs under a deadline of
// Options.WriteTimeout (default 10s), refreshed at most every
// min(1s, WriteTimeout/10), so a write is cut after at least 90% of it;
// a client whose write times out is disconnected,
// tickcast_shed_total{cause="write_timeout"}. Over HTTP/2 the deadline
// is httpSink's own timer, armed only while a write is in progress
// (net/http's HTTP/2 write deadline would reset a stream idle past it);
// a cut resets that stream only. A client that stops reading a whole
// HTTP/2 connection blocks every frame of it: the server's
// HTTP2.WriteByteTimeout closes it (cmd/tickcast sets it to the write
// timeout, and wraps TLS listeners in StickyWriteTimeout so that the
// close does not wait 5s for a close_notify). LimitSendBuffer, wrapping
// the listener, keeps the kernel's send buffer small so a backlog stays in the gateway, where it
// can be merged, rather than in the socket.
//
// # Admission
//
// A stream request is checked, in order (stream.go, admission.go): its
// query (400 on a bad symbols= or throttle=), MaxConns, MaxConnsPerIP
// (the TCP peer, or the client address a TrustedProxies peer forwards),
// that the hub is ready (waiting up to 30s, holding the connection: a
// restarted gateway's first clients wait for it), that its symbols are known
// (reloading the universe once, by a load that starts after the check
// and runs one at a time under its own 2s timeout; 400 if still unknown),
// and that the gateway is not shutting down. A request refused for
// capacity, readiness (also: the universe cannot be read), the per-IP cap
// or shutdown gets a 200 with a comment naming the reason, a
// retry: of Retry plus 1 to 5s of jitter, and a close (turnAway): a
// non-200 would make EventSource stop for good. Over HTTP/2 only the
// stream ends: no Connection: close, which net/http turns into a GOAWAY
// that sends the connection's later streams to a new connection.
//
// # Goroutines and who stops them
//
//   - Run starts two goroutines: the heartbeat sweep (heartbeat.go: every
//     Heartbeat/3 it wakes every streaming client, which writes ":" if it
//     has been silent for 2/3 of Heartbeat) and the lag watch (every 2s it
//     sets tickcast_consumer_lag_messages). Both stop when Run's context
//     ends; Run waits for them before it returns.
//   - The tail callback runs on the goroutine Source.Tail calls it from,
//     owned by Tail, which returns when Run's context ends, the epoch
//     changes or the tail stalls; Run calls Tail again for the same hub
//     unless the epoch changed. hub.appendSym ignores a tick at or below the
//     hub's last sequence, and any tick once the hub is closed. A Tail
//     that jumps over sequences is checked against the stream's first
//     sequence: malformed messages skipped are fine, but messages that
//     left the stream before the tail read them (a tail restarted after
//     they aged out starts at the stream's first) would be a hole the
//     ring claims to cover. Then the hub is ended as at an epoch change
//     and a new one of the same epoch warm-starts (errHole): its clients
//     come back with their ids, behind the hole get a reset "expired",
//     never a silent gap.
//   - The event loop's workers (GOMAXPROCS of them) and the poller's
//     goroutine start on first use and live as long as the process, as
//     the runtime's netpoller does; they hold no stream once it ends. A
//     stream on the loop is handed to a worker after its start (snapshot
//     or catch-up, on the goroutine that serves the hijacked connection,
//     which then ends); the worker runs what that goroutine would have
//     deferred when the stream ends, in the same order, and recovers a
//     panic in a step, ending that stream only. Its timers (write
//     timeout, flush interval, throttle clock, leave) are runtime timers
//     that only notify it, stopped at its end. It holds no callback on
//     the shutdown context or its hub's: one context.AfterFunc on each
//     (New, runEpoch) sweeps the live streams on the loop (sweepLoop),
//     and one that starts after its sweep is told by track.
//   - Each admitted stream off the loop has one client goroutine: on
//     HTTP/1.1 the handler starts it and returns once the connection is
//     hijacked; else it is the handler's own. It ends when the client goes away, its
//     write fails or times out, it is lapped, its hub's epoch ends, or it
//     leaves on Shutdown; then it releases, in reverse order, what
//     admission took (the connection's end, the stream context, the
//     Shutdown count, the per-IP and MaxConns counts); a panic in it is
//     recovered and logged with its stack after those releases, ending
//     that stream only. While running it
//     holds context.AfterFunc callbacks on the stream context, the
//     shutdown context and the hub's context, which turn those ends into
//     wake-ups; when throttled, a timer; after Shutdown, a leave timer.
//     All are stopped when its loop returns. Without hijacking, a
//     context.AfterFunc on the request's context ends the stream context;
//     it is stopped with the rest of what admission took.
//   - A hijacked TCP connection is watched by the poller (internal/poll),
//     which reports the client gone; on the event loop the poller owns
//     its descriptor (poll.Conn.Detach) and closes it itself. At the end
//     it is half-closed and
//     closed when the client closes too, or after 5s (a runtime timer),
//     leaving the epoll set first so a reused descriptor is never
//     touched. Without epoll it has a reader goroutine (sink.go) that
//     discards what the client sends and, when a read fails, reports the
//     client gone (it cancels the stream context). When the stream ends
//     the connection is half-closed, so the last events arrive before the
//     socket closes, and a goroutine closes it once the reader has seen
//     the client close, or after 5s (without half-close support it is
//     closed at once). These two end by themselves, at most 5s after the
//     stream; Shutdown does not wait for them.
//   - The background indexer (indexer.go) is one goroutine per epoch,
//     started by runEpoch; it ends when it has read the window behind
//     the tail, or runEpoch returns (Run's context ended or the epoch
//     changed).
//   - A load of the symbol universe (universe.go) runs in a goroutine of
//     its own, at most one at a time, under a 2s timeout rather than the
//     context of the request that wanted it; it ends by itself.
//
// Shutdown closes the shutdown channel (from then on /readyz answers 503
// and new streams are turned away) and cancels the shutdown context,
// under the mutex that orders it against a stream being counted in. Each
// streaming client (one still starting, e.g. catching up from history,
// ends at once with a spread retry:) then picks a random moment within
// Options.ShutdownSpread (default 2s), writes "retry: <Retry plus a
// random part of the spread>" after its last complete event, and ends,
// so clients do not all reconnect at once. Shutdown returns when every
// admitted stream's goroutine has ended, or with ctx's error. It does not
// stop Run: the caller cancels Run's context afterwards (cmd/tickcast
// does http.Server.Shutdown alongside Gateway.Shutdown, then closes the
// server, then cancels Run and waits for it). Streams still open when
// Run ends are closed with their hub, with a retry: spread over
// ShutdownSpread.
//
// # Routes
//
// Handler serves GET /v1/stream, /v1/symbols, /v1/snapshot, /v1/bars and
// /v1/market, and
// Options.Routes, behind the access token when Options.Token or
// Options.JWT is set (access.go, package access: scoped tokens whose claims
// limit the symbols, 403 outside them, and end a stream at their exp
// through the client's leave event);
// /healthz (the hub has caught up and the stream is readable), /readyz
// (ready for new clients: the hub has caught up and the gateway is not
// shutting down) and /metrics without it; any other GET or HEAD from
// Options.Static when set (else a JSON 404). CORS
// (Options.AllowedOrigins) applies to every route. Errors are JSON,
// through package httpapi (errors.go).
//
// # Files
//
// gateway.go (Gateway, New, routes, Shutdown), options.go, lifecycle.go
// (Run, epochs, the tail, lag, readiness), heartbeat.go, universe.go
// (the symbol universe cache), handlers.go (symbols, snapshot, health,
// ready), stream.go (GET /v1/stream: admission, the stream's life),
// admission.go, query.go (the query parameters), resume.go, catchup.go
// (resumes from behind the ring), catchpool.go (its slots and readers),
// history.go (the history index), summary.go (block summaries),
// indexer.go (indexing behind the tail); the hub, the only files that
// take its lock: hub.go, ring.go (positions), join.go (clients joining),
// snapshot.go; the client:
// client.go (its parts), machine.go (its state machine), loop.go (the
// event loop's workers), pump.go, merge.go, window.go (throttled
// windows), events.go (what differs per event type), book.go (book
// events); sink.go, compress.go (gzip and zstd streams), access.go
// (CORS, and the 401 and 403 answers of package access's checks),
// errors.go, metrics.go, listener.go, tlsconn.go (StickyWriteTimeout),
// bars.go (GET /v1/bars, GET /v1/market).
//
// Packages of their own: sse (event ids and SSE frames), access (the
// shared token, JWTs, grants), internal/poll (the epoll poller).
package gateway
