package host

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	ma "github.com/multiformats/go-multiaddr"
)

func newLoopback(t *testing.T, mod func(*Config)) *Host {
	t.Helper()
	cfg := LoopbackConfig()
	if mod != nil {
		mod(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

func TestIdentityPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "p2p.key")
	k1, err := LoadOrCreateIdentity(path)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadOrCreateIdentity(path)
	if err != nil {
		t.Fatal(err)
	}
	if !k1.Equals(k2) {
		t.Fatal("identity changed across loads")
	}
	h := newLoopback(t, func(c *Config) { c.IdentityPath = path })
	want, _ := peer.IDFromPrivateKey(k1)
	if h.ID() != want {
		t.Fatalf("host ID %s, want %s", h.ID(), want)
	}
}

func TestTransportsAndPing(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		code int
	}{
		{"tcp", func(c *Config) { c.DisableQUIC = true }, ma.P_TCP},
		{"quic", func(c *Config) { c.DisableTCP = true }, ma.P_QUIC_V1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := newLoopback(t, tc.mod), newLoopback(t, tc.mod)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := a.Connect(ctx, b.AddrInfo()); err != nil {
				t.Fatal(err)
			}
			conns := a.Network().ConnsToPeer(b.ID())
			if len(conns) == 0 {
				t.Fatal("no connection")
			}
			if _, err := conns[0].RemoteMultiaddr().ValueForProtocol(tc.code); err != nil {
				t.Fatalf("connection over %s: %v", conns[0].RemoteMultiaddr(), err)
			}
			res := <-ping.Ping(ctx, a, b.ID())
			if res.Error != nil {
				t.Fatal(res.Error)
			}
		})
	}
}

func TestCommitteeProtection(t *testing.T) {
	a, b, c := newLoopback(t, nil), newLoopback(t, nil), newLoopback(t, nil)
	a.SetCommittee([]peer.ID{b.ID(), c.ID(), a.ID()})
	if !a.IsProtected(b.ID()) || !a.IsProtected(c.ID()) {
		t.Fatal("committee peers not protected")
	}
	a.SetCommittee([]peer.ID{c.ID()})
	if a.IsProtected(b.ID()) || !a.IsProtected(c.ID()) {
		t.Fatal("protection not updated on committee change")
	}
}

func TestAnnounceAddrs(t *testing.T) {
	h := newLoopback(t, func(c *Config) { c.AnnounceAddrs = []string{"/dns4/node.example/tcp/4001"} })
	if got := h.Addrs(); len(got) != 1 || got[0].String() != "/dns4/node.example/tcp/4001" {
		t.Fatalf("announced %v", got)
	}
}

