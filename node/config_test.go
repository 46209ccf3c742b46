package node

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"floe/chainlink"
)

// A key the config does not have is refused with its name, in node.json
// and client.json alike; every key the config has is read back.
func TestConfigKeys(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	owner := chainlink.ID{7}.String()
	for _, tc := range []struct {
		name, body, want string
	}{
		{"misspelt.json", `{"network": "local", "data_dir": ".", "listen": ["/ip4/127.0.0.1/tcp/0"], "owner": "` + owner + `", "space_limt": 5}`, `unknown key "space_limt"`},
		{"nested.json", `{"network": "local", "data_dir": ".", "listen": ["/ip4/127.0.0.1/tcp/0"], "owner": "` + owner + `", "max_fds": 10, "extra": {"a": 1}}`, `unknown key "extra"`},
		{"trailing.json", `{"network": "local", "data_dir": ".", "listen": ["/ip4/127.0.0.1/tcp/0"], "owner": "` + owner + `"} {}`, "more after the JSON object"},
		{"negative.json", `{"network": "local", "data_dir": ".", "listen": ["/ip4/127.0.0.1/tcp/0"], "owner": "` + owner + `", "max_memory": -1}`, "max_memory -1 is negative"},
		{"rest-any.json", `{"network": "local", "data_dir": ".", "listen": ["/ip4/127.0.0.1/tcp/0"], "owner": "` + owner + `", "rest_listen": "0.0.0.0:9185"}`, "set rest_announce"},
		{"rest-any6.json", `{"network": "local", "data_dir": ".", "listen": ["/ip4/127.0.0.1/tcp/0"], "owner": "` + owner + `", "rest_listen": "[::]:9185"}`, "set rest_announce"},
		{"rest-nohost.json", `{"network": "local", "data_dir": ".", "listen": ["/ip4/127.0.0.1/tcp/0"], "owner": "` + owner + `", "rest_listen": ":9185"}`, "set rest_announce"},
	} {
		_, err := LoadConfig(write(tc.name, tc.body))
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want one line saying %s", tc.name, err, tc.want)
		}
	}
	_, err := LoadClientConfig(write("client.json", `{"network": "local", "ledger": "http://127.0.0.1:1", "account": "`+owner+`", "timout": "1m"}`))
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), `unknown key "timout"`) {
		t.Errorf("client.json with a misspelt key: %v", err)
	}

	// Every field written is a key LoadConfig knows.
	full := Config{
		Name: "n", Network: "local", DataDir: ".", Listen: []string{"/ip4/127.0.0.1/tcp/0"}, Announce: []string{"/ip4/127.0.0.1/tcp/1"},
		Bootstrap: []string{"/ip4/127.0.0.1/tcp/2/p2p/12D3KooWH2SNqcmLizFMaELDzSgrtSmCFQf2p9HwY3wP1SeEfxEz"}, Ledger: "http://127.0.0.1:7070",
		Owner: chainlink.ID{7}, OwnerKey: "owner.key", Stake: 5, Faucet: true, MetricsListen: "127.0.0.1:9464", MetricsAllowRemote: true,
		SpaceLimit: 1 << 30, MinFreeDisk: -1, MaxMemory: 1 << 30, MaxFDs: 256, StoreMemTable: 4 << 20, NoSync: true, RecoveryWorkers: 2,
		ShardSyncFallback: Duration(time.Minute), ShardDropGrace: Duration(time.Hour), ShardSyncs: 3, Byzantine: ByzantineCorrupt,
	}
	p := filepath.Join(dir, "full.json")
	if err := WriteJSON(p, full); err != nil {
		t.Fatal(err)
	}
	got, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if got.MaxMemory != full.MaxMemory || got.MaxFDs != full.MaxFDs || got.SpaceLimit != full.SpaceLimit || got.ShardDropGrace != full.ShardDropGrace {
		t.Fatalf("read back %+v", got)
	}
	cc := ClientConfig{Network: "local", Ledger: "http://127.0.0.1:7070", Bootstrap: full.Bootstrap, Account: chainlink.ID{7},
		Faucet: true, Timeout: Duration(time.Minute)}
	cp := filepath.Join(dir, "full-client.json")
	if err := WriteJSON(cp, cc); err != nil {
		t.Fatal(err)
	}
	if got, err := LoadClientConfig(cp); err != nil || got.Timeout != cc.Timeout {
		t.Fatalf("client config read back %+v %v", got, err)
	}
}
