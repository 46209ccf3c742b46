package node

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"floe/chainlink"
	"floe/chainlink/bls"
	"floe/codec"
	"floe/p2p"
)

// storedBlob is a blob a test stored and must read back.
type storedBlob struct {
	id   codec.BlobID
	data []byte
	end  uint32
	cert uint32 // epoch of certification
}

// checkSwarm asserts the epoch-change invariants: every certified,
// unexpired blob reads back byte-identical, and every running member of
// the current committee serves (verified, over the p2p protocols) every
// sliver of every shard it is assigned for each of them.
func checkSwarm(t *testing.T, ctx context.Context, d *Devnet, c *Client, blobs []storedBlob) {
	t.Helper()
	st, err := d.Ledger.EpochState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var live []codec.BlobID
	for _, b := range blobs {
		if b.end <= st.Epoch {
			continue
		}
		live = append(live, b.id)
		got, err := c.Read(ctx, b.id, ReadOptions{})
		if err != nil {
			t.Fatalf("epoch %d: reading %s: %v", st.Epoch, b.id, err)
		}
		if !bytes.Equal(got.Data, b.data) {
			t.Fatalf("epoch %d: %s read back different bytes", st.Epoch, b.id)
		}
		if len(got.Liars) > 0 {
			t.Fatalf("epoch %d: honest nodes reported as liars: %+v", st.Epoch, got.Liars)
		}
	}
	cm, err := d.Ledger.Committee(ctx, st.Epoch)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range d.Nodes() {
		if n == nil || cm.Index(n.ID()) < 0 {
			continue
		}
		rep, err := c.Audit(ctx, n.ID(), 0, live)
		if err != nil {
			t.Fatalf("epoch %d: auditing %s: %v", st.Epoch, n.cfg.Name, err)
		}
		if !rep.OK() {
			t.Fatalf("epoch %d: %s serves %d of %d assigned slivers (missing %d, invalid %d; first %+v)",
				st.Epoch, n.cfg.Name, rep.Served, rep.Checked, len(rep.Missing), len(rep.Invalid), firstFaults(rep))
		}
	}
}

func firstFaults(r AuditReport) []SliverFault {
	f := append(r.Missing, r.Invalid...)
	return f[:min(3, len(f))]
}

func storeBlobs(t *testing.T, ctx context.Context, c *Client, seed uint64, count, size int, epochs uint32) []storedBlob {
	t.Helper()
	var out []storedBlob
	for i := range count {
		data := randomBlob(seed+uint64(i), size+i*997)
		res, err := c.Store(ctx, data, StoreOptions{Epochs: epochs})
		if err != nil {
			t.Fatalf("storing blob %d: %v", i, err)
		}
		var cert uint32
		if res.Blob.CertifiedEpoch != nil {
			cert = *res.Blob.CertifiedEpoch
		}
		out = append(out, storedBlob{res.BlobID, data, res.EndEpoch, cert})
	}
	return out
}

// advanceAndSync ends the epoch and waits until every running member of the
// new committee has reported its sync done.
func advanceAndSync(t *testing.T, ctx context.Context, d *Devnet) uint32 {
	t.Helper()
	e, err := d.AdvanceEpoch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := d.SyncDone(wctx); err != nil {
		t.Fatal(err)
	}
	return e
}

