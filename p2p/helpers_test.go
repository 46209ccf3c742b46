package p2p

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"floe/codec"
)

const testNetwork = "testnet"

func testParams(t testing.TB) codec.Params {
	p, err := codec.NewParams(10)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// newTestHost starts a loopback-only TCP host, closed at the end of the test.
func newTestHost(t testing.TB, opts ...libp2p.Option) host.Host {
	t.Helper()
	base := []libp2p.Option{
		libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
	}
	h, err := libp2p.New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

func connect(t testing.TB, a, b host.Host) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		t.Fatal(err)
	}
}

// memHandler is an in-memory Handler for tests.
type memHandler struct {
	mu       sync.Mutex
	meta     map[codec.BlobID][]byte
	slivers  map[codec.BlobID]map[SliverRef][]byte
	conf     map[codec.BlobID]codec.SignedMessage
	status   map[codec.BlobID][]byte
	putCalls int
	// hook, if set, runs at the start of every call.
	hook func(ctx context.Context) error
}

func newMemHandler() *memHandler {
	return &memHandler{
		meta:    map[codec.BlobID][]byte{},
		slivers: map[codec.BlobID]map[SliverRef][]byte{},
		conf:    map[codec.BlobID]codec.SignedMessage{},
		status:  map[codec.BlobID][]byte{},
	}
}

func (m *memHandler) enter(ctx context.Context) error {
	if m.hook != nil {
		return m.hook(ctx)
	}
	return nil
}

func (m *memHandler) GetMetadata(ctx context.Context, _ peer.ID, id codec.BlobID) ([]byte, error) {
	if err := m.enter(ctx); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.meta[id]
	if !ok {
		return nil, fmt.Errorf("%w: no metadata for %s", ErrNotFound, id)
	}
	return b, nil
}

func (m *memHandler) PutMetadata(ctx context.Context, _ peer.ID, id codec.BlobID, b []byte) error {
	if err := m.enter(ctx); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.meta[id] = b
	return nil
}

func (m *memHandler) GetSlivers(ctx context.Context, _ peer.ID, id codec.BlobID, items []SliverRef, send func(Result) error) error {
	if err := m.enter(ctx); err != nil {
		return err
	}
	for _, it := range items {
		m.mu.Lock()
		b, ok := m.slivers[id][it]
		m.mu.Unlock()
		r := Result{Data: b}
		if !ok {
			r = Result{Err: ErrNotFound}
		}
		if err := send(r); err != nil {
			return err
		}
	}
	return nil
}

func (m *memHandler) PutSlivers(ctx context.Context, _ peer.ID, id codec.BlobID, s []Sliver) ([]error, error) {
	if err := m.enter(ctx); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.putCalls++
	if m.slivers[id] == nil {
		m.slivers[id] = map[SliverRef][]byte{}
	}
	errs := make([]error, len(s))
	for i, it := range s {
		if len(it.Data) == 0 {
			errs[i] = fmt.Errorf("%w: empty sliver", ErrInvalidRequest)
			continue
		}
		m.slivers[id][it.SliverRef] = it.Data
	}
	return errs, nil
}

func (m *memHandler) GetConfirmation(ctx context.Context, _ peer.ID, req ConfirmationRequest) (codec.SignedMessage, error) {
	if err := m.enter(ctx); err != nil {
		return codec.SignedMessage{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.conf[req.ID]
	if !ok {
		return c, ErrNotFound
	}
	return c, nil
}

func (m *memHandler) GetRecoverySymbols(ctx context.Context, _ peer.ID, req RecoveryRequest) ([]Result, error) {
	if err := m.enter(ctx); err != nil {
		return nil, err
	}
	out := make([]Result, len(req.Sources))
	for i, s := range req.Sources {
		if s%2 == 1 {
			out[i].Err = ErrNotFound
			continue
		}
		out[i].Data = []byte(fmt.Sprintf("symbol %d->%d", s, req.Target.Pair))
	}
	return out, nil
}

func (m *memHandler) GetRecoveryBatch(ctx context.Context, _ peer.ID, req RecoveryBatchRequest) ([]Result, error) {
	if err := m.enter(ctx); err != nil {
		return nil, err
	}
	out := make([]Result, 0, req.Symbols())
	for _, s := range req.Sources {
		for _, tg := range req.Targets {
			if s%2 == 1 {
				out = append(out, Result{Err: ErrNotFound})
				continue
			}
			out = append(out, Result{Data: []byte(fmt.Sprintf("symbol %d->%d", s, tg))})
		}
	}
	return out, nil
}

func (m *memHandler) SyncShard(ctx context.Context, _ peer.ID, req SyncRequest) (SyncBatch, error) {
	if err := m.enter(ctx); err != nil {
		return SyncBatch{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r := req.Request
	var ids []codec.BlobID
	for id, s := range m.slivers {
		if _, ok := s[SliverRef{Pair: r.Shard, Type: r.Type}]; ok {
			if string(id[:]) >= string(r.Start[:]) {
				ids = append(ids, id)
			}
		}
	}
	sort.Slice(ids, func(i, j int) bool { return string(ids[i][:]) < string(ids[j][:]) })
	var b SyncBatch
	for _, id := range ids {
		if uint64(len(b.Items)) == r.Count {
			return b, nil
		}
		b.Items = append(b.Items, SyncItem{ID: id, Data: m.slivers[id][SliverRef{Pair: r.Shard, Type: r.Type}]})
	}
	b.Done = true
	return b, nil
}

func (m *memHandler) BlobStatus(ctx context.Context, _ peer.ID, id codec.BlobID) ([]byte, error) {
	if err := m.enter(ctx); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.status[id]
	if !ok {
		return nil, ErrNotFound
	}
	return s, nil
}

// fastTimeouts keep stall tests short.
func fastTimeouts() Timeouts {
	return Timeouts{Idle: 400 * time.Millisecond, MinRate: 1 << 20, Handler: 5 * time.Second}
}

type pair struct {
	srvHost, cliHost host.Host
	srv              *Server
	cli              *Client
	h                *memHandler
}

func newPair(t testing.TB, mod func(*ServerConfig)) *pair {
	t.Helper()
	p := testParams(t)
	sh, ch := newTestHost(t), newTestHost(t)
	connect(t, ch, sh)
	h := newMemHandler()
	cfg := DefaultServerConfig(testNetwork, p)
	cfg.Timeouts = fastTimeouts()
	if mod != nil {
		mod(&cfg)
	}
	srv, err := NewServer(sh, h, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Stop(ctx)
	})
	ccfg := DefaultClientConfig(testNetwork, p)
	ccfg.Timeouts = fastTimeouts()
	cli, err := NewClient(ch, ccfg)
	if err != nil {
		t.Fatal(err)
	}
	return &pair{srvHost: sh, cliHost: ch, srv: srv, cli: cli, h: h}
}

func blobID(b byte) codec.BlobID {
	var id codec.BlobID
	for i := range id {
		id[i] = b
	}
	return id
}

func (m *memHandler) NodeStatus(ctx context.Context, from peer.ID) ([]byte, error) {
	if err := m.enter(ctx); err != nil {
		return nil, err
	}
	return []byte(`{"peer":"` + from.String() + `"}`), nil
}
