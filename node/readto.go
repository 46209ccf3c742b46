package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"floe/codec"
	"floe/p2p"
)

// Streamed reads. Row r of a blob's message matrix is its systematic
// primary sliver r (readrange.go), so a blob is its first R = ⌈size/(nSec·S)⌉
// primary slivers, end to end. ReadTo fetches them in windows that fit the
// memory budget, verifies each against the metadata, and writes each window
// out in order while the next one is fetched. Only when some row cannot be
// had from any holder does it decode: it gathers any nPrim primary slivers
// in a sparse row spill on disk (codec.DecodeRowsAt) and writes the rest of
// the blob from there.

// DefaultReadMemoryBudget is ReadOptions.MemoryBudget's default for ReadTo.
const DefaultReadMemoryBudget = 512 << 20

// ReadTo reads a certified blob as Read does and writes its bytes to w, in
// order, holding at most about opts.MemoryBudget bytes of slivers whatever
// the blob's size. res.Data stays nil; res.Size is the blob's length,
// known (and passed to opts.Size) before the first byte is written. A
// failure after bytes were written leaves w with a prefix of the blob.
//
// CheckStrict (re-encoding the whole blob) needs the blob in memory: use
// Read.
func (c *Client) ReadTo(ctx context.Context, id codec.BlobID, w io.Writer, opts ReadOptions) (*ReadResult, error) {
	return c.readStream(ctx, id, w, opts, func(size uint64) (uint64, uint64, error) { return 0, size, nil })
}

// ReadRangeTo writes bytes [off, off+n) of a certified blob to w as ReadTo
// does, fetching only the rows that hold them (as ReadRange, but with
// bounded memory for ranges of any length). opts.Size gets the blob's
// length.
func (c *Client) ReadRangeTo(ctx context.Context, id codec.BlobID, off, n uint64, w io.Writer, opts ReadOptions) (*ReadResult, error) {
	return c.readStream(ctx, id, w, opts, func(size uint64) (uint64, uint64, error) {
		if n == 0 || off >= size || n > size-off {
			return 0, 0, fmt.Errorf("%w: [%d, %d+%d) of %d bytes", ErrBadRange, off, off, n, size)
		}
		return off, n, nil
	})
}

// readStream is ReadTo and ReadRangeTo: span gives the byte range to
// write from the blob's size.
func (c *Client) readStream(ctx context.Context, id codec.BlobID, w io.Writer, opts ReadOptions, span func(size uint64) (uint64, uint64, error)) (*ReadResult, error) {
	res := &ReadResult{Phases: map[string]time.Duration{}}
	if opts.Check == codec.CheckStrict {
		return res, fmt.Errorf("%w: a streamed read does not re-encode the blob (the strict check); use Read", ErrInvalidOptions)
	}
	budget := opts.MemoryBudget
	if budget <= 0 {
		budget = DefaultReadMemoryBudget
	}
	ctx, p, holders, m, cancel, err := c.readBegin(ctx, id, res)
	if err != nil {
		return res, err
	}
	defer cancel()
	size := m.UnencodedLength
	res.Size = size
	off, n, err := span(size)
	if err != nil {
		return res, err
	}
	if opts.Size != nil {
		if err := opts.Size(size); err != nil {
			return res, err
		}
	}
	t := time.Now()
	defer func() { res.Phases["slivers"] = time.Since(t) }()
	if n == 0 {
		return res, nil
	}
	s, err := p.SymbolSize(size)
	if err != nil {
		return res, err
	}
	rowBytes := int64(p.Secondary()) * int64(s)
	first := int(int64(off) / rowBytes)
	last := int((int64(off+n) - 1) / rowBytes)
	// Rows are read into window buffers, three at most (being written,
	// waiting, being fetched into: windowBuffers), so four windows' worth
	// fit the budget with room for a sliver that does not go to its row.
	// (When each fetched sliver had its own buffer and lived twice until
	// it verified: 1041 MiB peak RSS for a 512 MiB budget with half these
	// windows, under GOMEMLIMIT=768MiB.)
	window := max(1, min(last-first+1, int(budget/(4*rowBytes))))
	sr := &streamRead{c: c, p: p, id: id, m: m, res: res, plan: newPairPlan(p, id, holders),
		w: w, size: int64(size), start: int64(off), end: int64(off + n), written: int64(off),
		rowBytes: rowBytes, first: first, last: last, window: window, budget: budget, opts: opts}
	return res, sr.run(ctx)
}

// streamRead is one ReadTo.
type streamRead struct {
	c        *Client
	p        codec.Params
	id       codec.BlobID
	m        *codec.Metadata
	res      *ReadResult
	plan     *pairPlan // shared by all windows: a liar is asked once per read
	w        io.Writer
	size     int64
	start    int64 // the bytes [start, end) are written
	end      int64
	rowBytes int64
	first    int // the rows that hold them
	last     int
	window   int
	budget   int64
	opts     ReadOptions
	written  int64
	fetched  int64
}