// Joins and stake moves: the new owners of moved shards pull them from the
// previous owners (sync, not recovery), report done, and everything reads
// back and is held where the committee says.
func TestEpochChangeMigratesShards(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d := startDevnet(t, 4, 40)
	c := newTestClient(t, d)
	blobs := storeBlobs(t, ctx, c, 1, 4, 200_000, 20)
	checkSwarm(t, ctx, d, c, blobs)

	for range 2 {
		if _, err := d.AddNode(ctx, DevnetStake); err != nil {
			t.Fatal(err)
		}
	}
	e := advanceAndSync(t, ctx, d)
	checkSwarm(t, ctx, d, c, blobs)
	for _, i := range []int{4, 5} {
		n := d.Nodes()[i]
		st := n.Stats()
		if len(n.Shards()) == 0 || st.ShardsMigrated != int64(len(n.Shards())) || st.SyncSlivers == 0 {
			t.Fatalf("epoch %d: new node %d holds %d shards, migrated %d, synced %d slivers", e, i, len(n.Shards()), st.ShardsMigrated, st.SyncSlivers)
		}
		if st.RecoveryBytes != 0 {
			t.Fatalf("new node %d fetched %d recovery bytes; the previous owners were up", i, st.RecoveryBytes)
		}
	}

	// A stake move: node 0 gets more shards.
	if _, err := d.Ledger.Faucet(ctx, d.Owner(0), 3*DevnetStake); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Ledger.Stake(ctx, d.Owner(0), d.Nodes()[0].ID(), 3*DevnetStake); err != nil {
		t.Fatal(err)
	}
	before := len(d.Nodes()[0].Shards())
	advanceAndSync(t, ctx, d)
	if after := len(d.Nodes()[0].Shards()); after <= before {
		t.Fatalf("node 0 holds %d shards after its stake grew, %d before", after, before)
	}
	checkSwarm(t, ctx, d, c, blobs)
}

// recordingHandler keeps every log record's message and attributes.
type recordingHandler struct {
	mu    *sync.Mutex
	lines *[]string
	attrs []slog.Attr
}

func newRecorder() (*slog.Logger, func() []string) {
	var mu sync.Mutex
	var lines []string
	h := &recordingHandler{mu: &mu, lines: &lines}
	return slog.New(h), func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), lines...)
	}
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	for _, a := range h.attrs {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	h.mu.Lock()
	*h.lines = append(*h.lines, b.String())
	h.mu.Unlock()
	return nil
}
func (h *recordingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &c
}
func (h *recordingHandler) WithGroup(string) slog.Handler { return h }

