package sse

import (
	"errors"
	"strconv"
	"strings"
)

// An event id is "<epoch>-<seq>": the stream's epoch tag and a stream
// sequence in decimal. It is ASCII, at most MaxIDLen bytes.
const MaxIDLen = 64

// ErrIDMalformed is returned by ParseID for an id that is not
// "<epoch>-<seq>".
var ErrIDMalformed = errors.New("malformed event id")

// AppendID appends the id of stream sequence seq in epoch to dst.
func AppendID(dst []byte, epoch string, seq uint64) []byte {
	dst = append(dst, epoch...)
	dst = append(dst, '-')
	return strconv.AppendUint(dst, seq, 10)
}

// FormatID returns the event id for stream sequence seq in epoch.
func FormatID(epoch string, seq uint64) string {
	return string(AppendID(make([]byte, 0, len(epoch)+21), epoch, seq))
}

// ParseID splits an event id into its epoch and sequence. The epoch is
// 1 to 16 characters of [0-9a-z]; the sequence is decimal digits without
// sign or leading zeros that fit in 64 bits. Any other id is
// ErrIDMalformed.
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
