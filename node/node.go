package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/peer"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"golang.org/x/sync/semaphore"

	"floe/chainlink"
	"floe/chainlink/bls"
	"floe/codec"
	"floe/p2p"
	"floe/p2p/discovery"
	"floe/p2p/gossip"
	"floe/p2p/host"
	"floe/store"
)

// Options are what a caller can hand a node beyond its configuration.
type Options struct {
	// Chain, when set, is used instead of a client of Config.Ledger (a
	// devnet hands its nodes the embedded ledger).
	Chain chainlink.Chain
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// HostConfig, when set, replaces the libp2p host defaults (listen and
	// announce addresses and the identity path still come from Config).
	HostConfig *host.Config
	// ShardSyncGate, when set, holds the work on gained shards (sync and
	// the recovery of what it lacks) until it is closed: experiments and
	// tests use it to observe an epoch change in progress.
	ShardSyncGate <-chan struct{}
	// HostOptions are extra libp2p options for the node's host, appended
	// to HostConfig's ExtraOptions (host.Config.ExtraOptions): a simulated
	// network for many nodes in one process, a bandwidth reporter.
	HostOptions []libp2p.Option
}

// Stats are counters of what a node has done since it started.
type Stats struct {
	SliversStored    int64 `json:"slivers_stored"`    // slivers accepted from clients
	SliversRejected  int64 `json:"slivers_rejected"`  // slivers that failed verification or were not ours
	Confirmations    int64 `json:"confirmations"`     // storage confirmations signed
	SliversRecovered int64 `json:"slivers_recovered"` // slivers rebuilt from recovery symbols
	RecoveryBytes    int64 `json:"recovery_bytes"`    // recovery-symbol bytes fetched to rebuild them
	PairsRecovered   int64 `json:"pairs_recovered"`   // distinct sliver pairs touched by recovery
	BlobsExpired     int64 `json:"blobs_expired"`
	// Shard migration: slivers and bytes received by shard sync, gained
	// shards completed, sync sources caught serving bad data, lost shards
	// dropped after the change.
	SyncSlivers    int64 `json:"sync_slivers"`
	SyncBytes      int64 `json:"sync_bytes"`
	ShardsMigrated int64 `json:"shards_migrated"`
	SyncLiars      int64 `json:"sync_liars"`
	ShardsDropped  int64 `json:"shards_dropped"`
	// Shard sync served to new owners.
	SyncServedSlivers int64 `json:"sync_served_slivers"`
	SyncServedBytes   int64 `json:"sync_served_bytes"`
	// Recovery symbols served to peers, and the source slivers expanded
	// to serve them (each is expanded once while it stays cached).
	RecoverySymbolsServed int64 `json:"recovery_symbols_served"`
	SymbolSourcesBuilt    int64 `json:"symbol_sources_built"`
}

