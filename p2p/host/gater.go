package host

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// gater is the host's connection gater: peers cut off for misbehaving
// (Host.Gate) can neither dial nor be dialled until their gating ends.
type gater struct {
	mu    sync.Mutex
	until map[peer.ID]time.Time
	now   func() time.Time
}

func newGater() *gater { return &gater{until: map[peer.ID]time.Time{}, now: time.Now} }

func (g *gater) block(p peer.ID, d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t := g.now().Add(d); t.After(g.until[p]) {
		g.until[p] = t
	}
	// Forget expired entries while here, so the map stays small.
	now := g.now()
	for q, t := range g.until {
		if !t.After(now) {
			delete(g.until, q)
		}
	}
}

func (g *gater) blocked(p peer.ID) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	t, ok := g.until[p]
	if ok && !t.After(g.now()) {
		delete(g.until, p)
		return false
	}
	return ok
}

func (g *gater) InterceptPeerDial(p peer.ID) bool                                { return !g.blocked(p) }
func (g *gater) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool                { return !g.blocked(p) }
func (g *gater) InterceptAccept(network.ConnMultiaddrs) bool                     { return true }
func (g *gater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }
func (g *gater) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return !g.blocked(p)
}

// Gate cuts a peer off for d: its connections are closed and new ones, in
// either direction, refused until then. Committee peers are not gated (a
// member's faults are judged by what it serves, and a member cut off would
// cost the network its shards); Gate reports whether it gated.
func (h *Host) Gate(p peer.ID, d time.Duration, reason string) bool {
	if p == h.ID() || h.IsProtected(p) {
		return false
	}
	h.gater.block(p, d)
	_ = h.Network().ClosePeer(p)
	h.log.Warn("peer cut off for misbehaving", "peer", p, "for", d, "reason", reason)
	return true
}

// Gated reports whether p is cut off now.
func (h *Host) Gated(p peer.ID) bool { return h.gater.blocked(p) }

func (g *gater) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	n := 0
	for _, t := range g.until {
		if t.After(now) {
			n++
		}
	}
	return n
}
