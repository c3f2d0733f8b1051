// Package sim is tickcast's price simulator: a pure, seeded model of a
// stock market that makes market.Tick values, and a paced loop that hands
// them to a Publisher. It knows nothing of NATS; the feed package
// implements Publisher over JetStream.
//
// # Use
//
//	s, err := sim.New(sim.Config{Seed: 1}) // default universe, 300 ticks/s
//	if err != nil { ... }
//	t := s.Next(time.Now())                // one tick, or:
//	err = s.Run(ctx, pub)                  // publish at the rate until ctx ends
//
// The same Config and the same number of Next calls give the same ticks:
// the model runs on its own clock, which each Next moves on by the gap to
// the next tick (1/Rate seconds times Config.Speed, by default), and the
// time passed to Next only stamps the tick. Run publishes each tick at
// its scheduled time, Due, and stamps it with that time.
//
// # Time
//
// With Config.Session set, the model clock is a trading session (09:30 to
// 16:00 by default, then the next session at once) and activity follows
// a U over the day: ticks come about 2.5 times as often at the open and
// close as at midday, trades are larger and the market more volatile.
// Spreads are widest at the open (about 2.5 times midday's in the first
// half hour) and narrow through the day, a little wider again at the
// close. Rate stays the mean rate. Config.Speed compresses
// the session: Speed 39 (SpeedFor(Session{}, 10*time.Minute)) plays a
// 6.5-hour session in 10 minutes. Volume starts again at each session.
//
// With Config.Arrivals = Poisson, the gaps between ticks are exponential
// rather than exactly 1/Rate: every symbol ticks as its own Poisson
// process, at a rate in proportion to its weight. Run stays open-loop
// and seeded: the same Config gives the same ticks at the same offsets
// from the start.
//
// # Which symbol ticks
//
// Each Next picks one symbol at random in proportion to its weight
// (Config.Weights, else DefaultWeight: NVDA and TSLA tick about six
// times as often as KO), so the universe as a whole ticks at Rate.
//
// # Prices
//
// Every symbol has a latent mid price that moves log-normally, with its
// annualised Volatility spread over 252 trading days of 6.5 hours (and,
// with a Session, over the day's activity curve). The
// log return between two of a symbol's ticks, over whatever trading time
// passed between them, is the sum of
//
//   - a market factor common to all symbols (30% of each symbol's
//     variance),
//   - its sector's factor (30%), so stocks in a sector move together more
//     than stocks across sectors (return correlation about 0.5 within a
//     sector, 0.25 across),
//   - idiosyncratic Student-t noise with 4 degrees of freedom (fat tails),
//   - rare jumps (about one per symbol per two trading hours, of about
//     three one-minute standard deviations),
//
// less the Itô drift, so the mid is a martingale. The factors are Brownian
// motions, so a symbol that ticks rarely catches up the whole market move
// since its last tick in one step. All of it is scaled by a market-wide
// variance multiplier h that follows a component GARCH over 10-second
// bars (Engle and Lee: a fast part, alpha 0.07 and beta 0.91, around a
// slow level with a half-life of about an hour; long-run mean 1), in
// which falls count 1.5 times and rises 0.5 times (GJR), times a
// stochastic-volatility level m = exp(x), x an AR(1) with a half-life
// of about 30 minutes and a standard deviation of 0.55 whose shocks are
// correlated -0.6 with the market's moves: calm and stormy spells, of
// minutes and of hours, in every stock at once, and volatility that
// rises after falls (the leverage effect).
//
// A symbol starts at its PrevClose moved by a small opening gap (a quarter
// of a daily standard deviation, with the same factor structure), or, when
// Config.Resume holds a tick for it, at that tick's Price, continuing its
// Seq and Volume, so a restarted simulator never repeats a seq.
//
// # Quotes and trades
//
// The quote is centred on the mid with a spread of a few ticks: about
// 0.0004 × volatility × price, wider when h is high, jittered by ±25%, at
// least one tick. Bid, ask and trade price are whole multiples of the
// symbol's TickSize, the bid is at least one tick, and bid < ask. The
// trade is at the ask (a buyer) or the bid (a seller), and one time in
// ten inside a spread of two or more ticks; Tick.Side says which
// ("buy" or "sell"). Nine trades in ten execute a piece of one of the
// symbol's two metaorders (large orders worked in pieces, Lillo and
// Farmer), each of a side and a Pareto length (tail 1.6) in trades, so
// trade signs stay correlated a long time (about 0.2 at lag 1, still
// positive at lag 50, decaying like a power law); the rest go more often
// the way the mid moved. Sizes are round lots (100 shares up to $250, 40 up to $1,000,
// 10 up to $10,000, then 1) in a Pareto-tailed count that grows with
// activity, with the variance multiplier and with the size of the
// tick's own move (so volume goes with volatility), or, one time in
// five, an odd lot; Volume is their running sum.
//
// # Market calendar and events
//
// With Session.Extended, each trading day has pre-market and
// after-hours around the session (few trades, condition "T"); the
// closed night and weekends are fast-forwarded unless Session.RealTime.
// Every tick carries its MarketTime (US Eastern calendar, a UTC
// instant); the first regular trade of a symbol's day has condition
// "O". With Config.LULD, limit-up/limit-down bands pause a symbol whose
// trade would cross them.
//
// Run given an EventPublisher (feed's Pipeline) also publishes, in time
// order with the ticks (events.go): quotes, after each trade that moved
// the quote or took size from it and between trades as a Poisson
// process, about Events.QuotesPerTrade (8) per trade, with bid and ask
// sizes; books (to a BookPublisher, below); bars of
// Events.Bars ("1s", "1m") by wall-clock interval, built from the trades
// stamped in them and published when they close (a symbol with no trade
// in an interval gets a flat bar at its last close with volume 0, except
// while the market is closed); status events for halts and limit states;
// at the end of each regular session a closing trade per symbol
// (condition "6"); and the clock at every phase change and every 10 s.
// Each has its own per-symbol counter, continued from Events.Resume.
//
// # Books
//
// Run keeps a book per symbol (book.go): BookLevels (10) price levels a
// side on the tick grid from the quote outwards, in round lots, about
// four lots at the touch when the spread is its usual width (more when
// it is tighter, fewer when wider) and thicker by 40% a level away from
// it. A quote moves it: levels whose price stays keep their size (at the
// touch, and one time in five beyond, part of it), new ones are drawn
// afresh; a trade at the touch takes its size from it, and a level it
// empties refills. The quote's sizes are the book's top level, so a
// book's top is always the last quote. A flash crash thins it to a
// fifth; a halted symbol's book stands still until it reopens. Its
// randomness is its own, seeded: the same Config gives the same books.
// To a publisher that is also a BookPublisher, Run publishes each
// changed book as a whole state (market.Book), at most one per symbol
// per Events.BookEvery (100 ms), stamped when it goes out.
//
// A Sim is not safe for concurrent use (but for SetScenario and
// Scenario); Next does not allocate.
//
// # Scenarios
//
// A Scenario provokes a market condition front ends must handle, for a
// Duration of real time (on the Sim's schedule), after which it ends by
// itself:
//
//   - "flash-crash": every symbol falls by Size (default -8%) over a few
//     seconds (a tenth of Duration, 1 to 5 s), with twice the volatility,
//     wider spreads and twice the tick rate, then recovers smoothly to
//     where it would have been by the end of Duration (default 1m);
//   - "halt": Symbol (default: one at random) publishes a tick with
//     Status "halted" (its last price and quote, size 0), then no tick
//     for Duration (default 30s), then one with Status "open" that takes
//     in the market's move meanwhile and, if set, a jump of Size;
//   - "gap": Symbol, or every symbol if none (a gap at the open), jumps by
//     Size (default 2% to 6% up or down) and then trades 1.5 times as
//     volatile for Duration (default 30s);
//   - "burst": ten times the tick rate for Duration (default 10s), with
//     the same price moves per second in smaller steps: a load test;
//   - "quiet": a quarter of the tick rate and 40% of the volatility
//     (narrower spreads) for Duration (default 1m);
//   - "normal": ends the scenario in force.
//
// SetScenario starts one on the next tick, from any goroutine, ending
// the one in force (a halted symbol reopens; a crash's offset unwinds on
// each symbol's next tick). Config.Scenarios is a script of them, each
// at its At. Either way seq still counts up by one per tick per symbol,
// and the same Config (script included), with the same scenarios set
// between the same Next calls, gives the same ticks: defaults drawn at
// random (a halt's symbol, a gap's size) come from their own seeded
// generator, in the order the scenarios are set. A Sim resumed
// (Config.Resume) from a symbol's "halted" tick reopens it on its next
// tick, so a restart never leaves a symbol halted for ever.
//
// # Universe files
//
// LoadUniverse reads the symbols to simulate from a JSON file: an array
// (or {"symbols": [...]}) of
//
//	{"ticker": "AAPL", "name": "Apple Inc.", "sector": "Technology",
//	 "prevClose": 228.52, "volatility": 0.25, "tickSize": 0.01, "weight": 10}
//
// with volatility, tickSize and weight optional; the output of GET
// /v1/symbols reads back too. Without a file, DefaultUniverse.
//
// # Recording and replay
//
// A Recorder writes every tick it publishes as a line of JSON, after an
// optional header line with the seed, rate, speed and universe:
//
//	{"recording":"tickcast/1","seed":7,"rate":300,"speed":10,"universe":[...]}
//	{"symbol":"AAPL","seq":1,"time":"2026-11-23T14:30:00Z","price":228.5,...}
//
// ReadRecording reads one back, and a Replay republishes it with its
// recorded spacing, each tick stamped with its new scheduled time. To
// reproduce what a client saw, replay into an empty stream: every tick
// then has its recorded seq, price, size and volume, in the recorded
// order. Replayed into a stream that already holds a symbol (set
// Replay.Resume), the symbol's seq continues from the stream's instead,
// so a seq never repeats. A recording is also the way to reproduce a run
// exactly when the seed alone is not enough (a different rate, build or
// universe).
package sim
