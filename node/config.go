package node

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"floe/chainlink"
	"floe/chainlink/account"
	"floe/p2p"
	"floe/p2p/host"
)

// ErrConfig marks a configuration the node or client refuses to start with.
var ErrConfig = errors.New("node: bad configuration")

// Config is a storage node's configuration (the JSON file of
// `floe node run --config`).
type Config struct {
	// Name is the node's human-readable name on the chain.
	Name string `json:"name"`
	// Network names the swarm; it is part of every protocol ID and DHT key.
	Network string `json:"network"`
	// DataDir holds the node's keys, store and chain cursor.
	DataDir string `json:"data_dir"`
	// Listen are libp2p multiaddrs to listen on.
	Listen []string `json:"listen"`
	// Announce, when set, replace the listen addresses in what the node
	// registers on the chain and advertises.
	Announce []string `json:"announce,omitempty"`
	// Bootstrap are multiaddrs (with /p2p/<id>) of peers to join the DHT
	// through. Empty: the committee's registered addresses are used.
	Bootstrap []string `json:"bootstrap,omitempty"`
	// Ledger is the base URL of a `floe ledger serve` service. (A devnet
	// hands its nodes the ledger directly.)
	Ledger string `json:"ledger"`
	// Chain, when its kind is "sui", anchors the node on Sui instead of
	// the ledger (Ledger is then left empty).
	Chain *ChainConfig `json:"chain,omitempty"`
	// Owner is the account that owns the node and pays its stake.
	Owner chainlink.ID `json:"owner"`
	// OwnerKey is the owner's account key file (package account: Sui's
	// suiprivkey form, mode 0600), relative to the config file; empty:
	// DATA_DIR/owner.key if it exists. The node signs its registration
	// with it; once registered it signs with its BLS key.
	OwnerKey string `json:"owner_key,omitempty"`
	// Stake is moved from Owner's balance to the node at registration.
	Stake uint64 `json:"stake"`
	// Faucet asks the ledger's faucet for the stake first (devnets only).
	Faucet bool `json:"faucet,omitempty"`
	// MetricsListen, if set, is a TCP address (e.g. 127.0.0.1:9464) where
	// the node serves /metrics (Prometheus), /health and /ready over HTTP.
	// Loopback only unless MetricsAllowRemote.
	MetricsListen      string `json:"metrics_listen,omitempty"`
	MetricsAllowRemote bool   `json:"metrics_allow_remote,omitempty"`
	// RestListen, if set, is a TCP address (host:port) where the node
	// serves the Walrus storage-node REST API (node/rest) over HTTPS,
	// beside its libp2p protocols and under the same rules; the
	// certificate is self-signed for the P-256 network key in
	// DATA_DIR/network.key (created on first start), which clients pin.
	RestListen string `json:"rest_listen,omitempty"`
	// RestAnnounce, when set, is the host:port clients reach the REST API
	// at (Walrus's network_address; the certificate names its host);
	// default: the listen address.
	RestAnnounce string `json:"rest_announce,omitempty"`
	// SpaceLimit caps the payload bytes the store holds: slivers,
	// metadata and the pending buffer (0: none). Past it the node refuses
	// new slivers with an out-of-space error (not a rate limit).
	SpaceLimit int64 `json:"space_limit,omitempty"`
	// MinFreeDisk is the free space the node leaves on its disk for
	// pebble's compactions and logs: writes that would leave less fail as
	// out of space (default 256 MiB; negative: no reserve).
	MinFreeDisk int64 `json:"min_free_disk,omitempty"`
	// MaxMemory is the memory, in bytes, the libp2p resource manager's
	// limits are scaled from (0: a quarter of the machine's memory, or
	// GOMEMLIMIT when that is lower; at
	// most the machine's). `floe node limits` prints the limits it gives.
	MaxMemory int64 `json:"max_memory,omitempty"`
	// MaxFDs is the number of file descriptors libp2p may use (0: half
	// of the process's soft limit; at most that limit).
	MaxFDs int `json:"max_fds,omitempty"`
	// StoreMemTable is pebble's memtable size (default 64 MiB). Pebble
	// preallocates up to four write-ahead logs of 1.1 × this on disk; a
	// small node (a devnet's) wants less.
	StoreMemTable int64 `json:"store_memtable,omitempty"`
	// NoSync skips fsync on store commits: a process crash loses nothing,
	// a machine crash may lose recent writes.
	NoSync bool `json:"no_sync,omitempty"`
	// RecoveryWorkers bounds the blobs recovered at once (default 4);
	// workers start when recoveries are due and stop when none are.
	RecoveryWorkers int `json:"recovery_workers,omitempty"`
	// ShardSyncFallback is how long a node that gained a shard keeps
	// trying to pull it from its previous owner before it rebuilds the
	// rest from recovery symbols (default 10m; Walrus waits 12h).
	ShardSyncFallback Duration `json:"shard_sync_fallback,omitzero"`
	// ShardDropGrace is how long a node keeps serving a shard it lost after
	// the epoch change is done, before it deletes the shard (default 10m).
	ShardDropGrace Duration `json:"shard_drop_grace,omitzero"`
	// ShardSyncs bounds the gained shards synced at once (default 2).
	ShardSyncs int `json:"shard_syncs,omitempty"`
	// Byzantine makes the node misbehave on purpose, for experiments and
	// fault tests: "corrupt" serves slivers, metadata and recovery symbols
	// with flipped bytes. Empty in any real deployment.
	Byzantine string `json:"byzantine,omitempty"`
}

