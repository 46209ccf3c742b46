package node

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"floe/chainlink"
	"floe/chainlink/account"
	"floe/chainlink/sui"
	"floe/chainlink/sui/suisim"
	"floe/node/rest"
	"floe/p2p/host"
)

// DevnetConfig describes a local swarm in one process.
type DevnetConfig struct {
	// Nodes is the number of storage nodes (default 4).
	Nodes int
	// Shards is the number of shards (default 100). It is fixed when the
	// devnet's ledger is first created.
	Shards int
	// Dir holds the ledger, every node's data and the client config. It
	// survives restarts: starting a devnet on the same Dir resumes it.
	Dir string
	// LedgerListen is the loopback address the ledger is served on
	// (default 127.0.0.1:0, a free port).
	LedgerListen string
	// EpochDuration advances epochs automatically (0: only on request).
	EpochDuration time.Duration
	// NoSync skips fsync in the nodes' stores (benchmarks).
	NoSync bool
	// Byzantine lists nodes (by index) that serve corrupted data, for
	// fault experiments.
	Byzantine []int
	// ShardSyncFallback and ShardDropGrace are the nodes' epoch-change
	// settings (Config); devnet defaults 5s and 10s, so a change
	// completes in seconds.
	ShardSyncFallback time.Duration
	ShardDropGrace    time.Duration
	// SpaceLimit caps each node's stored bytes (Config.SpaceLimit; 0: none).
	SpaceLimit int64
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Chain is "" (or "ledger") for the embedded ledger served over HTTP,
	// or DevnetSuiSim for the same ledger behind the loopback Sui
	// stand-in (chainlink/sui/suisim), which nodes and clients reach
	// through the Sui adapter (chainlink/sui) over gRPC.
	Chain string
}

// DevnetSuiSim is the DevnetConfig.Chain of a devnet on the Sui stand-in.
const DevnetSuiSim = "sui-sim"

// Devnet is a local swarm: the embedded ledger, served over HTTP on
// loopback, and storage nodes on loopback, all in one process.
type Devnet struct {
	cfg       DevnetConfig
	Ledger    *chainlink.Ledger
	ledgerURL string
	nodes     []*Node
	configs   []Config
	hostCfg   host.Config
	client    ClientConfig
	bootstrap []string
	syncGate  chan struct{}
	stopServe context.CancelFunc
	served    chan error
	closeOnce sync.Once
	// sim is the Sui stand-in of a sui-sim devnet, suiChains the nodes'
	// Sui clients (by node index).
	sim       *suisim.Server
	suiChains map[int]*sui.Client
}

// ClientConfigFile is the name of the client config a devnet writes in its
// directory; ClientKeyFile that of the client's account key beside it.
const (
	ClientConfigFile = "client.json"
	ClientKeyFile    = "client.key"
)

