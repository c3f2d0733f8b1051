package gateway

import "github.com/tickcast/tickcast/market"

// arena allocates what the hub's ring keeps of each message (its entry,
// its frame, its decoded quote or book) from large blocks, in ring
// order, instead of as several small objects a message. The ring holds
// half a million entries: as separate objects they were most of the
// objects the garbage collector marked in every cycle, and at the
// gateway's --gogc 25 a cycle comes every few seconds even with no
// client (BENCHMARKS.md). A block lives until the last entry in it is
// overwritten and no reader holds one: blocks are allocated in ring
// order, so they die in ring order too.
//
// Entries are immutable once appended (but for their lazily made trade
// and book frames, which are atomic), so readers share them as before;
// an arena is used by the appending goroutine only.
//
// A nil *arena allocates each thing on its own (for entries outside the
// ring: history, seeds).
type arena struct {
	ents   []entry
	quotes []market.Quote
	books  []bookEnt
	slab   []byte
	// js and frame are scratch for encoding a message before keep.
	js, frame []byte
}

// Block sizes: about 90 KB of entries, 14 KB of quotes, 13 KB of books,
// 64 KiB of frames.
const (
	arenaEntries = 256
	arenaQuotes  = 128
	arenaBooks   = 64
	arenaSlab    = 64 << 10
)

// take returns the next element of *block, starting a new block of n when
// it is full (the old one stays with the entries that point into it).
func take[T any](block *[]T, n int) *T {
	b := *block
	if len(b) == cap(b) {
		b = make([]T, 0, n)
	}
	b = b[:len(b)+1]
	*block = b
	return &b[len(b)-1]
}

func (a *arena) entry() *entry {
	if a == nil {
		return new(entry)
	}
	return take(&a.ents, arenaEntries)
}

func (a *arena) quote(q market.Quote) *market.Quote {
	if a == nil {
		return &q
	}
	p := take(&a.quotes, arenaQuotes)
	*p = q
	return p
}

func (a *arena) book(b market.Book) *bookEnt {
	if a == nil {
		return &bookEnt{b: b}
	}
	p := take(&a.books, arenaBooks)
	p.b = b
	return p
}

// scratch returns the buffers to encode a message's data and frame into
// (empty; capacity for about n bytes of data).
func (a *arena) scratch(n int) (js, frame []byte) {
	if a == nil {
		return make([]byte, 0, n), make([]byte, 0, n+48)
	}
	return a.js[:0], a.frame[:0]
}

// keep returns b, the frame encoded into scratch, kept for good: copied
// into the slab, its capacity its length (an append to it cannot reach
// the next frame). js and frame go back to scratch.
func (a *arena) keep(js, b []byte) []byte {
	if a == nil {
		return b
	}
	a.js, a.frame = js, b
	if cap(a.slab)-len(a.slab) < len(b) {
		a.slab = make([]byte, 0, max(arenaSlab, len(b)))
	}
	n := len(a.slab)
	a.slab = append(a.slab, b...)
	return a.slab[n:len(a.slab):len(a.slab)]
}
