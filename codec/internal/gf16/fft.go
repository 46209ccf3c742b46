package gf16

// FFT is the in-place decimation-in-time additive FFT of reed-solomon-simd on
// the vectors data[pos:pos+size] (spec F2.2). Only the first truncated
// outputs are valid unless the rest of the input was zero.
func FFT(t *Tables, data [][]byte, pos, size, truncated, skewDelta int) {
	for dist := size >> 1; dist > 0; dist >>= 1 {
		for r := 0; r < truncated; r += dist << 1 {
			lm := t.Skew[r+dist+skewDelta-1]
			for i := r; i < r+dist; i++ {
				a, b := data[pos+i], data[pos+i+dist]
				if lm != Modulus {
					FFTButterfly(t, a, b, lm)
				} else {
					Xor(b, a)
				}
			}
		}
	}
}

// IFFT is the in-place inverse of FFT on data[pos:pos+size] (spec F2.2).
func IFFT(t *Tables, data [][]byte, pos, size, truncated, skewDelta int) {
	for dist := 1; dist < size; dist <<= 1 {
		for r := 0; r < truncated; r += dist << 1 {
			lm := t.Skew[r+dist+skewDelta-1]
			for i := r; i < r+dist; i++ {
				a, b := data[pos+i], data[pos+i+dist]
				if lm != Modulus {
					IFFTButterfly(t, a, b, lm)
				} else {
					Xor(b, a)
				}
			}
		}
	}
}

// FormalDerivative replaces the polynomial held in data (in the novel basis)
// by its formal derivative, as the erasure decoder needs.
func FormalDerivative(data [][]byte) {
	for i := 1; i < len(data); i++ {
		width := i & -i
		for j := range width {
			Xor(data[i-width+j], data[i+j])
		}
	}
}