// StartDevnet starts (or resumes) a devnet and returns once every node
// holds its shards of the current committee.
func StartDevnet(ctx context.Context, cfg DevnetConfig) (_ *Devnet, err error) {
	if cfg.Nodes == 0 {
		cfg.Nodes = 4
	}
	if cfg.Shards == 0 {
		cfg.Shards = 100
	}
	if cfg.Nodes < 1 || cfg.Nodes > chainlink.MaxActiveSetSize {
		return nil, fmt.Errorf("%w: %d nodes, want 1 to %d", ErrConfig, cfg.Nodes, chainlink.MaxActiveSetSize)
	}
	if cfg.Shards < cfg.Nodes {
		return nil, fmt.Errorf("%w: %d shards for %d nodes", ErrConfig, cfg.Shards, cfg.Nodes)
	}
	if cfg.Dir == "" {
		return nil, fmt.Errorf("%w: devnet needs a directory", ErrConfig)
	}
	if cfg.LedgerListen == "" {
		cfg.LedgerListen = "127.0.0.1:0"
	}
	// Checked before anything is opened: the devnet's ledger is a local
	// playground (its faucet is open).
	if h, _, err := net.SplitHostPort(cfg.LedgerListen); err != nil {
		return nil, fmt.Errorf("%w: ledger listen address %q: %v", ErrConfig, cfg.LedgerListen, err)
	} else if ip := net.ParseIP(h); h != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("%w: ledger listen address %q is not loopback: the devnet ledger serves on loopback only", ErrConfig, cfg.LedgerListen)
	}
	if cfg.ShardSyncFallback == 0 {
		cfg.ShardSyncFallback = 5 * time.Second
	}
	if cfg.ShardDropGrace == 0 {
		cfg.ShardDropGrace = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	d := &Devnet{cfg: cfg, served: make(chan error, 1)}
	// Undo what was started if a later step fails (d, not the result,
	// which a failing return sets to nil).
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	// The served ledger takes only signed changes, like any other; its
	// faucet is on (a devnet), and its epochs advance in process
	// (Devnet.AdvanceEpoch) or with the admin token in ledger/admin.token
	// (`floe ledger advance --ledger-dir DIR/ledger`).
	switch cfg.Chain {
	case "", ChainLedger:
	case DevnetSuiSim:
		if err := d.startSuiSim(ctx); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: devnet chain %q (want %q or %q)", ErrConfig, cfg.Chain, ChainLedger, DevnetSuiSim)
	}
	token, _, err := chainlink.LoadOrCreateAdminToken(filepath.Join(cfg.Dir, "ledger", chainlink.AdminTokenFile))
	if err != nil {
		return nil, err
	}
	if d.sim == nil {
		d.Ledger, err = chainlink.OpenDir(ctx, filepath.Join(cfg.Dir, "ledger"),
			chainlink.WithShards(cfg.Shards), chainlink.WithEpochDuration(cfg.EpochDuration),
			chainlink.WithLogger(cfg.Logger.With("role", "ledger")),
			chainlink.WithFaucet(chainlink.DefaultFaucetLimits), chainlink.WithAdminToken(token))
		if err != nil {
			return nil, fmt.Errorf("ledger: %w", ExplainDirLock(filepath.Join(cfg.Dir, "ledger"), err))
		}
		ln, err := net.Listen("tcp", cfg.LedgerListen)
		if err != nil {
			return nil, fmt.Errorf("ledger listen address %s: %w", cfg.LedgerListen, err)
		}
		if !ln.Addr().(*net.TCPAddr).IP.IsLoopback() {
			ln.Close()
			return nil, fmt.Errorf("%w: the devnet ledger serves on loopback only", ErrConfig)
		}
		d.ledgerURL = "http://" + ln.Addr().String()
		sctx, stop := context.WithCancel(context.Background())
		d.stopServe = stop
		go func() { d.served <- chainlink.ServeListener(sctx, ln, d.Ledger) }()
	}

	d.hostCfg = host.LoopbackConfig()
	d.hostCfg.MaxMemory = 2 << 30
	for range cfg.Nodes {
		if _, err := d.AddNode(ctx, DevnetStake); err != nil {
			return nil, err
		}
	}
	if err := d.ensureCommittee(ctx); err != nil {
		return nil, err
	}
	// The client's account key (created on first start), beside the
	// config that names it.
	ck, _, err := account.LoadOrCreate(filepath.Join(cfg.Dir, ClientKeyFile))
	if err != nil {
		return nil, fmt.Errorf("client key: %w", err)
	}
	d.client = ClientConfig{
		Network: "devnet", Ledger: d.ledgerURL, Bootstrap: d.bootstrap,
		AccountKey: ClientKeyFile, Faucet: true,
	}
	if d.sim != nil {
		d.client.Chain = d.suiChainConfig()
	}
	d.client.SetKey(ck)
	if err := WriteJSON(filepath.Join(cfg.Dir, ClientConfigFile), d.client); err != nil {
		return nil, err
	}
	return d, nil
}

// DevnetStake is the stake each devnet node registers with.
const DevnetStake = 1_000_000

