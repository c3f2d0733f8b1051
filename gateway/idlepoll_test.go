//go:build linux

package gateway

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tickcast/tickcast/feed"
)

// An idle stream on the event loop holds none of the runtime's memory
// for its connection: the runtime keeps a 512-byte poll descriptor for
// each descriptor its netpoller watches (kept for reuse, never returned
// to the OS), and the poller takes a stream's descriptor over
// (poll.Conn.Detach), so the runtime's netpoller watches none of the
// idle streams, only the poller's epoll set does. Counted in the
// process's epoll sets (/proc/self/fdinfo), with clients on raw sockets
// the runtime does not watch: one registration per stream, where the
// runtime's own made two.
func TestIdleStreamNotWatchedByRuntime(t *testing.T) {
	const n = 500
	e := newEnv(t, Options{}, feed.StreamConfig{Memory: true})
	e.publish(8)
	e.waitHub(8)
	addr := strings.TrimPrefix(e.hs.URL, "http://")
	fds := make([]int, 0, n+1)
	defer func() {
		for _, fd := range fds {
			_ = syscall.Close(fd)
		}
	}()
	fds = append(fds, rawStream(t, addr)) // starts the workers and the poller
	waitFor(t, 10*time.Second, "the first stream on the loop", func() bool { return loopCount(e.g) == 1 })
	before := epollWatches(t)
	for range n {
		fds = append(fds, rawStream(t, addr))
	}
	waitFor(t, 20*time.Second, "streams on the loop", func() bool { return loopCount(e.g) == n+1 })
	// startLoop detaches a stream before it counts on the loop; the
	// deadline only bounds the check.
	deadline := time.Now().Add(10 * time.Second)
	for {
		per := float64(epollWatches(t)-before) / n
		if per < 1.5 {
			t.Logf("%.2f epoll registrations per idle stream", per)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%.2f epoll registrations per idle stream 10 s after they opened, want 1 (the poller's: the runtime's netpoller, and its 512-byte poll descriptor, for none)", per)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// epollWatches counts the descriptors registered in all of the process's
// epoll sets.
func epollWatches(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	total := 0
	for _, ent := range ents {
		link, err := os.Readlink("/proc/self/fd/" + ent.Name())
		if err != nil || !strings.Contains(link, "eventpoll") {
			continue
		}
		info, err := os.ReadFile("/proc/self/fdinfo/" + ent.Name())
		if err != nil {
			continue
		}
		total += bytes.Count(info, []byte("\ntfd:"))
		if bytes.HasPrefix(info, []byte("tfd:")) {
			total++
		}
	}
	return total
}

// rawStream opens a stream on a blocking socket of its own, not the
// runtime's, and reads its response head (at most 10 s).
func rawStream(t *testing.T, addr string) int {
	t.Helper()
	host, portS, _ := strings.Cut(addr, ":")
	port, _ := strconv.Atoi(portS)
	if host != "127.0.0.1" {
		t.Fatalf("want a 127.0.0.1 address, got %s", addr)
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	tv := syscall.NsecToTimeval(int64(10 * time.Second))
	_ = syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
	_ = syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_SNDTIMEO, &tv)
	// The runtime's signals (preemption) interrupt blocking calls on a
	// socket of our own: each is retried on EINTR, a connect until the
	// socket is connected (at most 10 s).
	sa := &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := syscall.Connect(fd, sa)
		if err == nil || err == syscall.EISCONN {
			break
		}
		if (err != syscall.EINTR && err != syscall.EALREADY && err != syscall.EINPROGRESS) || time.Now().After(deadline) {
			syscall.Close(fd)
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	req := []byte(fmt.Sprintf("GET /v1/stream?symbols=AAA,BBB HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", addr))
	for len(req) > 0 {
		k, err := syscall.Write(fd, req)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			syscall.Close(fd)
			t.Fatal(err)
		}
		req = req[k:]
	}
	var buf [4096]byte
	got := 0
	for !bytes.Contains(buf[:got], []byte("\r\n\r\n")) {
		if got == len(buf) {
			syscall.Close(fd)
			t.Fatal("no response head in 4 KiB")
		}
		k, err := syscall.Read(fd, buf[got:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil || k == 0 {
			syscall.Close(fd)
			t.Fatalf("reading the response head: %v (got %q)", err, buf[:got])
		}
		got += k
	}
	if !bytes.HasPrefix(buf[:got], []byte("HTTP/1.1 200")) {
		syscall.Close(fd)
		t.Fatalf("response %q", buf[:got])
	}
	return fd
}
