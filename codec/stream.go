package codec

import (
	"errors"
	"fmt"
	"io"
	"runtime"
)

// Streamed encoding: the same expansion as Encode (F3.3) for blobs that do
// not fit in memory. The blob is read from an io.ReaderAt and every sliver
// is written to a spill (a file), so memory stays bounded by the workers'
// scratch (a few rows or columns of the n×n matrix) whatever the blob's
// size. The metadata and blob ID are those Encode computes.
//
// Spill layout, symbol size S, n shards, nPrim = kp, nSec = ks:
//
//	[0, n·ks·S)             primary sliver i at i·ks·S (the first nSec symbols of row i)
//	[n·ks·S, +n·kp·S)       secondary sliver j at n·ks·S + j·kp·S (the first nPrim symbols of column j)
//
// Phase A reads the source rows in batches, expands each with the row
// (secondary) code, hashes the expanded row (its primary Merkle root) and
// writes, per column, the batch's run of that column's first nPrim
// symbols; phase B reads each column's nPrim symbols back, expands them with
// the column code, hashes them (the secondary root) and writes the repair
// rows' first nSec symbols in runs; phase C roots the repair rows from the
// leaf hashes phase B kept, (n−nPrim)·n·32 bytes, the only state that
// grows with n².

// Spill is where a streamed encoding keeps its slivers: a file, or any
// random-access store of StreamedBlob.SpillSize() bytes.
type Spill interface {
	io.ReaderAt
	io.WriterAt
}

// StreamedBlob is an encoded blob whose slivers live in its spill.
type StreamedBlob struct {
	Params     Params
	Metadata   Metadata
	BlobID     BlobID
	SymbolSize int
	spill      Spill
}

// SpillSize is the bytes the spill of a blob of size bytes takes.
func SpillSize(p Params, size uint64) (int64, error) {
	s, err := p.SymbolSize(size)
	if err != nil {
		return 0, err
	}
	return int64(p.NShards) * int64(s) * int64(p.Primary()+p.Secondary()), nil
}

// SliverSize is the data size of a sliver of type t.
func (b *StreamedBlob) SliverSize(t SliverType) int {
	if t == Primary {
		return b.Params.Secondary() * b.SymbolSize
	}
	return b.Params.Primary() * b.SymbolSize
}

// Sliver reads the sliver of type t of sliver pair pair from the spill.
func (b *StreamedBlob) Sliver(pair int, t SliverType) (Sliver, error) {
	n := b.Params.NShards
	if pair < 0 || pair >= n {
		return Sliver{}, fmt.Errorf("codec: pair %d of %d", pair, n)
	}
	idx := b.Params.SliverIndex(t, pair)
	size := b.SliverSize(t)
	off := int64(idx) * int64(size)
	if t == Secondary {
		off += int64(n) * int64(b.SliverSize(Primary))
	}
	data := make([]byte, size)
	if _, err := b.spill.ReadAt(data, off); err != nil {
		return Sliver{}, fmt.Errorf("codec: reading %s sliver %d from the spill: %w", t, idx, err)
	}
	return Sliver{Type: t, Index: idx, SymbolSize: b.SymbolSize, Data: data}, nil
}

// SliverBCS reads the sliver of type t of sliver pair pair from the spill
// as BCS SliverData (what Sliver(pair, t).MarshalBCS() returns), in one
// allocation.
func (b *StreamedBlob) SliverBCS(pair int, t SliverType) ([]byte, error) {
	n := b.Params.NShards
	if pair < 0 || pair >= n {
		return nil, fmt.Errorf("codec: pair %d of %d", pair, n)
	}
	idx := b.Params.SliverIndex(t, pair)
	size := b.SliverSize(t)
	off := int64(idx) * int64(size)
	if t == Secondary {
		off += int64(n) * int64(b.SliverSize(Primary))
	}
	e := &encoder{b: make([]byte, 0, size+14)}
	e.uleb(uint64(size))
	head := len(e.b)
	e.b = e.b[:head+size]
	if _, err := b.spill.ReadAt(e.b[head:], off); err != nil {
		return nil, fmt.Errorf("codec: reading %s sliver %d from the spill: %w", t, idx, err)
	}
	e.u16(uint16(b.SymbolSize))
	e.u16(uint16(idx))
	return e.b, nil
}