// AddNode starts node number len(Nodes()) (or resumes it from its
// directory) with stake, registering it on first start. A new node joins
// the committee at the next epoch change.
func (d *Devnet) AddNode(ctx context.Context, stake uint64) (int, error) {
	i := len(d.configs)
	dataDir := filepath.Join(d.cfg.Dir, "node-"+strconv.Itoa(i))
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return 0, err
	}
	// Each node's owner is an account of its own, its key in the node's
	// directory (created on first start), as `floe node init` makes it.
	ownerKey, _, err := account.LoadOrCreate(filepath.Join(dataDir, OwnerKeyFile))
	if err != nil {
		return 0, fmt.Errorf("owner key of node %d: %w", i, err)
	}
	ncfg := Config{
		Name: "node-" + strconv.Itoa(i), Network: "devnet",
		DataDir: dataDir,
		Listen:  []string{"/ip4/127.0.0.1/tcp/0"},
		Ledger:  d.ledgerURL, Owner: chainlink.AccountID(ownerKey),
		Stake: stake, Faucet: true, NoSync: d.cfg.NoSync, Bootstrap: slices.Clone(d.bootstrap),
		ShardSyncFallback: Duration(d.cfg.ShardSyncFallback), ShardDropGrace: Duration(d.cfg.ShardDropGrace),
		SpaceLimit: d.cfg.SpaceLimit,
		// Every devnet node serves /metrics, /health and /ready on loopback.
		MetricsListen: "127.0.0.1:0",
		// and the Walrus storage-node REST API.
		RestListen: "127.0.0.1:0",
		// A devnet's nodes are small: pebble's preallocated logs would
		// dwarf their data with the default memtable.
		StoreMemTable: 8 << 20,
	}
	if slices.Contains(d.cfg.Byzantine, i) {
		ncfg.Byzantine = ByzantineCorrupt
	}
	d.configs = append(d.configs, ncfg)
	d.nodes = append(d.nodes, nil)
	if err := d.StartNode(ctx, i); err != nil {
		d.configs, d.nodes = d.configs[:i], d.nodes[:i]
		return 0, err
	}
	ai := d.nodes[i].AddrInfo()
	for _, a := range ai.Addrs {
		d.bootstrap = append(d.bootstrap, a.String()+"/p2p/"+ai.ID.String())
	}
	return i, nil
}

// Owner is the account that owns (and stakes) node i: the address of the
// key in its directory's owner.key.
func (d *Devnet) Owner(i int) chainlink.ID { return d.configs[i].Owner }

// devnetAccount derives a fixed address, with no key, from a name: for
// client configs that never sign (tests).
func devnetAccount(name string) chainlink.ID {
	return chainlink.ID(sha256.Sum256([]byte("floe devnet account " + name)))
}

// ensureCommittee starts an epoch with every node in the committee if the
// current one lacks any of them, then waits until each node has taken up
// its shards.
func (d *Devnet) ensureCommittee(ctx context.Context) error {
	st, err := d.Ledger.EpochState(ctx)
	if err != nil {
		return err
	}
	c, err := d.Ledger.Committee(ctx, st.Epoch)
	complete := err == nil
	for _, n := range d.nodes {
		if complete && c.Index(n.ID()) < 0 {
			complete = false
		}
	}
	if !complete {
		if st, err = d.Ledger.AdvanceEpoch(ctx); err != nil {
			return fmt.Errorf("starting the first committee: %w", err)
		}
	}
	return d.waitEpoch(ctx, st.Epoch)
}

