//go:build linux

package poll

import (
	"net"
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

func wait(t *testing.T, ch chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: not within 10s", what)
	}
}

// A full socket says when it drains; a client's close is noticed; what a
// client sends is read and dropped.
func TestPoller(t *testing.T) {
	p, err := Get()
	if err != nil {
		t.Fatal(err)
	}
	sv, cl := pair(t)
	gone, writable := make(chan struct{}, 1), make(chan struct{}, 1)
	pc, err := p.Add(sv, func() { gone <- struct{}{} }, func() { writable <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Write([]byte("ignored")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1<<20)
	full := false
	for range 256 {
		n, err := pc.Write(b)
		if err != nil {
			t.Fatal(err)
		}
		if n < len(b) {
			full = true
			break
		}
	}
	if !full {
		t.Fatal("256 MiB written to a client that reads nothing")
	}
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
