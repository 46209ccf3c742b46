package codec

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"floe/codec/internal/rs"
)

// codes holds the two 1-D codes of a committee size: the row (secondary)
// code with nSec originals and the column (primary) code with nPrim.
type codes struct {
	row, col *rs.Code
}

func (p Params) codes() (codes, error) {
	row, err := rs.New(p.Secondary(), p.NShards)
	if err != nil {
		return codes{}, err
	}
	col, err := rs.New(p.Primary(), p.NShards)
	if err != nil {
		return codes{}, err
	}
	return codes{row: row, col: col}, nil
}

// code returns the code that expands a sliver of type t: a primary sliver
// (a row) is expanded with the secondary code and vice versa (F3.4).
func (c codes) expanding(t SliverType) *rs.Code {
	if t == Primary {
		return c.row
	}
	return c.col
}

// parallel runs fn for every task on up to workers goroutines and waits for
// all of them.
func parallel(workers, tasks int, fn func(worker, task int)) {
	workers = max(1, min(workers, tasks))
	if workers == 1 {
		for t := range tasks {
			fn(0, t)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				t := int(next.Add(1) - 1)
				if t >= tasks {
					return
				}
				fn(w, t)
			}
		}()
	}
	wg.Wait()
}

// batchSlots picks how many symbols share one vector: vectors of about
// 4 KiB keep an FFT's working set in cache, and there are at least as many
// batches as workers when the matrix allows.
func batchSlots(l layout, total, workers int) int {
	var slots int
	if l.dense {
		slots = 2048 / l.e
	} else {
		slots = max(1, 64/l.blocks)
	}
	return max(1, min(slots, (total+workers-1)/workers))
}

// vectors allocates count vectors of length vl in one buffer.
func vectors(count, vl int) [][]byte {
	buf := make([]byte, count*vl)
	v := make([][]byte, count)
	for i := range v {
		v[i] = buf[i*vl : (i+1)*vl : (i+1)*vl]
	}
	return v
}

// blobEncoder runs the 2-D expansion (F3.3) in three phases, keeping only
// what its mode needs in memory:
//
//	A: source rows → secondary encoding → primary hashes of rows 0..nPrim,
//	   and the row-expansion columns nSec..n (secondary slivers).
//	B: every column → primary encoding → secondary hashes, the leaf hashes of
//	   the repair rows, and (full mode) the repair primary slivers.
//	C: repair rows' primary hashes from their leaf hashes.
type blobEncoder struct {
	p            Params
	n, kp, ks, s int
	lay          layout
	codes        codes
	blob         []byte
	full         bool // keep every sliver (Encode) or only what metadata needs
	workers      int
	rowHash      [][DigestSize]byte // by row index
	colHash      [][DigestSize]byte // by column index
	sec          []byte             // secondary slivers: column c at (c-secFrom)·kp·S
	secFrom      int
	prim         []byte // primary slivers: row r at r·ks·S (full mode)
	repairLeaves []byte // leaf hashes of rows kp..n: (r-kp)·n + c
	lastFullRow  int    // rows < lastFullRow lie entirely inside the blob
}

