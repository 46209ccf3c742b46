package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"floe/p2p/gossip"
)

// A node's own HTTP listener (Config.MetricsListen, loopback unless
// MetricsAllowRemote) serves:
//
//	GET /metrics   Prometheus text format (the names below, the p2p and host
//	               metrics, Go runtime and process metrics)
//	GET /health    liveness: 200 {"status":"ok"} while the node runs
//	GET /ready     200 when it follows the chain and holds its shards, else
//	               503; JSON {"ready":bool,"reasons":[…]} either way
//	GET /debug/pprof/…  Go's profiler (net/http/pprof), only when the
//	               listener is on loopback: a CPU profile
//	               (/debug/pprof/profile?seconds=10, at most 25) costs the
//	               node CPU and a goroutine dump shows its internals, so
//	               a listener opened to the network does not serve them
//	               (the handlers are mounted on this mux; the import's
//	               own registration on http.DefaultServeMux is served by
//	               no floe listener)
//
// Node metrics (gauges are read at scrape time, counters since start):
//
//	floe_node_epoch                                 epoch the node applied
//	floe_node_shards{state}                         assigned, syncing (gained, incomplete), retained (lost, still served)
//	floe_node_slivers_assigned{shard}               both slivers of every certified, unexpired blob on each assigned shard
//	floe_node_slivers_held{shard}                   how many of those the store holds
//	floe_node_store_bytes, floe_node_store_limit_bytes, floe_node_disk_bytes, floe_node_disk_free_bytes
//	floe_node_pending_bytes, floe_node_pending_entries   data buffered before its registration
//	floe_node_recoveries{state}                     pending, running, failing
//	floe_node_chain_cursor                          last chain event applied
//	floe_node_chain_last_event_seconds              since the follower applied its last event
//	floe_node_chain_epoch_lag                       the chain's epoch minus the node's (-1: chain unreachable)
//	floe_node_confirmations_total                   storage confirmations signed
//	floe_node_slivers_stored_total, floe_node_slivers_rejected_total
//	floe_node_slivers_recovered_total, floe_node_recovery_bytes_total, floe_node_recovery_pairs_total
//	floe_node_recoveries_done_total, floe_node_recovery_failures_total
//	floe_node_sync_slivers_total, floe_node_sync_bytes_total     received by shard sync
//	floe_node_sync_served_slivers_total, floe_node_sync_served_bytes_total
//	floe_node_recovery_symbols_served_total, floe_node_symbol_sources_built_total
//	floe_node_shards_migrated_total, floe_node_sync_liars_total, floe_node_shards_dropped_total
//	floe_node_blobs_expired_total
//	floe_node_gossip_messages_total{topic,verdict}  gossip validations (accept, reject, ignore)

// nodeMetrics holds the node's registry and its event-driven counters.
type nodeMetrics struct {
	reg    *prometheus.Registry
	gossip *prometheus.CounterVec

	mu    sync.Mutex
	heldT time.Time
	held  map[int][2]int64 // shard → held, assigned (cached for heldTTL)
}

// heldTTL bounds how often a scrape walks the store for sliver counts.
const heldTTL = 5 * time.Second

