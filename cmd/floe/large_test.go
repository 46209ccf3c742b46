package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestProcessStoreRead1GiB stores and reads back a 1 GiB blob on a swarm
// of 7 node processes at n = 1000 with GOMEMLIMIT set in every process,
// through `floe bench e2e --processes`, and checks the bytes and each
// role's peak RSS as the kernel saw it. It needs about 13 GiB of disk in
// $TMPDIR and runs with FLOE_LARGE=1 (CI's large step).
func TestProcessStoreRead1GiB(t *testing.T) {
	if os.Getenv("FLOE_LARGE") == "" {
		t.Skip("set FLOE_LARGE=1 to store and read 1 GiB on node processes")
	}
	const (
		size     = 1 << 30
		memLimit = "768MiB"
		// What each process may reach: the limit GOMEMLIMIT sets for the
		// Go heap, plus what the runtime and the C allocator (blst, none
		// of the heap) hold outside it.
		maxRSS = 1 << 30
	)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, floeBinary(t), "bench", "e2e", "--processes", "--json", "--nodes", "7", "--shards", "1000",
		"--size", "1073741824", "--runs", "1", "--gomemlimit", memLimit, "--dir", t.TempDir())
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("floe bench e2e --processes: %v\n%s", err, stderr.String())
	}
	t.Logf("%s", stderr.String())
	var res procBenchResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("bench JSON: %v\n%s", err, out.String())
	}
	if len(res.Runs) != 1 || !res.Runs[0].ByteIdentical || res.Size != size {
		t.Fatalf("runs %+v", res.Runs)
	}
	check := func(role string, rss int64) {
		t.Helper()
		if rss <= 0 || rss > maxRSS {
			t.Errorf("%s: peak RSS %d bytes (%s), want at most %s", role, rss, mib(rss), mib(maxRSS))
		}
	}
	check("store client", res.StorePeakRSS)
	check("read client", res.ReadPeakRSS)
	check("ledger", res.LedgerPeakRSS)
	if len(res.NodePeakRSS) != 7 {
		t.Fatalf("node RSS %v", res.NodePeakRSS)
	}
	for _, r := range res.NodePeakRSS {
		check("node", r)
	}
	nodes := make([]string, len(res.NodePeakRSS))
	for i, r := range res.NodePeakRSS {
		nodes[i] = mib(r)
	}
	t.Logf("1 GiB: store %.1f MB/s, read %.1f MB/s; peak RSS store client %s, read client %s, ledger %s, nodes %s",
		res.StoreMBps, res.ReadMBps, mib(res.StorePeakRSS), mib(res.ReadPeakRSS), mib(res.LedgerPeakRSS), strings.Join(nodes, " "))
}
