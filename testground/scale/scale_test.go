package scale

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/x/simlibp2p"
	"github.com/marcopolo/simnet"

	"golang.org/x/sys/unix"

	"floe/chainlink"
	"floe/chainlink/account"
	"floe/codec"
	"floe/node"
	"floe/p2p/host"
)

// wall is the machine's monotonic clock (inside the bubble time.Now is
// virtual).
func wall() time.Duration {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return time.Duration(ts.Nano())
}

// cpuTime is the process's user and system CPU time so far: on a shared
// machine the figure that says what the test costs.
func cpuTime() time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// swarm is the in-process network.
type swarm struct {
	t    *testing.T
	dir  string
	sim  *simnet.Simnet
	link simnet.NodeBiDiLinkSettings // a storage node's
	// clientLink is the publisher's and reader's: a data centre's.
	clientLink simnet.NodeBiDiLinkSettings
	ledger     *chainlink.Ledger
	nodes      []*node.Node
	cfgs       []node.Config
	next       int // next simnet address
	log        *slog.Logger
}

func (s *swarm) hostConfig(ip net.IP, link simnet.NodeBiDiLinkSettings) (host.Config, string) {
	addr := fmt.Sprintf("/ip4/%s/udp/8000/quic-v1", ip)
	hc := host.LoopbackConfig()
	hc.DisableTCP = true
	hc.ListenAddrs = []string{addr}
	// Small footprint: the limits are ceilings, not allocations, but the
	// per-stream window is preallocated by nothing on QUIC.
	hc.MaxMemory = 256 << 20
	hc.MaxFDs = 64
	hc.ExtraOptions = []libp2p.Option{
		simlibp2p.QUICSimnet(s.sim, link),
		// Identify's address discovery stalls synctest (go-libp2p's note).
		libp2p.DisableIdentifyAddressDiscovery(),
	}
	return hc, addr
}

func (s *swarm) addNode(ctx context.Context, stake uint64) (int, error) {
	i := len(s.nodes)
	dir := filepath.Join(s.dir, "node-"+strconv.Itoa(i))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	owner, _, err := account.LoadOrCreate(filepath.Join(dir, node.OwnerKeyFile))
	if err != nil {
		return 0, err
	}
	ip := simnet.IntToPublicIPv4(s.next)
	s.next++
	_, addr := s.hostConfig(ip, s.link)
	cfg := node.Config{
		Name: "node-" + strconv.Itoa(i), Network: "scale", DataDir: dir, Listen: []string{addr},
		Owner: chainlink.AccountID(owner), Stake: stake, Faucet: true, NoSync: true,
		// The store's footprint: pebble's smallest memtable (it
		// preallocates up to four logs of 1.1 × this).
		StoreMemTable: 1 << 20, RecoveryWorkers: 2,
		ShardSyncFallback: node.Duration(20 * time.Second), ShardDropGrace: node.Duration(time.Minute),
	}
	s.cfgs = append(s.cfgs, cfg)
	s.nodes = append(s.nodes, nil)
	return i, s.start(ctx, i)
}

func (s *swarm) start(ctx context.Context, i int) error {
	cfg := s.cfgs[i]
	ip := net.ParseIP(mustIP(cfg.Listen[0]))
	hc, _ := s.hostConfig(ip, s.link)
	n, err := node.New(ctx, cfg, node.Options{Chain: s.ledger, Logger: s.log, HostConfig: &hc})
	if err != nil {
		return err
	}
	s.nodes[i] = n
	return nil
}

func mustIP(maddr string) string {
	// /ip4/A.B.C.D/udp/8000/quic-v1
	var a, b, c, d int
	if _, err := fmt.Sscanf(maddr, "/ip4/%d.%d.%d.%d/", &a, &b, &c, &d); err != nil {
		panic(err)
	}
	return fmt.Sprintf("%d.%d.%d.%d", a, b, c, d)
}

func (s *swarm) client(ctx context.Context, name string) (*node.Client, error) {
	key, _, err := account.LoadOrCreate(filepath.Join(s.dir, name+".key"))
	if err != nil {
		return nil, err
	}
	cc := node.ClientConfig{Network: "scale", Faucet: true, Timeout: node.Duration(10 * time.Minute)}
	cc.SetKey(key)
	hc, _ := s.hostConfig(simnet.IntToPublicIPv4(s.next), s.clientLink)
	s.next++
	hc.MaxMemory = 1 << 30
	return node.NewClient(ctx, cc, node.WithClientChain(s.ledger), node.WithClientLogger(s.log), node.WithClientHostConfig(hc))
}

