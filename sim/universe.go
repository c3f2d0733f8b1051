package sim

import "github.com/tickcast/tickcast/market"

// Sector names of the default universe.
const (
	SectorTechnology    = "Technology"
	SectorCommunication = "Communication Services"
	SectorDiscretionary = "Consumer Discretionary"
	SectorStaples       = "Consumer Staples"
	SectorFinancials    = "Financials"
	SectorHealthCare    = "Health Care"
	SectorEnergy        = "Energy"
	SectorIndustrials   = "Industrials"
)

// defaultSymbol is one row of the default universe: what SymbolInfo
// carries, plus how busy the symbol is (its relative tick rate).
type defaultSymbol struct {
	symbol, name, sector string
	prevClose, vol       float64
	weight               float64
}

// defaults is the default universe. Prices and volatilities are plausible,
// not quotes; weights roughly follow how actively each name trades.
var defaults = [...]defaultSymbol{
	{"AAPL", "Apple Inc.", SectorTechnology, 228.52, 0.25, 10},
	{"MSFT", "Microsoft Corporation", SectorTechnology, 415.26, 0.22, 8},
	{"NVDA", "NVIDIA Corporation", SectorTechnology, 124.92, 0.50, 12},
	{"AVGO", "Broadcom Inc.", SectorTechnology, 171.40, 0.42, 5},
	{"ORCL", "Oracle Corporation", SectorTechnology, 162.07, 0.30, 3},
	{"AMD", "Advanced Micro Devices, Inc.", SectorTechnology, 152.33, 0.50, 6},
	{"CRM", "Salesforce, Inc.", SectorTechnology, 289.64, 0.32, 3},
	{"INTC", "Intel Corporation", SectorTechnology, 22.41, 0.45, 5},

	{"GOOGL", "Alphabet Inc. Class A", SectorCommunication, 165.81, 0.28, 7},
	{"META", "Meta Platforms, Inc.", SectorCommunication, 563.10, 0.35, 7},
	{"NFLX", "Netflix, Inc.", SectorCommunication, 702.55, 0.35, 3},
	{"DIS", "The Walt Disney Company", SectorCommunication, 95.12, 0.25, 3},
	{"VZ", "Verizon Communications Inc.", SectorCommunication, 41.37, 0.18, 2},

	{"AMZN", "Amazon.com, Inc.", SectorDiscretionary, 186.43, 0.32, 8},
	{"TSLA", "Tesla, Inc.", SectorDiscretionary, 248.98, 0.60, 11},
	{"HD", "The Home Depot, Inc.", SectorDiscretionary, 391.20, 0.22, 2},
	{"MCD", "McDonald's Corporation", SectorDiscretionary, 297.35, 0.17, 2},
	{"NKE", "NIKE, Inc.", SectorDiscretionary, 81.66, 0.30, 3},

	{"WMT", "Walmart Inc.", SectorStaples, 80.12, 0.18, 4},
	{"PG", "The Procter & Gamble Company", SectorStaples, 168.90, 0.15, 2},
	{"KO", "The Coca-Cola Company", SectorStaples, 70.04, 0.14, 2},
	{"PEP", "PepsiCo, Inc.", SectorStaples, 167.45, 0.16, 2},
	{"COST", "Costco Wholesale Corporation", SectorStaples, 885.31, 0.20, 2},

	{"JPM", "JPMorgan Chase & Co.", SectorFinancials, 211.44, 0.22, 5},
	{"BRK-B", "Berkshire Hathaway Inc. Class B", SectorFinancials, 452.77, 0.16, 2},
	{"V", "Visa Inc.", SectorFinancials, 279.15, 0.18, 3},
	{"MA", "Mastercard Incorporated", SectorFinancials, 495.02, 0.19, 2},
	{"BAC", "Bank of America Corporation", SectorFinancials, 39.83, 0.26, 5},
	{"GS", "The Goldman Sachs Group, Inc.", SectorFinancials, 497.60, 0.27, 2},

	{"UNH", "UnitedHealth Group Incorporated", SectorHealthCare, 585.34, 0.24, 3},
	{"JNJ", "Johnson & Johnson", SectorHealthCare, 161.27, 0.16, 3},
	{"LLY", "Eli Lilly and Company", SectorHealthCare, 902.18, 0.32, 3},
	{"PFE", "Pfizer Inc.", SectorHealthCare, 28.96, 0.24, 4},
	{"MRK", "Merck & Co., Inc.", SectorHealthCare, 113.05, 0.22, 3},
	{"ABBV", "AbbVie Inc.", SectorHealthCare, 192.73, 0.23, 2},

	{"XOM", "Exxon Mobil Corporation", SectorEnergy, 117.85, 0.24, 4},
	{"CVX", "Chevron Corporation", SectorEnergy, 147.62, 0.24, 3},
	{"COP", "ConocoPhillips", SectorEnergy, 105.30, 0.30, 2},
	{"SLB", "Schlumberger Limited", SectorEnergy, 41.95, 0.35, 2},

	{"CAT", "Caterpillar Inc.", SectorIndustrials, 362.40, 0.28, 2},
	{"BA", "The Boeing Company", SectorIndustrials, 155.88, 0.38, 3},
	{"GE", "GE Aerospace", SectorIndustrials, 188.24, 0.30, 2},
	{"HON", "Honeywell International Inc.", SectorIndustrials, 207.51, 0.19, 2},
	{"UPS", "United Parcel Service, Inc.", SectorIndustrials, 128.36, 0.26, 2},
}

// DefaultUniverse returns the default simulated universe: 44 large US
// stocks in 8 sectors, each with a plausible previous close, a 0.01 tick
// size and an annualised volatility. The slice is new on every call.
func DefaultUniverse() []market.SymbolInfo {
	u := make([]market.SymbolInfo, len(defaults))
	for i, d := range defaults {
		u[i] = market.SymbolInfo{
			Symbol:     d.symbol,
			Name:       d.name,
			Sector:     d.sector,
			PrevClose:  d.prevClose,
			TickSize:   0.01,
			Volatility: d.vol,
		}
	}
	return u
}

// DefaultWeight is the relative tick rate New gives symbol when
// Config.Weights does not name it: the default universe's weight for its
// symbols (from 2 for quiet names to 12 for NVDA), 3 for any other.
func DefaultWeight(symbol string) float64 {
	for _, d := range defaults {
		if d.symbol == symbol {
			return d.weight
		}
	}
	return 3
}
