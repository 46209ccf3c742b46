package node

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"

	"floe/chainlink/bls"
	"floe/codec"
	"floe/p2p/gossip"
	"floe/store"
)

// nodeGossip is a storage node's side of gossip: the validators (cheap
// fields first, committees and misses cached, a budget for the chain
// lookups certified notices need), the subscriptions it drains so that the
// node relays both topics, what it does with accepted notices, and the
// outbox that holds its own attestations while it knows no peer on the
// topic.
type nodeGossip struct {
	n   *Node
	log *slog.Logger
	// lookups budgets the notice validator's chain lookups, all peers
	// together.
	lookups *rate.Limiter
	outbox  chan gossip.Attestation
	att     *gossip.Subscription[gossip.Attestation]
	notices *gossip.Subscription[gossip.Notice]

	mu     sync.Mutex
	status map[codec.BlobID]noticeStatus
	votes  map[invalidKey]*invalidVotes

	stats struct {
		attestations, published, held, dropped             atomic.Int64
		certified, invalidVotes, invalidated, unheld       atomic.Int64
		lookups, lookupsRefused, invalidSubmits, lookupErr atomic.Int64
	}
}

const (
	// noticeLookupRate and noticeLookupBurst bound the chain lookups of
	// the certified-notice validator, whatever the peers send.
	noticeLookupRate  = 5
	noticeLookupBurst = 20
	// certifiedTTL is how long a blob the chain showed certified is
	// taken as certified by the notice validator; a lookup that did not
	// show it certified is remembered for missTTL.
	certifiedTTL = 10 * time.Minute
	// maxNoticeStatus bounds that cache.
	maxNoticeStatus = 4096
	// maxInvalidVotes bounds the (blob, epoch) entries of invalid-blob
	// signatures being collected.
	maxInvalidVotes = 1024
	// attestHold is how long an attestation waits for a peer on the
	// topic, retried every attestRetry.
	attestHold  = 30 * time.Second
	attestRetry = 200 * time.Millisecond
)

type noticeStatus struct {
	certified bool
	until     time.Time
}

type invalidKey struct {
	id    codec.BlobID
	epoch uint32
}

// invalidVotes are the verified InvalidBlobID signatures of one blob and
// epoch, by member index, and their shard weight.
type invalidVotes struct {
	sigs   map[int]bls.Signature
	weight int
	done   bool
}

func newNodeGossip(n *Node) *nodeGossip {
	return &nodeGossip{
		n: n, log: n.log, lookups: rate.NewLimiter(noticeLookupRate, noticeLookupBurst),
		outbox: make(chan gossip.Attestation, 1024),
		status: map[codec.BlobID]noticeStatus{}, votes: map[invalidKey]*invalidVotes{},
	}
}

// start subscribes to both topics: a node relays a topic only while
// subscribed to it. run drains the subscriptions.
func (g *nodeGossip) start(gs *gossip.Gossip) error {
	var err error
	if g.att, err = gs.SubscribeAttestations(); err != nil {
		return err
	}
	g.notices, err = gs.SubscribeNotices()
	return err
}

// run drains the subscriptions and publishes the node's attestations until
// ctx ends; Gossip.Close cancels the subscriptions.
func (g *nodeGossip) run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	if g.att != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				a, _, err := g.att.Next(ctx)
				if err != nil {
					return
				}
				g.stats.attestations.Add(1)
				g.log.Debug("gossiped attestation", "blob", a.Confirmation.BlobID, "epoch", a.Confirmation.Epoch)
			}
		}()
	}
	if g.notices != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				nt, _, err := g.notices.Next(ctx)
				if err != nil {
					return
				}
				g.handleNotice(ctx, nt)
			}
		}()
	}
	var held []heldAttestation
	tick := time.NewTicker(attestRetry)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case a := <-g.outbox:
			held = g.flush(ctx, append(held, heldAttestation{a: a, at: time.Now()}))
		case <-tick.C:
			if len(held) > 0 {
				held = g.flush(ctx, held)
			}
		}
	}
}

