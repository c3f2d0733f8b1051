package feed

import "testing"

func TestAtLeast(t *testing.T) {
	for v, want := range map[string]bool{"2.10.0": true, "2.9.10": false, "v2.11.0-beta": true, "3.0.0": true, "1.4.1": false, "": true, "2.15.2": true} {
		if atLeast(v, 2, 10) != want {
			t.Errorf("atLeast(%q) != %v", v, want)
		}
	}
}
