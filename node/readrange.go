package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"floe/codec"
)

// Range reads. RS2 lays a blob out row by row in its nPrim·nSec message
// matrix of S-byte symbols (shared/spec/walrus-compat.md §3, codec.Decode):
// byte o of the blob is in row o / (nSec·S), and row r is, as it is, the
// systematic primary sliver of index r (which is pair r). So bytes
// [off, off+n) are the rows from off/(nSec·S) to (off+n-1)/(nSec·S): those
// primary slivers, each verified against the metadata, are all a range
// needs. A 1-byte range of a blob costs one sliver of nSec·S bytes instead
// of the nPrim slivers of a full read.

// ErrBadRange means a byte range that is empty or not within the blob.
var ErrBadRange = errors.New("node: byte range not within the blob")

// FetchedSliverBytes returns how many bytes of slivers this Client has
// received from storage nodes in reads so far (verified or not: full
// reads, range reads, streamed reads and their fallbacks). Tests and
// benchmarks take differences.
func (c *Client) FetchedSliverBytes() int64 { return c.fetched.Load() }

// RangeResult is a byte range read from a blob and what it cost.
type RangeResult struct {
	// Data holds the bytes of the range.
	Data []byte
	// Size is the blob's length (from its verified metadata).
	Size uint64
	// Slivers and SliverBytes count the verified slivers the read used.
	Slivers     int
	SliverBytes int64
	// Full is true when the range could not be read from its own slivers
	// (or a strict check was asked for) and the whole blob was read.
	Full bool
	// Liars are nodes that served data failing verification.
	Liars []NodeFailure
	// Phases are the durations of status, metadata, slivers, decode.
	Phases map[string]time.Duration
}

// RangeRows returns the systematic primary slivers (rows) that hold bytes
// [off, off+n) of a blob of the given length: first and last row index.
func RangeRows(p codec.Params, size, off, n uint64) (first, last int, err error) {
	if n == 0 || off >= size || n > size-off {
		return 0, 0, fmt.Errorf("%w: [%d, %d+%d) of %d bytes", ErrBadRange, off, off, n, size)
	}
	s, err := p.SymbolSize(size)
	if err != nil {
		return 0, 0, err
	}
	row := uint64(p.Secondary()) * uint64(s)
	return int(off / row), int((off + n - 1) / row), nil
}

// ReadRange reads bytes [off, off+n) of a certified blob, fetching only
// the systematic primary slivers that hold them, each verified against
// the blob's metadata (which is verified against the blob ID). If any of
// them cannot be had from its holders, or opts.Check is CheckStrict (which
// re-encodes the whole blob), it reads the whole blob as Read does and
// returns the range of it. The default and skip checks of a full read
// concern rows decoded from other slivers; a range read decodes nothing, so
// both give the bytes the writer encoded.
func (c *Client) ReadRange(ctx context.Context, id codec.BlobID, off, n uint64, opts ReadOptions) (*RangeResult, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(c.cfg.Timeout))
	defer cancel()
	rr := &ReadResult{Phases: map[string]time.Duration{}}
	res := &RangeResult{Phases: rr.Phases}
	p, holders, m, err := c.readStart(ctx, id, rr)
	res.Liars = rr.Liars
	if err != nil {
		return res, err
	}
	res.Size = m.UnencodedLength
	first, last, err := RangeRows(p, m.UnencodedLength, off, n)
	if err != nil {
		return res, err
	}

	if opts.Check != codec.CheckStrict {
		t := time.Now()
		rowBytes, err := p.SliverSize(codec.Primary, m.UnencodedLength)
		if err != nil {
			return res, err
		}
		// The rows are read straight into one buffer, of which the range
		// is a slice.
		buf := make([]byte, (last-first+1)*rowBytes)
		rows, err := c.readRows(ctx, p, holders, id, m, first, last, rr, opts.Progress, &rowPlace{out: buf, rowBytes: rowBytes, first: first, rows: last - first + 1})
		res.Liars = rr.Liars
		if err == nil {
			rr.Phases["slivers"] = time.Since(t)
			for k, sl := range rows {
				if dst := buf[k*rowBytes : (k+1)*rowBytes]; len(sl.Data) > 0 && &sl.Data[0] != &dst[0] {
					copy(dst, sl.Data) // fetched into a slice of its own
				}
				res.SliverBytes += int64(len(sl.Data))
			}
			start := off - uint64(first)*uint64(rowBytes)
			res.Data = buf[start : start+n : start+n]
			res.Slivers = len(rows)
			return res, nil
		}
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		c.log.Debug("range read: its slivers cannot be had; reading the whole blob", "blob_id", id, "err", err)
	}

	// The whole blob, as Read does from the metadata on.
	res.Full = true
	data, slivers, err := c.readWhole(ctx, p, holders, id, m, rr, opts.Progress, opts.Check)
	res.Liars = rr.Liars
	if err != nil {
		return res, err
	}
	for _, sl := range slivers {
		res.Slivers++
		res.SliverBytes += int64(len(sl.Data))
	}
	res.Data = data[off : off+n]
	return res, nil
}

// readRows fetches the primary slivers first..last (systematic rows; for
// primary slivers the pair is the index), verified, in order. A sliver a
// holder does not have moves on to the shard's other holder; a member that
// fails or lies is not asked again. It fails when some row has no holder
// left.
func (c *Client) readRows(ctx context.Context, p codec.Params, holders [][]holder, id codec.BlobID, m *codec.Metadata,
	first, last int, res *ReadResult, progress func(Progress), pl *rowPlace) ([]codec.Sliver, error) {
	rows := make([]codec.Sliver, last-first+1)
	indices := make([]int, 0, len(rows))
	for r := first; r <= last; r++ {
		indices = append(indices, r)
	}
	var mu sync.Mutex
	got := 0
	failed, err := c.fetchPrimaries(ctx, p, newPairPlan(p, id, holders), &mu, id, m, indices, res, pl, func(sl codec.Sliver) error {
		rows[sl.Index-first] = sl
		mu.Lock()
		got++
		report(progress, "fetch", int64(got), int64(len(rows)))
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(failed) > 0 {
		return nil, fmt.Errorf("%w: primary sliver %d: no holder left", ErrUnavailable, failed[0])
	}
	return rows, nil
}
