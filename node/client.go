package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"

	"floe/chainlink"
	"floe/chainlink/bls"
	"floe/codec"
	"floe/p2p"
	"floe/p2p/gossip"
	"floe/p2p/host"
)

// Client is a light client of a swarm: it stores blobs (the publisher role)
// and reads them (the reader role) over libp2p, with the chain as its
// source of truth. It runs no storage. It is safe for concurrent use.
type Client struct {
	// fetched counts the sliver bytes reads received (FetchedSliverBytes).
	fetched atomic.Int64
	// readRun is the size of a holder's runs in a read (readRunBytes;
	// tests make it small).
	readRun int
	cfg     ClientConfig
	log     *slog.Logger
	chain   chainlink.Chain
	host    *host.Host
	p2p     *p2p.Client
	gossip  *gossip.Gossip
	params  codec.Params
	comms   *committees

	gossipOnce sync.Once
	gossipErr  error

	epochMu sync.Mutex
	epoch   uint32
	epochAt time.Time

	// tails are the pushes that go on after a store's quorum (for at
	// most tailGrace each); Close waits for them.
	tails sync.WaitGroup
	// pushes bounds the large put-slivers parts in flight (publish.go).
	pushes pushWindow
}

// ClientOption adjusts a client.
type ClientOption func(*clientOptions)

type clientOptions struct {
	chain chainlink.Chain
	log   *slog.Logger
	host  *host.Config
}

// WithClientHostConfig replaces the client's libp2p host defaults
// (host.ClientConfig): a simulated network (ExtraOptions, DisableTCP) for
// experiments and tests, or other limits.
func WithClientHostConfig(hc host.Config) ClientOption {
	return func(o *clientOptions) { o.host = &hc }
}

// WithClientChain makes the client use chain instead of a client of the
// configured ledger URL (in-process devnets and tests).
func WithClientChain(c chainlink.Chain) ClientOption { return func(o *clientOptions) { o.chain = c } }

// WithClientLogger sets the client's logger.
func WithClientLogger(l *slog.Logger) ClientOption { return func(o *clientOptions) { o.log = l } }

// NewClient connects a light client to the swarm of cfg.
func NewClient(ctx context.Context, cfg ClientConfig, opts ...ClientOption) (*Client, error) {
	var o clientOptions
	for _, f := range opts {
		f(&o)
	}
	if o.chain == nil {
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
		if err := cfg.loadKey(); err != nil {
			return nil, err
		}
		// The account key signs what the client pays for (registrations;
		// deletions of its blobs); without one it can only read.
		o.chain = chainlink.NewClient(cfg.Ledger, nil, chainlink.ClientAccountKey(cfg.key))
	} else if err := p2p.ValidateNetwork(cfg.Network); err != nil {
		return nil, fmt.Errorf("%w: network: %v", ErrConfig, err)
	} else if err := cfg.loadKey(); err != nil {
		return nil, err
	}
	if o.log == nil {
		o.log = slog.Default()
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = Duration(5 * time.Minute)
	}
	c := &Client{cfg: cfg, log: o.log, chain: o.chain, comms: newCommittees(o.chain)}
	// A bounded wait: an unreachable ledger is one clear error, not a hang.
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	st, err := o.chain.EpochState(sctx)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrChain, cfg.Ledger, err)
	}
	if c.params, err = codec.NewParams(st.NShards); err != nil {
		return nil, err
	}
	hc := host.ClientConfig() // production defaults; a light client only dials
	if o.host != nil {
		hc = *o.host
	}
	hc.Logger = o.log
	hc.AdjustLimits = func(l *rcmgr.ScalingLimitConfig) { p2p.AddProtocolLimits(l, cfg.Network, c.params) }
	if c.host, err = host.New(hc); err != nil {
		return nil, fmt.Errorf("libp2p host: %w", err)
	}
	if c.p2p, err = p2p.NewClient(c.host, p2p.DefaultClientConfig(cfg.Network, c.params)); err != nil {
		c.host.Close()
		return nil, err
	}
	return c, nil
}