// waitFor polls cond (virtual time) until it holds or the deadline.
func waitFor(ctx context.Context, what string, d time.Duration, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		ok, err := cond()
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// holdsAll reports whether node i is in the current committee's epoch and
// holds both slivers of every one of blobs on each of its shards.
func (s *swarm) holdsAll(ctx context.Context, i int, blobs int) (bool, error) {
	st, err := s.nodes[i].Status(ctx)
	if err != nil {
		return false, nil
	}
	want := int64(2 * blobs * len(st.Shards))
	return st.SliversAssigned >= want && st.SliversHeld == st.SliversAssigned, nil
}

func TestScale100Nodes1000Shards(t *testing.T) {
	nodes, shards := 100, 1000
	if testing.Short() {
		nodes, shards = 20, 200
	}
	if v := os.Getenv("FLOE_SCALE_NODES"); v != "" {
		nodes, _ = strconv.Atoi(v)
	}
	dir := t.TempDir()
	wallStart, cpu0 := time.Now(), cpuTime()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	if p := os.Getenv("FLOE_SCALE_DUMP"); p != "" {
		// A goroutine dump after a minute, from outside the bubble (to
		// see what keeps virtual time from advancing).
		go func() {
			time.Sleep(60 * time.Second)
			f, err := os.Create(p)
			if err == nil {
				_ = pprof.Lookup("goroutine").WriteTo(f, 2)
				f.Close()
			}
		}()
	}
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		virtualStart := time.Now()
		w0 := wall()
		logf := func(format string, args ...any) {
			t.Helper()
			t.Logf("[wall %5.1fs, virtual %6.1fs] %s", (wall() - w0).Seconds(), time.Since(virtualStart).Seconds(), fmt.Sprintf(format, args...))
		}
		lvl := slog.LevelError
		if os.Getenv("FLOE_SCALE_DEBUG") != "" {
			lvl = slog.LevelInfo
		}
		s := &swarm{t: t, dir: dir, log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))}
		// A WAN: 25 ms one way, 100 Mbit/s up and down per node.
		s.sim = &simnet.Simnet{LatencyFunc: simnet.StaticLatency(25 * time.Millisecond), Logger: s.log}
		s.link = simnet.NodeBiDiLinkSettings{
			Downlink: simnet.LinkSettings{BitsPerSecond: 100 * simlibp2p.OneMbps},
			Uplink:   simnet.LinkSettings{BitsPerSecond: 100 * simlibp2p.OneMbps},
		}
		// The clients sit in a data centre (1 Gbit/s): with the nodes'
		// 100 Mbit/s for them too, the client's uplink is the bottleneck
		// of a store (n = 1000: 64 KiB of metadata per member), about a
		// sixth of the members are still receiving when the certificate
		// is done and pushGrace (1 s) ends their pushes, and each of them
		// then rebuilds its slivers from recovery symbols — the dominant
		// cost of the test, and not what it is about.
		s.clientLink = simnet.NodeBiDiLinkSettings{
			Downlink: simnet.LinkSettings{BitsPerSecond: 1000 * simlibp2p.OneMbps},
			Uplink:   simnet.LinkSettings{BitsPerSecond: 1000 * simlibp2p.OneMbps},
		}
		s.sim.Start()
		defer s.sim.Close()
		var err error
		s.ledger, err = chainlink.Open(ctx, dssync.MutexWrap(ds.NewMapDatastore()),
			chainlink.WithShards(shards), chainlink.WithFaucet(chainlink.NoFaucetLimits), chainlink.WithLogger(s.log))
		if err != nil {
			t.Fatal(err)
		}
		defer s.ledger.Close()
		defer func() {
			for _, n := range s.nodes {
				if n != nil {
					n.Close()
				}
			}
		}()
		for range nodes {
			if _, err := s.addNode(ctx, 1_000_000); err != nil {
				t.Fatal(err)
			}
		}
		st, err := s.ledger.AdvanceEpoch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := waitFor(ctx, "first committee", 2*time.Minute, func() (bool, error) {
			for _, n := range s.nodes {
				ns, err := n.Status(ctx)
				if err != nil || ns.Epoch < st.Epoch || ns.ChangeEpoch < st.Epoch {
					return false, nil
				}
			}
			return true, nil
		}); err != nil {
			t.Fatal(err)
		}
		logf("%d nodes up, committee of epoch %d (virtual %s)", nodes, st.Epoch, time.Since(virtualStart))

		w, err := s.client(ctx, "writer")
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		r, err := s.client(ctx, "reader")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		var ids []codec.BlobID
		var datas [][]byte
		store := func(size int) {
			t.Helper()
			data := make([]byte, size)
			rng := rand.NewChaCha8([32]byte{byte(len(ids))})
			_, _ = rng.Read(data)
			t0 := time.Now()
			res, err := w.Store(ctx, data, node.StoreOptions{Epochs: 5})
			if err != nil {
				t.Fatalf("store %d bytes: %v", size, err)
			}
			logf("stored %d bytes in %s virtual (%d shards confirmed, %d failed)", size, time.Since(t0), res.ConfirmedShards, len(res.Failed))
			ids, datas = append(ids, res.BlobID), append(datas, data)
		}
		// readAll reads back the blobs from the from-th on.
		readAll := func(when string, from ...int) {
			t.Helper()
			for i, id := range ids {
				if len(from) > 0 && i < from[0] {
					continue
				}
				t0 := time.Now()
				res, err := r.Read(ctx, id, node.ReadOptions{})
				if err != nil {
					t.Fatalf("%s: read %s: %v", when, id, err)
				}
				if !bytes.Equal(res.Data, datas[i]) {
					t.Fatalf("%s: read %s: bytes differ", when, id)
				}
				logf("%s: read %d bytes in %s virtual", when, len(res.Data), time.Since(t0))
			}
		}
		store(256 << 10)
		readAll("after store")

		// Node loss: node 7 is down while a blob is written, then comes
		// back and rebuilds its slivers from recovery symbols.
		const lost = 7
		if err := s.nodes[lost].Close(); err != nil {
			t.Fatal(err)
		}
		s.nodes[lost] = nil
		store(64 << 10)
		t0 := time.Now()
		if err := s.start(ctx, lost); err != nil {
			t.Fatal(err)
		}
		if err := waitFor(ctx, "recovery of the lost node", 5*time.Minute, func() (bool, error) { return s.holdsAll(ctx, lost, len(ids)) }); err != nil {
			t.Fatal(err)
		}
		stats := s.nodes[lost].Stats()
		if stats.SliversRecovered == 0 {
			t.Fatalf("the lost node holds everything but recovered nothing: %+v", stats)
		}
		logf("lost node recovered %d slivers (%d recovery bytes) in %s virtual", stats.SliversRecovered, stats.RecoveryBytes, time.Since(t0))
		readAll("after recovery", len(ids)-1)

		// One epoch change: a new node joins with a large stake, shards
		// move to it, the change completes, every blob stays readable.
		joiner, err := s.addNode(ctx, 5_000_000)
		if err != nil {
			t.Fatal(err)
		}
		t0 = time.Now()
		st, err = s.ledger.AdvanceEpoch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := waitFor(ctx, "epoch change", 5*time.Minute, func() (bool, error) {
			es, err := s.ledger.EpochState(ctx)
			return err == nil && es.Epoch == st.Epoch && es.Phase == chainlink.PhaseChangeDone, err
		}); err != nil {
			t.Fatal(err)
		}
		logf("epoch %d change done in %s virtual", st.Epoch, time.Since(t0))
		c, err := s.ledger.Committee(ctx, st.Epoch)
		if err != nil {
			t.Fatal(err)
		}
		if j := c.Index(s.nodes[joiner].ID()); j < 0 || len(c.Members[j].Shards) == 0 {
			t.Fatalf("the joiner has no shards in epoch %d", st.Epoch)
		}
		if err := waitFor(ctx, "the joiner's shards", 5*time.Minute, func() (bool, error) { return s.holdsAll(ctx, joiner, len(ids)) }); err != nil {
			t.Fatal(err)
		}
		readAll("after the epoch change")
		logf("done")
	})
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	t.Logf("%d nodes, %d shards: wall time %s, CPU time %s, heap in use at the end %d MiB, total allocated %d MiB, peak sys %d MiB",
		nodes, shards, time.Since(wallStart).Round(time.Millisecond), (cpuTime() - cpu0).Round(time.Millisecond),
		ms1.HeapInuse>>20, (ms1.TotalAlloc-ms0.TotalAlloc)>>20, ms1.Sys>>20)
}
