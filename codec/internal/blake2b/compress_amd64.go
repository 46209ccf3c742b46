//go:build amd64 && !purego

package blake2b

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// hashAVX512 hashes count prefixed messages, message i at src+i*stride,
// writing 32 bytes per message to dst; p describes the common length.
//
//go:noescape
func hashAVX512(dst, src *byte, stride, count int, p *params)

// compress4AVX2 compresses one block of four lanes: h points at word 0 of
// the first lane of a lanesState, m at the first lane's block.
//
//go:noescape
func compress4AVX2(h *uint64, m *byte, v12, v14 uint64)

var (
	hasAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW
	hasAVX2   = cpu.X86.HasAVX2
)

// compress8AVX2 runs the eight lanes as two groups of four.
func compress8AVX2(h *lanesState, m *lanesBlocks, t uint64, final bool) {
	v14 := iv[6]
	if final {
		v14 = ^v14
	}
	compress4AVX2(&h[0][0], &m[0][0], iv[4]^t, v14)
	compress4AVX2(&h[0][4], &m[4][0], iv[4]^t, v14)
}

func sumAVX512(dst, src []byte, msgLen, stride int, prefix byte) {
	count := len(dst) / Size
	p := newParams(msgLen, prefix)
	hashAVX512(unsafe.SliceData(dst), unsafe.SliceData(src), stride, count, &p)
}

// sumBest is the fastest implementation on this CPU.
func sumBest(dst, src []byte, msgLen, stride int, prefix byte) {
	switch {
	case hasAVX512:
		sumAVX512(dst, src, msgLen, stride, prefix)
	case hasAVX2:
		sumLanes(kernelAVX2, dst, src, msgLen, stride, prefix)
	default:
		sumXCrypto(dst, src, msgLen, stride, prefix)
	}
}
