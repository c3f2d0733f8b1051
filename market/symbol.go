package market

// MaxSymbolLen is the longest symbol allowed.
const MaxSymbolLen = 16

// ValidSymbol reports whether s is a symbol: 1 to 16 upper-case ASCII
// letters, digits and '-'. Nothing else can reach a NATS subject, so no
// symbol can be a wildcard ('*', '>') or add a token ('.').
func ValidSymbol(s string) bool {
	if len(s) == 0 || len(s) > MaxSymbolLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// SymbolInfo describes one symbol of the simulated universe, as served by
// GET /v1/symbols.
type SymbolInfo struct {
	Symbol     string  `json:"symbol"`
	Name       string  `json:"name"`
	Sector     string  `json:"sector"`
	PrevClose  float64 `json:"prevClose"`
	TickSize   float64 `json:"tickSize"`   // price grid, e.g. 0.01
	Volatility float64 `json:"volatility"` // annualised, e.g. 0.30
}
