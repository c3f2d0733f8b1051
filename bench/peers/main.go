// Command peers runs tickcast's gateway and the SSE servers users would
// pick instead side by side, under the same load from the same client
// (tickcast bench's raw-TCP SSE reader, package bench), one after the
// other on this machine, and prints a markdown table: server CPU per
// delivery, latency, the share delivered and memory per connection, with
// the machine, the commit and the date.
//
//	cd bench/peers && go run .                  # or: make peers
//	go run . --clients 100 --rate 2000 --duration 20s
//	go run . serve r3labs --rate 100            # one peer's server alone
//
// It is its own module, so tickcast's go.mod does not depend on the
// peers; it uses tickcast's packages from the checkout it sits in.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/tickcast/tickcast/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "serve" {
		return runServe(args[1:], stderr)
	}
	fs := flag.NewFlagSet("peers", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		o        options
		jsonFile string
		outFile  string
	)
	fs.IntVar(&o.clients, "clients", 1000, "SSE clients, each of every symbol")
	fs.Float64Var(&o.rate, "rate", 100, "ticks per second over all 44 symbols")
	fs.DurationVar(&o.duration, "duration", 15*time.Second, "measured window per server")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "warm-up before it")
	fs.DurationVar(&o.drain, "drain", 3*time.Second, "after it, for ticks in flight")
	fs.StringVar(&o.peers, "peers", "tickcast,r3labs,centrifuge", "servers to run, in order")
	fs.StringVar(&o.repo, "repo", "", "the tickcast checkout to build cmd/tickcast from (default: the git work tree of the current directory)")
	fs.StringVar(&outFile, "out", "", "also write the markdown to this file")
	fs.StringVar(&jsonFile, "json", "", "write every server's bench result as JSON to this file")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress lines")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.args = args
	progress := stderr
	if o.quiet {
		progress = io.Discard
	}
	o.started = time.Now().UTC().Format("2006-01-02 15:04 UTC")
	rows, err := compare(ctx, &o, progress)
	if len(rows) == 0 {
		return err
	}
	md := markdown(o, rows)
	fmt.Fprint(stdout, md)
	if outFile != "" {
		if werr := os.WriteFile(outFile, []byte(md), 0o644); werr != nil {
			return errors.Join(err, werr)
		}
	}
	if jsonFile != "" {
		b, _ := json.MarshalIndent(rows, "", "  ")
		if werr := os.WriteFile(jsonFile, append(b, '\n'), 0o644); werr != nil {
			return errors.Join(err, werr)
		}
	}
	return err
}

type options struct {
	clients                 int
	rate                    float64
	duration, warmup, drain time.Duration
	peers, repo             string
	quiet                   bool
	started                 string // when the comparison began, UTC
	args                    []string
}

// row is one server's result.
type row struct {
	Server string        `json:"server"`
	What   string        `json:"what"`
	Result *bench.Result `json:"result"`
}

// compare runs the bench against each server in turn. A server that fails
// ends the comparison with the rows so far.
func compare(ctx context.Context, o *options, progress io.Writer) ([]row, error) {
	if progress == nil {
		progress = io.Discard
	}
	var err error
	if o.repo == "" {
		if o.repo, err = git("", "rev-parse", "--show-toplevel"); err != nil {
			return nil, fmt.Errorf("find the tickcast checkout (give --repo): %w", err)
		}
	}
	tmp, err := os.MkdirTemp("", "tickcast-peers-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	var rows []row
	for _, name := range strings.Split(o.peers, ",") {
		cfg := bench.Config{Clients: o.clients, Rate: o.rate, Duration: o.duration, Warmup: o.warmup, Drain: o.drain,
			Scenario: "peers", Memory: true}
		if cfg.Warmup == 0 {
			cfg.Warmup = -1
		}
		var r row
		var child *peerChild
		switch name = strings.TrimSpace(name); name {
		case "tickcast":
			exe := filepath.Join(tmp, "tickcast")
			fmt.Fprintf(progress, "peers: building %s/cmd/tickcast\n", o.repo)
			if out, err := exec.CommandContext(ctx, "go", "build", "-C", o.repo, "-o", exe, "./cmd/tickcast").CombinedOutput(); err != nil {
				return rows, fmt.Errorf("build tickcast: %v\n%s", err, out)
			}
			cfg.Exe = exe
			r = row{Server: "tickcast", What: "tickcast serve at this commit, ticks only (as `tickcast bench` starts it: --quotes-per-trade 0 --bars none), in-memory stream"}
		default:
			p, ok := peerByName(name)
			if !ok {
				return rows, fmt.Errorf("unknown peer %q: want tickcast, r3labs or centrifuge", name)
			}
			fmt.Fprintf(progress, "peers: starting %s\n", p.name)
			if child, err = startPeer(ctx, self, p, o.rate); err != nil {
				return rows, err
			}
			cfg.Target, cfg.TargetPID, cfg.StreamPath, cfg.Framing = child.url, child.cmd.Process.Pid, p.path, p.framing
			r = row{Server: p.name, What: p.what}
		}
		res, err := bench.Run(ctx, cfg, progress)
		if child != nil {
			child.stop()
		}
		if err != nil {
			return rows, fmt.Errorf("%s: %w", name, err)
		}
		r.Result = res
		rows = append(rows, r)
	}
	return rows, nil
}

// runServe is `peers serve NAME`: one peer's server in this process.
func runServe(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("peers serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	rate := fs.Float64("rate", 100, "ticks per second over all symbols")
	if len(args) == 0 {
		return errors.New("usage: peers serve r3labs|centrifuge [--addr A] [--rate R]")
	}
	p, ok := peerByName(args[0])
	if !ok {
		return fmt.Errorf("unknown peer %q: want r3labs or centrifuge", args[0])
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	return servePeer(p, *addr, *rate)
}

// peerChild is a peer's server in its own process, so that its CPU time
// and memory are measured apart from the clients'.
type peerChild struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{} // closed when the process has exited
}

var urlRE = regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+`)

func startPeer(ctx context.Context, self string, p peer, rate float64) (*peerChild, error) {
	cmd := exec.Command(self, "serve", p.key(), "--rate", fmt.Sprint(rate))
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ch := &peerChild{cmd: cmd, done: make(chan struct{})}
	urls := make(chan string, 1) // at most one URL is sent
	go func() {                  // owned by ch: ends when the process closes stdout, then reaps it
		sc := bufio.NewScanner(out)
		sent := false
		for sc.Scan() {
			if u := urlRE.FindString(sc.Text()); u != "" && !sent {
				urls <- u
				sent = true
			}
		}
		cmd.Wait()
		close(ch.done)
	}()
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	select {
	case ch.url = <-urls:
		return ch, nil
	case <-ch.done:
		err = fmt.Errorf("%s exited before serving", p.name)
	case <-t.C:
		err = fmt.Errorf("%s printed no URL within 30s", p.name)
	case <-ctx.Done():
		err = ctx.Err()
	}
	ch.stop()
	return nil, err
}

// stop sends SIGTERM, waits up to 10 s, then kills.
func (ch *peerChild) stop() {
	ch.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-ch.done:
	case <-time.After(10 * time.Second):
		ch.cmd.Process.Kill()
		<-ch.done
	}
}

// modVersion returns the version of a module this program was built with.
func modVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == path {
				return d.Version
			}
		}
	}
	return "(unknown version)"
}

func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), err
}
