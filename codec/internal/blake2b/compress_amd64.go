//go:build amd64 && !purego

package blake2b

import "golang.org/x/sys/cpu"

//go:noescape
func compress8AVX512(h *lanesState, blocks *lanesBlocks, v12, v14 uint64)

func compress8(h *lanesState, m *lanesBlocks, t uint64, final bool) {
	v14 := iv[6]
	if final {
		v14 = ^v14
	}
	compress8AVX512(h, m, iv[4]^t, v14)
}

func haveAVX512() bool { return cpu.X86.HasAVX512F }

// compressFunc picks the AVX-512 compression when the CPU has it.
func compressFunc() compressor {
	if haveAVX512() {
		return compress8
	}
	return compressGeneric
}
