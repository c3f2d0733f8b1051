package bench

// Walking a snapshot event's {"ticks":[...]} (and a centrifuge push's
// {"pub":{"data":...}}) without decoding it, and the JSON skipping helpers
// that takes.

// snapshotTicks returns the bounds of the "ticks" array in a snapshot
// event's data ({"ticks":[Tick, ...]}), or ok false.
func snapshotTicks(b []byte) (arr []byte, ok bool) {
	arr, ok = objectField(b, "ticks")
	if !ok || arr[0] != '[' {
		return nil, false
	}
	return arr, true
}

// centrifugePub returns the publication data in a Centrifugo/centrifuge
// unidirectional push ({"channel":"...","pub":{"data":Tick,...}}), or ok
// false for other pushes (connect, join, ...).
func centrifugePub(b []byte) (data []byte, ok bool) {
	pub, ok := objectField(b, "pub")
	if !ok || pub[0] != '{' {
		return nil, false
	}
	return objectField(pub, "data")
}

// objectField returns the bytes of the value of key in the JSON object b
// (the first one), or ok false. Keys are compared as written, escapes
// and all.
func objectField(b []byte, key string) (val []byte, ok bool) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	i = skipWS(b, i+1)
	for i < len(b) && b[i] != '}' {
		if b[i] != '"' {
			return nil, false
		}
		j, ok := skipString(b, i)
		if !ok {
			return nil, false
		}
		k := b[i+1 : j-1]
		i = skipWS(b, j)
		if i >= len(b) || b[i] != ':' {
			return nil, false
		}
		i = skipWS(b, i+1)
		e, ok := skipValue(b, i, 0)
		if !ok {
			return nil, false
		}
		if string(k) == key {
			return b[i:e], true
		}
		i = skipWS(b, e)
		if i < len(b) && b[i] == ',' {
			i = skipWS(b, i+1)
		}
	}
	return nil, false
}

// nextElem returns the next element of a JSON array whose bytes arr holds
// (the array itself, from '['), starting the scan at *pos (0 at first).
func nextElem(arr []byte, pos *int) ([]byte, bool) {
	i := *pos
	if i == 0 {
		if len(arr) == 0 || arr[0] != '[' {
			return nil, false
		}
		i = 1
	}
	i = skipWS(arr, i)
	if i < len(arr) && arr[i] == ',' {
		i = skipWS(arr, i+1)
	}
	if i >= len(arr) || arr[i] == ']' {
		*pos = len(arr)
		return nil, false
	}
	e, ok := skipValue(arr, i, 0)
	if !ok {
		*pos = len(arr)
		return nil, false
	}
	*pos = e
	return arr[i:e], true
}

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString skips the JSON string starting at b[i] == '"'.
func skipString(b []byte, i int) (int, bool) {
	i++
	for i < len(b) {
		switch b[i] {
		case '"':
			return i + 1, true
		case '\\':
			i += 2
		default:
			i++
		}
	}
	return i, false
}

// skipValue skips one JSON value at b[i:]. It checks structure, not
// every detail of number and literal syntax.
func skipValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) || depth > 64 {
		return i, false
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		closer := byte('}')
		if b[i] == '[' {
			closer = ']'
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == closer {
			return i + 1, true
		}
		for {
			if closer == '}' {
				if i >= len(b) || b[i] != '"' {
					return i, false
				}
				j, ok := skipString(b, i)
				if !ok {
					return j, false
				}
				i = skipWS(b, j)
				if i >= len(b) || b[i] != ':' {
					return i, false
				}
				i = skipWS(b, i+1)
			}
			j, ok := skipValue(b, i, depth+1)
			if !ok {
				return j, false
			}
			i = skipWS(b, j)
			if i >= len(b) {
				return i, false
			}
			if b[i] == closer {
				return i + 1, true
			}
			if b[i] != ',' {
				return i, false
			}
			i = skipWS(b, i+1)
		}
	default:
		s := i
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\r', '\n':
				return i, i > s
			}
			i++
		}
		return i, i > s
	}
}
