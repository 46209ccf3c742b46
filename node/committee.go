package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"floe/chainlink"
	"floe/chainlink/bls"
	"floe/codec"
)

// committeeView is a committee with what nodes and clients derive from it:
// the encoding parameters, who holds each shard, how to reach each member
// and the members' parsed BLS keys.
type committeeView struct {
	*chainlink.Committee
	params codec.Params
	owners []int // shard → member index (-1: none)
	// peers[i] is member i's libp2p address info (ID empty if its peer ID
	// does not parse: that member cannot be reached).
	peers []peer.AddrInfo
	byKey map[bls.PublicKey]int
	keys  []*bls.Point
}

func newCommitteeView(c *chainlink.Committee) (*committeeView, error) {
	p, err := codec.NewParams(c.NShards)
	if err != nil {
		return nil, fmt.Errorf("committee of epoch %d: %w", c.Epoch, err)
	}
	v := &committeeView{
		Committee: c, params: p, owners: c.ShardOwners(),
		peers: make([]peer.AddrInfo, len(c.Members)),
		byKey: make(map[bls.PublicKey]int, len(c.Members)),
		keys:  make([]*bls.Point, len(c.Members)),
	}
	for i, m := range c.Members {
		v.byKey[m.PublicKey] = i
		if pt, err := bls.ParsePublicKey(m.PublicKey); err == nil {
			v.keys[i] = pt
		}
		id, err := peer.Decode(m.PeerID)
		if err != nil {
			continue
		}
		v.peers[i].ID = id
		for _, a := range m.Addresses {
			if addr, err := ma.NewMultiaddr(a); err == nil {
				v.peers[i].Addrs = append(v.peers[i].Addrs, addr)
			}
		}
	}
	return v, nil
}

// pairsOf returns the sliver pairs member i holds for blob id, in shard
// order.
func (v *committeeView) pairsOf(i int, id codec.BlobID) []int {
	m := v.Members[i]
	out := make([]int, 0, len(m.Shards))
	for _, s := range m.Shards {
		out = append(out, v.params.PairOfShard(id, int(s)))
	}
	return out
}

// memberOfPeer returns the member index of a peer, or -1.
func (v *committeeView) memberOfPeer(p peer.ID) int {
	for i := range v.peers {
		if v.peers[i].ID == p {
			return i
		}
	}
	return -1
}

// verifySigned checks that member i signed msg.
func (v *committeeView) verifySigned(i int, msg []byte, sig [codec.BLSSignatureSize]byte) error {
	if v.keys[i] == nil {
		return bls.ErrInvalidPublicKey
	}
	return v.keys[i].Verify(msg, bls.Signature(sig))
}

// committees caches committee views by epoch. Membership, keys and shards
// never change once selected, but members update their addresses (a node
// restarted on another port), so a view is refetched once it is older than
// viewTTL; if that fails the old one is used.
type committees struct {
	chain chainlink.Chain
	mu    sync.Mutex
	views map[uint32]*committeeView
	at    map[uint32]time.Time
	// For lookup (gossip validation) only: failed fetches remembered
	// until a deadline, and the fetch under way per epoch, which
	// concurrent lookups wait for instead of asking the chain again.
	missed   map[uint32]committeeMiss
	inflight map[uint32]chan struct{}
}

type committeeMiss struct {
	until time.Time
	err   error
}

// viewTTL bounds how stale the members' addresses in a cached view get.
const viewTTL = 5 * time.Second

// missTTL is how long lookup remembers that an epoch's committee could not
// be fetched (none selected yet, or the chain failed).
const missTTL = 2 * time.Second

func newCommittees(chain chainlink.Chain) *committees {
	return &committees{
		chain: chain, views: map[uint32]*committeeView{}, at: map[uint32]time.Time{},
		missed: map[uint32]committeeMiss{}, inflight: map[uint32]chan struct{}{},
	}
}

// lookup returns the committee of epoch for checking signatures and
// membership (gossip validators): a cached view of any age, since
// membership and keys never change once selected (only addresses do);
// otherwise one fetch, shared by concurrent callers, whose failure is
// remembered for missTTL. So a flood of messages naming an epoch without a
// committee costs one chain call per epoch per missTTL, and messages of a
// cached epoch cost none.
func (c *committees) lookup(ctx context.Context, epoch uint32) (*committeeView, error) {
	for {
		c.mu.Lock()
		if v := c.views[epoch]; v != nil {
			c.mu.Unlock()
			return v, nil
		}
		if m, ok := c.missed[epoch]; ok && time.Now().Before(m.until) {
			c.mu.Unlock()
			return nil, m.err
		}
		if wait, ok := c.inflight[epoch]; ok {
			c.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		done := make(chan struct{})
		c.inflight[epoch] = done
		c.mu.Unlock()
		v, err := c.fetch(ctx, epoch)
		c.mu.Lock()
		delete(c.inflight, epoch)
		if err != nil && ctx.Err() == nil {
			now := time.Now()
			for e, m := range c.missed {
				if now.After(m.until) {
					delete(c.missed, e)
				}
			}
			c.missed[epoch] = committeeMiss{until: now.Add(missTTL), err: err}
		}
		c.mu.Unlock()
		close(done)
		return v, err
	}
}

// get returns the committee of epoch, ErrNoCommittee if it has none.
func (c *committees) get(ctx context.Context, epoch uint32) (*committeeView, error) {
	c.mu.Lock()
	v, at := c.views[epoch], c.at[epoch]
	c.mu.Unlock()
	if v != nil && time.Since(at) < viewTTL {
		return v, nil
	}
	fresh, err := c.fetch(ctx, epoch)
	if err != nil && v != nil {
		return v, nil
	}
	return fresh, err
}

func (c *committees) fetch(ctx context.Context, epoch uint32) (*committeeView, error) {
	cm, err := c.chain.Committee(ctx, epoch)
	if errors.Is(err, chainlink.ErrNotFound) || errors.Is(err, chainlink.ErrNoCommittee) || (err == nil && len(cm.Members) == 0) {
		return nil, fmt.Errorf("%w: epoch %d", ErrNoCommittee, epoch)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: committee of epoch %d: %w", ErrChain, epoch, err)
	}
	v, err := newCommitteeView(cm)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Keep the few recent ones.
	for e := range c.views {
		if e+4 < epoch || e > epoch+4 {
			delete(c.views, e)
			delete(c.at, e)
		}
	}
	c.views[epoch] = v
	c.at[epoch] = time.Now()
	delete(c.missed, epoch)
	return v, nil
}

// current returns the epoch state and its committee.
func (c *committees) current(ctx context.Context) (chainlink.EpochState, *committeeView, error) {
	st, err := c.chain.EpochState(ctx)
	if err != nil {
		return st, nil, fmt.Errorf("%w: %w", ErrChain, err)
	}
	v, err := c.get(ctx, st.Epoch)
	return st, v, err
}
