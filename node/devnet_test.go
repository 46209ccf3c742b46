package node

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"testing"
	"time"

	"floe/codec"
	"floe/p2p"
)

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("FLOE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func startDevnet(t testing.TB, nodes, shards int) *Devnet {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := StartDevnet(ctx, DevnetConfig{Nodes: nodes, Shards: shards, Dir: t.TempDir(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("closing devnet: %v", err)
		}
	})
	return d
}

func newTestClient(t testing.TB, d *Devnet) *Client {
	t.Helper()
	c, err := NewClient(context.Background(), d.ClientConfig(), WithClientLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func randomBlob(seed uint64, size int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestDevnetStoreRead(t *testing.T) {
	d := startDevnet(t, 4, 20)
	c := newTestClient(t, d)
	ctx := context.Background()
	for i, size := range []int{0, 1, 1000, 1 << 20} {
		data := randomBlob(uint64(i), size)
		res, err := c.Store(ctx, data, StoreOptions{Epochs: 2})
		if err != nil {
			t.Fatalf("store %d bytes: %v", size, err)
		}
		if res.AlreadyCertified || res.Certificate == nil || res.Blob.CertifiedEpoch == nil {
			t.Fatalf("store %d bytes: not newly certified: %+v", size, res)
		}
		p, _ := codec.NewParams(20)
		if _, want, err := codec.ComputeMetadata(p, data); err != nil || want != res.BlobID {
			t.Fatalf("store %d bytes: blob ID %s, the codec computes %s (%v)", size, res.BlobID, want, err)
		}
		got, err := c.Read(ctx, res.BlobID, ReadOptions{})
		if err != nil {
			t.Fatalf("read %d bytes: %v", size, err)
		}
		if !bytes.Equal(got.Data, data) {
			t.Fatalf("read %d bytes: got %d different bytes", size, len(got.Data))
		}
		if len(got.Liars) != 0 {
			t.Fatalf("honest swarm reported liars: %+v", got.Liars)
		}
		again, err := c.Store(ctx, data, StoreOptions{Epochs: 1})
		if err != nil || !again.AlreadyCertified || again.BlobID != res.BlobID {
			t.Fatalf("storing again: %+v, %v", again, err)
		}
	}
}

// Storing certified bytes again is a no-op only when an object that cannot
// vanish under the caller already covers the period.
func TestAlreadyCertifiedRules(t *testing.T) {
	d := startDevnet(t, 4, 20)
	c := newTestClient(t, d)
	ctx := context.Background()
	data := randomBlob(9, 5000)
	first, err := c.Store(ctx, data, StoreOptions{Deletable: true, Epochs: 3})
	if err != nil || first.AlreadyCertified {
		t.Fatalf("first store: %+v %v", first, err)
	}
	again, err := c.Store(ctx, data, StoreOptions{Deletable: true, Epochs: 2})
	if err != nil || !again.AlreadyCertified || again.Blob.ObjectID != first.Blob.ObjectID {
		t.Fatalf("deletable store of bytes our deletable object holds: %+v %v", again, err)
	}
	// A permanent store is not satisfied by a deletable object.
	perm, err := c.Store(ctx, data, StoreOptions{Epochs: 2})
	if err != nil || perm.AlreadyCertified || perm.Blob.Deletable {
		t.Fatalf("permanent store over a deletable object: %+v %v", perm, err)
	}
	// Longer than any object covers: stored anew.
	longer, err := c.Store(ctx, data, StoreOptions{Epochs: 10})
	if err != nil || longer.AlreadyCertified || longer.EndEpoch < 10 {
		t.Fatalf("longer store: %+v %v", longer, err)
	}
	forced, err := c.Store(ctx, data, StoreOptions{Epochs: 1, Force: true})
	if err != nil || forced.AlreadyCertified {
		t.Fatalf("forced store: %+v %v", forced, err)
	}
}

// storeReadBack stores data and reads it back byte-identical.
func storeReadBack(t *testing.T, c *Client, data []byte) {
	t.Helper()
	ctx := context.Background()
	res, err := c.Store(ctx, data, StoreOptions{})
	if err != nil {
		t.Fatalf("store %d bytes: %v", len(data), err)
	}
	got, err := c.Read(ctx, res.BlobID, ReadOptions{})
	if err != nil || !bytes.Equal(got.Data, data) {
		t.Fatalf("%d bytes read back: %v", len(data), err)
	}
}

// The default devnet (4 nodes, 100 shards) stores blobs past the ~13 MB at
// which a put-slivers batch used to outgrow the per-peer memory the
// resource manager allowed; 64 MB and the largest blob the parameters
// allow run with FLOE_LARGE=1.
func TestDevnetStoreReadLarge(t *testing.T) {
	if raceEnabled {
		t.Skip("sizes, not races: too slow under -race")
	}
	d := startDevnet(t, 4, 100)
	c := newTestClient(t, d)
	storeReadBack(t, c, randomBlob(14, 14_000_000))
	if os.Getenv("FLOE_LARGE") == "" {
		t.Log("set FLOE_LARGE=1 for 64 MB and the maximum blob size")
		return
	}
	storeReadBack(t, c, randomBlob(64, 64_000_000))
	storeReadBack(t, c, randomBlob(99, int(c.Params().MaxBlobSize())))
}

// The 64 MiB and 256 MiB round trips at n = 1000 take a few seconds and
// several GiB; they run when FLOE_LARGE=1 (floe bench e2e does the same
// with timings).
func TestDevnetStoreRead64MiB(t *testing.T) {
	if os.Getenv("FLOE_LARGE") == "" {
		t.Skip("set FLOE_LARGE=1 to store and read 64 MiB and 256 MiB at n = 1000")
	}
	d := startDevnet(t, 7, 1000)
	c := newTestClient(t, d)
	storeReadBack(t, c, randomBlob(64, 64<<20))
	storeReadBack(t, c, randomBlob(256, 256<<20))
}

func TestSplitRefs(t *testing.T) {
	for _, tc := range []struct {
		sizes []int
		max   int
		want  []int // run lengths
	}{
		{[]int{5, 5, 5, 5}, 10, []int{2, 2}},
		{[]int{5, 5, 5}, 10, []int{2, 1}},
		{[]int{20, 1, 1}, 10, []int{1, 2}}, // an oversized sliver travels alone
		{[]int{1}, 10, []int{1}},
	} {
		var refs []p2p.SliverRef
		for i := range tc.sizes {
			refs = append(refs, p2p.SliverRef{Pair: uint16(i)})
		}
		size := func(r p2p.SliverRef) int { return tc.sizes[r.Pair] }
		var got []int
		n := 0
		for _, run := range splitRefs(refs, size, tc.max) {
			got = append(got, len(run))
			n += len(run)
		}
		if !slices.Equal(got, tc.want) || n != len(tc.sizes) {
			t.Errorf("split %v at %d: runs %v, want %v", tc.sizes, tc.max, got, tc.want)
		}
	}
}

// A devnet node restarted after its REST port was taken (loopback ports go
// to other sockets too) moves to a free port and names it in its chain
// record, instead of failing to start.
func TestDevnetRestartMovesATakenRESTPort(t *testing.T) {
	d := startDevnet(t, 4, 10)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	was := d.configs[0].RestListen
	if err := d.StopNode(0); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", was)
	if err != nil {
		t.Fatalf("taking the stopped node's REST port %s: %v", was, err)
	}
	defer ln.Close()
	if err := d.StartNode(ctx, 0); err != nil {
		t.Fatalf("restart with its REST port taken: %v", err)
	}
	n := d.Nodes()[0]
	now := d.configs[0].RestListen
	if now == was || n.RESTURL() != "https://"+now {
		t.Fatalf("REST listener %s (URL %s), was %s", now, n.RESTURL(), was)
	}
	rec, err := d.Ledger.Node(ctx, n.ID())
	if err != nil || rec.NetworkAddress != n.RESTURL() {
		t.Fatalf("chain record names %q, the node serves %s: %v", rec.NetworkAddress, n.RESTURL(), err)
	}
}
