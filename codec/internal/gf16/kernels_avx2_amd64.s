//go:build amd64 && !purego

#include "textflag.h"

// The AVX2 kernels multiply by a constant with nibble tables (Leopard's
// approach): for each of the four nibbles of an element, VPSHUFB looks up
// the low and the high byte of that nibble's product, and the four are
// XORed. tab holds 8 tables of 16 bytes: nibble 0 low, nibble 0 high,
// nibble 1 low, …, nibble 3 high (Tables.Mul16 split by byte).

#define LOAD_TABLES \
	VBROADCASTI128 0(DX), Y6 \
	VBROADCASTI128 16(DX), Y7 \
	VBROADCASTI128 32(DX), Y8 \
	VBROADCASTI128 48(DX), Y9 \
	VBROADCASTI128 64(DX), Y10 \
	VBROADCASTI128 80(DX), Y11 \
	VBROADCASTI128 96(DX), Y12 \
	VBROADCASTI128 112(DX), Y13 \
	MOVQ $0x0f0f0f0f0f0f0f0f, AX \
	MOVQ AX, X14 \
	VPBROADCASTQ X14, Y14

// NIBPRODUCT replaces the element planes in Y0 (low bytes) and Y1 (high
// bytes) by their product with the constant; Y2-Y5 and Y15 are scratch.
#define NIBPRODUCT \
	VPAND Y14, Y0, Y2 \
	VPSRLQ $4, Y0, Y3 \
	VPAND Y14, Y3, Y3 \
	VPAND Y14, Y1, Y4 \
	VPSRLQ $4, Y1, Y5 \
	VPAND Y14, Y5, Y5 \
	VPSHUFB Y2, Y6, Y0 \
	VPSHUFB Y3, Y8, Y15 \
	VPXOR Y15, Y0, Y0 \
	VPSHUFB Y4, Y10, Y15 \
	VPXOR Y15, Y0, Y0 \
	VPSHUFB Y5, Y12, Y15 \
	VPXOR Y15, Y0, Y0 \
	VPSHUFB Y2, Y7, Y1 \
	VPSHUFB Y3, Y9, Y15 \
	VPXOR Y15, Y1, Y1 \
	VPSHUFB Y4, Y11, Y15 \
	VPXOR Y15, Y1, Y1 \
	VPSHUFB Y5, Y13, Y15 \
	VPXOR Y15, Y1, Y1

// func mulAVX2(x *byte, blocks int, tab *[8][16]byte)
TEXT ·mulAVX2(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), DI
	MOVQ blocks+8(FP), CX
	MOVQ tab+16(FP), DX
	LOAD_TABLES
mulLoop:
	VMOVDQU 0(DI), Y0
	VMOVDQU 32(DI), Y1
	NIBPRODUCT
	VMOVDQU Y0, 0(DI)
	VMOVDQU Y1, 32(DI)
	ADDQ $64, DI
	DECQ CX
	JNZ mulLoop
	VZEROUPPER
	RET

// func fftButterflyAVX2(a, b *byte, blocks int, tab *[8][16]byte)
// a ^= b·c; b ^= a
TEXT ·fftButterflyAVX2(SB), NOSPLIT, $0-32
	MOVQ a+0(FP), DI
	MOVQ b+8(FP), SI
	MOVQ blocks+16(FP), CX
	MOVQ tab+24(FP), DX
	LOAD_TABLES
fftLoop:
	VMOVDQU 0(SI), Y0
	VMOVDQU 32(SI), Y1
	NIBPRODUCT
	VPXOR 0(DI), Y0, Y0
	VPXOR 32(DI), Y1, Y1
	VMOVDQU Y0, 0(DI)
	VMOVDQU Y1, 32(DI)
	VPXOR 0(SI), Y0, Y0
	VPXOR 32(SI), Y1, Y1
	VMOVDQU Y0, 0(SI)
	VMOVDQU Y1, 32(SI)
	ADDQ $64, DI
	ADDQ $64, SI
	DECQ CX
	JNZ fftLoop
	VZEROUPPER
	RET

// func ifftButterflyAVX2(a, b *byte, blocks int, tab *[8][16]byte)
// b ^= a; a ^= b·c
TEXT ·ifftButterflyAVX2(SB), NOSPLIT, $0-32
	MOVQ a+0(FP), DI
	MOVQ b+8(FP), SI
	MOVQ blocks+16(FP), CX
	MOVQ tab+24(FP), DX
	LOAD_TABLES
ifftLoop:
	VMOVDQU 0(DI), Y0
	VPXOR 0(SI), Y0, Y0
	VMOVDQU 32(DI), Y1
	VPXOR 32(SI), Y1, Y1
	VMOVDQU Y0, 0(SI)
	VMOVDQU Y1, 32(SI)
	NIBPRODUCT
	VPXOR 0(DI), Y0, Y0
	VPXOR 32(DI), Y1, Y1
	VMOVDQU Y0, 0(DI)
	VMOVDQU Y1, 32(DI)
	ADDQ $64, DI
	ADDQ $64, SI
	DECQ CX
	JNZ ifftLoop
	VZEROUPPER
	RET
