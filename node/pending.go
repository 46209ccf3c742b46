package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	manet "github.com/multiformats/go-multiaddr/net"
	"golang.org/x/time/rate"

	"floe/codec"
	"floe/p2p"
	"floe/store"
)

// The pending buffer holds metadata and slivers pushed before the node has
// seen the blob's registration (a client registers, then pushes at once;
// the chain event may still be on its way). Metadata whose blob ID matches
// its hashes costs nothing to forge, so what may enter the buffer is
// checked first:
//
//   - the chain must know the blob: a push for a blob ID the chain has not
//     registered is refused (not found). Answers are cached (known: a
//     minute; unknown: two seconds, for peers past their lookup rate) and
//     each peer may make a few chain lookups a second.
//   - while the chain cannot be asked, each peer, and each IP address, may
//     buffer at most pendingQuota bytes per pendingWindow.
//   - a full buffer evicts the blobs buffered longest ago to make room;
//     entries whose registration never came go after pendingMaxAge.
const (
	pendingQuota       = 32 << 20
	pendingWindow      = 10 * time.Minute
	pendingMaxAge      = 10 * time.Minute
	pendingPruneEvery  = time.Minute
	pendingKnownTTL    = time.Minute
	pendingUnknownTTL  = 2 * time.Second
	pendingCacheMax    = 8192
	pendingLookupRate  = 20 // chain lookups per second and peer
	pendingLookupBurst = 40
)

type pendingGate struct {
	mu      sync.Mutex
	known   map[codec.BlobID]pendingLookup
	lookups map[peer.ID]*rate.Limiter
	used    map[string]*pendingUse // "peer:<id>" and "ip:<addr>"
}

type pendingLookup struct {
	known bool
	at    time.Time
}

type pendingUse struct {
	bytes int64
	since time.Time
}

func newPendingGate() *pendingGate {
	return &pendingGate{known: map[codec.BlobID]pendingLookup{}, lookups: map[peer.ID]*rate.Limiter{}, used: map[string]*pendingUse{}}
}

// errUnregistered: the chain does not know the blob.
var errUnregistered = errors.New("not registered on chain")

// admitPending decides whether bytes for blob id, which the store has not
// seen registered, may go to the pending buffer.
func (n *Node) admitPending(ctx context.Context, from peer.ID, id codec.BlobID, bytes int) error {
	g := n.pend
	known, err := n.chainKnows(ctx, from, id)
	switch {
	case errors.Is(err, p2p.ErrRateLimited):
		return err
	case err == nil && !known:
		return fmt.Errorf("%w: blob %s is %v", p2p.ErrNotFound, id, errUnregistered)
	case err == nil:
		return nil // a paid registration: its data only waits for the event
	}
	// The chain cannot be asked now: buffer within the quotas.
	keys := []string{"peer:" + from.String()}
	if ip := n.peerIP(from); ip != "" {
		keys = append(keys, "ip:"+ip)
	}
	now := time.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, k := range keys {
		u := g.used[k]
		if u != nil && now.Sub(u.since) < pendingWindow && u.bytes+int64(bytes) > pendingQuota {
			return fmt.Errorf("%w: %s buffered %d bytes for unregistered blobs in the last %v (quota %d)", p2p.ErrRateLimited, k, u.bytes, pendingWindow, pendingQuota)
		}
	}
	for _, k := range keys {
		u := g.used[k]
		if u == nil || now.Sub(u.since) >= pendingWindow {
			u = &pendingUse{since: now}
			g.used[k] = u
		}
		u.bytes += int64(bytes)
	}
	if len(g.used) > pendingCacheMax {
		for k, u := range g.used {
			if now.Sub(u.since) >= pendingWindow {
				delete(g.used, k)
			}
		}
	}
	return nil
}

// chainKnows asks the chain (through the cache, within the peer's lookup
// rate) whether blob id is registered.
func (n *Node) chainKnows(ctx context.Context, from peer.ID, id codec.BlobID) (bool, error) {
	g := n.pend
	now := time.Now()
	g.mu.Lock()
	cachedUnknown := false
	if l, ok := g.known[id]; ok {
		switch {
		case l.known && now.Sub(l.at) < pendingKnownTTL:
			g.mu.Unlock()
			return true, nil
		case !l.known && now.Sub(l.at) < pendingUnknownTTL:
			// A blob unknown a moment ago may have been registered since
			// (a client that pushed too early registers and pushes again):
			// a peer with lookups to spare asks again, the cached answer
			// only stands in for lookups beyond its rate.
			cachedUnknown = true
		}
	}
	lim := g.lookups[from]
	if lim == nil {
		if len(g.lookups) > pendingCacheMax {
			g.lookups = map[peer.ID]*rate.Limiter{}
		}
		lim = rate.NewLimiter(pendingLookupRate, pendingLookupBurst)
		g.lookups[from] = lim
	}
	allowed := lim.Allow()
	g.mu.Unlock()
	if !allowed && cachedUnknown {
		return false, nil
	}
	if !allowed {
		return false, fmt.Errorf("%w: too many pushes of blobs this node does not know yet", p2p.ErrRateLimited)
	}
	st, err := n.chain.BlobStatus(ctx, id)
	if err != nil {
		return false, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.known) >= pendingCacheMax {
		for k, l := range g.known {
			if now.Sub(l.at) > pendingKnownTTL {
				delete(g.known, k)
			}
		}
		if len(g.known) >= pendingCacheMax {
			g.known = map[codec.BlobID]pendingLookup{}
		}
	}
	g.known[id] = pendingLookup{known: st.Exists, at: now}
	return st.Exists, nil
}

// peerIP is the remote IP of a connection to p ("" if none).
func (n *Node) peerIP(p peer.ID) string {
	for _, c := range n.host.Network().ConnsToPeer(p) {
		if ip, err := manet.ToIP(c.RemoteMultiaddr()); err == nil {
			return ip.String()
		}
	}
	return ""
}

// putMaybePending runs put, and when the pending buffer is full evicts the
// entries buffered longest ago and tries once more.
func (n *Node) putMaybePending(ctx context.Context, id codec.BlobID, bytes int, put func() error) error {
	err := put()
	if !errors.Is(err, store.ErrPendingFull) {
		return err
	}
	if dropped, eerr := n.store.EvictPending(ctx, int64(bytes), id); eerr != nil || dropped == 0 {
		return err
	} else {
		n.log.Info("pending buffer full: evicted the oldest entries", "blobs", dropped)
	}
	return put()
}

// prunePendingLoop drops buffered entries whose registration never came.
func (n *Node) prunePendingLoop(ctx context.Context) {
	t := time.NewTicker(pendingPruneEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		dropped, err := n.store.PrunePending(ctx, time.Now().Add(-pendingMaxAge))
		if err != nil {
			if ctx.Err() == nil {
				n.log.Warn("pruning the pending buffer", "err", err)
			}
			continue
		}
		if dropped > 0 {
			n.log.Info("pruned pending entries whose registration never came", "blobs", dropped, "older_than", pendingMaxAge)
		}
	}
}
