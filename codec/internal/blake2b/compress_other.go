//go:build !amd64 || purego

package blake2b

const hasAVX512, hasAVX2 = false, false

func sumBest(dst, src []byte, msgLen, stride int, prefix byte) {
	sumXCrypto(dst, src, msgLen, stride, prefix)
}

// compress8AVX2 exists only on amd64; sumLanes never picks it here.
func compress8AVX2(h *lanesState, m *lanesBlocks, t uint64, final bool) {
	panic("blake2b: AVX2 kernel on a build without it")
}
