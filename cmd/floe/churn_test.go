package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"floe/chainlink"
	"floe/codec"
	"floe/node"
)

// TestProcessChurn runs a swarm of separate `floe node run` processes and
// `floe ledger serve` through at least 8 epoch changes on 100 shards:
// joins, stake moves, a node SIGKILLed in the middle of its shard sync and
// restarted, a previous owner down during the sync, permanent leaves after
// `floe unstake --all`, and stores during changes. After each change, once
// every live member reported its sync done: every certified blob reads back
// byte-identical, and every live member serves (verified, over the p2p
// protocols) every sliver of every shard it is assigned. Reads run
// throughout the changes and must all succeed; each member's report is
// audited the moment the chain records it.
//
// It takes a few minutes, so `go test ./...` skips it; .ci/run sets
// FLOE_CHURN=1. FLOE_CHURN_REPORT=FILE writes the figures there too.
func TestProcessChurn(t *testing.T) {
	if os.Getenv("FLOE_CHURN") == "" {
		t.Skip("the multi-process churn test runs with FLOE_CHURN=1 (CI sets it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	const shards = 100
	s := newProcSwarmWith(t, 5, shards, []string{"--shard-sync-fallback", "4s", "--shard-drop-grace", "5s"})
	cw := newChurnWatch(ctx, t, s)

	// Ten blobs of 100 KB to 4 MB, stored for 40 epochs.
	sizes := []int{100_000, 250_000, 500_000, 1 << 20, 1_500_000, 2 << 20, 2_500_000, 3 << 20, 3_500_000, 4_000_000}
	for i, size := range sizes {
		f, b := writeRandom(t, s.dir, "blob"+strconv.Itoa(i), size)
		cw.addBlob(s.store(f, "--epochs", "40"), b)
	}

	type round struct {
		name   string
		before func()         // before the advance
		after  func(e uint32) // right after it, while the change runs
		done   func(e uint32) // after the checks
		down   map[int]bool   // members not expected to report
	}
	var killedMidSync, ownerDown, leaver1, leaver2 int
	rounds := []*round{
		{name: "two nodes join", before: func() { s.addNode(1_000_000); s.addNode(1_000_000) }},
		{name: "stake moves", before: func() {
			s.stake(0, 2_000_000)
			s.unstake(1, "--amount", "400000")
		}},
		{name: "a joiner is SIGKILLed mid-sync and restarted", before: func() { killedMidSync = s.addNode(3_000_000) },
			after: func(e uint32) {
				cw.waitSyncing(killedMidSync, e)
				s.nodes[killedMidSync].kill()
				// What the killed process had persisted: the restart must
				// go on from there.
				if st := readMigrationState(t, s.configs[killedMidSync]); st.partial > 0 {
					s.startNode(killedMidSync)
					waitLog(t, s.nodes[killedMidSync].log, regexp.MustCompile(`msg="resuming shard sync"`), 1, time.Minute)
				} else {
					t.Logf("node %d was killed between two shards (%d complete, none part-way)", killedMidSync, st.complete)
					s.startNode(killedMidSync)
				}
			}},
		{name: "a previous owner is down during the sync", before: func() {
			s.addNode(2_000_000)
			ownerDown = 2
			s.nodes[ownerDown].kill()
		}, done: func(e uint32) { cw.checkFellBack(ownerDown, e); s.startNode(ownerDown) }},
		{name: "a node unstakes and leaves", before: func() { leaver1 = 3; s.unstake(leaver1, "--all") },
			done: func(e uint32) { cw.waitDrained(leaver1); s.nodes[leaver1].stop(t); s.nodes[leaver1] = nil }},
		{name: "a store during the change", before: func() { s.addNode(1_500_000) },
			after: func(uint32) {
				f, b := writeRandom(t, s.dir, "during", 1_200_000)
				cw.addBlob(s.store(f, "--epochs", "30"), b)
			}},
		{name: "stake moves again", before: func() { s.stake(4, 3_000_000); s.stake(5, 1_000_000) }},
		{name: "another node leaves", before: func() { leaver2 = 0; s.unstake(leaver2, "--all") },
			done: func(uint32) { cw.waitDrained(leaver2); s.nodes[leaver2].stop(t); s.nodes[leaver2] = nil }},
		{name: "a join after the leaves", before: func() { s.addNode(2_000_000) }},
	}
	rounds[3].down = map[int]bool{}
	for i, r := range rounds {
		if r.before != nil {
			r.before()
		}
		if i == 3 {
			r.down[ownerDown] = true
		}
		stopReads := cw.readContinuously()
		e := s.advance()
		start := time.Now()
		if r.after != nil {
			r.after(e)
		}
		cw.waitReported(e, r.down, 4*time.Minute)
		reportedAfter := time.Since(start)
		reads, failures := stopReads()
		if len(failures) > 0 {
			t.Fatalf("round %d (%s), epoch %d: %d of %d reads during the change failed: %v", i, r.name, e, len(failures), reads, failures[:min(3, len(failures))])
		}
		cw.checkReports(e)
		cw.checkAll(e, r.down)
		cw.recordRound(e, r.name, reportedAfter, reads)
		if r.done != nil {
			r.done(e)
		}
	}
	if killedMidSync == 0 || ownerDown == 0 {
		t.Fatal("the schedule lost a fault")
	}
	cw.report()
}

// newProcSwarmWith is newProcSwarm with extra `floe node init` flags for
// every node, including those added later.
func newProcSwarmWith(t *testing.T, nodes, shards int, initArgs []string) *procSwarm {
	t.Helper()
	s := &procSwarm{t: t, bin: floeBinary(t), dir: t.TempDir(), initArgs: initArgs}
	port := freePort(t)
	s.ledgerURL = "http://127.0.0.1:" + strconv.Itoa(port)
	s.ledger = s.start(filepath.Join(s.dir, "ledger.log"), "ledger", "serve", "--listen", "127.0.0.1:"+strconv.Itoa(port),
		"--dir", filepath.Join(s.dir, "ledger"), "--shards", strconv.Itoa(shards), "--epoch", "1h", "--faucet")
	probe := chainlink.NewClient(s.ledgerURL, nil)
	ctx := context.Background()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := probe.EpochState(ctx); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ledger did not come up:\n%s", tail(s.ledger.log))
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.chain = adminClient(t, s.ledgerURL, filepath.Join(s.dir, "ledger"))
	for range nodes {
		s.addNode(1_000_000)
	}
	if _, err := s.chain.AdvanceEpoch(ctx); err != nil {
		t.Fatal(err)
	}
	s.waitEpoch(1)
	s.client = filepath.Join(s.dir, "client.json")
	if err := node.WriteJSON(s.client, clientConfig(t, s.ledgerURL)); err != nil {
		t.Fatal(err)
	}
	return s
}

var servingRE = regexp.MustCompile(`^node (0x[0-9a-f]{64}) peer (\S+) serving on`)

// addNode initialises and starts a node process with stake and waits until
// it serves; it returns the node's index.
func (s *procSwarm) addNode(stake uint64) int {
	s.t.Helper()
	i := len(s.nodes)
	dir := filepath.Join(s.dir, "node-"+strconv.Itoa(i))
	// The owner key is created in the node's directory.
	args := append([]string{"node", "init", "--dir", dir, "--network", "proctest", "--ledger", s.ledgerURL,
		"--faucet", "--stake", strconv.FormatUint(stake, 10),
		"--listen", "/ip4/127.0.0.1/tcp/" + strconv.Itoa(freePort(s.t))}, s.initArgs...)
	cmd := exec.Command(s.bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		s.t.Fatalf("node init: %v\n%s%s", err, out, stderr.String())
	}
	s.configs = append(s.configs, strings.TrimSpace(string(out)))
	s.nodes = append(s.nodes, nil)
	s.startNode(i)
	line := waitLog(s.t, s.nodes[i].log, regexp.MustCompile(`serving on`), 1, 30*time.Second)[0]
	m := servingRE.FindStringSubmatch(line)
	if m == nil {
		s.t.Fatalf("node %d: cannot parse %q", i, line)
	}
	id, _ := chainlink.ParseID(m[1])
	s.nodeIDs = append(s.nodeIDs, id)
	return i
}

func (s *procSwarm) stake(i int, amount uint64) {
	s.t.Helper()
	a := strconv.FormatUint(amount, 10)
	if _, stderr, err := s.floe("stake", "--node-config", s.configs[i], "--amount", a, "--faucet"); err != nil {
		s.t.Fatalf("floe stake: %v\n%s", err, stderr)
	}
}

func (s *procSwarm) unstake(i int, args ...string) {
	s.t.Helper()
	if _, stderr, err := s.floe(append([]string{"unstake", "--node-config", s.configs[i]}, args...)...); err != nil {
		s.t.Fatalf("floe unstake: %v\n%s", err, stderr)
	}
}

// advance runs `floe ledger advance` and returns the new epoch.
func (s *procSwarm) advance() uint32 {
	s.t.Helper()
	out, stderr, err := s.floe("ledger", "advance", "--ledger", s.ledgerURL, "--ledger-dir", filepath.Join(s.dir, "ledger"))
	if err != nil {
		s.t.Fatalf("ledger advance: %v %s", err, stderr)
	}
	e, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(out), "epoch "))
	if err != nil {
		s.t.Fatalf("ledger advance printed %q", out)
	}
	return uint32(e)
}