// Byzantine behaviours: "corrupt" serves flipped bytes; "withhold"
// stores what it is sent and signs confirmations but serves no sliver or
// recovery symbol (not-found answers); "bad-confirm" serves honestly but
// signs its storage confirmations over a wrong message.
const (
	ByzantineCorrupt    = "corrupt"
	ByzantineWithhold   = "withhold"
	ByzantineBadConfirm = "bad-confirm"
)

// Validate checks the configuration.
func (c *Config) Validate() error {
	if err := p2p.ValidateNetwork(c.Network); err != nil {
		return fmt.Errorf("%w: network: %v", ErrConfig, err)
	}
	if c.DataDir == "" {
		return fmt.Errorf("%w: data_dir is required", ErrConfig)
	}
	if len(c.Listen) == 0 {
		return fmt.Errorf("%w: listen needs at least one address", ErrConfig)
	}
	if c.Owner.IsZero() {
		return fmt.Errorf("%w: owner is required", ErrConfig)
	}
	if c.Byzantine != "" && c.Byzantine != ByzantineCorrupt && c.Byzantine != ByzantineWithhold && c.Byzantine != ByzantineBadConfirm {
		return fmt.Errorf("%w: unknown byzantine behaviour %q", ErrConfig, c.Byzantine)
	}
	if c.RecoveryWorkers < 0 || c.RecoveryWorkers > 64 {
		return fmt.Errorf("%w: recovery_workers %d out of [0, 64]", ErrConfig, c.RecoveryWorkers)
	}
	if c.ShardSyncs < 0 || c.ShardSyncs > 64 {
		return fmt.Errorf("%w: shard_syncs %d out of [0, 64]", ErrConfig, c.ShardSyncs)
	}
	if c.ShardSyncFallback < 0 || c.ShardDropGrace < 0 {
		return fmt.Errorf("%w: negative shard_sync_fallback or shard_drop_grace", ErrConfig)
	}
	if c.SpaceLimit < 0 {
		return fmt.Errorf("%w: space_limit %d is negative", ErrConfig, c.SpaceLimit)
	}
	if c.RestListen != "" {
		h, _, err := net.SplitHostPort(c.RestListen)
		if err != nil {
			return fmt.Errorf("%w: rest_listen %q: %v", ErrConfig, c.RestListen, err)
		}
		// The chain record would name https://0.0.0.0:…, which no client
		// reaches, and the certificate a host no client dials.
		if ip := net.ParseIP(h); (h == "" || ip != nil && ip.IsUnspecified()) && c.RestAnnounce == "" {
			return fmt.Errorf("%w: rest_listen %q binds every address, so clients need to be told one: set rest_announce to the host:port they reach", ErrConfig, c.RestListen)
		}
	}
	if c.RestAnnounce != "" {
		if h, p, err := net.SplitHostPort(c.RestAnnounce); err != nil || h == "" || p == "" || p == "0" {
			return fmt.Errorf("%w: rest_announce %q is not host:port", ErrConfig, c.RestAnnounce)
		}
		if c.RestListen == "" {
			return fmt.Errorf("%w: rest_announce without rest_listen", ErrConfig)
		}
	}
	if c.MaxMemory < 0 {
		return fmt.Errorf("%w: max_memory %d is negative", ErrConfig, c.MaxMemory)
	}
	if c.MaxFDs < 0 {
		return fmt.Errorf("%w: max_fds %d is negative", ErrConfig, c.MaxFDs)
	}
	if c.StoreMemTable != 0 && (c.StoreMemTable < 1<<20 || c.StoreMemTable > 1<<30) {
		return fmt.Errorf("%w: store_memtable %d out of [1 MiB, 1 GiB]", ErrConfig, c.StoreMemTable)
	}
	if c.Ledger != "" {
		if err := checkLedgerURL(c.Ledger); err != nil {
			return err
		}
	}
	if err := c.Chain.Validate(); err != nil {
		return err
	}
	return nil
}