func newBlobEncoder(p Params, blob []byte, full bool, workers int) (*blobEncoder, error) {
	s, err := p.SymbolSize(uint64(len(blob)))
	if err != nil {
		return nil, err
	}
	c, err := p.codes()
	if err != nil {
		return nil, err
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	e := &blobEncoder{
		p: p, n: p.NShards, kp: p.Primary(), ks: p.Secondary(), s: s,
		lay: newLayout(s), codes: c, blob: blob, full: full, workers: workers,
	}
	e.rowHash = make([][DigestSize]byte, e.n)
	e.colHash = make([][DigestSize]byte, e.n)
	rowBytes := e.ks * s
	e.lastFullRow = len(blob) / rowBytes
	if full {
		e.secFrom = 0
		e.prim = make([]byte, e.n*rowBytes)
	} else {
		e.secFrom = e.ks
	}
	e.sec = make([]byte, (e.n-e.secFrom)*e.kp*s)
	e.repairLeaves = make([]byte, (e.n-e.kp)*e.n*DigestSize)
	return e, nil
}

// row returns source row r of the message matrix, zero-padded past the end
// of the blob; scratch (len nSec·S) is used for a partial row.
func (e *blobEncoder) row(r int, scratch []byte) []byte {
	rb := e.ks * e.s
	if r < e.lastFullRow {
		return e.blob[r*rb : (r+1)*rb]
	}
	clear(scratch)
	if start := r * rb; start < len(e.blob) {
		copy(scratch, e.blob[start:])
	}
	return scratch
}

// secSymbol returns M[r][c] for r < nPrim from where it lives.
func (e *blobEncoder) secSymbol(r, c int, scratch []byte) []byte {
	if c >= e.secFrom {
		off := ((c-e.secFrom)*e.kp + r) * e.s
		return e.sec[off : off+e.s]
	}
	return e.row(r, scratch)[c*e.s : (c+1)*e.s]
}

func (e *blobEncoder) run() {
	e.phaseRows()
	e.phaseColumns()
	e.phaseRepairRows()
}

func (e *blobEncoder) phaseRows() {
	n, ks, kp, s := e.n, e.ks, e.kp, e.s
	slots := batchSlots(e.lay, kp, e.workers)
	batches := (kp + slots - 1) / slots
	type scratch struct {
		orig, rec      [][]byte
		rows           [][]byte
		pad            [][]byte
		exp, leaf, tmp []byte
	}
	ws := make([]*scratch, e.workers)
	parallel(e.workers, batches, func(w, b int) {
		vl := e.lay.vecLen(slots)
		sc := ws[w]
		if sc == nil {
			sc = &scratch{
				orig: vectors(ks, vl), rec: vectors(n-ks, vl),
				rows: make([][]byte, slots), pad: vectors(slots, ks*s),
				exp: make([]byte, n*s), leaf: make([]byte, (n+1)*DigestSize), tmp: make([]byte, (n/2+2)*DigestSize),
			}
			ws[w] = sc
		}
		r0 := b * slots
		r1 := min(kp, r0+slots)
		for r := r0; r < r1; r++ {
			sc.rows[r-r0] = e.row(r, sc.pad[r-r0])
		}
		for c := range ks {
			v := sc.orig[c]
			for r := r0; r < r1; r++ {
				e.lay.put(v, r-r0, sc.rows[r-r0][c*s:(c+1)*s])
			}
		}
		if err := e.codes.row.Encode(sc.orig, sc.rec); err != nil {
			panic(err) // sizes are derived above; an error here is a bug
		}
		for r := r0; r < r1; r++ {
			row := sc.rows[r-r0]
			copy(sc.exp, row)
			for i := range n - ks {
				e.lay.get(sc.rec[i], r-r0, sc.exp[(ks+i)*s:(ks+i+1)*s])
			}
			leafHashes(sc.leaf, sc.exp, n, s, s)
			e.rowHash[r] = rootFromLeafHashes(sc.leaf, sc.tmp, n)
			for c := e.secFrom; c < n; c++ {
				off := ((c-e.secFrom)*kp + r) * s
				copy(e.sec[off:off+s], sc.exp[c*s:(c+1)*s])
			}
			if e.full {
				copy(e.prim[r*ks*s:(r+1)*ks*s], row)
			}
		}
	})
}

func (e *blobEncoder) phaseColumns() {
	n, ks, kp, s := e.n, e.ks, e.kp, e.s
	slots := batchSlots(e.lay, n, e.workers)
	batches := (n + slots - 1) / slots
	type scratch struct {
		orig, rec      [][]byte
		pad            []byte
		exp, leaf, tmp []byte
	}
	ws := make([]*scratch, e.workers)
	parallel(e.workers, batches, func(w, b int) {
		vl := e.lay.vecLen(slots)
		sc := ws[w]
		if sc == nil {
			sc = &scratch{
				orig: vectors(kp, vl), rec: vectors(n-kp, vl), pad: make([]byte, ks*s),
				exp: make([]byte, slots*n*s), leaf: make([]byte, (n+1)*DigestSize), tmp: make([]byte, (n/2+2)*DigestSize),
			}
			ws[w] = sc
		}
		c0 := b * slots
		c1 := min(n, c0+slots)
		for r := range kp {
			v := sc.orig[r]
			for c := c0; c < c1; c++ {
				sym := e.secSymbol(r, c, sc.pad)
				e.lay.put(v, c-c0, sym)
				copy(sc.exp[((c-c0)*n+r)*s:], sym)
			}
		}
		if err := e.codes.col.Encode(sc.orig, sc.rec); err != nil {
			panic(err)
		}
		for c := c0; c < c1; c++ {
			exp := sc.exp[(c-c0)*n*s : (c-c0+1)*n*s]
			for i := range n - kp {
				e.lay.get(sc.rec[i], c-c0, exp[(kp+i)*s:(kp+i+1)*s])
			}
			leafHashes(sc.leaf, exp, n, s, s)
			for i := range n - kp {
				copy(e.repairLeaves[(i*n+c)*DigestSize:], sc.leaf[(kp+i)*DigestSize:(kp+i+1)*DigestSize])
			}
			e.colHash[c] = rootFromLeafHashes(sc.leaf, sc.tmp, n)
			if e.full && c < ks {
				for i := range n - kp {
					r := kp + i
					copy(e.prim[(r*ks+c)*s:], exp[r*s:(r+1)*s])
				}
			}
		}
	})
}

func (e *blobEncoder) phaseRepairRows() {
	n, kp := e.n, e.kp
	bufs := make([][2][]byte, e.workers)
	parallel(e.workers, n-kp, func(w, i int) {
		if bufs[w][0] == nil {
			bufs[w] = [2][]byte{make([]byte, (n+1)*DigestSize), make([]byte, (n/2+2)*DigestSize)}
		}
		buf := bufs[w][0]
		copy(buf, e.repairLeaves[i*n*DigestSize:(i+1)*n*DigestSize])
		e.rowHash[kp+i] = rootFromLeafHashes(buf, bufs[w][1], n)
	})
}

func (e *blobEncoder) metadata() Metadata {
	m := Metadata{EncodingType: EncodingTypeRS2, UnencodedLength: uint64(len(e.blob)), Hashes: make([]SliverPairHashes, e.n)}
	for p := range e.n {
		m.Hashes[p] = SliverPairHashes{Primary: e.rowHash[p], Secondary: e.colHash[e.n-1-p]}
	}
	return m
}

// Encode encodes blob for p's committee size: metadata, blob ID and all n
// sliver pairs. It uses every core (GOMAXPROCS goroutines, all joined).
func Encode(p Params, blob []byte) (*EncodedBlob, error) {
	e, err := newBlobEncoder(p, blob, true, 0)
	if err != nil {
		return nil, fmt.Errorf("codec: encode: %w", err)
	}
	e.run()
	m := e.metadata()
	eb := &EncodedBlob{Params: p, Metadata: m, BlobID: m.BlobID(), SymbolSize: e.s, Pairs: make([]SliverPair, e.n)}
	rb, cb := e.ks*e.s, e.kp*e.s
	for pair := range e.n {
		sj := e.n - 1 - pair
		eb.Pairs[pair] = SliverPair{
			Primary:   Sliver{Type: Primary, Index: pair, SymbolSize: e.s, Data: e.prim[pair*rb : (pair+1)*rb : (pair+1)*rb]},
			Secondary: Sliver{Type: Secondary, Index: sj, SymbolSize: e.s, Data: e.sec[sj*cb : (sj+1)*cb : (sj+1)*cb]},
		}
	}
	return eb, nil
}

// ComputeMetadata returns the metadata and blob ID of blob without keeping
// all slivers: beside the blob it holds the row-expansion columns (about
// half the blob) and the repair rows' leaf hashes (n·(n-nPrim)·32 bytes).
func ComputeMetadata(p Params, blob []byte) (Metadata, BlobID, error) {
	e, err := newBlobEncoder(p, blob, false, 0)
	if err != nil {
		return Metadata{}, BlobID{}, fmt.Errorf("codec: metadata: %w", err)
	}
	e.run()
	m := e.metadata()
	return m, m.BlobID(), nil
}
