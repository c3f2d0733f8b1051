package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// The bench shares the machine with the gateway it measures. When the two
// together (or other programs) keep every core busy, a tick waits for a
// core in the client as much as in the gateway, and the latency measured
// is the machine's, not the gateway's. A run watches three things over its
// window and calls the machine saturated when any one says so:
//
//   - the CPU the gateway and the bench used, against the cores there are
//     (SaturatedCPUShare of them);
//   - how busy the whole machine was (/proc/stat), other programs included
//     (the same share);
//   - how long the bench's threads waited in the kernel's run queue for a
//     core (/proc/self/task/*/schedstat) while they had bytes to read:
//     over SaturatedWait of the window;
//   - the bench's own scheduling lag: a goroutine that asks to wake every
//     lagTick and notes how late it woke, which is how long a client
//     goroutine waited for the Go scheduler (p99 over SaturatedLag).

// Saturation thresholds.
const (
	SaturatedCPUShare = 0.9
	SaturatedWait     = 0.1
	SaturatedLag      = 10 * time.Millisecond
	lagTick           = 10 * time.Millisecond
)

// Saturation is what a run found about the machine it ran on.
type Saturation struct {
	// MachineBusy is the share of all CPUs' time that was busy in the
	// window, every program counted (from /proc/stat); -1: not known.
	MachineBusy float64 `json:"machine_busy"`
	// CPUShare is the gateway's and the bench's CPU time over the window,
	// as a share of all CPUs (0 to 1).
	CPUShare float64 `json:"cpu_share"`
	// BenchWaitS is how long the bench's threads waited for a CPU in the
	// window (run queue time, all threads), seconds; -1: not known.
	BenchWaitS float64 `json:"bench_wait_s"`
	// SchedLag is how late the bench's probe goroutine woke, us.
	SchedLag Latency `json:"sched_lag_us"`
	// Reasons says why the run counts as saturated; empty when it does
	// not.
	Reasons []string `json:"reasons,omitempty"`
}

// selfCPU returns this process's user+system CPU time, with microsecond
// resolution (getrusage).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runWait returns how long this process's threads have waited in the
// kernel's run queue, the second field of each /proc/self/task/*/schedstat
// (threads that exited are not counted).
func runWait() (time.Duration, bool) {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0, false
	}
	var sum int64
	for _, t := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + t.Name() + "/schedstat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) < 2 {
			return 0, false
		}
		v, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return 0, false
		}
		sum += v
	}
	return time.Duration(sum), true
}

// machineTicks returns the busy and total jiffies of all CPUs together,
// from the first line of /proc/stat.
func machineTicks() (busy, total int64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("bench: bad /proc/stat")
	}
	// user nice system idle iowait irq softirq steal (guest time is
	// already in user)
	for i, s := range f[1:min(len(f), 9)] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("bench: bad /proc/stat")
		}
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total, nil
}

// lagProbe measures the bench's scheduling lag until stop is called.
type lagProbe struct {
	hist *hdrhistogram.Histogram // only the probe goroutine writes it until done closes
	quit chan struct{}
	done chan struct{}
}

// startLagProbe starts the probe goroutine; the caller owns it and ends
// it with stop.
func startLagProbe() *lagProbe {
	p := &lagProbe{hist: hdrhistogram.New(1, maxLatencyUs, 3), quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		t := time.NewTimer(lagTick)
		defer t.Stop()
		want := time.Now().Add(lagTick)
		for {
			select {
			case <-p.quit:
				return
			case now := <-t.C:
				p.hist.RecordValue(min(max(now.Sub(want).Microseconds(), 0), maxLatencyUs))
				want = time.Now().Add(lagTick)
				t.Reset(lagTick)
			}
		}
	}()
	return p
}

// stop ends the probe and returns what it measured.
func (p *lagProbe) stop() Latency {
	close(p.quit)
	<-p.done
	h := p.hist
	return Latency{P50: h.ValueAtQuantile(50), P90: h.ValueAtQuantile(90), P99: h.ValueAtQuantile(99),
		P999: h.ValueAtQuantile(99.9), Max: h.Max(), Mean: h.Mean()}
}

// machineWindow is the machine's state at the start of a window.
type machineWindow struct {
	busy, total int64
	ok          bool
	wait        time.Duration
	waitOK      bool
	probe       *lagProbe
}

func startMachineWindow() *machineWindow {
	w := &machineWindow{probe: startLagProbe()}
	var err error
	w.busy, w.total, err = machineTicks()
	w.ok = err == nil
	w.wait, w.waitOK = runWait()
	return w
}

// end stops the window's probe and judges the run: gatewayCPU and
// benchCPU are the two processes' CPU time over a window of d on cpus
// CPUs (gatewayCPU 0: not measured).
func (w *machineWindow) end(gatewayCPU, benchCPU float64, d time.Duration, cpus int) *Saturation {
	s := &Saturation{MachineBusy: -1, BenchWaitS: -1, SchedLag: w.probe.stop()}
	if wait, ok := runWait(); ok && w.waitOK {
		s.BenchWaitS = max(wait-w.wait, 0).Seconds()
	}
	if busy, total, err := machineTicks(); err == nil && w.ok && total > w.total {
		s.MachineBusy = float64(busy-w.busy) / float64(total-w.total)
	}
	if d > 0 && cpus > 0 {
		s.CPUShare = (gatewayCPU + benchCPU) / (d.Seconds() * float64(cpus))
	}
	if s.CPUShare >= SaturatedCPUShare {
		s.Reasons = append(s.Reasons, fmt.Sprintf("gateway and bench used %.0f%% of the %d CPUs", 100*s.CPUShare, cpus))
	}
	if s.MachineBusy >= SaturatedCPUShare {
		s.Reasons = append(s.Reasons, fmt.Sprintf("the machine was %.0f%% busy", 100*s.MachineBusy))
	}
	if d > 0 && s.BenchWaitS >= SaturatedWait*d.Seconds() {
		s.Reasons = append(s.Reasons, fmt.Sprintf("the bench's threads waited %.2fs for a CPU in %gs", s.BenchWaitS, d.Seconds()))
	}
	if lag := time.Duration(s.SchedLag.P99) * time.Microsecond; lag >= SaturatedLag {
		s.Reasons = append(s.Reasons, fmt.Sprintf("the bench's goroutines waited up to %s for a CPU (p99)", fmtUs(s.SchedLag.P99)))
	}
	return s
}
