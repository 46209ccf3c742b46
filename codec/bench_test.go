package codec

import (
	"math/rand/v2"
	"testing"
)

func benchEncode(b *testing.B, n, size int, metadataOnly bool) {
	p, _ := NewParams(n)
	blob := randomBlob(rand.New(rand.NewPCG(1, 2)), size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if metadataOnly {
			_, _, err = ComputeMetadata(p, blob)
		} else {
			_, err = Encode(p, blob)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode1MiB(b *testing.B)     { benchEncode(b, 1000, 1<<20, false) }
func BenchmarkEncode64MiB(b *testing.B)    { benchEncode(b, 1000, 64<<20, false) }
func BenchmarkBlobID1MiB(b *testing.B)     { benchEncode(b, 1000, 1<<20, true) }
func BenchmarkEncode1MiBn100(b *testing.B) { benchEncode(b, 100, 1<<20, false) }

func BenchmarkDecodePrimary64MiB(b *testing.B) {
	p, _ := NewParams(1000)
	blob := randomBlob(rand.New(rand.NewPCG(1, 2)), 64<<20)
	eb, _ := Encode(p, blob)
	// Worst case: no systematic row at hand, decode from the repair rows.
	var sl []Sliver
	for i := p.NShards - p.Primary(); i < p.NShards; i++ {
		sl = append(sl, eb.Pairs[i].Primary)
	}
	b.SetBytes(int64(len(blob)))
	for b.Loop() {
		if _, err := Decode(p, &eb.Metadata, sl, CheckDefault); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyPrimarySliver(b *testing.B) {
	p, _ := NewParams(1000)
	eb, _ := Encode(p, randomBlob(rand.New(rand.NewPCG(1, 2)), 1<<20))
	for b.Loop() {
		if err := VerifySliver(p, &eb.Metadata, &eb.Pairs[500].Primary); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyReadSlivers64MiB: what a reader must verify of a 64 MiB
// blob at n = 1000 before it can write a byte: the n−2f systematic primary
// slivers, each expanded to n symbols and hashed (F5.1). It bounds a read's
// throughput on the reader's cores whatever the network does.
func BenchmarkVerifyReadSlivers64MiB(b *testing.B) {
	p, _ := NewParams(1000)
	blob := randomBlob(rand.New(rand.NewPCG(1, 2)), 64<<20)
	eb, _ := Encode(p, blob)
	var sl []Sliver
	for i := range p.Primary() {
		sl = append(sl, eb.Pairs[i].Primary)
	}
	b.SetBytes(int64(len(blob)))
	for b.Loop() {
		for i, err := range VerifySlivers(p, &eb.Metadata, sl) {
			if err != nil {
				b.Fatalf("sliver %d: %v", i, err)
			}
		}
	}
}
