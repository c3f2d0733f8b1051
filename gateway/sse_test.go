package gateway

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

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
		ep, seq, err := ParseID(tc.id)
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
		ep, seq, err := ParseID(id)
		if err != nil {
			return
		}
		// A valid id is ASCII, short, and formats back to itself.
		if len(id) > MaxIDLen || FormatID(ep, seq) != id {
			t.Fatalf("ParseID(%q) = %q, %d does not round-trip", id, ep, seq)
		}
	})
}

// parseEvents is a reference reader of the HTML event-stream format,
// enough to check our frames: it returns each dispatched event's type,
// id and data.
func parseEvents(t *testing.T, b []byte) [][3]string {
	t.Helper()
	if bytes.HasPrefix(b, []byte("\xEF\xBB\xBF")) {
		t.Fatal("BOM")
	}
	if bytes.ContainsRune(b, '\r') {
		t.Fatal("CR in stream")
	}
	var out [][3]string
	var typ, id, data string
	var hasData bool
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if !strings.HasSuffix(line, "\n") {
			if line != "" {
				t.Fatalf("unterminated line %q", line)
			}
			break
		}
		line = line[:len(line)-1]
		if line == "" {
			if hasData {
				out = append(out, [3]string{typ, id, strings.TrimSuffix(data, "\n")})
			}
			typ, data, hasData = "", "", false
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			typ = value
		case "data":
			data += value + "\n"
			hasData = true
		case "id":
			if value == "" {
				t.Fatal("empty id line")
			}
			id = value
		}
	}
	return out
}

func FuzzAppendEvent(f *testing.F) {
	f.Add("tick", "abc-1", []byte(`{"a":1}`))
	f.Add("", "", []byte("line1\nline2\r\nline3\rend"))
	f.Add("reset", "", []byte(""))
	f.Fuzz(func(t *testing.T, event, id string, data []byte) {
		if strings.ContainsAny(event, "\r\n") || strings.ContainsAny(id, "\r\n\x00") {
			t.Skip() // names and ids are ours, never from input
		}
		b := appendEvent(nil, event, id, data)
		if !bytes.HasSuffix(b, []byte("\n\n")) {
			t.Fatalf("event does not end with a blank line: %q", b)
		}
		evs := parseEvents(t, b)
		if len(evs) != 1 {
			t.Fatalf("%q parsed as %d events", b, len(evs))
		}
		want := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(string(data))
		if evs[0][2] != want {
			t.Fatalf("data %q, want %q", evs[0][2], want)
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
		if _, _, err := ParseID(FormatID(epoch, sseq)); err != nil {
			t.Skip()
		}
		js := tk.AppendJSON(nil)
		b := appendTickEvent(nil, epoch, sseq, js)
		evs := parseEvents(t, b)
		if len(evs) != 1 || evs[0][0] != "tick" || evs[0][1] != FormatID(epoch, sseq) || evs[0][2] != string(js) {
			t.Fatalf("frame %q parsed as %q", b, evs)
		}
		if len(evs[0][1]) > MaxIDLen {
			t.Fatal("id too long")
		}
	})
}

func TestSnapshotFrame(t *testing.T) {
	ticks := []market.Tick{{Symbol: "A", Seq: 1, Time: time.Unix(1, 0), Price: 1}, {Symbol: "B", Seq: 2, Time: time.Unix(2, 0), Price: 2}}
	evs := parseEvents(t, appendSnapshot(nil, "ep", 9, ticks))
	if len(evs) != 1 || evs[0][0] != "snapshot" || evs[0][1] != "ep-9" || !strings.HasPrefix(evs[0][2], `{"ticks":[{"symbol":"A"`) {
		t.Fatalf("%q", evs)
	}
	evs = parseEvents(t, appendReset(nil, resetMalformed, "bad\nid\x00"+strings.Repeat("x", 1000)))
	if len(evs) != 1 || evs[0][0] != "reset" || evs[0][1] != "" || strings.Contains(evs[0][2], "\n") {
		t.Fatalf("%q", evs)
	}
	if len(strconv.Quote(evs[0][2])) > 400 {
		t.Fatalf("reset echoes too much: %d bytes", len(evs[0][2]))
	}
}
