package node

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"floe/chainlink"
	"floe/chainlink/bls"
	"floe/codec"
	"floe/p2p"
	"floe/p2p/gossip"
	"floe/store"
)

// queueRecovery asks the recovery queue to check a certified blob and
// rebuild whatever slivers of the node's shards are missing; cursor is the
// chain event that asked (the persisted cursor stays before it until done).
func (n *Node) queueRecovery(id codec.BlobID, cursor uint64) { n.recq.add(id, cursor) }

// recoverBlob rebuilds the missing slivers of a certified blob on the
// node's shards from other nodes' recovery symbols.
func (n *Node) recoverBlob(ctx context.Context, id codec.BlobID) error {
	st, err := n.store.State(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if !st.Certified || st.Invalid || st.Deleted || st.Gone(uint64(n.Epoch())) {
		return nil
	}
	missing, err := n.store.MissingSlivers(ctx, id)
	if err != nil {
		return err
	}
	// Slivers of a gained shard still syncing come with the sync, at a
	// fraction of the bytes; its worker sends what the sync lacks here.
	missing = slices.DeleteFunc(missing, func(r store.SliverRef) bool { return n.mig.deferRecovery(r.Shard) })
	if len(missing) == 0 {
		n.maybeAttest(ctx, id)
		return nil
	}
	v := n.currentView()
	if v == nil {
		return ErrNoCommittee
	}
	holders, err := n.recoveryHolders(ctx, v, st.CertifiedEpoch)
	if err != nil {
		return err
	}
	start := time.Now()
	vm, metaBytes, err := n.metadataFrom(ctx, id, "")
	if err != nil {
		return err
	}
	// The counters move before each sliver is stored, so whoever sees a
	// sliver in the store also sees what it cost.
	var fetched int64 = metaBytes
	n.stats.recoveryBytes.Add(metaBytes)
	pairs := map[int]bool{}
	for _, ref := range missing {
		if !pairs[ref.Pair] {
			pairs[ref.Pair] = true
			n.stats.pairs.Add(1)
		}
		b, err := n.recoverSliver(ctx, holders, id, vm.m, ref.Pair, ref.Type)
		fetched += b
		if err != nil {
			return fmt.Errorf("recovering %s sliver of pair %d: %w", ref.Type, ref.Pair, err)
		}
	}
	n.log.Info("recovered slivers", "blob", id, "slivers", len(missing), "pairs", len(pairs),
		"bytes_fetched", fetched, "bytes_per_pair", fetched/int64(len(pairs)), "took", time.Since(start).Round(time.Millisecond))
	n.maybeAttest(ctx, id)
	return nil
}

// fetchMetadata returns the blob's metadata from the store, or fetches it
// from committee members until one verifies against the blob ID.
func (n *Node) fetchMetadata(ctx context.Context, v *committeeView, id codec.BlobID) (verifiedMeta, int64, error) {
	if vm, err := n.metadata(ctx, id); err == nil {
		return vm, 0, nil
	}
	var fetched int64
	for _, i := range rand.Perm(len(v.Members)) {
		pi := v.peers[i]
		if pi.ID == "" || pi.ID == n.host.ID() {
			continue
		}
		n.host.Peerstore().AddAddrs(pi.ID, pi.Addrs, time.Hour)
		raw, err := n.client.GetMetadata(ctx, pi.ID, id)
		fetched += int64(len(raw))
		if err != nil {
			continue
		}
		gotID, m, err := codec.UnmarshalMetadataWithID(raw)
		if err != nil || gotID != id || len(m.Hashes) != n.params.NShards || codec.VerifyMetadata(n.params, id, &m) != nil {
			n.log.Warn("peer served bad metadata", "peer", pi.ID, "blob", id)
			continue
		}
		if err := n.store.PutMetadata(ctx, id, raw); err != nil {
			return verifiedMeta{}, fetched, err
		}
		vm := verifiedMeta{m: &m, raw: raw}
		n.meta.put(id, vm, 1)
		return vm, fetched, nil
	}
	return verifiedMeta{}, fetched, fmt.Errorf("%w: no peer served valid metadata for %s", ErrUnavailable, id)
}

// recoveryHolders returns who holds each shard for a blob certified in
// certifiedEpoch: the current committee, and across an epoch change the
// previous one too (first while the change is in progress).
func (n *Node) recoveryHolders(ctx context.Context, v *committeeView, certifiedEpoch uint64) ([][]holder, error) {
	if v.Epoch == 0 || certifiedEpoch >= uint64(v.Epoch) {
		return shardHolders(v, nil, false), nil
	}
	prev := n.previousView(ctx)
	if prev == nil {
		return shardHolders(v, nil, false), nil
	}
	st, err := n.chain.EpochState(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrChain, err)
	}
	return shardHolders(v, prev, st.Epoch == v.Epoch && st.Phase == chainlink.PhaseChangeSync), nil
}

