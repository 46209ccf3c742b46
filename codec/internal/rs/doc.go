// Package rs is the systematic 1-D Reed-Solomon code over GF(2^16) of
// reed-solomon-simd 3.1.0 (spec §2): the high-rate and the low-rate encoder,
// chosen by the same rule as its DefaultRate (F2.3), and the erasure decoder
// for both rates (error-locator polynomial, formal derivative, FFT).
//
// A Code works on vectors in the Leopard layout of package gf16: every
// element position is an independent codeword (F2.5), so many symbols of
// many rows or columns can share one vector and one pass of the FFT (F18.4).
package rs
