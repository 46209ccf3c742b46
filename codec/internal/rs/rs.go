package rs

import (
	"errors"
	"fmt"
	"math/bits"
	"sync"

	"floe/codec/internal/gf16"
)

// Errors returned by the code.
var (
	// ErrShardCount means the (original, recovery) counts are not supported.
	ErrShardCount = errors.New("rs: unsupported shard counts")
	// ErrTooFewShards means fewer than K symbols were given to the decoder.
	ErrTooFewShards = errors.New("rs: too few shards to decode")
	// ErrShardSize means vectors are empty, differ in length or are not a multiple of 64 bytes.
	ErrShardSize = errors.New("rs: invalid shard size")
)

// Code is the systematic code with K originals and N-K recovery symbols.
// It is safe for concurrent use.
type Code struct {
	K, N int
	high bool
	t    *gf16.Tables
	// work recycles FFT work areas between calls: encoding a blob runs
	// hundreds of batches, and fresh areas would be mostly garbage.
	work sync.Pool
}

// workArea is a reusable set of equal-length vectors.
type workArea struct {
	buf  []byte
	vecs [][]byte
}

// area returns count vectors of length l, zeroed from vector from on (the
// caller overwrites the ones before it whole); put it back with release.
func (c *Code) area(count, l, from int) *workArea {
	a, _ := c.work.Get().(*workArea)
	if a == nil {
		a = &workArea{}
	}
	if cap(a.buf) < count*l {
		a.buf = make([]byte, count*l)
	} else {
		a.buf = a.buf[:count*l]
		clear(a.buf[from*l:])
	}
	a.vecs = a.vecs[:0]
	for i := range count {
		a.vecs = append(a.vecs, a.buf[i*l:(i+1)*l:(i+1)*l])
	}
	return a
}

func (c *Code) release(a *workArea) { c.work.Put(a) }

func nextPow2(x int) int {
	if x <= 1 {
		return 1
	}
	return 1 << bits.Len(uint(x-1))
}

// UseHighRate is reed-solomon-simd's DefaultRate rule (F2.3).
func UseHighRate(original, recovery int) bool {
	op, rp := nextPow2(original), nextPow2(recovery)
	switch {
	case op < rp:
		return false
	case op > rp:
		return true
	default:
		return original <= recovery
	}
}

// Supported reports whether reed-solomon-simd's DefaultRate accepts the
// counts: the smaller power of two plus the larger count must fit in the
// field.
func Supported(original, recovery int) bool {
	if original <= 0 || recovery <= 0 || original > gf16.Order || recovery > gf16.Order {
		return false
	}
	return min(nextPow2(original), nextPow2(recovery))+max(original, recovery) <= gf16.Order
}

// New returns the code with k originals and n symbols in total.
func New(k, n int) (*Code, error) {
	r := n - k
	if !Supported(k, r) {
		return nil, fmt.Errorf("%w: %d originals, %d recovery", ErrShardCount, k, r)
	}
	return &Code{K: k, N: n, high: UseHighRate(k, r), t: gf16.Get()}, nil
}

// HighRate reports whether the code uses the high-rate encoder.
func (c *Code) HighRate() bool { return c.high }

// Recovery is the number of recovery symbols N-K.
func (c *Code) Recovery() int { return c.N - c.K }

func checkLen(l int) error {
	if l == 0 || l%64 != 0 {
		return fmt.Errorf("%w: %d bytes", ErrShardSize, l)
	}
	return nil
}

// Encode writes the N-K recovery vectors computed from the K original
// vectors. All vectors have the same length, a multiple of 64 bytes.
func (c *Code) Encode(originals, recovery [][]byte) error {
	if len(originals) != c.K || len(recovery) != c.Recovery() {
		return fmt.Errorf("%w: got %d originals and %d recovery vectors for (%d, %d)", ErrShardCount, len(originals), len(recovery), c.K, c.N)
	}
	l := len(originals[0])
	if err := checkLen(l); err != nil {
		return err
	}
	for _, v := range originals {
		if len(v) != l {
			return fmt.Errorf("%w: lengths %d and %d", ErrShardSize, l, len(v))
		}
	}
	for _, v := range recovery {
		if len(v) != l {
			return fmt.Errorf("%w: lengths %d and %d", ErrShardSize, l, len(v))
		}
	}
	a := c.area(c.areaCount(), l, c.K)
	defer c.release(a)
	for i, v := range originals {
		copy(a.vecs[i], v)
	}
	for i, v := range c.run(a.vecs) {
		copy(recovery[i], v)
	}
	return nil
}

// Encoding is one encode without Encode's copies: the caller writes the K
// originals straight into Originals (zeroed vectors), Run computes the N-K
// recovery vectors in the same area, and they stay valid until Release.
// Verifying slivers laid out and copied every symbol into fresh vectors
// and again into the work area, and copied the recovery out once more.
type Encoding struct {
	c    *Code
	a    *workArea
	done bool
}

// NewEncoding returns an Encoding of vectors of l bytes (a multiple of 64).
func (c *Code) NewEncoding(l int) (*Encoding, error) {
	if err := checkLen(l); err != nil {
		return nil, err
	}
	return &Encoding{c: c, a: c.area(c.areaCount(), l, 0)}, nil
}

// Originals are the K vectors to fill before Run.
func (e *Encoding) Originals() [][]byte { return e.a.vecs[:e.c.K] }

// Run computes and returns the N-K recovery vectors (aliases of the area:
// valid until Release). It runs once.
func (e *Encoding) Run() [][]byte {
	if e.done {
		panic("rs: Encoding.Run called twice")
	}
	e.done = true
	return e.c.run(e.a.vecs)
}