// Node is a storage node: it holds the slivers of its shards, verifies what
// it is sent, signs confirmations, recovers what it missed and serves reads.
type Node struct {
	cfg    Config
	log    *slog.Logger
	chain  chainlink.Chain
	store  *store.Store
	host   *host.Host
	disc   *discovery.Discovery
	gossip *gossip.Gossip
	gsp    *nodeGossip // the node's subscriptions and validators (gossip.go)
	server *p2p.Server
	client *p2p.Client
	key    *bls.SecretKey
	pk     bls.PublicKey
	id     chainlink.ID
	params codec.Params
	comms  *committees
	cursor cursorFile
	// cursorLoaded: the cursor was read, so shutdown may save it (a
	// start that fails earlier must not overwrite it with 0).
	cursorLoaded bool
	mig          *migration
	recq         *recoveryQueue
	space        *spaceWatch
	metrics      *nodeMetrics
	// lastApplied is when the follower last applied an event (unix ns).
	lastApplied atomic.Int64
	// stopMetrics ends the metrics listener (nil: none); MetricsAddr is
	// where it listens.
	stopMetrics func()
	metricsAddr string
	rest        *restState // the REST listener (rest_node.go; nil: none)
	pend        *pendingGate
	// chainLook caches chainAhead's last look at the chain's epoch
	// (handler.go); takeUpHook, when set (tests), is called as a put
	// starts waiting for the node to take up a shard (awaitShard).
	chainLook  chainLook
	takeUpHook atomic.Pointer[func(*Node)]
	// sendHook, when set (tests), is asked before each get-slivers item
	// is loaded; an error it returns is that item's answer.
	sendHook atomic.Pointer[func(p2p.SliverRef) error]
	// sending bounds the sliver bytes get-slivers answers hold at once,
	// from before a sliver is loaded until it is written (sendingBudget).
	sending       *semaphore.Weighted
	sendingBudget int64
	// putHook, when set (tests), is called before each put-slivers
	// batch is looked at; an error refuses the batch.
	putHook atomic.Pointer[func(context.Context) error]

	meta    *metaCache
	symbols *symbolCache

	mu       sync.Mutex
	epoch    uint32
	view     *committeeView // committee of epoch (nil: none)
	shards   map[int]bool   // assigned in epoch (migrate.go changes it)
	attested map[codec.BlobID]bool
	applied  uint64 // last event applied

	stats struct {
		stored, rejected, confirmations, recovered, recoveryBytes, pairs, expired atomic.Int64
		syncSlivers, syncBytes, shardsMigrated, syncLiars, shardsDropped          atomic.Int64
		syncServedSlivers, syncServedBytes                                        atomic.Int64
		symbolsServed, sourcesBuilt                                               atomic.Int64
	}

	runCtx context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool
}

