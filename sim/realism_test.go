package sim

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"

	"github.com/tickcast/tickcast/market"
)

// The stylized facts at a one-minute scale (as Cont 2001 measures
// intraday returns), on a recorded seeded session: issue 15's targets.
// A plain random walk must fail them.

const (
	minuteSpeed = 60   // trading seconds per real second
	minuteRate  = 1300 // ticks per real second: about 30 per stock per trading minute
	minuteLen   = 60.0 // trading seconds per return
	halfHours   = 13
)

// minuteFacts accumulates one-minute statistics over a tick stream.
type minuteFacts struct {
	idx    map[string]int
	sector []string
	mid    []float64
	prev   []float64
	ret    [][]float64 // per stock, per minute
	vol    [][]float64 // shares per stock per minute
	cur    []float64   // shares in the current minute
	win    int

	volume    [halfHours]float64 // shares by half hour of the session
	spreadSum [halfHours]float64 // relative spreads by half hour
	spreadN   [halfHours]float64
}

func newMinuteFacts(u []market.SymbolInfo) *minuteFacts {
	f := &minuteFacts{idx: map[string]int{}, ret: make([][]float64, len(u)), vol: make([][]float64, len(u)), cur: make([]float64, len(u))}
	for i, in := range u {
		f.idx[in.Symbol] = i
		f.sector = append(f.sector, in.Sector)
		f.mid = append(f.mid, in.PrevClose)
	}
	f.prev = append([]float64(nil), f.mid...)
	return f
}

func (f *minuteFacts) add(tk market.Tick) {
	trading := tk.Time.Sub(t0).Seconds() * minuteSpeed
	for w := int(trading / minuteLen); f.win < w; f.win++ {
		for j := range f.mid {
			f.ret[j] = append(f.ret[j], math.Log(f.mid[j]/f.prev[j]))
			f.vol[j] = append(f.vol[j], f.cur[j])
			f.cur[j] = 0
		}
		copy(f.prev, f.mid)
	}
	i := f.idx[tk.Symbol]
	mid := (tk.Bid + tk.Ask) / 2
	f.mid[i] = mid
	f.cur[i] += float64(tk.Size)
	h := min(int(math.Mod(trading, 23400)/1800), halfHours-1)
	f.volume[h] += float64(tk.Size)
	f.spreadSum[h] += (tk.Ask - tk.Bid) / mid
	f.spreadN[h]++
}

// minuteStats are the statistics.
type minuteStats struct {
	minutes        int
	kurtosis       float64 // median per-stock excess kurtosis
	ac1            float64 // mean per-stock ACF of returns at lag 1
	acAbs          float64 // mean per-stock ACF of |returns| over lags 1-20
	leverage       float64 // mean per-stock corr(r_t, |r_t+k|) over k = 1-10
	volAbs         float64 // mean per-stock corr(volume, |return|) per minute
	within, across float64 // mean pairwise return correlation
	volumeU        float64 // first and last half hour's volume over the middle 1.5 hours'
	spreadU        float64 // the same for the mean relative spread
}

func (f *minuteFacts) stats() minuteStats {
	var st minuteStats
	r := make([][]float64, len(f.ret))
	var kurts []float64
	n := float64(len(f.ret))
	for j := range f.ret {
		r[j] = f.ret[j][1:] // the first holds the opening gap
		v := f.vol[j][1:]
		abs := make([]float64, len(r[j]))
		for k, x := range r[j] {
			abs[k] = math.Abs(x)
		}
		kurts = append(kurts, excessKurtosis(r[j]))
		st.ac1 += corr(r[j][1:], r[j][:len(r[j])-1]) / n
		for lag := 1; lag <= 20; lag++ {
			st.acAbs += corr(abs[lag:], abs[:len(abs)-lag]) / n / 20
		}
		for lag := 1; lag <= 10; lag++ {
			st.leverage += corr(r[j][:len(r[j])-lag], abs[lag:]) / n / 10
		}
		st.volAbs += corr(v, abs) / n
	}
	st.minutes = len(r[0])
	sort.Float64s(kurts)
	st.kurtosis = kurts[len(kurts)/2]
	st.within, st.across = sectorCorr(r, f.sector)
	u := func(x [halfHours]float64) float64 { return (x[0] + x[12]) / 2 / ((x[5] + x[6] + x[7]) / 3) }
	st.volumeU = u(f.volume)
	var sp [halfHours]float64
	for h := range sp {
		sp[h] = f.spreadSum[h] / max(f.spreadN[h], 1)
	}
	st.spreadU = u(sp)
	return st
}

