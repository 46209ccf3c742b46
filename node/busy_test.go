package node

import (
	"bytes"
	"context"
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
	d := startDevnet(t, 4, 20)
	c := newTestClient(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	data := randomBlob(7, 300_000)
	st, err := c.Store(ctx, data, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
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
	var busy *Node
	for _, n := range d.Nodes() {
		if slices.Contains(n.Shards(), c.params.ShardOfPair(st.BlobID, c.params.PairOfSliver(codec.Primary, 0))) {
			busy = n
		}
	}
	if busy == nil {
		t.Fatal("no node holds row 0's shard")
	}
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
