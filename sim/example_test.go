package sim_test

import (
	"fmt"
	"time"

	"github.com/tickcast/tickcast/sim"
)

func ExampleSim_Next() {
	s, err := sim.New(sim.Config{Seed: 1})
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 11, 23, 14, 30, 0, 0, time.UTC)
	for range 3 {
		t := s.Next(now)
		fmt.Printf("%s #%d %v x %d (%v/%v) volume %d\n", t.Symbol, t.Seq, t.Price, t.Size, t.Bid, t.Ask, t.Volume)
	}
	// Output:
	// WMT #1 80.37 x 100 (80.37/80.38) volume 100
	// JPM #1 211.88 x 100 (211.88/211.89) volume 100
	// AMD #1 153.87 x 100 (153.84/153.87) volume 100
}
