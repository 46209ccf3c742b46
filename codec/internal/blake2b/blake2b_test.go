package blake2b

import (
	"bytes"
	"math/rand/v2"
	"testing"

	xblake2b "golang.org/x/crypto/blake2b"
)

type sumFunc func(dst, src []byte, msgLen, stride int, prefix byte)

// paths are the implementations this machine can run, each forced.
func paths() map[string]sumFunc {
	p := map[string]sumFunc{
		"xcrypto": sumXCrypto,
		"golanes": func(dst, src []byte, msgLen, stride int, prefix byte) {
			sumLanes(compressGeneric, dst, src, msgLen, stride, prefix)
		},
	}
	archPaths(p)
	return p
}

func reference(src []byte, count, msgLen, stride int, prefix byte) []byte {
	out := make([]byte, 0, count*Size)
	for i := range count {
		msg := append([]byte{prefix}, src[i*stride:i*stride+msgLen]...)
		h := xblake2b.Sum256(msg)
		out = append(out, h[:]...)
	}
	return out
}

func check(t *testing.T, name string, c sumFunc, rng *rand.Rand, count, msgLen, stride int) {
	t.Helper()
	src := make([]byte, max(0, (count-1)*stride+msgLen)+rng.IntN(3))
	for i := range src {
		src[i] = byte(rng.Uint32())
	}
	prefix := byte(rng.Uint32())
	// An odd offset makes the slices unaligned.
	dstBuf := make([]byte, count*Size+1)
	dst := dstBuf[1:]
	c(dst, src, msgLen, stride, prefix)
	if want := reference(src, count, msgLen, stride, prefix); !bytes.Equal(dst, want) {
		t.Fatalf("%s: count %d msgLen %d stride %d differs from x/crypto", name, count, msgLen, stride)
	}
}

func TestEveryLength(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for name, c := range paths() {
		for msgLen := 0; msgLen <= 300; msgLen++ {
			check(t, name, c, rng, 1+rng.IntN(20), msgLen, msgLen)
		}
		for _, msgLen := range []int{1000, 4095, 65534, 65535} {
			check(t, name, c, rng, 1+rng.IntN(10), msgLen, msgLen)
		}
		for count := range 41 {
			check(t, name, c, rng, count, 64, 64)
			check(t, name, c, rng, count, 6, 6+rng.IntN(50))
		}
		check(t, name, c, rng, 1000, 6, 6)
		check(t, name, c, rng, 333, 302, 302*334)
	}
}

func TestPublicAPI(t *testing.T) {
	src := []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	dst := make([]byte, 2*Size)
	SumPrefixed(dst, src, 32, 1)
	if !bytes.Equal(dst, reference(src, 2, 32, 32, 1)) {
		t.Fatal("SumPrefixed differs")
	}
	if Sum256(src) != xblake2b.Sum256(src) {
		t.Fatal("Sum256 differs")
	}
	SumPrefixed(nil, nil, 5, 0) // no messages: nothing to do
	defer func() {
		if recover() == nil {
			t.Fatal("a source shorter than the messages did not panic")
		}
	}()
	SumPrefixed(make([]byte, 64), src[:10], 6, 0)
}

func FuzzSumPrefixed(f *testing.F) {
	f.Add([]byte("seed"), uint8(3), uint8(2), byte(0))
	f.Add(make([]byte, 700), uint8(130), uint8(5), byte(1))
	f.Fuzz(func(t *testing.T, data []byte, msgLen, count uint8, prefix byte) {
		n := int(count % 20)
		l := int(msgLen)
		if n*l > len(data) {
			return
		}
		dst := make([]byte, n*Size)
		SumPrefixed(dst, data, l, prefix)
		if !bytes.Equal(dst, reference(data, n, l, l, prefix)) {
			t.Fatal("differs from x/crypto")
		}
	})
}

func benchPath(b *testing.B, c sumFunc, msgLen int) {
	const count = 1024
	src := make([]byte, count*msgLen)
	dst := make([]byte, count*Size)
	b.SetBytes(int64(count * (msgLen + 1)))
	for b.Loop() {
		c(dst, src, msgLen, msgLen, 0)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*count), "ns/hash")
}

func BenchmarkLanes(b *testing.B) {
	for name, c := range paths() {
		for _, l := range []int{6, 64, 302} {
			b.Run(name+"/"+itoa(l+1), func(b *testing.B) { benchPath(b, c, l) })
		}
	}
}

func BenchmarkXCrypto(b *testing.B) {
	for _, l := range []int{7, 65, 303} {
		msg := make([]byte, l)
		b.Run(itoa(l), func(b *testing.B) {
			for b.Loop() {
				xblake2b.Sum256(msg)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/hash")
		})
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var s []byte
	for ; i > 0; i /= 10 {
		s = append([]byte{byte('0' + i%10)}, s...)
	}
	return string(s)
}