// New starts a storage node: it opens its store, creates its keys on first
// start, starts its libp2p host, registers on the chain (or updates its
// addresses), and begins following chain events and serving peers.
func New(ctx context.Context, cfg Config, opts Options) (_ *Node, err error) {
	// The network name (with the rest of cfg) is checked before anything
	// is created, opened or registered.
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("node", cfg.Name)
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	key, err := loadOrCreateBLSKey(filepath.Join(cfg.DataDir, "bls.key"))
	if err != nil {
		return nil, err
	}
	ownerKey, err := loadOwnerKey(cfg)
	if err != nil {
		return nil, err
	}
	chain := opts.Chain
	if chain == nil {
		if cfg.Ledger == "" {
			return nil, fmt.Errorf("%w: ledger URL is required", ErrConfig)
		}
		// The node signs its registration with the owner's key and its
		// record updates and epoch-sync reports with its BLS key.
		chain = chainlink.NewClient(cfg.Ledger, nil, chainlink.ClientNodeKey(key), chainlink.ClientAccountKey(ownerKey))
	}
	st, err := chain.EpochState(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrChain, err)
	}
	params, err := codec.NewParams(st.NShards)
	if err != nil {
		return nil, err
	}
	n := &Node{
		cfg: cfg, log: log, chain: chain, key: key, pk: key.PublicKey(), params: params,
		comms: newCommittees(chain), cursor: cursorFile{filepath.Join(cfg.DataDir, "chain.cursor")},
		meta: newMetaCache(256), symbols: newSymbolCache(128 << 20),
		shards: map[int]bool{}, attested: map[codec.BlobID]bool{},
	}
	n.sendingBudget = cfg.sendingBudget()
	n.sending = semaphore.NewWeighted(n.sendingBudget)
	n.recq = newRecoveryQueue(cfg.RecoveryWorkers, log, n.recoverBlob)
	n.space = newSpaceWatch()
	n.metrics = newNodeMetrics()
	n.lastApplied.Store(time.Now().UnixNano())
	n.pend = newPendingGate()
	// Undo whatever was started if a later step fails (n, not the result,
	// which a failing return sets to nil).
	defer func() {
		if err != nil {
			n.shutdown()
		}
	}()
	n.store, err = store.Open(ctx, store.Options{
		Path: filepath.Join(cfg.DataDir, "store"), SpaceLimit: cfg.SpaceLimit, NoSync: cfg.NoSync, Logger: log,
		MinFreeDisk: cfg.MinFreeDisk, MemTableSize: cfg.StoreMemTable,
	})
	if err != nil {
		return nil, fmt.Errorf("store: %w", ExplainDirLock(filepath.Join(cfg.DataDir, "store"), err))
	}
	for _, s := range n.store.Shards() {
		n.shards[s] = true
	}
	if n.mig, err = newMigration(n, opts.ShardSyncGate); err != nil {
		return nil, err
	}
	hc := host.DefaultConfig()
	if opts.HostConfig != nil {
		hc = *opts.HostConfig
	}
	hc.IdentityPath = filepath.Join(cfg.DataDir, "identity.key")
	hc.ListenAddrs = cfg.Listen
	hc.AnnounceAddrs = cfg.Announce
	if cfg.MaxMemory > 0 {
		hc.MaxMemory = cfg.MaxMemory
	}
	if cfg.MaxFDs > 0 {
		hc.MaxFDs = cfg.MaxFDs
	}
	hc.Logger = log
	hc.AdjustLimits = func(l *rcmgr.ScalingLimitConfig) { p2p.AddProtocolLimits(l, cfg.Network, params) }
	hc.ExtraOptions = append(slices.Clip(hc.ExtraOptions), opts.HostOptions...)
	if n.host, err = host.New(hc); err != nil {
		return nil, fmt.Errorf("libp2p host: %w", err)
	}
	// The REST listener is bound first: its URL and network key go in
	// the node's chain record.
	if err := n.listenREST(); err != nil {
		return nil, err
	}
	if err := n.register(ctx); err != nil {
		return nil, err
	}
	scfg := p2p.DefaultServerConfig(cfg.Network, params)
	// A recovering committee peer asks for one target sliver per request;
	// allow it to rebuild a whole shard's worth without being throttled.
	scfg.RateLimit = p2p.RateLimit{Rate: 2000, Burst: 4000}
	scfg.Logger = log
	// Committee members (current and previous: the peers the host
	// protects) get reserved stream slots and are never gated.
	scfg.Admission.Preferred = n.host.IsProtected
	scfg.Gate = n.host.Gate
	pm, err := p2p.NewMetrics(n.metrics.reg)
	if err != nil {
		return nil, err
	}
	scfg.Metrics = pm
	n.metrics.reg.MustRegister(n.host.Collector(p2p.ServiceName), nodeCollector{n})
	if n.server, err = p2p.NewServer(n.host, &handler{n: n, maxSyncBytes: p2p.LimitsFor(params).MaxSyncBytes}, scfg); err != nil {
		return nil, err
	}
	ccfg := p2p.DefaultClientConfig(cfg.Network, params)
	ccfg.Metrics = pm
	if n.client, err = p2p.NewClient(n.host, ccfg); err != nil {
		return nil, err
	}
	if cfg.MetricsListen != "" {
		if n.stopMetrics, n.metricsAddr, err = n.serveMetrics(cfg.MetricsListen, cfg.MetricsAllowRemote); err != nil {
			return nil, err
		}
	}
	dcfg := discovery.DefaultConfig(cfg.Network, discovery.ModeServer)
	dcfg.Logger = log
	if dcfg.BootstrapPeers, err = parsePeers(cfg.Bootstrap); err != nil {
		return nil, err
	}
	if n.disc, err = discovery.New(n.host, dcfg); err != nil {
		return nil, err
	}
	n.gsp = newNodeGossip(n)
	gcfg := gossip.DefaultConfig(cfg.Network, countVerdicts(n.metrics, "attestations", n.gsp.validateAttestation),
		countVerdicts(n.metrics, "notices", n.gsp.validateNotice))
	gcfg.Logger = log
	if n.gossip, err = gossip.New(n.host, gcfg); err != nil {
		return nil, err
	}
	if err := n.gsp.start(n.gossip); err != nil {
		return nil, err
	}
	// Streams are served once everything a handler touches (gossip for
	// attestations) exists.
	if err := n.server.Start(ctx); err != nil {
		return nil, err
	}
	// The REST API (rest_listen) serves from the same handler.
	if err := n.serveREST(scfg.RateLimit); err != nil {
		return nil, err
	}
	applied, err := n.cursor.load()
	if err != nil {
		return nil, err
	}
	n.applied, n.cursorLoaded = applied, true
	if err := n.refreshEpoch(ctx); err != nil && !errors.Is(err, ErrNoCommittee) {
		return nil, err
	}
	if err := n.mig.resume(ctx, applied); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	n.runCtx, n.cancel = runCtx, cancel
	if len(dcfg.BootstrapPeers) == 0 {
		// No bootstrap list: join the DHT through the committee, dialling
		// by the committee rule (p2p/host/dial.go: the lower peer ID
		// dials; the higher one dials only peers that have not come by
		// host.LateDialWait). Best effort: peers may be down.
		if v := n.currentView(); v != nil {
			waiting := n.host.ConnectCommittee(ctx, v.peers)
			n.wg.Add(1)
			go func() { defer n.wg.Done(); n.host.ConnectLate(runCtx, waiting, host.LateDialWait) }()
		}
	}
	if err := n.disc.Start(runCtx); err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	n.wg.Add(5)
	go n.follow(runCtx)
	go func() { defer n.wg.Done(); n.prunePendingLoop(runCtx) }()
	go func() { defer n.wg.Done(); n.reclaimLoop(runCtx) }()
	go func() { defer n.wg.Done(); n.recq.loop(runCtx) }()
	go func() { defer n.wg.Done(); n.mig.loop(runCtx) }()
	n.wg.Add(1)
	go func() { defer n.wg.Done(); n.gsp.run(runCtx) }()
	log.Info("storage node started", "node_id", n.id, "peer", n.host.ID(), "addrs", n.host.Addrs(), "shards", len(n.Shards()))
	return n, nil
}

