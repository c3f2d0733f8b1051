// Package market is the feed's data model, apart from any transport: the
// Tick every part exchanges (the simulator makes it, the feed stores it,
// the gateway sends it, the bench reads it), its wire JSON and decoder,
// and the symbol rules and descriptions of the simulated universe.
//
// It imports nothing outside the standard library, so the simulator and
// tools that only need ticks do not depend on NATS.
//
// # Wire form
//
// A tick is one JSON object on one line, written by Tick.AppendJSON
// without reflection and read back by DecodeTick:
//
//	{"symbol":"AAPL","seq":1042,"time":"2026-11-23T14:30:00.123456789Z",
//	 "price":189.23,"bid":189.22,"ask":189.24,"size":300,"volume":1234500}
//
// seq counts one symbol's ticks from 1, up by one per tick; a merged tick
// (merged >= 2, with high and low) stands for several, so a client sees a
// gap when seq - previous seq is more than merged (1 when absent).
//
// # Other event types
//
// Quote, Bar, Status and Clock (events.go) are the other messages of the
// stream (docs/events-design.md), each with Validate, an AppendJSON
// that writes what encoding/json writes, and a decoder (DecodeQuote,
// DecodeBar, DecodeStatus, DecodeClock). A Tick may carry its
// MarketTime and trade Conditions (CondOpening "O", CondClosing "6",
// CondExtended "T"); both are left out of its JSON when empty, so a tick
// without them reads as before. Counters holds the newest seq of each
// event counter, which a restarted simulator continues. Book (book.go)
// is a symbol's depth. The decoders of the busiest types, DecodeTick,
// DecodeQuote and DecodeBook, read the form AppendJSON writes without
// reflection and leave any other document to encoding/json, with the
// same result (FuzzDecodeTick, FuzzDecodeQuote and FuzzDecodeBook check
// it): every gateway decodes every message it reads.
//
// # Symbols
//
// A symbol is 1 to 16 upper-case ASCII letters, digits and '-'
// (ValidSymbol), so it is always one safe token of a NATS subject.
package market
