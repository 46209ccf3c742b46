package host

import (
	"context"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// The committee dialling rule. When every member of a committee dials
// every other at the same moment (a swarm starting, an epoch change), two
// peers dial each other at once; on links with real latency the two TCP
// handshakes then cross, and with port reuse they become one TCP
// simultaneous open that fails its security handshake on both sides
// (go-libp2p issue #2925). Without port reuse (floe's host) each side gets
// a connection of its own: twice the handshakes, and a duplicate the
// connection manager trims later. So the dial is made deterministic: of two
// peers, the one with the lower peer ID (compared as bytes) dials, the
// other waits for it. The waiting side dials only if no connection has
// come after LateDialWait: the lower peer may have started before it
// learned about this one, or may be down.

// LateDialWait is how long the higher of two peers waits for the lower
// one's connection before it dials itself. It is far longer than a
// handshake on any real link (TCP + TLS + yamux: about 4 round trips).
const LateDialWait = 3 * time.Second

// connectParallel bounds the dials ConnectCommittee makes at once.
const connectParallel = 16

// Dials reports whether self dials other under the committee dialling
// rule: the lower peer ID dials.
func Dials(self, other peer.ID) bool { return self < other }

// ConnectCommittee connects to the peers that the dialling rule makes
// this host dial (those with a higher peer ID), up to 16 at once, and
// returns when those dials have ended (failures are not errors: peers may
// be down). It returns the peers left for the other side to dial, for
// ConnectLate. Peers without addresses, and the host itself, are skipped;
// every peer's addresses are added to the peerstore.
func (h *Host) ConnectCommittee(ctx context.Context, peers []peer.AddrInfo) (waiting []peer.AddrInfo) {
	self := h.ID()
	sem := make(chan struct{}, connectParallel)
	var wg sync.WaitGroup
	for _, ai := range peers {
		if ai.ID == "" || ai.ID == self || len(ai.Addrs) == 0 {
			continue
		}
		h.Peerstore().AddAddrs(ai.ID, ai.Addrs, time.Hour)
		if !Dials(self, ai.ID) {
			waiting = append(waiting, ai)
			continue
		}
		if h.Network().Connectedness(ai.ID) == network.Connected {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(ai peer.AddrInfo) {
			defer wg.Done()
			defer func() { <-sem }()
			if err := h.Connect(ctx, ai); err != nil {
				h.log.Debug("committee dial failed", "peer", ai.ID, "err", err)
			}
		}(ai)
	}
	wg.Wait()
	return waiting
}

// ConnectLate waits wait (or until ctx ends), then dials each of peers
// that has not connected to this host by then, up to 16 at once. It
// returns when those dials have ended.
func (h *Host) ConnectLate(ctx context.Context, peers []peer.AddrInfo, wait time.Duration) {
	if len(peers) == 0 {
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return
	case <-t.C:
	}
	sem := make(chan struct{}, connectParallel)
	var wg sync.WaitGroup
	for _, ai := range peers {
		if h.Network().Connectedness(ai.ID) == network.Connected {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(ai peer.AddrInfo) {
			defer wg.Done()
			defer func() { <-sem }()
			if err := h.Connect(ctx, ai); err != nil {
				h.log.Debug("late committee dial failed", "peer", ai.ID, "err", err)
			}
		}(ai)
	}
	wg.Wait()
}