// attestations joins the gossip topics on first use (only publishers need
// them) and subscribes to storage confirmations.
func (c *Client) attestations() (*gossip.Subscription[gossip.Attestation], error) {
	c.gossipOnce.Do(func() {
		gcfg := gossip.DefaultConfig(c.cfg.Network,
			func(ctx context.Context, _ peer.ID, a gossip.Attestation) gossip.Verdict {
				e, err := c.epochCached(ctx)
				if err != nil {
					return gossip.Ignore
				}
				return checkAttestation(ctx, c.comms, e, a)
			},
			func(context.Context, peer.ID, gossip.Notice) gossip.Verdict { return gossip.Ignore })
		gcfg.Logger = c.log
		c.gossip, c.gossipErr = gossip.New(c.host, gcfg)
	})
	if c.gossipErr != nil {
		return nil, c.gossipErr
	}
	return c.gossip.SubscribeAttestations()
}

// epochCached is the chain's epoch, asked at most once a second: gossip
// validation must not cost a chain call per message.
func (c *Client) epochCached(ctx context.Context) (uint32, error) {
	c.epochMu.Lock()
	defer c.epochMu.Unlock()
	if time.Since(c.epochAt) < time.Second {
		return c.epoch, nil
	}
	st, err := c.chain.EpochState(ctx)
	if err != nil {
		return 0, err
	}
	c.epoch, c.epochAt = st.Epoch, time.Now()
	return c.epoch, nil
}

// WaitPushes waits until the pushes that go on after stores' quorums (to
// members still receiving their slivers, for at most tailGrace each) have
// ended, or ctx ends.
func (c *Client) WaitPushes(ctx context.Context) error {
	done := make(chan struct{})
	go func() { // ends with the tails, which are bounded
		c.tails.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the client's libp2p host.
func (c *Client) Close() error {
	c.tails.Wait()
	var errs []error
	if c.gossip != nil {
		errs = append(errs, c.gossip.Close())
	}
	errs = append(errs, c.host.Close())
	// Idle (and speculatively dialled) connections would keep a ledger's
	// graceful shutdown waiting.
	if hc, ok := c.chain.(interface{ CloseIdleConnections() }); ok {
		hc.CloseIdleConnections()
	}
	return errors.Join(errs...)
}

// Chain is the chain the client reads and writes.
func (c *Client) Chain() chainlink.Chain { return c.chain }

// Params are the encoding parameters of the swarm.
func (c *Client) Params() codec.Params { return c.params }

// Status returns the chain's view of a blob.
func (c *Client) Status(ctx context.Context, id codec.BlobID) (chainlink.BlobStatus, error) {
	st, err := c.chain.BlobStatus(ctx, id)
	if err != nil {
		return st, fmt.Errorf("%w: %w", ErrChain, err)
	}
	return st, nil
}

// connect makes sure the host can dial member i.
func (c *Client) connect(v *committeeView, i int) (peer.ID, error) {
	pi := v.peers[i]
	if pi.ID == "" {
		return "", fmt.Errorf("member %s has no valid peer ID", v.Members[i].NodeID)
	}
	c.host.Peerstore().AddAddrs(pi.ID, pi.Addrs, time.Hour)
	return pi.ID, nil
}

func failure(v *committeeView, i int, format string, args ...any) NodeFailure {
	return NodeFailure{NodeID: v.Members[i].NodeID, PeerID: v.Members[i].PeerID, Reason: fmt.Sprintf(format, args...)}
}

func certificate(sig bls.Signature, bitmap, msg []byte) chainlink.Certificate {
	return chainlink.Certificate{Signature: sig, Signers: bitmap, Message: msg}
}

func report(f func(Progress), phase string, done, total int64) {
	if f != nil {
		f(Progress{Phase: phase, Done: done, Total: total})
	}
}

// minOpRate is the slowest throughput a store or read is given time for
// beyond ClientConfig.Timeout: a blob of size bytes may take Timeout +
// size/minOpRate, so a blob of gigabytes is not cut off by the bound meant
// for ordinary ones (4 GiB: 5 min + 34 min).
const minOpRate = 2 << 20 // bytes per second

// opTimeout is how long a store or read of a blob of size bytes may take.
func (c *Client) opTimeout(size uint64) time.Duration {
	return time.Duration(c.cfg.Timeout) + time.Duration(float64(size)/minOpRate*float64(time.Second))
}
