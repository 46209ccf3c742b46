package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"floe/chainlink"
	"floe/codec"
	"floe/p2p"
)

// Quilts (spec §12): many small files in one blob, each in its own run of
// columns of the message matrix. A column is a systematic secondary sliver
// (codec.Quilt), so listing a quilt's patches fetches the one to ten
// secondary slivers of its index, and reading one file fetches the
// secondary slivers of its patch: a few slivers of nPrim·S bytes each,
// where reading the whole quilt fetches nPrim primary slivers of nSec·S.
// Each sliver is verified against the quilt's metadata, itself verified
// against the quilt ID. When a sliver cannot be had from its holders (or a
// strict check is asked for), the whole quilt is read and the patch taken
// from it.

// StoredQuiltPatch is a stored file and its quilt patch ID (F11.3).
type StoredQuiltPatch struct {
	Identifier string             `json:"identifier"`
	PatchID    codec.QuiltPatchID `json:"quiltPatchId"`
}

// QuiltStoreResult is the store of a quilt: the blob's store result, and
// every file's patch ID in the quilt's (identifier) order.
type QuiltStoreResult struct {
	*StoreResult
	Patches []StoredQuiltPatch `json:"patches"`
	// TypeAttribute says whether the new blob object got the
	// _walrusBlobType = "quilt" attribute (the chain keeps attributes
	// and the client may sign for the object's owner).
	TypeAttribute bool `json:"type_attribute"`
}

// StoreQuilt lays files out as a QuiltV1 blob for the swarm's committee
// size (codec.EncodeQuilt: bad input gives codec's typed errors) and stores
// it as Store does. A newly created blob object is given the attribute
// _walrusBlobType = "quilt", as Walrus does, when the chain keeps
// attributes; failing to set it is logged, not an error (the quilt is
// stored and certified).
func (c *Client) StoreQuilt(ctx context.Context, files []codec.QuiltFile, opts StoreOptions) (*QuiltStoreResult, error) {
	q, err := codec.EncodeQuilt(c.params, files)
	if err != nil {
		return nil, err
	}
	st, err := c.Store(ctx, q.Blob, opts)
	if err != nil {
		return nil, err
	}
	out := &QuiltStoreResult{StoreResult: st, Patches: make([]StoredQuiltPatch, len(q.Index.Patches))}
	for i := range q.Index.Patches {
		pt := &q.Index.Patches[i]
		out.Patches[i] = StoredQuiltPatch{Identifier: pt.Identifier, PatchID: pt.ID(st.BlobID)}
	}
	if ba, ok := c.chain.(chainlink.BlobAttributes); ok && !st.AlreadyCertified && !st.Blob.ObjectID.IsZero() {
		_, err := ba.SetBlobAttributes(ctx, st.Blob.Owner, st.Blob.ObjectID,
			map[string]string{chainlink.AttrBlobType: chainlink.AttrBlobTypeQuilt})
		if err != nil {
			c.log.Warn("quilt stored, but its blob type attribute was not set", "quilt_id", st.BlobID,
				"object", st.Blob.ObjectID, "err", err)
		} else {
			out.TypeAttribute = true
		}
	}
	return out, nil
}

// QuiltReadResult is what a quilt read fetched.
type QuiltReadResult struct {
	// Index is the quilt's index (ListQuiltPatches, and reads by
	// identifier, which look the identifier up in it).
	Index *codec.QuiltIndex
	// File is the file read (ReadQuiltPatch, ReadQuiltFile).
	File codec.QuiltFile
	// PatchID is the file's patch ID.
	PatchID codec.QuiltPatchID
	// Slivers and SliverBytes count the verified slivers the read used.
	Slivers     int
	SliverBytes int64
	// Full is true when the whole quilt was read instead.
	Full bool
	// Liars are nodes that served data failing verification.
	Liars []NodeFailure
	// Phases are the durations of status, metadata, slivers, decode.
	Phases map[string]time.Duration
}

// quiltRead is one quilt read: the quilt's committee, holders and
// verified metadata, and the secondary slivers fetched so far.
type quiltRead struct {
	c       *Client
	id      codec.BlobID
	p       codec.Params
	holders [][]holder
	m       *codec.Metadata
	plan    *pairPlan
	rr      *ReadResult
	res     *QuiltReadResult
	got     map[int]codec.Sliver
	opts    ReadOptions
	whole   *codec.Quilt // after a full read
}