func startDevnetWith(t *testing.T, cfg DevnetConfig) *Devnet {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg.Dir = t.TempDir()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	d, err := StartDevnet(ctx, cfg)
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

// While the new owners hold nothing yet, every blob still reads back,
// from the previous owners.
func TestReadsDuringTransition(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d := startDevnet(t, 4, 40)
	c := newTestClient(t, d)
	blobs := storeBlobs(t, ctx, c, 7, 5, 150_000, 20)

	d.HoldShardSyncs()
	var joined []int
	for range 3 {
		i, err := d.AddNode(ctx, 3*DevnetStake)
		if err != nil {
			t.Fatal(err)
		}
		joined = append(joined, i)
	}
	e, err := d.AdvanceEpoch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := d.Ledger.EpochState(ctx)
	if st.Phase != chainlink.PhaseChangeSync {
		t.Fatalf("epoch %d phase %s while the new owners sync", e, st.Phase)
	}
	var live []codec.BlobID
	for _, b := range blobs {
		live = append(live, b.id)
	}
	moved := 0
	for _, i := range joined {
		n := d.Nodes()[i]
		moved += len(n.Shards())
		rep, err := c.Audit(ctx, n.ID(), 0, live)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Checked == 0 || rep.Served != 0 {
			t.Fatalf("new owner %s serves %d of %d slivers before its sync", n.cfg.Name, rep.Served, rep.Checked)
		}
	}
	if moved < 20 {
		t.Fatalf("only %d of 40 shards moved to the new nodes", moved)
	}
	for _, b := range blobs {
		got, err := c.Read(ctx, b.id, ReadOptions{})
		if err != nil {
			t.Fatalf("read during the transition: %v", err)
		}
		if !bytes.Equal(got.Data, b.data) || len(got.Liars) > 0 {
			t.Fatalf("read during the transition: wrong bytes or liars %+v", got.Liars)
		}
	}
	// Writes go to the new committee at once, syncing or not.
	blobs = append(blobs, storeBlobs(t, ctx, c, 70, 1, 90_000, 10)...)
	d.ReleaseShardSyncs()
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	defer wcancel()
	if err := d.SyncDone(wctx); err != nil {
		t.Fatal(err)
	}
	checkSwarm(t, ctx, d, c, blobs)
}

// The sync-shard handler serves only the member the current committee
// assigns the shard, on a request signed with that member's BLS key.
func TestSyncShardRequestsAreAuthenticated(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := startDevnet(t, 4, 20)
	c := newTestClient(t, d)
	storeBlobs(t, ctx, c, 21, 2, 30_000, 10)
	d.HoldShardSyncs() // the newcomer does not sync by itself; the test asks
	i, err := d.AddNode(ctx, DevnetStake)
	if err != nil {
		t.Fatal(err)
	}
	e, err := d.AdvanceEpoch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	newcomer := d.Nodes()[i]
	ms := newcomer.mig.snapshot()
	var shard int
	var source *Node
	for s, g := range ms.Gained {
		for _, n := range d.Nodes()[:i] {
			if n.ID() == g.Source {
				shard, source = s, n
			}
		}
	}
	if source == nil {
		t.Fatal("the newcomer gained no shard from a running node")
	}
	other := d.Nodes()[(slices.Index(d.Nodes(), source)+1)%i]
	ask := func(from *Node, key *bls.SecretKey, r codec.SyncShardRequest) (p2p.SyncBatch, error) {
		req := p2p.NewSyncRequest(from.pk, r, func(m []byte) [codec.BLSSignatureSize]byte { return key.Sign(m) })
		from.host.Peerstore().AddAddrs(source.PeerID(), source.AddrInfo().Addrs, time.Hour)
		return from.client.SyncShard(ctx, source.PeerID(), req)
	}
	good := codec.SyncShardRequest{Shard: uint16(shard), Type: codec.Primary, Count: 16, Epoch: e}
	b, err := ask(newcomer, newcomer.key, good)
	if err != nil || len(b.Items) != 2 || !b.Done {
		t.Fatalf("the shard's new owner: %d items, done %v, %v", len(b.Items), b.Done, err)
	}
	stranger, _ := bls.GenerateKey(crand.Reader)
	for _, tc := range []struct {
		name string
		from *Node
		key  *bls.SecretKey
		r    codec.SyncShardRequest
		want error
	}{
		{"another member asks for the newcomer's shard", other, other.key, good, p2p.ErrInvalidRequest},
		{"signed with a key that is not the requester's", newcomer, stranger, good, p2p.ErrInvalidRequest},
		{"an old epoch", newcomer, newcomer.key, codec.SyncShardRequest{Shard: uint16(shard), Count: 16, Epoch: e - 1}, p2p.ErrInvalidRequest},
		{"a future epoch", newcomer, newcomer.key, codec.SyncShardRequest{Shard: uint16(shard), Count: 16, Epoch: e + 1}, p2p.ErrNotFound},
	} {
		if _, err := ask(tc.from, tc.key, tc.r); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// A member's own shard that the source never held: not found.
	for _, s := range other.Shards() {
		if !source.mig.serves(s) {
			r := codec.SyncShardRequest{Shard: uint16(s), Type: codec.Secondary, Count: 4, Epoch: e}
			if _, err := ask(other, other.key, r); !errors.Is(err, p2p.ErrNotFound) {
				t.Errorf("a shard the source does not hold: %v", err)
			}
			break
		}
	}
	d.ReleaseShardSyncs()
}

// A previous owner that is down: the new owner waits out the fallback and
// rebuilds that owner's shards from recovery symbols.
func TestShardSyncSourceDown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d := startDevnetWith(t, DevnetConfig{Nodes: 4, Shards: 40, ShardSyncFallback: time.Second})
	c := newTestClient(t, d)
	blobs := storeBlobs(t, ctx, c, 11, 3, 120_000, 20)
	i, err := d.AddNode(ctx, DevnetStake)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.StopNode(1); err != nil {
		t.Fatal(err)
	}
	advanceAndSync(t, ctx, d)
	n := d.Nodes()[i]
	st := n.Stats()
	if st.RecoveryBytes == 0 || st.SliversRecovered == 0 || st.SyncSlivers == 0 {
		t.Fatalf("new node: %+v; want slivers synced from the live owners and recovered for the one down", st)
	}
	checkSwarm(t, ctx, d, c, blobs)
}

// A previous owner that serves corrupt slivers: the new owner rejects them,
// names the liar in its log and recovers the shard instead.
func TestShardSyncSourceLies(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	log, lines := newRecorder()
	d := startDevnetWith(t, DevnetConfig{Nodes: 4, Shards: 40, Byzantine: []int{1}, Logger: log})
	c := newTestClient(t, d)
	blobs := storeBlobs(t, ctx, c, 13, 3, 120_000, 20)
	i, err := d.AddNode(ctx, DevnetStake)
	if err != nil {
		t.Fatal(err)
	}
	advanceAndSync(t, ctx, d)
	n := d.Nodes()[i]
	if st := n.Stats(); st.SyncLiars == 0 || st.SliversRecovered == 0 {
		t.Fatalf("new node: %+v; want the liar caught and its shards recovered", st)
	}
	named := false
	for _, l := range lines() {
		if strings.Contains(l, "previous owner served a sliver that fails verification") && strings.Contains(l, "source_name=node-1") &&
			strings.Contains(l, "node="+n.cfg.Name) {
			named = true
		}
	}
	if !named {
		t.Fatal("the lying previous owner is not named in the new owner's log")
	}
	// Audit the honest members only (node 1 serves corrupt data by design).
	st, _ := d.Ledger.EpochState(ctx)
	var live []codec.BlobID
	for _, b := range blobs {
		live = append(live, b.id)
	}
	cm, _ := d.Ledger.Committee(ctx, st.Epoch)
	for j, m := range d.Nodes() {
		if j == 1 || m == nil || cm.Index(m.ID()) < 0 {
			continue
		}
		rep, err := c.Audit(ctx, m.ID(), 0, live)
		if err != nil || !rep.OK() {
			t.Fatalf("%s: %v %+v", m.cfg.Name, err, firstFaults(rep))
		}
	}
	for _, b := range blobs {
		got, err := c.Read(ctx, b.id, ReadOptions{})
		if err != nil || !bytes.Equal(got.Data, b.data) {
			t.Fatalf("read: %v", err)
		}
	}
}

// The persisted epoch-change state is read back from disk: whatever the
// bytes, it decodes into a state whose shard indices are in range, or is
// refused.
func FuzzMigrationState(f *testing.F) {
	f.Add([]byte(`{"version":1,"epoch":3,"planned_unix_ms":1,"gained":{"4":{"source":"0x0000000000000000000000000000000000000000000000000000000000000001","next":["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"],"streamed":[true,false],"slivers":3,"bytes":10,"metadata_bytes":0,"recovered":0}},"retained":{"7":{"lost_at":3}}}`))
	f.Add([]byte(`{"version":1,"gained":{"99":null}}`))
	f.Add([]byte(`{"version":1,"retained":{"-1":{}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := parseMigrationState(b, 20)
		if err != nil {
			return
		}
		for k, g := range st.Gained {
			if k < 0 || k >= 20 || g == nil {
				t.Fatalf("gained %d %v accepted", k, g)
			}
		}
		for k, r := range st.Retained {
			if k < 0 || k >= 20 || r == nil {
				t.Fatalf("retained %d %v accepted", k, r)
			}
		}
		_ = st.clone()
		_ = st.gainedList()
		_ = st.retainedList()
	})
}
