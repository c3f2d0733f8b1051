package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// A window in which the gateway and the bench used all the CPUs is
// saturated, and the report says so in the table and in the JSON, so a
// user does not read the bench's own overload as the gateway's latency.
func TestSaturationReported(t *testing.T) {
	w := startMachineWindow()
	s := w.end(1.9, 1.8, 2*time.Second, 2) // 3.7 s of CPU in 2 s on 2 CPUs
	if len(s.Reasons) == 0 || s.CPUShare < 0.9 {
		t.Fatalf("saturation %+v: want a reason for 92%% of the CPUs", s)
	}
	res := &Result{Scenario: "all", Clients: 1, Rate: 1, DurationS: 2, CPUs: 2, Delivered: 100,
		GatewayCPUS: 1.9, BenchCPUS: 1.8, BenchCPUUsPerDelivery: 18000, Machine: s, Saturated: true}
	var tab bytes.Buffer
	res.WriteTable(&tab)
	if !strings.Contains(tab.String(), "WARNING: the machine was saturated (gateway and bench used 92% of the 2 CPUs") ||
		!strings.Contains(tab.String(), "18000.00 us/delivery") {
		t.Errorf("table:\n%s", tab.String())
	}
	b, _ := json.Marshal(res)
	var m map[string]any
	json.Unmarshal(b, &m)
	for _, k := range []string{"saturated", "bench_cpu_s", "bench_cpu_us_per_delivery", "gateway_cpu_us_per_delivery", "gateway_cpu_s", "machine"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON has no %q: %s", k, b)
		}
	}
	if m["saturated"] != true {
		t.Errorf("saturated = %v", m["saturated"])
	}

	res.Saturated, res.Machine.Reasons = false, nil
	tab.Reset()
	res.WriteTable(&tab)
	if strings.Contains(tab.String(), "WARNING") {
		t.Errorf("unsaturated run warns:\n%s", tab.String())
	}
}