// EncodeFrom encodes the blob of size bytes that r holds, writing its
// slivers to spill (SpillSize bytes; see the package's streamed encoding).
// It uses every core.
func EncodeFrom(p Params, r io.ReaderAt, size uint64, spill Spill) (*StreamedBlob, error) {
	e, err := newStreamEncoder(p, r, size, spill, 0)
	if err != nil {
		return nil, fmt.Errorf("codec: encode: %w", err)
	}
	if err := e.run(); err != nil {
		return nil, fmt.Errorf("codec: encode: %w", err)
	}
	m := e.metadata()
	return &StreamedBlob{Params: p, Metadata: m, BlobID: m.BlobID(), SymbolSize: e.s, spill: spill}, nil
}

type streamEncoder struct {
	p            Params
	n, kp, ks, s int
	lay          layout
	codes        codes
	src          io.ReaderAt
	size         uint64
	spill        Spill
	secBase      int64
	workers      int
	rowHash      [][DigestSize]byte
	colHash      [][DigestSize]byte
	repairLeaves []byte
}

func newStreamEncoder(p Params, r io.ReaderAt, size uint64, spill Spill, workers int) (*streamEncoder, error) {
	s, err := p.SymbolSize(size)
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
	e := &streamEncoder{
		p: p, n: p.NShards, kp: p.Primary(), ks: p.Secondary(), s: s,
		lay: newLayout(s), codes: c, src: r, size: size, spill: spill, workers: workers,
	}
	e.secBase = int64(e.n) * int64(e.ks) * int64(s)
	e.rowHash = make([][DigestSize]byte, e.n)
	e.colHash = make([][DigestSize]byte, e.n)
	e.repairLeaves = make([]byte, (e.n-e.kp)*e.n*DigestSize)
	return e, nil
}