func newNodeMetrics() *nodeMetrics {
	m := &nodeMetrics{reg: prometheus.NewRegistry()}
	m.gossip = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_node_gossip_messages_total",
		Help: "Gossip messages validated, by topic and verdict."}, []string{"topic", "verdict"})
	m.reg.MustRegister(m.gossip, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// gossipVerdict counts one validation (nil-safe).
func (m *nodeMetrics) gossipVerdict(topic, verdict string) {
	if m != nil {
		m.gossip.WithLabelValues(topic, verdict).Inc()
	}
}

// countVerdicts wraps a gossip validator so each verdict is counted.
func countVerdicts[T any](m *nodeMetrics, topic string, v func(context.Context, peer.ID, T) gossip.Verdict) func(context.Context, peer.ID, T) gossip.Verdict {
	return func(ctx context.Context, p peer.ID, msg T) gossip.Verdict {
		verdict := v(ctx, p, msg)
		label := "ignore"
		switch verdict {
		case gossip.Accept:
			label = "accept"
		case gossip.Reject:
			label = "reject"
		}
		m.gossipVerdict(topic, label)
		return verdict
	}
}

// nodeCollector reads the node's state at scrape time.
type nodeCollector struct{ n *Node }

func gauge(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	dEpoch       = gauge("floe_node_epoch", "Epoch the node has applied.")
	dShards      = gauge("floe_node_shards", "Shards by state: assigned, syncing, retained.", "state")
	dAssigned    = gauge("floe_node_slivers_assigned", "Slivers the node must hold on a shard.", "shard")
	dHeld        = gauge("floe_node_slivers_held", "Slivers the node holds of those it must on a shard.", "shard")
	dStore       = gauge("floe_node_store_bytes", "Payload bytes the store holds.")
	dLimit       = gauge("floe_node_store_limit_bytes", "The store's space limit (0: none).")
	dDisk        = gauge("floe_node_disk_bytes", "Bytes the store occupies on disk.")
	dFree        = gauge("floe_node_disk_free_bytes", "Free bytes on the store's file system.")
	dPendBytes   = gauge("floe_node_pending_bytes", "Bytes buffered before their blob's registration.")
	dPendEntries = gauge("floe_node_pending_entries", "Entries buffered before their blob's registration.")
	dRecoveries  = gauge("floe_node_recoveries", "Blob recoveries by state: pending, running, failing.", "state")
	dCursor      = gauge("floe_node_chain_cursor", "Cursor of the last chain event applied.")
	dEventAge    = gauge("floe_node_chain_last_event_seconds", "Seconds since the follower applied its last event.")
	dEpochLag    = gauge("floe_node_chain_epoch_lag", "The chain's epoch minus the node's; -1 when the chain cannot be reached.")
)

type counterDef struct {
	d *prometheus.Desc
	v func(Stats) int64
}

var counterDefs = []counterDef{
	{gauge("floe_node_confirmations_total", "Storage confirmations signed."), func(s Stats) int64 { return s.Confirmations }},
	{gauge("floe_node_slivers_stored_total", "Slivers accepted from clients."), func(s Stats) int64 { return s.SliversStored }},
	{gauge("floe_node_slivers_rejected_total", "Slivers refused (failed verification, not ours)."), func(s Stats) int64 { return s.SliversRejected }},
	{gauge("floe_node_slivers_recovered_total", "Slivers rebuilt from recovery symbols."), func(s Stats) int64 { return s.SliversRecovered }},
	{gauge("floe_node_recovery_bytes_total", "Bytes fetched to rebuild slivers."), func(s Stats) int64 { return s.RecoveryBytes }},
	{gauge("floe_node_recovery_pairs_total", "Sliver pairs touched by recovery."), func(s Stats) int64 { return s.PairsRecovered }},
	{gauge("floe_node_blobs_expired_total", "Blobs expired."), func(s Stats) int64 { return s.BlobsExpired }},
	{gauge("floe_node_sync_slivers_total", "Slivers received by shard sync."), func(s Stats) int64 { return s.SyncSlivers }},
	{gauge("floe_node_sync_bytes_total", "Sliver bytes received by shard sync."), func(s Stats) int64 { return s.SyncBytes }},
	{gauge("floe_node_sync_served_slivers_total", "Slivers served to new owners by shard sync."), func(s Stats) int64 { return s.SyncServedSlivers }},
	{gauge("floe_node_sync_served_bytes_total", "Sliver bytes served to new owners by shard sync."), func(s Stats) int64 { return s.SyncServedBytes }},
	{gauge("floe_node_recovery_symbols_served_total", "Recovery symbols served to peers."), func(s Stats) int64 { return s.RecoverySymbolsServed }},
	{gauge("floe_node_symbol_sources_built_total", "Source slivers expanded to serve recovery symbols."), func(s Stats) int64 { return s.SymbolSourcesBuilt }},
	{gauge("floe_node_shards_migrated_total", "Gained shards completed."), func(s Stats) int64 { return s.ShardsMigrated }},
	{gauge("floe_node_sync_liars_total", "Shard-sync sources caught serving bad data."), func(s Stats) int64 { return s.SyncLiars }},
	{gauge("floe_node_shards_dropped_total", "Lost shards dropped after their grace period."), func(s Stats) int64 { return s.ShardsDropped }},
}

var (
	dRecDone   = gauge("floe_node_recoveries_done_total", "Blob recoveries finished.")
	dRecFailed = gauge("floe_node_recovery_failures_total", "Blob recovery attempts that failed.")
)

func (c nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dEpoch, dShards, dAssigned, dHeld, dStore, dLimit, dDisk, dFree, dPendBytes, dPendEntries,
		dRecoveries, dCursor, dEventAge, dEpochLag, dRecDone, dRecFailed} {
		ch <- d
	}
	for _, cd := range counterDefs {
		ch <- cd.d
	}
}