type heldAttestation struct {
	a  gossip.Attestation
	at time.Time
}

// publish queues one of the node's attestations for run.
func (g *nodeGossip) publish(a gossip.Attestation) {
	select {
	case g.outbox <- a:
	default:
		g.stats.dropped.Add(1)
		g.log.Warn("attestation outbox full; not gossiped", "blob", a.Confirmation.BlobID)
	}
}

// flush publishes the held attestations once some peer is on the topic (a
// publish before reaches no one and is lost: peers drop a message ID they
// have seen, the publisher's own router included), and drops those held
// longer than attestHold.
func (g *nodeGossip) flush(ctx context.Context, held []heldAttestation) []heldAttestation {
	if len(g.n.gossip.AttestationPeers()) == 0 {
		keep := held[:0]
		for _, h := range held {
			if time.Since(h.at) < attestHold {
				keep = append(keep, h)
				continue
			}
			g.stats.dropped.Add(1)
			g.log.Debug("no gossip peer for an attestation", "blob", h.a.Confirmation.BlobID)
		}
		g.stats.held.Store(int64(len(keep)))
		return keep
	}
	for _, h := range held {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := g.n.gossip.PublishAttestation(pctx, h.a)
		cancel()
		if err != nil {
			g.log.Debug("gossiping attestation", "blob", h.a.Confirmation.BlobID, "err", err)
			continue
		}
		g.stats.published.Add(1)
	}
	g.stats.held.Store(0)
	return held[:0]
}

// validateAttestation checks a gossiped confirmation (checkAttestation).
func (g *nodeGossip) validateAttestation(ctx context.Context, _ peer.ID, a gossip.Attestation) gossip.Verdict {
	return checkAttestation(ctx, g.n.comms, g.n.Epoch(), a)
}

// validateNotice checks a blob notice, cheapest first:
//
//   - invalid: evidence of exactly a BLS key and signature (else Reject),
//     epoch window (Ignore), then checkInvalidEvidence: the committee from
//     the cache, membership and signature (Reject). No chain lookup: the
//     signature is the evidence.
//   - certified: no evidence (else Reject), epoch window (Ignore), then
//     the chain: a cached answer, else a lookup within the node-wide
//     budget (over it: Ignore). Not certified (yet) is Ignore: the chain
//     view may lag the sender's.
func (g *nodeGossip) validateNotice(ctx context.Context, _ peer.ID, nt gossip.Notice) gossip.Verdict {
	switch nt.Kind {
	case gossip.NoticeInvalid:
		if len(nt.Evidence) != codec.BLSPublicKeySize+codec.BLSSignatureSize {
			return gossip.Reject
		}
		if !gossipWindow(nt.Epoch, g.n.Epoch()) {
			return gossip.Ignore
		}
		_, _, _, v := checkInvalidEvidence(ctx, g.n.comms, nt)
		return v
	case gossip.NoticeCertified:
		if len(nt.Evidence) != 0 {
			return gossip.Reject
		}
		if !gossipWindow(nt.Epoch, g.n.Epoch()) {
			return gossip.Ignore
		}
		return g.certified(ctx, nt.BlobID)
	}
	return gossip.Reject
}

// certified answers whether the chain shows blob id certified, from the
// cache or one budgeted lookup.
func (g *nodeGossip) certified(ctx context.Context, id codec.BlobID) gossip.Verdict {
	now := time.Now()
	g.mu.Lock()
	st, ok := g.status[id]
	g.mu.Unlock()
	if ok && now.Before(st.until) {
		if st.certified {
			return gossip.Accept
		}
		return gossip.Ignore
	}
	if !g.lookups.AllowN(now, 1) {
		g.stats.lookupsRefused.Add(1)
		return gossip.Ignore
	}
	g.stats.lookups.Add(1)
	bs, err := g.n.chain.BlobStatus(ctx, id)
	if err != nil {
		g.stats.lookupErr.Add(1)
	}
	st = noticeStatus{certified: err == nil && bs.Certified(), until: now.Add(missTTL)}
	if st.certified {
		st.until = now.Add(certifiedTTL)
	}
	g.mu.Lock()
	if len(g.status) >= maxNoticeStatus {
		for k, s := range g.status {
			if now.After(s.until) || len(g.status) >= maxNoticeStatus {
				delete(g.status, k)
			}
		}
	}
	g.status[id] = st
	g.mu.Unlock()
	if st.certified {
		return gossip.Accept
	}
	return gossip.Ignore
}

