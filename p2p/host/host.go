package host

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/pbnjay/memory"
)

// Config describes a host. The zero value is not usable; start from
// DefaultConfig.
type Config struct {
	// IdentityPath is the file holding the node's ed25519 libp2p key
	// (protobuf-marshalled, mode 0600). It is created on first start. Empty
	// means Identity, or a fresh key if Identity is nil too (light clients,
	// tests).
	IdentityPath string
	// Identity is used when IdentityPath is empty.
	Identity crypto.PrivKey
	// ListenAddrs are the multiaddrs to listen on, e.g.
	// /ip4/0.0.0.0/tcp/4001 and /ip4/0.0.0.0/udp/4001/quic-v1. Empty means
	// no listening (a light client that only dials).
	ListenAddrs []string
	// AnnounceAddrs, when set, replace the listen addresses in what the host
	// advertises (identify, DHT provider records): the public addresses of
	// a node behind a NAT or a load balancer.
	AnnounceAddrs []string
	// DisableTCP and DisableQUIC drop a transport (the benchmark compares
	// them). At least one must remain.
	DisableTCP  bool
	DisableQUIC bool
	// ConnLow and ConnHigh are the connection-manager watermarks: above
	// High it trims unprotected connections back to Low. Committee peers
	// are protected (SetCommittee) and never trimmed.
	ConnLow, ConnHigh int
	// ConnGrace is how long a new connection is exempt from trimming.
	ConnGrace time.Duration
	// MaxMemory is the memory the resource manager lets libp2p use, in
	// bytes. 0 means a quarter of the machine's memory (a storage node is
	// a dedicated machine, and slivers are big). More than the machine has
	// is refused.
	MaxMemory int64
	// MaxFDs is the number of file descriptors libp2p may use. 0 means half
	// of the process's soft limit. More than the limit is refused.
	MaxFDs int
	// AdjustLimits, when set, edits the scaling limits before they are
	// scaled, e.g. to add the stream protocols' service and protocol limits:
	// func(l *rcmgr.ScalingLimitConfig) { p2p.AddProtocolLimits(l, network, params) }.
	AdjustLimits func(*rcmgr.ScalingLimitConfig)
	// StreamMemory is the memory one stream may reserve: at least the
	// largest frame it reads (a maximum sliver, ~44 MB at 1000 shards).
	StreamMemory int64
	// StreamWindow is the receive window every yamux stream (TCP
	// connections) starts with, in bytes: how much a peer may send on a
	// stream before the reader has taken it. yamux's own start is 256 KiB,
	// doubled (up to 16 MiB, reserved with the resource manager) only when
	// a window drains within four round trips. On loopback and LAN links
	// the round trip is so short that this never happens, and a bulk
	// stream then waits for a window update every 128 KiB (the p2p package
	// doc has the figures). 0 means 256 KiB; at most 64 MiB.
	//
	// The part above 256 KiB is not reserved with the resource manager: a
	// stream whose reader stalls can hold up to StreamWindow of the peer's
	// data outside the limits. The stream protocols of package p2p read
	// each request to its end before calling the handler, so for them this
	// only happens on a put-slivers stream while its handler runs; other
	// protocols (DHT, gossip) read as messages arrive. Set 256 KiB where
	// memory is tight and peers are far.
	StreamWindow int
	// MuxerFrameSize is the largest yamux data frame, in bytes. Larger
	// frames mean fewer trips through yamux's send queue per byte; how much
	// of one stream can queue ahead of another is bounded by the stream
	// window, not the frame size. 0 means yamux's 64 KiB; 1 KiB to 16 MiB.
	MuxerFrameSize int
	// PreferNoise offers Noise before TLS 1.3 on TCP (both are always
	// offered). TLS is preferred by default: with AES-NI its AES-GCM moves
	// slivers faster than Noise's ChaCha20-Poly1305 (see the p2p package
	// doc).
	PreferNoise bool
	// UserAgent is sent in identify.
	UserAgent string
	// Logger receives the host's own messages; nil means slog.Default().
	Logger *slog.Logger
	// ExtraOptions are appended to the libp2p options New builds, after
	// floe's own: experiments and tests use them to put the host on a
	// simulated network (x/simlibp2p's QUICSimnet with DisableTCP), to add
	// a bandwidth reporter, or to turn off identify's address discovery.
	// An option that conflicts with one of floe's (a second identity or
	// resource manager) makes New fail.
	ExtraOptions []libp2p.Option
}

