//go:build linux

package poll

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// pair returns a connected loopback pair: the server's side and the
// client's.
func pair(t *testing.T) (*net.TCPConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cl, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close(); sv.Close() })
	return sv.(*net.TCPConn), cl
}

// handler is a Handler of two funcs.
type handler struct{ gone, writable func() }

func (h handler) Gone()     { h.gone() }
func (h handler) Writable() { h.writable() }

func wait(t *testing.T, ch chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: not within 10s", what)
	}
}

// addSignalling adds sv to p with a handler that signals gone and
// writable on the channels it returns.
func addSignalling(t *testing.T, p *Poller, sv *net.TCPConn) (pc *Conn, gone, writable chan struct{}) {
	t.Helper()
	gone, writable = make(chan struct{}, 1), make(chan struct{}, 1)
	pc, err := p.Add(sv, handler{func() { gone <- struct{}{} }, func() { writable <- struct{}{} }})
	if err != nil {
		t.Fatal(err)
	}
	return pc, gone, writable
}

// fill writes to pc until the socket takes no more (a client that reads
// nothing), failing after 256 MiB.
func fill(t *testing.T, pc *Conn) {
	t.Helper()
	b := make([]byte, 1<<20)
	for range 256 {
		n, err := pc.Write(b)
		if err != nil {
			t.Fatal(err)
		}
		if n < len(b) {
			return
		}
	}
	t.Fatal("256 MiB written to a client that reads nothing")
}

// A full socket says when it drains; a client's close is noticed; what a
// client sends is read and dropped.
func TestPoller(t *testing.T) {
	p, err := Get()
	if err != nil {
		t.Fatal(err)
	}
	sv, cl := pair(t)
	pc, gone, writable := addSignalling(t, p, sv)
	if _, err := cl.Write([]byte("ignored")); err != nil {
		t.Fatal(err)
	}
	fill(t, pc)
	if !pc.ArmOut() {
		t.Fatal("ArmOut: the connection left the poller")
	}
	go func() { // drain
		buf := make([]byte, 1<<20)
		for {
			if _, err := cl.Read(buf); err != nil {
				return
			}
		}
	}()
	wait(t, writable, "writable after the client read")
	cl.Close()
	wait(t, gone, "gone after the client closed")
	if pc.ArmOut() {
		t.Fatal("ArmOut after the client left")
	}
	pc.End()
}

// After Detach the connection is the poller's alone: the net.TCPConn is
// closed (its runtime state released) and the stream goes on as before:
// writes arrive, a full socket says when it drains, the client's close is
// noticed, and End half-closes after the last bytes and closes.
func TestDetach(t *testing.T) {
	p, err := Get()
	if err != nil {
		t.Fatal(err)
	}
	sv, cl := pair(t)
	pc, _, writable := addSignalling(t, p, sv)
	if err := pc.Detach(); err != nil {
		t.Fatal(err)
	}
	if _, err := sv.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("the net.TCPConn after Detach: write error %v, want net.ErrClosed", err)
	}
	if _, err := cl.Write([]byte("ignored")); err != nil {
		t.Fatal(err)
	}
	if n, err := pc.Write([]byte("hello")); n != 5 || err != nil {
		t.Fatalf("Write after Detach: %d, %v", n, err)
	}
	got := make([]byte, 5)
	_ = cl.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(cl, got); err != nil || string(got) != "hello" {
		t.Fatalf("client read %q, %v", got, err)
	}
	fill(t, pc)
	if !pc.ArmOut() {
		t.Fatal("ArmOut failed")
	}
	_ = cl.SetReadDeadline(time.Time{})
	drained := make(chan error, 1)
	go func() { // drain until the server's half-close
		_, err := io.Copy(io.Discard, cl)
		drained <- err
	}()
	wait(t, writable, "writable after the client read")
	pc.End()
	select {
	case err := <-drained:
		if err != nil {
			t.Fatalf("client read after End: %v, want EOF", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no EOF at the client within 10s of End")
	}
	cl.Close()
	if _, err := pc.Write([]byte("late")); err == nil {
		deadline := time.Now().Add(10 * time.Second)
		for err == nil && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
			_, err = pc.Write([]byte("late"))
		}
		if err == nil {
			t.Fatal("Write still succeeds 10s after the client closed an ended stream")
		}
	}
}

// A client that closes is noticed on a detached connection.
func TestDetachGone(t *testing.T) {
	p, err := Get()
	if err != nil {
		t.Fatal(err)
	}
	sv, cl := pair(t)
	gone := make(chan struct{}, 1)
	pc, err := p.Add(sv, handler{func() { gone <- struct{}{} }, func() {}})
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.Detach(); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	wait(t, gone, "gone after the client closed")
	if pc.ArmOut() {
		t.Fatal("ArmOut after the client left")
	}
	pc.End()
	if _, err := pc.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after End of a gone client: %v, want net.ErrClosed", err)
	}
}

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// Detach racing a client's close, on many connections at once: every
// client's close is noticed, and once each stream ended (End) no
// descriptor is left open: none leaks, none is closed twice.
func TestDetachRacingCloseLeaksNoDescriptor(t *testing.T) {
	p, err := Get()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const n = 200
	before := openFDs(t)
	var wg sync.WaitGroup
	gone := make(chan struct{}, n)
	for i := range n {
		cl, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		sv, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		pc, err := p.Add(sv.(*net.TCPConn), handler{func() { gone <- struct{}{} }, func() {}})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(2)
		go func() { defer wg.Done(); _ = pc.Detach(); _, _ = pc.Write([]byte("data: x\n\n")) }()
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				time.Sleep(time.Millisecond)
			}
			cl.Close()
		}()
		defer pc.End()
	}
	wg.Wait()
	for i := range n {
		wait(t, gone, fmt.Sprintf("gone %d of %d", i+1, n))
	}
	// The deferred Ends close every detached descriptor (the clients are
	// gone): check after them, in a cleanup.
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for {
			now := openFDs(t)
			if now < before { // the listener, counted in before, is closed
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("%d descriptors open after every stream ended and the listener closed, %d before", now, before)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}
