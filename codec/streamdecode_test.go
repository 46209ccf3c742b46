package codec

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// rowSpillOf writes the primary slivers `have` of enc into a row spill.
func rowSpillOf(t *testing.T, p Params, enc *EncodedBlob, have []int) *memSpill {
	t.Helper()
	size, err := RowSpillSize(p, enc.Metadata.UnencodedLength)
	if err != nil {
		t.Fatal(err)
	}
	sp := &memSpill{b: make([]byte, size)}
	rowBytes := p.Secondary() * enc.SymbolSize
	for _, i := range have {
		sl := enc.Pairs[i].Primary // primary sliver i is pair i's
		if sl.Index != i {
			t.Fatalf("primary sliver of pair %d has index %d", i, sl.Index)
		}
		copy(sp.b[i*rowBytes:], sl.Data)
	}
	return sp
}

// DecodeRowsAt rebuilds the missing systematic rows from any nPrim primary
// slivers, byte for byte, whatever the budget (one column per block up to
// all of them), and touches nothing else.
func TestDecodeRowsAtRebuildsMissingRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{4, 10, 31, 100} {
		p, err := NewParams(n)
		if err != nil {
			t.Fatal(err)
		}
		kp, ks := p.Primary(), p.Secondary()
		for _, size := range []int{1, kp * ks * 2, kp*ks*64 + 17, 300_000} {
			if uint64(size) > p.MaxBlobSize() {
				continue
			}
			for _, budget := range []int{1, 4096, 1 << 30} {
				t.Run(fmt.Sprintf("n%d/size%d/budget%d", n, size, budget), func(t *testing.T) {
					data := make([]byte, size)
					for i := range data {
						data[i] = byte(rng.Uint32())
					}
					enc, err := Encode(p, data)
					if err != nil {
						t.Fatal(err)
					}
					// Drop some systematic rows; take non-systematic ones
					// in their place.
					drop := 1 + rng.IntN(kp)
					perm := rng.Perm(n)
					var have []int
					for _, i := range perm {
						if i < kp && drop > 0 {
							drop--
							continue
						}
						have = append(have, i)
					}
					sp := rowSpillOf(t, p, enc, have)
					before := slices.Clone(sp.b)
					decoded, err := DecodeRowsAt(p, &enc.Metadata, sp, have, budget, CheckDefault)
					if err != nil {
						t.Fatal(err)
					}
					rowBytes := ks * enc.SymbolSize
					for r := range kp {
						got := sp.b[r*rowBytes : (r+1)*rowBytes]
						if !bytes.Equal(got, enc.Pairs[r].Primary.Data) {
							t.Fatalf("row %d differs after decoding (decoded %v)", r, decoded)
						}
					}
					// Rows beyond the systematic ones are as they were.
					if !bytes.Equal(sp.b[kp*rowBytes:], before[kp*rowBytes:]) {
						t.Fatal("the decode wrote past the systematic rows")
					}
					for _, r := range decoded {
						if slices.Contains(have, r) || r >= kp {
							t.Fatalf("reported row %d as decoded; it was held or is not systematic", r)
						}
					}
				})
			}
		}
	}
}

// All systematic rows held: nothing to decode, nothing written.
func TestDecodeRowsAtNothingMissing(t *testing.T) {
	p, _ := NewParams(10)
	enc, err := Encode(p, bytes.Repeat([]byte{7}, 5000))
	if err != nil {
		t.Fatal(err)
	}
	have := make([]int, p.Primary())
	for i := range have {
		have[i] = i
	}
	sp := rowSpillOf(t, p, enc, have)
	decoded, err := DecodeRowsAt(p, &enc.Metadata, sp, have, 1<<20, CheckDefault)
	if err != nil || len(decoded) != 0 {
		t.Fatalf("decoded %v, %v", decoded, err)
	}
}

// Too few slivers, bad indices and the strict check are errors; a row that
// decodes from slivers inconsistent with the metadata fails the default
// check and passes CheckSkip.
func TestDecodeRowsAtErrors(t *testing.T) {
	p, _ := NewParams(10)
	kp := p.Primary()
	enc, err := Encode(p, bytes.Repeat([]byte{1, 2, 3}, 4000))
	if err != nil {
		t.Fatal(err)
	}
	var have []int
	for i := 1; i < p.NShards; i++ {
		have = append(have, i)
	}
	if _, err := DecodeRowsAt(p, &enc.Metadata, rowSpillOf(t, p, enc, have[:kp-1]), have[:kp-1], 1<<20, CheckDefault); !errors.Is(err, ErrNotEnoughSlivers) {
		t.Fatalf("nPrim-1 slivers: %v", err)
	}
	if _, err := DecodeRowsAt(p, &enc.Metadata, rowSpillOf(t, p, enc, have), append([]int{p.NShards}, have...), 1<<20, CheckDefault); err == nil {
		t.Fatal("index n accepted")
	}
	if _, err := DecodeRowsAt(p, &enc.Metadata, rowSpillOf(t, p, enc, have), have, 1<<20, CheckStrict); err == nil {
		t.Fatal("strict check accepted")
	}
	// Corrupt a non-systematic row the decode uses: row 0, decoded from
	// it, no longer matches its hash.
	sp := rowSpillOf(t, p, enc, have)
	rowBytes := p.Secondary() * enc.SymbolSize
	sp.b[kp*rowBytes] ^= 1
	if _, err := DecodeRowsAt(p, &enc.Metadata, sp, have, 1<<20, CheckDefault); !errors.Is(err, ErrInconsistentBlob) {
		t.Fatalf("corrupted source row: %v", err)
	}
	sp = rowSpillOf(t, p, enc, have)
	sp.b[kp*rowBytes] ^= 1
	if _, err := DecodeRowsAt(p, &enc.Metadata, sp, have, 1<<20, CheckSkip); err != nil {
		t.Fatalf("CheckSkip: %v", err)
	}
}
