package sim

// Order flow: which side of the book each trade takes. Trade signs in
// real markets are strongly and long autocorrelated, because large
// orders are worked in many pieces (Lillo and Farmer 2004); the model
// draws them from a mixture of such metaorders.

import "math"

// Most trades execute a piece of one of a symbol's metaOrders
// concurrent metaorders, whose lengths in trades are Pareto with tail
// metaAlpha, so trade signs stay correlated for a long time, decaying
// like lag^-(alpha-1); the rest (1 - metaShare) follow the mid's move.
const (
	metaOrders = 2
	metaAlpha  = 1.6
	metaMax    = 1_000_000
	metaShare  = 0.9
)

// metaorder is a large order being worked: its side (+1 buy, -1 sell)
// and the trades it has left (0: done).
type metaorder struct {
	sign int8
	left int32
}

// tradeSign returns the side of st's next trade, +1 buy or -1 sell: a
// piece of one of its metaorders (a new one when that one is done), or
// else more often on the side of the mid's move r.
func (s *Sim) tradeSign(st *symbol, r float64) int8 {
	if s.rng.Float64() < metaShare {
		m := &st.meta[s.rng.IntN(metaOrders)]
		if m.left <= 0 {
			m.sign = 1
			if s.rng.IntN(2) == 0 {
				m.sign = -1
			}
			m.left = int32(min(math.Pow(1-s.rng.Float64(), -1/metaAlpha), metaMax))
		}
		m.left--
		return m.sign
	}
	pBuy := 0.5
	if r > 0 {
		pBuy = 0.7
	} else if r < 0 {
		pBuy = 0.3
	}
	if s.rng.Float64() < pBuy {
		return 1
	}
	return -1
}
