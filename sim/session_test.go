package sim

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tickcast/tickcast/market"
)

func TestSpeedFor(t *testing.T) {
	if got := SpeedFor(Session{}, 10*time.Minute); got != 39 {
		t.Errorf("SpeedFor(default session, 10m) = %v, want 39", got)
	}
	if got := (Session{}).Length(); got != 6*time.Hour+30*time.Minute {
		t.Errorf("default session length %v", got)
	}
	// A compressed session really lasts 10 minutes of schedule.
	s := mustNew(t, Config{Seed: 1, Session: &Session{}, Speed: 39, Arrivals: Poisson})
	for {
		s.Next(t0.Add(s.Due()))
		if _, n := s.Clock(); n == 1 {
			break
		}
	}
	if d := s.Due(); d < 599*time.Second || d > 601*time.Second {
		t.Errorf("the session ended after %v of schedule, want 10m", d)
	}
}

func TestSessionErrors(t *testing.T) {
	for _, tc := range []struct {
		ss   Session
		want string
	}{
		{Session{Open: 10 * time.Hour, Close: 9 * time.Hour}, "want 0 <= open < close"},
		{Session{Close: 25 * time.Hour}, "want 0 <= open < close"},
		{Session{Open: -time.Hour}, "want 0 <= open < close"},
		{Session{Start: 8 * time.Hour}, "session start 8h0m0s outside"},
		{Session{Start: 16 * time.Hour}, "session start 16h0m0s outside"},
	} {
		_, err := New(Config{Session: &tc.ss})
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want ErrConfig and %q", tc.ss, err, tc.want)
		}
	}
	if _, err := New(Config{Arrivals: 7}); !errors.Is(err, ErrConfig) {
		t.Errorf("arrivals 7: error %v, want ErrConfig", err)
	}
}

// TestSessionClock: the clock starts at Start, ticks come faster at the
// open and close than at midday, the mean rate holds over the session,
// and Volume starts again at each new session while Seq carries on.
func TestSessionClock(t *testing.T) {
	const rate = 1000
	ss := &Session{Start: 10 * time.Hour}
	s := mustNew(t, Config{Seed: 3, Rate: rate, Speed: 100, Session: ss})
	s.Next(t0)
	if tod, n := s.Clock(); tod < 10*time.Hour || tod > 10*time.Hour+time.Second || n != 0 {
		t.Fatalf("first tick at %v of session %d, want 10:00 of 0", tod, n)
	}
	// Run to the next open, then count ticks per half hour over a session.
	tk := s.Next(t0)
	for _, n := s.Clock(); n == 0; _, n = s.Clock() {
		tk = s.Next(t0.Add(s.Due()))
	}
	start := s.Due()
	var perHalfHour [13]int
	last := map[string]market.Tick{}
	resets := 0
	for tod, n := s.Clock(); n == 1; tod, n = s.Clock() {
		perHalfHour[int((tod-DefaultOpen)/(30*time.Minute))]++
		if p, ok := last[tk.Symbol]; ok && tk.Seq != p.Seq+1 {
			t.Fatalf("%s: seq %d after %d", tk.Symbol, tk.Seq, p.Seq)
		} else if ok && tk.Volume < p.Volume {
			t.Fatalf("%s: volume %d after %d within a session", tk.Symbol, tk.Volume, p.Volume)
		} else if !ok && tk.Seq > 1 && tk.Volume == tk.Size {
			resets++
		}
		last[tk.Symbol] = tk
		tk = s.Next(t0.Add(s.Due()))
	}
	if resets != len(s.Universe()) {
		t.Errorf("%d symbols started the session with volume = size, want all %d", resets, len(s.Universe()))
	}
	elapsed := (s.Due() - start).Seconds()
	var total int
	for _, n := range perHalfHour {
		total += n
	}
	if sec := 23400.0 / 100; math.Abs(elapsed-sec) > 0.01*sec {
		t.Errorf("a session took %.1fs of schedule, want %.1fs", elapsed, sec)
	}
	if r := float64(total) / elapsed; math.Abs(r-rate) > 0.02*rate {
		t.Errorf("mean rate %.1f over the session, want %d", r, rate)
	}
	t.Logf("ticks per half hour: %v", perHalfHour)
	if u := float64(perHalfHour[0]+perHalfHour[12]) / float64(2*perHalfHour[6]); u < 2 || u > 3 {
		t.Errorf("open and close %.2f times as busy as midday, want about 2.5", u)
	}
}

