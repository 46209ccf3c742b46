package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/multiformats/go-multihash"

	"floe/p2p"
)

// Mode says whether this peer serves the DHT.
type Mode int

const (
	// ModeServer answers DHT queries and stores provider records: storage
	// nodes.
	ModeServer Mode = iota
	// ModeClient only queries: light clients, publishers, gateways.
	ModeClient
)

// Config configures discovery.
type Config struct {
	// Network is the network name; the DHT runs under /floe/<network> and
	// shard keys are derived from it, so networks never mix.
	Network string
	// Mode is ModeServer for storage nodes, ModeClient for light clients.
	Mode Mode
	// BootstrapPeers are dialled at Start and used to fill the routing
	// table (any known committee members will do). The public IPFS
	// bootstrappers are never used.
	BootstrapPeers []peer.AddrInfo
	// ReprovideInterval is how often every held shard is announced again.
	// Provider records live 48 h in kad-dht; 12 h keeps them fresh through
	// a missed round or two.
	ReprovideInterval time.Duration
	// RetryInterval is how soon a failed announcement (e.g. an empty
	// routing table at start) is tried again.
	RetryInterval time.Duration
	// ProvideTimeout bounds the announcement of one shard.
	ProvideTimeout time.Duration
	// DialTimeout bounds the reachability check of each holder found.
	DialTimeout time.Duration
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns the defaults for a network and mode.
func DefaultConfig(network string, mode Mode) Config {
	return Config{
		Network:           network,
		Mode:              mode,
		ReprovideInterval: 12 * time.Hour,
		RetryInterval:     30 * time.Second,
		ProvideTimeout:    time.Minute,
		DialTimeout:       10 * time.Second,
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if err := p2p.ValidateNetwork(c.Network); err != nil {
		return fmt.Errorf("p2p/discovery: %w", err)
	}
	if c.Mode != ModeServer && c.Mode != ModeClient {
		return fmt.Errorf("p2p/discovery: mode %d", c.Mode)
	}
	if c.ReprovideInterval <= 0 || c.RetryInterval <= 0 || c.ProvideTimeout <= 0 || c.DialTimeout <= 0 {
		return errors.New("p2p/discovery: intervals and timeouts must be positive")
	}
	if c.ReprovideInterval > 24*time.Hour {
		return errors.New("p2p/discovery: ReprovideInterval above 24h lets provider records (48h) lapse after one failure")
	}
	return nil
}

// ShardKey is the DHT key of a shard: a CIDv1 (raw codec) of the SHA2-256
// multihash of "floe/<network>/shard/<index>".
func ShardKey(network string, shard uint16) cid.Cid {
	mh, err := multihash.Sum([]byte("floe/"+network+"/shard/"+strconv.Itoa(int(shard))), multihash.SHA2_256, -1)
	if err != nil {
		panic(err) // SHA2-256 is always registered
	}
	return cid.NewCidV1(cid.Raw, mh)
}

// Discovery announces the shards this node holds on the DHT and finds the
// holders of any shard.
type Discovery struct {
	cfg Config
	h   host.Host
	dht *dht.IpfsDHT
	log *slog.Logger

	mu       sync.Mutex
	shards   map[uint16]struct{} // held
	pending  map[uint16]struct{} // held but not yet announced in this round
	kick     chan struct{}
	cancel   context.CancelFunc
	done     chan struct{}
	provided map[uint16]time.Time // last successful announcement
}

// New creates the DHT on h (not yet bootstrapped).
func New(h host.Host, cfg Config) (*Discovery, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	mode := dht.ModeServer
	if cfg.Mode == ModeClient {
		mode = dht.ModeClient
	}
	opts := []dht.Option{
		dht.Mode(mode),
		dht.ProtocolPrefix(protocol.ID("/floe/" + cfg.Network)),
		dht.BootstrapPeers(cfg.BootstrapPeers...),
		// floe stores no values in the DHT, only provider records.
		dht.DisableValues(),
	}
	d, err := dht.New(h, opts...)
	if err != nil {
		return nil, fmt.Errorf("p2p/discovery: %w", err)
	}
	return &Discovery{
		cfg: cfg, h: h, dht: d, log: log,
		shards: make(map[uint16]struct{}), pending: make(map[uint16]struct{}),
		provided: make(map[uint16]time.Time), kick: make(chan struct{}, 1),
	}, nil
}

// DHT exposes the underlying kad-dht (for routing-table inspection).
func (d *Discovery) DHT() *dht.IpfsDHT { return d.dht }

// Start dials the bootstrap peers, bootstraps the DHT and starts the
// announcement loop. It does not wait for the routing table to fill (see
// WaitReady).
func (d *Discovery) Start(ctx context.Context) error {
	d.mu.Lock()
	if d.cancel != nil {
		d.mu.Unlock()
		return errors.New("p2p/discovery: already started")
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	d.cancel, d.done = cancel, make(chan struct{})
	d.mu.Unlock()

	var wg sync.WaitGroup
	for _, ai := range d.cfg.BootstrapPeers {
		if ai.ID == d.h.ID() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, d.cfg.DialTimeout)
			defer cancel()
			if err := d.h.Connect(cctx, ai); err != nil {
				d.log.Warn("p2p/discovery: bootstrap peer unreachable", "peer", ai.ID, "err", err)
			}
		}()
	}
	wg.Wait()
	if err := d.dht.Bootstrap(loopCtx); err != nil {
		cancel()
		return fmt.Errorf("p2p/discovery: bootstrap: %w", err)
	}
	go d.loop(loopCtx)
	return nil
}

// Stop ends the announcement loop and closes the DHT. Provider records
// already stored at other peers expire on their own (48 h).
func (d *Discovery) Stop(ctx context.Context) error {
	d.mu.Lock()
	cancel, done := d.cancel, d.done
	d.mu.Unlock()
	if cancel != nil {
		cancel()
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return d.dht.Close()
}

// WaitReady waits until the routing table holds at least min peers.
func (d *Discovery) WaitReady(ctx context.Context, min int) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for d.dht.RoutingTable().Size() < min {
		select {
		case <-ctx.Done():
			return fmt.Errorf("p2p/discovery: routing table has %d of %d peers: %w", d.dht.RoutingTable().Size(), min, ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// SetShards declares the shards this node holds now (after a committee
// change, a shard migration). New shards are announced at once (in the
// background, retried every RetryInterval until they succeed); dropped ones
// are no longer re-announced and their records expire.
func (d *Discovery) SetShards(shards []uint16) {
	d.mu.Lock()
	next := make(map[uint16]struct{}, len(shards))
	for _, s := range shards {
		next[s] = struct{}{}
		if _, ok := d.shards[s]; !ok {
			d.pending[s] = struct{}{}
		}
	}
	for s := range d.pending {
		if _, ok := next[s]; !ok {
			delete(d.pending, s)
		}
	}
	for s := range d.provided {
		if _, ok := next[s]; !ok {
			delete(d.provided, s)
		}
	}
	d.shards = next
	d.mu.Unlock()
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Provided reports the shards announced successfully at least once since
// they were set, in ascending order.
func (d *Discovery) Provided() []uint16 {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]uint16, 0, len(d.provided))
	for s := range d.provided {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// Provide announces one shard now and returns the result (SetShards does
// this in the background).
func (d *Discovery) Provide(ctx context.Context, shard uint16) error {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.ProvideTimeout)
	defer cancel()
	if err := d.dht.Provide(ctx, ShardKey(d.cfg.Network, shard), true); err != nil {
		return fmt.Errorf("p2p/discovery: provide shard %d: %w", shard, err)
	}
	return nil
}

func (d *Discovery) loop(ctx context.Context) {
	defer close(d.done)
	retry := time.NewTimer(d.cfg.RetryInterval)
	reprovide := time.NewTicker(d.cfg.ReprovideInterval)
	defer retry.Stop()
	defer reprovide.Stop()
	for {
		d.announcePending(ctx)
		d.mu.Lock()
		failed := len(d.pending) > 0
		d.mu.Unlock()
		if failed {
			retry.Reset(d.cfg.RetryInterval)
		}
		select {
		case <-ctx.Done():
			return
		case <-d.kick:
		case <-retry.C:
		case <-reprovide.C:
			d.mu.Lock()
			for s := range d.shards {
				d.pending[s] = struct{}{}
			}
			d.mu.Unlock()
		}
	}
}

// announcePending provides every pending shard, a few at a time.
func (d *Discovery) announcePending(ctx context.Context) {
	d.mu.Lock()
	todo := make([]uint16, 0, len(d.pending))
	for s := range d.pending {
		todo = append(todo, s)
	}
	d.mu.Unlock()
	if len(todo) == 0 || d.dht.RoutingTable().Size() == 0 {
		return
	}
	slices.Sort(todo)
	// Each provide is a DHT lookup of ~20 peers; 8 in parallel keeps a
	// node with hundreds of shards from flooding the swarm.
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, s := range todo {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := d.Provide(ctx, s)
			d.mu.Lock()
			defer d.mu.Unlock()
			if err != nil {
				if ctx.Err() == nil {
					d.log.Warn("p2p/discovery: announcement failed; will retry", "shard", s, "err", err)
				}
				return
			}
			if _, held := d.shards[s]; held {
				delete(d.pending, s)
				d.provided[s] = time.Now()
			}
		}()
	}
	wg.Wait()
}

// FindShardHolders looks up the providers of a shard and returns those this
// host can reach (connected already, or dialled within DialTimeout), at
// most limit of them (0: no limit), never including itself. Combined with
// the committee's peer IDs this finds any shard's holders; DHT answers are
// hints, so the caller still checks a holder's answers against the blob ID.
func (d *Discovery) FindShardHolders(ctx context.Context, shard uint16, limit int) ([]peer.AddrInfo, error) {
	count := limit
	if count <= 0 {
		count = 0 // kad-dht: 0 means all it finds
	}
	var (
		mu  sync.Mutex
		out []peer.AddrInfo
		wg  sync.WaitGroup
	)
	for ai := range d.dht.FindProvidersAsync(ctx, ShardKey(d.cfg.Network, shard), count) {
		if ai.ID == d.h.ID() || ai.ID == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if d.h.Network().Connectedness(ai.ID) != network.Connected {
				cctx, cancel := context.WithTimeout(ctx, d.cfg.DialTimeout)
				err := d.h.Connect(cctx, ai)
				cancel()
				if err != nil {
					d.log.Debug("p2p/discovery: holder unreachable", "shard", shard, "peer", ai.ID, "err", err)
					return
				}
			}
			if len(ai.Addrs) == 0 {
				ai.Addrs = d.h.Peerstore().Addrs(ai.ID)
			}
			mu.Lock()
			out = append(out, ai)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil && len(out) == 0 {
		return nil, fmt.Errorf("p2p/discovery: find holders of shard %d: %w", shard, err)
	}
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	slices.SortFunc(out, func(a, b peer.AddrInfo) int { return cmpID(a.ID, b.ID) })
	return out, nil
}

func cmpID(a, b peer.ID) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
