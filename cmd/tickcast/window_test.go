package main

import (
	"strings"
	"testing"
)

// serve logs the window it keeps at start: the hour on disk, 15 minutes
// in memory, and a warning naming --max-bytes when the bytes cannot hold
// --max-age at the default feed's rate.
func TestServeLogsWindow(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"disk", []string{"--data", t.TempDir()}, `level=INFO msg="stream window" window=1h0m0s max_age=1h0m0s max_bytes=4GiB`},
		{"memory", []string{"--memory"}, `level=INFO msg="stream window" window=15m0s max_age=15m0s max_bytes=1GiB`},
		{"bytes short", []string{"--memory", "--max-age", "1h", "--max-bytes", "64MiB"}, `level=WARN msg="stream window shorter than --max-age: --max-bytes runs out first; raise it to keep --max-age" window=58s max_age=1h0m0s max_bytes=64MiB`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := start(t, append([]string{"serve", "--addr", "127.0.0.1:0", "--rate", "20"}, tc.args...)...)
			if out := p.out.String(); !strings.Contains(out, tc.want) {
				t.Fatalf("want %s in the log:\n%s", tc.want, out)
			}
		})
	}
}

func TestByteSizeFlag(t *testing.T) {
	for in, want := range map[string]int64{"1073741824": 1 << 30, "4GiB": 4 << 30, "512MiB": 512 << 20, "64 KiB": 64 << 10, "2g": 2 << 30, "100B": 100, "0": 0} {
		var b byteSize
		if err := b.Set(in); err != nil || int64(b) != want {
			t.Errorf("%q: %d %v, want %d", in, b, err, want)
		}
	}
	for _, in := range []string{"", "GiB", "-1", "1.5GiB", "4PiB", "99999999999GiB"} {
		var b byteSize
		if err := b.Set(in); err == nil {
			t.Errorf("%q: accepted as %d", in, b)
		}
	}
	if s := byteSize(4 << 30).String(); s != "4GiB" {
		t.Errorf("4 GiB prints %q", s)
	}
	if s := byteSize(1500).String(); s != "1500" {
		t.Errorf("1500 prints %q", s)
	}
}
