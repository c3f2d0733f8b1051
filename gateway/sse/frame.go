package sse

import "net/http"

// AppendEvent appends one complete event to dst: an optional event
// name, an optional id, and data, ended by a blank line. data must not
// contain CR or LF (the JSON we send never does: encoders escape them);
// if it does, it is split into several data lines so the event stays
// well-formed and the client's reassembled data is unchanged up to line
// endings.
func AppendEvent(dst []byte, event, id string, data []byte) []byte {
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

// AppendTick appends a tick event with id epoch-seq; json is one line.
func AppendTick(dst []byte, epoch string, seq uint64, json []byte) []byte {
	dst = append(dst, "event: tick\nid: "...)
	dst = AppendID(dst, epoch, seq)
	dst = append(dst, "\ndata: "...)
	dst = append(dst, json...)
	return append(dst, '\n', '\n')
}

// AppendNamed appends an event of type name with id epoch-seq; json is
// one line.
func AppendNamed(dst []byte, name, epoch string, seq uint64, json []byte) []byte {
	dst = append(dst, "event: "...)
	dst = append(dst, name...)
	dst = append(dst, "\nid: "...)
	dst = AppendID(dst, epoch, seq)
	dst = append(dst, "\ndata: "...)
	dst = append(dst, json...)
	return append(dst, '\n', '\n')
}

// SetHeaders sets an event stream's response headers: its content type,
// no caching, and no buffering by a proxy (X-Accel-Buffering, nginx).
func SetHeaders(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Accel-Buffering", "no")
}
