package node

import (
	"context"
	"errors"
	"time"

	"floe/chainlink"
	"floe/codec"
	"floe/p2p/gossip"
	"floe/store"
)

// follow applies chain events from the persisted cursor on, reconnecting
// with backoff while the chain is unreachable, until ctx ends.
func (n *Node) follow(ctx context.Context) {
	defer n.wg.Done()
	backoff := 100 * time.Millisecond
	save := time.NewTicker(time.Second)
	defer save.Stop()
	for ctx.Err() == nil {
		n.mu.Lock()
		after := n.applied
		n.mu.Unlock()
		stream, err := n.chain.Events(ctx, after)
		if err != nil {
			n.log.Warn("chain events unavailable", "err", err, "retry_in", backoff)
			sleep(ctx, backoff)
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		for {
			ev, err := stream.Next(ctx)
			if err != nil {
				if ctx.Err() == nil {
					n.log.Warn("chain event stream broke", "err", err)
					sleep(ctx, backoff)
					backoff = min(2*backoff, 5*time.Second)
				}
				break
			}
			backoff = 100 * time.Millisecond
			if err := n.apply(ctx, ev); err != nil {
				if ctx.Err() != nil {
					break
				}
				// Retry the same event: applying is idempotent.
				n.log.Warn("applying chain event failed", "type", ev.Type, "cursor", ev.Cursor, "err", err)
				sleep(ctx, backoff)
				backoff = min(2*backoff, 5*time.Second)
				break
			}
			n.mu.Lock()
			n.applied = ev.Cursor
			n.mu.Unlock()
			n.lastApplied.Store(time.Now().UnixNano())
			select {
			case <-save.C:
				n.saveCursor()
			default:
			}
		}
		stream.Close()
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// saveCursor persists the position up to which every event's work is done:
// the last applied event, held back before the oldest pending recovery.
func (n *Node) saveCursor() {
	n.mu.Lock()
	c := n.applied
	n.mu.Unlock()
	if rc := n.recq.minCursor(); rc != 0 && rc-1 < c {
		c = rc - 1
	}
	if err := n.cursor.save(c); err != nil {
		n.log.Error("saving chain cursor", "err", err)
	}
}

// apply makes the store follow one chain event.
func (n *Node) apply(ctx context.Context, ev chainlink.Event) error {
	switch ev.Type {
	case chainlink.EventBlobRegistered:
		err := n.store.Register(ctx, ev.BlobID, store.Registration{
			NShards: n.params.NShards, EndEpoch: uint64(ev.EndEpoch), Deletable: ev.Deletable, ObjectID: ev.ObjectID,
		})
		if errors.Is(err, store.ErrBlobGone) {
			return nil // registered again after it was invalidated
		}
		if err != nil {
			return err
		}
		n.maybeAttest(ctx, ev.BlobID)
	case chainlink.EventBlobCertified:
		// A certification may arrive for a blob whose registration the
		// store has already expired or never saw (restored from an old
		// cursor): register it from the event first.
		if _, err := n.store.State(ctx, ev.BlobID); errors.Is(err, store.ErrNotFound) {
			if err := n.store.Register(ctx, ev.BlobID, store.Registration{
				NShards: n.params.NShards, EndEpoch: uint64(ev.EndEpoch), Deletable: ev.Deletable, ObjectID: ev.ObjectID,
			}); err != nil && !errors.Is(err, store.ErrBlobGone) {
				return err
			}
		}
		if err := n.store.Certify(ctx, ev.BlobID, uint64(ev.Epoch)); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		n.queueRecovery(ev.BlobID, ev.Cursor)
	case chainlink.EventBlobDeleted:
		st, err := n.chain.BlobStatus(ctx, ev.BlobID)
		if err != nil {
			return err
		}
		if !st.Exists {
			if err := n.store.MarkDeleted(ctx, ev.BlobID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			n.forget(ev.BlobID)
		}
	case chainlink.EventInvalidBlobID:
		if err := n.store.MarkInvalid(ctx, ev.BlobID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		n.forget(ev.BlobID)
	case chainlink.EventEpochChangeStart:
		return n.applyEpochStart(ctx, ev.Epoch)
	case chainlink.EventEpochChangeDone:
		n.mig.changeDone(ev.Epoch)
	}
	return nil
}

// applyEpochStart moves the node into a new epoch: it expires blobs whose
// storage ended, takes up the new committee and, if the event is the
// chain's current epoch (not a replay of an older one), plans the shard
// changes (migrate.go).
func (n *Node) applyEpochStart(ctx context.Context, epoch uint32) error {
	ps, err := n.store.Expire(ctx, uint64(epoch))
	if err != nil {
		return err
	}
	if ps.Blobs > 0 {
		n.stats.expired.Add(int64(ps.Blobs))
		n.log.Info("expired blobs", "epoch", epoch, "blobs", ps.Blobs, "slivers", ps.Slivers, "bytes", ps.Bytes)
		n.freed(ps.Bytes, n.store.Usage().Total)
		n.meta.dropIf(func(codec.BlobID) bool { return true })
		n.symbols.dropIf(func(symbolKey) bool { return true })
	}
	if err := n.refreshEpoch(ctx); err != nil {
		if errors.Is(err, ErrNoCommittee) {
			return nil
		}
		return err
	}
	v := n.currentView()
	if v != nil && v.Epoch == epoch {
		if err := n.mig.plan(ctx, v); err != nil {
			return err
		}
	}
	// Else a replayed start of an older epoch: the current epoch's own
	// start event, later in the log, plans the change.
	n.log.Info("epoch applied", "epoch", n.Epoch(), "shards", len(n.Shards()))
	return nil
}

func (n *Node) forget(id codec.BlobID) {
	n.meta.dropIf(func(k codec.BlobID) bool { return k == id })
	n.symbols.dropIf(func(k symbolKey) bool { return k.id == id })
	n.mu.Lock()
	delete(n.attested, id)
	n.mu.Unlock()
}

// maybeAttest signs and gossips a storage confirmation once the node holds
// every sliver of its shards for a registered blob (once per blob per run).
// The node's gossip loop publishes it, holding it while the node knows no
// peer on the topic (a publish then would reach no one).
func (n *Node) maybeAttest(ctx context.Context, id codec.BlobID) {
	n.mu.Lock()
	done := n.attested[id]
	n.mu.Unlock()
	if done || n.gossip == nil || n.gsp == nil {
		return
	}
	st, err := n.store.State(ctx, id)
	if err != nil || !st.Registered {
		return
	}
	pers := codec.BlobPersistence{}
	if st.Deletable {
		pers = codec.BlobPersistence{Deletable: true, ObjectID: codec.ObjectID(st.ObjectID)}
	}
	signed, err := n.confirmation(ctx, id, pers)
	if err != nil {
		return
	}
	conf, err := codec.ParseStorageConfirmation(signed.Message)
	if err != nil {
		return
	}
	n.mu.Lock()
	if n.attested[id] {
		n.mu.Unlock()
		return
	}
	n.attested[id] = true
	n.mu.Unlock()
	n.gsp.publish(gossip.Attestation{Signer: n.pk, Signed: signed, Confirmation: conf})
}

// gossipWindow: gossip naming an epoch more than one away from the
// receiver's is not checked (Ignore): older is stale, newer may be
// checkable once the receiver's view catches up.
func gossipWindow(e, current uint32) bool { return e+1 >= current && e <= current+1 }

// checkAttestation checks a gossiped confirmation, cheapest first: epoch
// window (Ignore), the committee of its epoch from the cache (lookup: no
// chain call for a known epoch, one per missTTL for an unknown one;
// Ignore), the signer's membership (Reject), its signature (Reject).
func checkAttestation(ctx context.Context, comms *committees, current uint32, a gossip.Attestation) gossip.Verdict {
	e := a.Confirmation.Epoch
	if !gossipWindow(e, current) {
		return gossip.Ignore // stale, or from a future we cannot check yet
	}
	v, err := comms.lookup(ctx, e)
	if err != nil {
		return gossip.Ignore
	}
	i, ok := v.byKey[a.Signer]
	if !ok {
		return gossip.Reject // committees never change once selected
	}
	if v.verifySigned(i, a.Signed.Message, a.Signed.Signature) != nil {
		return gossip.Reject
	}
	return gossip.Accept
}

// invalidEvidence is signer public key ‖ signature over the InvalidBlobID
// message of the notice's epoch and blob.
func invalidEvidence(pk [codec.BLSPublicKeySize]byte, sig [codec.BLSSignatureSize]byte) []byte {
	return append(append([]byte{}, pk[:]...), sig[:]...)
}

// checkInvalidEvidence checks an invalid-blob notice's evidence: its
// length (Reject), the committee of the notice's epoch from the cache
// (Ignore if unknown), the signer's membership (Reject), the signature
// (Reject). It needs no chain call for a known epoch. On Accept it returns
// the committee and the signer's index.
func checkInvalidEvidence(ctx context.Context, comms *committees, nt gossip.Notice) (*committeeView, int, [codec.BLSSignatureSize]byte, gossip.Verdict) {
	var pk [codec.BLSPublicKeySize]byte
	var sig [codec.BLSSignatureSize]byte
	if len(nt.Evidence) != codec.BLSPublicKeySize+codec.BLSSignatureSize {
		return nil, -1, sig, gossip.Reject
	}
	v, err := comms.lookup(ctx, nt.Epoch)
	if err != nil {
		return nil, -1, sig, gossip.Ignore
	}
	copy(pk[:], nt.Evidence)
	copy(sig[:], nt.Evidence[codec.BLSPublicKeySize:])
	i, ok := v.byKey[pk]
	if !ok {
		return nil, -1, sig, gossip.Reject
	}
	if v.verifySigned(i, codec.InvalidBlobIDMessage(nt.Epoch, nt.BlobID), sig) != nil {
		return nil, -1, sig, gossip.Reject
	}
	return v, i, sig, gossip.Accept
}
