package node

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"floe/chainlink"
	"floe/codec"
	"floe/p2p"
)

// Read fetches a certified blob from the swarm: metadata from any node
// (verified against the blob ID), then primary slivers (systematic ones
// first, so decoding is a copy) until n−2f verified ones arrived, falling
// back to secondary slivers (n−f) when primaries run short. Nodes that serve
// data failing verification are skipped and reported in Liars.
func (c *Client) Read(ctx context.Context, id codec.BlobID, opts ReadOptions) (*ReadResult, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(c.cfg.Timeout))
	defer cancel()
	res := &ReadResult{Phases: map[string]time.Duration{}}
	t := time.Now()
	bs, err := c.chain.BlobStatus(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrChain, err)
	}
	if bs.Invalid {
		return nil, fmt.Errorf("%w: %s", ErrBlobInvalid, id)
	}
	if !bs.Certified() {
		return nil, fmt.Errorf("%w: %s is not certified on chain", ErrBlobNotFound, id)
	}
	est, err := c.chain.EpochState(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrChain, err)
	}
	v, prev, preferPrev, err := readCommittees(ctx, c.comms, est, bs.InitialCertifiedEpoch)
	if err != nil {
		return nil, err
	}
	holders := shardHolders(v, prev, preferPrev)
	res.Phases["status"] = time.Since(t)

	t = time.Now()
	m, err := c.readMetadata(ctx, v, prev, preferPrev, id, res)
	if err != nil {
		return res, err
	}
	res.Phases["metadata"] = time.Since(t)

	t = time.Now()
	var slivers []codec.Sliver
	for _, typ := range []codec.SliverType{codec.Primary, codec.Secondary} {
		slivers, err = c.readSlivers(ctx, v.params, holders, id, m, typ, res, opts.Progress)
		if err == nil {
			break
		}
		c.log.Debug("reading slivers", "type", typ, "err", err)
	}
	if err != nil {
		return res, err
	}
	res.Phases["slivers"] = time.Since(t)

	t = time.Now()
	report(opts.Progress, "decode", 0, 1)
	data, err := codec.Decode(v.params, m, slivers, opts.Check)
	if err != nil {
		if errors.Is(err, codec.ErrInconsistentBlob) {
			return res, fmt.Errorf("%w: %s: %w", ErrInconsistent, id, err)
		}
		return res, err
	}
	res.Phases["decode"] = time.Since(t)
	report(opts.Progress, "decode", 1, 1)
	res.Data = data
	return res, nil
}