// Chain kinds.
const (
	// ChainLedger is the embedded ledger (served by `floe ledger serve`,
	// named by Ledger): the default.
	ChainLedger = "ledger"
	// ChainSui is a Sui full node with the Walrus contracts (chainlink/sui).
	ChainSui = "sui"
)

// ChainConfig says which chain a node or client anchors on: the
// "chain" object of their configs. Nil or kind "ledger": the embedded
// ledger at Ledger.
type ChainConfig struct {
	Kind string `json:"kind"`
	// RPC is the Sui full node's gRPC endpoint (host:port, or an
	// http:// or https:// URL).
	RPC string `json:"rpc,omitempty"`
	// SystemObject and StakingObject are the Walrus shared objects.
	SystemObject  chainlink.ID `json:"system_object,omitzero"`
	StakingObject chainlink.ID `json:"staking_object,omitzero"`
	// TreasuryObject is WAL's shared ProtectedTreasury, which the
	// current contracts' epoch change needs (only AdvanceEpoch uses it).
	TreasuryObject chainlink.ID `json:"treasury_object,omitzero"`
	// Key is an account key file (package account, Sui's suiprivkey
	// form) that signs transactions no request names a signer for, e.g.
	// the epoch-change calls; relative to the config file. Empty: the
	// owner's (node) or the account's (client) key.
	Key string `json:"key,omitempty"`
	// WALType is the WAL coin type (empty: <package>::wal::WAL).
	WALType string `json:"wal_type,omitempty"`
	// Faucet is a Sui faucet URL (localnet, testnet, the stand-in).
	Faucet string `json:"faucet,omitempty"`
	// StartCheckpoint is where the event index starts.
	StartCheckpoint uint64 `json:"start_checkpoint,omitempty"`
	// IndexDir is where the event index persists (relative to the config
	// file). Empty: DATA_DIR/sui-index for a node; none for a client,
	// which then reads from start_checkpoint on each start.
	IndexDir string `json:"index_dir,omitempty"`
}

// IsSui reports whether the config names a Sui chain.
func (c *ChainConfig) IsSui() bool { return c != nil && c.Kind == ChainSui }

// Validate checks the chain config (nil is the ledger).
func (c *ChainConfig) Validate() error {
	if c == nil {
		return nil
	}
	switch c.Kind {
	case "", ChainLedger:
		return nil
	case ChainSui:
		if c.RPC == "" || c.SystemObject.IsZero() || c.StakingObject.IsZero() {
			return fmt.Errorf("%w: chain: kind sui needs rpc, system_object and staking_object", ErrConfig)
		}
		if c.Faucet != "" {
			if err := checkLedgerURL(c.Faucet); err != nil {
				return fmt.Errorf("%w: chain faucet %q is not an http(s) URL", ErrConfig, c.Faucet)
			}
		}
		return nil
	}
	return fmt.Errorf("%w: chain kind %q (want %q or %q)", ErrConfig, c.Kind, ChainLedger, ChainSui)
}

