package codec

import (
	"errors"
	"fmt"
)

// Recovery errors.
var (
	// ErrNotEnoughSymbols means fewer valid distinct recovery symbols than
	// the rebuild needs (n-f for primary, n-2f for secondary).
	ErrNotEnoughSymbols = errors.New("codec: not enough recovery symbols")
	// ErrInconsistentEncoding means a rebuilt sliver does not match its
	// metadata hash: the returned InconsistencyProof shows it.
	ErrInconsistentEncoding = errors.New("codec: sliver rebuilt from valid symbols does not match metadata")
	// ErrInvalidInconsistencyProof means a proof does not show an inconsistency.
	ErrInvalidInconsistencyProof = errors.New("codec: invalid inconsistency proof")
)

// SymbolSource produces recovery symbols from one verified sliver: the
// sliver is expanded and its Merkle tree built once, then any symbol with
// its proof can be read off.
type SymbolSource struct {
	sliver   Sliver
	expanded []byte
	tree     *merkleTree
}

// NewSymbolSource prepares sl (a verified sliver of a blob encoded for p) to
// serve recovery symbols.
func NewSymbolSource(p Params, sl Sliver) (*SymbolSource, error) {
	cs, err := p.codes()
	if err != nil {
		return nil, err
	}
	if sl.SymbolSize < 2 || sl.SymbolSize%2 != 0 || len(sl.Data) != sl.SymbolSize*p.SymbolsPerSliver(sl.Type) {
		return nil, fmt.Errorf("%w: %s sliver %d has %d bytes with symbol size %d", ErrInvalidSliver, sl.Type, sl.Index, len(sl.Data), sl.SymbolSize)
	}
	exp := expandSliver(p, cs, sl.Type, sl.SymbolSize, sl.Data)
	return &SymbolSource{sliver: sl, expanded: exp, tree: newMerkleTree(exp, p.NShards, sl.SymbolSize, sl.SymbolSize)}, nil
}

// Symbol returns the recovery symbol for the orthogonal sliver at
// targetIndex: the symbol at the intersection and its proof (F5.2).
func (src *SymbolSource) Symbol(targetIndex int) (RecoverySymbol, error) {
	n := len(src.expanded) / src.sliver.SymbolSize
	if targetIndex < 0 || targetIndex >= n {
		return RecoverySymbol{}, fmt.Errorf("codec: target sliver %d out of range", targetIndex)
	}
	s := src.sliver.SymbolSize
	return RecoverySymbol{
		Target: src.sliver.Type.Orthogonal(),
		Index:  src.sliver.Index,
		Data:   src.expanded[targetIndex*s : (targetIndex+1)*s : (targetIndex+1)*s],
		Proof:  src.tree.proof(targetIndex),
	}, nil
}

// Root is the Merkle root of the expanded sliver.
func (src *SymbolSource) Root() [DigestSize]byte { return src.tree.root() }

// rebuild decodes the target sliver from symbols already checked.
func rebuild(p Params, cs codes, target SliverType, s int, symbols []RecoverySymbol) []byte {
	// Rebuilding a primary sliver (a row) decodes the row code over columns;
	// a secondary one decodes the column code over rows.
	code := cs.expanding(target)
	lay := newLayout(s)
	vl := lay.vecLen(1)
	shards := make([][]byte, p.NShards)
	for i := range symbols {
		v := make([]byte, vl)
		lay.put(v, 0, symbols[i].Data)
		shards[symbols[i].Index] = v
	}
	if err := code.Decode(shards); err != nil {
		panic(err) // exactly K distinct symbols of size s; an error is a bug
	}
	out := make([]byte, code.K*s)
	for j := range code.K {
		lay.get(shards[j], 0, out[j*s:(j+1)*s])
	}
	return out
}

// RecoverSliver rebuilds the sliver of type target at targetIndex from
// recovery symbols (F5.2). Invalid symbols and duplicates are skipped; the
// indices of the invalid ones are returned so the caller can blame their
// senders. If the rebuilt sliver does not match its metadata hash the error
// is ErrInconsistentEncoding and the proof shows it (F5.4).
func RecoverSliver(p Params, m *Metadata, target SliverType, targetIndex int, symbols []RecoverySymbol) (Sliver, *InconsistencyProof, []int, error) {
	if _, err := p.SymbolSize(m.UnencodedLength); err != nil {
		return Sliver{}, nil, nil, err
	}
	need := p.RecoverySymbolsNeeded(target)
	targets := make([]int, len(symbols))
	for i := range targets {
		targets[i] = targetIndex
	}
	errs := VerifyRecoverySymbols(p, m, symbols, targets)
	seen := make(map[int]bool, need)
	var use []RecoverySymbol
	var invalid []int
	for i := range symbols {
		sym := &symbols[i]
		if sym.Target != target || errs[i] != nil {
			invalid = append(invalid, i)
			continue
		}
		if seen[sym.Index] {
			continue
		}
		seen[sym.Index] = true
		use = append(use, *sym)
		if len(use) == need {
			break
		}
	}
	sl, proof, err := RecoverVerifiedSliver(p, m, target, targetIndex, use)
	return sl, proof, invalid, err
}

