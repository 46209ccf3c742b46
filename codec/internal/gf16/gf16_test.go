package gf16

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// element reads element e of a Leopard-layout vector.
func element(v []byte, e int) uint16 {
	off := e/32*64 + e%32
	return uint16(v[off]) | uint16(v[off+32])<<8
}

// TestMulSliceAgainstScalar checks the vector multiply element by element
// against the log/exp definition, on whichever path the CPU takes.
func TestMulSliceAgainstScalar(t *testing.T) {
	tb := Get()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, logM := range []uint16{0, 1, 2, 12345, Modulus - 1, Modulus} {
		x := randBytes(rng, 64*5)
		y := bytes.Clone(x)
		MulSlice(tb, y, logM)
		for e := range len(x) / 2 {
			if got, want := element(y, e), tb.Mul(element(x, e), logM); got != want {
				t.Fatalf("logM %d element %d: %#x, want %#x", logM, e, got, want)
			}
		}
	}
}

// TestKernelsAgainstGeneric compares every dispatched kernel with the
// portable reference on random vectors and constants.
func TestKernelsAgainstGeneric(t *testing.T) {
	tb := Get()
	rng := rand.New(rand.NewPCG(3, 4))
	if !haveGFNI {
		t.Log("no GFNI on this CPU: the dispatched kernels are the generic ones")
	}
	for trial := range 300 {
		n := 64 * (1 + rng.IntN(200))
		logM := uint16(rng.IntN(Modulus))
		if trial < 3 {
			logM = []uint16{0, 1, Modulus - 1}[trial]
		}
		a, b := randBytes(rng, n), randBytes(rng, n)
		a1, b1, a2, b2 := bytes.Clone(a), bytes.Clone(b), bytes.Clone(a), bytes.Clone(b)
		FFTButterfly(tb, a1, b1, logM)
		fftButterflyGeneric(tb, a2, b2, logM)
		if !bytes.Equal(a1, a2) || !bytes.Equal(b1, b2) {
			t.Fatalf("FFT butterfly differs (n=%d logM=%d)", n, logM)
		}
		a1, b1, a2, b2 = bytes.Clone(a), bytes.Clone(b), bytes.Clone(a), bytes.Clone(b)
		IFFTButterfly(tb, a1, b1, logM)
		ifftButterflyGeneric(tb, a2, b2, logM)
		if !bytes.Equal(a1, a2) || !bytes.Equal(b1, b2) {
			t.Fatalf("IFFT butterfly differs (n=%d logM=%d)", n, logM)
		}
		x1, x2 := bytes.Clone(a), bytes.Clone(a)
		MulSlice(tb, x1, logM)
		mulGeneric(tb, x2, logM)
		if !bytes.Equal(x1, x2) {
			t.Fatalf("multiply differs (n=%d logM=%d)", n, logM)
		}
		// A butterfly followed by its inverse restores the inputs.
		a1, b1 = bytes.Clone(a), bytes.Clone(b)
		IFFTButterfly(tb, a1, b1, logM)
		// IFFT: b' = b^a, a' = a ^ b'c. FFT on (a', b'): a'' = a' ^ b'c = a, b'' = b' ^ a = b.
		FFTButterfly(tb, a1, b1, logM)
		if !bytes.Equal(a1, a) || !bytes.Equal(b1, b) {
			t.Fatal("FFT butterfly does not invert the IFFT butterfly")
		}
	}
}

// TestAVX2KernelsAgainstGeneric runs the AVX2 kernels directly (they are
// dispatched only without GFNI) against the portable reference.
func TestAVX2KernelsAgainstGeneric(t *testing.T) {
	if !haveAVX2 {
		t.Skip("no AVX2 on this CPU")
	}
	tb := Get()
	rng := rand.New(rand.NewPCG(7, 8))
	for trial := range 300 {
		n := 64 * (1 + rng.IntN(200))
		logM := uint16(rng.IntN(Modulus))
		if trial < 3 {
			logM = []uint16{0, 1, Modulus - 1}[trial]
		}
		tab := nibbleTables(tb, logM)
		a, b := randBytes(rng, n), randBytes(rng, n)
		a1, b1, a2, b2 := bytes.Clone(a), bytes.Clone(b), bytes.Clone(a), bytes.Clone(b)
		fftButterflyAVX2(&a1[0], &b1[0], n/64, &tab)
		fftButterflyGeneric(tb, a2, b2, logM)
		if !bytes.Equal(a1, a2) || !bytes.Equal(b1, b2) {
			t.Fatalf("AVX2 FFT butterfly differs (n=%d logM=%d)", n, logM)
		}
		a1, b1, a2, b2 = bytes.Clone(a), bytes.Clone(b), bytes.Clone(a), bytes.Clone(b)
		ifftButterflyAVX2(&a1[0], &b1[0], n/64, &tab)
		ifftButterflyGeneric(tb, a2, b2, logM)
		if !bytes.Equal(a1, a2) || !bytes.Equal(b1, b2) {
			t.Fatalf("AVX2 IFFT butterfly differs (n=%d logM=%d)", n, logM)
		}
		x1, x2 := bytes.Clone(a), bytes.Clone(a)
		mulAVX2(&x1[0], n/64, &tab)
		mulGeneric(tb, x2, logM)
		if !bytes.Equal(x1, x2) {
			t.Fatalf("AVX2 multiply differs (n=%d logM=%d)", n, logM)
		}
	}
}

// TestFFTInverse checks IFFT then FFT over the same points is the identity.
func TestFFTInverse(t *testing.T) {
	tb := Get()
	rng := rand.New(rand.NewPCG(5, 6))
	for _, size := range []int{2, 8, 64, 512} {
		for _, skew := range []int{0, size, 3 * size} {
			data := make([][]byte, size)
			orig := make([][]byte, size)
			for i := range data {
				data[i] = randBytes(rng, 128)
				orig[i] = bytes.Clone(data[i])
			}
			IFFT(tb, data, 0, size, size, skew)
			FFT(tb, data, 0, size, size, skew)
			for i := range data {
				if !bytes.Equal(data[i], orig[i]) {
					t.Fatalf("size %d skew %d: vector %d differs", size, skew, i)
				}
			}
		}
	}
}

func BenchmarkFFTButterfly(b *testing.B) {
	tb := Get()
	for _, n := range []int{64, 2048, 65536} {
		x, y := make([]byte, n), make([]byte, n)
		b.Run("dispatched/"+itoa(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				FFTButterfly(tb, x, y, 1234)
			}
		})
		if haveAVX2 {
			b.Run("avx2/"+itoa(n), func(b *testing.B) {
				b.SetBytes(int64(n))
				tab := nibbleTables(tb, 1234)
				for b.Loop() {
					fftButterflyAVX2(&x[0], &y[0], n/64, &tab)
				}
			})
		}
		b.Run("generic/"+itoa(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				fftButterflyGeneric(tb, x, y, 1234)
			}
		})
	}
}

func BenchmarkFFT1024(b *testing.B) {
	tb := Get()
	for _, n := range []int{64, 2048} {
		data := make([][]byte, 1024)
		for i := range data {
			data[i] = make([]byte, n)
		}
		b.Run(itoa(n), func(b *testing.B) {
			b.SetBytes(int64(1024 * n))
			for b.Loop() {
				IFFT(tb, data, 0, 1024, 1024, 1024)
				FFT(tb, data, 0, 1024, 1024, 0)
			}
		})
	}
}

func itoa(i int) string {
	s := ""
	for ; i > 0; i /= 10 {
		s = string(rune('0'+i%10)) + s
	}
	return s
}
