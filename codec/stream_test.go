package codec

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// memSpill is an in-memory Spill.
type memSpill struct{ b []byte }

func (m *memSpill) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > int64(len(m.b)) {
		return 0, fmt.Errorf("read past the spill")
	}
	return copy(p, m.b[off:]), nil
}

func (m *memSpill) WriteAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > int64(len(m.b)) {
		return 0, fmt.Errorf("write past the spill")
	}
	return copy(m.b[off:], p), nil
}

// A streamed encoding gives the same metadata, blob ID and slivers as the
// in-memory one, for sizes at and around symbol and row boundaries.
func TestEncodeFromMatchesEncode(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 9))
	for _, n := range []int{4, 10, 100, 1000} {
		p, _ := NewParams(n)
		per := p.Primary() * p.Secondary()
		sizes := []int{0, 1, 2*per - 1, 2 * per, 2*per + 1, 6*per + 3, p.Secondary()*2*3 + 1, 100_000}
		if n == 1000 {
			sizes = append(sizes, 1<<20+7)
		}
		for _, size := range sizes {
			t.Run(fmt.Sprintf("n%d/%d", n, size), func(t *testing.T) {
				data := make([]byte, size)
				for i := range data {
					data[i] = byte(r.Uint32())
				}
				want, err := Encode(p, data)
				if err != nil {
					t.Fatal(err)
				}
				ss, err := SpillSize(p, uint64(size))
				if err != nil {
					t.Fatal(err)
				}
				spill := &memSpill{b: make([]byte, ss)}
				got, err := EncodeFrom(p, bytes.NewReader(data), uint64(size), spill)
				if err != nil {
					t.Fatal(err)
				}
				if got.BlobID != want.BlobID || got.SymbolSize != want.SymbolSize {
					t.Fatalf("blob ID %s / S %d, Encode gives %s / %d", got.BlobID, got.SymbolSize, want.BlobID, want.SymbolSize)
				}
				for pair := range n {
					for _, typ := range []SliverType{Primary, Secondary} {
						sl, err := got.Sliver(pair, typ)
						if err != nil {
							t.Fatal(err)
						}
						w := want.Pairs[pair].Primary
						if typ == Secondary {
							w = want.Pairs[pair].Secondary
						}
						if sl.Index != w.Index || !bytes.Equal(sl.Data, w.Data) {
							t.Fatalf("%s sliver of pair %d differs", typ, pair)
						}
						raw, err := got.SliverBCS(pair, typ)
						if err != nil {
							t.Fatal(err)
						}
						if !bytes.Equal(raw, w.MarshalBCS()) {
							t.Fatalf("SliverBCS of the %s sliver of pair %d differs from its MarshalBCS", typ, pair)
						}
					}
				}
			})
		}
	}
}

// A short source is an error, not zeros.
func TestEncodeFromShortSource(t *testing.T) {
	p, _ := NewParams(10)
	ss, _ := SpillSize(p, 1000)
	if _, err := EncodeFrom(p, bytes.NewReader(make([]byte, 900)), 1000, &memSpill{b: make([]byte, ss)}); err == nil {
		t.Fatal("a source shorter than its size encoded")
	}
}

// The spill can be a file.
func TestEncodeFromFileSpill(t *testing.T) {
	p, _ := NewParams(100)
	data := bytes.Repeat([]byte("spill to disk "), 50_000)
	f, err := os.Create(filepath.Join(t.TempDir(), "spill"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := EncodeFrom(p, bytes.NewReader(data), uint64(len(data)), f)
	if err != nil {
		t.Fatal(err)
	}
	_, id, err := ComputeMetadata(p, data)
	if err != nil || id != got.BlobID {
		t.Fatalf("blob ID %s, ComputeMetadata %s (%v)", got.BlobID, id, err)
	}
}

// BenchmarkEncodeFrom encodes 64 MiB at n = 1000 from memory into a spill
// file, beside BenchmarkEncode's in-memory figure.
func BenchmarkEncodeFrom64MiB(b *testing.B) {
	p, _ := NewParams(1000)
	data := make([]byte, 64<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	f, err := os.Create(filepath.Join(b.TempDir(), "spill"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := EncodeFrom(p, bytes.NewReader(data), uint64(len(data)), f); err != nil {
			b.Fatal(err)
		}
	}
}