func TestConfigRefusesImpossible(t *testing.T) {
	for name, mod := range map[string]func(*Config){
		"no transport": func(c *Config) { c.DisableTCP, c.DisableQUIC = true, true },
		"memory":       func(c *Config) { c.MaxMemory = 1 << 60 },
		"fds":          func(c *Config) { c.MaxFDs = 1 << 30 },
		"watermarks":   func(c *Config) { c.ConnLow, c.ConnHigh = 10, 5 },
		"addr":         func(c *Config) { c.ListenAddrs = []string{"not-an-addr"} },
		"small window": func(c *Config) { c.StreamWindow = 64 << 10 },
		"huge window":  func(c *Config) { c.StreamWindow = 1 << 30 },
		"tiny frames":  func(c *Config) { c.MuxerFrameSize = 100 },
		"huge frames":  func(c *Config) { c.MuxerFrameSize = 1 << 30 },
	} {
		cfg := LoopbackConfig()
		mod(&cfg)
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestLimitsScaleAndBulk(t *testing.T) {
	cfg := LoopbackConfig()
	small := Limits(cfg)
	cfg.MaxMemory = 4 << 30
	big := Limits(cfg)
	if small.ToPartialLimitConfig().System.Memory >= big.ToPartialLimitConfig().System.Memory {
		t.Fatal("system memory does not scale with MaxMemory")
	}
	cfg.AdjustLimits = func(l *rcmgr.ScalingLimitConfig) {
		l.AddProtocolLimit("/floe/test/get-slivers/1", rcmgr.BaseLimit{Streams: 8, Memory: 1 << 20}, rcmgr.BaseLimitIncrease{})
	}
	l := Limits(cfg).ToPartialLimitConfig()
	if _, ok := l.Protocol["/floe/test/get-slivers/1"]; !ok {
		t.Fatal("no bulk protocol limit")
	}
}

func TestMuxerConfig(t *testing.T) {
	if m := muxer(Config{}); m != yamux.DefaultTransport {
		t.Fatal("zero window and frame size should keep go-libp2p's yamux transport")
	}
	def := yamux.DefaultTransport.Config()
	m := muxer(Config{StreamWindow: 8 << 20, MuxerFrameSize: 1 << 20}).Config()
	if m.InitialStreamWindowSize != 8<<20 || m.MaxMessageSize != 1<<20 || m.MaxStreamWindowSize != def.MaxStreamWindowSize {
		t.Fatalf("window %d, frame %d, max window %d", m.InitialStreamWindowSize, m.MaxMessageSize, m.MaxStreamWindowSize)
	}
	if m.ReadBufSize != def.ReadBufSize || m.MaxIncomingStreams != def.MaxIncomingStreams {
		t.Fatal("go-libp2p's other yamux settings not kept")
	}
	if def.InitialStreamWindowSize != 256<<10 || def.MaxMessageSize != 64<<10 {
		t.Fatal("go-libp2p's yamux defaults changed: the shared default was modified")
	}
	if m := muxer(Config{StreamWindow: 32 << 20}).Config(); m.MaxStreamWindowSize != 32<<20 {
		t.Fatalf("max window %d below the initial window", m.MaxStreamWindowSize)
	}
}

func TestSecurityPreference(t *testing.T) {
	for _, tc := range []struct {
		noise bool
		want  string
	}{{false, "/tls/1.0.0"}, {true, "/noise"}} {
		mod := func(c *Config) { c.DisableQUIC, c.PreferNoise = true, tc.noise }
		a, b := newLoopback(t, mod), newLoopback(t, mod)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		if err := a.Connect(ctx, b.AddrInfo()); err != nil {
			t.Fatal(err)
		}
		cancel()
		conns := a.Network().ConnsToPeer(b.ID())
		if len(conns) == 0 {
			t.Fatal("no connection")
		}
		if got := string(conns[0].ConnState().Security); got != tc.want {
			t.Errorf("PreferNoise=%v: negotiated %s, want %s", tc.noise, got, tc.want)
		}
	}
}

// TestClientConfig: a light client's host has the production settings
// (only the listen addresses dropped) and dials a node.
func TestClientConfig(t *testing.T) {
	cfg, def := ClientConfig(), DefaultConfig()
	if len(cfg.ListenAddrs) != 0 {
		t.Fatalf("client listens on %v", cfg.ListenAddrs)
	}
	cfg.ListenAddrs = def.ListenAddrs
	if cfg.ConnLow != def.ConnLow || cfg.ConnHigh != def.ConnHigh || cfg.MaxMemory != def.MaxMemory || cfg.MaxFDs != def.MaxFDs ||
		cfg.StreamMemory != def.StreamMemory || cfg.StreamWindow != def.StreamWindow || cfg.MuxerFrameSize != def.MuxerFrameSize ||
		cfg.DisableTCP || cfg.DisableQUIC {
		t.Fatalf("client config %+v differs from the defaults %+v", cfg, def)
	}
	c, err := New(ClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if len(c.Addrs()) != 0 {
		t.Fatalf("client host listens on %v", c.Addrs())
	}
	n := newLoopback(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Connect(ctx, n.AddrInfo()); err != nil {
		t.Fatal(err)
	}
}

// TestLibp2pLogs: the fx lifecycle records of go-libp2p are dropped,
// other go-libp2p records keep their level.
func TestLibp2pLogs(t *testing.T) {
	ctx := context.Background()
	cfgLog := libp2pHandler{}.WithAttrs([]slog.Attr{slog.String("logger", "p2p-config")})
	if !cfgLog.Enabled(ctx, slog.LevelError) {
		t.Fatal("p2p-config errors dropped")
	}
	if fx := cfgLog.WithAttrs([]slog.Attr{slog.String("system", "fx")}); fx.Enabled(ctx, slog.LevelError) {
		t.Fatal("fx lifecycle errors kept")
	}
	other := libp2pHandler{}.WithAttrs([]slog.Attr{slog.String("logger", "swarm2")}).WithAttrs([]slog.Attr{slog.String("system", "fx")})
	if !other.Enabled(ctx, slog.LevelError) {
		t.Fatal("an fx attribute on another logger dropped its errors")
	}
	// A host that cannot listen fails with the error, and only that.
	a := newLoopback(t, func(c *Config) { c.DisableQUIC = true })
	_, err := New(func() Config {
		c := LoopbackConfig()
		c.DisableQUIC = true
		c.ListenAddrs = []string{a.Addrs()[0].String()}
		return c
	}())
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("host on a busy port: %v", err)
	}
}

// A gated peer loses its connections and cannot reconnect, either way,
// until the gating ends; committee peers are not gated.
func TestGate(t *testing.T) {
	a, b, m := newLoopback(t, nil), newLoopback(t, nil), newLoopback(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, h := range []*Host{b, m} {
		if err := h.Connect(ctx, a.AddrInfo()); err != nil {
			t.Fatal(err)
		}
	}
	a.SetCommittee([]peer.ID{m.ID()})
	if a.Gate(m.ID(), time.Minute, "test") {
		t.Fatal("a committee peer was gated")
	}
	if !a.Gate(b.ID(), 300*time.Millisecond, "test") || !a.Gated(b.ID()) {
		t.Fatal("gating an outsider failed")
	}
	if len(a.Network().ConnsToPeer(b.ID())) != 0 {
		t.Fatal("connections to the gated peer stayed open")
	}
	// An inbound connection from a gated peer is dropped once secured
	// (the dialler may briefly think it connected): nothing gets through.
	_ = b.Connect(ctx, a.AddrInfo())
	time.Sleep(100 * time.Millisecond)
	if len(a.Network().ConnsToPeer(b.ID())) != 0 {
		t.Fatal("the gated peer reconnected")
	}
	if res := <-ping.Ping(ctx, b, a.ID()); res.Error == nil {
		t.Fatal("the gated peer reached the host")
	}
	if err := a.Connect(ctx, b.AddrInfo()); err == nil {
		t.Fatal("the host dialled a gated peer")
	}
	time.Sleep(400 * time.Millisecond)
	b.ForgetDialFailures(a.ID())
	if err := b.Connect(ctx, a.AddrInfo()); err != nil {
		t.Fatalf("after the gating ended: %v", err)
	}
}