// register registers the node on the chain, or updates its peer ID,
// addresses, REST URL and network key if it is registered already (found
// by its BLS key). Over HTTP the registration is signed by the owner's key
// (Config.OwnerKey) and the update by the node's BLS key.
func (n *Node) register(ctx context.Context) error {
	addrs := n.announced()
	netAddr, netKey := n.RESTURL(), n.NetworkPublicKey()
	nodes, err := n.chain.Nodes(ctx)
	if err != nil {
		return fmt.Errorf("%w: listing nodes: %w", ErrChain, err)
	}
	for _, nd := range nodes {
		if nd.PublicKey != n.pk {
			continue
		}
		n.id = nd.ID
		if nd.Owner != n.cfg.Owner {
			n.log.Warn("the node is registered with another owner than configured", "registered", nd.Owner, "configured", n.cfg.Owner)
		}
		// Without a REST API the node withdraws its URL; the key a chain
		// keeps anyway (Sui) is left alone.
		if nd.PeerID != n.host.ID().String() || !slices.Equal(nd.Addresses, addrs) || nd.NetworkAddress != netAddr ||
			(len(netKey) > 0 && !bytes.Equal(nd.NetworkPublicKey, netKey)) {
			// The BLS key authorises the update; the owner named is the
			// registered one.
			if _, err := n.chain.UpdateNode(ctx, chainlink.UpdateNodeRequest{
				Owner: nd.Owner, NodeID: nd.ID, PeerID: n.host.ID().String(), Addresses: addrs,
				NetworkAddress: netAddr, NetworkPublicKey: netKey,
			}); err != nil {
				return fmt.Errorf("%w: updating node info: %w", ErrChain, err)
			}
		}
		return nil
	}
	if n.cfg.Faucet && n.cfg.Stake > 0 {
		if _, err := n.chain.Faucet(ctx, n.cfg.Owner, n.cfg.Stake); err != nil {
			return fmt.Errorf("%w: faucet: %w", ErrChain, err)
		}
	}
	// The proof of possession names the epoch; retry once if it changes
	// under us.
	for attempt := 0; ; attempt++ {
		st, err := n.chain.EpochState(ctx)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrChain, err)
		}
		nd, err := n.chain.RegisterNode(ctx, chainlink.RegisterNodeRequest{
			Owner: n.cfg.Owner, Name: n.cfg.Name, PeerID: n.host.ID().String(), Addresses: addrs,
			PublicKey: n.pk, ProofOfPossession: n.key.ProofOfPossession(st.Epoch, n.cfg.Owner), Stake: n.cfg.Stake,
			NetworkAddress: netAddr, NetworkPublicKey: netKey,
		})
		if err == nil {
			n.id = nd.ID
			n.log.Info("registered on chain", "node_id", nd.ID, "stake", nd.Stake)
			return nil
		}
		if errors.Is(err, chainlink.ErrNoKey) {
			return fmt.Errorf("%w: registering node: the owner's key signs the registration: give owner_key in the config (or put it in %s): %w",
				ErrConfig, filepath.Join(n.cfg.DataDir, OwnerKeyFile), err)
		}
		if attempt > 0 || errors.Is(err, chainlink.ErrAlreadyRegistered) || errors.Is(err, chainlink.ErrInsufficientFunds) ||
			errors.Is(err, chainlink.ErrUnauthorized) {
			return fmt.Errorf("%w: registering node: %w", ErrChain, err)
		}
	}
}