// readRow reads source row r into dst (len nSec·S), zero-padded past the
// end of the blob.
func (e *streamEncoder) readRow(r int, dst []byte) error {
	rb := int64(e.ks * e.s)
	start := int64(r) * rb
	clear(dst)
	if uint64(start) >= e.size {
		return nil
	}
	want := min(rb, int64(e.size)-start)
	n, err := e.src.ReadAt(dst[:want], start)
	if int64(n) == want {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("reading row %d of the blob: %w", r, err)
}

func (e *streamEncoder) run() error {
	if err := e.phaseRows(); err != nil {
		return err
	}
	if err := e.phaseColumns(); err != nil {
		return err
	}
	e.phaseRepairRows()
	return nil
}

// firstErr collects the first error of parallel workers.
type firstErr struct {
	ch chan error
}

func newFirstErr() *firstErr { return &firstErr{ch: make(chan error, 1)} }

func (f *firstErr) set(err error) {
	if err != nil {
		select {
		case f.ch <- err:
		default:
		}
	}
}

func (f *firstErr) failed() bool { return len(f.ch) > 0 }

func (f *firstErr) err() error {
	select {
	case err := <-f.ch:
		return err
	default:
		return nil
	}
}

func (e *streamEncoder) phaseRows() error {
	n, ks, kp, s := e.n, e.ks, e.kp, e.s
	slots := batchSlots(e.lay, kp, e.workers)
	batches := (kp + slots - 1) / slots
	type scratch struct {
		orig, rec      [][]byte
		rows           [][]byte
		exp, leaf, tmp []byte
		run            []byte
	}
	ws := make([]*scratch, e.workers)
	fe := newFirstErr()
	parallel(e.workers, batches, func(w, b int) {
		if fe.failed() {
			return
		}
		vl := e.lay.vecLen(slots)
		sc := ws[w]
		if sc == nil {
			sc = &scratch{
				orig: vectors(ks, vl), rec: vectors(n-ks, vl), rows: vectors(slots, ks*s),
				exp: make([]byte, slots*n*s), leaf: make([]byte, (n+1)*DigestSize), tmp: make([]byte, (n/2+2)*DigestSize),
				run: make([]byte, slots*s),
			}
			ws[w] = sc
		}
		r0 := b * slots
		r1 := min(kp, r0+slots)
		for r := r0; r < r1; r++ {
			if err := e.readRow(r, sc.rows[r-r0]); err != nil {
				fe.set(err)
				return
			}
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
			exp := sc.exp[(r-r0)*n*s : (r-r0+1)*n*s]
			copy(exp, sc.rows[r-r0])
			for i := range n - ks {
				e.lay.get(sc.rec[i], r-r0, exp[(ks+i)*s:(ks+i+1)*s])
			}
			leafHashes(sc.leaf, exp, n, s, s)
			e.rowHash[r] = rootFromLeafHashes(sc.leaf, sc.tmp, n)
			if _, err := e.spill.WriteAt(sc.rows[r-r0], int64(r)*int64(ks*s)); err != nil {
				fe.set(fmt.Errorf("spill: %w", err))
				return
			}
		}
		// Each column's symbols of rows r0..r1 are one run in the spill.
		k := r1 - r0
		for c := range n {
			run := sc.run[:k*s]
			for r := r0; r < r1; r++ {
				copy(run[(r-r0)*s:], sc.exp[((r-r0)*n+c)*s:((r-r0)*n+c+1)*s])
			}
			if _, err := e.spill.WriteAt(run, e.secBase+(int64(c)*int64(kp)+int64(r0))*int64(s)); err != nil {
				fe.set(fmt.Errorf("spill: %w", err))
				return
			}
		}
	})
	return fe.err()
}

func (e *streamEncoder) phaseColumns() error {
	n, ks, kp, s := e.n, e.ks, e.kp, e.s
	slots := batchSlots(e.lay, n, e.workers)
	batches := (n + slots - 1) / slots
	type scratch struct {
		orig, rec      [][]byte
		col            []byte
		exp, leaf, tmp []byte
		run            []byte
	}
	ws := make([]*scratch, e.workers)
	fe := newFirstErr()
	parallel(e.workers, batches, func(w, b int) {
		if fe.failed() {
			return
		}
		vl := e.lay.vecLen(slots)
		sc := ws[w]
		if sc == nil {
			sc = &scratch{
				orig: vectors(kp, vl), rec: vectors(n-kp, vl), col: make([]byte, kp*s),
				exp: make([]byte, slots*n*s), leaf: make([]byte, (n+1)*DigestSize), tmp: make([]byte, (n/2+2)*DigestSize),
				run: make([]byte, slots*s),
			}
			ws[w] = sc
		}
		c0 := b * slots
		c1 := min(n, c0+slots)
		for c := c0; c < c1; c++ {
			if _, err := e.spill.ReadAt(sc.col, e.secBase+int64(c)*int64(kp*s)); err != nil {
				fe.set(fmt.Errorf("spill: %w", err))
				return
			}
			exp := sc.exp[(c-c0)*n*s : (c-c0+1)*n*s]
			copy(exp, sc.col)
			for r := range kp {
				e.lay.put(sc.orig[r], c-c0, sc.col[r*s:(r+1)*s])
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
		}
		// The repair rows' symbols of the systematic columns in this batch,
		// one run per row.
		if c0 < ks {
			k := min(c1, ks) - c0
			for i := range n - kp {
				r := kp + i
				run := sc.run[:k*s]
				for c := c0; c < c0+k; c++ {
					copy(run[(c-c0)*s:], sc.exp[((c-c0)*n+r)*s:((c-c0)*n+r+1)*s])
				}
				if _, err := e.spill.WriteAt(run, (int64(r)*int64(ks)+int64(c0))*int64(s)); err != nil {
					fe.set(fmt.Errorf("spill: %w", err))
					return
				}
			}
		}
	})
	return fe.err()
}

func (e *streamEncoder) phaseRepairRows() {
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

func (e *streamEncoder) metadata() Metadata {
	m := Metadata{EncodingType: EncodingTypeRS2, UnencodedLength: e.size, Hashes: make([]SliverPairHashes, e.n)}
	for p := range e.n {
		m.Hashes[p] = SliverPairHashes{Primary: e.rowHash[p], Secondary: e.colHash[e.n-1-p]}
	}
	return m
}
