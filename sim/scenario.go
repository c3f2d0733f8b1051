package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/tickcast/tickcast/market"
)

// Scenario names, for Scenario.Name.
const (
	// ScenarioNormal ends the scenario in force at once.
	ScenarioNormal = "normal"
	// ScenarioFlashCrash: the whole market falls by Size (default -8%)
	// within seconds, with doubled volatility, wider spreads and twice
	// the tick rate, then recovers over the rest of Duration.
	ScenarioFlashCrash = "flash-crash"
	// ScenarioHalt: Symbol (default: one at random) publishes a tick with
	// Status "halted" (its last price, size 0), then none for Duration,
	// then one with Status "open" that catches up the market's move in
	// between, moved by Size if set (news: -0.2 reopens 20% lower).
	ScenarioHalt = "halt"
	// ScenarioGap: Symbol (default: every symbol, as at the open) jumps
	// by Size (default: 2% to 6%, up or down), then trades 1.5 times as
	// volatile for Duration.
	ScenarioGap = "gap"
	// ScenarioBurst: ten times the tick rate for Duration (a load test).
	// Prices move as much per second as before, in smaller steps.
	ScenarioBurst = "burst"
	// ScenarioQuiet: a quarter of the tick rate and 40% of the volatility
	// (narrower spreads) for Duration.
	ScenarioQuiet = "quiet"
)

// ScenarioNames lists the scenarios, ScenarioNormal first.
var ScenarioNames = []string{ScenarioNormal, ScenarioFlashCrash, ScenarioHalt, ScenarioGap, ScenarioBurst, ScenarioQuiet}

// ErrScenario is wrapped by the errors of SetScenario, ParseScenarios and
// Scenario.UnmarshalJSON; New wraps it too (with ErrConfig) for a bad
// Config.Scenarios.
var ErrScenario = errors.New("sim: invalid scenario")

// Scenario is a market condition for front-end edge cases, set at run
// time with (*Sim).SetScenario or scripted with Config.Scenarios. It ends
// by itself after Duration, or when another one is set.
//
// In JSON:
//
//	{"name": "flash-crash", "duration": "30s", "size": -0.08}
//	{"name": "halt", "symbol": "AAPL", "duration": "1m"}
//	{"at": "2m", "name": "burst", "duration": "10s"}   (in a script)
//
// Durations are Go durations ("90s", "1m30s") or numbers of seconds.
type Scenario struct {
	Name string // one of ScenarioNames

	// Symbol is the symbol of a halt or a gap: "" means one chosen at
	// random (halt) or every symbol (gap). Other scenarios take none.
	Symbol string

	// Duration is how long the scenario lasts, in real time at the
	// Sim's schedule (Due): 0 means the default (flash crash 1m, halt
	// 30s, gap 30s, burst 10s, quiet 1m); at most 24h.
	Duration time.Duration

	// Size is the relative price move: the depth of a flash crash
	// (-0.9 to below 0; default -0.08), the jump of a gap or of a
	// halted symbol at its reopening (-0.9 to 1, 0.05 is +5%). 0 means
	// the default; other scenarios take none.
	Size float64

	// At is when a scripted scenario starts, after the first tick (Due
	// time). Only Config.Scenarios uses it; SetScenario refuses it.
	At time.Duration
}

// ScenarioState is the scenario in force, as (*Sim).Scenario reports it:
// its fields with defaults filled in (and a halt's symbol chosen), and
// when it started and ends, stamped as ticks are.
type ScenarioState struct {
	Scenario
	// Pending: set, but no tick made since, so not yet in force.
	Pending bool
	// Started and Ends: the time of the tick it started on, and that
	// plus its Duration. Zero for ScenarioNormal and while pending.
	Started, Ends time.Time
}

// Scenario defaults and limits, as check applies them.
const (
	maxScenarioDuration = 24 * time.Hour
	minScenarioDuration = time.Second

	crashDepth = -0.08

	minSize, maxSize = -0.9, 1.0
)

func defaultDuration(name string) time.Duration {
	switch name {
	case ScenarioFlashCrash, ScenarioQuiet:
		return time.Minute
	case ScenarioHalt, ScenarioGap:
		return 30 * time.Second
	case ScenarioBurst:
		return 10 * time.Second
	}
	return 0
}

