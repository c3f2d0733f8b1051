package sim

import (
	"math"
	"testing"
	"time"
)

// sampled runs a seeded sim for n ticks at a minute per second and
// returns, for every symbol, the log return of its mid price over each
// window of `every` ticks, plus the window length in trading seconds.
func sampled(t *testing.T, seed int64, n, every int) (s *Sim, returns [][]float64, window float64) {
	t.Helper()
	const speed = 60
	s = mustNew(t, Config{Seed: seed, Speed: speed})
	u := s.Universe()
	idx := map[string]int{}
	mid := make([]float64, len(u))
	for i, in := range u {
		idx[in.Symbol] = i
		mid[i] = in.PrevClose
	}
	prev := append([]float64(nil), mid...)
	returns = make([][]float64, len(u))
	for i := 1; i <= n; i++ {
		tk := s.Next(t0.Add(time.Duration(i) * time.Millisecond))
		mid[idx[tk.Symbol]] = (tk.Bid + tk.Ask) / 2
		if i%every == 0 {
			for j := range mid {
				returns[j] = append(returns[j], math.Log(mid[j]/prev[j]))
			}
			copy(prev, mid)
		}
	}
	// Drop the first window: it holds the opening gap.
	for j := range returns {
		returns[j] = returns[j][1:]
	}
	return s, returns, float64(every) * speed / s.Rate()
}

func mean(x []float64) float64 {
	var m float64
	for _, v := range x {
		m += v
	}
	return m / float64(len(x))
}

func stddev(x []float64) float64 {
	m := mean(x)
	var v float64
	for _, e := range x {
		v += (e - m) * (e - m)
	}
	return math.Sqrt(v / float64(len(x)-1))
}

func corr(x, y []float64) float64 {
	mx, my := mean(x), mean(y)
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	return sxy / math.Sqrt(sxx*syy)
}

func TestStatistics(t *testing.T) {
	if testing.Short() {
		t.Skip("long run")
	}
	s, r, window := sampled(t, 2, 1_000_000, 500)
	u := s.Universe()

	// Stocks move together: through the market factor across sectors,
	// and more so within a sector.
	var within, across []float64
	for i := range u {
		for j := i + 1; j < len(u); j++ {
			c := corr(r[i], r[j])
			if u[i].Sector == u[j].Sector {
				within = append(within, c)
			} else {
				across = append(across, c)
			}
		}
	}
	mw, ma := mean(within), mean(across)
	t.Logf("%d windows of %.0f trading seconds: mean correlation within sector %.3f (%d pairs), across %.3f (%d pairs)",
		len(r[0]), window, mw, len(within), ma, len(across))
	if mw < ma+0.15 {
		t.Errorf("correlation within sectors %.3f, across %.3f: want within > across + 0.15", mw, ma)
	}
	if ma < 0.1 || mw > 0.9 {
		t.Errorf("correlation across sectors %.3f, within %.3f: want a market factor but not lockstep", ma, mw)
	}

	// Each stock keeps its annualised volatility.
	var ratios []float64
	for i, in := range u {
		got := stddev(r[i]) * math.Sqrt(tradingSecondsPerYear/window)
		ratios = append(ratios, got/in.Volatility)
		if got < 0.6*in.Volatility || got > 1.5*in.Volatility {
			t.Errorf("%s: realised volatility %.3f, want about %.2f", in.Symbol, got, in.Volatility)
		}
	}
	t.Logf("realised / configured volatility: mean %.3f, sd %.3f", mean(ratios), stddev(ratios))

	// Heavy tails and volatility clustering, seen in the equal-weighted
	// index: excess kurtosis, and autocorrelated squared returns.
	idx := make([]float64, len(r[0]))
	for _, ri := range r {
		for k, v := range ri {
			idx[k] += v / float64(len(r))
		}
	}
	m, sd := mean(idx), stddev(idx)
	var k4 float64
	sq := make([]float64, len(idx))
	for k, v := range idx {
		z := (v - m) / sd
		k4 += z * z * z * z
		sq[k] = z * z
	}
	kurt := k4/float64(len(idx)) - 3
	var ac float64 // mean autocorrelation of squared returns, lags 1 to 5
	for lag := 1; lag <= 5; lag++ {
		ac += corr(sq[lag:], sq[:len(sq)-lag]) / 5
	}
	t.Logf("index: excess kurtosis %.2f, autocorrelation of squared returns (lags 1-5) %.3f", kurt, ac)
	if kurt < 0.4 || ac < 0.03 {
		t.Errorf("index: excess kurtosis %.2f, squared-return autocorrelation %.3f: want fat tails and clustering", kurt, ac)
	}
}
