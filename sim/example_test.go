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
	// WMT #1 80.38 x 28 (80.37/80.38) volume 28
	// NFLX #1 707.69 x 40 (707.58/707.69) volume 40
	// INTC #1 22.47 x 27 (22.46/22.47) volume 27
}