// TestPoissonArrivals: each symbol ticks as a Poisson process at its share
// of the rate: exponential gaps (coefficient of variation 1), counts in
// proportion to weight, the total at Rate.
func TestPoissonArrivals(t *testing.T) {
	const rate, n = 500, 200_000
	u := []market.SymbolInfo{
		{Symbol: "A", PrevClose: 10}, {Symbol: "B", PrevClose: 10}, {Symbol: "C", PrevClose: 10},
	}
	w := map[string]float64{"A": 1, "B": 3, "C": 6}
	s := mustNew(t, Config{Seed: 5, Rate: rate, Universe: u, Weights: w, Arrivals: Poisson})
	last := map[string]time.Duration{}
	gaps := map[string][]float64{}
	var end time.Duration
	for range n {
		at := s.Due()
		tk := s.Next(t0.Add(at))
		if p, ok := last[tk.Symbol]; ok {
			gaps[tk.Symbol] = append(gaps[tk.Symbol], (at - p).Seconds())
		}
		last[tk.Symbol] = at
		end = at
	}
	if r := n / end.Seconds(); math.Abs(r-rate) > 0.01*rate {
		t.Errorf("total rate %.1f, want %d", r, rate)
	}
	for sym, wt := range w {
		g := gaps[sym]
		m := mean(g)
		cv := stddev(g) / m
		wantMean := 10 / wt / rate
		t.Logf("%s: %d ticks, mean gap %.5fs (want %.5f), cv %.3f", sym, len(g)+1, m, wantMean, cv)
		if math.Abs(m-wantMean) > 0.03*wantMean || math.Abs(cv-1) > 0.03 {
			t.Errorf("%s: mean gap %.5f, cv %.3f: want %.5f and 1 (Poisson)", sym, m, cv, wantMean)
		}
	}
}

// TestRunPoissonOpenLoop: with irregular spacing Run still publishes every
// tick, each stamped with its scheduled time, catching up at once after a
// stall, and the same seed gives the same ticks at the same offsets.
func TestRunPoissonOpenLoop(t *testing.T) {
	const rate = 2000
	cfg := Config{Seed: 6, Rate: rate, Speed: 39, Session: &Session{}, Arrivals: Poisson}
	rec := &recorder{hook: func(n int) error {
		if n == 1 {
			time.Sleep(200 * time.Millisecond)
		}
		return nil
	}}
	elapsed := runFor(t, mustNew(t, cfg), rec, 500*time.Millisecond)
	ticks := rec.got()
	twin := mustNew(t, cfg)
	due := 0 // ticks due in elapsed: fast, at the open
	for ; twin.Due() <= elapsed; due++ {
		twin.Next(t0)
	}
	t.Logf("%d ticks in %v at mean rate %d, after a 200ms stall; %d due", len(ticks), elapsed, rate, due)
	if n := len(ticks); float64(n) < 0.75*float64(due) || n > due+1 {
		t.Errorf("%d ticks in %v, want about %d", n, elapsed, due)
	}
	twin = mustNew(t, cfg)
	var irregular bool
	for i, tk := range ticks {
		due := twin.Due()
		w := twin.Next(tk.Time)
		if got := tk.Time.Sub(ticks[0].Time); got != due {
			t.Fatalf("tick %d at +%v, scheduled at +%v", i, got, due)
		}
		if tk != w {
			t.Fatalf("tick %d differs from the same seed's:\n%+v\n%+v", i, tk, w)
		}
		if i > 1 {
			d1, d2 := tk.Time.Sub(ticks[i-1].Time), ticks[i-1].Time.Sub(ticks[i-2].Time)
			irregular = irregular || d1 > 2*d2 || d2 > 2*d1
		}
	}
	if !irregular {
		t.Error("Poisson arrivals came at regular intervals")
	}
}

