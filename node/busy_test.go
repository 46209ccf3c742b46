package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"floe/codec"
	"floe/p2p"
)

// A holder that answers some get-slivers items "rate-limited" (no memory to
// send them now, as a node does under a burst of large reads) is asked
// again after a pause: a streamed read still copies every row and never
// falls back to decoding, and an in-memory read gets the bytes. Treating
// such an answer as a miss sent streamed reads of large blobs to decoding
// the whole blob, at a fraction of the speed and with more memory.
func TestReadRetriesBusyHolder(t *testing.T) {
	ctx, d, c, st, data := storedSmallBlob(t, 7)
	// The busy node (below) refuses each primary sliver twice before
	// sending it.
	var mu sync.Mutex
	refused := map[uint16]int{}
	hook := func(r p2p.SliverRef) error {
		mu.Lock()
		defer mu.Unlock()
		if r.Type != codec.Primary || refused[r.Pair] >= 2 {
			return nil
		}
		refused[r.Pair]++
		return fmt.Errorf("%w: no memory to send this sliver now (test)", p2p.ErrRateLimited)
	}
	// The holder of systematic row 0's shard: a streamed read asks it.
	busy := holderOfRow0(t, d, c, st.BlobID)
	busy.sendHook.Store(&hook)
	defer busy.sendHook.Store(nil)

	var out bytes.Buffer
	res, err := c.ReadTo(ctx, st.BlobID, &out, ReadOptions{})
	if err != nil {
		t.Fatalf("streamed read from a busy holder: %v", err)
	}
	if !bytes.Equal(out.Bytes(), data) {
		t.Fatal("streamed read returned wrong bytes")
	}
	if _, ok := res.Phases["fetch-for-decode"]; ok {
		t.Fatalf("the streamed read fell back to decoding (phases %v): busy answers were taken for misses", res.Phases)
	}
	mu.Lock()
	n := len(refused)
	mu.Unlock()
	if n == 0 {
		t.Fatal("the busy node was never asked for a primary sliver: the case tests nothing")
	}

	mu.Lock()
	clear(refused)
	mu.Unlock()
	got, err := c.Read(ctx, st.BlobID, ReadOptions{})
	if err != nil || !bytes.Equal(got.Data, data) {
		t.Fatalf("in-memory read from a busy holder: %v", err)
	}
	if len(got.Liars) > 0 {
		t.Fatalf("a busy holder was reported as a liar: %+v", got.Liars)
	}
}

