package gf16

import "crypto/subtle"

// The vector kernels. Every vector is a []byte in the Leopard layout (see the
// package doc) and all vectors of one call have the same length, a multiple
// of 64. The exported functions dispatch to the fastest implementation the
// CPU has; the *Generic ones are the portable reference.

// Xor sets x ^= y.
func Xor(x, y []byte) { subtle.XORBytes(x, x, y[:len(x)]) }

// MulSlice sets x = x · exp(logM).
func MulSlice(t *Tables, x []byte, logM uint16) {
	if haveGFNI && len(x) >= 64 {
		mulGFNI(&x[0], len(x)/64, &t.Affine[logM])
		return
	}
	if haveAVX2 && len(x) >= 64 {
		mulAVX2(&x[0], len(x)/64, &t.Nibble[logM])
		return
	}
	mulGeneric(t, x, logM)
}

// FFTButterfly sets a ^= b·exp(logM); b ^= a. logM must not be Modulus
// (callers do only b ^= a then).
func FFTButterfly(t *Tables, a, b []byte, logM uint16) {
	if haveGFNI && len(a) >= 64 {
		b = b[:len(a)]
		fftButterflyGFNI(&a[0], &b[0], len(a)/64, &t.Affine[logM])
		return
	}
	if haveAVX2 && len(a) >= 64 {
		b = b[:len(a)]
		fftButterflyAVX2(&a[0], &b[0], len(a)/64, &t.Nibble[logM])
		return
	}
	fftButterflyGeneric(t, a, b, logM)
}

// IFFTButterfly sets b ^= a; a ^= b·exp(logM). logM must not be Modulus
// (callers do only b ^= a then).
func IFFTButterfly(t *Tables, a, b []byte, logM uint16) {
	if haveGFNI && len(a) >= 64 {
		b = b[:len(a)]
		ifftButterflyGFNI(&a[0], &b[0], len(a)/64, &t.Affine[logM])
		return
	}
	if haveAVX2 && len(a) >= 64 {
		b = b[:len(a)]
		ifftButterflyAVX2(&a[0], &b[0], len(a)/64, &t.Nibble[logM])
		return
	}
	ifftButterflyGeneric(t, a, b, logM)
}

// nibbleTables splits the constant's nibble products (Mul16[logM]) into
// the byte tables of the AVX2 kernels (Tables.Nibble).
func nibbleTables(t *Tables, logM uint16) [8][16]byte {
	var tab [8][16]byte
	lut := &t.Mul16[logM]
	for i := range 4 {
		for x := range 16 {
			tab[2*i][x] = byte(lut[i][x])
			tab[2*i+1][x] = byte(lut[i][x] >> 8)
		}
	}
	return tab
}

// mulBlock multiplies the 32 elements of one 64-byte block by lut.
func mulBlock(lut *[4][16]uint16, lo, hi []byte, dlo, dhi []byte, xorInto bool) {
	lo, hi, dlo, dhi = lo[:32], hi[:32], dlo[:32], dhi[:32]
	for k := range 32 {
		l, h := lo[k], hi[k]
		p := lut[0][l&15] ^ lut[1][l>>4] ^ lut[2][h&15] ^ lut[3][h>>4]
		if xorInto {
			dlo[k] ^= byte(p)
			dhi[k] ^= byte(p >> 8)
		} else {
			dlo[k] = byte(p)
			dhi[k] = byte(p >> 8)
		}
	}
}

func mulGeneric(t *Tables, x []byte, logM uint16) {
	lut := &t.Mul16[logM]
	for off := 0; off+64 <= len(x); off += 64 {
		blk := x[off : off+64]
		mulBlock(lut, blk[:32], blk[32:], blk[:32], blk[32:], false)
	}
}

func fftButterflyGeneric(t *Tables, a, b []byte, logM uint16) {
	lut := &t.Mul16[logM]
	b = b[:len(a)]
	for off := 0; off+64 <= len(a); off += 64 {
		ab, bb := a[off:off+64], b[off:off+64]
		mulBlock(lut, bb[:32], bb[32:], ab[:32], ab[32:], true)
		for k := range 64 {
			bb[k] ^= ab[k]
		}
	}
}

func ifftButterflyGeneric(t *Tables, a, b []byte, logM uint16) {
	lut := &t.Mul16[logM]
	b = b[:len(a)]
	for off := 0; off+64 <= len(a); off += 64 {
		ab, bb := a[off:off+64], b[off:off+64]
		for k := range 64 {
			bb[k] ^= ab[k]
		}
		mulBlock(lut, bb[:32], bb[32:], ab[:32], ab[32:], true)
	}
}
