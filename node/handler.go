package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"floe/chainlink"
	"floe/chainlink/bls"
	"floe/codec"
	"floe/p2p"
	"floe/store"
)

// handler serves the stream protocols from the node's store.
type handler struct {
	n            *Node
	maxSyncBytes int // the sync-shard answer bound of the p2p limits
}

var _ p2p.Handler = (*handler)(nil)

// storeErr maps store errors onto the statuses a peer acts on.
func storeErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: %v", p2p.ErrNotFound, err)
	case errors.Is(err, store.ErrBlobGone), errors.Is(err, store.ErrInvalidArgument):
		return fmt.Errorf("%w: %v", p2p.ErrInvalidRequest, err)
	case errors.Is(err, store.ErrNoSpace):
		return fmt.Errorf("%w: %v", p2p.ErrNoSpace, err)
	case errors.Is(err, store.ErrPendingFull):
		return fmt.Errorf("%w: %v", p2p.ErrRateLimited, err)
	default:
		return err
	}
}

// metadata returns a blob's verified metadata: from the cache, else from
// the store.
func (n *Node) metadata(ctx context.Context, id codec.BlobID) (verifiedMeta, error) {
	if vm, ok := n.meta.get(id); ok {
		return vm, nil
	}
	raw, err := n.store.GetMetadata(ctx, id)
	if err != nil {
		return verifiedMeta{}, err
	}
	gotID, m, err := codec.UnmarshalMetadataWithID(raw)
	if err != nil || gotID != id {
		return verifiedMeta{}, fmt.Errorf("%w: stored metadata of %s does not decode", store.ErrCorrupt, id)
	}
	vm := verifiedMeta{m: &m, raw: raw}
	n.meta.put(id, vm, 1)
	return vm, nil
}

// corrupt flips a byte of a copy of b: the Byzantine "corrupt" behaviour.
func (n *Node) corrupt(b []byte) []byte {
	if n.cfg.Byzantine != ByzantineCorrupt || len(b) == 0 {
		return b
	}
	c := append([]byte(nil), b...)
	c[len(c)-len(c)/3-1] ^= 0x5a
	return c
}

func (h *handler) GetMetadata(ctx context.Context, _ peer.ID, id codec.BlobID) ([]byte, error) {
	raw, err := h.n.store.GetMetadata(ctx, id)
	if err != nil {
		return nil, storeErr(err)
	}
	return h.n.corrupt(raw), nil
}

func (h *handler) PutMetadata(ctx context.Context, from peer.ID, id codec.BlobID, raw []byte) error {
	n := h.n
	gotID, m, err := codec.UnmarshalMetadataWithID(raw)
	if err != nil {
		return fmt.Errorf("%w: %v", p2p.ErrInvalidRequest, err)
	}
	if gotID != id {
		return fmt.Errorf("%w: metadata is for blob %s", p2p.ErrInvalidRequest, gotID)
	}
	if len(m.Hashes) != n.params.NShards {
		return fmt.Errorf("%w: metadata for %d shards, the committee has %d", p2p.ErrInvalidRequest, len(m.Hashes), n.params.NShards)
	}
	if err := codec.VerifyMetadata(n.params, id, &m); err != nil {
		return fmt.Errorf("%w: %v", p2p.ErrInvalidRequest, err)
	}
	st, err := n.store.State(ctx, id)
	if err == nil && (st.Invalid || st.Gone(uint64(n.Epoch()))) {
		return fmt.Errorf("%w: blob %s is invalid or expired", p2p.ErrInvalidRequest, id)
	}
	if _, err := n.store.GetMetadata(ctx, id); err == nil {
		n.meta.put(id, verifiedMeta{m: &m, raw: raw}, 1)
		return nil // already stored
	}
	if !st.Registered {
		if err := n.admitPending(ctx, from, id, len(raw)); err != nil {
			return err
		}
	}
	n.meta.put(id, verifiedMeta{m: &m, raw: raw}, 1)
	err = n.putMaybePending(ctx, id, len(raw), func() error { return n.store.PutMetadata(ctx, id, raw) })
	n.noteWrite(err)
	return storeErr(err)
}

