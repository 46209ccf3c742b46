package sui_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"floe/chainlink"
	"floe/chainlink/account"
	"floe/chainlink/sui"
)

// TestRealNode runs against a real Sui full node with the Walrus
// contracts when FLOE_SUI_RPC is set (doc.go, Runbook): FLOE_SUI_SYSTEM
// and FLOE_SUI_STAKING name the shared objects, FLOE_SUI_WAL the WAL type
// (Testnet/Mainnet), FLOE_SUI_START_CHECKPOINT where the event index
// starts (default: the node's latest checkpoint). It checks what any
// deployment must give: the epoch state, the current committee decoded in
// the contract's order with every shard assigned, and the events from
// checkpoints flowing. With FLOE_SUI_KEY (a funded suiprivkey… account
// holding WAL) it also reserves 1 MiB of storage for one epoch, which
// runs reserve_space in Move. Without FLOE_SUI_RPC it is skipped: nothing
// here executes Move on this machine.
func TestRealNode(t *testing.T) {
	rpc := os.Getenv("FLOE_SUI_RPC")
	if rpc == "" {
		t.Skip("FLOE_SUI_RPC not set: no Sui full node to run against (see the package doc's runbook)")
	}
	system, err := sui.ParseAddress(os.Getenv("FLOE_SUI_SYSTEM"))
	if err != nil {
		t.Fatalf("FLOE_SUI_SYSTEM: %v", err)
	}
	staking, err := sui.ParseAddress(os.Getenv("FLOE_SUI_STAKING"))
	if err != nil {
		t.Fatalf("FLOE_SUI_STAKING: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := sui.Config{RPC: rpc, System: system, Staking: staking, WAL: os.Getenv("FLOE_SUI_WAL"), FaucetURL: os.Getenv("FLOE_SUI_FAUCET")}
	if s := os.Getenv("FLOE_SUI_KEY"); s != "" {
		if cfg.Key, err = account.ParseSuiPrivateKey(s); err != nil {
			t.Fatalf("FLOE_SUI_KEY: %v", err)
		}
	}
	if s := os.Getenv("FLOE_SUI_START_CHECKPOINT"); s != "" {
		if cfg.StartCheckpoint, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("FLOE_SUI_START_CHECKPOINT: %v", err)
		}
	} else {
		// Start at the latest checkpoint: a probe client whose index
		// waits past the end of the chain asks for it.
		probe, err := sui.Dial(ctx, sui.Config{RPC: rpc, System: system, Staking: staking, WAL: cfg.WAL, StartCheckpoint: 1 << 62})
		if err != nil {
			t.Fatal(err)
		}
		h, err := probe.CheckpointHeight(ctx)
		probe.Close()
		if err != nil {
			t.Fatal(err)
		}
		cfg.StartCheckpoint = h
	}
	c, err := sui.Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	es, err := c.EpochState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if es.NShards < 1 || es.MaxEpochsAhead < 1 || es.StoragePricePerUnit == 0 {
		t.Fatalf("epoch state %+v", es)
	}
	t.Logf("epoch %d (%s), %d shards, prices %d/%d", es.Epoch, es.Phase, es.NShards, es.StoragePricePerUnit, es.WritePricePerUnit)
	cm, err := c.Committee(ctx, es.Epoch)
	if err != nil {
		t.Fatal(err)
	}
	seen := make([]bool, cm.NShards)
	for i, m := range cm.Members {
		if i > 0 && cm.Members[i-1].NodeID.Compare(m.NodeID) >= 0 {
			t.Fatalf("members not in node-ID order at %d", i)
		}
		for _, s := range m.Shards {
			if int(s) >= len(seen) || seen[s] {
				t.Fatalf("shard %d twice or out of range", s)
			}
			seen[s] = true
		}
	}
	for s, ok := range seen {
		if !ok {
			t.Fatalf("shard %d unassigned", s)
		}
	}
	if _, err := cm.Verifier(); err != nil {
		t.Fatalf("committee keys: %v", err)
	}
	if cfg.Key == nil {
		return
	}
	st, cost, err := c.ReserveSpace(ctx, chainlink.AccountID(cfg.Key), 1<<20, 1)
	if err != nil {
		t.Fatalf("reserve_space: %v", err)
	}
	if st.Size != 1<<20 || st.StartEpoch != es.Epoch || st.EndEpoch != es.Epoch+1 || cost != es.StoragePricePerUnit {
		t.Fatalf("storage %+v for %d", st, cost)
	}
}
