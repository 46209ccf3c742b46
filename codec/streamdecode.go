package codec

import (
	"fmt"
	"slices"
)

// Streamed decoding: the primary-sliver half of Decode for blobs that do
// not fit in memory. Primary sliver i holds row i of the message matrix
// (its nSec symbols), so the systematic slivers 0…nPrim−1 are the blob
// itself; only rows whose sliver could not be had are decoded, column by
// column with the primary code, from any nPrim primary slivers.
//
// Row spill layout (a sparse file: only the rows a read holds are written):
//
//	[i·nSec·S, (i+1)·nSec·S)   primary sliver i's data, for each index i < n

// RowSpillSize is the size of the row spill of a blob of size bytes.
func RowSpillSize(p Params, size uint64) (int64, error) {
	s, err := p.SymbolSize(size)
	if err != nil {
		return 0, err
	}
	return int64(p.NShards) * int64(p.Secondary()) * int64(s), nil
}

// DecodeRowsAt rebuilds, in place, the systematic rows missing from a row
// spill. have lists the primary slivers the spill holds (each verified
// against m; at least nPrim distinct indices). Every row r < nPrim not in
// have is decoded and written at its place; the decoded rows are returned
// in order. Memory is about budget bytes (at least one symbol per row)
// plus each worker's scratch. Under CheckDefault each decoded row is then
// checked against its hash in m (ErrInconsistentBlob if one differs);
// CheckSkip skips that; CheckStrict is not available here, since it
// re-encodes the whole blob.
func DecodeRowsAt(p Params, m *Metadata, spill Spill, have []int, budget int, check ConsistencyCheck) ([]int, error) {
	if check == CheckStrict {
		return nil, fmt.Errorf("codec: a streamed decode offers the default and skip checks, not the strict one")
	}
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
	n, kp, ks := p.NShards, p.Primary(), p.Secondary()
	present := make([]bool, n)
	var use []int // the first nPrim distinct slivers, as Decode keeps
	for _, i := range have {
		if i < 0 || i >= n {
			return nil, fmt.Errorf("codec: primary sliver index %d of %d", i, n)
		}
		if present[i] {
			continue
		}
		present[i] = true
		if len(use) < kp {
			use = append(use, i)
		}
	}
	var missing []int
	for r := range kp {
		if !present[r] {
			missing = append(missing, r)
		}
	}
	if len(missing) == 0 {
		return nil, nil
	}
	if len(use) < kp {
		return nil, fmt.Errorf("%w: %d distinct primary slivers, need %d", ErrNotEnoughSlivers, len(use), kp)
	}
	slices.Sort(use)
	rowBytes := int64(ks) * int64(s)

	// Column blocks: each used row's run of the block and each missing
	// row's decoded run fit the budget together.
	perCol := (len(use) + len(missing)) * s
	block := max(1, min(ks, budget/perCol))
	in := vectors(len(use), block*s)
	out := vectors(len(missing), block*s)
	lay := newLayout(s)
	workers := defaultWorkers()
	for c0 := 0; c0 < ks; c0 += block {
		c1 := min(ks, c0+block)
		w := (c1 - c0) * s
		for j, i := range use {
			if _, err := spill.ReadAt(in[j][:w], int64(i)*rowBytes+int64(c0)*int64(s)); err != nil {
				return nil, fmt.Errorf("codec: reading primary sliver %d from the spill: %w", i, err)
			}
		}
		cols := c1 - c0
		slots := batchSlots(lay, cols, workers)
		batches := (cols + slots - 1) / slots
		parallel(workers, batches, func(_, b int) {
			b0 := b * slots
			b1 := min(cols, b0+slots)
			vl := lay.vecLen(b1 - b0)
			shards := make([][]byte, n)
			vs := vectors(len(use), vl)
			for j, i := range use {
				for c := b0; c < b1; c++ {
					lay.put(vs[j], c-b0, in[j][c*s:(c+1)*s])
				}
				shards[i] = vs[j]
			}
			if err := cs.col.Decode(shards); err != nil {
				panic(err) // nPrim shards of equal size are present; an error is a bug
			}
			for j, r := range missing {
				for c := b0; c < b1; c++ {
					lay.get(shards[r], c-b0, out[j][c*s:(c+1)*s])
				}
			}
		})
		for j, r := range missing {
			if _, err := spill.WriteAt(out[j][:w], int64(r)*rowBytes+int64(c0)*int64(s)); err != nil {
				return nil, fmt.Errorf("codec: writing decoded row %d to the spill: %w", r, err)
			}
		}
	}
	if check == CheckSkip {
		return missing, nil
	}
	// Check the decoded rows against their hashes, a budget's worth at a
	// time (an expansion holds n symbols per row).
	group := max(1, budget/(n*s))
	rows := vectors(min(group, len(missing)), int(rowBytes))
	for g := 0; g < len(missing); g += group {
		part := missing[g:min(len(missing), g+group)]
		for j, r := range part {
			if _, err := spill.ReadAt(rows[j], int64(r)*rowBytes); err != nil {
				return nil, fmt.Errorf("codec: reading decoded row %d from the spill: %w", r, err)
			}
		}
		roots := expandedRoots(p, cs, Primary, s, rows[:len(part)])
		for j, r := range part {
			if roots[j] != m.Hashes[r].Primary {
				return nil, fmt.Errorf("%w: systematic primary sliver %d does not match its hash", ErrInconsistentBlob, r)
			}
		}
	}
	return missing, nil
}
