package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"floe/chainlink"
	"floe/codec"
	"floe/p2p"
	"floe/store"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRecoveryProvesInconsistentEncoding: a writer commits to secondary
// slivers that are not the encoding of its primary ones, so every sliver
// matches the metadata and each node takes its own. A node that missed its
// slivers rebuilds them from the others' recovery symbols, finds the
// rebuilt sliver is not the one the metadata commits to, and reports the
// blob with a signed invalid-blob notice, which the other nodes verify and
// count, instead of storing the sliver.
func TestRecoveryProvesInconsistentEncoding(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const shards = 20
	d := startDevnet(t, 4, shards)
	c := newTestClient(t, d)
	nodes := d.Nodes()
	for _, n := range nodes {
		waitFor(t, 15*time.Second, "gossip peers", func() bool {
			return len(n.gossip.NoticePeers()) >= len(nodes)-1
		})
	}
	time.Sleep(1500 * time.Millisecond) // heartbeats: meshes form

	p, err := codec.NewParams(shards)
	if err != nil {
		t.Fatal(err)
	}
	data := randomBlob(77, 30_000)
	eb, err := codec.Encode(p, data)
	if err != nil {
		t.Fatal(err)
	}
	// Every symbol of every secondary sliver is changed and committed to:
	// whatever sources a recovery picks, its symbols decode to a sliver
	// the metadata does not name.
	for i := range eb.Pairs {
		sec := eb.Pairs[i].Secondary
		sec.Data = bytes.Clone(sec.Data)
		for j := 0; j < len(sec.Data); j += sec.SymbolSize {
			sec.Data[j] ^= 0x5a
		}
		src, err := codec.NewSymbolSource(p, sec)
		if err != nil {
			t.Fatal(err)
		}
		eb.Pairs[i].Secondary = sec
		eb.Metadata.Hashes[i].Secondary = src.Root()
	}
	eb.BlobID = eb.Metadata.BlobID()

	victim := nodes[0]
	refuse := func(context.Context) error { return errors.New("refusing slivers (test)") }
	victim.putHook.Store(&refuse)
	res, err := c.store(ctx, uint64(len(data)), StoreOptions{}, func(context.Context, codec.Params) (encoding, func(), error) {
		return memEncoding{eb}, func() {}, nil
	})
	victim.putHook.Store(nil)
	if err != nil {
		t.Fatalf("storing the inconsistent encoding: %v", err)
	}
	if res.BlobID != eb.BlobID || len(res.Failed) != 1 {
		t.Fatalf("stored %s with failures %+v, want %s with the refusing node's only", res.BlobID, res.Failed, eb.BlobID)
	}
	for i, n := range nodes[1:] {
		waitFor(t, 30*time.Second, fmt.Sprintf("node %d to count the recovering node's invalid-blob vote", i+1), func() bool {
			return n.GossipStats().InvalidVotes >= 1
		})
	}
	missing, err := victim.Store().MissingSlivers(ctx, res.BlobID)
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) == 0 {
		t.Fatalf("the recovering node stored every sliver of an inconsistent blob (stats %+v)", victim.Stats())
	}
	t.Logf("the recovering node left %d slivers unstored and reported the blob; stats %+v", len(missing), victim.Stats())
}

