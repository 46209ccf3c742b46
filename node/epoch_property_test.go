package node

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"floe/chainlink"
	"floe/codec"
)

// reportWatcher follows the chain's ShardsReceived events and audits the
// reporting member at once, against the committee of the reported epoch,
// for the blobs certified before that epoch: a member that reports its
// sync done before it holds its shards is caught in the act.
type reportWatcher struct {
	mu         sync.Mutex
	violations []string
	handled    map[uint32]int // epoch → reports audited
}

func watchReports(ctx context.Context, t *testing.T, d *Devnet, c *Client, blobs func() []storedBlob) *reportWatcher {
	w := &reportWatcher{handled: map[uint32]int{}}
	stream, err := d.Ledger.Events(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { stream.Close(); <-done })
	go func() {
		defer close(done)
		for {
			ev, err := stream.Next(ctx)
			if err != nil {
				return
			}
			if ev.Type != chainlink.EventShardsReceived || ev.Epoch < 2 {
				continue
			}
			var ids []codec.BlobID
			for _, b := range blobs() {
				if b.cert < ev.Epoch && b.end > ev.Epoch {
					ids = append(ids, b.id)
				}
			}
			rep, err := c.Audit(ctx, ev.NodeID, ev.Epoch, ids)
			w.mu.Lock()
			if err != nil && ctx.Err() == nil {
				w.violations = append(w.violations, fmt.Sprintf("epoch %d: auditing %s after its report: %v", ev.Epoch, ev.NodeID, err))
			} else if err == nil && !rep.OK() {
				w.violations = append(w.violations, fmt.Sprintf("epoch %d: %s reported its sync done holding %d of %d slivers (first %+v)",
					ev.Epoch, ev.NodeID, rep.Served, rep.Checked, firstFaults(rep)))
			}
			w.handled[ev.Epoch]++
			w.mu.Unlock()
		}
	}()
	return w
}