func (n *Node) announced() []string {
	out := make([]string, 0, 4)
	for _, a := range n.host.Addrs() {
		out = append(out, a.String())
	}
	return out
}

// refreshEpoch loads the current epoch and its committee. The node's
// shards change only when an epoch change is planned (migrate.go).
func (n *Node) refreshEpoch(ctx context.Context) error {
	st, v, err := n.comms.current(ctx)
	if err != nil {
		n.mu.Lock()
		n.epoch = st.Epoch
		n.view = nil
		n.mu.Unlock()
		return err
	}
	// Members of this and the previous committee are the peers that
	// sync shards and recover from each other: the committee class of the
	// resource manager.
	peers := make([]peer.ID, 0, 2*len(v.peers))
	for _, pi := range v.peers {
		if pi.ID != "" {
			peers = append(peers, pi.ID)
		}
	}
	if st.Epoch > 0 {
		if pv, err := n.comms.get(ctx, st.Epoch-1); err == nil {
			for _, pi := range pv.peers {
				if pi.ID != "" {
					peers = append(peers, pi.ID)
				}
			}
		}
	}
	n.store.SetEpoch(uint64(st.Epoch))
	n.host.SetCommittee(peers)
	n.mu.Lock()
	n.epoch = st.Epoch
	n.view = v
	n.mu.Unlock()
	return nil
}

func (n *Node) currentView() *committeeView {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.view
}

func (n *Node) holds(shard int) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.shards[shard]
}

// ID is the node's ID on the chain.
func (n *Node) ID() chainlink.ID { return n.id }

// PeerID is the node's libp2p identity.
func (n *Node) PeerID() peer.ID { return n.host.ID() }

// AddrInfo is the node's peer ID and addresses.
func (n *Node) AddrInfo() peer.AddrInfo { return n.host.AddrInfo() }

// Shards returns the shards the node holds in the current epoch.
func (n *Node) Shards() []int { return n.store.Shards() }

// Epoch returns the epoch the node has applied.
func (n *Node) Epoch() uint32 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.epoch
}

// MetricsAddr is where the node serves /metrics, /health and /ready
// ("" when Config.MetricsListen is empty).
func (n *Node) MetricsAddr() string { return n.metricsAddr }

// Store exposes the node's store (for tests and tooling).
func (n *Node) Store() *store.Store { return n.store }