// churnWatch holds what the churn test checks and measures: the blobs, the
// chain's epoch-change events (with the time each arrived) and the audits
// of each member's report.
type churnWatch struct {
	t   *testing.T
	ctx context.Context
	s   *procSwarm
	c   *node.Client
	p   codec.Params

	mu         sync.Mutex
	blobs      []churnBlob
	started    map[uint32]time.Time
	done       map[uint32]time.Time
	reports    map[uint32][]chainlink.ID
	audited    map[uint32]int
	violations []string
	rounds     []string
	shardBytes []float64 // synced bytes / the shard's sliver bytes, per migrated shard
	syncBytes  []int64
	recovery   string
}

type churnBlob struct {
	id    codec.BlobID
	text  string
	data  []byte
	cert  uint32
	bytes int64 // a shard's primary + secondary sliver bytes of this blob
}

func newChurnWatch(ctx context.Context, t *testing.T, s *procSwarm) *churnWatch {
	cfg, err := node.LoadClientConfig(s.client)
	if err != nil {
		t.Fatal(err)
	}
	c, err := node.NewClient(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cw := &churnWatch{t: t, ctx: ctx, s: s, c: c, p: c.Params(),
		started: map[uint32]time.Time{}, done: map[uint32]time.Time{}, reports: map[uint32][]chainlink.ID{}, audited: map[uint32]int{}}
	stream, err := s.chain.Events(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	var audits sync.WaitGroup
	t.Cleanup(func() { stream.Close(); <-stopped; audits.Wait() })
	go func() {
		defer close(stopped)
		for {
			ev, err := stream.Next(ctx)
			if err != nil {
				return
			}
			now := time.Now()
			switch ev.Type {
			case chainlink.EventEpochChangeStart:
				cw.mu.Lock()
				cw.started[ev.Epoch] = now
				cw.mu.Unlock()
			case chainlink.EventEpochChangeDone:
				cw.mu.Lock()
				cw.done[ev.Epoch] = now
				cw.mu.Unlock()
			case chainlink.EventShardsReceived:
				// Audited at once, beside the event loop, so the loop's
				// timestamps of the next events are not delayed.
				if ev.Epoch >= 2 {
					audits.Add(1)
					go func() { defer audits.Done(); cw.auditReport(ev) }()
				}
			}
		}
	}()
	return cw
}

// auditReport checks a member the moment its report is on chain.
func (cw *churnWatch) auditReport(ev chainlink.Event) {
	var ids []codec.BlobID
	for _, b := range cw.liveBlobs(ev.Epoch) {
		if b.cert < ev.Epoch {
			ids = append(ids, b.id)
		}
	}
	rep, err := cw.c.Audit(cw.ctx, ev.NodeID, ev.Epoch, ids)
	cw.mu.Lock()
	defer cw.mu.Unlock()
	cw.reports[ev.Epoch] = append(cw.reports[ev.Epoch], ev.NodeID)
	cw.audited[ev.Epoch]++
	switch {
	case err != nil && cw.ctx.Err() == nil:
		cw.violations = append(cw.violations, fmt.Sprintf("epoch %d: auditing %s at its report: %v", ev.Epoch, ev.NodeID, err))
	case err == nil && !rep.OK():
		cw.violations = append(cw.violations, fmt.Sprintf("epoch %d: %s reported done holding %d of %d slivers: %+v",
			ev.Epoch, ev.NodeID, rep.Served, rep.Checked, append(rep.Missing, rep.Invalid...)[:1]))
	}
}

func (cw *churnWatch) addBlob(text string, data []byte) {
	cw.t.Helper()
	id, err := codec.ParseBlobID(text)
	if err != nil {
		cw.t.Fatal(err)
	}
	st, err := cw.s.chain.BlobStatus(cw.ctx, id)
	if err != nil || st.InitialCertifiedEpoch == nil {
		cw.t.Fatalf("blob %s not certified: %v", text, err)
	}
	enc, err := codec.Encode(cw.p, data)
	if err != nil {
		cw.t.Fatal(err)
	}
	b := churnBlob{id: id, text: text, data: data, cert: *st.InitialCertifiedEpoch,
		bytes: int64(len(enc.Pairs[0].Primary.MarshalBCS()) + len(enc.Pairs[0].Secondary.MarshalBCS()))}
	cw.mu.Lock()
	cw.blobs = append(cw.blobs, b)
	cw.mu.Unlock()
}

func (cw *churnWatch) liveBlobs(epoch uint32) []churnBlob {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	return slices.Clone(cw.blobs) // every blob is stored well past the test's epochs
}

// readContinuously reads random blobs until stopped, recording failures.
func (cw *churnWatch) readContinuously() func() (int, []string) {
	ctx, cancel := context.WithCancel(cw.ctx)
	var (
		mu       sync.Mutex
		reads    int
		failures []string
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r := rand.New(rand.NewPCG(7, 8))
		for ctx.Err() == nil {
			bs := cw.liveBlobs(0)
			b := bs[r.IntN(len(bs))]
			got, err := cw.c.Read(ctx, b.id, node.ReadOptions{})
			if ctx.Err() != nil {
				return
			}
			mu.Lock()
			reads++
			if err != nil {
				failures = append(failures, fmt.Sprintf("%s: %v", b.text, err))
			} else if !bytes.Equal(got.Data, b.data) {
				failures = append(failures, b.text+": different bytes")
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

// liveMembers are the running nodes in the committee of epoch e.
func (cw *churnWatch) liveMembers(e uint32, down map[int]bool) []int {
	cm, err := cw.s.chain.Committee(cw.ctx, e)
	if err != nil {
		cw.t.Fatal(err)
	}
	var out []int
	for i, id := range cw.s.nodeIDs {
		if cw.s.nodes[i] != nil && !down[i] && cm.Index(id) >= 0 {
			out = append(out, i)
		}
	}
	return out
}

// waitReported waits until the chain records a report from every live
// member of epoch e.
func (cw *churnWatch) waitReported(e uint32, down map[int]bool, timeout time.Duration) {
	cw.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st, err := cw.s.chain.EpochState(cw.ctx)
		if err != nil {
			cw.t.Fatal(err)
		}
		var missing []string
		for _, i := range cw.liveMembers(e, down) {
			if !slices.Contains(st.SyncDoneNodes, cw.s.nodeIDs[i]) {
				missing = append(missing, "node-"+strconv.Itoa(i))
			}
		}
		if st.Epoch == e && len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			cw.t.Fatalf("epoch %d: after %v, no sync-done report from %v (phase %s, weight %d)", e, timeout, missing, st.Phase, st.SyncDoneWeight)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitSyncing waits until node i has stored some but not all of its
// gained shards' slivers in epoch e.
func (cw *churnWatch) waitSyncing(i int, e uint32) {
	cw.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if st, err := cw.status(i); err == nil && st.ChangeEpoch == e {
			var synced int64
			for _, g := range st.Gained {
				synced += g.Slivers
			}
			if synced > 0 && st.Syncing > 0 {
				return
			}
			if st.Syncing == 0 && len(st.Gained) > 0 {
				cw.t.Fatalf("node %d finished its sync before it could be killed mid-way", i)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	cw.t.Fatalf("node %d never started syncing", i)
}

// waitDrained waits until node i, out of the committee, dropped every shard.
func (cw *churnWatch) waitDrained(i int) {
	cw.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		st, err := cw.status(i)
		if err == nil && len(st.Shards) == 0 && len(st.Retained) == 0 && st.Stats.ShardsDropped > 0 {
			return
		}
		if time.Now().After(deadline) {
			cw.t.Fatalf("node %d did not drop its shards after leaving: %+v %v", i, st, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (cw *churnWatch) status(i int) (node.NodeStatus, error) {
	nd, err := cw.s.chain.Node(cw.ctx, cw.s.nodeIDs[i])
	if err != nil {
		return node.NodeStatus{}, err
	}
	pid, err := peer.Decode(nd.PeerID)
	if err != nil {
		return node.NodeStatus{}, err
	}
	ai := peer.AddrInfo{ID: pid}
	for _, a := range nd.Addresses {
		if m, err := ma.NewMultiaddr(a); err == nil {
			ai.Addrs = append(ai.Addrs, m)
		}
	}
	ctx, cancel := context.WithTimeout(cw.ctx, 10*time.Second)
	defer cancel()
	return cw.c.NodeStatus(ctx, ai)
}

// checkReports waits until every report of epoch e was audited and fails
// on any member that reported done before it held its shards.
func (cw *churnWatch) checkReports(e uint32) {
	cw.t.Helper()
	st, err := cw.s.chain.EpochState(cw.ctx)
	if err != nil {
		cw.t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		cw.mu.Lock()
		n, v := cw.audited[e], slices.Clone(cw.violations)
		cw.mu.Unlock()
		if len(v) > 0 {
			cw.t.Fatalf("reports before the data was there: %v", v)
		}
		if n >= len(st.SyncDoneNodes) {
			return
		}
		if time.Now().After(deadline) {
			cw.t.Fatalf("epoch %d: %d of %d reports audited", e, n, len(st.SyncDoneNodes))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkAll reads every blob back (through the CLI for one of them) and
// audits every live member of epoch e; then it collects the sync figures.
func (cw *churnWatch) checkAll(e uint32, down map[int]bool) {
	cw.t.Helper()
	blobs := cw.liveBlobs(e)
	var ids []codec.BlobID
	for _, b := range blobs {
		got, err := cw.c.Read(cw.ctx, b.id, node.ReadOptions{})
		if err != nil || !bytes.Equal(got.Data, b.data) {
			cw.t.Fatalf("epoch %d: reading %s: %v", e, b.text, err)
		}
		ids = append(ids, b.id)
	}
	cw.s.read(blobs[int(e)%len(blobs)].text, blobs[int(e)%len(blobs)].data)
	for _, i := range cw.liveMembers(e, down) {
		rep, err := cw.c.Audit(cw.ctx, cw.s.nodeIDs[i], e, ids)
		if err != nil || !rep.OK() {
			cw.t.Fatalf("epoch %d: node-%d serves %d of %d slivers of its shards: %v %+v", e, i, rep.Served, rep.Checked, err, rep.Missing)
		}
		st, err := cw.status(i)
		if err != nil {
			cw.t.Fatal(err)
		}
		var shardBytes int64
		for _, b := range blobs {
			if b.cert < e {
				shardBytes += b.bytes
			}
		}
		for _, g := range st.Gained {
			if st.ChangeEpoch == e && g.Complete && !g.SourceFailed && !g.Source.IsZero() && g.Recovered == 0 && shardBytes > 0 {
				cw.mu.Lock()
				cw.shardBytes = append(cw.shardBytes, float64(g.Bytes+g.MetadataBytes)/float64(shardBytes))
				cw.syncBytes = append(cw.syncBytes, g.Bytes)
				cw.mu.Unlock()
			}
		}
	}
}

// checkFellBack asserts that shards whose previous owner i was down were
// filled by recovery after the fallback wait.
func (cw *churnWatch) checkFellBack(i int, e uint32) {
	cw.t.Helper()
	fell := 0
	for _, j := range cw.liveMembers(e, map[int]bool{i: true}) {
		st, err := cw.status(j)
		if err != nil {
			cw.t.Fatal(err)
		}
		for _, g := range st.Gained {
			if st.ChangeEpoch == e && g.Source == cw.s.nodeIDs[i] {
				// Recovery rebuilds whole blobs' missing slivers, so another
				// shard's gap check may have sent them: count the node's.
				if !g.SourceFailed || !g.Complete || st.Stats.SliversRecovered == 0 {
					cw.t.Fatalf("epoch %d: shard %d of node-%d, whose previous owner was down: %+v, %d slivers recovered", e, g.Shard, j, g, st.Stats.SliversRecovered)
				}
				fell++
			}
		}
	}
	if fell == 0 {
		cw.t.Fatalf("epoch %d: node-%d was down but lost no shard; the fault did not happen", e, i)
	}
	// What recovering cost, per sliver pair, next to the pair's own bytes.
	var recBytes, recPairs, pairBytes int64
	for _, j := range cw.liveMembers(e, map[int]bool{i: true}) {
		if st, err := cw.status(j); err == nil {
			recBytes += st.Stats.RecoveryBytes
			recPairs += st.Stats.PairsRecovered
		}
	}
	blobs := cw.liveBlobs(e)
	for _, b := range blobs {
		pairBytes += b.bytes
	}
	if recPairs > 0 {
		cw.mu.Lock()
		cw.recovery = fmt.Sprintf("recovery instead of sync (previous owner down): %d bytes fetched per sliver pair rebuilt, %.1f× the %d bytes of an average pair",
			recBytes/recPairs, float64(recBytes/recPairs)/float64(pairBytes/int64(len(blobs))), pairBytes/int64(len(blobs)))
		cw.mu.Unlock()
	}
	cw.t.Logf("epoch %d: %d shards of the downed previous owner were recovered by their new owners", e, fell)
}

// migrationCounts summarises a node's persisted epoch-change state.
type migrationCounts struct{ partial, complete int }

func readMigrationState(t *testing.T, cfgPath string) migrationCounts {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(filepath.Dir(cfgPath), "epoch-change.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Gained map[string]struct {
			Slivers  int64 `json:"slivers"`
			Complete bool  `json:"complete"`
		} `json:"gained"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	var c migrationCounts
	for _, g := range st.Gained {
		switch {
		case g.Complete:
			c.complete++
		case g.Slivers > 0:
			c.partial++
		}
	}
	return c
}

func (cw *churnWatch) recordRound(e uint32, name string, reported time.Duration, reads int) {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	doneIn := "not reached"
	if d, ok := cw.done[e]; ok {
		doneIn = d.Sub(cw.started[e]).Round(time.Millisecond).String()
	}
	line := fmt.Sprintf("epoch %2d  %-46s  start→EpochChangeDone %-10s  all live members reported after %-8s  %3d reads during the change, all good",
		e, name, doneIn, reported.Round(time.Millisecond), reads)
	cw.rounds = append(cw.rounds, line)
	cw.t.Log(line)
}

func (cw *churnWatch) report() {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "churn: %d epoch changes, n=%d, %d blobs\n", len(cw.rounds), cw.p.NShards, len(cw.blobs))
	for _, r := range cw.rounds {
		b.WriteString(r + "\n")
	}
	var durs []time.Duration
	for e, d := range cw.done {
		if s, ok := cw.started[e]; ok && e >= 2 {
			durs = append(durs, d.Sub(s))
		}
	}
	sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
	if len(durs) > 0 {
		fmt.Fprintf(&b, "EpochChangeStart→EpochChangeDone: median %v, max %v over %d changes\n",
			durs[len(durs)/2].Round(time.Millisecond), durs[len(durs)-1].Round(time.Millisecond), len(durs))
	}
	if len(cw.shardBytes) > 0 {
		r := slices.Clone(cw.shardBytes)
		slices.Sort(r)
		sb := slices.Clone(cw.syncBytes)
		slices.Sort(sb)
		fmt.Fprintf(&b, "bytes moved per migrated shard (slivers + metadata) / the shard's sliver bytes: median %.3f, max %.3f over %d shards; median sliver bytes synced per shard %d\n",
			r[len(r)/2], r[len(r)-1], len(r), sb[len(sb)/2])
	}
	if cw.recovery != "" {
		b.WriteString(cw.recovery + "\n")
	}
	cw.t.Log(b.String())
	if p := os.Getenv("FLOE_CHURN_REPORT"); p != "" {
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			cw.t.Error(err)
		}
	}
}
