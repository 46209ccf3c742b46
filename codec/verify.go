package codec

import (
	"errors"
	"fmt"

	"floe/codec/internal/blake2b"
)

// Verification errors: each means "reject what was received and, where it
// came from a peer, fetch it from another".
var (
	// ErrInvalidMetadata means metadata does not commit to the claimed blob ID
	// or has the wrong shape (F4.10).
	ErrInvalidMetadata = errors.New("codec: invalid metadata")
	// ErrInvalidSliver means a sliver does not match its metadata hash (F5.1).
	ErrInvalidSliver = errors.New("codec: invalid sliver")
	// ErrInvalidSymbol means a recovery symbol or its proof is wrong.
	ErrInvalidSymbol = errors.New("codec: invalid recovery symbol")
)

// VerifyMetadata checks metadata against a claimed blob ID (F4.10): one hash
// pair per shard, a length within the maximum, RS2, and the re-derived ID.
func VerifyMetadata(p Params, id BlobID, m *Metadata) error {
	if len(m.Hashes) != p.NShards {
		return fmt.Errorf("%w: %d hash pairs for %d shards", ErrInvalidMetadata, len(m.Hashes), p.NShards)
	}
	if m.EncodingType != EncodingTypeRS2 {
		return fmt.Errorf("%w: encoding type %d", ErrInvalidMetadata, m.EncodingType)
	}
	if m.UnencodedLength > p.MaxBlobSize() {
		return fmt.Errorf("%w: length %d exceeds %d", ErrInvalidMetadata, m.UnencodedLength, p.MaxBlobSize())
	}
	if got := m.BlobID(); got != id {
		return fmt.Errorf("%w: metadata commits to %s, not %s", ErrInvalidMetadata, got, id)
	}
	return nil
}

// expandedRoots expands each sliver (all of type t, symbol size s) with the
// orthogonal code to its n symbols and returns the Merkle root of each
// (F5.1). Slivers share vectors, one slot each, and the cores.
func expandedRoots(p Params, cs codes, t SliverType, s int, slivers [][]byte) [][DigestSize]byte {
	n := p.NShards
	code := cs.expanding(t)
	k := code.K
	lay := newLayout(s)
	roots := make([][DigestSize]byte, len(slivers))
	workers := defaultWorkers()
	slots := batchSlots(lay, len(slivers), workers)
	batches := (len(slivers) + slots - 1) / slots
	parallel(workers, batches, func(_, b int) {
		i0 := b * slots
		i1 := min(len(slivers), i0+slots)
		// The symbols are laid out straight into the code's work area,
		// and the repair symbols read from it.
		enc, err := code.NewEncoding(lay.vecLen(i1 - i0))
		if err != nil {
			panic(err) // shapes are fixed above; an error is a bug
		}
		defer enc.Release()
		orig := enc.Originals()
		for j := range k {
			for i := i0; i < i1; i++ {
				lay.put(orig[j], i-i0, slivers[i][j*s:(j+1)*s])
			}
		}
		rec := enc.Run()
		// The k systematic leaves are hashed from the sliver itself and
		// only the n-k repair symbols are laid out for hashing: copying
		// the whole expansion moved every verified byte once more.
		repair := make([]byte, (n-k)*s)
		leaf, tmp := make([]byte, (n+1)*DigestSize), make([]byte, (n/2+2)*DigestSize)
		for i := i0; i < i1; i++ {
			for j := range n - k {
				lay.get(rec[j], i-i0, repair[j*s:(j+1)*s])
			}
			leafHashes(leaf, slivers[i], k, s, s)
			leafHashes(leaf[k*DigestSize:], repair, n-k, s, s)
			roots[i] = rootFromLeafHashes(leaf, tmp, n)
		}
	})
	return roots
}

// expandSliver returns the n symbols of one sliver's expansion.
func expandSliver(p Params, cs codes, t SliverType, s int, data []byte) []byte {
	n := p.NShards
	code := cs.expanding(t)
	k := code.K
	lay := newLayout(s)
	vl := lay.vecLen(1)
	orig, rec := vectors(k, vl), vectors(n-k, vl)
	for j := range k {
		lay.put(orig[j], 0, data[j*s:(j+1)*s])
	}
	if err := code.Encode(orig, rec); err != nil {
		panic(err)
	}
	exp := make([]byte, n*s)
	copy(exp, data)
	for j := range n - k {
		lay.get(rec[j], 0, exp[(k+j)*s:(k+j+1)*s])
	}
	return exp
}

// checkSliverShape checks a sliver's index, symbol size and length (F5.1).
func checkSliverShape(p Params, m *Metadata, sl *Sliver) (int, error) {
	s, err := p.SymbolSize(m.UnencodedLength)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalidSliver, err)
	}
	if sl.Index < 0 || sl.Index >= p.NShards {
		return 0, fmt.Errorf("%w: %s sliver index %d out of range", ErrInvalidSliver, sl.Type, sl.Index)
	}
	if sl.SymbolSize != s {
		return 0, fmt.Errorf("%w: symbol size %d, want %d", ErrInvalidSliver, sl.SymbolSize, s)
	}
	if want := s * p.SymbolsPerSliver(sl.Type); len(sl.Data) != want {
		return 0, fmt.Errorf("%w: %s sliver %d has %d bytes, want %d", ErrInvalidSliver, sl.Type, sl.Index, len(sl.Data), want)
	}
	return s, nil
}