func (h *handler) PutSlivers(ctx context.Context, from peer.ID, id codec.BlobID, in []p2p.Sliver) ([]error, error) {
	n := h.n
	if hook := n.putHook.Load(); hook != nil {
		if err := (*hook)(ctx); err != nil {
			return nil, err
		}
	}
	vm, err := n.metadata(ctx, id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%w: no metadata for %s: send it first", p2p.ErrNotFound, id)
		}
		return nil, err
	}
	errs := make([]error, len(in))
	// Items on shards the node is still taking up wait, together, for at
	// most shardTakeUpWait (awaitShard).
	takeUpBy := time.Now().Add(shardTakeUpWait)
	parsed := make([]codec.Sliver, 0, len(in))
	idx := make([]int, 0, len(in))
	for i, s := range in {
		pair := int(s.Pair)
		if pair >= n.params.NShards {
			errs[i] = fmt.Errorf("%w: pair %d out of range", p2p.ErrInvalidRequest, pair)
			continue
		}
		if shard := n.params.ShardOfPair(id, pair); !n.holds(shard) {
			if epoch, ok := n.awaitShard(ctx, shard, takeUpBy); !ok && epoch != 0 {
				// Ours in the chain's current committee, but the follower
				// has not taken it up yet: not the sender's fault.
				errs[i] = fmt.Errorf("%w: pair %d is on shard %d, which this node takes up in epoch %d but has not yet (it is still applying the epoch change); retry shortly",
					p2p.ErrRateLimited, pair, shard, epoch)
				continue
			} else if !ok {
				errs[i] = fmt.Errorf("%w: pair %d is on shard %d, not held here", p2p.ErrInvalidRequest, pair, shard)
				continue
			}
		}
		sl, err := codec.UnmarshalSliver(s.Data, s.Type)
		if err != nil {
			errs[i] = fmt.Errorf("%w: %v", p2p.ErrInvalidRequest, err)
			continue
		}
		if want := n.params.SliverIndex(s.Type, pair); sl.Index != want {
			errs[i] = fmt.Errorf("%w: %s sliver of pair %d has index %d, want %d", p2p.ErrInvalidRequest, s.Type, pair, sl.Index, want)
			continue
		}
		parsed = append(parsed, sl)
		idx = append(idx, i)
	}
	good := make([]store.Sliver, 0, len(parsed))
	for j, verr := range codec.VerifySlivers(n.params, vm.m, parsed) {
		i := idx[j]
		if verr != nil {
			errs[i] = fmt.Errorf("%w: %v", p2p.ErrFailedVerification, verr)
			continue
		}
		good = append(good, store.Sliver{Pair: int(in[i].Pair), Type: in[i].Type, Data: in[i].Data})
	}
	for _, e := range errs {
		if e != nil {
			n.stats.rejected.Add(1)
		}
	}
	if len(good) > 0 {
		bytes := 0
		for _, g := range good {
			bytes += len(g.Data)
		}
		if st, err := n.store.State(ctx, id); err != nil || !st.Registered {
			if err := n.admitPending(ctx, from, id, bytes); err != nil {
				return nil, err
			}
		}
		err := n.putMaybePending(ctx, id, bytes, func() error { return n.store.PutSlivers(ctx, id, good) })
		n.noteWrite(err)
		if err != nil {
			return nil, storeErr(err)
		}
		n.stats.stored.Add(int64(len(good)))
		n.maybeAttest(ctx, id)
	}
	return errs, nil
}

