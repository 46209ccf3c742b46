package node

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"floe/codec"
	"floe/p2p"
)

// holdBack makes n look like a node whose follower has refreshed to the
// committee of the chain's epoch but not yet taken up its shards (planning
// an epoch change costs a chain round trip per gained shard, about 3 s for
// ten shards on 100 ms links): its shard list is emptied. The returned
// function takes them up again.
func holdBack(n *Node) (takeUp func()) {
	n.mu.Lock()
	saved := n.shards
	n.shards = map[int]bool{}
	n.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			n.mu.Lock()
			n.shards = saved
			n.mu.Unlock()
		})
	}
}

// A store that reaches nodes still taking up the epoch's shards succeeds:
// each node waits for its follower instead of refusing the slivers as an
// invalid request ("pair P is on shard S, not held here"), which made the
// first store on 100 ms shaped links fail at every node.
func TestStoreWhileNodesTakeUpShards(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := startDevnet(t, 4, 40)
	c := newTestClient(t, d)

	takeUp := map[*Node]func(){}
	for _, n := range d.Nodes() {
		takeUp[n] = holdBack(n)
	}
	// Each node's follower "finishes" once a put waits for it.
	waited := make(chan *Node, 64)
	hook := func(n *Node) {
		takeUp[n]()
		waited <- n
	}
	for _, n := range d.Nodes() {
		n.takeUpHook.Store(&hook)
	}

	data := randomBlob(16, 100_000)
	res, err := c.Store(ctx, data, StoreOptions{Epochs: 2})
	if err != nil {
		t.Fatalf("store while the nodes take up their shards: %v", err)
	}
	if res.ConfirmedShards < 27 || len(res.Failed) != 0 {
		t.Fatalf("confirmations cover %d shards, failures %v", res.ConfirmedShards, res.Failed)
	}
	if len(waited) == 0 {
		t.Fatal("no put waited for a node to take up its shards")
	}
	got, err := c.Read(ctx, res.BlobID, ReadOptions{})
	if err != nil || !bytes.Equal(got.Data, data) {
		t.Fatalf("read back: %v", err)
	}

	// A node that does not catch up within the put's time answers "retry
	// later" (rate limited), not an invalid request.
	n := d.Nodes()[0]
	holdBack(n) // never taken up again in this part
	n.takeUpHook.Store(nil)
	shards := d.Nodes()[0].currentView().Members[d.Nodes()[0].currentView().Index(n.ID())].Shards
	pair := -1
	for p := range n.params.NShards {
		if n.params.ShardOfPair(res.BlobID, p) == int(shards[0]) {
			pair = p
		}
	}
	if pair < 0 {
		t.Fatal("no pair on the node's first shard")
	}
	pctx, pcancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer pcancel()
	errs, err := (&handler{n: n}).PutSlivers(pctx, "", res.BlobID, []p2p.Sliver{{SliverRef: p2p.SliverRef{Pair: uint16(pair), Type: codec.Primary}, Data: []byte{1}}})
	if err != nil || len(errs) != 1 {
		t.Fatalf("put to a held-back node: %v %v", errs, err)
	}
	if !errors.Is(errs[0], p2p.ErrRateLimited) || errors.Is(errs[0], p2p.ErrInvalidRequest) {
		t.Fatalf("put to a node still taking up its shards: %v, want a rate-limited (retry later) answer", errs[0])
	}
}

// A node whose follower has not yet seen the chain's current epoch at all
// (it still has the previous epoch and no view of the new committee)
// checks the chain: the current committee assigns it the shard, so the put
// waits for the follower rather than refusing.
func TestPutBeforeFollowerReachesEpoch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := startDevnet(t, 4, 40)
	c := newTestClient(t, d)
	data := randomBlob(17, 50_000)
	res, err := c.Store(ctx, data, StoreOptions{Epochs: 2})
	if err != nil {
		t.Fatal(err)
	}
	n := d.Nodes()[1]
	n.mu.Lock()
	epoch, view, shards := n.epoch, n.view, n.shards
	n.epoch, n.view, n.shards = epoch-1, nil, map[int]bool{}
	n.mu.Unlock()
	hook := func(m *Node) {
		if m != n {
			return
		}
		m.mu.Lock()
		m.epoch, m.view, m.shards = epoch, view, shards
		m.mu.Unlock()
	}
	n.takeUpHook.Store(&hook)

	own := view.Members[view.Index(n.ID())].Shards
	var items []p2p.Sliver
	for p := range n.params.NShards {
		if n.params.ShardOfPair(res.BlobID, p) == int(own[0]) {
			items = append(items, p2p.Sliver{SliverRef: p2p.SliverRef{Pair: uint16(p), Type: codec.Primary}, Data: []byte{1}})
		}
	}
	errs, err := (&handler{n: n}).PutSlivers(ctx, "", res.BlobID, items)
	if err != nil || len(errs) != 1 {
		t.Fatalf("put: %v %v", errs, err)
	}
	// The shard check passed (the follower caught up); the junk sliver
	// then fails to parse, as it should.
	if errors.Is(errs[0], p2p.ErrRateLimited) || errors.Is(errs[0], p2p.ErrFailedVerification) ||
		!errors.Is(errs[0], p2p.ErrInvalidRequest) || bytes.Contains([]byte(errs[0].Error()), []byte("not held here")) {
		t.Fatalf("put to a node one epoch behind: %v, want past the shard check", errs[0])
	}
}
