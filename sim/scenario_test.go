package sim

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tickcast/tickcast/market"
)

func TestScenarioErrors(t *testing.T) {
	s := mustNew(t, Config{Seed: 1})
	for _, tc := range []struct {
		sc   Scenario
		want string
	}{
		{Scenario{}, "no name"},
		{Scenario{Name: "crash"}, `unknown name "crash"`},
		{Scenario{Name: ScenarioHalt, Symbol: "NOPE"}, "unknown symbol NOPE"},
		{Scenario{Name: ScenarioHalt, Symbol: "a.b"}, "bad symbol"},
		{Scenario{Name: ScenarioBurst, Symbol: "AAPL"}, "burst takes no symbol"},
		{Scenario{Name: ScenarioBurst, Size: 0.1}, "burst takes no size"},
		{Scenario{Name: ScenarioQuiet, Duration: time.Millisecond}, "duration 1ms out of range"},
		{Scenario{Name: ScenarioQuiet, Duration: 25 * time.Hour}, "out of range"},
		{Scenario{Name: ScenarioFlashCrash, Size: 0.08}, "want a fall"},
		{Scenario{Name: ScenarioFlashCrash, Size: -0.95}, "want a fall"},
		{Scenario{Name: ScenarioGap, Size: 2}, "gap size 2"},
		{Scenario{Name: ScenarioGap, Size: math.NaN()}, "not a number"},
		{Scenario{Name: ScenarioNormal, Duration: time.Second}, "normal takes no"},
		{Scenario{Name: ScenarioBurst, At: time.Second}, `"at" is for scripts`},
	} {
		err := s.SetScenario(tc.sc)
		if !errors.Is(err, ErrScenario) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("SetScenario(%+v): %v, want ErrScenario and %q", tc.sc, err, tc.want)
		}
	}
	if st := s.Scenario(); st.Name != ScenarioNormal || st.Pending {
		t.Errorf("after only bad scenarios: %+v, want normal", st)
	}
	_, err := New(Config{Scenarios: []Scenario{{Name: ScenarioBurst}, {Name: ScenarioGap, Symbol: "ZZZ"}}})
	if !errors.Is(err, ErrConfig) || !errors.Is(err, ErrScenario) || !strings.Contains(err.Error(), "scenarios[1]") {
		t.Errorf("New with a bad script: %v", err)
	}
	one := []market.SymbolInfo{{Symbol: "ONE", PrevClose: 10}}
	if _, err := New(Config{Universe: one, Scenarios: []Scenario{{Name: ScenarioHalt}}}); !errors.Is(err, ErrScenario) {
		t.Errorf("halt in a one-symbol universe: %v, want an error", err)
	}
	// Normalised: names and symbols in any case.
	if err := s.SetScenario(Scenario{Name: " Halt", Symbol: "aapl"}); err != nil {
		t.Fatal(err)
	}
	if st := s.Scenario(); st.Name != ScenarioHalt || st.Symbol != "AAPL" || st.Duration != 30*time.Second {
		t.Errorf("Scenario() %+v, want halt AAPL 30s", st)
	}
}

func TestScenarioJSON(t *testing.T) {
	var sc Scenario
	if err := json.Unmarshal([]byte(`{"name":"flash-crash","duration":"1m30s","size":-0.06}`), &sc); err != nil {
		t.Fatal(err)
	}
	if sc != (Scenario{Name: ScenarioFlashCrash, Duration: 90 * time.Second, Size: -0.06}) {
		t.Errorf("decoded %+v", sc)
	}
	if err := json.Unmarshal([]byte(`{"name":"halt","duration":45,"at":"2m"}`), &sc); err != nil || sc.Duration != 45*time.Second || sc.At != 2*time.Minute {
		t.Errorf("duration in seconds: %+v, %v", sc, err)
	}
	b, _ := json.Marshal(Scenario{Name: ScenarioHalt, Symbol: "AAPL", Duration: 30 * time.Second})
	if string(b) != `{"name":"halt","symbol":"AAPL","duration":"30s"}` {
		t.Errorf("encoded %s", b)
	}
	started := t0
	b, _ = json.Marshal(ScenarioState{Scenario: Scenario{Name: ScenarioBurst, Duration: 10 * time.Second}, Started: started, Ends: started.Add(10 * time.Second)})
	if string(b) != `{"name":"burst","duration":"10s","started":"2026-11-23T14:30:00Z","ends":"2026-11-23T14:30:10Z"}` {
		t.Errorf("encoded state %s", b)
	}
	for _, bad := range []string{`{"name":"halt","duraton":"5s"}`, `{"name":"halt","duration":"5 seconds"}`, `{"name":1}`} {
		if err := json.Unmarshal([]byte(bad), &sc); !errors.Is(err, ErrScenario) {
			t.Errorf("%s: %v, want ErrScenario", bad, err)
		}
	}

	got, err := ParseScenarios([]byte(` [{"at":"10s","name":"halt"}, {"at":"1m","name":"burst","duration":"5s"}] `))
	if err != nil || len(got) != 2 || got[1].At != time.Minute {
		t.Errorf("ParseScenarios array: %+v, %v", got, err)
	}
	if got, err := ParseScenarios([]byte(`{"name":"quiet"}`)); err != nil || len(got) != 1 {
		t.Errorf("ParseScenarios object: %+v, %v", got, err)
	}
	for _, bad := range []string{``, `halt`, `[{"name":"halt"},]`, `[{"nam":"halt"}]`} {
		if _, err := ParseScenarios([]byte(bad)); !errors.Is(err, ErrScenario) {
			t.Errorf("ParseScenarios(%q): %v, want ErrScenario", bad, err)
		}
	}
}
