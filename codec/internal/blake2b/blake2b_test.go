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
			sumLanes(kernelGeneric, dst, src, msgLen, stride, prefix)
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
	// A random offset makes src unaligned.
	off := rng.IntN(8)
	src := make([]byte, off+max(0, (count-1)*stride+msgLen)+rng.IntN(3))
	for i := range src {
		src[i] = byte(rng.Uint32())
	}
	src = src[off:]
	prefix := byte(rng.Uint32())
	// dst is unaligned and fenced by guard bytes that must stay untouched.
	const guard = 40
	dstBuf := make([]byte, guard+count*Size+guard)
	for i := range dstBuf {
		dstBuf[i] = 0xa5
	}
	dst := dstBuf[guard : guard+count*Size]
	c(dst, src, msgLen, stride, prefix)
	if want := reference(src, count, msgLen, stride, prefix); !bytes.Equal(dst, want) {
		t.Fatalf("%s: count %d msgLen %d stride %d differs from x/crypto", name, count, msgLen, stride)
	}
	for i, v := range dstBuf {
		if (i < guard || i >= guard+count*Size) && v != 0xa5 {
			t.Fatalf("%s: count %d msgLen %d: wrote outside dst", name, count, msgLen)
		}
	}
}

func TestEveryLength(t *testing.T) {
	for name, c := range paths() {
		rng := rand.New(rand.NewPCG(1, 2))
		for msgLen := 0; msgLen <= 300; msgLen++ {
			check(t, name, c, rng, 1+rng.IntN(40), msgLen, msgLen)
			check(t, name, c, rng, 1+rng.IntN(20), msgLen, msgLen+1+rng.IntN(200))
		}
		for _, msgLen := range []int{1000, 4095, 65534, 65535} {
			check(t, name, c, rng, 1+rng.IntN(10), msgLen, msgLen)
			check(t, name, c, rng, 1+rng.IntN(10), msgLen, msgLen+1+rng.IntN(300))
		}
		for count := range 41 {
			for _, msgLen := range []int{0, 1, 6, 64, 127, 128, 302} {
				check(t, name, c, rng, count, msgLen, msgLen)
			}
			check(t, name, c, rng, count, 6, 6+rng.IntN(50))
		}
		for _, count := range []int{1000, 1001, 1007, 4099} {
			check(t, name, c, rng, count, 6, 6)
			check(t, name, c, rng, count, 64, 64)
		}
		check(t, name, c, rng, 333, 302, 302*334)
		for range 20 {
			check(t, name, c, rng, rng.IntN(3000), rng.IntN(400), rng.IntN(400)+400)
		}
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
	f.Add([]byte("seed"), uint16(3), uint16(0), uint8(2), byte(0))
	f.Add(make([]byte, 700), uint16(130), uint16(7), uint8(5), byte(1))
	f.Add(make([]byte, 3000), uint16(6), uint16(1), uint8(40), byte(0))
	ps := paths()
	f.Fuzz(func(t *testing.T, data []byte, msgLen, gap uint16, count uint8, prefix byte) {
		n := int(count % 64)
		l := int(msgLen)
		stride := l + int(gap%64)
		if n > 0 && (n-1)*stride+l > len(data) {
			return
		}
		want := reference(data, n, l, stride, prefix)
		dst := make([]byte, n*Size)
		SumPrefixedStrided(dst, data, l, stride, prefix)
		if !bytes.Equal(dst, want) {
			t.Fatal("SumPrefixedStrided differs from x/crypto")
		}
		if stride == l {
			clear(dst)
			SumPrefixed(dst, data, l, prefix)
			if !bytes.Equal(dst, want) {
				t.Fatal("SumPrefixed differs from x/crypto")
			}
		}
		for name, c := range ps {
			clear(dst)
			c(dst, data, l, stride, prefix)
			if !bytes.Equal(dst, want) {
				t.Fatalf("%s differs from x/crypto", name)
			}
		}
	})
}

// benchLens are the prefixed message lengths benchmarked: a 6-byte symbol's
// leaf, an inner node, a 302-byte symbol's leaf (three blocks).
var benchLens = []int{7, 65, 303}

// reportPerHash adds ns/hash (wall clock) and cpu-ns/hash (process CPU
// time, which the other processes on a shared machine inflate less).
func reportPerHash(b *testing.B, cpu0 int64, hashes int) {
	n := float64(b.N * hashes)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/hash")
	if cpu0 != 0 {
		b.ReportMetric(float64(cpuNanos()-cpu0)/n, "cpu-ns/hash")
	}
}

func benchPath(b *testing.B, c sumFunc, total int) {
	const count = 1024
	msgLen := total - 1
	src := make([]byte, count*msgLen)
	for i := range src {
		src[i] = byte(i * 7)
	}
	dst := make([]byte, count*Size)
	b.SetBytes(int64(count * total))
	cpu0 := cpuNanos()
	for b.Loop() {
		c(dst, src, msgLen, msgLen, 0)
	}
	reportPerHash(b, cpu0, count)
}

// BenchmarkSum measures every implementation (forced) and the public API
// on batches of 1024 messages.
func BenchmarkSum(b *testing.B) {
	ps := paths()
	ps["api"] = func(dst, src []byte, msgLen, stride int, prefix byte) {
		SumPrefixedStrided(dst, src, msgLen, stride, prefix)
	}
	for _, name := range []string{"api", "avx512", "avx2", "golanes", "xcrypto"} {
		c, ok := ps[name]
		if !ok {
			continue
		}
		for _, l := range benchLens {
			b.Run(name+"/"+itoa(l), func(b *testing.B) { benchPath(b, c, l) })
		}
	}
}

// BenchmarkXCryptoSum256 is the baseline: x/crypto's Sum256 in a loop.
func BenchmarkXCryptoSum256(b *testing.B) {
	for _, l := range benchLens {
		msg := make([]byte, l)
		b.Run(itoa(l), func(b *testing.B) {
			cpu0 := cpuNanos()
			for b.Loop() {
				xblake2b.Sum256(msg)
			}
			reportPerHash(b, cpu0, 1)
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

func TestParamsMasks(t *testing.T) {
	for msgLen := range 700 {
		p := newParams(msgLen, 0)
		total := 1 + msgLen
		slow := func(b, h int) uint64 {
			var m uint64
			for i := range 64 {
				if at := b*blockSize + 64*h + i; at >= 1 && at < total {
					m |= 1 << i
				}
			}
			return m
		}
		last := int(p.blocks) - 1
		if p.firstLo != slow(0, 0) || p.firstHi != slow(0, 1) || p.lastLo != slow(last, 0) || p.lastHi != slow(last, 1) {
			t.Fatalf("msgLen %d: masks %x %x %x %x", msgLen, p.firstLo, p.firstHi, p.lastLo, p.lastHi)
		}
	}
}

func TestNoAllocs(t *testing.T) {
	src := make([]byte, 1000*65)
	dst := make([]byte, 1000*Size)
	for _, n := range []int{1, 2, 1000} {
		if a := testing.AllocsPerRun(10, func() { SumPrefixed(dst[:n*Size], src, 64, 1) }); a != 0 {
			t.Errorf("count %d: %v allocations", n, a)
		}
	}
}

// BenchmarkSmallBatches is the public API on batches of 1, 2 and 8 inner
// nodes, per hash.
func BenchmarkSmallBatches(b *testing.B) {
	src := make([]byte, 8*64)
	dst := make([]byte, 8*Size)
	for _, n := range []int{1, 2, 8} {
		b.Run(itoa(n), func(b *testing.B) {
			cpu0 := cpuNanos()
			for b.Loop() {
				SumPrefixed(dst[:n*Size], src, 64, 1)
			}
			reportPerHash(b, cpu0, n)
		})
	}
}