// DefaultConfig listens on TCP and QUIC port 4001 on all IPv4 addresses.
func DefaultConfig() Config {
	return Config{
		ListenAddrs:  []string{"/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/udp/4001/quic-v1"},
		ConnLow:      200,
		ConnHigh:     400,
		ConnGrace:    time.Minute,
		StreamMemory: 64 << 20,
		// See StreamWindow and the p2p package doc's throughput figures.
		StreamWindow:   8 << 20,
		MuxerFrameSize: 1 << 20,
		UserAgent:      "floe",
	}
}

// ClientConfig is DefaultConfig without listen addresses: the production
// host of a light client, publisher or gateway, which only dials. Its
// limits are a storage node's (scaled from the machine), since a client
// reads whole slivers too.
func ClientConfig() Config {
	c := DefaultConfig()
	c.ListenAddrs = nil
	return c
}

// LoopbackConfig is for tests and local swarms: an ephemeral key, one TCP
// and one QUIC listener on 127.0.0.1 with kernel-chosen ports, and modest
// limits.
func LoopbackConfig() Config {
	c := DefaultConfig()
	c.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}
	c.ConnLow, c.ConnHigh = 100, 200
	c.MaxMemory = 1 << 30
	c.MaxFDs = 512
	return c
}

// Validate checks the configuration against itself and the machine.
func (c Config) Validate() error {
	if c.DisableTCP && c.DisableQUIC {
		return errors.New("p2p/host: both TCP and QUIC disabled")
	}
	if c.ConnLow < 1 || c.ConnHigh < c.ConnLow {
		return fmt.Errorf("p2p/host: connection watermarks %d/%d: need 1 ≤ low ≤ high", c.ConnLow, c.ConnHigh)
	}
	if c.ConnGrace < 0 {
		return errors.New("p2p/host: negative grace period")
	}
	if total := int64(memory.TotalMemory()); c.MaxMemory < 0 || (total > 0 && c.MaxMemory > total) {
		return fmt.Errorf("p2p/host: MaxMemory %d outside [0, %d] (machine memory)", c.MaxMemory, total)
	}
	if fds := fdLimit(); c.MaxFDs < 0 || (fds > 0 && c.MaxFDs > fds) {
		return fmt.Errorf("p2p/host: MaxFDs %d outside [0, %d] (process limit)", c.MaxFDs, fds)
	}
	if c.StreamMemory < 1<<20 {
		return errors.New("p2p/host: StreamMemory below 1 MiB")
	}
	if c.StreamWindow != 0 && (c.StreamWindow < minStreamWindow || c.StreamWindow > maxStreamWindow) {
		return fmt.Errorf("p2p/host: StreamWindow %d outside [%d, %d]", c.StreamWindow, minStreamWindow, maxStreamWindow)
	}
	if c.MuxerFrameSize != 0 && (c.MuxerFrameSize < 1<<10 || c.MuxerFrameSize > 16<<20) {
		return fmt.Errorf("p2p/host: MuxerFrameSize %d outside [1 KiB, 16 MiB]", c.MuxerFrameSize)
	}
	for _, s := range append(append([]string(nil), c.ListenAddrs...), c.AnnounceAddrs...) {
		if _, err := ma.NewMultiaddr(s); err != nil {
			return fmt.Errorf("p2p/host: address %q: %w", s, err)
		}
	}
	return nil
}

// Host is a libp2p host with the connection manager exposed for committee
// protection.
type Host struct {
	host.Host
	cm    *connmgr.BasicConnMgr
	gater *gater
	log   *slog.Logger

	mu        sync.Mutex
	committee map[peer.ID]struct{}
}

// committeeTag is the connection-manager protection tag of committee peers.
const committeeTag = "floe-committee"