// After the quorum, the pushes to the members still receiving go on for
// longer when the quorum took long (tailGrace: as Walrus's client, a base
// plus half the time to the quorum), so members of a large blob's store
// are not cut off when they are about as fast as the rest. Here every
// member takes 2 s per put-slivers batch and one never answers: the
// client's Close, which waits for the tail, takes the base second plus
// at least another; with a fixed second it took one.
func TestStoreTailLastsWithTheQuorum(t *testing.T) {
	d := startDevnet(t, 4, 10)
	c := newTestClient(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const perBatch = 2 * time.Second
	release := make(chan struct{})
	defer close(release)
	slowHook := func(ctx context.Context) error {
		select {
		case <-release:
			return fmt.Errorf("%w: released (test)", p2p.ErrRateLimited)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	hook := func(ctx context.Context) error {
		select {
		case <-time.After(perBatch):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// The slow member is the one with the fewest shards, so the others
	// weigh a quorum without it.
	nodes := d.Nodes()
	slow := nodes[0]
	for _, n := range nodes {
		if len(n.Shards()) < len(slow.Shards()) {
			slow = n
		}
	}
	for _, n := range nodes {
		if n == slow {
			n.putHook.Store(&slowHook)
		} else {
			n.putHook.Store(&hook)
		}
		defer n.putHook.Store(nil)
	}
	began := time.Now()
	if _, err := c.Store(ctx, randomBlob(8, 50_000), StoreOptions{}); err != nil {
		t.Fatal(err)
	}
	untilQuorum := time.Since(began)
	if untilQuorum < perBatch {
		t.Fatalf("store returned after %v, before any member could confirm", untilQuorum)
	}
	closing := time.Now()
	c.Close()
	tail := time.Since(closing)
	// At least pushGrace plus half the 2 s the quorum took, less slack.
	if want := pushGrace + perBatch/2 - 200*time.Millisecond; tail < want {
		t.Fatalf("the pushes to the slow member stopped %v after the store returned, want at least %v", tail, want)
	}
}

// A node takes each sliver's bytes of its sending budget before it loads
// the sliver and gives them back once it is written: while the budget is
// spent, get-slivers items are answered rate-limited (not loaded, so a
// burst of large reads cannot hold pebble blocks and copies past the
// budget), and a read that meets that waits and gets every row without
// decoding once the budget frees.
func TestSendingBudgetBoundsLoadedSlivers(t *testing.T) {
	ctx, d, c, st, data := storedSmallBlob(t, 9)
	ref := p2p.SliverRef{Pair: uint16(c.params.PairOfSliver(codec.Primary, 0)), Type: codec.Primary}
	holder := holderOfRow0(t, d, c, st.BlobID)
	h := &handler{n: holder}
	get := func() p2p.Result {
		var got []p2p.Result
		if err := h.GetSlivers(ctx, "", st.BlobID, []p2p.SliverRef{ref}, func(r p2p.Result) error {
			got = append(got, r)
			return nil
		}); err != nil || len(got) != 1 {
			t.Fatalf("get-slivers: %v, %d results", err, len(got))
		}
		return got[0]
	}
	if r := get(); r.Err != nil || len(r.Data) == 0 {
		t.Fatalf("with the budget free: %v", r.Err)
	}
	if err := holder.sending.Acquire(ctx, holder.sendingBudget); err != nil {
		t.Fatal(err)
	}
	if r := get(); !errors.Is(r.Err, p2p.ErrRateLimited) || r.Data != nil {
		t.Fatalf("with the budget spent: data %d bytes, err %v; want rate-limited", len(r.Data), r.Err)
	}
	// A streamed read meets the spent budget and gets through once it
	// frees.
	go func() {
		time.Sleep(300 * time.Millisecond)
		holder.sending.Release(holder.sendingBudget)
	}()
	var out bytes.Buffer
	res, err := c.ReadTo(ctx, st.BlobID, &out, ReadOptions{})
	if err != nil || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("read while the holder's budget was spent: %v", err)
	}
	if _, ok := res.Phases["fetch-for-decode"]; ok {
		t.Fatalf("the read fell back to decoding (phases %v)", res.Phases)
	}
	if !holder.sending.TryAcquire(holder.sendingBudget) {
		t.Fatal("the budget was not given back after the sends")
	}
	holder.sending.Release(holder.sendingBudget)
}

// storedSmallBlob stores a 300 kB random blob (from seed) on a 4-node devnet of
// 20 shards.
func storedSmallBlob(t *testing.T, seed uint64) (context.Context, *Devnet, *Client, *StoreResult, []byte) {
	t.Helper()
	d := startDevnet(t, 4, 20)
	c := newTestClient(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	data := randomBlob(seed, 300_000)
	st, err := c.Store(ctx, data, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The store returns at the quorum; the tests ask particular holders,
	// which may still be taking their slivers then.
	if err := c.WaitPushes(ctx); err != nil {
		t.Fatal(err)
	}
	for i, n := range d.Nodes() {
		waitFor(t, 30*time.Second, fmt.Sprintf("node %d to hold its slivers", i), func() bool {
			missing, err := n.Store().MissingSlivers(ctx, st.BlobID)
			return err == nil && len(missing) == 0
		})
	}
	return ctx, d, c, st, data
}

// holderOfRow0 is the node holding the shard of systematic row 0 (primary
// sliver 0) of blob id.
func holderOfRow0(t *testing.T, d *Devnet, c *Client, id codec.BlobID) *Node {
	t.Helper()
	shard := c.params.ShardOfPair(id, c.params.PairOfSliver(codec.Primary, 0))
	for _, n := range d.Nodes() {
		if slices.Contains(n.Shards(), shard) {
			return n
		}
	}
	t.Fatal("no node holds row 0's shard")
	return nil
}
