package node

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

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
	_, v, err := c.comms.current(ctx)
	if err != nil {
		return nil, err
	}
	res.Phases["status"] = time.Since(t)

	t = time.Now()
	m, err := c.readMetadata(ctx, v, id, res)
	if err != nil {
		return res, err
	}
	res.Phases["metadata"] = time.Since(t)

	t = time.Now()
	var slivers []codec.Sliver
	for _, typ := range []codec.SliverType{codec.Primary, codec.Secondary} {
		slivers, err = c.readSlivers(ctx, v, id, m, typ, res, opts.Progress)
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
// first metadata that verifies against the blob ID.
func (c *Client) readMetadata(ctx context.Context, v *committeeView, id codec.BlobID, res *ReadResult) (*codec.Metadata, error) {
	order := rand.Perm(len(v.Members))
	notFound := 0
	var lastErr error
	for start := 0; start < len(order); start += 2 {
		type answer struct {
			i   int
			m   *codec.Metadata
			err error
		}
		batch := order[start:min(start+2, len(order))]
		ch := make(chan answer, len(batch))
		for _, i := range batch {
			go func() {
				m, err := c.metadataFrom(ctx, v, i, id)
				ch <- answer{i, m, err}
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
				res.Liars = append(res.Liars, failure(v, a.i, "%v", a.err))
			case errors.Is(a.err, p2p.ErrNotFound):
				notFound += v.Members[a.i].Weight
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
	if 3*notFound >= 2*v.NShards+1 {
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
// the systematic ones, and asks for more from others when some fail.
func (c *Client) readSlivers(ctx context.Context, v *committeeView, id codec.BlobID, m *codec.Metadata, typ codec.SliverType, res *ReadResult, progress func(Progress)) ([]codec.Sliver, error) {
	p := v.params
	need := p.Primary()
	if typ == codec.Secondary {
		need = p.Secondary()
	}
	// Candidate pairs in preference order: the systematic slivers first
	// (primary sliver i < nPrim, secondary sliver j < nSec), then the rest.
	holder := map[int]int{} // pair → member
	for i := range v.Members {
		for _, pair := range v.pairsOf(i, id) {
			holder[pair] = i
		}
	}
	var preferred, rest []int
	for pair := range p.NShards {
		if _, ok := holder[pair]; !ok {
			continue
		}
		if p.SliverIndex(typ, pair) < need {
			preferred = append(preferred, pair)
		} else {
			rest = append(rest, pair)
		}
	}
	rand.Shuffle(len(rest), func(a, b int) { rest[a], rest[b] = rest[b], rest[a] })
	candidates := append(preferred, rest...)
	bad := map[int]bool{} // members skipped: lied or failed
	var (
		got  []codec.Sliver
		next int
	)
	for len(got) < need {
		// Plan the next round: the next `need-len(got)` candidates whose
		// holders are still trusted, grouped by holder.
		plan := map[int][]p2p.SliverRef{}
		for want := need - len(got); want > 0 && next < len(candidates); next++ {
			pair := candidates[next]
			if bad[holder[pair]] {
				continue
			}
			plan[holder[pair]] = append(plan[holder[pair]], p2p.SliverRef{Pair: uint16(pair), Type: typ})
			want--
		}
		if len(plan) == 0 {
			return nil, fmt.Errorf("%w: %d of %d %s slivers verified", ErrUnavailable, len(got), need, typ)
		}
		var (
			mu sync.Mutex
			wg sync.WaitGroup
		)
		for i, refs := range plan {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := c.sliversFrom(ctx, v, i, id, m, refs)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					bad[i] = true
					if errors.Is(err, errLied) {
						res.Liars = append(res.Liars, failure(v, i, "%v", err))
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
	}
	return got, nil
}

// sliversFrom fetches slivers from member i over one stream and returns the
// verified ones; any sliver failing verification makes the member a liar.
func (c *Client) sliversFrom(ctx context.Context, v *committeeView, i int, id codec.BlobID, m *codec.Metadata, refs []p2p.SliverRef) ([]codec.Sliver, error) {
	pid, err := c.connect(v, i)
	if err != nil {
		return nil, err
	}
	results, err := c.p2p.GetSlivers(ctx, pid, id, refs)
	if err != nil {
		return nil, err
	}
	var parsed []codec.Sliver
	var firstErr error
	for j, r := range results {
		if r.Err != nil {
			if firstErr == nil {
				firstErr = r.Err
			}
			continue
		}
		sl, err := codec.UnmarshalSliver(r.Data, refs[j].Type)
		if err != nil || sl.Index != v.params.SliverIndex(refs[j].Type, int(refs[j].Pair)) {
			return nil, fmt.Errorf("%w: %s sliver of pair %d does not decode or has the wrong index", errLied, refs[j].Type, refs[j].Pair)
		}
		parsed = append(parsed, sl)
	}
	for j, err := range codec.VerifySlivers(v.params, m, parsed) {
		if err != nil {
			return nil, fmt.Errorf("%w: %s sliver %d: %v", errLied, parsed[j].Type, parsed[j].Index, err)
		}
	}
	return parsed, firstErr
}
