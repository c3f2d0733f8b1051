package bench

import "testing"

func TestSeqAccounting(t *testing.T) {
	type step struct {
		seq    uint64
		merged int64
	}
	tests := []struct {
		name  string
		start uint64 // previous seq, 0: none
		steps []step
		want  seqStats
	}{
		{"in order", 0, []step{{1, 0}, {2, 0}, {3, 0}}, seqStats{Events: 3, Ticks: 3}},
		{"after snapshot", 10, []step{{11, 0}, {12, 0}}, seqStats{Events: 2, Ticks: 2}},
		{"first seen mid-stream", 0, []step{{500, 0}, {501, 0}}, seqStats{Events: 2, Ticks: 2}},
		{"gap", 10, []step{{11, 0}, {14, 0}, {15, 0}}, seqStats{Events: 3, Ticks: 3, Gaps: 2, GapEvents: 1}},
		{"duplicate", 10, []step{{11, 0}, {11, 0}, {10, 0}, {12, 0}}, seqStats{Events: 4, Ticks: 2, Dups: 2}},
		{"merged exact", 10, []step{{13, 3}, {14, 0}, {20, 6}}, seqStats{Events: 3, Ticks: 10, Merged: 9, MergedEvents: 2}},
		{"merged with gap", 10, []step{{20, 3}}, seqStats{Events: 1, Ticks: 3, Gaps: 7, GapEvents: 1, Merged: 3, MergedEvents: 1}},
		{"merged overlap after resume", 10, []step{{12, 5}, {13, 0}}, seqStats{Events: 2, Ticks: 3, Overlaps: 1, Merged: 5, MergedEvents: 1}},
		{"merged 1 is plain", 10, []step{{11, 1}}, seqStats{Events: 1, Ticks: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s seqStats
			last := tt.start
			for _, st := range tt.steps {
				s.observe(&last, st.seq, st.merged)
			}
			if s != tt.want {
				t.Errorf("got %+v\nwant %+v", s, tt.want)
			}
		})
	}
}
