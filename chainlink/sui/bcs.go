package sui

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"
)

// ErrBCS marks bytes this package refuses to decode: truncated input,
// trailing bytes, a length beyond its bound or beyond what the remaining
// bytes could hold, a non-canonical ULEB128, a bool or option tag other
// than 0/1, an unknown enum variant, a string that is not UTF-8.
var ErrBCS = errors.New("sui: malformed BCS")

// maxULEB is the largest length or variant index BCS allows (Sui's
// MAX_SEQUENCE_LENGTH is 2^31 − 1).
const maxULEB = math.MaxInt32

// encoder appends BCS (https://github.com/diem/bcs): little-endian
// integers, ULEB128 lengths and variant indices, no padding.
type encoder struct{ b []byte }

func (e *encoder) bytes() []byte { return e.b }

func (e *encoder) u8(v uint8)   { e.b = append(e.b, v) }
func (e *encoder) u16(v uint16) { e.b = binary.LittleEndian.AppendUint16(e.b, v) }
func (e *encoder) u32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *encoder) u64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }

// u128 writes a 16-byte little-endian integer given as lo, hi halves.
func (e *encoder) u128(lo, hi uint64) { e.u64(lo); e.u64(hi) }

func (e *encoder) bool(v bool) {
	if v {
		e.u8(1)
	} else {
		e.u8(0)
	}
}

// uleb writes a ULEB128 length or variant index.
func (e *encoder) uleb(v int) {
	if v < 0 || v > maxULEB {
		panic(fmt.Sprintf("sui: BCS length %d out of range", v))
	}
	u := uint32(v)
	for u >= 0x80 {
		e.b = append(e.b, byte(u)|0x80)
		u >>= 7
	}
	e.b = append(e.b, byte(u))
}

// fixed writes bytes without a length (addresses, u256, [u8; N]).
func (e *encoder) fixed(b []byte) { e.b = append(e.b, b...) }

// vecU8 writes vector<u8>: a length and the bytes.
func (e *encoder) vecU8(b []byte) { e.uleb(len(b)); e.b = append(e.b, b...) }

// str writes a Move String (vector<u8> of UTF-8).
func (e *encoder) str(s string) { e.uleb(len(s)); e.b = append(e.b, s...) }

func (e *encoder) option(some bool) { e.bool(some) }

// decoder reads BCS with a bound on everything it allocates. Errors are
// sticky: after the first one every read returns zero values and err()
// reports it.
type decoder struct {
	b   []byte
	off int
	bad error
}

func newDecoder(b []byte) *decoder { return &decoder{b: b} }

func (d *decoder) err() error { return d.bad }

func (d *decoder) fail(format string, args ...any) {
	if d.bad == nil {
		d.bad = fmt.Errorf("%w: at byte %d: %s", ErrBCS, d.off, fmt.Sprintf(format, args...))
	}
}

// remaining is the number of unread bytes.
func (d *decoder) remaining() int { return len(d.b) - d.off }

// done fails unless every byte was read.
func (d *decoder) done() error {
	if d.bad == nil && d.off != len(d.b) {
		d.fail("%d trailing bytes", len(d.b)-d.off)
	}
	return d.bad
}

func (d *decoder) take(n int) []byte {
	if d.bad != nil {
		return nil
	}
	if n < 0 || n > d.remaining() {
		d.fail("need %d bytes, %d left", n, d.remaining())
		return nil
	}
	s := d.b[d.off : d.off+n]
	d.off += n
	return s
}

func (d *decoder) u8() uint8 {
	b := d.take(1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (d *decoder) u16() uint16 {
	b := d.take(2)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint16(b)
}

func (d *decoder) u32() uint32 {
	b := d.take(4)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

func (d *decoder) u64() uint64 {
	b := d.take(8)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

func (d *decoder) u128() (lo, hi uint64) { return d.u64(), d.u64() }

func (d *decoder) bool() bool {
	switch v := d.u8(); v {
	case 0:
		return false
	case 1:
		return true
	default:
		d.fail("bool byte %#02x", v)
		return false
	}
}

// uleb reads a canonical ULEB128 value of at most maxULEB.
func (d *decoder) uleb() int {
	var v uint64
	for i := 0; ; i++ {
		if i == 5 {
			d.fail("ULEB128 longer than 5 bytes")
			return 0
		}
		b := d.u8()
		if d.bad != nil {
			return 0
		}
		v |= uint64(b&0x7f) << (7 * i)
		if b&0x80 == 0 {
			if b == 0 && i > 0 {
				d.fail("non-canonical ULEB128")
				return 0
			}
			break
		}
	}
	if v > maxULEB {
		d.fail("ULEB128 value %d exceeds 2^31-1", v)
		return 0
	}
	return int(v)
}

// length reads a sequence length and checks it against max (the field's
// own bound) and against the remaining bytes: n elements of at least
// minSize bytes each must fit in them. That bounds every allocation by
// the input's size.
func (d *decoder) length(what string, max, minSize int) int {
	n := d.uleb()
	if d.bad != nil {
		return 0
	}
	if n > max {
		d.fail("%s: %d elements, at most %d", what, n, max)
		return 0
	}
	if minSize > 0 && n > d.remaining()/minSize {
		d.fail("%s: %d elements of at least %d bytes, %d bytes left", what, n, minSize, d.remaining())
		return 0
	}
	return n
}

// variant reads an enum variant index below n.
func (d *decoder) variant(what string, n int) int {
	v := d.uleb()
	if d.bad == nil && v >= n {
		d.fail("%s: variant %d, want < %d", what, v, n)
		return 0
	}
	return v
}

// option reads an Option tag.
func (d *decoder) option() bool {
	switch v := d.u8(); v {
	case 0:
		return false
	case 1:
		return true
	default:
		d.fail("option tag %#02x", v)
		return false
	}
}

func (d *decoder) fixed(dst []byte) { copy(dst, d.take(len(dst))) }

// vecU8 reads vector<u8> of at most max bytes (copied).
func (d *decoder) vecU8(what string, max int) []byte {
	n := d.length(what, max, 1)
	b := d.take(n)
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// str reads a UTF-8 Move String of at most max bytes.
func (d *decoder) str(what string, max int) string {
	n := d.length(what, max, 1)
	b := d.take(n)
	if b == nil {
		return ""
	}
	if !utf8.Valid(b) {
		d.fail("%s: not UTF-8", what)
		return ""
	}
	return string(b)
}