// VerifySlivers checks each sliver against verified metadata (F5.1) and
// returns one error (nil when valid) per sliver. Slivers of one type are
// verified together, which is much faster than one by one.
func VerifySlivers(p Params, m *Metadata, slivers []Sliver) []error {
	errs := make([]error, len(slivers))
	cs, err := p.codes()
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	for _, t := range []SliverType{Primary, Secondary} {
		var idx []int
		var data [][]byte
		s := 0
		for i := range slivers {
			if slivers[i].Type != t {
				continue
			}
			ss, err := checkSliverShape(p, m, &slivers[i])
			if err != nil {
				errs[i] = err
				continue
			}
			s = ss
			idx = append(idx, i)
			data = append(data, slivers[i].Data)
		}
		if len(idx) == 0 {
			continue
		}
		roots := expandedRoots(p, cs, t, s, data)
		for j, i := range idx {
			if roots[j] != m.Hash(t, slivers[i].Index) {
				errs[i] = fmt.Errorf("%w: %s sliver %d does not match its metadata hash", ErrInvalidSliver, t, slivers[i].Index)
			}
		}
	}
	return errs
}

// VerifySliver checks one sliver against verified metadata (F5.1).
func VerifySliver(p Params, m *Metadata, sl *Sliver) error {
	return VerifySlivers(p, m, []Sliver{*sl})[0]
}

// VerifyRecoverySymbol checks a symbol offered to rebuild the sliver of
// type sym.Target at targetIndex: its size and its Merkle proof against the
// metadata hash of the source sliver (F5.2).
func VerifyRecoverySymbol(p Params, m *Metadata, sym *RecoverySymbol, targetIndex int) error {
	return VerifyRecoverySymbols(p, m, []RecoverySymbol{*sym}, []int{targetIndex})[0]
}

// VerifyRecoverySymbols is VerifyRecoverySymbol for many symbols at once
// (symbol i towards targets[i]): nil or an ErrInvalidSymbol per symbol. The leaves and each level of the proofs
// are hashed as one batch, eight messages per BLAKE2b call (a node
// rebuilding a shard checks n symbols per sliver, 11 hashes each at n =
// 1000: one at a time they were most of its recovery's CPU).
func VerifyRecoverySymbols(p Params, m *Metadata, syms []RecoverySymbol, targets []int) []error {
	errs := make([]error, len(syms))
	if len(targets) != len(syms) {
		for i := range errs {
			errs[i] = fmt.Errorf("%w: %d symbols for %d targets", ErrInvalidSymbol, len(syms), len(targets))
		}
		return errs
	}
	s, err := p.SymbolSize(m.UnencodedLength)
	if err != nil {
		for i := range errs {
			errs[i] = fmt.Errorf("%w: %w", ErrInvalidSymbol, err)
		}
		return errs
	}
	n := p.NShards
	depth := treeDepth(n)
	// The symbols whose shape is right are hashed together.
	var ok []int
	for i := range syms {
		sym, tg := &syms[i], targets[i]
		switch {
		case sym.Index < 0 || sym.Index >= n || tg < 0 || tg >= n:
			errs[i] = fmt.Errorf("%w: index %d → target %d out of range", ErrInvalidSymbol, sym.Index, tg)
		case len(sym.Data) != s:
			errs[i] = fmt.Errorf("%w: %d bytes, want %d", ErrInvalidSymbol, len(sym.Data), s)
		case len(sym.Proof.Path) != depth:
			errs[i] = fmt.Errorf("%w: from %s sliver %d: %w: path of %d nodes, want %d",
				ErrInvalidSymbol, sym.Target.Orthogonal(), sym.Index, ErrInvalidProof, len(sym.Proof.Path), depth)
		default:
			ok = append(ok, i)
		}
	}
	if len(ok) == 0 {
		return errs
	}
	leaves := make([]byte, len(ok)*s)
	for k, i := range ok {
		copy(leaves[k*s:], syms[i].Data)
	}
	cur := make([]byte, len(ok)*DigestSize)
	leafHashes(cur, leaves, len(ok), s, s)
	pairs := make([]byte, len(ok)*2*DigestSize)
	for level := range depth {
		for k, i := range ok {
			c := cur[k*DigestSize : (k+1)*DigestSize]
			sib := syms[i].Proof.Path[level].value()
			left, right := pairs[2*k*DigestSize:(2*k+1)*DigestSize], pairs[(2*k+1)*DigestSize:(2*k+2)*DigestSize]
			if (targets[i]>>level)&1 == 0 {
				copy(left, c)
				copy(right, sib[:])
			} else {
				copy(left, sib[:])
				copy(right, c)
			}
		}
		blake2b.SumPrefixed(cur, pairs, 2*DigestSize, innerPrefix)
	}
	for k, i := range ok {
		sym := &syms[i]
		root := m.Hash(sym.Target.Orthogonal(), sym.Index)
		if [DigestSize]byte(cur[k*DigestSize:(k+1)*DigestSize]) != root {
			errs[i] = fmt.Errorf("%w: from %s sliver %d: %w: root mismatch for leaf %d",
				ErrInvalidSymbol, sym.Target.Orthogonal(), sym.Index, ErrInvalidProof, targets[i])
		}
	}
	return errs
}
