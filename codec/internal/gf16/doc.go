// Package gf16 is the arithmetic of GF(2^16) exactly as reed-solomon-simd
// 3.1.0 (and Leopard-RS) define it: polynomial 0x1002D, elements in the Cantor
// basis, log/exp tables, the FFT skew table and the Walsh-transformed log
// table used by the erasure decoder (spec F2.1).
//
// Vectors of field elements are held in the Leopard byte layout (spec F2.5):
// a vector is a []byte whose length is a multiple of 64, and each 64-byte
// block holds 32 elements, the 32 low bytes first and then the 32 high bytes.
// The kernels in this package (XOR, multiply by a constant, FFT and IFFT
// butterflies) operate on whole vectors; they are the hot loops of encoding
// and decoding.
package gf16

// Multiplying by a constant is linear over GF(2), so on CPUs with GFNI the
// kernels compute a product as four GF2P8AFFINEQB (low/high byte planes ×
// four 8×8 bit matrices, precomputed for every constant in Tables.Affine);
// elsewhere, or with the purego tag, four nibble lookups per element.
// Measured here (go test -bench . ./codec/internal/gf16/), one FFT butterfly
// over 2 KiB: 57 ns with GFNI, 2994 ns generic.