func TestNextDoesNotAllocateInSession(t *testing.T) {
	s := mustNew(t, Config{Seed: 1, Session: &Session{}, Arrivals: Poisson, Speed: 39})
	if n := testing.AllocsPerRun(10_000, func() { s.Next(t0.Add(s.Due())) }); n != 0 {
		t.Errorf("Next allocates %v times per call", n)
	}
}

// TestPrevCloseRollsOver: when a session ends, each symbol's PrevClose
// becomes its last price of that session, so a dashboard's "change" counts
// from the right close.
func TestPrevCloseRollsOver(t *testing.T) {
	s := mustNew(t, Config{Seed: 5, Rate: 1000, Speed: 2000, Session: &Session{Start: 15*time.Hour + 50*time.Minute}})
	before := s.Universe()
	v0 := s.UniverseVersion()
	lastPrice := map[string]float64{}
	now := t0
	seen := map[string]bool{} // symbols that traded in session 1
	for len(seen) < len(before) {
		tk := s.Next(now)
		now = t0.Add(s.Due())
		switch _, n := s.Clock(); n { // the session of the tick just made
		case 0:
			lastPrice[tk.Symbol] = tk.Price
		case 1:
			seen[tk.Symbol] = true
		default:
			t.Fatal("session 1 ended before every symbol traded")
		}
	}
	if s.UniverseVersion() == v0 {
		t.Fatal("the universe did not change at the session's end")
	}
	for i, info := range s.Universe() {
		want, traded := lastPrice[info.Symbol]
		if !traded {
			want = before[i].PrevClose
		}
		if info.PrevClose != want {
			t.Errorf("%s: prevClose %v after the session, want its last price %v", info.Symbol, info.PrevClose, want)
		}
	}
}

// A restarted simulator carries on the market clock: ContinueAt starts
// at the last market time, clamped into a trading day.
func TestSessionContinueAt(t *testing.T) {
	et := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04:05", s, eastern)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		ext      bool
		at, want string
	}{
		{true, "2026-03-04 11:15:30", "2026-03-04 11:15:30"}, // mid-session
		{true, "2026-03-04 05:00:00", "2026-03-04 05:00:00"}, // pre-market
		{true, "2026-03-04 02:00:00", "2026-03-04 04:00:00"}, // before the day
		{true, "2026-03-06 20:00:00", "2026-03-09 04:00:00"}, // Friday's end: Monday
		{true, "2026-03-07 12:00:00", "2026-03-09 04:00:00"}, // a Saturday
		{false, "2026-03-04 17:00:00", "2026-03-05 09:30:00"},
		{false, "2026-03-04 08:00:00", "2026-03-04 09:30:00"},
	} {
		ss := Session{Extended: c.ext}.ContinueAt(et(c.at).UTC())
		s := mustNew(t, Config{Seed: 1, Rate: 1000, Speed: 1, Session: &ss})
		got := s.MarketTime().In(eastern)
		if want := et(c.want); got.Before(want) || got.After(want.Add(time.Second)) {
			t.Errorf("extended %v, continue at %s: market time %s, want %s", c.ext, c.at, got.Format(time.DateTime), c.want)
		}
	}
	if ss := (Session{Extended: true}).ContinueAt(time.Time{}); ss != (Session{Extended: true}) {
		t.Errorf("zero time changed the session: %+v", ss)
	}
}
