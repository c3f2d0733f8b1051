package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tickcast/tickcast/market"
)

// The stylized facts of equity returns, measured from ticks alone on a
// long seeded run, and checked against a plain Gaussian random walk that
// must fail every check: otherwise the check proves nothing.

const (
	factsSpeed  = 60    // trading seconds per real second
	factsWindow = 100.0 // trading seconds per return window
	factsBucket = 1800  // trading seconds per volume bucket: half an hour
)

// facts accumulates statistics over a tick stream. Ticks carry their
// scheduled real time; trading time is (Time - t0) * factsSpeed, and the
// session opens at trading time 0 and lasts 6.5 hours.
type facts struct {
	idx    map[string]int
	grid   []float64
	sector []string
	mid    []float64 // latest mid per symbol
	prev   []float64 // mid at the start of the window
	ret    [][]float64
	win    int // current window

	spreadSum float64 // relative spreads of the window's ticks
	spreadN   int
	spreads   []float64 // mean relative spread per window
	vols      []float64 // cross-sectional RMS return per window

	volume  [13]float64 // shares by half hour of the session
	offGrid int
	crossed int
	n       int
	first   string // first bad tick, for the error
}

func newFacts(u []market.SymbolInfo) *facts {
	f := &facts{idx: map[string]int{}, ret: make([][]float64, len(u))}
	for i, in := range u {
		f.idx[in.Symbol] = i
		f.grid = append(f.grid, in.TickSize)
		f.sector = append(f.sector, in.Sector)
		f.mid = append(f.mid, in.PrevClose)
	}
	f.prev = append([]float64(nil), f.mid...)
	return f
}

func (f *facts) add(tk market.Tick) {
	f.n++
	trading := tk.Time.Sub(t0).Seconds() * factsSpeed
	for w := int(trading / factsWindow); f.win < w; f.win++ {
		f.closeWindow()
	}
	i := f.idx[tk.Symbol]
	if !(tk.Bid > 0 && tk.Bid < tk.Ask && tk.Bid <= tk.Price && tk.Price <= tk.Ask) {
		f.crossed++
		if f.first == "" {
			f.first = fmt.Sprintf("%+v", tk)
		}
	}
	for _, p := range [...]float64{tk.Price, tk.Bid, tk.Ask} {
		q := p / f.grid[i]
		if math.Abs(q-math.Round(q)) > 1e-9*max(1, math.Abs(q)) {
			f.offGrid++
			if f.first == "" {
				f.first = fmt.Sprintf("%+v", tk)
			}
			break
		}
	}
	mid := (tk.Bid + tk.Ask) / 2
	f.mid[i] = mid
	f.spreadSum += (tk.Ask - tk.Bid) / mid
	f.spreadN++
	f.volume[int(math.Mod(trading, 23400)/factsBucket)] += float64(tk.Size)
}

func (f *facts) closeWindow() {
	var ss float64
	for j := range f.mid {
		r := math.Log(f.mid[j] / f.prev[j])
		f.ret[j] = append(f.ret[j], r)
		ss += r * r
	}
	copy(f.prev, f.mid)
	if f.spreadN > 0 {
		f.spreads = append(f.spreads, f.spreadSum/float64(f.spreadN))
		f.vols = append(f.vols, math.Sqrt(ss/float64(len(f.mid))))
	}
	f.spreadSum, f.spreadN = 0, 0
}

// stats are what the checks look at.
type stats struct {
	kurtosis         float64     // median per-stock excess kurtosis of window returns
	acRet, acAbs     [3]float64  // mean per-stock autocorrelation of returns, |returns|, at lags 1, 5, 10
	within, across   float64     // mean pairwise return correlation
	spreadVol        float64     // correlation of a window's mean spread with its RMS return
	offGrid, crossed int         // bad ticks
	volume           [13]float64 // share of the session's volume per half hour
	uRatio           float64     // first and last half hour over the middle 1.5 hours
}

var lags = [3]int{1, 5, 10}

func (f *facts) stats() stats {
	var st stats
	// Drop the first window (the opening gap) and, as they are not whole,
	// the one in progress.
	r := make([][]float64, len(f.ret))
	for j := range f.ret {
		r[j] = f.ret[j][1:]
	}
	var kurts []float64
	for j := range r {
		kurts = append(kurts, excessKurtosis(r[j]))
		abs := make([]float64, len(r[j]))
		for k, v := range r[j] {
			abs[k] = math.Abs(v)
		}
		for l, lag := range lags {
			st.acRet[l] += corr(r[j][lag:], r[j][:len(r[j])-lag]) / float64(len(r))
			st.acAbs[l] += corr(abs[lag:], abs[:len(abs)-lag]) / float64(len(r))
		}
	}
	sort.Float64s(kurts)
	st.kurtosis = kurts[len(kurts)/2]

	st.within, st.across = sectorCorr(r, f.sector)
	st.spreadVol = corr(f.spreads[1:], f.vols[1:])
	st.offGrid, st.crossed = f.offGrid, f.crossed

	var total float64
	for _, v := range f.volume {
		total += v
	}
	for k, v := range f.volume {
		st.volume[k] = v / total
	}
	st.uRatio = (st.volume[0] + st.volume[12]) / 2 / ((st.volume[5] + st.volume[6] + st.volume[7]) / 3)
	return st
}

func excessKurtosis(x []float64) float64 {
	m, sd := mean(x), stddev(x)
	var k4 float64
	for _, v := range x {
		z := (v - m) / sd
		k4 += z * z * z * z
	}
	return k4/float64(len(x)) - 3
}

