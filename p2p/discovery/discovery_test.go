package discovery

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"floe/p2p/host"
)

func TestShardKey(t *testing.T) {
	a, b := ShardKey("devnet", 1), ShardKey("devnet", 2)
	if a.Equals(b) || a.Equals(ShardKey("testnet", 1)) || !a.Equals(ShardKey("devnet", 1)) {
		t.Fatal("shard keys not distinct per shard and network")
	}
	if a.Version() != 1 || a.Type() != 0x55 {
		t.Fatalf("want CIDv1 raw, got %v", a)
	}
}

func TestConfigValidate(t *testing.T) {
	for name, c := range map[string]Config{
		"network": DefaultConfig("Bad/Name", ModeServer),
		"mode":    func() Config { c := DefaultConfig("x", ModeServer); c.Mode = 7; return c }(),
		"timeout": func() Config { c := DefaultConfig("x", ModeServer); c.DialTimeout = 0; return c }(),
		"lapse":   func() Config { c := DefaultConfig("x", ModeServer); c.ReprovideInterval = 72 * time.Hour; return c }(),
	} {
		if c.Validate() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func newHost(t *testing.T) *host.Host {
	t.Helper()
	cfg := host.LoopbackConfig()
	cfg.DisableQUIC = true
	h, err := host.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

func TestFindShardHolders(t *testing.T) {
	const nodes, shards = 8, 16
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	hosts := make([]*host.Host, nodes)
	for i := range hosts {
		hosts[i] = newHost(t)
	}
	boot := []peer.AddrInfo{hosts[0].AddrInfo(), hosts[1].AddrInfo()}
	ds := make([]*Discovery, nodes)
	for i, h := range hosts {
		cfg := DefaultConfig("disc-test", ModeServer)
		cfg.BootstrapPeers = boot
		cfg.RetryInterval = 200 * time.Millisecond
		d, err := New(h, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = d.Stop(context.Background()) })
		ds[i] = d
		if err := d.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range ds {
		if err := d.WaitReady(ctx, 3); err != nil {
			t.Fatal(err)
		}
	}
	for i, d := range ds {
		d.SetShards([]uint16{uint16(i), uint16(i + nodes)})
	}
	for i, d := range ds {
		for len(d.Provided()) < 2 {
			select {
			case <-ctx.Done():
				t.Fatalf("node %d announced %v", i, d.Provided())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	// A light client bootstrapping off one node finds every holder.
	lc := newHost(t)
	cfg := DefaultConfig("disc-test", ModeClient)
	cfg.BootstrapPeers = boot[:1]
	cd, err := New(lc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cd.Stop(context.Background())
	if err := cd.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cd.WaitReady(ctx, 1); err != nil {
		t.Fatal(err)
	}
	for s := range shards {
		got, err := cd.FindShardHolders(ctx, uint16(s), 0)
		if err != nil {
			t.Fatal(err)
		}
		want := hosts[s%nodes].ID()
		if len(got) != 1 || got[0].ID != want {
			t.Fatalf("shard %d: holders %v, want %s", s, got, want)
		}
	}
	// Dropping a shard stops its re-announcement; records remain until expiry.
	ds[0].SetShards([]uint16{0})
	if p := ds[0].Provided(); len(p) != 1 || p[0] != 0 {
		t.Fatalf("provided after drop: %v", p)
	}
}