func (c *Client) startQuiltRead(ctx context.Context, id codec.BlobID, opts ReadOptions) (*quiltRead, error) {
	rr := &ReadResult{Phases: map[string]time.Duration{}}
	qr := &quiltRead{c: c, id: id, rr: rr, opts: opts, got: map[int]codec.Sliver{},
		res: &QuiltReadResult{Phases: rr.Phases}}
	p, holders, m, err := c.readStart(ctx, id, rr)
	qr.res.Liars = rr.Liars
	if err != nil {
		return qr, err
	}
	qr.p, qr.holders, qr.m = p, holders, m
	qr.plan = newPairPlan(p, id, holders)
	if opts.Check == codec.CheckStrict {
		return qr, qr.readWhole(ctx)
	}
	return qr, nil
}

// columns fetches the secondary slivers of the given indices (those not
// fetched yet) and returns them all. It fails with ErrUnavailable when
// one has no holder left.
func (qr *quiltRead) columns(ctx context.Context, indices []int) ([]codec.Sliver, error) {
	var need []int
	for _, j := range indices {
		if _, ok := qr.got[j]; !ok {
			need = append(need, j)
		}
	}
	if len(need) > 0 {
		t := time.Now()
		err := qr.c.fetchSecondaries(ctx, qr.p, qr.plan, qr.id, qr.m, need, qr.rr, func(sl codec.Sliver) {
			qr.got[sl.Index] = sl
			qr.res.Slivers++
			qr.res.SliverBytes += int64(len(sl.Data))
		})
		qr.res.Liars = qr.rr.Liars
		qr.res.Phases["slivers"] += time.Since(t)
		if err != nil {
			return nil, err
		}
	}
	out := make([]codec.Sliver, 0, len(indices))
	for _, j := range indices {
		out = append(out, qr.got[j])
	}
	return out, nil
}

// fallback reads the whole quilt after err made reading columns fail,
// unless ctx ended.
func (qr *quiltRead) fallback(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if !errors.Is(err, ErrUnavailable) {
		return err
	}
	qr.c.log.Debug("quilt read: its slivers cannot be had; reading the whole quilt", "quilt_id", qr.id, "err", err)
	return qr.readWhole(ctx)
}

// readWhole reads and parses the whole quilt, as Read does from the
// metadata on.
func (qr *quiltRead) readWhole(ctx context.Context) error {
	qr.res.Full = true
	t := time.Now()
	var slivers []codec.Sliver
	var err error
	for _, typ := range []codec.SliverType{codec.Primary, codec.Secondary} {
		slivers, err = qr.c.readSlivers(ctx, qr.p, qr.holders, qr.id, qr.m, typ, qr.rr, qr.opts.Progress, nil)
		if err == nil {
			break
		}
	}
	qr.res.Liars = qr.rr.Liars
	if err != nil {
		return err
	}
	qr.res.Phases["slivers"] += time.Since(t)
	for _, sl := range slivers {
		qr.res.Slivers++
		qr.res.SliverBytes += int64(len(sl.Data))
	}
	t = time.Now()
	data, err := codec.Decode(qr.p, qr.m, slivers, qr.opts.Check)
	if err != nil {
		if errors.Is(err, codec.ErrInconsistentBlob) {
			return fmt.Errorf("%w: %s: %w", ErrInconsistent, qr.id, err)
		}
		return err
	}
	qr.res.Phases["decode"] = time.Since(t)
	qr.whole, err = codec.ParseQuilt(qr.p, data)
	return err
}

// index reads the quilt's index: secondary sliver 0 says how many columns
// it spans.
func (qr *quiltRead) index(ctx context.Context) (*codec.QuiltIndex, error) {
	if qr.whole != nil {
		return &qr.whole.Index, nil
	}
	first, err := qr.columns(ctx, []int{0})
	if err == nil {
		var which []int
		if which, err = codec.QuiltIndexSlivers(qr.p, qr.m, first[0]); err == nil {
			var sl []codec.Sliver
			if sl, err = qr.columns(ctx, which); err == nil {
				ix, err := codec.DecodeQuiltIndex(qr.p, qr.m, sl)
				if err != nil {
					return nil, err
				}
				return &ix, nil
			}
		}
	}
	if err := qr.fallback(ctx, err); err != nil {
		return nil, err
	}
	return &qr.whole.Index, nil
}

// patch reads the file of patch id.
func (qr *quiltRead) patch(ctx context.Context, id codec.QuiltPatchID) (codec.QuiltFile, error) {
	if id.QuiltID != qr.id {
		return codec.QuiltFile{}, fmt.Errorf("%w: a patch of quilt %s read from quilt %s", codec.ErrInvalidQuiltPatchID, id.QuiltID, qr.id)
	}
	if id.Start < 1 || id.End > qr.p.Secondary() || id.Start >= id.End {
		return codec.QuiltFile{}, fmt.Errorf("%w: columns [%d, %d) at %d shards", codec.ErrInvalidQuiltPatchID, id.Start, id.End, qr.p.NShards)
	}
	if qr.whole == nil {
		sl, err := qr.columns(ctx, id.SliverIndices())
		if err == nil {
			return codec.DecodeQuiltPatch(qr.p, qr.m, id, sl)
		}
		if err := qr.fallback(ctx, err); err != nil {
			return codec.QuiltFile{}, err
		}
	}
	return qr.whole.FileByID(id)
}

