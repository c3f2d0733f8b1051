package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// markdown renders the comparison: where and when it ran, the command,
// the table, and exactly what each row ran.
func markdown(o options, rows []row) string {
	var b strings.Builder
	commit, _ := git(o.repo, "rev-parse", "--short=12", "HEAD")
	if st, _ := git(o.repo, "status", "--porcelain", "--untracked-files=no"); st != "" {
		commit += " (with uncommitted changes)"
	}
	fmt.Fprintf(&b, "Side by side, %s, commit %s, on %s.\n\n", o.started, commit, machine())
	cmd := "cd bench/peers && go run ."
	if len(o.args) > 0 {
		cmd += " " + strings.Join(o.args, " ")
	}
	fmt.Fprintf(&b, "Command: `%s`. Load: %d clients of every symbol (44), %g ticks/s over all of them (%s deliveries/s offered), %s measured after %s warm-up; each server in its own process, one at a time, the same load client for all (tickcast bench's raw-TCP SSE reader, on the same machine).\n\n",
		cmd, o.clients, o.rate, count(o.rate*float64(o.clients)), o.duration, o.warmup)
	b.WriteString("| server | server CPU per delivery | p50 | p99 | delivered | RSS per connection (connected / under load) | bench CPU per delivery | machine saturated |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		res := r.Result
		delivered := "-"
		if res.OfferedPerSec > 0 {
			delivered = fmt.Sprintf("%.1f%%", 100*res.DeliveriesPerSec/res.OfferedPerSec)
		}
		if res.Gaps > 0 || res.Disconnects > 0 {
			delivered += fmt.Sprintf(" (%d lost, %d cut)", res.Gaps, res.Disconnects)
		}
		if res.Merged > 0 {
			delivered += fmt.Sprintf(" (%d merged)", res.Merged)
		}
		load := 0.0
		if res.Connected > 0 {
			load = float64(res.RSSBytes-res.RSSBaseBytes) / float64(res.Connected)
		}
		sat := "no"
		if res.Saturated {
			sat = "yes"
		}
		fmt.Fprintf(&b, "| %s | %.2f us | %s | %s | %s | %s / %s | %.2f us | %s |\n",
			r.Server, res.GatewayCPUUsPerDelivery, ms(res.Latency.P50), ms(res.Latency.P99), delivered,
			kib(res.RSSPerConnBytes), kib(load), res.BenchCPUUsPerDelivery, sat)
	}
	b.WriteString("\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "- %s: %s.\n", r.Server, r.What)
	}
	return b.String()
}

func ms(us int64) string { return strconv.FormatFloat(float64(us)/1000, 'f', 1, 64) + " ms" }

func kib(b float64) string { return strconv.FormatFloat(b/1024, 'f', 1, 64) + " KiB" }

func count(f float64) string {
	s := strconv.FormatFloat(f, 'f', 0, 64)
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// machine describes this machine: CPU model and count, kernel, Go.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel := "unknown kernel"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = "Linux " + strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%d x %s, %s, %s", runtime.NumCPU(), model, kernel, runtime.Version())
}
