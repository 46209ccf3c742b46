package chainlink

import "math/bits"

func mulFull(a, b uint64) (hi, lo uint64) { return bits.Mul64(a, b) }

// divFull divides the 128-bit hi:lo by c; callers guarantee hi < c.
func divFull(hi, lo, c uint64) (q, r uint64) {
	if hi >= c {
		return ^uint64(0), 0
	}
	return bits.Div64(hi, lo, c)
}