// A node that was down while a blob was stored rebuilds its slivers from
// recovery symbols after it comes back, fetching O(blob/n) bytes per pair.
func TestRecoveryAfterDowntime(t *testing.T) {
	const shards = 40
	d := startDevnet(t, 4, shards)
	c := newTestClient(t, d)
	ctx := context.Background()
	if err := d.StopNode(3); err != nil {
		t.Fatal(err)
	}
	data := randomBlob(42, 1<<20)
	res, err := c.Store(ctx, data, StoreOptions{Epochs: 3})
	if err != nil {
		t.Fatalf("store with one node down: %v", err)
	}
	if len(res.Failed) != 1 {
		t.Fatalf("failures %+v, want the stopped node only", res.Failed)
	}
	// Without their symbol caches the holders expand a source sliver for
	// every request that names it: the recovery must ask each source once
	// for all the targets, not once per target.
	for i, o := range d.Nodes() {
		if i != 3 {
			o.symbols.resize(0)
		}
	}
	if err := d.StartNode(ctx, 3); err != nil {
		t.Fatal(err)
	}
	n := d.Nodes()[3]
	waitFor(t, 30*time.Second, "recovery", func() bool {
		missing, err := n.Store().MissingSlivers(ctx, res.BlobID)
		return err == nil && len(missing) == 0 && n.Stats().PairsRecovered > 0
	})
	// What it rebuilt is byte-identical to what the encoder made.
	p, _ := codec.NewParams(shards)
	enc, err := codec.Encode(p, data)
	if err != nil {
		t.Fatal(err)
	}
	held := n.Shards()
	for _, s := range held {
		pair := p.PairOfShard(res.BlobID, s)
		for _, typ := range []codec.SliverType{codec.Primary, codec.Secondary} {
			got, err := n.Store().GetSliver(ctx, res.BlobID, pair, typ)
			if err != nil {
				t.Fatalf("pair %d %s: %v", pair, typ, err)
			}
			want := enc.Pairs[pair].Primary
			if typ == codec.Secondary {
				want = enc.Pairs[pair].Secondary
			}
			if !bytes.Equal(got, want.MarshalBCS()) {
				t.Fatalf("recovered %s sliver of pair %d differs from the encoding", typ, pair)
			}
		}
	}
	var served, built int64
	for i, o := range d.Nodes() {
		if i != 3 {
			served += o.Stats().RecoverySymbolsServed
			built += o.Stats().SymbolSourcesBuilt
		}
	}
	t.Logf("the other nodes served %d recovery symbols from %d expanded source slivers", served, built)
	if built == 0 || served < 4*built {
		t.Fatalf("%d source slivers expanded for %d symbols: each should serve every target (%d slivers)", built, served, 2*len(n.Shards()))
	}
	st := n.Stats()
	if st.PairsRecovered != int64(len(held)) || st.SliversRecovered != int64(2*len(held)) {
		t.Fatalf("stats %+v, want %d pairs", st, len(held))
	}
	// Recovering a pair needs n−f + n−2f symbols with their proofs: about
	// (3/n)·|blob| plus the proofs, never the whole blob.
	perPair := st.RecoveryBytes / st.PairsRecovered
	pairSize := int64(len(enc.Pairs[0].Primary.Data) + len(enc.Pairs[0].Secondary.Data))
	t.Logf("recovery fetched %d bytes for %d pairs: %d per pair (a sliver pair is %d bytes, blob/n = %d)",
		st.RecoveryBytes, st.PairsRecovered, perPair, pairSize, len(data)/shards)
	if perPair > 3*pairSize || perPair > int64(len(data))/4 {
		t.Fatalf("recovery fetched %d bytes per pair; a pair is %d bytes", perPair, pairSize)
	}
	// The node now confirms the blob like the others.
	if _, err := n.confirmation(ctx, res.BlobID, codec.BlobPersistence{}); err != nil {
		t.Fatalf("recovered node does not confirm: %v", err)
	}
}

