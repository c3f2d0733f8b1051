package bench

// seqStats counts what the per-symbol seq check finds. The contract: for
// consecutive events of one symbol, seq - previous seq == merged (1 when
// absent); after a resume the first event may overlap ticks already held.
type seqStats struct {
	Events       uint64 // tick events seen
	Ticks        uint64 // ticks accounted for (a merged event counts its new ticks)
	Gaps         uint64 // ticks missing: skipped seq numbers
	GapEvents    uint64 // events that came after a gap
	Dups         uint64 // events with seq <= the previous one (nothing new)
	Overlaps     uint64 // merged events that partly repeat held ticks
	Merged       uint64 // ticks that arrived inside merged events
	MergedEvents uint64 // events with merged >= 2
}

func (s *seqStats) add(o *seqStats) {
	s.Events += o.Events
	s.Ticks += o.Ticks
	s.Gaps += o.Gaps
	s.GapEvents += o.GapEvents
	s.Dups += o.Dups
	s.Overlaps += o.Overlaps
	s.Merged += o.Merged
	s.MergedEvents += o.MergedEvents
}

// observe checks one tick event against *last, the previous seq of its
// symbol (0: none yet), updates *last and returns how many new ticks the
// event accounts for.
func (s *seqStats) observe(last *uint64, seq uint64, merged int64) uint64 {
	m := uint64(1)
	if merged >= 2 {
		m = uint64(merged)
		s.MergedEvents++
		s.Merged += m
	}
	s.Events++
	prev := *last
	var n uint64
	switch {
	case prev == 0:
		n = m
	case seq <= prev:
		s.Dups++
		return 0
	case seq-prev == m:
		n = m
	case seq-prev > m:
		s.Gaps += seq - prev - m
		s.GapEvents++
		n = m
	default: // 0 < seq-prev < m: a merged event overlapping held ticks
		s.Overlaps++
		n = seq - prev
	}
	*last = seq
	s.Ticks += n
	return n
}