// setDefaults fills the settings left zero.
func (c *Config) setDefaults() {
	if c.RecoveryWorkers == 0 {
		c.RecoveryWorkers = 4
	}
	if c.ShardSyncs == 0 {
		c.ShardSyncs = defaultShardSyncs
	}
	if c.ShardSyncFallback == 0 {
		c.ShardSyncFallback = Duration(defaultSyncFallback)
	}
	if c.ShardDropGrace == 0 {
		c.ShardDropGrace = Duration(defaultShardDropGrace)
	}
}

func checkLedgerURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: ledger %q is not an http(s) URL", ErrConfig, s)
	}
	return nil
}

// ClientConfig is what a client (publisher, reader, gateway) needs to reach
// a swarm: the JSON file `floe devnet` writes and `--config` reads.
type ClientConfig struct {
	Network string `json:"network"`
	// Ledger is the base URL of the ledger service.
	Ledger string `json:"ledger"`
	// Chain, when its kind is "sui", is the Sui chain to use instead of
	// the ledger (Ledger is then left empty).
	Chain *ChainConfig `json:"chain,omitempty"`
	// Bootstrap are multiaddrs (with /p2p/<id>) of storage nodes, used to
	// join the DHT; committee addresses come from the chain.
	Bootstrap []string `json:"bootstrap,omitempty"`
	// Account pays for storage and owns new blob objects. It may be left
	// out when AccountKey is given (it is that key's address).
	Account chainlink.ID `json:"account,omitzero"`
	// AccountKey is Account's key file (package account), relative to the
	// config file, created on first use: the client signs its
	// registrations and deletions with it. A config without it can read,
	// not store.
	AccountKey string `json:"account_key,omitempty"`
	// Faucet tops up Account from the ledger's faucet when it runs low
	// (devnets only).
	Faucet bool `json:"faucet,omitempty"`
	// Timeout bounds each store or read as a whole (default 5 minutes),
	// plus a second for every 2 MiB of the blob: a blob of gigabytes may
	// take that much longer.
	Timeout Duration `json:"timeout,omitzero"`

	// key is AccountKey, once loaded.
	key *account.Key
}

// Key returns the account key (nil if the config has none or it is not
// loaded yet: LoadClientConfig and NewClient load it).
func (c *ClientConfig) Key() *account.Key { return c.key }

// SetKey sets the account key, and Account to its address.
func (c *ClientConfig) SetKey(k *account.Key) {
	c.key = k
	if k != nil {
		c.Account = chainlink.AccountID(k)
	}
}

// loadKey loads AccountKey (relative to the working directory if not
// absolute; created, mode 0600, on first use) unless the key is loaded,
// sets Account from it and checks a given Account against it.
func (c *ClientConfig) loadKey() error {
	if c.key != nil || c.AccountKey == "" {
		return nil
	}
	k, _, err := account.LoadOrCreate(c.AccountKey)
	if err != nil {
		return fmt.Errorf("%w: account_key: %v", ErrConfig, err)
	}
	if !c.Account.IsZero() && c.Account != chainlink.AccountID(k) {
		return fmt.Errorf("%w: account %s, but account_key %s is the key of %s", ErrConfig, c.Account, c.AccountKey, k.Address())
	}
	c.SetKey(k)
	return nil
}

// Validate checks the configuration.
func (c *ClientConfig) Validate() error {
	if err := p2p.ValidateNetwork(c.Network); err != nil {
		return fmt.Errorf("%w: network: %v", ErrConfig, err)
	}
	if err := c.Chain.Validate(); err != nil {
		return err
	}
	if !c.Chain.IsSui() {
		if c.Ledger == "" {
			return fmt.Errorf("%w: ledger URL is required", ErrConfig)
		}
		if err := checkLedgerURL(c.Ledger); err != nil {
			return err
		}
	}
	if c.Account.IsZero() && c.AccountKey == "" && c.key == nil {
		return fmt.Errorf("%w: account_key (or at least account) is required", ErrConfig)
	}
	return nil
}