// Two nodes recovering two 64 MiB blobs at n = 1000 at once: with one
// target per request the holders' symbol caches overflowed and they
// expanded 283 808 source slivers for 2860 distinct ones (2 min 28 s);
// each source is now expanded about once. FLOE_LARGE=1 (CI's large step).
func TestConcurrentRecoveriesExpandSourcesOnce(t *testing.T) {
	if os.Getenv("FLOE_LARGE") == "" {
		t.Skip("set FLOE_LARGE=1 to recover two 64 MiB blobs on two nodes at n = 1000")
	}
	d := startDevnet(t, 7, 1000)
	c := newTestClient(t, d)
	ctx := context.Background()
	down := []int{3, 4}
	for _, i := range down {
		if err := d.StopNode(i); err != nil {
			t.Fatal(err)
		}
	}
	var ids []codec.BlobID
	for b := range 2 {
		res, err := c.Store(ctx, randomBlob(uint64(60+b), 64<<20), StoreOptions{Epochs: 3})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.BlobID)
	}
	start := time.Now()
	for _, i := range down {
		if err := d.StartNode(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Minute, "both recoveries", func() bool {
		for _, i := range down {
			for _, id := range ids {
				if missing, err := d.Nodes()[i].Store().MissingSlivers(ctx, id); err != nil || len(missing) > 0 {
					return false
				}
			}
		}
		return true
	})
	var served, built, distinct int64
	for i, o := range d.Nodes() {
		if !slices.Contains(down, i) {
			served += o.Stats().RecoverySymbolsServed
			built += o.Stats().SymbolSourcesBuilt
			distinct += int64(2 * len(ids) * len(o.Shards()))
		}
	}
	t.Logf("recovered in %v: the holders served %d symbols from %d expanded source slivers (%d distinct)",
		time.Since(start).Round(time.Millisecond), served, built, distinct)
	if built > 2*distinct {
		t.Fatalf("%d source slivers expanded, more than twice the %d distinct ones", built, distinct)
	}
}

