//go:build amd64 && !purego

package blake2b

func archPaths(p map[string]sumFunc) {
	if hasAVX2 {
		p["avx2"] = func(dst, src []byte, msgLen, stride int, prefix byte) {
			sumLanes(kernelAVX2, dst, src, msgLen, stride, prefix)
		}
	}
	if hasAVX512 {
		p["avx512"] = sumAVX512
	}
}