// readMetadata asks members in random order, two at a time, and keeps the
// first metadata that verifies against the blob ID: first the members of
// the committee the blob should be read from, then the other one's.
func (c *Client) readMetadata(ctx context.Context, v, prev *committeeView, preferPrev bool, id codec.BlobID, res *ReadResult) (*codec.Metadata, error) {
	first, second := v, prev
	if preferPrev {
		first, second = prev, v
	}
	var order []holder
	asked := map[chainlink.ID]bool{}
	for _, cv := range []*committeeView{first, second} {
		if cv == nil {
			continue
		}
		for _, i := range rand.Perm(len(cv.Members)) {
			if id := cv.Members[i].NodeID; !asked[id] {
				asked[id] = true
				order = append(order, holder{cv, i})
			}
		}
	}
	notFound := 0
	var lastErr error
	for start := 0; start < len(order); start += 2 {
		type answer struct {
			h   holder
			m   *codec.Metadata
			err error
		}
		batch := order[start:min(start+2, len(order))]
		ch := make(chan answer, len(batch))
		for _, h := range batch {
			go func() {
				m, err := c.metadataFrom(ctx, h.v, h.i, id)
				ch <- answer{h, m, err}
			}()
		}
		var found *codec.Metadata
		for range batch {
			a := <-ch
			switch {
			case a.err == nil:
				if found == nil {
					found = a.m
				}
			case errors.Is(a.err, errLied):
				res.Liars = append(res.Liars, failure(a.h.v, a.h.i, "%v", a.err))
			case errors.Is(a.err, p2p.ErrNotFound):
				if a.h.v == first {
					notFound += a.h.v.Members[a.h.i].Weight
				}
			default:
				lastErr = a.err
			}
		}
		if found != nil {
			return found, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	if 3*notFound >= 2*first.NShards+1 {
		return nil, fmt.Errorf("%w: a quorum of nodes does not know %s", ErrBlobNotFound, id)
	}
	return nil, fmt.Errorf("%w: no node served valid metadata for %s (last error: %v)", ErrUnavailable, id, lastErr)
}

// errLied marks answers that failed verification.
var errLied = errors.New("served data that fails verification")

func (c *Client) metadataFrom(ctx context.Context, v *committeeView, i int, id codec.BlobID) (*codec.Metadata, error) {
	pid, err := c.connect(v, i)
	if err != nil {
		return nil, err
	}
	raw, err := c.p2p.GetMetadata(ctx, pid, id)
	if err != nil {
		return nil, err
	}
	gotID, m, err := codec.UnmarshalMetadataWithID(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: metadata: %v", errLied, err)
	}
	if gotID != id || len(m.Hashes) != v.params.NShards {
		return nil, fmt.Errorf("%w: metadata for another blob or committee", errLied)
	}
	if err := codec.VerifyMetadata(v.params, id, &m); err != nil {
		return nil, fmt.Errorf("%w: metadata: %v", errLied, err)
	}
	return &m, nil
}

// readSlivers fetches verified slivers of one type until enough to decode.
// It asks each holder for its share of the slivers still wanted, preferring
// the systematic ones. A sliver a holder does not have moves on to the
// shard's other holder (the previous or next owner across an epoch
// change); a member that fails or serves data failing verification is not
// asked again in this read, and liars are reported.
func (c *Client) readSlivers(ctx context.Context, p codec.Params, holders [][]holder, id codec.BlobID, m *codec.Metadata, typ codec.SliverType, res *ReadResult, progress func(Progress)) ([]codec.Sliver, error) {
	need := p.Primary()
	if typ == codec.Secondary {
		need = p.Secondary()
	}
	plan := newPairPlan(p, id, holders)
	// Candidate pairs in preference order: the systematic slivers first
	// (primary sliver i < nPrim, secondary sliver j < nSec), then the rest.
	var preferred, rest []int
	for pair := range p.NShards {
		if _, ok := plan.holderOf(pair); !ok {
			continue
		}
		if p.SliverIndex(typ, pair) < need {
			preferred = append(preferred, pair)
		} else {
			rest = append(rest, pair)
		}
	}
	rand.Shuffle(len(rest), func(a, b int) { rest[a], rest[b] = rest[b], rest[a] })
	queue := append(preferred, rest...)
	var got []codec.Sliver
	for len(got) < need {
		// Plan the next round: the next `need-len(got)` pairs that still
		// have a holder to ask, grouped by holder.
		type ask struct {
			h    holder
			refs []p2p.SliverRef
		}
		round := map[chainlink.ID]*ask{}
		want := need - len(got)
		for len(queue) > 0 && want > 0 {
			pair := queue[0]
			queue = queue[1:]
			h, ok := plan.holderOf(pair)
			if !ok {
				continue
			}
			a := round[h.nodeID()]
			if a == nil {
				a = &ask{h: h}
				round[h.nodeID()] = a
			}
			a.refs = append(a.refs, p2p.SliverRef{Pair: uint16(pair), Type: typ})
			want--
		}
		if len(round) == 0 {
			return nil, fmt.Errorf("%w: %d of %d %s slivers verified", ErrUnavailable, len(got), need, typ)
		}
		var (
			mu    sync.Mutex
			wg    sync.WaitGroup
			retry []int
		)
		for _, a := range round {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, missing, err := c.sliversFrom(ctx, a.h.v, a.h.i, id, m, a.refs)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					plan.drop(a.h.nodeID())
					if errors.Is(err, errLied) {
						res.Liars = append(res.Liars, failure(a.h.v, a.h.i, "%v", err))
					}
					for _, r := range a.refs {
						retry = append(retry, int(r.Pair))
					}
				default:
					for _, r := range missing {
						plan.miss(int(r.Pair))
						retry = append(retry, int(r.Pair))
					}
				}
				got = append(got, ok...)
				report(progress, "fetch", int64(len(got)), int64(need))
			}()
		}
		wg.Wait()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// Pairs that failed go first in the next round, to their next holder.
		queue = append(retry, queue...)
	}
	return got, nil
}

// sliversFrom fetches slivers from member i over one stream and returns the
// verified ones and those the member does not have (a miss, not a fault).
// Any sliver failing verification makes the member a liar (errLied); a
// stream failure or a whole-request refusal is an error too.
func (c *Client) sliversFrom(ctx context.Context, v *committeeView, i int, id codec.BlobID, m *codec.Metadata, refs []p2p.SliverRef) ([]codec.Sliver, []p2p.SliverRef, error) {
	pid, err := c.connect(v, i)
	if err != nil {
		return nil, nil, err
	}
	results, err := c.p2p.GetSlivers(ctx, pid, id, refs)
	if err != nil {
		return nil, nil, err
	}
	var parsed []codec.Sliver
	var missing []p2p.SliverRef
	for j, r := range results {
		fetchedSliverBytes.Add(int64(len(r.Data))) // FetchedSliverBytes (readrange.go)
		if r.Err != nil {
			missing = append(missing, refs[j])
			continue
		}
		sl, err := codec.UnmarshalSliver(r.Data, refs[j].Type)
		if err != nil || sl.Index != v.params.SliverIndex(refs[j].Type, int(refs[j].Pair)) {
			return nil, nil, fmt.Errorf("%w: %s sliver of pair %d does not decode or has the wrong index", errLied, refs[j].Type, refs[j].Pair)
		}
		parsed = append(parsed, sl)
	}
	for j, err := range codec.VerifySlivers(v.params, m, parsed) {
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s sliver %d: %v", errLied, parsed[j].Type, parsed[j].Index, err)
		}
	}
	return parsed, missing, nil
}
