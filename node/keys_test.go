package node

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"floe/chainlink"
	"floe/chainlink/account"
)

// The owner key: DATA_DIR/owner.key by default (absent is no error), the
// configured owner_key otherwise (absent is); a key of another account is
// refused.
func TestLoadOwnerKey(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{DataDir: dir, Owner: chainlink.ID{7}}
	if k, err := loadOwnerKey(cfg); k != nil || err != nil {
		t.Fatalf("no key file: %v %v", k, err)
	}
	k, _, err := account.LoadOrCreate(filepath.Join(dir, OwnerKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := loadOwnerKey(cfg); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "configured owner") {
		t.Fatalf("key of another account: %v", err)
	}
	cfg.Owner = chainlink.AccountID(k)
	if got, err := loadOwnerKey(cfg); err != nil || got.Address() != k.Address() {
		t.Fatalf("default owner key: %v", err)
	}
	cfg.OwnerKey = filepath.Join(dir, "missing.key")
	if _, err := loadOwnerKey(cfg); !errors.Is(err, ErrConfig) {
		t.Fatalf("configured key missing: %v", err)
	}
}

// A node config's owner_key is relative to the config file.
func TestLoadConfigOwnerKeyPath(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "node.json")
	if err := WriteJSON(path, Config{Network: "devnet", DataDir: ".", Listen: []string{"/ip4/127.0.0.1/tcp/0"},
		Owner: chainlink.ID{1}, OwnerKey: "keys/owner.key"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil || cfg.OwnerKey != filepath.Join(dir, "keys", "owner.key") {
		t.Fatalf("owner_key %q: %v", cfg.OwnerKey, err)
	}
}

// A client config's account_key: relative to the file, created on first
// use, its address the account; an account that is not the key's is
// refused; a config with neither is invalid.
func TestClientConfigAccountKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "client.json")
	if err := WriteJSON(path, ClientConfig{Network: "devnet", Ledger: "http://127.0.0.1:1", AccountKey: "client.key"}); err != nil {
		t.Fatal(err)
	}
	cc, err := LoadClientConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "client.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key not created private: %v %v", fi, err)
	}
	if cc.Key() == nil || cc.Account != chainlink.AccountID(cc.Key()) {
		t.Fatalf("account %s, key %v", cc.Account, cc.Key())
	}
	again, err := LoadClientConfig(path)
	if err != nil || again.Account != cc.Account {
		t.Fatalf("second load: %s %v", again.Account, err)
	}
	if err := WriteJSON(path, ClientConfig{Network: "devnet", Ledger: "http://127.0.0.1:1", AccountKey: "client.key",
		Account: chainlink.ID{9}}); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadClientConfig(path); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "is the key of") {
		t.Fatalf("account of another key: %v", err)
	}
	empty := ClientConfig{Network: "devnet", Ledger: "http://127.0.0.1:1"}
	if err := empty.Validate(); !errors.Is(err, ErrConfig) {
		t.Fatalf("config without account: %v", err)
	}
}

// A devnet writes the keys its processes sign with: each node's owner key,
// the client's account key beside client.json, the ledger's admin token;
// its served ledger takes the client's signed requests and refuses
// unsigned ones.
func TestDevnetKeys(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	d, err := StartDevnet(ctx, DevnetConfig{Nodes: 1, Shards: 10, Dir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, f := range []string{ClientKeyFile, filepath.Join("node-0", OwnerKeyFile), filepath.Join("ledger", chainlink.AdminTokenFile)} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, fi, err)
		}
	}
	ok, err := account.Load(filepath.Join(dir, "node-0", OwnerKeyFile))
	if err != nil || chainlink.AccountID(ok) != d.Owner(0) {
		t.Fatalf("owner key of node 0: %v", err)
	}
	if n, err := d.Ledger.Node(ctx, d.Nodes()[0].ID()); err != nil || n.Owner != d.Owner(0) {
		t.Fatalf("node 0 registered with owner %s: %v", n.Owner, err)
	}
	cc, err := LoadClientConfig(d.ClientConfigPath())
	if err != nil || cc.Key() == nil || cc.Account != d.ClientConfig().Account {
		t.Fatalf("client config: %+v %v", cc, err)
	}
	signed := chainlink.NewClient(d.LedgerURL(), nil, chainlink.ClientAccountKey(cc.Key()))
	if _, err := signed.Faucet(ctx, cc.Account, 1000); err != nil {
		t.Fatal(err)
	}
	if _, _, err := signed.ReserveSpace(ctx, cc.Account, 1, 1); err != nil {
		t.Fatalf("signed reservation: %v", err)
	}
	if _, _, err := chainlink.NewClient(d.LedgerURL(), nil).ReserveSpace(ctx, cc.Account, 1, 1); !errors.Is(err, chainlink.ErrNoKey) {
		t.Fatalf("reservation without the key: %v", err)
	}
	if _, err := signed.Unstake(ctx, d.Owner(0), d.Nodes()[0].ID(), 1); !errors.Is(err, chainlink.ErrNoKey) {
		t.Fatalf("unstake of the owner's stake by the client: %v", err)
	}
	if _, err := signed.AdvanceEpoch(ctx); !errors.Is(err, chainlink.ErrNoKey) {
		t.Fatalf("advance without the token: %v", err)
	}
	token, err := chainlink.ReadAdminToken(filepath.Join(dir, "ledger", chainlink.AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chainlink.NewClient(d.LedgerURL(), nil, chainlink.ClientAdminToken(token)).AdvanceEpoch(ctx); err != nil {
		t.Fatalf("advance with the devnet's token: %v", err)
	}
}
