package node

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"floe/chainlink/bls"
	"floe/codec"
	"floe/p2p"
	"floe/p2p/gossip"
	"floe/store"
)

// queueRecovery asks the recovery workers to check a certified blob and
// rebuild whatever slivers of the node's shards are missing.
func (n *Node) queueRecovery(id codec.BlobID, cursor uint64) {
	n.mu.Lock()
	if _, ok := n.recovering[id]; ok {
		n.mu.Unlock()
		return
	}
	n.recovering[id] = cursor
	n.mu.Unlock()
	select {
	case n.recoverQ <- id:
	default:
		// The queue is full: the cursor is held back at this blob, so a
		// restart will come back to it; meanwhile retry shortly.
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			t := time.NewTimer(time.Second)
			defer t.Stop()
			select {
			case <-t.C:
				n.mu.Lock()
				delete(n.recovering, id)
				n.mu.Unlock()
				n.queueRecovery(id, cursor)
			case <-n.runCtx.Done(): // queueRecovery runs only from the follower, after New set runCtx
			}
		}()
	}
}

func (n *Node) recoveryWorker(ctx context.Context) {
	defer n.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-n.recoverQ:
			backoff := time.Second
			for ctx.Err() == nil {
				err := n.recoverBlob(ctx, id)
				if err == nil {
					break
				}
				n.log.Warn("recovery failed; retrying", "blob", id, "err", err, "retry_in", backoff)
				sleep(ctx, backoff)
				backoff = min(2*backoff, time.Minute)
			}
			if ctx.Err() == nil {
				n.mu.Lock()
				delete(n.recovering, id)
				n.mu.Unlock()
			}
		}
	}
}

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
	if err != nil || len(missing) == 0 {
		if err == nil {
			n.maybeAttest(ctx, id)
		}
		return err
	}
	v := n.currentView()
	if v == nil {
		return ErrNoCommittee
	}
	start := time.Now()
	vm, metaBytes, err := n.fetchMetadata(ctx, v, id)
	if err != nil {
		return err
	}
	var fetched int64 = metaBytes
	pairs := map[int]bool{}
	for _, ref := range missing {
		b, err := n.recoverSliver(ctx, v, id, vm.m, ref.Pair, ref.Type)
		fetched += b
		if err != nil {
			return fmt.Errorf("recovering %s sliver of pair %d: %w", ref.Type, ref.Pair, err)
		}
		pairs[ref.Pair] = true
	}
	n.stats.recoveryBytes.Add(fetched)
	n.stats.pairs.Add(int64(len(pairs)))
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

// recoverSliver rebuilds one sliver from recovery symbols and stores it. It
// asks just enough members (by how many source slivers they hold) for the
// symbols needed, then more if some fail or lie. It returns the bytes
// fetched.
func (n *Node) recoverSliver(ctx context.Context, v *committeeView, id codec.BlobID, m *codec.Metadata, pair int, t codec.SliverType) (int64, error) {
	p := n.params
	need := p.RecoverySymbolsNeeded(t)
	target := p.SliverIndex(t, pair)
	var (
		mu      sync.Mutex
		valid   []codec.RecoverySymbol
		seen    = map[int]bool{}
		fetched int64
	)
	order := rand.Perm(len(v.Members))
	next := 0
	for len(valid) < need && next < len(order) {
		// Pick members whose source slivers cover what is still needed,
		// with a little slack for failures.
		var batch []int
		want := need - len(valid)
		for covered := 0; covered < want+want/10+1 && next < len(order); next++ {
			i := order[next]
			if v.peers[i].ID == "" || v.peers[i].ID == n.host.ID() || len(v.Members[i].Shards) == 0 {
				continue
			}
			batch = append(batch, i)
			covered += len(v.Members[i].Shards)
		}
		if len(batch) == 0 {
			break
		}
		var wg sync.WaitGroup
		for _, i := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				pi := v.peers[i]
				n.host.Peerstore().AddAddrs(pi.ID, pi.Addrs, time.Hour)
				srcPairs := v.pairsOf(i, id)
				sources := make([]uint16, len(srcPairs))
				for j, sp := range srcPairs {
					sources[j] = uint16(sp)
				}
				res, err := n.client.GetRecoverySymbols(ctx, pi.ID, p2p.RecoveryRequest{
					ID: id, Target: p2p.SliverRef{Pair: uint16(pair), Type: t}, Sources: sources,
				})
				if err != nil {
					return
				}
				var got []codec.RecoverySymbol
				var bytes int64
				for _, r := range res {
					bytes += int64(len(r.Data))
					if r.Err != nil {
						continue
					}
					sym, err := codec.UnmarshalRecoverySymbol(r.Data, t)
					if err != nil || codec.VerifyRecoverySymbol(p, m, &sym, target) != nil {
						continue
					}
					got = append(got, sym)
				}
				if len(got) < len(res) {
					n.log.Warn("peer served invalid recovery symbols", "peer", pi.ID, "blob", id, "invalid", len(res)-len(got))
				}
				mu.Lock()
				defer mu.Unlock()
				fetched += bytes
				for _, s := range got {
					if !seen[s.Index] {
						seen[s.Index] = true
						valid = append(valid, s)
					}
				}
			}()
		}
		wg.Wait()
	}
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