// RecoverVerifiedSliver is RecoverSliver for symbols the caller has
// already checked (VerifyRecoverySymbols towards targetIndex), distinct,
// exactly as many as needed: a node that verified each holder's answers as
// they came, to blame a liar, does not check them a second time.
func RecoverVerifiedSliver(p Params, m *Metadata, target SliverType, targetIndex int, symbols []RecoverySymbol) (Sliver, *InconsistencyProof, error) {
	s, err := p.SymbolSize(m.UnencodedLength)
	if err != nil {
		return Sliver{}, nil, err
	}
	cs, err := p.codes()
	if err != nil {
		return Sliver{}, nil, err
	}
	if need := p.RecoverySymbolsNeeded(target); len(symbols) != need {
		return Sliver{}, nil, fmt.Errorf("%w: %d valid of %d needed", ErrNotEnoughSymbols, len(symbols), need)
	}
	for i := range symbols {
		if symbols[i].Target != target {
			return Sliver{}, nil, fmt.Errorf("%w: symbol %d targets a %s sliver", ErrInvalidSymbol, i, symbols[i].Target)
		}
	}
	data := rebuild(p, cs, target, s, symbols)
	sl := Sliver{Type: target, Index: targetIndex, SymbolSize: s, Data: data}
	root := expandedRoots(p, cs, target, s, [][]byte{data})[0]
	if root != m.Hash(target, targetIndex) {
		proof := &InconsistencyProof{Target: target, TargetIndex: targetIndex, Symbols: symbols}
		return Sliver{}, proof, fmt.Errorf("%w: %s sliver %d", ErrInconsistentEncoding, target, targetIndex)
	}
	return sl, nil, nil
}

// VerifyInconsistencyProof accepts a proof iff it holds exactly the needed
// number of distinct symbols, each with a valid Merkle proof, and the sliver
// they decode to does not match the metadata (F5.4).
func VerifyInconsistencyProof(p Params, m *Metadata, proof *InconsistencyProof) error {
	n := p.NShards
	if proof.TargetIndex < 0 || proof.TargetIndex >= n {
		return fmt.Errorf("%w: target %d out of range", ErrInvalidInconsistencyProof, proof.TargetIndex)
	}
	need := p.RecoverySymbolsNeeded(proof.Target)
	if len(proof.Symbols) != need {
		return fmt.Errorf("%w: %d symbols, want %d", ErrInvalidInconsistencyProof, len(proof.Symbols), need)
	}
	s, err := p.SymbolSize(m.UnencodedLength)
	if err != nil {
		return err
	}
	cs, err := p.codes()
	if err != nil {
		return err
	}
	targets := make([]int, need)
	for i := range targets {
		targets[i] = proof.TargetIndex
	}
	errs := VerifyRecoverySymbols(p, m, proof.Symbols, targets)
	seen := make(map[int]bool, need)
	for i := range proof.Symbols {
		sym := &proof.Symbols[i]
		if sym.Target != proof.Target {
			return fmt.Errorf("%w: symbol %d targets a %s sliver", ErrInvalidInconsistencyProof, i, sym.Target)
		}
		if err := errs[i]; err != nil {
			return fmt.Errorf("%w: symbol %d: %w", ErrInvalidInconsistencyProof, i, err)
		}
		if seen[sym.Index] {
			return fmt.Errorf("%w: duplicate symbol from sliver %d", ErrInvalidInconsistencyProof, sym.Index)
		}
		seen[sym.Index] = true
	}
	data := rebuild(p, cs, proof.Target, s, proof.Symbols)
	if expandedRoots(p, cs, proof.Target, s, [][]byte{data})[0] == m.Hash(proof.Target, proof.TargetIndex) {
		return fmt.Errorf("%w: the rebuilt %s sliver %d matches its metadata", ErrInvalidInconsistencyProof, proof.Target, proof.TargetIndex)
	}
	return nil
}
