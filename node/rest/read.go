package rest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"floe/chainlink"
	"floe/codec"
	"floe/p2p"
)

// ReadOptions tunes Read.
type ReadOptions struct {
	// Check is the consistency check of the decode (codec.CheckDefault).
	Check codec.ConsistencyCheck
	// Parallel bounds the sliver requests in flight (default 16).
	Parallel int
}

// ErrTooFewSlivers: the committee's REST APIs served fewer verified
// primary slivers than a decode needs.
var ErrTooFewSlivers = errors.New("rest: too few verified slivers to decode the blob")

// Read reads a certified blob through the committee's REST APIs, as a
// Walrus client does with nodes that speak only REST. The committee and the
// blob's status come from chain; each member is reached at the URL its
// chain record names and pinned to the network key the record names
// (NewMemberClient), members without a REST API being skipped. The
// metadata is taken from the first member whose answer verifies against
// the blob ID; then primary slivers, systematic pairs first, each verified
// against the metadata, until n−2f verify; then decoded with opts.Check.
// A sliver that fails (unreachable node, error, failed verification) is
// replaced by another. The blob is held in memory.
func Read(ctx context.Context, chain chainlink.Chain, id codec.BlobID, opts ReadOptions) ([]byte, error) {
	st, err := chain.BlobStatus(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("rest: blob status of %s: %w", id, err)
	}
	if st.Invalid {
		return nil, fmt.Errorf("rest: blob %s was marked invalid on chain: %w", id, chainlink.ErrNotCertified)
	}
	if !st.Certified() {
		return nil, fmt.Errorf("rest: blob %s: %w", id, chainlink.ErrNotCertified)
	}
	es, err := chain.EpochState(ctx)
	if err != nil {
		return nil, fmt.Errorf("rest: epoch: %w", err)
	}
	com, err := chain.Committee(ctx, es.Epoch)
	if err != nil {
		return nil, fmt.Errorf("rest: committee of epoch %d: %w", es.Epoch, err)
	}
	p, err := codec.NewParams(com.NShards)
	if err != nil {
		return nil, err
	}
	type ref struct {
		c    *Client
		pair int
	}
	var clients []*Client
	var refs []ref
	var errs []error
	for _, m := range com.Members {
		c, err := NewMemberClient(m, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		clients = append(clients, c)
		for _, s := range m.Shards {
			refs = append(refs, ref{c, p.PairOfShard(id, int(s))})
		}
	}
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	if len(clients) == 0 {
		return nil, fmt.Errorf("rest: no member of committee %d publishes a REST API: %w", com.Epoch, errors.Join(append(errs, ErrNoREST)...))
	}

	var meta *codec.Metadata
	for _, c := range clients {
		raw, err := c.GetMetadata(ctx, id)
		if err == nil {
			var got codec.BlobID
			var m codec.Metadata
			if got, m, err = codec.UnmarshalMetadataWithID(raw); err == nil && got != id {
				err = fmt.Errorf("%w: metadata of blob %s", p2p.ErrProtocol, got)
			}
			if err == nil {
				err = codec.VerifyMetadata(p, id, &m)
			}
			if err == nil {
				meta = &m
				break
			}
		}
		errs = append(errs, fmt.Errorf("metadata from %s: %w", c.base, err))
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	if meta == nil {
		return nil, fmt.Errorf("rest: no member served verified metadata of %s: %w", id, errors.Join(errs...))
	}

	// Systematic primary slivers (the lowest pairs) decode without
	// arithmetic; the others stand in for the ones that fail.
	slices.SortFunc(refs, func(a, b ref) int { return a.pair - b.pair })
	need := p.Primary()
	par := opts.Parallel
	if par <= 0 {
		par = 16
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu      sync.Mutex
		slivers []codec.Sliver
		seen    = map[int]bool{}
		next    int
		wg      sync.WaitGroup
	)
	take := func() (ref, bool) {
		mu.Lock()
		defer mu.Unlock()
		// Enough slivers verified or in flight for the rest: stop.
		if len(slivers) >= need || next >= len(refs) {
			return ref{}, false
		}
		r := refs[next]
		next++
		return r, true
	}
	for range min(par, len(refs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				r, ok := take()
				if !ok {
					return
				}
				b, err := r.c.GetSliver(rctx, id, p2p.SliverRef{Pair: uint16(r.pair), Type: codec.Primary})
				var sl codec.Sliver
				if err == nil {
					sl, err = codec.UnmarshalSliver(b, codec.Primary)
				}
				if err == nil {
					err = codec.VerifySlivers(p, meta, []codec.Sliver{sl})[0]
				}
				mu.Lock()
				if err == nil && !seen[sl.Index] && len(slivers) < need {
					seen[sl.Index] = true
					slivers = append(slivers, sl)
					if len(slivers) == need {
						cancel()
					}
				} else if err != nil && rctx.Err() == nil {
					errs = append(errs, fmt.Errorf("primary sliver %d from %s: %w", r.pair, r.c.base, err))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(slivers) < need {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: %d of %d for %s: %w", ErrTooFewSlivers, len(slivers), need, id, errors.Join(errs...))
	}
	return codec.Decode(p, meta, slivers, opts.Check)
}
