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
// # Symbols
//
// A symbol is 1 to 16 upper-case ASCII letters, digits and '-'
// (ValidSymbol), so it is always one safe token of a NATS subject.
package market
