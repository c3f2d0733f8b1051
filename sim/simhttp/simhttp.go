// Package simhttp serves the simulator's scenario control over HTTP:
//
//	GET  /v1/sim/scenario  200 {"scenario": {...}}: the one in force
//	POST /v1/sim/scenario  a scenario as JSON (Content-Type:
//	                       application/json): 200 {"scenario": {...}},
//	                       or 400 {"error": "..."}
//
// The scenario is a sim.Scenario in its JSON form; the reply's is a
// sim.ScenarioState. The JSON content type is required so that another
// web site cannot post one from a visitor's browser without a CORS
// preflight. Responses and errors are written by package httpapi, as the
// gateway's are. Routes are added to a chi.Router, such as the gateway's
// gateway.Options.Routes, which puts them behind its access check.
package simhttp

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/tickcast/tickcast/httpapi"
	"github.com/tickcast/tickcast/sim"
)

// Controller is what the routes need of a *sim.Sim.
type Controller interface {
	SetScenario(sim.Scenario) error
	Scenario() sim.ScenarioState
}

// maxBody bounds a POST /v1/sim/scenario body.
const maxBody = 4 << 10

// Routes returns the routes that show and set ctl's scenario (see the
// package doc). log, if not nil, gets a line for every scenario set.
func Routes(ctl Controller, log *slog.Logger) func(chi.Router) {
	return func(r chi.Router) {
		r.Get("/v1/sim/scenario", func(w http.ResponseWriter, r *http.Request) {
			httpapi.WriteJSON(w, http.StatusOK, map[string]any{"scenario": ctl.Scenario()})
		})
		r.Post("/v1/sim/scenario", func(w http.ResponseWriter, r *http.Request) {
			sc, err := decodeScenario(w, r)
			if err == nil {
				err = ctl.SetScenario(sc)
			}
			if err != nil {
				httpapi.WriteError(w, r, log, httpapi.BadRequest("%s", ErrText(err)))
				return
			}
			st := ctl.Scenario()
			if log != nil {
				log.Info("scenario set", "name", st.Name, "symbol", st.Symbol, "duration", st.Duration, "size", st.Size, "remote", r.RemoteAddr)
			}
			httpapi.WriteJSON(w, http.StatusOK, map[string]any{"scenario": st})
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
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(&sc); err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return sc, fmt.Errorf("body over %d bytes", maxBody)
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

// ErrText is err's message without the sim package's prefixes, for
// people: "halt: unknown symbol ZZZ". The routes answer with it; the
// command line reports a bad --scenario with it.
func ErrText(err error) string {
	return strings.NewReplacer(sim.ErrConfig.Error()+": ", "", sim.ErrScenario.Error()+": ", "").Replace(err.Error())
}