// Release gives the area back; the Encoding and its vectors are no longer
// used after it.
func (e *Encoding) Release() {
	if e.a != nil {
		e.c.release(e.a)
		e.a = nil
	}
}

// areaCount is the number of vectors the encoder's work area needs.
func (c *Code) areaCount() int {
	k, r := c.K, c.Recovery()
	if c.high {
		chunk := nextPow2(r)
		return (k + chunk - 1) / chunk * chunk
	}
	chunk := nextPow2(k)
	return (r + chunk - 1) / chunk * chunk
}

// run encodes the originals in w[:K] (the rest of w zero) and returns the
// recovery vectors, w[:N-K].
func (c *Code) run(w [][]byte) [][]byte {
	if c.high {
		c.runHigh(w)
	} else {
		c.runLow(w)
	}
	return w[:c.Recovery()]
}

// runHigh is the high-rate encoder (F2.4): originals sit at points
// chunk.., recovery at points 0..r.
func (c *Code) runHigh(w [][]byte) {
	t, k, r := c.t, c.K, c.Recovery()
	chunk := nextPow2(r)
	first := min(k, chunk)
	gf16.IFFT(t, w, 0, chunk, first, chunk)
	if k > chunk {
		start := chunk
		for ; start+chunk <= k; start += chunk {
			gf16.IFFT(t, w, start, chunk, chunk, start+chunk)
			for i := range chunk {
				gf16.Xor(w[i], w[start+i])
			}
		}
		if last := k % chunk; last > 0 {
			gf16.IFFT(t, w, start, chunk, last, start+chunk)
			for i := range chunk {
				gf16.Xor(w[i], w[start+i])
			}
		}
	}
	gf16.FFT(t, w, 0, chunk, r, 0)
}

// runLow is the low-rate encoder (F2.4): the originals (zero-padded to a
// power of two) are interpolated once and the polynomial is evaluated on each
// following block of points.
func (c *Code) runLow(w [][]byte) {
	t, k, r := c.t, c.K, c.Recovery()
	chunk := nextPow2(k)
	gf16.IFFT(t, w, 0, chunk, k, 0)
	for start := chunk; start < r; start += chunk {
		for i := range chunk {
			copy(w[start+i], w[i])
		}
	}
	start := 0
	for ; start+chunk <= r; start += chunk {
		gf16.FFT(t, w, start, chunk, chunk, start+chunk)
	}
	if last := r % chunk; last > 0 {
		gf16.FFT(t, w, start, chunk, last, start+chunk)
	}
}

// Decode fills in every missing original. shards has N entries: index i < K
// is original i, index K+j is recovery j; a nil entry is missing. At least K
// entries must be present; missing originals are allocated.
func (c *Code) Decode(shards [][]byte) error {
	if len(shards) != c.N {
		return fmt.Errorf("%w: %d shards for a code of %d", ErrShardCount, len(shards), c.N)
	}
	l, present, missingOriginal := 0, 0, false
	for i, s := range shards {
		if s == nil {
			if i < c.K {
				missingOriginal = true
			}
			continue
		}
		if l == 0 {
			l = len(s)
		}
		if len(s) != l {
			return fmt.Errorf("%w: lengths %d and %d", ErrShardSize, l, len(s))
		}
		present++
	}
	if present < c.K {
		return fmt.Errorf("%w: %d of %d", ErrTooFewShards, present, c.K)
	}
	if !missingOriginal {
		return nil
	}
	if err := checkLen(l); err != nil {
		return err
	}
	t, k, r := c.t, c.K, c.Recovery()
	var erasures [gf16.Order]uint16
	// Positions in the work area of originals and recovery symbols.
	var origAt, recAt, end int
	if c.high {
		chunk := nextPow2(r)
		origAt, recAt, end = chunk, 0, chunk+k
		for i := range chunk {
			if i >= r || shards[k+i] == nil {
				erasures[i] = 1
			}
		}
		for i := range k {
			if shards[i] == nil {
				erasures[origAt+i] = 1
			}
		}
		evalPoly(t, &erasures, end)
	} else {
		chunk := nextPow2(k)
		origAt, recAt, end = 0, chunk, chunk+r
		for i := range k {
			if shards[i] == nil {
				erasures[i] = 1
			}
		}
		for i := range r {
			if shards[k+i] == nil {
				erasures[recAt+i] = 1
			}
		}
		for i := end; i < gf16.Order; i++ {
			erasures[i] = 1
		}
		evalPoly(t, &erasures, gf16.Order)
	}
	a := c.area(nextPow2(end), l, 0)
	defer c.release(a)
	w := a.vecs
	load := func(at int, src [][]byte) {
		for i, s := range src {
			if s != nil {
				copy(w[at+i], s)
				gf16.MulSlice(t, w[at+i], erasures[at+i])
			}
		}
	}
	load(origAt, shards[:k])
	load(recAt, shards[k:])
	gf16.IFFT(t, w, 0, len(w), end, 0)
	gf16.FormalDerivative(w)
	gf16.FFT(t, w, 0, len(w), end, 0)
	for i := range k {
		if shards[i] == nil {
			v := w[origAt+i]
			gf16.MulSlice(t, v, gf16.Modulus-erasures[origAt+i])
			shards[i] = append([]byte(nil), v...)
		}
	}
	return nil
}

// evalPoly turns the erasure indicator into the logarithms of the error
// locator polynomial's values (reed-solomon-simd eval_poly).
func evalPoly(t *gf16.Tables, e *[gf16.Order]uint16, truncated int) {
	gf16.FWHT(e, truncated)
	for i := range e {
		p := uint32(e[i]) * uint32(t.LogWalsh[i])
		e[i] = gf16.AddMod(uint16(p), uint16(p>>gf16.Bits))
	}
	gf16.FWHT(e, gf16.Order)
}
