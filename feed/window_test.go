package feed

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// streamConfig reads a stream's configuration from the server.
func streamConfig(t *testing.T, c *Conn, name string) jetstream.StreamConfig {
	t.Helper()
	s, err := c.js.Stream(context.Background(), name)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	return s.CachedInfo().Config
}

// Streams made by an older tickcast (a 1 GiB window, companions bounded
// only by age or subjects) get every bound: the window holds the hour,
// _BARS is bounded per series and in bytes, _LAST in bytes; Window
// reports the limits.
func TestEnsureStreamBoundsOlderStreams(t *testing.T) {
	ctx := context.Background()
	srv, c := startConn(t, t.TempDir())
	defer srv.Shutdown()
	defer c.Close()
	old := []jetstream.StreamConfig{
		{Name: c.stream, Subjects: StreamSubjects, MaxAge: time.Hour, MaxBytes: 1 << 30},
		{Name: c.stream + lastSuffix, Sources: []*jetstream.StreamSource{{Name: c.stream}}, MaxMsgsPerSubject: 1},
		{Name: c.stream + barsSuffix, Sources: []*jetstream.StreamSource{{Name: c.stream, FilterSubject: "bars.>"}}, MaxAge: 168 * time.Hour},
	}
	for _, sc := range old {
		if _, err := c.js.CreateStream(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.EnsureStream(ctx, StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	if sc := streamConfig(t, c, c.stream); sc.MaxAge != time.Hour || sc.MaxBytes != 4<<30 {
		t.Errorf("window: max age %v, max bytes %d; want 1h, 4 GiB", sc.MaxAge, sc.MaxBytes)
	}
	if sc := streamConfig(t, c, c.stream+lastSuffix); sc.MaxMsgsPerSubject != 1 || sc.MaxBytes != LastMaxBytes || sc.MaxAge != 0 {
		t.Errorf("_LAST: per subject %d, max bytes %d, max age %v", sc.MaxMsgsPerSubject, sc.MaxBytes, sc.MaxAge)
	}
	sc := streamConfig(t, c, c.stream+barsSuffix)
	if sc.MaxAge != DefaultBarsMaxAge || sc.MaxMsgsPerSubject != DefaultBarsMaxPerSeries || sc.MaxBytes != DefaultBarsMaxBytes {
		t.Errorf("_BARS: max age %v, per subject %d, max bytes %d", sc.MaxAge, sc.MaxMsgsPerSubject, sc.MaxBytes)
	}
	if len(sc.Sources) != 1 || sc.Sources[0].FilterSubject != "bars.>" {
		t.Errorf("_BARS sources %+v: want bars.> only", sc.Sources)
	}
	w, err := c.Window(ctx)
	if err != nil || w.MaxAge != time.Hour || w.MaxBytes != 4<<30 || w.Memory {
		t.Fatalf("window %+v %v", w, err)
	}
	if got := w.Effective(DefaultFeedPeakBytesPerSec); got != time.Hour {
		t.Errorf("the default window at the default feed's peak: %v, want the hour", got)
	}
	// Flags given win, also over what the stream had.
	if _, err := c.EnsureStream(ctx, StreamConfig{MaxAge: 10 * time.Minute, MaxBytes: 64 << 20, BarsMaxPerSeries: 60, BarsMaxBytes: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	if sc := streamConfig(t, c, c.stream); sc.MaxAge != 10*time.Minute || sc.MaxBytes != 64<<20 {
		t.Errorf("window: %v %d", sc.MaxAge, sc.MaxBytes)
	}
	if sc := streamConfig(t, c, c.stream+barsSuffix); sc.MaxMsgsPerSubject != 60 || sc.MaxBytes != 1<<20 {
		t.Errorf("_BARS: %d %d", sc.MaxMsgsPerSubject, sc.MaxBytes)
	}
}

// In memory the default window is 15 minutes in 1 GiB of RAM; a stream
// that exists keeps its storage, and the defaults follow it.
func TestEnsureStreamMemoryDefaults(t *testing.T) {
	ctx := context.Background()
	srv, c := startConn(t, t.TempDir())
	defer srv.Shutdown()
	defer c.Close()
	if _, err := c.EnsureStream(ctx, StreamConfig{Memory: true}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{c.stream, c.stream + lastSuffix, c.stream + barsSuffix} {
		if sc := streamConfig(t, c, name); sc.Storage != jetstream.MemoryStorage {
			t.Errorf("%s: storage %v", name, sc.Storage)
		}
	}
	w, err := c.Window(ctx)
	if err != nil || w.MaxAge != 15*time.Minute || w.MaxBytes != 1<<30 || !w.Memory {
		t.Fatalf("memory window %+v %v", w, err)
	}
	if h := w.BytesHold(DefaultFeedPeakBytesPerSec); h < 15*time.Minute {
		t.Errorf("1 GiB holds %v at the default feed's peak, under the 15m age", h)
	}
	// Without Memory the stream stays in memory, with its defaults.
	if _, err := c.EnsureStream(ctx, StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	if w, err := c.Window(ctx); err != nil || w.MaxAge != 15*time.Minute || !w.Memory {
		t.Fatalf("after a file config: %+v %v", w, err)
	}
}

// The bars companion keeps at most BarsMaxPerSeries bars of a symbol
// and interval and BarsMaxBytes in all, the oldest going first; ReadBars
// answers with the newest, and the 1 min bars are not pushed out by the
// 1 s bars' count.
func TestBarsBounded(t *testing.T) {
	ctx := context.Background()
	srv, c := startConn(t, t.TempDir())
	defer srv.Shutdown()
	defer c.Close()
	if _, err := c.EnsureStream(ctx, StreamConfig{BarsMaxPerSeries: 5}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().UTC().Truncate(time.Minute).Add(-time.Hour)
	for i := uint64(1); i <= 30; i++ {
		if err := c.PublishBar(ctx, testBar("AAA", "1s", i, t0.Add(time.Duration(i)*time.Second))); err != nil {
			t.Fatal(err)
		}
		if i <= 3 {
			if err := c.PublishBar(ctx, testBar("AAA", "1m", i, t0.Add(time.Duration(i)*time.Minute))); err != nil {
				t.Fatal(err)
			}
		}
	}
	var got []BarMsg
	var err error
	waitFor(t, "the newest 5 1s bars", func() bool {
		got, err = c.ReadBars(ctx, "AAA", "1s", time.Time{}, time.Time{}, 100)
		return err == nil && len(got) == 5 && got[4].Bar.Seq == 30
	})
	for i, m := range got {
		if m.Bar.Seq != uint64(26+i) {
			t.Fatalf("1s bars %+v: want 26 to 30", got)
		}
	}
	if got, err := c.ReadBars(ctx, "AAA", "1m", time.Time{}, time.Time{}, 100); err != nil || len(got) != 3 {
		t.Fatalf("1m bars: %+v %v; want all 3", got, err)
	}
	// A byte bound of about three bars drops the oldest at once.
	if _, err := c.EnsureStream(ctx, StreamConfig{BarsMaxPerSeries: 5, BarsMaxBytes: 1200}); err != nil {
		t.Fatal(err)
	}
	s, err := c.js.Stream(ctx, c.stream+barsSuffix)
	if err != nil {
		t.Fatal(err)
	}
	if st := s.CachedInfo().State; st.Bytes > 1200 || st.Msgs == 0 {
		t.Fatalf("_BARS holds %d messages, %d bytes; want a few, at most 1200 bytes", st.Msgs, st.Bytes)
	}
	got, err = c.ReadBars(ctx, "AAA", "1s", time.Time{}, time.Time{}, 100)
	if err != nil || len(got) == 0 || len(got) >= 5 || got[len(got)-1].Bar.Seq != 30 {
		t.Fatalf("1s bars under the byte bound: %+v %v; want the newest few, up to 30", got, err)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Bar.Seq != got[i-1].Bar.Seq+1 {
			t.Fatalf("1s bars not contiguous: %+v", got)
		}
	}
	// New bars go on being kept under the bound.
	if err := c.PublishBar(ctx, testBar("AAA", "1s", 31, t0.Add(31*time.Second))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "bar 31", func() bool {
		got, err = c.ReadBars(ctx, "AAA", "1s", time.Time{}, time.Time{}, 100)
		return err == nil && len(got) > 0 && got[len(got)-1].Bar.Seq == 31
	})
}
