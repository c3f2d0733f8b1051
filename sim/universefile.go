package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/tickcast/tickcast/market"
)

// A universe file is JSON: an array of symbols, or an object with the
// array under "symbols", each
//
//	{"ticker": "AAPL", "name": "Apple Inc.", "sector": "Technology",
//	 "prevClose": 228.52, "volatility": 0.25, "tickSize": 0.01, "weight": 10}
//
// ticker (or "symbol", so the output of GET /v1/symbols can be read
// back), prevClose and sector are required; name defaults to the ticker,
// volatility (annualised) to 0.30, tickSize to 0.01 and weight (the
// relative tick rate) to DefaultWeight(ticker). Unknown fields are
// errors, to catch typos.

// universeEntry is one symbol of a universe file.
type universeEntry struct {
	Ticker     string   `json:"ticker"`
	Symbol     string   `json:"symbol"`
	Name       string   `json:"name"`
	Sector     string   `json:"sector"`
	PrevClose  float64  `json:"prevClose"`
	Volatility float64  `json:"volatility"`
	TickSize   float64  `json:"tickSize"`
	Weight     *float64 `json:"weight"`
}

// LoadUniverse reads a universe file (see ParseUniverse) and returns its
// symbols and their weights, for Config.Universe and Config.Weights.
// Errors name the file and, for a bad symbol, its place and ticker.
func LoadUniverse(path string) ([]market.SymbolInfo, map[string]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("sim: universe: %w", err)
	}
	defer f.Close()
	u, w, err := ParseUniverse(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return u, w, nil
}

// ParseUniverse parses a universe file: a JSON array of symbols, or an
// object {"symbols": [...]}, each with ticker (or symbol), name, sector,
// prevClose, and optional volatility, tickSize and weight. Every error
// wraps ErrConfig and says which symbol is wrong and how.
func ParseUniverse(r io.Reader) ([]market.SymbolInfo, map[string]float64, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: universe: %v", ErrConfig, err)
	}
	data = bytes.TrimSpace(data)
	var entries []universeEntry
	var dec *json.Decoder
	if len(data) > 0 && data[0] == '{' {
		var wrap struct {
			Symbols []json.RawMessage `json:"symbols"`
		}
		dec = json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&wrap); err != nil {
			return nil, nil, fmt.Errorf("%w: universe: %v", ErrConfig, jsonErr(data, err))
		}
		for i, raw := range wrap.Symbols {
			var e universeEntry
			d := json.NewDecoder(bytes.NewReader(raw))
			d.DisallowUnknownFields()
			if err := d.Decode(&e); err != nil {
				return nil, nil, fmt.Errorf("%w: universe: symbols[%d]: %v", ErrConfig, i, err)
			}
			entries = append(entries, e)
		}
	} else {
		dec = json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&entries); err != nil {
			return nil, nil, fmt.Errorf("%w: universe: %v (want a JSON array of symbols, or {\"symbols\": [...]})",
				ErrConfig, jsonErr(data, err))
		}
	}
	if dec.More() {
		return nil, nil, fmt.Errorf("%w: universe: more than one JSON value", ErrConfig)
	}
	if len(entries) == 0 {
		return nil, nil, fmt.Errorf("%w: universe: no symbols", ErrConfig)
	}

	u := make([]market.SymbolInfo, len(entries))
	w := make(map[string]float64, len(entries))
	seen := make(map[string]int, len(entries))
	for i, e := range entries {
		ticker := e.Ticker
		switch {
		case ticker == "":
			ticker = e.Symbol
		case e.Symbol != "" && e.Symbol != ticker:
			return nil, nil, fmt.Errorf("%w: universe: symbols[%d]: ticker %q and symbol %q differ", ErrConfig, i, ticker, e.Symbol)
		}
		where := fmt.Sprintf("symbols[%d] (%s)", i, ticker)
		if ticker == "" {
			return nil, nil, fmt.Errorf("%w: universe: symbols[%d]: no ticker", ErrConfig, i)
		}
		if j, dup := seen[ticker]; dup {
			return nil, nil, fmt.Errorf("%w: universe: %s: duplicate of symbols[%d]", ErrConfig, where, j)
		}
		seen[ticker] = i
		if e.Sector == "" {
			return nil, nil, fmt.Errorf("%w: universe: %s: no sector", ErrConfig, where)
		}
		if e.PrevClose == 0 {
			return nil, nil, fmt.Errorf("%w: universe: %s: no prevClose", ErrConfig, where)
		}
		in := market.SymbolInfo{Symbol: ticker, Name: e.Name, Sector: e.Sector, PrevClose: e.PrevClose,
			TickSize: e.TickSize, Volatility: e.Volatility}
		if in.Name == "" {
			in.Name = ticker
		}
		if err := checkInfo(&in); err != nil {
			return nil, nil, fmt.Errorf("%w: universe: %s: %v", ErrConfig, where, err)
		}
		u[i] = in
		w[ticker] = DefaultWeight(ticker)
		if e.Weight != nil {
			if !positive(*e.Weight) {
				return nil, nil, fmt.Errorf("%w: universe: %s: weight %v is not positive", ErrConfig, where, *e.Weight)
			}
			w[ticker] = *e.Weight
		}
	}
	return u, w, nil
}

// jsonErr adds the line and column to a JSON syntax or type error.
func jsonErr(data []byte, err error) error {
	var off int64
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	default:
		return err
	}
	line := 1 + bytes.Count(data[:min(int(off), len(data))], []byte("\n"))
	col := int(off) - bytes.LastIndexByte(data[:min(int(off), len(data))], '\n') - 1
	return fmt.Errorf("line %d, column %d: %w", line, col, err)
}