func (h *handler) GetSlivers(ctx context.Context, _ peer.ID, id codec.BlobID, items []p2p.SliverRef, send func(p2p.Result) error) error {
	n := h.n
	st, err := n.store.State(ctx, id)
	if err != nil {
		return storeErr(err)
	}
	if st.Invalid || st.Gone(uint64(n.Epoch())) {
		return fmt.Errorf("%w: blob %s is invalid or expired", p2p.ErrNotFound, id)
	}
	hook := n.sendHook.Load()
	// The size of each sliver, to take its bytes of the sending budget
	// before it is loaded.
	var length uint64
	if vm, err := n.metadata(ctx, id); err == nil {
		length = vm.m.UnencodedLength
	}
	for _, it := range items {
		var r p2p.Result
		var hookErr error
		if hook != nil {
			hookErr = (*hook)(it)
		}
		var held int64
		// The state was read once above; the shard follows from the pair.
		// A shard not held here is answered without touching the store.
		switch shard := n.params.ShardOfPair(id, int(it.Pair)); {
		case int(it.Pair) >= n.params.NShards:
			r.Err = fmt.Errorf("%w: pair %d out of range", p2p.ErrInvalidRequest, it.Pair)
		case !n.mig.serves(shard) || n.cfg.Byzantine == ByzantineWithhold:
			r.Err = fmt.Errorf("%w: shard %d is not held here", p2p.ErrNotFound, shard)
		case hookErr != nil:
			r.Err = hookErr
		default:
			size, _ := n.params.SliverSize(it.Type, length)
			// A sliver larger than the whole budget is sent alone.
			held = min(int64(size), n.sendingBudget)
			if !n.sending.TryAcquire(held) {
				held = 0
				r.Err = fmt.Errorf("%w: this node is sending %d MiB of slivers already; ask again shortly", p2p.ErrRateLimited, n.sendingBudget>>20)
				break
			}
			// Sent from the store's own buffer (send has written it when
			// it returns): copying every sliver served out of the store
			// cost about 4% of a read's CPU.
			var sent bool
			err := n.store.ViewShardSliver(ctx, shard, id, it.Type, func(data []byte) error {
				sent = true
				r.Data = n.corrupt(data)
				return send(r)
			})
			if sent {
				n.sending.Release(held)
				if err != nil {
					return err
				}
				continue
			}
			r.Err = storeErr(err)
		}
		err := send(r)
		if held > 0 {
			n.sending.Release(held)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// confirmationWait bounds how long a confirmation request waits for the
// blob's registration and slivers (a client asks right after pushing, while
// the chain event may still be on its way).
const confirmationWait = 10 * time.Second

func (h *handler) GetConfirmation(ctx context.Context, _ peer.ID, req p2p.ConfirmationRequest) (codec.SignedMessage, error) {
	n := h.n
	ctx, cancel := context.WithTimeout(ctx, confirmationWait)
	defer cancel()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		msg, err := n.confirmation(ctx, req.ID, req.Persistence)
		if err == nil || !errors.Is(err, errNotYet) {
			return msg, err
		}
		select {
		case <-ctx.Done():
			return codec.SignedMessage{}, fmt.Errorf("%w: %v", p2p.ErrNotFound, err)
		case <-tick.C:
		}
	}
}

var errNotYet = errors.New("not yet")

// confirmation signs a storage confirmation if the blob is registered and
// every sliver of the node's shards is stored.
func (n *Node) confirmation(ctx context.Context, id codec.BlobID, pers codec.BlobPersistence) (codec.SignedMessage, error) {
	st, err := n.store.State(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !st.Registered) {
		return codec.SignedMessage{}, fmt.Errorf("%w: blob %s not registered yet", errNotYet, id)
	}
	if err != nil {
		return codec.SignedMessage{}, err
	}
	if st.Invalid || st.Deleted || st.Gone(uint64(n.Epoch())) {
		return codec.SignedMessage{}, fmt.Errorf("%w: blob %s is invalid, deleted or expired", p2p.ErrInvalidRequest, id)
	}
	missing, err := n.store.MissingSlivers(ctx, id)
	if err != nil {
		return codec.SignedMessage{}, storeErr(err)
	}
	if len(missing) > 0 {
		return codec.SignedMessage{}, fmt.Errorf("%w: %d slivers of blob %s missing", errNotYet, len(missing), id)
	}
	if pers.Deletable {
		b, err := n.chain.Blob(ctx, chainlink.ID(pers.ObjectID))
		if err != nil || b.BlobID != id || !b.Deletable {
			return codec.SignedMessage{}, fmt.Errorf("%w: object %x is not a live deletable object of %s", p2p.ErrInvalidRequest, pers.ObjectID, id)
		}
	} else if st.Deletable {
		bs, err := n.chain.BlobStatus(ctx, id)
		if err != nil {
			return codec.SignedMessage{}, err
		}
		if bs.PermanentEndEpoch == 0 {
			return codec.SignedMessage{}, fmt.Errorf("%w: blob %s has no permanent object", p2p.ErrInvalidRequest, id)
		}
	}
	msg := codec.StorageConfirmationMessage(n.Epoch(), id, pers)
	sig := n.key.Sign(msg)
	if n.cfg.Byzantine == ByzantineBadConfirm {
		// The Byzantine "bad-confirm" behaviour: a signature over another
		// epoch's confirmation of the blob.
		sig = n.key.Sign(codec.StorageConfirmationMessage(n.Epoch()+1, id, pers))
	}
	n.stats.confirmations.Add(1)
	return codec.SignedMessage{Message: msg, Signature: sig}, nil
}

func (h *handler) GetRecoverySymbols(ctx context.Context, _ peer.ID, req p2p.RecoveryRequest) ([]p2p.Result, error) {
	n := h.n
	if int(req.Target.Pair) >= n.params.NShards {
		return nil, fmt.Errorf("%w: target pair %d out of range", p2p.ErrInvalidRequest, req.Target.Pair)
	}
	if err := n.servesSymbols(ctx, req.ID); err != nil {
		return nil, err
	}
	return n.recoverySymbols(ctx, req.ID, req.Target.Type, []uint16{req.Target.Pair}, req.Sources), nil
}

// GetRecoveryBatch serves the symbols towards several target slivers from
// each source sliver asked for, expanding each source once (or taking it
// from the cache).
func (h *handler) GetRecoveryBatch(ctx context.Context, _ peer.ID, req p2p.RecoveryBatchRequest) ([]p2p.Result, error) {
	n := h.n
	if err := n.servesSymbols(ctx, req.ID); err != nil {
		return nil, err
	}
	vm, err := n.metadata(ctx, req.ID)
	if err != nil {
		return nil, storeErr(err)
	}
	if b := int64(req.Symbols()) * int64(recoverySymbolBytes(n.params, vm.m.UnencodedLength)); b > p2p.MaxRecoveryBatchBytes {
		return nil, fmt.Errorf("%w: %d targets × %d sources would answer about %d bytes, at most %d",
			p2p.ErrInvalidRequest, len(req.Targets), len(req.Sources), b, p2p.MaxRecoveryBatchBytes)
	}
	return n.recoverySymbols(ctx, req.ID, req.Type, req.Targets, req.Sources), nil
}

// recoverySymbols answers, for each source pair and then each target pair
// (slivers of type t), the recovery symbol or why there is none.
func (n *Node) recoverySymbols(ctx context.Context, id codec.BlobID, t codec.SliverType, targets, sources []uint16) []p2p.Result {
	out := make([]p2p.Result, 0, len(targets)*len(sources))
	for _, sp := range sources {
		var src *codec.SymbolSource
		err := fmt.Errorf("%w: source pair %d out of range", p2p.ErrInvalidRequest, sp)
		if int(sp) < n.params.NShards {
			src, err = n.symbolSource(ctx, id, t.Orthogonal(), int(sp))
		}
		for _, tg := range targets {
			if err != nil {
				out = append(out, p2p.Result{Err: err})
				continue
			}
			sym, serr := src.Symbol(n.params.SliverIndex(t, int(tg)))
			if serr != nil {
				out = append(out, p2p.Result{Err: fmt.Errorf("%w: %v", p2p.ErrInvalidRequest, serr)})
				continue
			}
			out = append(out, p2p.Result{Data: n.corrupt(sym.MarshalBCS())})
			n.stats.symbolsServed.Add(1)
		}
	}
	return out
}

// servesSymbols reports whether the node serves recovery symbols of a blob:
// it knows it, and it is neither invalid nor expired.
func (n *Node) servesSymbols(ctx context.Context, id codec.BlobID) error {
	st, err := n.store.State(ctx, id)
	if err != nil {
		return storeErr(err)
	}
	if st.Invalid || st.Gone(uint64(n.Epoch())) || n.cfg.Byzantine == ByzantineWithhold {
		return fmt.Errorf("%w: blob %s is invalid or expired", p2p.ErrNotFound, id)
	}
	return nil
}

// symbolSource returns the expanded source sliver, from the cache or built
// from the stored sliver.
func (n *Node) symbolSource(ctx context.Context, id codec.BlobID, t codec.SliverType, pair int) (*codec.SymbolSource, error) {
	k := symbolKey{id, t, pair}
	if src, ok := n.symbols.get(k); ok {
		return src, nil
	}
	raw, err := n.store.GetShardSliver(ctx, n.params.ShardOfPair(id, pair), id, t)
	if err != nil {
		return nil, storeErr(err)
	}
	sl, err := codec.UnmarshalSliver(raw, t)
	if err != nil {
		return nil, fmt.Errorf("stored sliver: %w", err)
	}
	src, err := codec.NewSymbolSource(n.params, sl)
	if err != nil {
		return nil, err
	}
	n.stats.sourcesBuilt.Add(1)
	// The expanded sliver is n symbols plus a tree of 2n digests.
	n.symbols.put(k, src, int64(n.params.NShards)*int64(sl.SymbolSize+2*codec.DigestSize))
	return src, nil
}

// SyncShard serves a new owner of a shard this node held (F7.11): the
// request must be signed by the BLS key of the member that the committee of
// the node's current epoch assigns that shard. It sends slivers of blobs
// certified before that epoch and not expired, in blob-ID order, at most
// the requested count and the sync batch bytes.
func (h *handler) SyncShard(ctx context.Context, _ peer.ID, req p2p.SyncRequest) (p2p.SyncBatch, error) {
	n := h.n
	r := req.Request
	cur := n.Epoch()
	switch {
	case r.Epoch > cur:
		return p2p.SyncBatch{}, fmt.Errorf("%w: this node is not in epoch %d yet (at %d)", p2p.ErrNotFound, r.Epoch, cur)
	case r.Epoch < cur:
		return p2p.SyncBatch{}, fmt.Errorf("%w: sync request for epoch %d, current is %d", p2p.ErrInvalidRequest, r.Epoch, cur)
	}
	v := n.currentView()
	if v == nil || v.Epoch != r.Epoch {
		return p2p.SyncBatch{}, fmt.Errorf("%w: no committee of epoch %d here", p2p.ErrNotFound, r.Epoch)
	}
	i, ok := v.byKey[bls.PublicKey(req.PublicKey)]
	if !ok {
		return p2p.SyncBatch{}, fmt.Errorf("%w: the requester is not a member of committee %d", p2p.ErrInvalidRequest, r.Epoch)
	}
	if err := v.verifySigned(i, req.Signed.Message, req.Signed.Signature); err != nil {
		return p2p.SyncBatch{}, fmt.Errorf("%w: sync request signature: %v", p2p.ErrInvalidRequest, err)
	}
	if !slices.Contains(v.Members[i].Shards, r.Shard) {
		return p2p.SyncBatch{}, fmt.Errorf("%w: shard %d is not the requester's in epoch %d", p2p.ErrInvalidRequest, r.Shard, r.Epoch)
	}
	if !n.mig.serves(int(r.Shard)) {
		return p2p.SyncBatch{}, fmt.Errorf("%w: shard %d is not held here", p2p.ErrNotFound, r.Shard)
	}
	keep := func(st store.BlobState) bool {
		return st.Certified && !st.Gone(uint64(cur)) && st.CertifiedEpoch < uint64(r.Epoch)
	}
	maxBytes := min(syncBatchBytes, h.maxSyncBytes)
	var out p2p.SyncBatch
	from := r.Start
	// Slivers that fail their checksum here are left out (the new owner
	// recovers them); scan on until a batch has something or the shard ends.
	for {
		b, err := n.store.SyncSlivers(ctx, int(r.Shard), r.Type, from, int(r.Count)-len(out.Items), maxBytes, keep)
		if err != nil {
			return p2p.SyncBatch{}, storeErr(err)
		}
		for _, ss := range b.Slivers {
			if ss.Err != nil {
				n.log.Warn("sync-shard: stored sliver fails its checksum", "blob", ss.Blob, "shard", r.Shard, "type", r.Type, "err", ss.Err)
				continue
			}
			out.Items = append(out.Items, p2p.SyncItem{ID: ss.Blob, Data: n.corrupt(ss.Data)})
			n.stats.syncServedSlivers.Add(1)
			n.stats.syncServedBytes.Add(int64(len(ss.Data)))
		}
		out.Done = b.Done
		if b.Done || len(out.Items) > 0 {
			return out, nil
		}
		from = b.Next
	}
}

// nodeBlobStatus is the node's view of a blob, in the JSON a blob-status
// answer carries.
type nodeBlobStatus struct {
	Registered     bool   `json:"registered"`
	Certified      bool   `json:"certified"`
	Invalid        bool   `json:"invalid"`
	Deleted        bool   `json:"deleted"`
	EndEpoch       uint64 `json:"end_epoch"`
	CertifiedEpoch uint64 `json:"certified_epoch,omitzero"`
	Missing        int    `json:"missing_slivers"`
}

func (h *handler) BlobStatus(ctx context.Context, _ peer.ID, id codec.BlobID) ([]byte, error) {
	st, err := h.n.store.State(ctx, id)
	if err != nil {
		return nil, storeErr(err)
	}
	missing, _ := h.n.store.MissingSlivers(ctx, id)
	return json.Marshal(nodeBlobStatus{
		Registered: st.Registered, Certified: st.Certified, Invalid: st.Invalid, Deleted: st.Deleted,
		EndEpoch: st.EndEpoch, CertifiedEpoch: st.CertifiedEpoch, Missing: len(missing),
	})
}

// shardTakeUpWait bounds how long a put waits for the node to take up the
// shards the current committee assigns it (awaitShard).
const shardTakeUpWait = 5 * time.Second

// awaitShard is called for a shard the node does not hold. When the
// committee of the epoch the node has refreshed to, or else of the
// chain's current epoch (the follower may not have seen its start yet),
// assigns the shard to this node, the node is still applying the epoch
// change (planning it takes chain calls, one round trip per gained shard
// on a slow link) and will hold it shortly: it waits until by for that
// and reports ok. epoch is that committee's epoch, 0 when no committee
// assigns the shard here (a plain refusal).
func (n *Node) awaitShard(ctx context.Context, shard int, by time.Time) (epoch uint32, ok bool) {
	v := n.currentView()
	if v == nil || !assignsShard(v, n.id, shard) {
		cv, behind := n.chainAhead(ctx)
		if !behind || !assignsShard(cv, n.id, shard) {
			return 0, false
		}
		v = cv
	}
	if f := n.takeUpHook.Load(); f != nil {
		(*f)(n)
	}
	ctx, cancel := context.WithDeadline(ctx, by)
	defer cancel()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for !n.holds(shard) {
		select {
		case <-ctx.Done():
			return v.Epoch, false
		case <-t.C:
		}
	}
	return v.Epoch, true
}

func assignsShard(v *committeeView, id chainlink.ID, shard int) bool {
	i := v.Index(id)
	return i >= 0 && slices.Contains(v.Members[i].Shards, uint16(shard))
}

// chainLook is the last check of the chain's epoch by chainAhead: a peer
// that sends slivers of shards not held here costs at most one chain call
// a second.
type chainLook struct {
	mu sync.Mutex
	at time.Time
	v  *committeeView
}

// chainAhead returns the chain's current committee when its epoch is
// ahead of the one the node has applied.
func (n *Node) chainAhead(ctx context.Context) (*committeeView, bool) {
	look := &n.chainLook
	look.mu.Lock()
	defer look.mu.Unlock()
	if time.Since(look.at) >= time.Second {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		_, v, err := n.comms.current(cctx)
		cancel()
		look.at, look.v = time.Now(), nil
		if err == nil {
			look.v = v
		}
	}
	if look.v == nil || look.v.Epoch <= n.Epoch() {
		return nil, false
	}
	return look.v, true
}