// Targets, from issue 15.
func (st minuteStats) check() []string {
	var bad []string
	if st.kurtosis <= 0 {
		bad = append(bad, fmt.Sprintf("fat tails: median excess kurtosis %.2f, want > 0", st.kurtosis))
	}
	if math.Abs(st.ac1) >= 0.05 {
		bad = append(bad, fmt.Sprintf("returns: ACF at lag 1 %.3f, want |ACF| < 0.05", st.ac1))
	}
	if st.acAbs < 0.1 {
		bad = append(bad, fmt.Sprintf("volatility clustering: mean ACF of |returns| over lags 1-20 %.3f, want >= 0.1", st.acAbs))
	}
	if st.leverage >= -0.01 {
		bad = append(bad, fmt.Sprintf("leverage: corr(r, later |r|) %.3f, want < -0.01", st.leverage))
	}
	if st.volAbs <= 0.3 {
		bad = append(bad, fmt.Sprintf("volume-volatility: corr(volume, |r|) %.3f, want > 0.3", st.volAbs))
	}
	if st.within <= st.across+0.05 {
		bad = append(bad, fmt.Sprintf("co-movement: correlation within sectors %.3f, across %.3f, want within > across + 0.05", st.within, st.across))
	}
	if st.volumeU <= 1.2 {
		bad = append(bad, fmt.Sprintf("intraday volume: open and close %.2f times midday, want a U (> 1.2)", st.volumeU))
	}
	if st.spreadU <= 1.1 {
		bad = append(bad, fmt.Sprintf("intraday spreads: open and close %.2f times midday, want a U (> 1.1)", st.spreadU))
	}
	return bad
}

func (st minuteStats) String() string {
	return fmt.Sprintf("%d minutes: kurtosis %.2f, ACF(1) %.3f, ACF|r| 1-20 %.3f, leverage %.3f, corr(volume,|r|) %.3f, "+
		"within %.3f across %.3f, volume U %.2f, spread U %.2f",
		st.minutes, st.kurtosis, st.ac1, st.acAbs, st.leverage, st.volAbs, st.within, st.across, st.volumeU, st.spreadU)
}

// recordSession records n ticks of a seeded session through a Recorder
// and reads the recording back.
func recordSession(t testing.TB, seed int64, n int) ([]market.SymbolInfo, []market.Tick) {
	t.Helper()
	s := mustNew(t, Config{Seed: seed, Rate: minuteRate, Speed: minuteSpeed, Session: &Session{}, Arrivals: Poisson})
	var buf bytes.Buffer
	h := HeaderFor(Config{Seed: seed}, s)
	rec, err := NewRecorder(&buf, nil, &h)
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := rec.Publish(context.Background(), s.Next(t0.Add(s.Due()))); err != nil {
			t.Fatal(err)
		}
	}
	if err := rec.Flush(); err != nil {
		t.Fatal(err)
	}
	hdr, ticks, err := ReadRecording(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return hdr.Universe, ticks
}

func measureMinutes(u []market.SymbolInfo, ticks []market.Tick) minuteStats {
	f := newMinuteFacts(u)
	for _, tk := range ticks {
		f.add(tk)
	}
	return f.stats()
}

// realismTicks is the session's length: about six trading days (2,300
// one-minute returns per stock).
func realismTicks() int { return 3_000_000 }

// skipHeavy skips a test under -short or the race detector, which make
// it take minutes; scripts/test.sh runs these without -race.
func skipHeavy(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("heavy statistics: scripts/test.sh runs them without -race")
	}
}

func TestRealismOneMinute(t *testing.T) {
	skipHeavy(t)
	u, ticks := recordSession(t, 15, realismTicks())
	st := measureMinutes(u, ticks)
	t.Logf("sim: %v", st)
	for _, b := range st.check() {
		t.Error(b)
	}
}

// The same measures on a Gaussian random walk (randomWalk, with the same
// schedule) fail: otherwise they prove nothing.
func TestRealismRandomWalkFails(t *testing.T) {
	skipHeavy(t)
	s := mustNew(t, Config{})
	u := s.Universe()
	next := randomWalkAt(15, u, minuteRate, minuteSpeed)
	ticks := make([]market.Tick, realismTicks())
	for i := range ticks {
		ticks[i] = next()
	}
	st := measureMinutes(u, ticks)
	t.Logf("random walk: %v", st)
	bad := st.check()
	for _, want := range []string{"fat tails", "volatility clustering", "leverage", "volume-volatility", "co-movement", "intraday volume", "intraday spreads"} {
		found := false
		for _, b := range bad {
			found = found || strings.HasPrefix(b, want)
		}
		if !found {
			t.Errorf("a Gaussian random walk passes the %q check", want)
		}
	}
}
