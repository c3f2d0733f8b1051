package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/tickcast/tickcast/sim"
)

// scenarioUsage is the help of --scenario (serve and sim).
const scenarioUsage = `start the simulator in a scenario: a name (flash-crash, halt, gap, burst, quiet), ` +
	`a JSON object such as '{"name":"halt","symbol":"AAPL","duration":"1m"}', ` +
	`or a file holding one or a JSON array of them, each starting at its "at" (e.g. "at":"2m"): a script`

// simControlUsage is the help of serve's --sim-control.
const simControlUsage = "serve GET and POST /v1/sim/scenario, to see and set the simulator's scenario at run time (behind --token when set); false: read-only market"

// readScenarios reads --scenario: a scenario's name, inline JSON, or the
// name of a file of JSON.
func readScenarios(v string) ([]sim.Scenario, error) {
	v = strings.TrimSpace(v)
	if slices.Contains(sim.ScenarioNames, strings.ToLower(v)) {
		return []sim.Scenario{{Name: v}}, nil
	}
	b := []byte(v)
	if !strings.HasPrefix(v, "{") && !strings.HasPrefix(v, "[") {
		var err error
		if b, err = os.ReadFile(v); err != nil {
			return nil, fmt.Errorf("%w (want a scenario name: %s; a JSON object; or a file of JSON)", err, strings.Join(sim.ScenarioNames, ", "))
		}
	}
	return sim.ParseScenarios(b)
}

// scenarioController is what the routes need of a *sim.Sim.
type scenarioController interface {
	SetScenario(sim.Scenario) error
	Scenario() sim.ScenarioState
}

// scenarioRoutes returns the routes, for gateway.Options.Routes, that
// show and set s's scenario; nil (no routes: 404) when on is false, or
// when there is no simulator or it replays a recording.
func scenarioRoutes(on bool, s *sim.Sim, x *simExtras, log *slog.Logger) func(chi.Router) {
	if !on || s == nil || x != nil && x.replayer != nil {
		return nil
	}
	return simRoutes(s, log)
}

// maxScenarioBody bounds a POST /v1/sim/scenario body.
const maxScenarioBody = 4 << 10

// simRoutes serves the scenario control:
//
//	GET  /v1/sim/scenario  200 {"scenario": {...}}: the one in force
//	POST /v1/sim/scenario  a scenario as JSON (Content-Type:
//	                       application/json): 200 {"scenario": {...}},
//	                       or 400 {"error": "..."}
//
// The JSON content type is required so that another web site cannot
// post one from a visitor's browser without a CORS preflight.
func simRoutes(ctl scenarioController, log *slog.Logger) func(chi.Router) {
	return func(r chi.Router) {
		r.Get("/v1/sim/scenario", func(w http.ResponseWriter, r *http.Request) {
			writeScenarioJSON(w, http.StatusOK, map[string]any{"scenario": ctl.Scenario()})
		})
		r.Post("/v1/sim/scenario", func(w http.ResponseWriter, r *http.Request) {
			sc, err := decodeScenario(w, r)
			if err == nil {
				err = ctl.SetScenario(sc)
			}
			if err != nil {
				writeScenarioJSON(w, http.StatusBadRequest, map[string]string{"error": scenarioErrText(err)})
				return
			}
			st := ctl.Scenario()
			if log != nil {
				log.Info("scenario set", "name", st.Name, "symbol", st.Symbol, "duration", st.Duration, "size", st.Size, "remote", r.RemoteAddr)
			}
			writeScenarioJSON(w, http.StatusOK, map[string]any{"scenario": st})
		})
	}
}

// decodeScenario reads one JSON scenario from r's body, with errors
// worded for the client (without the package prefixes).
func decodeScenario(w http.ResponseWriter, r *http.Request) (sim.Scenario, error) {
	var sc sim.Scenario
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return sc, errors.New("want Content-Type: application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxScenarioBody))
	if err := dec.Decode(&sc); err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return sc, fmt.Errorf("body over %d bytes", maxScenarioBody)
		case errors.Is(err, io.EOF):
			return sc, errors.New(`empty body: want a scenario, e.g. {"name":"halt","symbol":"AAPL"}`)
		}
		return sc, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return sc, errors.New("want one JSON object, found more after it")
	}
	return sc, nil
}

// scenarioErrText is err's message without the sim package's prefixes,
// for people: "halt: unknown symbol ZZZ".
func scenarioErrText(err error) string {
	return strings.NewReplacer(sim.ErrConfig.Error()+": ", "", sim.ErrScenario.Error()+": ", "").Replace(err.Error())
}

func writeScenarioJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