// New builds and starts a host: TCP (TLS 1.3 and Noise, yamux) and QUIC v1,
// identify and ping, the resource manager with limits scaled to the
// machine, and the connection manager. Relay, NAT port mapping and
// hole punching are off: storage nodes have public or announced addresses.
func New(cfg Config) (*Host, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	key := cfg.Identity
	if cfg.IdentityPath != "" {
		k, err := LoadOrCreateIdentity(cfg.IdentityPath)
		if err != nil {
			return nil, err
		}
		key = k
	}
	if key == nil {
		k, _, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			return nil, err
		}
		key = k
	}
	limits := Limits(cfg)
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(limits))
	if err != nil {
		return nil, fmt.Errorf("p2p/host: resource manager: %w", err)
	}
	gt := newGater()
	cm, err := connmgr.NewConnManager(cfg.ConnLow, cfg.ConnHigh, connmgr.WithGracePeriod(cfg.ConnGrace))
	if err != nil {
		return nil, fmt.Errorf("p2p/host: connection manager: %w", err)
	}
	security := []libp2p.Option{
		libp2p.Security(libp2ptls.ID, libp2ptls.New),
		libp2p.Security(noise.ID, noise.New),
	}
	if cfg.PreferNoise {
		security[0], security[1] = security[1], security[0]
	}
	opts := []libp2p.Option{
		libp2p.Identity(key),
		libp2p.ListenAddrStrings(cfg.ListenAddrs...),
		security[0], security[1],
		libp2p.Muxer(yamux.ID, muxer(cfg)),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(cm),
		libp2p.ConnectionGater(gt),
		libp2p.Ping(true),
		libp2p.DisableRelay(),
		libp2p.UserAgent(cfg.UserAgent),
	}
	if len(cfg.ListenAddrs) == 0 {
		opts = append(opts, libp2p.NoListenAddrs)
	}
	if !cfg.DisableTCP {
		// No SO_REUSEPORT: with it a second node (another process)
		// binds the same TCP port without an error and the kernel splits
		// the incoming connections between the two. Hole punching, the
		// reason go-libp2p dials from the listen port, is off anyway.
		opts = append(opts, libp2p.Transport(tcp.NewTCPTransport, tcp.DisableReuseport()))
	}
	if !cfg.DisableQUIC {
		opts = append(opts, libp2p.Transport(quic.NewTransport))
	}
	if len(cfg.AnnounceAddrs) > 0 {
		announce := make([]ma.Multiaddr, 0, len(cfg.AnnounceAddrs))
		for _, s := range cfg.AnnounceAddrs {
			announce = append(announce, ma.StringCast(s))
		}
		opts = append(opts, libp2p.AddrsFactory(func([]ma.Multiaddr) []ma.Multiaddr { return announce }))
	}
	opts = append(opts, cfg.ExtraOptions...)
	h, err := libp2p.New(opts...)
	if err != nil {
		_ = rm.Close()
		return nil, fmt.Errorf("p2p/host: %w", err)
	}
	log.Debug("p2p host started", "peer", h.ID(), "addrs", h.Addrs())
	return &Host{Host: h, cm: cm, gater: gt, log: log, committee: make(map[peer.ID]struct{})}, nil
}

// Bounds of Config.StreamWindow: yamux refuses less than 256 KiB.
const (
	minStreamWindow = 256 << 10
	maxStreamWindow = 64 << 20
)

// muxer returns go-libp2p's yamux transport with cfg's window and frame
// size (go-libp2p's own settings otherwise: 16 MiB maximum window, no
// read buffer, stream count left to the resource manager).
func muxer(cfg Config) *yamux.Transport {
	if cfg.StreamWindow == 0 && cfg.MuxerFrameSize == 0 {
		return yamux.DefaultTransport
	}
	t := *yamux.DefaultTransport.Config()
	if cfg.StreamWindow != 0 {
		t.InitialStreamWindowSize = uint32(cfg.StreamWindow)
		t.MaxStreamWindowSize = max(t.MaxStreamWindowSize, uint32(cfg.StreamWindow))
	}
	if cfg.MuxerFrameSize != 0 {
		t.MaxMessageSize = uint32(cfg.MuxerFrameSize)
	}
	return (*yamux.Transport)(&t)
}