// check returns what is wrong with st, one line per failed fact.
func (st stats) check() []string {
	var bad []string
	if st.kurtosis < 1 {
		bad = append(bad, fmt.Sprintf("fat tails: median excess kurtosis %.2f, want >= 1", st.kurtosis))
	}
	for l, lag := range lags {
		if math.Abs(st.acRet[l]) > 0.05 {
			bad = append(bad, fmt.Sprintf("returns: autocorrelation %.3f at lag %d, want |ac| <= 0.05", st.acRet[l], lag))
		}
		if st.acAbs[l] < 0.03 {
			bad = append(bad, fmt.Sprintf("volatility clustering: |return| autocorrelation %.3f at lag %d, want >= 0.03", st.acAbs[l], lag))
		}
	}
	if st.within < st.across+0.15 || st.across < 0.1 {
		bad = append(bad, fmt.Sprintf("co-movement: correlation within sectors %.3f, across %.3f: want across >= 0.1, within >= across + 0.15",
			st.within, st.across))
	}
	if st.spreadVol < 0.3 {
		bad = append(bad, fmt.Sprintf("spreads: correlation of spread with volatility %.3f, want >= 0.3", st.spreadVol))
	}
	if st.offGrid > 0 || st.crossed > 0 {
		bad = append(bad, fmt.Sprintf("quotes: %d ticks off the tick grid, %d with bid >= ask or price outside", st.offGrid, st.crossed))
	}
	if st.uRatio < 2 {
		bad = append(bad, fmt.Sprintf("intraday volume: first and last half hour %.2f times the midday, want >= 2 (a U)", st.uRatio))
	}
	return bad
}

func (st stats) log(t *testing.T, name string) {
	t.Helper()
	t.Logf("%s: excess kurtosis (median per stock) %.2f", name, st.kurtosis)
	t.Logf("%s: autocorrelation of returns at lags 1/5/10: %.3f %.3f %.3f; of |returns|: %.3f %.3f %.3f",
		name, st.acRet[0], st.acRet[1], st.acRet[2], st.acAbs[0], st.acAbs[1], st.acAbs[2])
	t.Logf("%s: correlation within sectors %.3f, across %.3f; spread vs volatility %.3f",
		name, st.within, st.across, st.spreadVol)
	var vol strings.Builder
	for _, v := range st.volume {
		fmt.Fprintf(&vol, " %.3f", v)
	}
	t.Logf("%s: volume by half hour:%s (U ratio %.2f); %d off grid, %d crossed", name, vol.String(), st.uRatio, st.offGrid, st.crossed)
}

// measure feeds n ticks from next into a facts over universe u.
func measure(u []market.SymbolInfo, n int, next func() market.Tick) stats {
	f := newFacts(u)
	for range n {
		f.add(next())
	}
	return f.stats()
}

// randomWalk is the strawman: every symbol an independent Gaussian random
// walk at its volatility, ticking in turn at a steady pace, quoted a
// random spread around the price with no rounding, in 100-share trades.
func randomWalk(seed uint64, u []market.SymbolInfo, rate float64) func() market.Tick {
	return randomWalkAt(seed, u, rate, factsSpeed)
}

// randomWalkAt is randomWalk at a given speed (trading seconds per
// second of its tick times).
func randomWalkAt(seed uint64, u []market.SymbolInfo, rate, speed float64) func() market.Tick {
	rng := rand.New(rand.NewPCG(seed, 1))
	px := make([]float64, len(u))
	seq := make([]uint64, len(u))
	for i, in := range u {
		px[i] = in.PrevClose
	}
	dt := float64(len(u)) * speed / rate // trading seconds between a symbol's ticks
	i := 0
	return func() market.Tick {
		j := i % len(u)
		sigma := u[j].Volatility * math.Sqrt(dt/tradingSecondsPerYear)
		px[j] *= math.Exp(sigma * rng.NormFloat64())
		half := px[j] * 1e-4 * (1 + rng.Float64())
		seq[j]++
		tk := market.Tick{
			Symbol: u[j].Symbol, Seq: seq[j],
			Time:  t0.Add(time.Duration(float64(i) / rate * float64(time.Second))),
			Price: px[j], Bid: px[j] - half, Ask: px[j] + half, Size: 100, Volume: int64(seq[j]) * 100,
		}
		i++
		return tk
	}
}

// simSource runs s on its own schedule, as Run does.
func simSource(s *Sim) func() market.Tick {
	return func() market.Tick { return s.Next(t0.Add(s.Due())) }
}

func TestStylizedFacts(t *testing.T) {
	if testing.Short() {
		t.Skip("long run")
	}
	// About eight and a half sessions of 117,000 ticks.
	const n = 1_000_000
	s := mustNew(t, Config{Seed: 4, Speed: factsSpeed, Session: &Session{}, Arrivals: Poisson})
	u := s.Universe()
	st := measure(u, n, simSource(s))
	st.log(t, "sim")
	for _, b := range st.check() {
		t.Error(b)
	}

	rw := measure(u, n, randomWalk(4, u, s.Rate()))
	rw.log(t, "random walk")
	bad := rw.check()
	for _, want := range []string{"fat tails", "volatility clustering", "co-movement", "spreads", "quotes", "intraday volume"} {
		found := false
		for _, b := range bad {
			found = found || strings.HasPrefix(b, want)
		}
		if !found {
			t.Errorf("a Gaussian random walk passes the %q check", want)
		}
	}
}

// sectorCorr returns the mean correlation of the return series r of
// symbols in one sector (within) and in different sectors (across).
func sectorCorr[S comparable](r [][]float64, sector []S) (within, across float64) {
	var in, out []float64
	for i := range r {
		for j := i + 1; j < len(r); j++ {
			if c := corr(r[i], r[j]); sector[i] == sector[j] {
				in = append(in, c)
			} else {
				out = append(out, c)
			}
		}
	}
	return mean(in), mean(out)
}
