package codec

import (
	"errors"
	"fmt"
)

// ConsistencyCheck selects the check run after decoding (F6.2).
type ConsistencyCheck int

const (
	// CheckDefault re-verifies the hashes of the systematic primary slivers
	// that were not received directly.
	CheckDefault ConsistencyCheck = iota
	// CheckSkip runs no check.
	CheckSkip
	// CheckStrict re-encodes the whole blob and compares the blob ID.
	CheckStrict
)

// Decoding errors.
var (
	// ErrNotEnoughSlivers means fewer distinct slivers than the code needs.
	ErrNotEnoughSlivers = errors.New("codec: not enough slivers to decode")
	// ErrInconsistentBlob means the decoded blob does not match its metadata:
	// the writer encoded it inconsistently.
	ErrInconsistentBlob = errors.New("codec: blob is inconsistently encoded")
)

// Decode rebuilds a blob from slivers of one type, each already verified
// against m (VerifySlivers): any nPrim distinct primary slivers or any nSec
// distinct secondary ones. Duplicates and surplus slivers are ignored.
func Decode(p Params, m *Metadata, slivers []Sliver, check ConsistencyCheck) ([]byte, error) {
	return DecodeInto(p, m, slivers, check, nil)
}

// DecodeInto is Decode into out, which holds the blob's message matrix:
// p.Primary() rows of one primary sliver each (nil: a new buffer). A
// primary sliver whose symbols already sit at their row of out (fetched
// there) is not copied. The blob is out's prefix.
func DecodeInto(p Params, m *Metadata, slivers []Sliver, check ConsistencyCheck, out []byte) ([]byte, error) {
	if len(m.Hashes) != p.NShards {
		return nil, fmt.Errorf("%w: metadata has %d hash pairs for %d shards", ErrInvalidMetadata, len(m.Hashes), p.NShards)
	}
	s, err := p.SymbolSize(m.UnencodedLength)
	if err != nil {
		return nil, err
	}
	cs, err := p.codes()
	if err != nil {
		return nil, err
	}
	if len(slivers) == 0 {
		return nil, fmt.Errorf("%w: none given", ErrNotEnoughSlivers)
	}
	t := slivers[0].Type
	need := p.SourceSymbols(t)
	// Keep the first `need` distinct slivers, as Walrus's decoder does.
	n, kp, ks := p.NShards, p.Primary(), p.Secondary()
	byIndex := make([][]byte, n)
	have := 0
	for i := range slivers {
		sl := &slivers[i]
		if sl.Type != t {
			return nil, fmt.Errorf("codec: decode: mixed sliver types")
		}
		if _, err := checkSliverShape(p, m, sl); err != nil {
			return nil, err
		}
		if byIndex[sl.Index] != nil {
			continue
		}
		byIndex[sl.Index] = sl.Data
		if have++; have == need {
			break
		}
	}
	if have < need {
		return nil, fmt.Errorf("%w: %d distinct %s slivers, need %d", ErrNotEnoughSlivers, have, t, need)
	}
	rowBytes := ks * s
	if out == nil {
		out = make([]byte, kp*rowBytes)
	} else if len(out) < kp*rowBytes {
		return nil, fmt.Errorf("codec: decode into %d bytes, the message matrix is %d", len(out), kp*rowBytes)
	} else {
		out = out[:kp*rowBytes]
	}
	direct := make([]bool, kp) // systematic rows received as primary slivers
	if t == Primary {
		decodeRows(p, cs, s, byIndex, out, direct)
	} else {
		decodeColumns(p, cs, s, byIndex, out)
	}
	blob := out[:m.UnencodedLength]
	switch check {
	case CheckSkip:
	case CheckStrict:
		_, id, err := ComputeMetadata(p, blob)
		if err != nil {
			return nil, err
		}
		if id != m.BlobID() {
			return nil, fmt.Errorf("%w: decoded blob has ID %s", ErrInconsistentBlob, id)
		}
	default:
		var rows [][]byte
		var which []int
		for r := range kp {
			if !direct[r] {
				rows = append(rows, out[r*rowBytes:(r+1)*rowBytes])
				which = append(which, r)
			}
		}
		if len(rows) > 0 {
			roots := expandedRoots(p, cs, Primary, s, rows)
			for i, r := range which {
				if roots[i] != m.Hashes[r].Primary {
					return nil, fmt.Errorf("%w: systematic primary sliver %d does not match its hash", ErrInconsistentBlob, r)
				}
			}
		}
	}
	return blob, nil
}

// decodeRows fills the nPrim systematic rows of out from any nPrim rows in
// byIndex: rows received are copied, missing ones decoded column by column
// with the primary code.
func decodeRows(p Params, cs codes, s int, byIndex [][]byte, out []byte, direct []bool) {
	n, kp, ks := p.NShards, p.Primary(), p.Secondary()
	rowBytes := ks * s
	missing := false
	for r := range kp {
		if row := byIndex[r]; row != nil {
			if dst := out[r*rowBytes : (r+1)*rowBytes]; len(row) == 0 || &row[0] != &dst[0] {
				copy(dst, row)
			}
			direct[r] = true
		} else {
			missing = true
		}
	}
	if !missing {
		return
	}
	lay := newLayout(s)
	workers := defaultWorkers()
	slots := batchSlots(lay, ks, workers)
	batches := (ks + slots - 1) / slots
	parallel(workers, batches, func(_, b int) {
		c0 := b * slots
		c1 := min(ks, c0+slots)
		vl := lay.vecLen(c1 - c0)
		shards := make([][]byte, n)
		for i, row := range byIndex {
			if row == nil {
				continue
			}
			v := make([]byte, vl)
			for c := c0; c < c1; c++ {
				lay.put(v, c-c0, row[c*s:(c+1)*s])
			}
			shards[i] = v
		}
		if err := cs.col.Decode(shards); err != nil {
			panic(err) // nPrim shards of equal size are present; an error is a bug
		}
		for r := range kp {
			if direct[r] {
				continue
			}
			for c := c0; c < c1; c++ {
				lay.get(shards[r], c-c0, out[r*rowBytes+c*s:r*rowBytes+(c+1)*s])
			}
		}
	})
}

// decodeColumns fills out from any nSec columns in byIndex: each row is a
// codeword of the secondary code.
func decodeColumns(p Params, cs codes, s int, byIndex [][]byte, out []byte) {
	n, kp, ks := p.NShards, p.Primary(), p.Secondary()
	rowBytes := ks * s
	lay := newLayout(s)
	workers := defaultWorkers()
	slots := batchSlots(lay, kp, workers)
	batches := (kp + slots - 1) / slots
	parallel(workers, batches, func(_, b int) {
		r0 := b * slots
		r1 := min(kp, r0+slots)
		vl := lay.vecLen(r1 - r0)
		shards := make([][]byte, n)
		for c, col := range byIndex {
			if col == nil {
				continue
			}
			v := make([]byte, vl)
			for r := r0; r < r1; r++ {
				lay.put(v, r-r0, col[r*s:(r+1)*s])
			}
			shards[c] = v
		}
		if err := cs.row.Decode(shards); err != nil {
			panic(err)
		}
		for r := r0; r < r1; r++ {
			for c := range ks {
				lay.get(shards[c], r-r0, out[r*rowBytes+c*s:r*rowBytes+(c+1)*s])
			}
		}
	})
}