// Stats returns the node's counters.
func (n *Node) Stats() Stats {
	return Stats{
		SliversStored: n.stats.stored.Load(), SliversRejected: n.stats.rejected.Load(),
		Confirmations: n.stats.confirmations.Load(), SliversRecovered: n.stats.recovered.Load(),
		RecoveryBytes: n.stats.recoveryBytes.Load(), PairsRecovered: n.stats.pairs.Load(),
		BlobsExpired: n.stats.expired.Load(),
		SyncSlivers:  n.stats.syncSlivers.Load(), SyncBytes: n.stats.syncBytes.Load(),
		ShardsMigrated: n.stats.shardsMigrated.Load(), SyncLiars: n.stats.syncLiars.Load(),
		ShardsDropped:     n.stats.shardsDropped.Load(),
		SyncServedSlivers: n.stats.syncServedSlivers.Load(), SyncServedBytes: n.stats.syncServedBytes.Load(),
		RecoverySymbolsServed: n.stats.symbolsServed.Load(), SymbolSourcesBuilt: n.stats.sourcesBuilt.Load(),
	}
}

// Close stops the node: it stops serving, waits for its workers, saves the
// chain cursor and closes the store.
func (n *Node) Close() error {
	if n.closed.Swap(true) {
		return nil
	}
	return n.shutdown()
}

func (n *Node) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	if n.stopMetrics != nil {
		n.stopMetrics()
	}
	errs = append(errs, n.stopREST(ctx))
	if n.server != nil {
		errs = append(errs, n.server.Stop(ctx))
	}
	if n.cancel != nil {
		n.cancel()
	}
	n.wg.Wait()
	if n.gossip != nil {
		errs = append(errs, n.gossip.Close())
	}
	if n.disc != nil {
		errs = append(errs, n.disc.Stop(ctx))
	}
	if n.host != nil {
		errs = append(errs, n.host.Close())
	}
	if n.store != nil {
		if n.cursorLoaded {
			n.saveCursor()
		}
		errs = append(errs, n.store.Close())
	}
	return errors.Join(errs...)
}

// DirInUseError says that a database directory is locked by another
// process: most likely another floe (a second copy of a node, a devnet or
// a ledger) using the same directory.
type DirInUseError struct {
	Dir string
	Err error // the lock error
}

func (e *DirInUseError) Error() string {
	if errors.Is(e.Err, errLockedHere) {
		return fmt.Sprintf("%s is locked: this process uses it already", e.Dir)
	}
	return fmt.Sprintf("%s is locked: another floe process probably uses it (%v)", e.Dir, e.Err)
}

func (e *DirInUseError) Unwrap() error { return e.Err }

// errLockedHere is pebble's refusal to lock a directory twice in one
// process (a plain error string, not an errno).
var errLockedHere = errors.New("lock held by current process")

// ExplainDirLock returns a *DirInUseError if err (from opening the pebble
// database in dir) failed because another process holds dir's lock, and
// err otherwise.
func ExplainDirLock(dir string, err error) error {
	// The lock is taken with fcntl(F_SETLK), which fails with EAGAIN or
	// EACCES, unwrapped; a *PathError is another failure (say, creating
	// the LOCK file without permission).
	var errno syscall.Errno
	var pathErr *os.PathError
	if errors.As(err, &errno) && !errors.As(err, &pathErr) && (errno == syscall.EAGAIN || errno == syscall.EACCES) {
		return &DirInUseError{Dir: dir, Err: errno}
	}
	if err != nil && strings.HasSuffix(err.Error(), errLockedHere.Error()) {
		return &DirInUseError{Dir: dir, Err: errLockedHere}
	}
	return err
}

func parsePeers(addrs []string) ([]peer.AddrInfo, error) {
	var out []peer.AddrInfo
	for _, a := range addrs {
		ai, err := peer.AddrInfoFromString(a)
		if err != nil {
			return nil, fmt.Errorf("%w: bootstrap %q: %v", ErrConfig, a, err)
		}
		out = append(out, *ai)
	}
	return out, nil
}