// previousView returns the committee of the epoch before the node's, nil if
// there is none.
func (n *Node) previousView(ctx context.Context) *committeeView {
	e := n.Epoch()
	if e == 0 {
		return nil
	}
	v, err := n.comms.get(ctx, e-1)
	if err != nil {
		return nil
	}
	return v
}

// recoveryExpansionPerRequest bounds the expanded source slivers (n
// symbols each) one recovery-symbols request makes a holder compute.
const recoveryExpansionPerRequest = 128 << 20

// recoverySourcesPerRequest is how many source slivers one request names:
// all a holder has for small blobs, a few for blobs of gigabytes (4 GiB at
// n = 1000: 6).
func recoverySourcesPerRequest(p codec.Params, size uint64) int {
	s, err := p.SymbolSize(size)
	if err != nil || s <= 0 {
		return 1
	}
	return max(1, recoveryExpansionPerRequest/(p.NShards*s))
}

// recoverSliver rebuilds one sliver from recovery symbols and stores it. It
// asks just enough holders (by how many source slivers they hold) for the
// symbols needed, then more if some fail or lie; a source sliver a holder
// does not have moves on to the shard's other holder across an epoch
// change. It returns the bytes fetched.
func (n *Node) recoverSliver(ctx context.Context, holders [][]holder, id codec.BlobID, m *codec.Metadata, pair int, t codec.SliverType) (int64, error) {
	p := n.params
	need := p.RecoverySymbolsNeeded(t)
	target := p.SliverIndex(t, pair)
	plan := newPairPlan(p, id, holders, n.id)
	var (
		valid   []codec.RecoverySymbol
		seen    = map[int]bool{}
		fetched int64
	)
	queue := rand.Perm(p.NShards)
	perRequest := recoverySourcesPerRequest(p, m.UnencodedLength)
	pauses := 0
	for len(valid) < need {
		// Group the next source pairs by holder, covering what is still
		// needed with a little slack for failures.
		type ask struct {
			h     holder
			pairs []uint16
		}
		round := map[chainlink.ID]*ask{}
		want := need - len(valid)
		for planned := 0; planned < want+want/10+1 && len(queue) > 0; {
			sp := queue[0]
			queue = queue[1:]
			h, ok := plan.holderOf(sp)
			if !ok {
				continue
			}
			a := round[h.nodeID()]
			if a == nil {
				a = &ask{h: h}
				round[h.nodeID()] = a
			}
			a.pairs = append(a.pairs, uint16(sp))
			planned++
		}
		if len(round) == 0 {
			break
		}
		var (
			mu    sync.Mutex
			wg    sync.WaitGroup
			retry []int
		)
		failedRound := false
		for _, a := range round {
			wg.Add(1)
			go func() {
				defer wg.Done()
				pi := a.h.v.peers[a.h.i]
				if pi.ID == "" {
					mu.Lock()
					plan.drop(a.h.nodeID())
					for _, sp := range a.pairs {
						retry = append(retry, int(sp))
					}
					mu.Unlock()
					return
				}
				n.host.Peerstore().AddAddrs(pi.ID, pi.Addrs, time.Hour)
				// A holder expands every source sliver it is asked for (n
				// symbols each): requests of at most perRequest sources
				// keep each one's work, and its answer's time, bounded
				// whatever the blob's size. One holder's requests go one
				// after another.
				for len(a.pairs) > 0 {
					k := min(len(a.pairs), perRequest)
					sources := a.pairs[:k]
					a.pairs = a.pairs[k:]
					res, err := n.client.GetRecoverySymbols(ctx, pi.ID, p2p.RecoveryRequest{
						ID: id, Target: p2p.SliverRef{Pair: uint16(pair), Type: t}, Sources: sources,
					})
					mu.Lock()
					if err != nil {
						// Unreachable, overloaded, or the blob unknown
						// there: ask again after a pause, and the other
						// holders of its shards once it failed too often.
						if !plan.failed(a.h.nodeID(), err) {
							failedRound = true
						}
						for _, sp := range append(sources, a.pairs...) {
							retry = append(retry, int(sp))
						}
						mu.Unlock()
						return
					}
					invalid := 0
					for j, r := range res {
						fetched += int64(len(r.Data))
						if r.Err != nil {
							// Not held (yet): a miss, not a lie.
							plan.miss(int(sources[j]))
							retry = append(retry, int(sources[j]))
							continue
						}
						sym, err := codec.UnmarshalRecoverySymbol(r.Data, t)
						if err != nil || codec.VerifyRecoverySymbol(p, m, &sym, target) != nil {
							invalid++
							continue
						}
						if !seen[sym.Index] {
							seen[sym.Index] = true
							valid = append(valid, sym)
						}
					}
					if invalid > 0 {
						n.log.Warn("peer served invalid recovery symbols", "node", a.h.nodeID(), "peer", pi.ID, "blob", id, "invalid", invalid)
						plan.drop(a.h.nodeID())
						for _, sp := range a.pairs {
							retry = append(retry, int(sp))
						}
						mu.Unlock()
						return
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if ctx.Err() != nil {
			return fetched, ctx.Err()
		}
		queue = append(retry, queue...)
		if failedRound {
			if err := retryPause(ctx, pauses); err != nil {
				return fetched, err
			}
			pauses++
		}
	}
	n.stats.recoveryBytes.Add(fetched)
	if len(valid) < need {
		return fetched, fmt.Errorf("%w: %d of %d recovery symbols", ErrUnavailable, len(valid), need)
	}
	sl, proof, _, err := codec.RecoverSliver(p, m, t, target, valid[:need])
	if proof != nil {
		n.reportInconsistency(ctx, id, proof)
		return fetched, nil
	}
	if err != nil {
		return fetched, err
	}
	if err := n.store.PutSliver(ctx, id, pair, t, sl.MarshalBCS()); err != nil {
		return fetched, err
	}
	n.stats.recovered.Add(1)
	return fetched, nil
}

// reportInconsistency handles a blob whose encoding was proven
// inconsistent: the node signs an InvalidBlobID message, gossips it as a
// notice, and submits the invalidation if its own weight suffices (f+1
// shards). Collecting other nodes' signatures needs them to verify the
// proof, which no stream protocol carries yet.
func (n *Node) reportInconsistency(ctx context.Context, id codec.BlobID, proof *codec.InconsistencyProof) {
	v := n.currentView()
	if v == nil {
		return
	}
	epoch := v.Epoch
	msg := codec.InvalidBlobIDMessage(epoch, id)
	sig := n.key.Sign(msg)
	n.log.Error("blob is inconsistently encoded", "blob", id, "target", proof.Target, "index", proof.TargetIndex)
	nt := gossip.Notice{Kind: gossip.NoticeInvalid, BlobID: id, Epoch: epoch, Evidence: invalidEvidence(n.pk, sig)}
	if err := n.gossip.PublishNotice(ctx, nt); err != nil {
		n.log.Warn("gossiping invalid-blob notice", "blob", id, "err", err)
	}
	i := v.Index(n.id)
	if i < 0 || 3*v.Members[i].Weight < v.NShards+1 {
		return
	}
	bitmap, err := bls.SignersToBitmap(len(v.Members), []uint16{uint16(i)})
	if err != nil {
		return
	}
	if _, err := n.chain.InvalidateBlobID(ctx, certificate(sig, bitmap, msg)); err != nil {
		n.log.Warn("invalidating blob on chain", "blob", id, "err", err)
	}
}