// fetchedWindow is one window of rows: those that verified, by row, and
// those no holder could give. The rows were read into buf, which goes
// back to the fetcher once they are written.
type fetchedWindow struct {
	first  int
	rows   []codec.Sliver // rows[k] is row first+k, Data nil if failed
	failed []int
	err    error
	buf    []byte
}

// windowBuffers is how many window buffers a streamed read cycles
// through: one being written, one waiting, one being fetched into.
const windowBuffers = 3

func (sr *streamRead) run(ctx context.Context) error {
	fetchCtx, stop := context.WithCancel(ctx)
	var fetcher sync.WaitGroup
	defer fetcher.Wait()
	defer stop()
	windows := make(chan fetchedWindow, 1)
	// Rows are read straight into window buffers, which the writer hands
	// back once written: no buffer per sliver.
	free := make(chan []byte, windowBuffers)
	var mu sync.Mutex // the plan and res are shared with the fetcher
	fetcher.Add(1)
	go func() {
		defer fetcher.Done()
		defer close(windows)
		made := 0
		for first := sr.first; first <= sr.last; first += sr.window {
			last := min(sr.last, first+sr.window-1)
			var buf []byte
			if len(free) == 0 && made < windowBuffers {
				made++
				buf = make([]byte, sr.window*int(sr.rowBytes))
			} else {
				select {
				case buf = <-free:
				case <-fetchCtx.Done():
					return
				}
			}
			fw := fetchedWindow{first: first, rows: make([]codec.Sliver, last-first+1), buf: buf}
			indices := make([]int, 0, last-first+1)
			for r := first; r <= last; r++ {
				indices = append(indices, r)
			}
			pl := &rowPlace{out: buf, rowBytes: int(sr.rowBytes), first: first, rows: last - first + 1}
			fw.failed, fw.err = sr.c.fetchPrimaries(fetchCtx, sr.p, sr.plan, &mu, sr.id, sr.m, indices, sr.res, pl, func(sl codec.Sliver) error {
				fw.rows[sl.Index-first] = sl
				mu.Lock()
				sr.fetched += int64(len(sl.Data))
				report(sr.opts.Progress, "fetch", sr.fetched, int64(sr.last-sr.first+1)*sr.rowBytes)
				mu.Unlock()
				return nil
			})
			select {
			case windows <- fw:
			case <-fetchCtx.Done():
				return
			}
			if fw.err != nil || len(fw.failed) > 0 {
				return
			}
		}
	}()
	for fw := range windows {
		if fw.err != nil {
			return fw.err
		}
		if len(fw.failed) > 0 {
			// Stop the fetcher before the fallback shares the plan.
			stop()
			for range windows {
			}
			// Warn: the read goes on, but decoding costs far more than a copy.
			sr.c.log.Warn("streamed read: some rows cannot be had from their holders; decoding them", "blob_id", sr.id, "rows", fw.failed)
			return sr.decodeRest(ctx, fw)
		}
		for _, sl := range fw.rows {
			if err := sr.writeRow(sl.Index, sl.Data); err != nil {
				return err
			}
		}
		free <- fw.buf
	}
	return ctx.Err()
}

// writeRow writes row r's share of the bytes [start, end).
func (sr *streamRead) writeRow(r int, data []byte) error {
	rowStart := int64(r) * sr.rowBytes
	lo, hi := max(sr.start, rowStart), min(sr.end, rowStart+sr.rowBytes)
	if lo != sr.written {
		return fmt.Errorf("node: streamed read: row %d out of order (%d bytes written)", r, sr.written-sr.start)
	}
	if _, err := sr.w.Write(data[lo-rowStart : hi-rowStart]); err != nil {
		return fmt.Errorf("writing the blob: %w", err)
	}
	sr.written = hi
	return nil
}

