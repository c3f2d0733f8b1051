package gateway

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
)

// An event id is "<epoch>-<seq>": the stream's epoch tag and a stream
// sequence in decimal. It is ASCII, at most MaxIDLen bytes.
const MaxIDLen = 64

// Errors of ParseID.
var (
	ErrIDMalformed = errors.New("malformed event id")
)

// appendID appends the id of stream sequence seq in epoch to dst.
func appendID(dst []byte, epoch string, seq uint64) []byte {
	dst = append(dst, epoch...)
	dst = append(dst, '-')
	return strconv.AppendUint(dst, seq, 10)
}

// FormatID returns the event id for stream sequence seq in epoch.
func FormatID(epoch string, seq uint64) string {
	return string(appendID(make([]byte, 0, len(epoch)+21), epoch, seq))
}

// ParseID splits an event id into its epoch and sequence. The epoch is
// 1 to 16 characters of [0-9a-z]; the sequence is decimal digits without
// sign or leading zeros that fit in 64 bits.
func ParseID(id string) (epoch string, seq uint64, err error) {
	if len(id) == 0 || len(id) > MaxIDLen {
		return "", 0, ErrIDMalformed
	}
	i := strings.LastIndexByte(id, '-')
	if i < 1 || i > 16 || i == len(id)-1 {
		return "", 0, ErrIDMalformed
	}
	epoch, num := id[:i], id[i+1:]
	for j := 0; j < len(epoch); j++ {
		c := epoch[j]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z') {
			return "", 0, ErrIDMalformed
		}
	}
	if len(num) > 1 && num[0] == '0' {
		return "", 0, ErrIDMalformed
	}
	for j := 0; j < len(num); j++ {
		if num[j] < '0' || num[j] > '9' {
			return "", 0, ErrIDMalformed
		}
	}
	seq, err = strconv.ParseUint(num, 10, 64)
	if err != nil {
		return "", 0, ErrIDMalformed
	}
	return epoch, seq, nil
}

// appendEvent appends one complete SSE event to dst: an optional event
// name, an optional id, and data, ended by a blank line. data must not
// contain CR or LF (the JSON we send never does: encoders escape them);
// if it does, it is split into several data lines so the event stays
// well-formed and the client's reassembled data is unchanged up to line
// endings.
func appendEvent(dst []byte, event, id string, data []byte) []byte {
	if event != "" {
		dst = append(dst, "event: "...)
		dst = append(dst, event...)
		dst = append(dst, '\n')
	}
	if id != "" {
		dst = append(dst, "id: "...)
		dst = append(dst, id...)
		dst = append(dst, '\n')
	}
	for {
		dst = append(dst, "data: "...)
		i := indexNewline(data)
		if i < 0 {
			dst = append(dst, data...)
			break
		}
		dst = append(dst, data[:i]...)
		dst = append(dst, '\n')
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
	return append(dst, '\n', '\n')
}

func indexNewline(b []byte) int {
	for i, c := range b {
		if c == '\n' || c == '\r' {
			return i
		}
	}
	return -1
}

// appendTickEvent appends a tick event with id epoch-seq.
func appendTickEvent(dst []byte, epoch string, seq uint64, json []byte) []byte {
	dst = append(dst, "event: tick\nid: "...)
	dst = appendID(dst, epoch, seq)
	dst = append(dst, "\ndata: "...)
	dst = append(dst, json...)
	return append(dst, '\n', '\n')
}

func sseHeaders(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Accel-Buffering", "no")
}
