package codec

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// batchCase is a set of recovery symbols towards random targets, some of
// them tampered with, from a random blob.
func batchCase(t testing.TB, rng *rand.Rand, shards, size int) (Params, *Metadata, []RecoverySymbol, []int) {
	t.Helper()
	p, err := NewParams(shards)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	eb, err := Encode(p, data)
	if err != nil {
		t.Fatal(err)
	}
	var syms []RecoverySymbol
	var targets []int
	for range 40 {
		typ := SliverType(rng.IntN(2))
		srcs := sliversOf(eb, typ)
		src, err := NewSymbolSource(p, srcs[rng.IntN(len(srcs))])
		if err != nil {
			t.Fatal(err)
		}
		tg := rng.IntN(p.NShards)
		sym, err := src.Symbol(tg)
		if err != nil {
			t.Fatal(err)
		}
		sym.Data = bytes.Clone(sym.Data)
		sym.Proof.Path = append([]Node{}, sym.Proof.Path...)
		switch rng.IntN(8) {
		case 0:
			sym.Data[rng.IntN(len(sym.Data))] ^= 1 << rng.IntN(8)
		case 1:
			k := rng.IntN(len(sym.Proof.Path))
			sym.Proof.Path[k].Digest[rng.IntN(DigestSize)] ^= 1
			sym.Proof.Path[k].Empty = false
		case 2:
			tg = (tg + 1 + rng.IntN(p.NShards-1)) % p.NShards // claimed for another target
		case 3:
			sym.Proof.Path = sym.Proof.Path[:len(sym.Proof.Path)-1]
		case 4:
			sym.Data = sym.Data[:len(sym.Data)-2]
		case 5:
			sym.Index = p.NShards
		}
		syms = append(syms, sym)
		targets = append(targets, tg)
	}
	return p, &eb.Metadata, syms, targets
}

// oneAtATime is the check of one symbol as it stood before the batch: its
// shape, then its proof hashed up one node at a time (MerkleProof.Verify).
func oneAtATime(p Params, m *Metadata, sym *RecoverySymbol, target int) error {
	s, err := p.SymbolSize(m.UnencodedLength)
	if err != nil {
		return err
	}
	if sym.Index < 0 || sym.Index >= p.NShards || target < 0 || target >= p.NShards || len(sym.Data) != s {
		return ErrInvalidSymbol
	}
	return sym.Proof.Verify(m.Hash(sym.Target.Orthogonal(), sym.Index), sym.Data, target, p.NShards)
}

// The batched check answers exactly as the one-at-a-time check does, for
// valid symbols and for every kind of tampering.
func TestVerifyRecoverySymbolsMatchesSingle(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 4))
	for _, tc := range [][2]int{{4, 1000}, {10, 5000}, {100, 100_000}, {1000, 1 << 20}} {
		p, m, syms, targets := batchCase(t, rng, tc[0], tc[1])
		got := VerifyRecoverySymbols(p, m, syms, targets)
		valid := 0
		for i := range syms {
			want := oneAtATime(p, m, &syms[i], targets[i])
			if single := VerifyRecoverySymbol(p, m, &syms[i], targets[i]); (single == nil) != (want == nil) {
				t.Fatalf("n=%d symbol %d: VerifyRecoverySymbol %v, one at a time %v", tc[0], i, single, want)
			}
			if (got[i] == nil) != (want == nil) || (want != nil && !errors.Is(got[i], ErrInvalidSymbol)) {
				t.Fatalf("n=%d symbol %d: batch %v, single %v", tc[0], i, got[i], want)
			}
			if want == nil {
				valid++
			}
		}
		if valid == 0 || valid == len(syms) {
			t.Fatalf("n=%d: %d of %d valid: the case tests nothing", tc[0], valid, len(syms))
		}
	}
	if errs := VerifyRecoverySymbols(Params{NShards: 4}, &Metadata{}, make([]RecoverySymbol, 2), []int{1}); len(errs) != 2 || !errors.Is(errs[0], ErrInvalidSymbol) {
		t.Fatalf("mismatched targets: %v", errs)
	}
}

// 143 symbols of one source towards a node's targets at n = 1000, 64 MiB
// (a node recovering its shards checks one such row per source).
func BenchmarkVerifyRecoverySymbols(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 5))
	p, err := NewParams(1000)
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 64<<20)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	eb, err := Encode(p, data)
	if err != nil {
		b.Fatal(err)
	}
	src, err := NewSymbolSource(p, eb.Pairs[3].Secondary)
	if err != nil {
		b.Fatal(err)
	}
	syms, targets := make([]RecoverySymbol, 143), make([]int, 143)
	for i := range syms {
		targets[i] = 7 * i
		if syms[i], err = src.Symbol(targets[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("one-at-a-time", func(b *testing.B) {
		for range b.N {
			for i := range syms {
				if err := oneAtATime(p, &eb.Metadata, &syms[i], targets[i]); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("batch", func(b *testing.B) {
		for range b.N {
			for _, err := range VerifyRecoverySymbols(p, &eb.Metadata, syms, targets) {
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
