package ssetest

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/tickcast/tickcast/bench"
)

func TestParse(t *testing.T) {
	evs, err := Parse([]byte("retry: 1000\n\n: hello\n\nevent: reset\ndata: {}\n\nevent: tick\nid: e-1\ndata: a\ndata: b\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Event{{Type: Retry, Data: "1000"}, {Type: Comment, Data: " hello"}, {Type: "reset", Data: "{}"}, {Type: "tick", ID: "e-1", Data: "a\nb"}}
	if len(evs) != len(want) {
		t.Fatalf("%+v", evs)
	}
	for i := range want {
		if got := evs[i]; got.Type != want[i].Type || got.ID != want[i].ID || got.Data != want[i].Data {
			t.Errorf("%d: %+v, want %+v", i, got, want[i])
		}
	}
	for _, bad := range []string{"data: x\r\n\r\n", "bogus: 1\n\n", "id:\n\n", "data: x", "\xEF\xBB\xBFdata: x\n\n"} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestRead(t *testing.T) {
	pr, pw := io.Pipe()
	r := Read(pr, 4)
	go func() {
		_, _ = io.WriteString(pw, "retry: 700\n\nevent: tick\nid: e-2\n")
		time.Sleep(10 * time.Millisecond)
		_, _ = io.WriteString(pw, "data: x\n\nwhat\n\n")
		pw.Close()
	}()
	ev := <-r.Events
	if ev.Type != "tick" || ev.ID != "e-2" || ev.Data != "x" || r.Retry() != "700" {
		t.Fatalf("%+v, retry %q", ev, r.Retry())
	}
	if ev := <-r.Events; ev.Type != Bad || !strings.Contains(ev.Data, "unknown line") {
		t.Fatalf("%+v", ev)
	}
	if _, ok := <-r.Events; ok {
		t.Fatal("Events not closed")
	}
}

func TestScanStops(t *testing.T) {
	n := 0
	err := Scan(strings.NewReader("data: 1\n\ndata: 2\n\ndata: 3\n\n"), func(Event) bool { n++; return n < 2 })
	if err != nil || n != 2 {
		t.Fatalf("%d events, %v", n, err)
	}
	if err := Scan(strings.NewReader("x: 1\n\n"), func(Event) bool { return true }); !errors.Is(err, bench.ErrStream) {
		t.Fatalf("%v", err)
	}
}
