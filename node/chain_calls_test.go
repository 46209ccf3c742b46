package node

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

	"floe/chainlink"
	"floe/codec"
)

// registeringChain answers BlobStatus from a flag the test flips, counting
// the lookups; the gate calls nothing else on the chain.
type registeringChain struct {
	chainlink.Chain
	registered atomic.Bool
	lookups    atomic.Int64
}

func (c *registeringChain) BlobStatus(ctx context.Context, id codec.BlobID) (chainlink.BlobStatus, error) {
	c.lookups.Add(1)
	return chainlink.BlobStatus{BlobID: id, Exists: c.registered.Load()}, nil
}

// A client that pushed before registering, registers and pushes again at
// once is let in: an "unknown" answer is cached only for lookups beyond the
// peer's rate, as CI saw when the second push came within the cache's TTL.
func TestPendingGateRecheckAfterRegistration(t *testing.T) {
	ctx := context.Background()
	chain := &registeringChain{}
	n := &Node{chain: chain, pend: newPendingGate()}
	var id codec.BlobID
	id[0] = 7
	from := peer.ID("client")

	if known, err := n.chainKnows(ctx, from, id); err != nil || known {
		t.Fatalf("before registration: known=%v err=%v", known, err)
	}
	chain.registered.Store(true)
	if known, err := n.chainKnows(ctx, from, id); err != nil || !known {
		t.Fatalf("right after registration: known=%v err=%v, want known", known, err)
	}
	// Known answers come from the cache.
	before := chain.lookups.Load()
	for range 100 {
		if known, err := n.chainKnows(ctx, from, id); err != nil || !known {
			t.Fatalf("cached known: %v %v", known, err)
		}
	}
	if got := chain.lookups.Load() - before; got != 0 {
		t.Fatalf("%d chain lookups for a blob cached as known", got)
	}

	// Past its lookup rate, a peer gets the cached "unknown" rather than a
	// rate-limit error or a chain lookup.
	var other codec.BlobID
	other[0] = 8
	chain.registered.Store(false)
	before = chain.lookups.Load()
	for i := range 3 * pendingLookupBurst {
		known, err := n.chainKnows(ctx, from, other)
		if err != nil || known {
			t.Fatalf("ask %d for an unknown blob: known=%v err=%v", i, known, err)
		}
	}
	if got := chain.lookups.Load() - before; got > pendingLookupBurst+5 {
		t.Fatalf("%d chain lookups from one peer, its burst is %d", got, pendingLookupBurst)
	}
}

// committeeChain has no committee for epoch 0 and counts the asks.
type committeeChain struct {
	chainlink.Chain
	asks atomic.Int64
}

func (c *committeeChain) Committee(ctx context.Context, epoch uint32) (*chainlink.Committee, error) {
	c.asks.Add(1)
	return nil, fmt.Errorf("%w: epoch %d", chainlink.ErrNoCommittee, epoch)
}

// One planning pass asks the chain for an earlier epoch's committee once,
// however many shards it gained: the first epoch's 10 shards on 100 ms
// links cost 10 round trips before (3 s of refusing its own shards).
func TestEarlierViewsAskOncePerPass(t *testing.T) {
	ctx := context.Background()
	chain := &committeeChain{}
	comms := newCommittees(chain)
	earlier := earlierViews{}
	for range 10 {
		if _, err := earlier.get(ctx, comms, 0); !errors.Is(err, ErrNoCommittee) {
			t.Fatalf("epoch 0: %v, want ErrNoCommittee", err)
		}
	}
	if got := chain.asks.Load(); got != 1 {
		t.Fatalf("%d chain asks for epoch 0's committee in one pass, want 1", got)
	}
}
