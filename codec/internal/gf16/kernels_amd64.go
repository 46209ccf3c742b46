//go:build amd64 && !purego

package gf16

import "golang.org/x/sys/cpu"

// haveGFNI is fixed at start-up from the CPU's features. The kernels use
// VEX-encoded GFNI on 256-bit registers; AVX512GFNI implies both.
var haveGFNI = cpu.X86.HasAVX512GFNI && cpu.X86.HasAVX2

// haveAVX2: without GFNI, AVX2's byte shuffles do the nibble lookups of
// mulBlock 32 at a time.
var haveAVX2 = cpu.X86.HasAVX2

// The GFNI kernels work on whole 64-byte blocks: 32 low bytes, then 32 high
// bytes. blocks must be at least 1.

//go:noescape
func mulGFNI(x *byte, blocks int, mat *[4]uint64)

//go:noescape
func fftButterflyGFNI(a, b *byte, blocks int, mat *[4]uint64)

//go:noescape
func ifftButterflyGFNI(a, b *byte, blocks int, mat *[4]uint64)

// The AVX2 kernels take the nibble tables of the constant (nibbleTables).

//go:noescape
func mulAVX2(x *byte, blocks int, tab *[8][16]byte)

//go:noescape
func fftButterflyAVX2(a, b *byte, blocks int, tab *[8][16]byte)

//go:noescape
func ifftButterflyAVX2(a, b *byte, blocks int, tab *[8][16]byte)
