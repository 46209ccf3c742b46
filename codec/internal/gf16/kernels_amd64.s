//go:build amd64 && !purego

#include "textflag.h"

// Matrices: Y8 = low→low, Y9 = high→low, Y10 = low→high, Y11 = high→high.
#define LOAD_MATRICES \
	VPBROADCASTQ 0(DX), Y8 \
	VPBROADCASTQ 8(DX), Y9 \
	VPBROADCASTQ 16(DX), Y10 \
	VPBROADCASTQ 24(DX), Y11

// PRODUCT multiplies the element planes (lo, hi) by the constant into
// (plo, phi), using t as scratch.
#define PRODUCT(lo, hi, plo, phi, t) \
	VGF2P8AFFINEQB $0, Y8, lo, plo \
	VGF2P8AFFINEQB $0, Y9, hi, t \
	VPXOR t, plo, plo \
	VGF2P8AFFINEQB $0, Y10, lo, phi \
	VGF2P8AFFINEQB $0, Y11, hi, t \
	VPXOR t, phi, phi

// func mulGFNI(x *byte, blocks int, mat *[4]uint64)
TEXT ·mulGFNI(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), DI
	MOVQ blocks+8(FP), CX
	MOVQ mat+16(FP), DX
	LOAD_MATRICES
mulLoop:
	VMOVDQU 0(DI), Y0
	VMOVDQU 32(DI), Y1
	PRODUCT(Y0, Y1, Y2, Y3, Y4)
	VMOVDQU Y2, 0(DI)
	VMOVDQU Y3, 32(DI)
	ADDQ $64, DI
	DECQ CX
	JNZ mulLoop
	VZEROUPPER
	RET

// func fftButterflyGFNI(a, b *byte, blocks int, mat *[4]uint64)
// a ^= b·c; b ^= a
TEXT ·fftButterflyGFNI(SB), NOSPLIT, $0-32
	MOVQ a+0(FP), DI
	MOVQ b+8(FP), SI
	MOVQ blocks+16(FP), CX
	MOVQ mat+24(FP), DX
	LOAD_MATRICES
fftLoop:
	VMOVDQU 0(SI), Y0
	VMOVDQU 32(SI), Y1
	PRODUCT(Y0, Y1, Y2, Y3, Y4)
	VPXOR 0(DI), Y2, Y2
	VPXOR 32(DI), Y3, Y3
	VMOVDQU Y2, 0(DI)
	VMOVDQU Y3, 32(DI)
	VPXOR Y2, Y0, Y0
	VPXOR Y3, Y1, Y1
	VMOVDQU Y0, 0(SI)
	VMOVDQU Y1, 32(SI)
	ADDQ $64, DI
	ADDQ $64, SI
	DECQ CX
	JNZ fftLoop
	VZEROUPPER
	RET

// func ifftButterflyGFNI(a, b *byte, blocks int, mat *[4]uint64)
// b ^= a; a ^= b·c
TEXT ·ifftButterflyGFNI(SB), NOSPLIT, $0-32
	MOVQ a+0(FP), DI
	MOVQ b+8(FP), SI
	MOVQ blocks+16(FP), CX
	MOVQ mat+24(FP), DX
	LOAD_MATRICES
ifftLoop:
	VMOVDQU 0(DI), Y5
	VMOVDQU 32(DI), Y6
	VPXOR 0(SI), Y5, Y0
	VPXOR 32(SI), Y6, Y1
	VMOVDQU Y0, 0(SI)
	VMOVDQU Y1, 32(SI)
	PRODUCT(Y0, Y1, Y2, Y3, Y4)
	VPXOR Y2, Y5, Y5
	VPXOR Y3, Y6, Y6
	VMOVDQU Y5, 0(DI)
	VMOVDQU Y6, 32(DI)
	ADDQ $64, DI
	ADDQ $64, SI
	DECQ CX
	JNZ ifftLoop
	VZEROUPPER
	RET