// handleNotice acts on an accepted notice. A certified notice is counted
// only: the chain event queues the blob's recovery. An invalid-blob notice
// is one member's verified signature; the node collects them per blob and
// epoch, and once their weight reaches what the chain demands of an
// invalidation certificate (bls.OneCorrect, 3w ≥ n+1, so at least one
// correct member found an inconsistency proof) it drops the blob as the
// chain's InvalidBlobID event would (store.MarkInvalid: data deleted,
// later slivers refused) and, if its own signature is among them, submits
// the aggregate to the chain. Below that weight it only logs and counts: a
// single (possibly Byzantine) member cannot make the swarm drop a blob.
func (g *nodeGossip) handleNotice(ctx context.Context, nt gossip.Notice) {
	if nt.Kind == gossip.NoticeCertified {
		g.stats.certified.Add(1)
		g.log.Debug("gossiped certified notice", "blob", nt.BlobID, "epoch", nt.Epoch)
		return
	}
	n := g.n
	v, err := n.comms.lookup(ctx, nt.Epoch)
	if err != nil || len(nt.Evidence) != codec.BLSPublicKeySize+codec.BLSSignatureSize {
		return
	}
	var pk bls.PublicKey
	copy(pk[:], nt.Evidence)
	member, ok := v.byKey[pk]
	if !ok {
		return
	}
	var sig bls.Signature
	copy(sig[:], nt.Evidence[codec.BLSPublicKeySize:])
	st, err := n.store.State(ctx, nt.BlobID)
	if err != nil || st.Invalid {
		if errors.Is(err, store.ErrNotFound) {
			g.stats.unheld.Add(1)
		}
		return
	}
	key := invalidKey{nt.BlobID, nt.Epoch}
	cur := n.Epoch()
	g.mu.Lock()
	vs := g.votes[key]
	if vs == nil {
		for k := range g.votes {
			if !gossipWindow(k.epoch, cur) {
				delete(g.votes, k)
			}
		}
		if len(g.votes) >= maxInvalidVotes {
			g.mu.Unlock()
			g.log.Warn("too many blobs reported invalid at once; notice not counted", "blob", nt.BlobID)
			return
		}
		vs = &invalidVotes{sigs: map[int]bls.Signature{}}
		g.votes[key] = vs
	}
	if vs.done || vs.sigs[member] != (bls.Signature{}) {
		g.mu.Unlock()
		return
	}
	vs.sigs[member] = sig
	vs.weight += v.Members[member].Weight
	weight := vs.weight
	reached := bls.OneCorrect.Reached(weight, v.NShards)
	var signers []uint16
	var sigs []bls.Signature
	if reached {
		vs.done = true
		for i, s := range vs.sigs {
			signers = append(signers, uint16(i))
			sigs = append(sigs, s)
		}
	}
	g.mu.Unlock()
	g.stats.invalidVotes.Add(1)
	n.log.Warn("committee member reports the blob inconsistently encoded", "blob", nt.BlobID, "epoch", nt.Epoch,
		"member", v.Members[member].NodeID, "weight", weight, "of", v.NShards, "acting_at", bls.OneCorrect)
	if !reached {
		return
	}
	if err := n.store.MarkInvalid(ctx, nt.BlobID); err != nil && !errors.Is(err, store.ErrNotFound) {
		n.log.Error("dropping a blob reported invalid", "blob", nt.BlobID, "err", err)
		g.mu.Lock()
		vs.done = false // the next notice tries again
		g.mu.Unlock()
		return
	}
	n.forget(nt.BlobID)
	g.stats.invalidated.Add(1)
	n.log.Error("blob dropped: members of sufficient weight report it inconsistently encoded", "blob", nt.BlobID,
		"epoch", nt.Epoch, "weight", weight, "signers", len(signers))
	if !slices.Contains(signers, uint16(v.Index(n.id))) {
		return
	}
	agg, err := bls.Aggregate(sigs)
	if err != nil {
		return
	}
	slices.Sort(signers)
	bitmap, err := bls.SignersToBitmap(len(v.Members), signers)
	if err != nil {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := n.chain.InvalidateBlobID(cctx, certificate(agg, bitmap, codec.InvalidBlobIDMessage(nt.Epoch, nt.BlobID))); err != nil {
		n.log.Warn("invalidating blob on chain", "blob", nt.BlobID, "err", err)
		return
	}
	g.stats.invalidSubmits.Add(1)
}

// GossipStats are a node's gossip counters since it started.
type GossipStats struct {
	// Validation counters of both topics (what reached the validators).
	gossip.Stats
	// AttestationsSeen: accepted attestations delivered (own included).
	AttestationsSeen int64 `json:"attestations_seen"`
	// AttestationsPublished: own attestations gossiped; Held: waiting for
	// a peer on the topic; Dropped: given up (no peer within 30 s, or the
	// outbox full).
	AttestationsPublished int64 `json:"attestations_published"`
	AttestationsHeld      int64 `json:"attestations_held"`
	AttestationsDropped   int64 `json:"attestations_dropped"`
	// CertifiedNotices: accepted certified notices delivered.
	CertifiedNotices int64 `json:"certified_notices"`
	// InvalidVotes: distinct members' verified invalid-blob signatures
	// counted for blobs the node holds; NoticesUnheld: invalid notices for
	// blobs it does not; BlobsInvalidated: blobs dropped on gossiped
	// signatures of OneCorrect weight; InvalidationsSubmitted: of those,
	// certificates the node submitted to the chain.
	InvalidVotes           int64 `json:"invalid_votes"`
	NoticesUnheld          int64 `json:"notices_unheld"`
	BlobsInvalidated       int64 `json:"blobs_invalidated"`
	InvalidationsSubmitted int64 `json:"invalidations_submitted"`
	// NoticeLookups: chain lookups by the certified-notice validator
	// (failed: NoticeLookupErrors); NoticeLookupsRefused: notices ignored
	// because the lookup budget was spent.
	NoticeLookups        int64 `json:"notice_lookups"`
	NoticeLookupErrors   int64 `json:"notice_lookup_errors"`
	NoticeLookupsRefused int64 `json:"notice_lookups_refused"`
}

// GossipStats returns the node's gossip counters.
func (n *Node) GossipStats() GossipStats {
	g := n.gsp
	if g == nil || n.gossip == nil {
		return GossipStats{}
	}
	return GossipStats{
		Stats:            n.gossip.Stats(),
		AttestationsSeen: g.stats.attestations.Load(), AttestationsPublished: g.stats.published.Load(),
		AttestationsHeld: g.stats.held.Load(), AttestationsDropped: g.stats.dropped.Load(),
		CertifiedNotices: g.stats.certified.Load(), InvalidVotes: g.stats.invalidVotes.Load(),
		NoticesUnheld: g.stats.unheld.Load(), BlobsInvalidated: g.stats.invalidated.Load(),
		InvalidationsSubmitted: g.stats.invalidSubmits.Load(),
		NoticeLookups:          g.stats.lookups.Load(), NoticeLookupErrors: g.stats.lookupErr.Load(),
		NoticeLookupsRefused: g.stats.lookupsRefused.Load(),
	}
}

// GossipPeerScore is p's gossip score as the node sees it.
func (n *Node) GossipPeerScore(p peer.ID) (gossip.PeerScore, bool) {
	if n.gossip == nil {
		return gossip.PeerScore{}, false
	}
	return n.gossip.PeerScore(p)
}
