package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape fetches and parses a /metrics page.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics of %s: %v", addr, err)
	}
	return fams
}

// value sums a family's samples whose labels include want.
func value(fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
	sum := 0.0
	for _, m := range f.Metric {
		ok := true
		for i := 0; i+1 < len(want); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == want[i] && l.GetValue() == want[i+1] {
					found = true
				}
			}
			ok = ok && found
		}
		if !ok {
			continue
		}
		switch {
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

// After a store, a read and a node restart, every node's /metrics says what
// happened: slivers held equal those assigned on every shard, requests
// were served, the restarted node's recoveries are counted; /health and
// /ready answer.
func TestMetricsEndpoints(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := startDevnet(t, 4, 20)
	c := newTestClient(t, d)
	blobs := storeBlobs(t, ctx, c, 5, 2, 60_000, 5)
	if _, err := c.Read(ctx, blobs[0].id, ReadOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := d.StopNode(2); err != nil {
		t.Fatal(err)
	}
	blobs = append(blobs, storeBlobs(t, ctx, c, 50, 1, 80_000, 5)...)
	if err := d.StartNode(ctx, 2); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the restarted node's recovery", func() bool { return d.Nodes()[2].Stats().SliversRecovered > 0 })
	time.Sleep(heldTTL) // past the sliver-count cache

	accepted := 0.0
	defer func() {
		if !t.Failed() && accepted < 1 {
			t.Errorf("no node counted an accepted gossip message")
		}
	}()
	for i, addr := range d.MetricsAddrs() {
		if addr == "" {
			t.Fatalf("node %d serves no metrics", i)
		}
		fams := scrape(t, addr)
		assigned := value(fams, "floe_node_slivers_assigned")
		held := value(fams, "floe_node_slivers_held")
		shards := len(d.Nodes()[i].Shards())
		if assigned != float64(2*shards*len(blobs)) || held != assigned {
			t.Fatalf("node %d: %v slivers held, %v assigned; want %d of %d", i, held, assigned, 2*shards*len(blobs), 2*shards*len(blobs))
		}
		for _, f := range d.Nodes()[i].Shards() {
			if h, a := value(fams, "floe_node_slivers_held", "shard", fmt.Sprint(f)), value(fams, "floe_node_slivers_assigned", "shard", fmt.Sprint(f)); h != a || a != float64(2*len(blobs)) {
				t.Fatalf("node %d shard %d: %v held of %v", i, f, h, a)
			}
		}
		if v := value(fams, "floe_p2p_server_requests_total", "protocol", "put-slivers", "status", "ok"); i != 2 && v < 1 {
			t.Fatalf("node %d counted %v put-slivers requests", i, v)
		}
		accepted += value(fams, "floe_node_gossip_messages_total", "topic", "attestations", "verdict", "accept")
		if v := value(fams, "floe_node_epoch"); v < 1 {
			t.Fatalf("node %d epoch %v", i, v)
		}
		for _, name := range []string{"floe_node_store_bytes", "floe_node_disk_free_bytes", "floe_libp2p_peers_connected",
			"floe_libp2p_rcmgr_memory_bytes", "floe_node_chain_cursor", "floe_node_confirmations_total", "go_goroutines"} {
			if value(fams, name) <= 0 {
				t.Fatalf("node %d: %s is %v", i, name, value(fams, name))
			}
		}
		if i == 2 {
			if v := value(fams, "floe_node_slivers_recovered_total"); v < float64(2*shards) {
				t.Fatalf("restarted node counted %v recovered slivers, want ≥ %d", v, 2*shards)
			}
			if v := value(fams, "floe_node_recovery_bytes_total"); v <= 0 {
				t.Fatalf("restarted node counted %v recovery bytes", v)
			}
			if v := value(fams, "floe_p2p_client_requests_total", "protocol", "get-recovery-batch", "result", "ok"); v < 1 {
				t.Fatalf("restarted node counted %v recovery-batch requests", v)
			}
		}
		for path, code := range map[string]int{"/health": 200, "/ready": 200, "/debug/pprof/cmdline": 200} {
			resp, err := http.Get("http://" + addr + path)
			if err != nil {
				t.Fatal(err)
			}
			var body map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode != code {
				t.Fatalf("node %d %s: %d %v", i, path, resp.StatusCode, body)
			}
		}
	}
	// A loopback listener serves Go's profiler: a one-second CPU profile
	// comes back gzipped (pprof's format).
	resp, err := http.Get("http://" + d.MetricsAddrs()[0] + "/debug/pprof/profile?seconds=1")
	if err != nil {
		t.Fatal(err)
	}
	prof, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || len(prof) < 2 || prof[0] != 0x1f || prof[1] != 0x8b {
		t.Fatalf("CPU profile: %d, %d bytes, %v", resp.StatusCode, len(prof), err)
	}
	// A node that is behind says why it is not ready.
	d.HoldShardSyncs()
	i, err := d.AddNode(ctx, 3*DevnetStake)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.AdvanceEpoch(ctx); err != nil {
		t.Fatal(err)
	}
	resp, err = http.Get("http://" + d.MetricsAddrs()[i] + "/ready")
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Ready   bool     `json:"ready"`
		Reasons []string `json:"reasons"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || body.Ready || len(body.Reasons) == 0 || !strings.Contains(strings.Join(body.Reasons, ";"), "syncing") {
		t.Fatalf("a node still syncing: /ready %d %+v", resp.StatusCode, body)
	}
	fams := scrape(t, d.MetricsAddrs()[i])
	if v := value(fams, "floe_node_shards", "state", "syncing"); v < 1 {
		t.Fatalf("a node still syncing reports %v syncing shards", v)
	}
	d.ReleaseShardSyncs()
}