// check validates sc and returns it normalised: name lower-case, symbol
// upper-case, defaults filled in except those drawn at random.
func (sc Scenario) check() (Scenario, error) {
	sc.Name = strings.ToLower(strings.TrimSpace(sc.Name))
	sc.Symbol = strings.ToUpper(strings.TrimSpace(sc.Symbol))
	if !slices.Contains(ScenarioNames, sc.Name) {
		if sc.Name == "" {
			return sc, fmt.Errorf("%w: no name (want one of %s)", ErrScenario, strings.Join(ScenarioNames, ", "))
		}
		return sc, fmt.Errorf("%w: unknown name %q (want one of %s)", ErrScenario, sc.Name, strings.Join(ScenarioNames, ", "))
	}
	if sc.At < 0 || sc.At > 365*24*time.Hour {
		return sc, fmt.Errorf("%w: %s: at %v out of range", ErrScenario, sc.Name, sc.At)
	}
	if sc.Name == ScenarioNormal {
		if sc.Symbol != "" || sc.Duration != 0 || sc.Size != 0 {
			return sc, fmt.Errorf("%w: normal takes no symbol, duration or size", ErrScenario)
		}
		return sc, nil
	}
	switch d := sc.Duration; {
	case d == 0:
		sc.Duration = defaultDuration(sc.Name)
	case d < minScenarioDuration || d > maxScenarioDuration:
		return sc, fmt.Errorf("%w: %s: duration %v out of range [%v, %v]", ErrScenario, sc.Name, d, minScenarioDuration, maxScenarioDuration)
	}
	if sc.Symbol != "" {
		if sc.Name != ScenarioHalt && sc.Name != ScenarioGap {
			return sc, fmt.Errorf("%w: %s takes no symbol (only halt and gap do)", ErrScenario, sc.Name)
		}
		if !market.ValidSymbol(sc.Symbol) {
			return sc, fmt.Errorf("%w: %s: bad symbol %q", ErrScenario, sc.Name, sc.Symbol)
		}
	}
	switch z := sc.Size; {
	case math.IsNaN(z) || math.IsInf(z, 0):
		return sc, fmt.Errorf("%w: %s: size %v is not a number", ErrScenario, sc.Name, z)
	case z == 0:
		if sc.Name == ScenarioFlashCrash {
			sc.Size = crashDepth
		}
	case sc.Name == ScenarioFlashCrash:
		if z >= 0 || z < minSize {
			return sc, fmt.Errorf("%w: flash-crash size %v: want a fall from %v to below 0, e.g. -0.08 for 8%%", ErrScenario, z, minSize)
		}
	case sc.Name == ScenarioHalt || sc.Name == ScenarioGap:
		if z < minSize || z > maxSize {
			return sc, fmt.Errorf("%w: %s size %v: want a move from %v to %v, e.g. 0.05 for +5%%", ErrScenario, sc.Name, z, minSize, maxSize)
		}
	default:
		return sc, fmt.Errorf("%w: %s takes no size (only flash-crash, halt and gap do)", ErrScenario, sc.Name)
	}
	return sc, nil
}

// scenarioJSON is Scenario on the wire.
type scenarioJSON struct {
	At       *jsonDuration `json:"at,omitempty"`
	Name     string        `json:"name"`
	Symbol   string        `json:"symbol,omitempty"`
	Duration *jsonDuration `json:"duration,omitempty"`
	Size     float64       `json:"size,omitempty"`
}

// jsonDuration is a time.Duration written as a Go duration string and
// read from one or from a number of seconds.
type jsonDuration time.Duration

func (d jsonDuration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

func (d *jsonDuration) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("bad duration %q: want e.g. \"30s\" or \"2m\"", s)
		}
		*d = jsonDuration(v)
		return nil
	}
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil {
		return fmt.Errorf("bad duration %s: want e.g. \"30s\" or a number of seconds", b)
	}
	if math.IsNaN(secs) || math.Abs(secs) > float64(math.MaxInt64/time.Second) {
		return fmt.Errorf("bad duration %s", b)
	}
	*d = jsonDuration(secs * float64(time.Second))
	return nil
}

func (sc Scenario) wire() scenarioJSON {
	w := scenarioJSON{Name: sc.Name, Symbol: sc.Symbol, Size: sc.Size}
	if sc.Duration != 0 {
		d := jsonDuration(sc.Duration)
		w.Duration = &d
	}
	if sc.At != 0 {
		a := jsonDuration(sc.At)
		w.At = &a
	}
	return w
}

// MarshalJSON writes sc as {"name": ..., "symbol": ..., "duration": "30s",
// "size": ...}, leaving out zero fields.
func (sc Scenario) MarshalJSON() ([]byte, error) { return json.Marshal(sc.wire()) }

// UnmarshalJSON reads a Scenario, refusing unknown fields (a misspelt
// "duraton" is an error, not a default). It does not validate the
// values: SetScenario and New do.
func (sc *Scenario) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var w scenarioJSON
	if err := dec.Decode(&w); err != nil {
		return fmt.Errorf("%w: %v", ErrScenario, strings.TrimPrefix(err.Error(), "json: "))
	}
	*sc = Scenario{Name: w.Name, Symbol: w.Symbol, Size: w.Size}
	if w.Duration != nil {
		sc.Duration = time.Duration(*w.Duration)
	}
	if w.At != nil {
		sc.At = time.Duration(*w.At)
	}
	return nil
}

// MarshalJSON writes st as its Scenario's fields plus "pending": true,
// or "started" and "ends".
func (st ScenarioState) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		scenarioJSON
		Pending bool      `json:"pending,omitempty"`
		Started time.Time `json:"started,omitzero"`
		Ends    time.Time `json:"ends,omitzero"`
	}{st.Scenario.wire(), st.Pending, st.Started, st.Ends})
}

// ParseScenarios reads a scenario script: one scenario as a JSON object,
// or a JSON array of them, each starting at its "at" (default 0: at
// once). It checks the JSON, not the values: New does.
func ParseScenarios(b []byte) ([]Scenario, error) {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var sc Scenario
		if err := json.Unmarshal(b, &sc); err != nil {
			return nil, err
		}
		return []Scenario{sc}, nil
	}
	if len(b) == 0 || b[0] != '[' {
		return nil, fmt.Errorf("%w: want a JSON object or an array of them", ErrScenario)
	}
	var out []Scenario
	if err := json.Unmarshal(b, &out); err != nil {
		if errors.Is(err, ErrScenario) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrScenario, err)
	}
	return out, nil
}
