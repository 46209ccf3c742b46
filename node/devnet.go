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
	"time"

	"floe/chainlink"
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
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

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
	stopServe context.CancelFunc
	served    chan error
	closeOnce sync.Once
}

// ClientConfigFile is the name of the client config a devnet writes in its
// directory.
const ClientConfigFile = "client.json"

// StartDevnet starts (or resumes) a devnet and returns once every node
// holds its shards of the current committee.
func StartDevnet(ctx context.Context, cfg DevnetConfig) (d *Devnet, err error) {
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
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	d = &Devnet{cfg: cfg, served: make(chan error, 1)}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	d.Ledger, err = chainlink.OpenDir(ctx, filepath.Join(cfg.Dir, "ledger"),
		chainlink.WithShards(cfg.Shards), chainlink.WithEpochDuration(cfg.EpochDuration),
		chainlink.WithLogger(cfg.Logger.With("role", "ledger")))
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.LedgerListen)
	if err != nil {
		return nil, fmt.Errorf("ledger listener: %w", err)
	}
	if !ln.Addr().(*net.TCPAddr).IP.IsLoopback() {
		ln.Close()
		return nil, fmt.Errorf("%w: the devnet ledger serves on loopback only", ErrConfig)
	}
	d.ledgerURL = "http://" + ln.Addr().String()
	sctx, stop := context.WithCancel(context.Background())
	d.stopServe = stop
	go func() { d.served <- chainlink.ServeListener(sctx, ln, d.Ledger) }()

	d.hostCfg = host.LoopbackConfig()
	d.hostCfg.MaxMemory = 2 << 30
	var bootstrap []string
	for i := range cfg.Nodes {
		ncfg := Config{
			Name: "node-" + strconv.Itoa(i), Network: "devnet",
			DataDir: filepath.Join(cfg.Dir, "node-"+strconv.Itoa(i)),
			Listen:  []string{"/ip4/127.0.0.1/tcp/0"},
			Ledger:  d.ledgerURL, Owner: devnetAccount("owner-" + strconv.Itoa(i)),
			Stake: 1_000_000, Faucet: true, NoSync: cfg.NoSync, Bootstrap: bootstrap,
		}
		if slices.Contains(cfg.Byzantine, i) {
			ncfg.Byzantine = ByzantineCorrupt
		}
		d.configs = append(d.configs, ncfg)
		d.nodes = append(d.nodes, nil)
		if err := d.StartNode(ctx, i); err != nil {
			return nil, err
		}
		ai := d.nodes[i].AddrInfo()
		for _, a := range ai.Addrs {
			bootstrap = append(bootstrap, a.String()+"/p2p/"+ai.ID.String())
		}
	}
	if err := d.ensureCommittee(ctx); err != nil {
		return nil, err
	}
	d.client = ClientConfig{
		Network: "devnet", Ledger: d.ledgerURL, Bootstrap: bootstrap,
		Account: devnetAccount("client"), Faucet: true,
	}
	if err := WriteJSON(filepath.Join(cfg.Dir, ClientConfigFile), d.client); err != nil {
		return nil, err
	}
	return d, nil
}

// devnetAccount derives a fixed account address from a name.
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

// waitEpoch waits until every running node has applied epoch and holds
// shards in it.
func (d *Devnet) waitEpoch(ctx context.Context, epoch uint32) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, n := range d.nodes {
		for n != nil && (n.Epoch() < epoch || len(n.Shards()) == 0) {
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
	n, err := New(ctx, d.configs[i], Options{Chain: d.Ledger, Logger: d.cfg.Logger, HostConfig: &d.hostCfg})
	if err != nil {
		return fmt.Errorf("starting %s: %w", d.configs[i].Name, err)
	}
	d.nodes[i] = n
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
