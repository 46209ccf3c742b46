//go:build !amd64 || purego

package gf16

const haveGFNI = false

const haveAVX2 = false

func mulGFNI(x *byte, blocks int, mat *[4]uint64)              { panic("gf16: no GFNI") }
func fftButterflyGFNI(a, b *byte, blocks int, mat *[4]uint64)  { panic("gf16: no GFNI") }
func ifftButterflyGFNI(a, b *byte, blocks int, mat *[4]uint64) { panic("gf16: no GFNI") }

func mulAVX2(x *byte, blocks int, tab *[8][16]byte)              { panic("gf16: no AVX2") }
func fftButterflyAVX2(a, b *byte, blocks int, tab *[8][16]byte)  { panic("gf16: no AVX2") }
func ifftButterflyAVX2(a, b *byte, blocks int, tab *[8][16]byte) { panic("gf16: no AVX2") }