// Holders of an older version, without the recovery-batch protocol, are
// asked one target at a time and the recovery completes.
func TestRecoveryFromHoldersWithoutBatches(t *testing.T) {
	d := startDevnet(t, 4, 40)
	c := newTestClient(t, d)
	ctx := context.Background()
	if err := d.StopNode(3); err != nil {
		t.Fatal(err)
	}
	res, err := c.Store(ctx, randomBlob(43, 1<<20), StoreOptions{Epochs: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range d.Nodes() {
		if i != 3 {
			o.host.RemoveStreamHandler(p2p.ProtocolID(o.cfg.Network, p2p.NameGetRecoveryBatch))
		}
	}
	if err := d.StartNode(ctx, 3); err != nil {
		t.Fatal(err)
	}
	n := d.Nodes()[3]
	waitFor(t, 30*time.Second, "recovery", func() bool {
		missing, err := n.Store().MissingSlivers(ctx, res.BlobID)
		return err == nil && len(missing) == 0 && n.Stats().SliversRecovered == int64(2*len(n.Shards()))
	})
	if _, err := n.confirmation(ctx, res.BlobID, codec.BlobPersistence{}); err != nil {
		t.Fatalf("recovered node does not confirm: %v", err)
	}
}

// Reads return the right bytes while a node serves corrupted slivers and
// metadata, and the reader names that node and no other.
func TestByzantineNodeIsSkippedAndReported(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := StartDevnet(ctx, DevnetConfig{Nodes: 4, Shards: 20, Dir: t.TempDir(), Byzantine: []int{1}, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c := newTestClient(t, d)
	liar := d.Nodes()[1].ID()
	reported := 0
	// Reads fetch the systematic primary slivers into their rows of the
	// blob: a liar's row is written there, refused, then decoded over.
	liarRows := 0
	for i := range 6 {
		data := randomBlob(uint64(100+i), 50_000+i)
		res, err := c.Store(ctx, data, StoreOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range d.Nodes()[1].Shards() {
			if c.params.SliverIndex(codec.Primary, c.params.PairOfShard(res.BlobID, s)) < c.params.Primary() {
				liarRows++
			}
		}
		got, err := c.Read(ctx, res.BlobID, ReadOptions{})
		if err != nil {
			t.Fatalf("read with a lying node: %v", err)
		}
		if !bytes.Equal(got.Data, data) {
			t.Fatal("read returned wrong bytes")
		}
		for _, l := range got.Liars {
			if l.NodeID != liar {
				t.Fatalf("honest node %s reported as liar: %s", l.NodeID, l.Reason)
			}
			reported++
		}
	}
	if reported == 0 || liarRows == 0 {
		t.Fatalf("the lying node was reported %d times, held %d systematic rows", reported, liarRows)
	}

	// A blob whose slivers a holder sends in several runs (readRunBytes,
	// made small here), two in flight and verified as they come: still the
	// right bytes, and still only the liar named.
	c.readRun = 32 << 10
	data := randomBlob(99, 1<<20)
	res, err := c.Store(ctx, data, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sz, _ := c.params.SliverSize(codec.Primary, uint64(len(data))); sz < c.readRun {
		t.Fatalf("primary slivers of %d bytes fit one run of %d: the case tests nothing", sz, c.readRun)
	}
	got, err := c.Read(ctx, res.BlobID, ReadOptions{})
	if err != nil {
		t.Fatalf("read in runs with a lying node: %v", err)
	}
	if !bytes.Equal(got.Data, data) {
		t.Fatal("read in runs returned wrong bytes")
	}
	// Streamed, in windows of one row read into reused buffers: a liar's
	// row is refused and decoded, the rest written as fetched.
	var streamed bytes.Buffer
	sr, err := c.ReadTo(ctx, res.BlobID, &streamed, ReadOptions{MemoryBudget: 1, SpillDir: t.TempDir()})
	if err != nil {
		t.Fatalf("streamed read with a lying node: %v", err)
	}
	if !bytes.Equal(streamed.Bytes(), data) || len(sr.Liars) == 0 {
		t.Fatalf("streamed read with a lying node: %d bytes, equal %v, liars %d", streamed.Len(), bytes.Equal(streamed.Bytes(), data), len(sr.Liars))
	}
	if len(got.Liars) == 0 {
		t.Fatal("the lying node was not reported by the read in runs")
	}
	for _, l := range got.Liars {
		if l.NodeID != liar {
			t.Fatalf("honest node %s reported as liar: %s", l.NodeID, l.Reason)
		}
	}
}

// Every certified blob reads back after all nodes restart; a blob past its
// end epoch is gone from every node.
func TestRestartAndExpiry(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := DevnetConfig{Nodes: 4, Shards: 20, Dir: dir, Logger: testLogger(t)}
	d, err := StartDevnet(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := newTestClient(t, d)
	long := randomBlob(1, 30_000)
	short := randomBlob(2, 20_000)
	rl, err := c.Store(ctx, long, StoreOptions{Epochs: 5})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := c.Store(ctx, short, StoreOptions{Epochs: 1})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	d, err = StartDevnet(ctx, cfg)
	if err != nil {
		t.Fatalf("restarting the devnet: %v", err)
	}
	defer d.Close()
	c = newTestClient(t, d)
	for _, b := range []struct {
		id   codec.BlobID
		data []byte
	}{{rl.BlobID, long}, {rs.BlobID, short}} {
		got, err := c.Read(ctx, b.id, ReadOptions{})
		if err != nil || !bytes.Equal(got.Data, b.data) {
			t.Fatalf("after restart, read %s: %v", b.id, err)
		}
	}
	if _, err := d.AdvanceEpoch(ctx); err != nil {
		t.Fatal(err)
	}
	for i, n := range d.Nodes() {
		if _, err := n.Store().State(ctx, rs.BlobID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("node %d still knows the expired blob: %v", i, err)
		}
		if _, err := n.Store().GetMetadata(ctx, rs.BlobID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("node %d still holds the expired blob's metadata: %v", i, err)
		}
		if missing, err := n.Store().MissingSlivers(ctx, rl.BlobID); err != nil || len(missing) != 0 {
			t.Fatalf("node %d lost slivers of the live blob: %v %v", i, missing, err)
		}
	}
	if _, err := c.Read(ctx, rs.BlobID, ReadOptions{}); !errors.Is(err, ErrBlobNotFound) {
		t.Fatalf("reading an expired blob: %v, want ErrBlobNotFound", err)
	}
	if got, err := c.Read(ctx, rl.BlobID, ReadOptions{}); err != nil || !bytes.Equal(got.Data, long) {
		t.Fatalf("the live blob after expiry of the other: %v", err)
	}
}

func TestClientErrors(t *testing.T) {
	ctx := context.Background()
	d := startDevnet(t, 4, 20)
	c := newTestClient(t, d)
	if _, err := c.Read(ctx, codec.BlobID{1, 2, 3}, ReadOptions{}); !errors.Is(err, ErrBlobNotFound) {
		t.Fatalf("unknown blob: %v", err)
	}
	if _, err := c.Store(ctx, []byte("x"), StoreOptions{Epochs: 10_000}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("too many epochs: %v", err)
	}
	if _, err := NewClient(ctx, ClientConfig{Network: "devnet", Ledger: "http://127.0.0.1:1", Account: devnetAccount("x")}); !errors.Is(err, ErrChain) {
		t.Fatalf("unreachable ledger: %v", err)
	}

	// A ledger whose epoch has no committee.
	l, err := chainlink.Open(ctx, chainlink.NewMemDatastore(), chainlink.WithShards(20), chainlink.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.AdvanceEpoch(ctx); err != nil && !errors.Is(err, chainlink.ErrNoCommittee) {
		t.Fatal(err)
	}
	empty, err := NewClient(ctx, ClientConfig{Network: "devnet", Ledger: "http://unused", Account: devnetAccount("x")}, WithClientChain(l), WithClientLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Close()
	if _, err := empty.Store(ctx, []byte("x"), StoreOptions{}); !errors.Is(err, ErrNoCommittee) {
		t.Fatalf("store with an empty committee: %v", err)
	}
}

// Full nodes: the client gets ErrNoSpace (not a rate limit), each full node
// warns once for the episode, nothing stored is lost, and once space is
// freed stores work again.
func TestOutOfSpace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log, lines := newRecorder()
	d := startDevnetWith(t, DevnetConfig{Nodes: 4, Shards: 20, SpaceLimit: 3 << 19, Logger: log})
	c := newTestClient(t, d)
	kept := randomBlob(1, 100_000)
	keptRes, err := c.Store(ctx, kept, StoreOptions{Epochs: 5})
	if err != nil {
		t.Fatal(err)
	}
	filler, err := c.Store(ctx, randomBlob(2, 1_000_000), StoreOptions{Epochs: 5, Deletable: true})
	if err != nil {
		t.Fatal(err)
	}
	big := randomBlob(3, 900_000)
	for range 2 {
		_, err := c.Store(ctx, big, StoreOptions{Epochs: 5})
		if !errors.Is(err, ErrNoSpace) {
			t.Fatalf("store into full nodes: %v, want ErrNoSpace", err)
		}
	}
	warned := map[string]int{}
	for _, l := range lines() {
		if strings.HasPrefix(l, "WARN out of storage space") {
			for _, f := range strings.Fields(l) {
				if strings.HasPrefix(f, "node=") {
					warned[f]++
				}
			}
		}
	}
	if len(warned) == 0 {
		t.Fatal("no full node logged a warning")
	}
	for n, k := range warned {
		if k != 1 {
			t.Fatalf("%s warned %d times in one episode", n, k)
		}
	}
	got, err := c.Read(ctx, keptRes.BlobID, ReadOptions{})
	if err != nil || !bytes.Equal(got.Data, kept) {
		t.Fatalf("a blob stored before the nodes filled up: %v", err)
	}
	// Freeing space: the deletable filler goes.
	if _, err := c.Chain().DeleteBlob(ctx, c.cfg.Account, filler.Blob.ObjectID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the filler's space freed", func() bool {
		for _, n := range d.Nodes() {
			if n.Store().Usage().Total > 1<<20 {
				return false
			}
		}
		return true
	})
	res, err := c.Store(ctx, big, StoreOptions{Epochs: 5})
	if err != nil {
		t.Fatalf("store after space was freed: %v", err)
	}
	got, err = c.Read(ctx, res.BlobID, ReadOptions{})
	if err != nil || !bytes.Equal(got.Data, big) {
		t.Fatalf("read after space was freed: %v", err)
	}
	again := 0
	for _, l := range lines() {
		if strings.HasPrefix(l, "INFO storage space available again") {
			again++
		}
	}
	if again == 0 {
		t.Fatal("no node logged that it accepts slivers again")
	}
}