// decodeRest finishes a read whose window fw has rows no holder could
// give: it gathers nPrim primary slivers in a row spill (fw's rows, then
// the other rows still to write, then the repair rows, then the other
// systematic rows), decodes the missing systematic rows there and writes
// the rest of the range from fw.first on.
func (sr *streamRead) decodeRest(ctx context.Context, fw fetchedWindow) error {
	t := time.Now()
	p, kp, n := sr.p, sr.p.Primary(), sr.p.NShards
	spillSize, err := codec.RowSpillSize(p, uint64(sr.size))
	if err != nil {
		return err
	}
	sp, err := newSpillFile(ctx, sr.opts.SpillDir, spillSize)
	if err != nil {
		return err
	}
	defer sp.close()
	held := map[int]bool{}
	var have []int
	var keepMu sync.Mutex // keep runs in the fetch's goroutines
	keep := func(sl codec.Sliver) error {
		keepMu.Lock()
		defer keepMu.Unlock()
		if held[sl.Index] {
			return nil
		}
		if _, err := sp.WriteAt(sl.Data, int64(sl.Index)*sr.rowBytes); err != nil {
			return fmt.Errorf("writing to the read's spill: %w", err)
		}
		held[sl.Index] = true
		have = append(have, sl.Index)
		return nil
	}
	failed := map[int]bool{}
	for _, r := range fw.failed {
		failed[r] = true
	}
	for _, sl := range fw.rows {
		if sl.Data != nil {
			if err := keep(sl); err != nil {
				return err
			}
		}
	}
	// The rows still to write first (they are needed anyway), then the
	// repair rows, then the other systematic rows.
	var candidates []int
	for r := fw.first + len(fw.rows); r <= sr.last; r++ {
		candidates = append(candidates, r)
	}
	for i := kp; i < n; i++ {
		candidates = append(candidates, i)
	}
	for r := range kp {
		if r < fw.first || r > sr.last {
			candidates = append(candidates, r)
		}
	}
	var mu sync.Mutex
	for len(have) < kp && len(candidates) > 0 {
		want := min(len(candidates), kp-len(have), sr.window)
		batch := candidates[:want]
		candidates = candidates[want:]
		if _, err := sr.c.fetchPrimaries(ctx, p, sr.plan, &mu, sr.id, sr.m, batch, sr.res, nil, keep); err != nil {
			return err
		}
	}
	if len(have) < kp {
		return fmt.Errorf("%w: %d of the %d primary slivers a streamed read needs can be had (the blob is too large to read from secondary slivers in memory)", ErrUnavailable, len(have), kp)
	}
	sr.res.Phases["fetch-for-decode"] = time.Since(t)
	t = time.Now()
	from := sr.written
	report(sr.opts.Progress, "decode", 0, sr.end-from)
	if _, err := codec.DecodeRowsAt(p, sr.m, sp, have, int(min(sr.budget, 1<<30)), sr.opts.Check); err != nil {
		if errors.Is(err, codec.ErrInconsistentBlob) {
			return fmt.Errorf("%w: %s: %w", ErrInconsistent, sr.id, err)
		}
		return err
	}
	sr.res.Phases["decode"] = time.Since(t)
	buf := make([]byte, sr.rowBytes)
	for r := fw.first; r <= sr.last; r++ {
		if _, err := sp.ReadAt(buf, int64(r)*sr.rowBytes); err != nil {
			return fmt.Errorf("reading the read's spill: %w", err)
		}
		if err := sr.writeRow(r, buf); err != nil {
			return err
		}
		report(sr.opts.Progress, "decode", sr.written-from, sr.end-from)
	}
	return nil
}

// fetchPrimaries fetches the primary slivers of the given indices (for
// primary slivers the pair is the index), passing each verified one to
// got, in rounds: a sliver a holder does not have moves on to the shard's
// other holder, a member that fails or lies is dropped from plan (liars go
// to res). It returns the indices no holder could give. mu guards plan
// and res (shared with other fetches of the same read); got is called
// with mu not held, from several goroutines.
//
// With pl, the slivers are read into their rows of pl.out (fetchRound).
func (c *Client) fetchPrimaries(ctx context.Context, p codec.Params, plan *pairPlan, mu *sync.Mutex, id codec.BlobID, m *codec.Metadata,
	indices []int, res *ReadResult, pl *rowPlace, got func(codec.Sliver) error) ([]int, error) {
	queue := make([]int, 0, len(indices))
	for _, r := range indices {
		queue = append(queue, p.PairOfSliver(codec.Primary, r))
	}
	var failed []int
	pauses := 0
	for len(queue) > 0 {
		round := sliverRound{}
		mu.Lock()
		for _, pair := range queue {
			h, ok := plan.holderOf(pair)
			if !ok {
				failed = append(failed, p.SliverIndex(codec.Primary, pair))
				continue
			}
			round.add(h, p2p.SliverRef{Pair: uint16(pair), Type: codec.Primary})
		}
		mu.Unlock()
		queue = nil
		var (
			qmu     sync.Mutex
			gotErrs []error
			retried bool
		)
		c.fetchRound(ctx, round, id, m, pl, func(a *sliverAsk, ok []codec.Sliver, missing []p2p.SliverRef, err error) {
			mu.Lock()
			if err != nil {
				if !plan.failed(a.h.nodeID(), err) {
					qmu.Lock()
					retried = true
					qmu.Unlock()
				} else {
					c.log.Warn("read: not asking a member again in this read", "blob_id", id, "node_id", a.h.nodeID(), "slivers", len(a.refs), "err", err)
				}
				if errors.Is(err, errLied) {
					res.Liars = append(res.Liars, failure(a.h.v, a.h.i, "%v", err))
				}
			}
			for _, r := range missing {
				plan.miss(int(r.Pair))
			}
			mu.Unlock()
			qmu.Lock()
			if err != nil {
				for _, r := range a.refs {
					queue = append(queue, int(r.Pair))
				}
			}
			for _, r := range missing {
				queue = append(queue, int(r.Pair))
			}
			qmu.Unlock()
			for _, sl := range ok {
				if err := got(sl); err != nil {
					qmu.Lock()
					gotErrs = append(gotErrs, err)
					qmu.Unlock()
					return
				}
			}
		})
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if len(gotErrs) > 0 {
			return nil, gotErrs[0]
		}
		if retried {
			if err := retryPause(ctx, pauses); err != nil {
				return nil, err
			}
			pauses++
		}
	}
	return failed, nil
}