func (c nodeCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.n
	g := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	ctr := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	g(dEpoch, float64(n.Epoch()))
	ms := n.mig.snapshot()
	syncing := 0
	for _, gs := range ms.Gained {
		if !gs.Complete {
			syncing++
		}
	}
	g(dShards, float64(len(n.Shards())), "assigned")
	g(dShards, float64(syncing), "syncing")
	g(dShards, float64(len(ms.Retained)), "retained")
	for shard, v := range n.metrics.sliverCounts(n) {
		s := strconv.Itoa(shard)
		g(dHeld, float64(v[0]), s)
		g(dAssigned, float64(v[1]), s)
	}
	u := n.store.Usage()
	g(dStore, float64(u.Total))
	g(dLimit, float64(u.Limit))
	g(dDisk, float64(u.Disk))
	g(dFree, float64(n.store.DiskFree()))
	g(dPendBytes, float64(u.PendingBytes))
	g(dPendEntries, float64(u.PendingEntries))
	rc := n.recq.counts()
	g(dRecoveries, float64(rc.Pending-rc.Running), "pending")
	g(dRecoveries, float64(rc.Running), "running")
	g(dRecoveries, float64(rc.Failing), "failing")
	ctr(dRecDone, rc.Done)
	ctr(dRecFailed, rc.Failed)
	n.mu.Lock()
	cursor := n.applied
	n.mu.Unlock()
	g(dCursor, float64(cursor))
	g(dEventAge, time.Since(time.Unix(0, n.lastApplied.Load())).Seconds())
	g(dEpochLag, float64(n.epochLag()))
	st := n.Stats()
	for _, cd := range counterDefs {
		ctr(cd.d, cd.v(st))
	}
}

// sliverCounts returns held and assigned slivers per assigned shard, from a
// cache at most heldTTL old.
func (m *nodeMetrics) sliverCounts(n *Node) map[int][2]int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.held != nil && time.Since(m.heldT) < heldTTL {
		return m.held
	}
	out := map[int][2]int64{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range n.Shards() {
		gaps, checked, err := n.shardGaps(ctx, s)
		if err != nil {
			continue
		}
		held := 2 * int64(checked)
		for _, gp := range gaps {
			if gp.Primary {
				held--
			}
			if gp.Second {
				held--
			}
		}
		out[s] = [2]int64{held, 2 * int64(checked)}
	}
	m.held, m.heldT = out, time.Now()
	return out
}

// epochLag is the chain's epoch minus the node's, -1 if the chain cannot
// be reached.
func (n *Node) epochLag() int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := n.chain.EpochState(ctx)
	if err != nil {
		return -1
	}
	return int64(st.Epoch) - int64(n.Epoch())
}

// readiness says whether the node is ready and why not: it follows the
// chain (reachable, its epoch applied), has a committee, holds its shards
// and has room.
func (n *Node) readiness() (bool, []string) {
	var reasons []string
	switch lag := n.epochLag(); {
	case lag < 0:
		reasons = append(reasons, "the chain cannot be reached")
	case lag > 0:
		reasons = append(reasons, fmt.Sprintf("%d epochs behind the chain", lag))
	}
	if n.currentView() == nil {
		reasons = append(reasons, "no committee in the current epoch")
	}
	ms := n.mig.snapshot()
	for s, g := range ms.Gained {
		if !g.Complete {
			reasons = append(reasons, fmt.Sprintf("shard %d still syncing", s))
		}
	}
	if n.space.full.Load() {
		reasons = append(reasons, "out of storage space")
	}
	return len(reasons) == 0, reasons
}

// serveMetrics starts the node's HTTP listener; the returned stop ends it.
func (n *Node) serveMetrics(addr string, allowRemote bool) (stop func(), bound string, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("%w: metrics_listen %s: %v", ErrConfig, addr, err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() && !allowRemote {
		ln.Close()
		return nil, "", fmt.Errorf("%w: metrics_listen %s is not loopback (set metrics_allow_remote to serve it beyond this host)", ErrConfig, addr)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(n.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "node_id": n.id, "epoch": n.Epoch()})
	})
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, _ *http.Request) {
		ok, reasons := n.readiness()
		code := http.StatusOK
		if !ok {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, map[string]any{"ready": ok, "reasons": reasons})
	})
	paths := "/metrics /health /ready"
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && tcp.IP.IsLoopback() {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
		paths += " /debug/pprof/"
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
	n.log.Info("metrics listening", "addr", ln.Addr().String(), "paths", paths)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Warn("metrics listener", "err", err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, ln.Addr().String(), nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
