package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// child is the gateway under test, `tickcast serve` in its own process so
// that its CPU time and memory are measured apart from the clients'.
type child struct {
	cmd  *exec.Cmd
	dir  string
	url  string
	tail *tailBuf
	done chan struct{} // closed when the process has exited
	err  error         // its Wait error, set before done closes
}

var urlRE = regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+`)

// serveArgs returns the arguments for `tickcast serve`.
func serveArgs(cfg *Config, dir string) []string {
	args := []string{"serve", "--addr", "127.0.0.1:0", "--data", dir,
		"--rate", strconv.FormatFloat(cfg.Rate, 'f', -1, 64),
		"--seed", strconv.FormatInt(cfg.Seed, 10),
		// An open-loop benchmark needs the offered rate to be exactly
		// --rate: no intraday activity curve, evenly spaced ticks.
		"--session=false", "--arrivals", "regular",
		// Ticks only, as the fan-out it measures: quotes (8 per tick)
		// and bars would load the server with messages no client
		// asks for. cfg.ServeArgs can turn them on again (later flags
		// win).
		"--quotes-per-trade", "0", "--bars", "none"}
	if cfg.Symbols > 0 && len(cfg.SymbolList) == 0 {
		args = append(args, "--symbols", strconv.Itoa(cfg.Symbols))
	}
	if cfg.Memory {
		args = append(args, "--memory")
	}
	if cfg.MaxConns > 0 {
		args = append(args, "--max-conns", strconv.Itoa(cfg.MaxConns))
	}
	if cfg.WriteTimeout > 0 {
		args = append(args, "--write-timeout", cfg.WriteTimeout.String())
	}
	if cfg.AcceptEncoding != "" {
		args = append(args, "--compress", "auto") // whatever the clients ask for
	}
	return append(args, cfg.ServeArgs...)
}

// startChild starts the gateway and waits for the URL it prints.
func startChild(ctx context.Context, cfg *Config) (*child, error) {
	dir, err := os.MkdirTemp("", "tickcast-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	ch, err := spawnChild(ctx, cfg, dir)
	if err != nil {
		os.RemoveAll(dir)
	}
	return ch, err
}

// spawnChild starts the gateway on the store in dir, with more arguments
// after serveArgs' (a later --addr wins), and waits for the URL it prints.
// The child owns dir from then on: stop removes it. On failure dir stays.
func spawnChild(ctx context.Context, cfg *Config, dir string, more ...string) (*child, error) {
	exe := cfg.Exe
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("bench: find executable: %w", err)
		}
	}
	ch := &child{dir: dir, tail: &tailBuf{max: 16 << 10, echo: cfg.ChildOutput}, done: make(chan struct{})}
	ch.cmd = exec.Command(exe, append(serveArgs(cfg, dir), more...)...)
	ch.cmd.Env = append(os.Environ(), cfg.ChildEnv...)
	ch.cmd.Stderr = ch.tail
	ch.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	out, err := ch.cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if err := ch.cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start %s: %w", exe, err)
	}
	urls := make(chan string, 1) // the reader sends at most one URL
	var copied sync.WaitGroup
	copied.Add(1)
	go func() { // owned by child: ends when the process closes stdout
		defer copied.Done()
		sc := bufio.NewScanner(out)
		sent := false
		for sc.Scan() {
			line := sc.Bytes()
			ch.tail.Write(line)
			ch.tail.Write([]byte{'\n'})
			if !sent {
				if u := urlRE.Find(line); u != nil {
					urls <- string(u)
					sent = true
				}
			}
		}
		io.Copy(io.Discard, out)
	}()
	go func() { // owned by child: reaps the process
		copied.Wait()
		ch.err = ch.cmd.Wait()
		close(ch.done)
	}()
	t := time.NewTimer(60 * time.Second)
	defer t.Stop()
	select {
	case ch.url = <-urls:
		return ch, nil
	case <-ch.done:
		err = fmt.Errorf("bench: gateway exited before serving (%v); its output:\n%s", ch.err, ch.tail.String())
	case <-t.C:
		err = fmt.Errorf("bench: gateway printed no http://127.0.0.1:PORT line within 60s; its output:\n%s", ch.tail.String())
	case <-ctx.Done():
		err = ctx.Err()
	}
	ch.signalWait(syscall.SIGTERM, 10*time.Second)
	return nil, err
}

// pid returns the child's process id.
func (ch *child) pid() int { return ch.cmd.Process.Pid }

// stop sends SIGTERM, waits up to 10 s, then kills; and removes the data
// directory.
func (ch *child) stop() error {
	defer os.RemoveAll(ch.dir)
	return ch.signalWait(syscall.SIGTERM, 10*time.Second)
}

// signalWait sends sig unless the child has exited, waits up to within
// for it to exit, then kills it; the data directory stays.
func (ch *child) signalWait(sig syscall.Signal, within time.Duration) error {
	select {
	case <-ch.done:
		return ch.exitErr()
	default:
	}
	ch.cmd.Process.Signal(sig)
	t := time.NewTimer(within)
	defer t.Stop()
	select {
	case <-ch.done:
		return ch.exitErr()
	case <-t.C:
		ch.cmd.Process.Kill()
		<-ch.done
		return fmt.Errorf("bench: gateway did not stop within %v of %s; killed", within, sigName(sig))
	}
}

func sigName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGKILL:
		return "SIGKILL"
	}
	return sig.String()
}

// cpu returns the CPU time (user+system) of the exited child, from its
// rusage.
func (ch *child) cpu() time.Duration {
	<-ch.done
	if ps := ch.cmd.ProcessState; ps != nil {
		return ps.UserTime() + ps.SystemTime()
	}
	return 0
}

func (ch *child) exitErr() error {
	var ee *exec.ExitError
	if errors.As(ch.err, &ee) && ee.Exited() && ee.ExitCode() == 0 {
		return nil
	}
	if errors.As(ch.err, &ee) && !ee.Exited() { // ended by our signal
		return nil
	}
	if ch.err != nil {
		return fmt.Errorf("bench: gateway: %w", ch.err)
	}
	return nil
}

// tailBuf keeps the last max bytes written to it, and copies them to echo
// if set.
type tailBuf struct {
	mu   sync.Mutex
	max  int
	b    []byte
	echo io.Writer
}

func (t *tailBuf) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.echo != nil {
		t.echo.Write(p)
	}
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuf) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// userHZ is the unit of utime and stime in /proc/PID/stat: USER_HZ, 100 on
// every Linux architecture Go supports.
const userHZ = 100

// procCPU returns a process's user+system CPU time, all threads.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("bench: bad /proc/%d/stat", pid)
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3 (state); utime is field 14
	if len(f) < 13 {
		return 0, fmt.Errorf("bench: bad /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	st, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bench: bad /proc/%d/stat", pid)
	}
	return time.Duration(ut+st) * time.Second / userHZ, nil
}

// procMem returns a process's resident set size and its peak, in bytes.
func procMem(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		var dst *int64
		switch string(k) {
		case "VmRSS":
			dst = &rss
		case "VmHWM":
			dst = &hwm
		default:
			continue
		}
		f := bytes.Fields(v)
		if len(f) >= 1 {
			n, _ := strconv.ParseInt(string(f[0]), 10, 64)
			*dst = n << 10 // kB
		}
	}
	return rss, hwm, nil
}