// Duration is a time.Duration written as text ("30s") in JSON.
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// LoadConfig reads a node configuration file.
func LoadConfig(path string) (Config, error) {
	var c Config
	if err := loadJSON(path, &c); err != nil {
		return c, err
	}
	if c.DataDir != "" && !filepath.IsAbs(c.DataDir) {
		// Relative to the config file, so a swarm directory can move.
		c.DataDir = filepath.Join(filepath.Dir(path), c.DataDir)
	}
	if c.OwnerKey != "" && !filepath.IsAbs(c.OwnerKey) {
		c.OwnerKey = filepath.Join(filepath.Dir(path), c.OwnerKey)
	}
	if c.Chain != nil && c.Chain.Key != "" && !filepath.IsAbs(c.Chain.Key) {
		c.Chain.Key = filepath.Join(filepath.Dir(path), c.Chain.Key)
	}
	if c.Chain != nil && c.Chain.IndexDir != "" && !filepath.IsAbs(c.Chain.IndexDir) {
		c.Chain.IndexDir = filepath.Join(filepath.Dir(path), c.Chain.IndexDir)
	}
	return c, c.Validate()
}

// LoadClientConfig reads a client configuration file and its account key
// (account_key, relative to the file).
func LoadClientConfig(path string) (ClientConfig, error) {
	var c ClientConfig
	if err := loadJSON(path, &c); err != nil {
		return c, err
	}
	if c.AccountKey != "" && !filepath.IsAbs(c.AccountKey) {
		c.AccountKey = filepath.Join(filepath.Dir(path), c.AccountKey)
	}
	if c.Chain != nil && c.Chain.Key != "" && !filepath.IsAbs(c.Chain.Key) {
		c.Chain.Key = filepath.Join(filepath.Dir(path), c.Chain.Key)
	}
	if c.Chain != nil && c.Chain.IndexDir != "" && !filepath.IsAbs(c.Chain.IndexDir) {
		c.Chain.IndexDir = filepath.Join(filepath.Dir(path), c.Chain.IndexDir)
	}
	if err := c.Validate(); err != nil {
		return c, err
	}
	return c, c.loadKey()
}

// loadJSON reads one JSON object from path into v. A key v does not have
// is refused and named (a misspelt key would otherwise be a setting
// silently left at its default), as is anything after the object.
func loadJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if msg, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return fmt.Errorf("%w: %s: unknown key %s (the keys are listed in cmd/floe/CONFIG.md)", ErrConfig, path, msg)
		}
		return fmt.Errorf("%w: %s: %v", ErrConfig, path, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: %s: more after the JSON object", ErrConfig, path)
	}
	return nil
}

// WriteJSON writes v to path atomically (temporary file, fsync, rename).
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, append(b, '\n'), 0o644)
}

// WriteFileAtomic writes data to path through a temporary file in the same
// directory, synced and renamed into place: readers never see a partial
// file, and a crash leaves the old one.
func WriteFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// sendingBudget bounds the sliver bytes a node's get-slivers answers hold
// at once: an eighth of the memory libp2p's limits scale from, at least
// 64 MiB. A sliver being sent is held twice (pebble's block, outside the
// Go heap, and its copy) before the stream's reservation counts it, and
// unbounded, a 6 GiB blob's reads took nodes capped at GOMEMLIMIT=768MiB
// past 1 GiB.
func (c Config) sendingBudget() int64 {
	mem := c.MaxMemory
	if mem <= 0 {
		mem, _ = host.DefaultMaxMemory()
	}
	return max(mem/8, 64<<20)
}

// OutsideGoHeap is what a node with this config holds outside the Go
// heap, which GOMEMLIMIT does not see: pebble's block cache and two
// memtables (allocated by pebble in C), and the pebble blocks of the
// slivers being sent (sendingBudget). `floe node run` takes it off the Go
// runtime's limit so GOMEMLIMIT bounds the whole process.
func (c Config) OutsideGoHeap() int64 {
	memtable := c.StoreMemTable
	if memtable <= 0 {
		memtable = 64 << 20
	}
	const blockCache = 64 << 20 // store.Options' default, which the node keeps
	return blockCache + 2*memtable + c.sendingBudget()
}
