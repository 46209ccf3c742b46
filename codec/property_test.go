package codec

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

func randomBlob(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// propertyCases are (n, length) pairs covering both RS rates, dense and
// padded symbol layouts, partial last rows and the empty blob.
var propertyCases = [][2]int{
	{4, 0}, {4, 1}, {7, 100}, {10, 1000}, {13, 5000}, {16, 4099},
	{31, 20000}, {40, 70000}, {100, 3000}, {100, 100000}, {301, 50000},
}

func sliversOf(eb *EncodedBlob, t SliverType) []Sliver {
	out := make([]Sliver, 0, len(eb.Pairs))
	for _, pr := range eb.Pairs {
		if t == Primary {
			out = append(out, pr.Primary)
		} else {
			out = append(out, pr.Secondary)
		}
	}
	// Order by sliver index.
	if t == Secondary {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out
}

// TestDecodeFromRandomSubsets decodes from random subsets of exactly n-2f
// primary or n-f secondary slivers, under every consistency check.
func TestDecodeFromRandomSubsets(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for _, tc := range propertyCases {
		p, _ := NewParams(tc[0])
		blob := randomBlob(rng, tc[1])
		eb, err := Encode(p, blob)
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyMetadata(p, eb.BlobID, &eb.Metadata); err != nil {
			t.Fatal(err)
		}
		for _, st := range []SliverType{Primary, Secondary} {
			all := sliversOf(eb, st)
			for _, e := range VerifySlivers(p, &eb.Metadata, all) {
				if e != nil {
					t.Fatalf("n=%d: valid %s sliver rejected: %v", tc[0], st, e)
				}
			}
			for _, check := range []ConsistencyCheck{CheckDefault, CheckSkip, CheckStrict} {
				need := p.SourceSymbols(st)
				var subset []Sliver
				for _, i := range rng.Perm(p.NShards)[:need] {
					subset = append(subset, all[i])
				}
				got, err := Decode(p, &eb.Metadata, subset, check)
				if err != nil {
					t.Fatalf("n=%d len=%d %s check %d: %v", tc[0], tc[1], st, check, err)
				}
				if !bytes.Equal(got, blob) {
					t.Fatalf("n=%d len=%d %s: decoded bytes differ", tc[0], tc[1], st)
				}
				if _, err := Decode(p, &eb.Metadata, subset[:need-1], check); !errors.Is(err, ErrNotEnoughSlivers) {
					t.Fatalf("decode from %d slivers: %v, want ErrNotEnoughSlivers", need-1, err)
				}
			}
		}
		checkDecodeInto(t, rng, tc, p, blob, eb)
	}
}

// TestTamperingRejected flips bits in slivers, symbols, proofs and metadata.
func TestTamperingRejected(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	for _, tc := range propertyCases[1:] {
		p, _ := NewParams(tc[0])
		eb, err := Encode(p, randomBlob(rng, tc[1]))
		if err != nil {
			t.Fatal(err)
		}
		m := &eb.Metadata
		// Sliver bytes.
		for _, st := range []SliverType{Primary, Secondary} {
			sl := sliversOf(eb, st)[rng.IntN(p.NShards)]
			sl.Data = bytes.Clone(sl.Data)
			sl.Data[rng.IntN(len(sl.Data))] ^= byte(1 + rng.IntN(255))
			if err := VerifySliver(p, m, &sl); !errors.Is(err, ErrInvalidSliver) {
				t.Fatalf("n=%d tampered %s sliver: %v", tc[0], st, err)
			}
			short := sl
			short.Data = sl.Data[:len(sl.Data)-2]
			if err := VerifySliver(p, m, &short); !errors.Is(err, ErrInvalidSliver) {
				t.Fatalf("short sliver accepted: %v", err)
			}
		}
		// Metadata: any changed hash or length changes the blob ID.
		bad := Metadata{EncodingType: m.EncodingType, UnencodedLength: m.UnencodedLength, Hashes: append([]SliverPairHashes{}, m.Hashes...)}
		bad.Hashes[rng.IntN(p.NShards)].Secondary[rng.IntN(32)] ^= 1
		if err := VerifyMetadata(p, eb.BlobID, &bad); !errors.Is(err, ErrInvalidMetadata) {
			t.Fatalf("tampered metadata: %v", err)
		}
		bad = *m
		bad.UnencodedLength++
		if err := VerifyMetadata(p, eb.BlobID, &bad); !errors.Is(err, ErrInvalidMetadata) {
			t.Fatalf("metadata with other length: %v", err)
		}
		// Recovery symbols and their proofs.
		srcSliver := eb.Pairs[rng.IntN(p.NShards)].Primary
		src, err := NewSymbolSource(p, srcSliver)
		if err != nil {
			t.Fatal(err)
		}
		target := rng.IntN(p.NShards)
		sym, _ := src.Symbol(target)
		if err := VerifyRecoverySymbol(p, m, &sym, target); err != nil {
			t.Fatalf("valid symbol rejected: %v", err)
		}
		s2 := sym
		s2.Data = bytes.Clone(sym.Data)
		s2.Data[0] ^= 0x80
		if err := VerifyRecoverySymbol(p, m, &s2, target); !errors.Is(err, ErrInvalidSymbol) {
			t.Fatalf("tampered symbol: %v", err)
		}
		if len(sym.Proof.Path) > 0 {
			s3 := sym
			s3.Proof.Path = append([]Node{}, sym.Proof.Path...)
			s3.Proof.Path[0].Digest[5] ^= 1
			s3.Proof.Path[0].Empty = false
			if err := VerifyRecoverySymbol(p, m, &s3, target); !errors.Is(err, ErrInvalidSymbol) {
				t.Fatalf("tampered proof: %v", err)
			}
		}
		// The same symbol claimed for another target fails, unless that
		// target's symbol has the very same bytes (then the proof is valid).
		other := (target + 1) % p.NShards
		if os, _ := src.Symbol(other); !bytes.Equal(os.Data, sym.Data) {
			if err := VerifyRecoverySymbol(p, m, &sym, other); !errors.Is(err, ErrInvalidSymbol) {
				t.Fatalf("symbol for another target: %v", err)
			}
		}
	}
}

// recoverySymbols collects the symbols for the sliver (target, idx) from
// the orthogonal slivers at the given indices.
func recoverySymbols(t *testing.T, p Params, eb *EncodedBlob, target SliverType, idx int, from []int) []RecoverySymbol {
	t.Helper()
	srcs := sliversOf(eb, target.Orthogonal())
	var out []RecoverySymbol
	for _, i := range from {
		src, err := NewSymbolSource(p, srcs[i])
		if err != nil {
			t.Fatal(err)
		}
		sym, err := src.Symbol(idx)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sym)
	}
	return out
}

// TestRecoverEverySliver rebuilds every sliver of both types from a random
// set of exactly the needed symbols, with a forged symbol mixed in.
func TestRecoverEverySliver(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, tc := range [][2]int{{4, 50}, {7, 1000}, {10, 4099}, {31, 20000}, {100, 100000}} {
		p, _ := NewParams(tc[0])
		eb, err := Encode(p, randomBlob(rng, tc[1]))
		if err != nil {
			t.Fatal(err)
		}
		for _, target := range []SliverType{Primary, Secondary} {
			want := sliversOf(eb, target)
			for idx := range p.NShards {
				need := p.RecoverySymbolsNeeded(target)
				syms := recoverySymbols(t, p, eb, target, idx, rng.Perm(p.NShards)[:need])
				forged := syms[0]
				forged.Data = bytes.Clone(forged.Data)
				forged.Data[0] ^= 1
				syms = append([]RecoverySymbol{forged}, syms...)
				got, proof, invalid, err := RecoverSliver(p, &eb.Metadata, target, idx, syms)
				if err != nil || proof != nil {
					t.Fatalf("n=%d recover %s %d: %v", tc[0], target, idx, err)
				}
				if len(invalid) != 1 || invalid[0] != 0 {
					t.Fatalf("forged symbol not reported: %v", invalid)
				}
				if !bytes.Equal(got.Data, want[idx].Data) {
					t.Fatalf("n=%d: rebuilt %s sliver %d differs", tc[0], target, idx)
				}
				if _, _, _, err := RecoverSliver(p, &eb.Metadata, target, idx, syms[:need]); !errors.Is(err, ErrNotEnoughSymbols) {
					t.Fatalf("recovered from %d valid symbols: %v", need-1, err)
				}
			}
		}
	}
}

// TestInconsistencyProof builds a deliberately inconsistent encoding — one
// secondary sliver replaced and its hash recomputed, so it verifies on its
// own — and checks that recovering a primary sliver through it yields a
// proof that verifies, while proofs built from a consistent encoding never
// do.
func TestInconsistencyProof(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, tc := range [][2]int{{7, 1000}, {10, 4099}, {40, 30000}} {
		p, _ := NewParams(tc[0])
		eb, err := Encode(p, randomBlob(rng, tc[1]))
		if err != nil {
			t.Fatal(err)
		}
		n := p.NShards
		// A consistent encoding: a proof from its symbols is rejected.
		need := p.RecoverySymbolsNeeded(Primary)
		good := InconsistencyProof{Target: Primary, TargetIndex: 2, Symbols: recoverySymbols(t, p, eb, Primary, 2, rng.Perm(n)[:need])}
		if err := VerifyInconsistencyProof(p, &eb.Metadata, &good); !errors.Is(err, ErrInvalidInconsistencyProof) {
			t.Fatalf("proof over a consistent encoding: %v", err)
		}
		// Tamper secondary sliver j at row r and re-commit to it.
		j, r := 1, 2
		cs, _ := p.codes()
		sec := eb.Pairs[n-1-j].Secondary
		sec.Data = bytes.Clone(sec.Data)
		sec.Data[r*eb.SymbolSize] ^= 0x5a
		eb.Pairs[n-1-j].Secondary = sec
		eb.Metadata.Hashes[n-1-j].Secondary = expandedRoots(p, cs, Secondary, eb.SymbolSize, [][]byte{sec.Data})[0]
		eb.BlobID = eb.Metadata.BlobID()
		m := &eb.Metadata
		if err := VerifySliver(p, m, &sec); err != nil {
			t.Fatalf("tampered sliver must verify against the new metadata: %v", err)
		}
		from := append([]int{j}, rng.Perm(n)...)
		var idx []int
		seen := map[int]bool{}
		for _, i := range from {
			if !seen[i] && len(idx) < need {
				seen[i] = true
				idx = append(idx, i)
			}
		}
		syms := recoverySymbols(t, p, eb, Primary, r, idx)
		_, proof, _, err := RecoverSliver(p, m, Primary, r, syms)
		if !errors.Is(err, ErrInconsistentEncoding) || proof == nil {
			t.Fatalf("n=%d: recovery through the tampered column: %v", n, err)
		}
		if err := VerifyInconsistencyProof(p, m, proof); err != nil {
			t.Fatalf("inconsistency proof rejected: %v", err)
		}
		// It survives BCS.
		back, err := UnmarshalInconsistencyProof(proof.MarshalBCS(), Primary)
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyInconsistencyProof(p, m, &back); err != nil {
			t.Fatalf("decoded proof rejected: %v", err)
		}
		// A proof with one symbol dropped or a symbol tampered is rejected.
		short := *proof
		short.Symbols = proof.Symbols[1:]
		if err := VerifyInconsistencyProof(p, m, &short); !errors.Is(err, ErrInvalidInconsistencyProof) {
			t.Fatalf("short proof: %v", err)
		}
		// Decoding the blob through the tampered column fails the checks.
		secs := sliversOf(eb, Secondary)
		if _, err := Decode(p, m, secs, CheckDefault); !errors.Is(err, ErrInconsistentBlob) {
			t.Fatalf("decode of inconsistent blob (default check): %v", err)
		}
	}
}

// checkDecodeInto: DecodeInto rebuilds the blob in the caller's buffer,
// whether the systematic primary slivers sit at their rows of it already
// (a reader fetched them there; they are not copied), come in their own
// buffers, or are missing and decoded from other rows; a buffer smaller
// than the message matrix is refused.
func checkDecodeInto(t *testing.T, rng *rand.Rand, tc [2]int, p Params, blob []byte, eb *EncodedBlob) {
	rowBytes, _ := p.SliverSize(Primary, uint64(len(blob)))
	kp := p.Primary()
	out := make([]byte, kp*rowBytes)
	prims := sliversOf(eb, Primary)
	var give []Sliver
	skip := rng.IntN(kp) // one systematic row is decoded from a repair row
	for r := range kp {
		if r == skip {
			continue
		}
		sl := prims[p.PairOfSliver(Primary, r)]
		if sl.Index != r {
			t.Fatalf("sliver of pair %d has index %d, want %d", p.PairOfSliver(Primary, r), sl.Index, r)
		}
		if r%2 == 0 { // fetched into its row
			dst := out[r*rowBytes : (r+1)*rowBytes]
			copy(dst, sl.Data)
			sl.Data = dst
		}
		give = append(give, sl)
	}
	give = append(give, prims[p.PairOfSliver(Primary, kp)])
	got, err := DecodeInto(p, &eb.Metadata, give, CheckDefault, out)
	if err != nil {
		t.Fatalf("n=%d, %d bytes: %v", tc[0], tc[1], err)
	}
	if !bytes.Equal(got, blob) || (len(got) > 0 && &got[0] != &out[0]) {
		t.Fatalf("n=%d, %d bytes: decoded into the buffer differs (or is elsewhere)", tc[0], tc[1])
	}
	if _, err := DecodeInto(p, &eb.Metadata, give, CheckDefault, out[:len(out)-1]); err == nil {
		t.Fatalf("n=%d: decoding into a buffer one byte short of the matrix succeeded", tc[0])
	}
}