// wait waits until n reports of epoch were audited and returns the
// violations so far.
func (w *reportWatcher) wait(ctx context.Context, epoch uint32, n int) ([]string, error) {
	for {
		w.mu.Lock()
		h, v := w.handled[epoch], slices.Clone(w.violations)
		w.mu.Unlock()
		if h >= n {
			return v, nil
		}
		select {
		case <-ctx.Done():
			return v, fmt.Errorf("%d of %d reports of epoch %d audited: %w", h, n, epoch, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// continuousReads reads random live blobs in a loop until stopped and
// records every failure: reads must succeed at every moment of a change.
func continuousReads(ctx context.Context, c *Client, blobs func() []storedBlob, epoch func() uint32) (stop func() (reads int, failures []string)) {
	ctx, cancel := context.WithCancel(ctx)
	var (
		mu       sync.Mutex
		reads    int
		failures []string
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r := rand.New(rand.NewPCG(1, 2))
		for ctx.Err() == nil {
			var live []storedBlob
			e := epoch()
			for _, b := range blobs() {
				if b.end > e+1 { // not about to expire under the read
					live = append(live, b)
				}
			}
			if len(live) == 0 {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			b := live[r.IntN(len(live))]
			got, err := c.Read(ctx, b.id, ReadOptions{})
			if ctx.Err() != nil {
				return
			}
			mu.Lock()
			reads++
			if err != nil {
				failures = append(failures, fmt.Sprintf("epoch %d: %s: %v", e, b.id, err))
			} else if !bytes.Equal(got.Data, b.data) {
				failures = append(failures, fmt.Sprintf("epoch %d: %s read back different bytes", e, b.id))
			}
			mu.Unlock()
		}
	}()
	return func() (int, []string) {
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return reads, failures
	}
}

// Seeded random schedules of epoch changes — joins, permanent leaves after
// unstaking, stake moves, restarts in the middle of a sync, stores during
// changes — with the invariants checked after every epoch. The seed is in
// the log; FLOE_EPOCH_SEED replays one, FLOE_EPOCHS sets the length.
func TestEpochChangeProperty(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("FLOE_EPOCH_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		seed = v
	}
	epochs := 20
	if s := os.Getenv("FLOE_EPOCHS"); s != "" {
		epochs, _ = strconv.Atoi(s)
	}
	t.Logf("seed %d (replay: FLOE_EPOCH_SEED=%d go test ./node -run TestEpochChangeProperty)", seed, seed)
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	d := startDevnetWith(t, DevnetConfig{Nodes: 4, Shards: 24, ShardSyncFallback: 2 * time.Second, ShardDropGrace: time.Second})
	c := newTestClient(t, d)

	var (
		mu    sync.Mutex
		blobs []storedBlob
	)
	getBlobs := func() []storedBlob { mu.Lock(); defer mu.Unlock(); return slices.Clone(blobs) }
	addBlobs := func(bs []storedBlob) { mu.Lock(); blobs = append(blobs, bs...); mu.Unlock() }
	curEpoch := func() uint32 { st, _ := d.Ledger.EpochState(ctx); return st.Epoch }
	addBlobs(storeBlobs(t, ctx, c, seed, 4, 40_000, 30))
	watcher := watchReports(ctx, t, d, c, getBlobs)

	// Every kind of change happens within the first epochs; then at random.
	kinds := []string{"join", "leave", "stake", "restart"}
	r.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	left := map[int]uint32{} // node → epoch from which it is out of the committee
	running := func() []int {
		var out []int
		for i, n := range d.Nodes() {
			if n != nil {
				out = append(out, i)
			}
		}
		return out
	}
	staked := func() []int {
		var out []int
		for _, i := range running() {
			if _, ok := left[i]; !ok {
				out = append(out, i)
			}
		}
		return out
	}
	for step := range epochs {
		kind := []string{"join", "leave", "stake", "restart", "store", "none"}[r.IntN(6)]
		if step < len(kinds) {
			kind = kinds[step]
		}
		cur := curEpoch()
		restart := -1
		switch kind {
		case "join":
			if len(staked()) < 7 {
				if _, err := d.AddNode(ctx, uint64(1+r.IntN(3))*DevnetStake); err != nil {
					t.Fatal(err)
				}
			}
		case "leave":
			if s := staked(); len(s) > 4 {
				i := s[r.IntN(len(s))]
				nd, err := d.Ledger.Node(ctx, d.Nodes()[i].ID())
				if err != nil {
					t.Fatal(err)
				}
				for staker, amt := range nd.Stakers {
					id, _ := chainlink.ParseID(staker)
					if _, err := d.Ledger.Unstake(ctx, id, nd.ID, amt); err != nil {
						t.Fatal(err)
					}
				}
				left[i] = cur + 1
			}
		case "stake":
			s := staked()
			i := s[r.IntN(len(s))]
			amt := uint64(1+r.IntN(3)) * DevnetStake
			if _, err := d.Ledger.Faucet(ctx, d.Owner(i), amt); err != nil {
				t.Fatal(err)
			}
			if _, err := d.Ledger.Stake(ctx, d.Owner(i), d.Nodes()[i].ID(), amt); err != nil {
				t.Fatal(err)
			}
		case "restart":
			s := running()
			restart = s[r.IntN(len(s))]
		case "store":
			addBlobs(storeBlobs(t, ctx, c, seed+uint64(100*step), 1, 20_000+r.IntN(60_000), uint32(2+r.IntN(20))))
		}
		stopReads := continuousReads(ctx, c, getBlobs, curEpoch)
		e, err := d.AdvanceEpoch(ctx)
		if err != nil {
			t.Fatalf("seed %d step %d (%s): %v", seed, step, kind, err)
		}
		if restart >= 0 {
			// Down in the middle of its sync, then back.
			if err := d.StopNode(restart); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Duration(r.IntN(300)) * time.Millisecond)
			if err := d.StartNode(ctx, restart); err != nil {
				t.Fatal(err)
			}
		}
		if r.IntN(3) == 0 {
			// A store while the change is in progress.
			addBlobs(storeBlobs(t, ctx, c, seed+uint64(100*step+1), 1, 30_000, uint32(3+r.IntN(10))))
		}
		wctx, wcancel := context.WithTimeout(ctx, 90*time.Second)
		if err := d.SyncDone(wctx); err != nil {
			wcancel()
			t.Fatalf("seed %d step %d (%s), epoch %d: %v", seed, step, kind, e, err)
		}
		wcancel()
		reads, failures := stopReads()
		if len(failures) > 0 {
			t.Fatalf("seed %d step %d (%s), epoch %d: %d of %d reads during the change failed: %v", seed, step, kind, e, len(failures), reads, failures[:min(3, len(failures))])
		}
		cm, err := d.Ledger.Committee(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		members := 0
		for _, n := range d.Nodes() {
			if n != nil && cm.Index(n.ID()) >= 0 {
				members++
			}
		}
		wctx, wcancel = context.WithTimeout(ctx, 30*time.Second)
		violations, err := watcher.wait(wctx, e, members)
		wcancel()
		if len(violations) > 0 || err != nil {
			t.Fatalf("seed %d step %d (%s): %v %v", seed, step, kind, err, violations)
		}
		checkSwarm(t, ctx, d, c, getBlobs())
		// A node out of the committee for a whole change has dropped what
		// it held and may stop for good.
		for i, from := range left {
			n := d.Nodes()[i]
			if n == nil || e < from+1 {
				continue
			}
			wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
			for len(n.mig.snapshot().Retained) > 0 && wctx.Err() == nil {
				time.Sleep(50 * time.Millisecond)
			}
			wcancel()
			if k := len(n.mig.snapshot().Retained); k > 0 {
				t.Fatalf("seed %d: node %d left at epoch %d and still retains %d shards at epoch %d", seed, i, from, k, e)
			}
			if u := n.Store().Usage(); len(n.Shards()) == 0 && sumShards(u.PerShard) != 0 {
				t.Fatalf("seed %d: node %d left and still stores %d sliver bytes", seed, i, sumShards(u.PerShard))
			}
			if err := d.StopNode(i); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("step %d: %s → epoch %d, %d members, %d blobs, %d reads during the change", step, kind, e, members, len(getBlobs()), reads)
	}
}

func sumShards(m map[int]int64) int64 {
	var s int64
	for _, v := range m {
		s += v
	}
	return s
}
