package gateway

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// byteRange is one parsed byte-range-spec of a Range header (RFC 9110
// §14.1.2), before it is resolved against the blob's size:
//
//	first-last  hasFirst, hasLast
//	first-      hasFirst
//	-suffix     !hasFirst, hasLast (last is the suffix length)
type byteRange struct {
	first, last       uint64
	hasFirst, hasLast bool
}

var errRangeSyntax = errors.New("malformed Range header")

// maxRangeHeader bounds the Range header the parser looks at.
const maxRangeHeader = 256

// parseRange parses a Range header that asks for exactly one range of
// bytes. Several ranges, other units and malformed values are errors (the
// Walrus aggregator answers them with 416, and so does the gateway).
func parseRange(h string) (byteRange, error) {
	if len(h) > maxRangeHeader {
		return byteRange{}, fmt.Errorf("%w: longer than %d bytes", errRangeSyntax, maxRangeHeader)
	}
	unit, spec, ok := strings.Cut(strings.TrimSpace(h), "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(unit), "bytes") {
		return byteRange{}, fmt.Errorf("%w: want bytes=first-last, bytes=first- or bytes=-suffix", errRangeSyntax)
	}
	if strings.Contains(spec, ",") {
		return byteRange{}, fmt.Errorf("%w: only one range per request is supported", errRangeSyntax)
	}
	a, b, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return byteRange{}, fmt.Errorf("%w: missing '-'", errRangeSyntax)
	}
	var r byteRange
	var err error
	if a != "" {
		if r.first, err = parseDigits(a); err != nil {
			return byteRange{}, err
		}
		r.hasFirst = true
	}
	if b != "" {
		if r.last, err = parseDigits(b); err != nil {
			return byteRange{}, err
		}
		r.hasLast = true
	}
	switch {
	case !r.hasFirst && !r.hasLast:
		return byteRange{}, fmt.Errorf("%w: empty range", errRangeSyntax)
	case r.hasFirst && r.hasLast && r.last < r.first:
		return byteRange{}, fmt.Errorf("%w: last byte %d before first byte %d", errRangeSyntax, r.last, r.first)
	}
	return r, nil
}

// parseDigits parses a non-empty run of ASCII digits (no sign, no spaces).
func parseDigits(s string) (uint64, error) {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%w: %q is not a byte position", errRangeSyntax, s)
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q is out of range", errRangeSyntax, s)
	}
	return v, nil
}

// resolve returns the offset and length of r in a representation of size
// bytes, or ok=false when r is unsatisfiable (RFC 9110 §14.1.2: a first
// position at or past the end, a zero suffix, any range of an empty blob).
func (r byteRange) resolve(size uint64) (start, length uint64, ok bool) {
	if size == 0 {
		return 0, 0, false
	}
	if !r.hasFirst { // suffix
		if r.last == 0 {
			return 0, 0, false
		}
		n := min(r.last, size)
		return size - n, n, true
	}
	if r.first >= size {
		return 0, 0, false
	}
	end := size - 1
	if r.hasLast && r.last < end {
		end = r.last
	}
	return r.first, end - r.first + 1, true
}

// String formats r as a Range header value.
func (r byteRange) String() string {
	var b strings.Builder
	b.WriteString("bytes=")
	if r.hasFirst {
		b.WriteString(strconv.FormatUint(r.first, 10))
	}
	b.WriteByte('-')
	if r.hasLast {
		b.WriteString(strconv.FormatUint(r.last, 10))
	}
	return b.String()
}
