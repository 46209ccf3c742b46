package node

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

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
	byType := [2][]int{}
	for _, ref := range missing {
		if !pairs[ref.Pair] {
			pairs[ref.Pair] = true
			n.stats.pairs.Add(1)
		}
		byType[ref.Type] = append(byType[ref.Type], ref.Pair)
	}
	for _, t := range []codec.SliverType{codec.Primary, codec.Secondary} {
		todo := byType[t]
		per := recoveryTargetsPerBatch(n.params, vm.m.UnencodedLength, t)
		for len(todo) > 0 {
			batch := todo[:min(per, len(todo))]
			todo = todo[len(batch):]
			b, err := n.recoverSlivers(ctx, holders, id, vm.m, batch, t)
			fetched += b
			if err != nil {
				return fmt.Errorf("recovering %d %s slivers (pairs %d…): %w", len(batch), t, batch[0], err)
			}
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

// recoveryBatchBytes bounds the recovery symbols a node holds while it
// rebuilds one batch of slivers: a batch rebuilds as many slivers of a type
// as fit, each from RecoverySymbolsNeeded symbols.
const recoveryBatchBytes = 64 << 20

// recoverySymbolBytes bounds one BCS recovery symbol of a blob of size
// bytes: the symbol and a Merkle proof over n leaves, with headers. The
// holder checks a batch's answer against p2p.MaxRecoveryBatchBytes with it,
// and the requester sizes its batches with it.
func recoverySymbolBytes(p codec.Params, size uint64) int {
	s, err := p.SymbolSize(size)
	if err != nil {
		s = codec.MaxSymbolSize
	}
	return s + 33*(bits.Len(uint(p.NShards))+1) + 16
}

// recoveryTargetsPerBatch is how many slivers of type t one batch rebuilds:
// all of a node's missing slivers of a type for blobs up to a few hundred
// MiB at n = 1000, fewer for larger blobs.
func recoveryTargetsPerBatch(p codec.Params, size uint64, t codec.SliverType) int {
	return max(1, recoveryBatchBytes/(p.RecoverySymbolsNeeded(t)*recoverySymbolBytes(p, size)))
}

// recoverySourcesPerBatch is how many source slivers one recovery-batch
// request towards targets slivers names: within the holder's expansion
// bound (recoverySourcesPerRequest), the answer's bytes and its symbol
// count.
func recoverySourcesPerBatch(p codec.Params, size uint64, targets int) int {
	return min(recoverySourcesPerRequest(p, size),
		max(1, p2p.MaxRecoveryBatchBytes/(targets*recoverySymbolBytes(p, size))),
		max(1, p2p.LimitsFor(p).MaxBatchSymbols/targets))
}

// recoverSlivers rebuilds slivers of type t at pairs from recovery symbols
// and stores them. Every target is rebuilt from the symbols of the same
// source slivers, so each holder is asked once per source for all the
// targets (p2p.RecoveryBatchRequest) and expands each source once. It asks
// just enough holders (by how many source slivers they hold) for the
// symbols needed, then more if some fail or lie; a source sliver a holder
// does not have moves on to the shard's other holder across an epoch
// change. It returns the bytes fetched.
func (n *Node) recoverSlivers(ctx context.Context, holders [][]holder, id codec.BlobID, m *codec.Metadata, pairs []int, t codec.SliverType) (int64, error) {
	p := n.params
	need := p.RecoverySymbolsNeeded(t)
	targets := make([]uint16, len(pairs))
	index := make([]int, len(pairs)) // sliver index of each target
	for i, pr := range pairs {
		targets[i], index[i] = uint16(pr), p.SliverIndex(t, pr)
	}
	plan := newPairPlan(p, id, holders, n.id)
	var (
		valid   = make([][]codec.RecoverySymbol, len(pairs)) // per target
		have    int                                          // sources whose symbols verified for every target
		seen    = map[int]bool{}                             // their sliver indices
		fetched int64
	)
	queue := rand.Perm(p.NShards)
	// A holder expands every source sliver it is asked for (n symbols
	// each): requests of at most perRequest sources keep each one's work,
	// and its answer, bounded whatever the blob's size.
	perRequest := recoverySourcesPerBatch(p, m.UnencodedLength, len(pairs))
	pauses := 0
	for have < need {
		// Group the next source pairs by holder, covering what is still
		// needed with a little slack for failures.
		type ask struct {
			h     holder
			pairs []uint16
		}
		round := map[chainlink.ID]*ask{}
		want := need - have
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
				// One holder's requests go one after another.
				for len(a.pairs) > 0 {
					k := min(len(a.pairs), perRequest)
					sources := a.pairs[:k]
					a.pairs = a.pairs[k:]
					res, err := n.recoveryBatch(ctx, pi.ID, p2p.RecoveryBatchRequest{ID: id, Type: t, Targets: targets, Sources: sources})
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
					for j, sp := range sources {
						syms, missed, bad := verifyRecoveryRow(p, m, t, index, res[j*len(targets):(j+1)*len(targets)], &fetched)
						switch {
						case missed:
							// Not held (yet): a miss, not a lie.
							plan.miss(int(sp))
							retry = append(retry, int(sp))
						case bad:
							invalid++
						case !seen[syms[0].Index]:
							seen[syms[0].Index] = true
							for i := range syms {
								valid[i] = append(valid[i], syms[i])
							}
							have++
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
	if have < need {
		return fetched, fmt.Errorf("%w: %d of %d recovery symbols", ErrUnavailable, have, need)
	}
	for i, pair := range pairs {
		// Every symbol was checked as its holder's answer came in.
		sl, proof, err := codec.RecoverVerifiedSliver(p, m, t, index[i], valid[i][:need])
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
	}
	return fetched, nil
}

// verifyRecoveryRow checks one source's answers, one per target (index
// holds the targets' sliver indices): the symbols if every one verifies,
// missed if the holder lacks the source, bad if any fails verification. It
// adds the bytes read to fetched.
func verifyRecoveryRow(p codec.Params, m *codec.Metadata, t codec.SliverType, index []int, row []p2p.Result, fetched *int64) (syms []codec.RecoverySymbol, missed, bad bool) {
	for _, r := range row {
		*fetched += int64(len(r.Data))
	}
	syms = make([]codec.RecoverySymbol, len(row))
	for i, r := range row {
		if r.Err != nil {
			return nil, true, false
		}
		sym, err := codec.UnmarshalRecoverySymbol(r.Data, t)
		if err != nil || (i > 0 && sym.Index != syms[0].Index) {
			return nil, false, true // one source gives every target the same position
		}
		syms[i] = sym
	}
	for _, err := range codec.VerifyRecoverySymbols(p, m, syms, index) {
		if err != nil {
			return nil, false, true
		}
	}
	return syms, false, false
}

// recoveryBatch asks pid for req; a holder that does not speak the batch
// protocol (an older node) is asked one target at a time.
func (n *Node) recoveryBatch(ctx context.Context, pid peer.ID, req p2p.RecoveryBatchRequest) ([]p2p.Result, error) {
	res, err := n.client.GetRecoveryBatch(ctx, pid, req)
	if !errors.Is(err, p2p.ErrUnsupported) {
		return res, err
	}
	out := make([]p2p.Result, req.Symbols())
	for i, tg := range req.Targets {
		rs, err := n.client.GetRecoverySymbols(ctx, pid, p2p.RecoveryRequest{
			ID: req.ID, Target: p2p.SliverRef{Pair: tg, Type: req.Type}, Sources: req.Sources,
		})
		if err != nil {
			return nil, err
		}
		for j := range rs {
			out[j*len(req.Targets)+i] = rs[j]
		}
	}
	return out, nil
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