// SetCommittee protects the connections to the given peers (the current
// committee) from trimming and unprotects peers that left it.
func (h *Host) SetCommittee(peers []peer.ID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	next := make(map[peer.ID]struct{}, len(peers))
	for _, p := range peers {
		if p == h.ID() {
			continue
		}
		next[p] = struct{}{}
		if _, ok := h.committee[p]; !ok {
			h.cm.Protect(p, committeeTag)
		}
	}
	for p := range h.committee {
		if _, ok := next[p]; !ok {
			h.cm.Unprotect(p, committeeTag)
		}
	}
	h.committee = next
}

// ForgetDialFailures clears the swarm's dial backoff for p, so the next
// stream to it dials at once: for a caller that learned p is back (a
// restarted node), or that must reach p specifically.
func (h *Host) ForgetDialFailures(p peer.ID) {
	if sw, ok := h.Network().(*swarm.Swarm); ok {
		sw.Backoff().Clear(p)
	}
}

// IsProtected reports whether p is protected as a committee peer.
func (h *Host) IsProtected(p peer.ID) bool { return h.cm.IsProtected(p, committeeTag) }

// AddrInfo is the host's peer ID and addresses, for bootstrapping others.
func (h *Host) AddrInfo() peer.AddrInfo { return peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()} }

// Limits returns the resource-manager limits New would use for cfg: the
// go-libp2p defaults (with its service limits) plus AdjustLimits, scaled to
// MaxMemory and MaxFDs, with every stream allowed StreamMemory and every
// peer four times that. Print it to show an
// operator the effective limits.
func Limits(cfg Config) rcmgr.ConcreteLimitConfig {
	mem, fds := scaledResources(cfg)
	l := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&l)
	// A stream reads one frame at a time: it needs a full sliver.
	l.StreamBaseLimit.Memory = max(l.StreamBaseLimit.Memory, cfg.StreamMemory)
	// A peer (the writer of a blob) may push several slivers at once.
	l.PeerBaseLimit.Memory = max(l.PeerBaseLimit.Memory, 4*cfg.StreamMemory)
	if cfg.AdjustLimits != nil {
		cfg.AdjustLimits(&l)
	}
	return l.Scale(mem, fds)
}

// scaledResources returns the memory and FDs the limits are scaled from.
func scaledResources(cfg Config) (int64, int) {
	mem := cfg.MaxMemory
	if mem == 0 {
		mem, _ = DefaultMaxMemory()
	}
	fds := cfg.MaxFDs
	if fds == 0 {
		fds = fdLimit() / 2
		if fds <= 0 {
			fds = 4096
		}
	}
	return mem, fds
}

// DefaultMaxMemory is the memory the limits are scaled from when MaxMemory
// is 0, and where that figure comes from: a quarter of the machine's
// memory, or the Go runtime's soft memory limit (GOMEMLIMIT) when that is
// lower. An operator who caps the process caps what libp2p may buffer
// too: on a 24 GiB machine a node with GOMEMLIMIT=768MiB otherwise let
// its streams hold up to 128 MiB + 6 GiB/8 of slivers, and passed 1 GiB.
func DefaultMaxMemory() (int64, string) {
	total := int64(memory.TotalMemory())
	mem, source := total/4, fmt.Sprintf("a quarter of the machine's %d MiB", total>>20)
	if mem <= 0 {
		mem, source = 1<<30, "1 GiB (the machine's memory is unknown)"
	}
	if soft := debug.SetMemoryLimit(-1); soft > 0 && soft < mem {
		mem, source = soft, fmt.Sprintf("the Go memory limit (GOMEMLIMIT) of %d MiB", soft>>20)
	}
	return mem, source
}

// LoadOrCreateIdentity reads an ed25519 libp2p key from path, or creates one
// there (mode 0600, directory 0700) when the file does not exist.
func LoadOrCreateIdentity(path string) (crypto.PrivKey, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := crypto.UnmarshalPrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("p2p/host: identity %s: %w", path, err)
		}
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("p2p/host: identity: %w", err)
	}
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, err
	}
	b, err = crypto.MarshalPrivateKey(k)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("p2p/host: identity: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return nil, fmt.Errorf("p2p/host: identity: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("p2p/host: identity: %w", err)
	}
	return k, nil
}
