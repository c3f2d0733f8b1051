package sse_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/tickcast/tickcast/gateway/sse"
	"github.com/tickcast/tickcast/internal/ssetest"
	"github.com/tickcast/tickcast/market"
)

func TestParseID(t *testing.T) {
	for _, tc := range []struct {
		id    string
		epoch string
		seq   uint64
		ok    bool
	}{
		{"abc12345-42", "abc12345", 42, true},
		{"a-0", "a", 0, true},
		{"abc12345-18446744073709551615", "abc12345", 1<<64 - 1, true},
		{"abc12345-18446744073709551616", "", 0, false},
		{"abc12345-", "", 0, false},
		{"-12", "", 0, false},
		{"abc", "", 0, false},
		{"ABC-1", "", 0, false},
		{"abc--1", "", 0, false},
		{"abc-+1", "", 0, false},
		{"abc-01", "", 0, false},
		{"abc-1 ", "", 0, false},
		{"abc\x00-1", "", 0, false},
		{"abcdefghijklmnopq-1", "", 0, false},
		{strings.Repeat("1", 70), "", 0, false},
	} {
		ep, seq, err := sse.ParseID(tc.id)
		if (err == nil) != tc.ok || ep != tc.epoch || seq != tc.seq {
			t.Errorf("ParseID(%q) = %q, %d, %v", tc.id, ep, seq, err)
		}
	}
}

func FuzzParseID(f *testing.F) {
	for _, s := range []string{"abc12345-42", "a-0", "", "-", "x-99999999999999999999", "é-1", "a-1\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		ep, seq, err := sse.ParseID(id)
		if err != nil {
			return
		}
		// A valid id is ASCII, short, and formats back to itself.
		if len(id) > sse.MaxIDLen || sse.FormatID(ep, seq) != id {
			t.Fatalf("ParseID(%q) = %q, %d does not round-trip", id, ep, seq)
		}
	})
}

// parse reads b with the module's strict test reader.
func parse(t *testing.T, b []byte) []ssetest.Event {
	t.Helper()
	evs, err := ssetest.Parse(b)
	if err != nil {
		t.Fatalf("%q: %v", b, err)
	}
	return evs
}

func FuzzAppendEvent(f *testing.F) {
	f.Add("tick", "abc-1", []byte(`{"a":1}`))
	f.Add("", "", []byte("line1\nline2\r\nline3\rend"))
	f.Add("reset", "", []byte(""))
	f.Fuzz(func(t *testing.T, event, id string, data []byte) {
		if strings.ContainsAny(event, "\r\n") || strings.ContainsAny(id, "\r\n\x00") {
			t.Skip() // names and ids are ours, never from input
		}
		b := sse.AppendEvent(nil, event, id, data)
		if !bytes.HasSuffix(b, []byte("\n\n")) {
			t.Fatalf("event does not end with a blank line: %q", b)
		}
		evs := parse(t, b)
		if len(evs) != 1 {
			t.Fatalf("%q parsed as %d events", b, len(evs))
		}
		want := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(string(data))
		if evs[0].Data != want {
			t.Fatalf("data %q, want %q", evs[0].Data, want)
		}
	})
}

func FuzzTickFrame(f *testing.F) {
	f.Add("AAPL", uint64(1), 189.23, int64(100), "abc12345", uint64(7))
	f.Add("BRK-B", uint64(1<<60), 1e-9, int64(0), "z", uint64(0))
	f.Fuzz(func(t *testing.T, sym string, seq uint64, price float64, size int64, epoch string, sseq uint64) {
		tk := market.Tick{Symbol: sym, Seq: seq, Time: time.Unix(0, int64(seq)), Price: price, Bid: price, Ask: price, Size: size}
		if tk.Validate() != nil {
			t.Skip()
		}
		if _, _, err := sse.ParseID(sse.FormatID(epoch, sseq)); err != nil {
			t.Skip()
		}
		js := tk.AppendJSON(nil)
		b := sse.AppendTick(nil, epoch, sseq, js)
		evs := parse(t, b)
		if len(evs) != 1 || evs[0].Type != "tick" || evs[0].ID != sse.FormatID(epoch, sseq) || evs[0].Data != string(js) {
			t.Fatalf("frame %q parsed as %q", b, evs)
		}
		if len(evs[0].ID) > sse.MaxIDLen {
			t.Fatal("id too long")
		}
		if n := sse.AppendNamed(nil, "tick", epoch, sseq, js); !bytes.Equal(n, b) {
			t.Fatalf("AppendNamed %q, AppendTick %q", n, b)
		}
	})
}
