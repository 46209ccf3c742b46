//go:build !amd64 || purego

package gf16

const haveGFNI = false

func mulGFNI(x *byte, blocks int, mat *[4]uint64)              { panic("gf16: no GFNI") }
func fftButterflyGFNI(a, b *byte, blocks int, mat *[4]uint64)  { panic("gf16: no GFNI") }
func ifftButterflyGFNI(a, b *byte, blocks int, mat *[4]uint64) { panic("gf16: no GFNI") }