// waitEpoch waits until every running node has applied epoch and, if the
// committee of epoch has it, taken up its shards.
func (d *Devnet) waitEpoch(ctx context.Context, epoch uint32) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := d.Ledger.Committee(ctx, epoch)
	if err != nil {
		return err
	}
	for _, n := range d.nodes {
		member := n != nil && c.Index(n.ID()) >= 0
		for n != nil && (n.Epoch() < epoch || (member && n.mig.snapshot().Epoch < epoch)) {
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s did not take up its shards of epoch %d: %w", n.cfg.Name, epoch, ctx.Err())
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	return nil
}

// StartNode starts node i again after StopNode (same keys and data).
func (d *Devnet) StartNode(ctx context.Context, i int) error {
	if d.nodes[i] != nil {
		return fmt.Errorf("node %d is running", i)
	}
	var chain chainlink.Chain = d.Ledger
	if d.sim != nil {
		c, err := d.nodeSuiChain(ctx, i)
		if err != nil {
			return err
		}
		chain = c
	}
	opts := Options{Chain: chain, Logger: d.cfg.Logger, HostConfig: &d.hostCfg, ShardSyncGate: d.syncGate}
	n, err := New(ctx, d.configs[i], opts)
	if err != nil && errors.Is(err, errRESTBind) && errors.Is(err, syscall.EADDRINUSE) {
		// The REST port it had was taken while it was down (loopback
		// ports are handed out to other sockets too): a free one, which
		// the node writes into its chain record as it starts.
		d.cfg.Logger.Warn("devnet: the node's REST port is taken; it moves to a free one", "node", d.configs[i].Name, "was", d.configs[i].RestListen)
		d.configs[i].RestListen = "127.0.0.1:0"
		n, err = New(ctx, d.configs[i], opts)
	}
	if err != nil {
		return fmt.Errorf("starting %s: %w", d.configs[i].Name, err)
	}
	d.nodes[i] = n
	// Restarts keep the address, as an operator's node does (the chain
	// and the peers' address books still point at it).
	if slices.Equal(d.configs[i].Listen, []string{"/ip4/127.0.0.1/tcp/0"}) {
		var listen []string
		for _, a := range n.host.Addrs() {
			listen = append(listen, a.String())
		}
		if len(listen) > 0 {
			d.configs[i].Listen = listen
		}
	}
	// and the REST API's, which its chain record names.
	if d.configs[i].RestListen == "127.0.0.1:0" && n.rest != nil && n.rest.srv != nil {
		if a := n.rest.srv.Addr(); a != nil {
			d.configs[i].RestListen = a.String()
		}
	}
	return nil
}

// StopNode stops node i cleanly; Nodes()[i] is nil until StartNode.
func (d *Devnet) StopNode(i int) error {
	n := d.nodes[i]
	if n == nil {
		return nil
	}
	d.nodes[i] = nil
	return n.Close()
}

// ClientConfig is the config of a client of this devnet.
func (d *Devnet) ClientConfig() ClientConfig { return d.client }

// ClientConfigPath is where the client config was written.
func (d *Devnet) ClientConfigPath() string { return filepath.Join(d.cfg.Dir, ClientConfigFile) }

// LedgerURL is the ledger's loopback HTTP address.
func (d *Devnet) LedgerURL() string { return d.ledgerURL }

// Nodes are the devnet's storage nodes.
func (d *Devnet) Nodes() []*Node { return d.nodes }

// AdvanceEpoch ends the current epoch and waits until every node applied
// the next one (expiry included).
func (d *Devnet) AdvanceEpoch(ctx context.Context) (uint32, error) {
	st, err := d.Ledger.AdvanceEpoch(ctx)
	if err != nil {
		return 0, err
	}
	return st.Epoch, d.waitEpoch(ctx, st.Epoch)
}

// Close stops every node, then the ledger.
func (d *Devnet) Close() error {
	var errs []error
	d.closeOnce.Do(func() {
		for _, n := range d.nodes {
			if n != nil {
				errs = append(errs, n.Close())
			}
		}
		for _, c := range d.suiChains {
			errs = append(errs, c.Close())
		}
		if d.sim != nil {
			// Closes the ledger too.
			errs = append(errs, d.sim.Close())
			return
		}
		if d.stopServe != nil {
			d.stopServe()
			errs = append(errs, <-d.served)
		}
		if d.Ledger != nil {
			errs = append(errs, d.Ledger.Close())
		}
	})
	return errors.Join(errs...)
}

// HoldShardSyncs makes the nodes started from now on hold the work on the
// shards they gain (sync and recovery of what it lacks) until
// ReleaseShardSyncs, so a test or experiment can observe an epoch change
// while the new owners hold nothing yet.
func (d *Devnet) HoldShardSyncs() {
	if d.syncGate == nil {
		d.syncGate = make(chan struct{})
	}
}

// ReleaseShardSyncs lets held shard syncs go on.
func (d *Devnet) ReleaseShardSyncs() {
	if d.syncGate != nil {
		close(d.syncGate)
		d.syncGate = nil
	}
}

// Configs are the nodes' configurations, by index.
func (d *Devnet) Configs() []Config { return d.configs }

// SyncDone waits until every running member of the current committee has
// reported its epoch sync done, or ctx ends.
func (d *Devnet) SyncDone(ctx context.Context) error {
	for {
		st, err := d.Ledger.EpochState(ctx)
		if err != nil {
			return err
		}
		c, err := d.Ledger.Committee(ctx, st.Epoch)
		if err != nil {
			return err
		}
		pending := ""
		for _, n := range d.nodes {
			if n == nil || c.Index(n.ID()) < 0 {
				continue
			}
			if ms := n.mig.snapshot(); ms.Epoch != st.Epoch || !ms.Reported {
				pending = n.cfg.Name
				break
			}
		}
		if pending == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s has not reported its sync of epoch %d: %w", pending, st.Epoch, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// MetricsAddrs are the running nodes' /metrics, /health and /ready
// addresses, by node index ("" for a stopped node).
func (d *Devnet) MetricsAddrs() []string {
	out := make([]string, len(d.nodes))
	for i, n := range d.nodes {
		if n != nil {
			out[i] = n.MetricsAddr()
		}
	}
	return out
}

// startSuiSim opens the devnet's ledger (DIR/ledger) behind the Sui
// stand-in, served on loopback; d.Ledger is its state machine.
func (d *Devnet) startSuiSim(ctx context.Context) error {
	cfg := d.cfg
	srv, err := suisim.StartDir(ctx, filepath.Join(cfg.Dir, "ledger"), cfg.LedgerListen, "127.0.0.1:0", cfg.Logger.With("role", "suisim"),
		chainlink.WithShards(cfg.Shards), chainlink.WithEpochDuration(cfg.EpochDuration),
		chainlink.WithLogger(cfg.Logger.With("role", "ledger")), chainlink.WithFaucet(chainlink.DefaultFaucetLimits))
	if err != nil {
		return fmt.Errorf("sui stand-in: %w", ExplainDirLock(filepath.Join(cfg.Dir, "ledger"), err))
	}
	d.sim, d.Ledger, d.suiChains = srv, srv.Sim.Ledger(), map[int]*sui.Client{}
	return nil
}

// suiChainConfig is the chain config of the stand-in for clients.
func (d *Devnet) suiChainConfig() *ChainConfig {
	return &ChainConfig{Kind: ChainSui, RPC: d.sim.RPCAddr, SystemObject: d.sim.Sim.System(),
		StakingObject: d.sim.Sim.Staking(), Faucet: d.sim.FaucetURL}
}

// SuiRPC is the stand-in's gRPC address ("" unless the devnet runs on
// sui-sim).
func (d *Devnet) SuiRPC() string {
	if d.sim == nil {
		return ""
	}
	return d.sim.RPCAddr
}

// nodeSuiChain is node i's Sui client: it signs with the owner's key
// (which holds the node's StorageNodeCap) and registers the node's REST
// network key.
func (d *Devnet) nodeSuiChain(ctx context.Context, i int) (*sui.Client, error) {
	if c := d.suiChains[i]; c != nil {
		return c, nil
	}
	cfg := d.configs[i]
	ownerKey, _, err := account.LoadOrCreate(filepath.Join(cfg.DataDir, OwnerKeyFile))
	if err != nil {
		return nil, fmt.Errorf("owner key of node %d: %w", i, err)
	}
	netKey, err := rest.LoadOrCreateNetworkKey(filepath.Join(cfg.DataDir, rest.NetworkKeyFile))
	if err != nil {
		return nil, fmt.Errorf("network key of node %d: %w", i, err)
	}
	keys := chainlink.NewKeyring()
	keys.AddAccount(ownerKey)
	cc := d.suiChainConfig()
	c, err := sui.Dial(ctx, sui.Config{RPC: cc.RPC, System: cc.SystemObject, Staking: cc.StakingObject, Keys: keys, Key: ownerKey,
		NetworkKey: netKey, FaucetURL: cc.Faucet, PollInterval: 50 * time.Millisecond, IndexDir: filepath.Join(cfg.DataDir, "sui-index"),
		Logger: d.cfg.Logger.With("role", "sui", "node", i)})
	if err != nil {
		return nil, fmt.Errorf("%w: sui stand-in: %w", ErrChain, err)
	}
	d.suiChains[i] = c
	return c, nil
}
