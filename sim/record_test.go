package sim

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tickcast/tickcast/market"
)

// record runs cfg for n ticks into a Recorder and returns the recording
// and the ticks.
func record(t *testing.T, cfg Config, n int) ([]byte, []market.Tick) {
	t.Helper()
	s := mustNew(t, cfg)
	var buf bytes.Buffer
	h := HeaderFor(cfg, s)
	pub := &recorder{}
	r, err := NewRecorder(&buf, pub, &h)
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := r.Publish(context.Background(), s.Next(t0.Add(s.Due()))); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), pub.got()
}

func TestRecordRead(t *testing.T) {
	cfg := Config{Seed: 3, Speed: 39, Session: &Session{}, Arrivals: Poisson}
	b, want := record(t, cfg, 2000)
	if n := bytes.Count(b, []byte("\n")); n != 2001 {
		t.Fatalf("%d lines, want a header and 2000 ticks", n)
	}
	h, got, err := ReadRecording(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if h == nil || h.Seed != 3 || h.Rate != DefaultRate || h.Speed != 39 || len(h.Universe) != len(DefaultUniverse()) {
		t.Errorf("header %+v", h)
	}
	if len(got) != len(want) {
		t.Fatalf("read %d ticks, recorded %d", len(got), len(want))
	}
	for i := range want {
		if !got[i].Time.Equal(want[i].Time) {
			t.Fatalf("tick %d: time %v, want %v", i, got[i].Time, want[i].Time)
		}
		got[i].Time = want[i].Time
		if got[i] != want[i] {
			t.Fatalf("tick %d: read %+v, recorded %+v", i, got[i], want[i])
		}
	}
	// A recording without a header, with blank lines, is fine too.
	noHeader := b[bytes.IndexByte(b, '\n')+1:]
	noHeader = bytes.ReplaceAll(noHeader, []byte("\n"), []byte("\n\n"))
	if h, got, err := ReadRecording(bytes.NewReader(noHeader)); err != nil || h != nil || len(got) != len(want) {
		t.Errorf("without header: header %v, %d ticks, error %v", h, len(got), err)
	}
	if h, got, err := ReadRecording(strings.NewReader("")); err != nil || h != nil || len(got) != 0 {
		t.Errorf("empty: header %v, %d ticks, error %v", h, len(got), err)
	}
}

func TestReadRecordingErrors(t *testing.T) {
	good := `{"symbol":"AAPL","seq":1,"time":"2026-11-23T14:30:00Z","price":1,"bid":1,"ask":1.01,"size":1,"volume":1}`
	for _, tc := range []struct{ name, in, want string }{
		{"not json", good + "\nhello\n", "line 2"},
		{"bad symbol", strings.Replace(good, "AAPL", "a.b", 1), "line 1"},
		{"no seq", "\n\n" + strings.Replace(good, `"seq":1`, `"seq":0`, 1), "line 3"},
		{"future format", `{"recording":"tickcast/9"}`, `format "tickcast/9"`},
	} {
		_, _, err := ReadRecording(strings.NewReader(tc.in))
		if !errors.Is(err, ErrRecording) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want ErrRecording and %q", tc.name, err, tc.want)
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestRecorderWriteError(t *testing.T) {
	if _, err := NewRecorder(failWriter{}, nil, &Header{}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("header to a failing writer: %v", err)
	}
	r, err := NewRecorder(failWriter{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := mustNew(t, Config{Seed: 1})
	for i := range 10_000 {
		if err = r.Publish(context.Background(), s.Next(stamp(i))); err != nil {
			break
		}
	}
	if err == nil {
		err = r.Flush()
	}
	if err == nil || !strings.Contains(err.Error(), "sim: record: disk full") {
		t.Errorf("error %v, want sim: record: disk full", err)
	}
}

// TestReplay: a replay republishes the recorded ticks with their spacing,
// seq as recorded, or continuing a resumed symbol.
func TestReplay(t *testing.T) {
	cfg := Config{Seed: 4, Rate: 2000, Arrivals: Poisson}
	b, want := record(t, cfg, 600) // about 0.3s
	p, err := NewReplay(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if p.Header() == nil || p.Header().Seed != 4 {
		t.Fatalf("header %+v", p.Header())
	}
	aapl := want[0].Symbol
	p.Resume = map[string]market.Tick{aapl: {Symbol: aapl, Seq: 1000}}
	pub := &recorder{}
	start := time.Now()
	if err := p.Run(context.Background(), pub); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	got := pub.got()
	if len(got) != len(want) {
		t.Fatalf("replayed %d ticks, recorded %d", len(got), len(want))
	}
	span := want[len(want)-1].Time.Sub(want[0].Time)
	if took < span {
		t.Errorf("replay took %v, the recording spans %v", took, span)
	}
	for i := range want {
		if d, wd := got[i].Time.Sub(got[0].Time), want[i].Time.Sub(want[0].Time); d != wd {
			t.Fatalf("tick %d at +%v, recorded at +%v", i, d, wd)
		}
		w := want[i]
		w.Time = got[i].Time
		if w.Symbol == aapl {
			w.Seq += 1000
		}
		if got[i] != w {
			t.Fatalf("tick %d: replayed %+v, want %+v", i, got[i], w)
		}
	}
}

func TestReplayStops(t *testing.T) {
	// Ten seconds of recording, cut short by cancel, and a bad line.
	lines := []string{
		`{"symbol":"A","seq":1,"time":"2026-11-23T14:30:00Z","price":1,"bid":1,"ask":1.01,"size":1,"volume":1}`,
		`{"symbol":"A","seq":2,"time":"2026-11-23T14:30:10Z","price":1,"bid":1,"ask":1.01,"size":1,"volume":2}`,
	}
	p, _ := NewReplay(strings.NewReader(strings.Join(lines, "\n")))
	pub := &recorder{}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := p.Run(ctx, pub); err != nil || time.Since(start) > 5*time.Second || len(pub.got()) != 1 {
		t.Errorf("after cancel: %v, %d ticks in %v, want nil, 1", err, len(pub.got()), time.Since(start))
	}

	back := strings.Replace(lines[1], "14:30:10", "14:29:59", 1)
	p, _ = NewReplay(strings.NewReader(lines[0] + "\n" + back + "\nnot json\n"))
	if err := p.Run(context.Background(), &recorder{}); !errors.Is(err, ErrRecording) || !strings.Contains(err.Error(), "before") {
		t.Errorf("time going back: %v", err)
	}
	p, _ = NewReplay(strings.NewReader(lines[0] + "\nnot json\n"))
	if err := p.Run(context.Background(), &recorder{}); !errors.Is(err, ErrRecording) || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad line: %v", err)
	}
}