// ListQuiltPatches reads a quilt's index from the secondary slivers that
// hold it.
func (c *Client) ListQuiltPatches(ctx context.Context, quiltID codec.BlobID, opts ReadOptions) (*QuiltReadResult, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(c.cfg.Timeout))
	defer cancel()
	qr, err := c.startQuiltRead(ctx, quiltID, opts)
	if err != nil {
		return qr.res, err
	}
	qr.res.Index, err = qr.index(ctx)
	return qr.res, err
}

// ReadQuiltPatch reads one file of a quilt by its patch ID, fetching only
// the secondary slivers of its patch.
func (c *Client) ReadQuiltPatch(ctx context.Context, id codec.QuiltPatchID, opts ReadOptions) (*QuiltReadResult, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(c.cfg.Timeout))
	defer cancel()
	qr, err := c.startQuiltRead(ctx, id.QuiltID, opts)
	if err != nil {
		return qr.res, err
	}
	qr.res.File, err = qr.patch(ctx, id)
	qr.res.PatchID = id
	return qr.res, err
}

// ReadQuiltFile reads one file of a quilt by its identifier: the index
// first, then the patch it names (codec.ErrQuiltPatchNotFound if none).
func (c *Client) ReadQuiltFile(ctx context.Context, quiltID codec.BlobID, identifier string, opts ReadOptions) (*QuiltReadResult, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(c.cfg.Timeout))
	defer cancel()
	qr, err := c.startQuiltRead(ctx, quiltID, opts)
	if err != nil {
		return qr.res, err
	}
	if qr.res.Index, err = qr.index(ctx); err != nil {
		return qr.res, err
	}
	pt, err := qr.res.Index.Patch(identifier)
	if err != nil {
		return qr.res, err
	}
	qr.res.PatchID = pt.ID(quiltID)
	if qr.res.File, err = qr.patch(ctx, qr.res.PatchID); err != nil {
		return qr.res, err
	}
	if qr.res.File.Identifier != identifier {
		return qr.res, fmt.Errorf("%w: the index names %q, its patch %q", codec.ErrMalformedQuilt, identifier, qr.res.File.Identifier)
	}
	return qr.res, nil
}

// fetchSecondaries fetches the secondary slivers of the given indices
// from their holders, verified, calling got for each (from one goroutine
// at a time). A sliver a holder does not have moves on to the shard's
// other holder; a member that fails or lies is not asked again. It fails
// with ErrUnavailable when some sliver has no holder left.
func (c *Client) fetchSecondaries(ctx context.Context, p codec.Params, plan *pairPlan, id codec.BlobID, m *codec.Metadata,
	indices []int, res *ReadResult, got func(codec.Sliver)) error {
	queue := make([]int, 0, len(indices))
	for _, j := range indices {
		queue = append(queue, p.PairOfSliver(codec.Secondary, j))
	}
	var mu sync.Mutex
	for len(queue) > 0 {
		type ask struct {
			h    holder
			refs []p2p.SliverRef
		}
		round := map[chainlink.ID]*ask{}
		for _, pair := range queue {
			h, ok := plan.holderOf(pair)
			if !ok {
				return fmt.Errorf("%w: secondary sliver %d: no holder left", ErrUnavailable, p.SliverIndex(codec.Secondary, pair))
			}
			a := round[h.nodeID()]
			if a == nil {
				a = &ask{h: h}
				round[h.nodeID()] = a
			}
			a.refs = append(a.refs, p2p.SliverRef{Pair: uint16(pair), Type: codec.Secondary})
		}
		queue = nil
		var wg sync.WaitGroup
		for _, a := range round {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, missing, err := c.sliversFrom(ctx, a.h.v, a.h.i, id, m, a.refs, nil)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					plan.drop(a.h.nodeID())
					if errors.Is(err, errLied) {
						res.Liars = append(res.Liars, failure(a.h.v, a.h.i, "%v", err))
					}
					for _, r := range a.refs {
						queue = append(queue, int(r.Pair))
					}
					return
				}
				for _, r := range missing {
					plan.miss(int(r.Pair))
					queue = append(queue, int(r.Pair))
				}
				for _, sl := range ok {
					got(sl)
				}
			}()
		}
		wg.Wait()
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}
