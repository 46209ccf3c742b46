package swarmtest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"floe/codec"
	"floe/p2p"
	"floe/p2p/discovery"
	"floe/p2p/gossip"
	"floe/p2p/host"
)

// memHandler is a minimal in-memory storage side: it checks metadata parses
// and slivers parse as their type, and serves what it stored.
type memHandler struct {
	p2p.NotFoundHandler
	mu      sync.Mutex
	meta    map[codec.BlobID][]byte
	slivers map[codec.BlobID]map[p2p.SliverRef][]byte
}

func newMemHandler() *memHandler {
	return &memHandler{meta: map[codec.BlobID][]byte{}, slivers: map[codec.BlobID]map[p2p.SliverRef][]byte{}}
}

func (m *memHandler) GetMetadata(_ context.Context, _ peer.ID, id codec.BlobID) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.meta[id]
	if !ok {
		return nil, p2p.ErrNotFound
	}
	return b, nil
}

func (m *memHandler) PutMetadata(_ context.Context, _ peer.ID, id codec.BlobID, b []byte) error {
	md, err := codec.UnmarshalMetadata(b)
	if err != nil {
		return fmt.Errorf("%w: %v", p2p.ErrInvalidRequest, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.meta[id] = codec.MarshalMetadataWithID(id, &md)
	return nil
}

func (m *memHandler) GetSlivers(_ context.Context, _ peer.ID, id codec.BlobID, refs []p2p.SliverRef, send func(p2p.Result) error) error {
	for _, r := range refs {
		m.mu.Lock()
		b, ok := m.slivers[id][r]
		m.mu.Unlock()
		res := p2p.Result{Data: b}
		if !ok {
			res = p2p.Result{Err: p2p.ErrNotFound}
		}
		if err := send(res); err != nil {
			return err
		}
	}
	return nil
}

func (m *memHandler) PutSlivers(_ context.Context, _ peer.ID, id codec.BlobID, ss []p2p.Sliver) ([]error, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.meta[id]; !ok {
		return nil, fmt.Errorf("%w: metadata first", p2p.ErrInvalidRequest)
	}
	if m.slivers[id] == nil {
		m.slivers[id] = map[p2p.SliverRef][]byte{}
	}
	errs := make([]error, len(ss))
	for i, s := range ss {
		if _, err := codec.UnmarshalSliver(s.Data, s.Type); err != nil {
			errs[i] = fmt.Errorf("%w: %v", p2p.ErrInvalidRequest, err)
			continue
		}
		m.slivers[id][s.SliverRef] = append([]byte(nil), s.Data...)
	}
	return errs, nil
}

// committee is the fake committee view: a signature is SHA-256 of signer ‖
// message, repeated; an epoch before current is stale.
type committee struct {
	current uint32
	members map[[codec.BLSPublicKeySize]byte]bool
}

func fakeSign(signer [codec.BLSPublicKeySize]byte, msg []byte) (sig [codec.BLSSignatureSize]byte) {
	h := sha256.Sum256(append(signer[:], msg...))
	for i := 0; i < len(sig); i += len(h) {
		copy(sig[i:], h[:])
	}
	return sig
}

func (c *committee) validate(_ context.Context, _ peer.ID, a gossip.Attestation) gossip.Verdict {
	if !c.members[a.Signer] || a.Signed.Signature != fakeSign(a.Signer, a.Signed.Message) {
		return gossip.Reject
	}
	if a.Confirmation.Epoch < c.current {
		return gossip.Ignore
	}
	return gossip.Accept
}

func attest(signer [codec.BLSPublicKeySize]byte, epoch uint32, id codec.BlobID) gossip.Attestation {
	msg := codec.StorageConfirmationMessage(epoch, id, codec.BlobPersistence{})
	a := gossip.Attestation{Signer: signer, Signed: codec.SignedMessage{Message: msg, Signature: fakeSign(signer, msg)}}
	a.Confirmation, _ = codec.ParseStorageConfirmation(msg)
	return a
}

// node is one swarm member.
type node struct {
	h      *host.Host
	disc   *discovery.Discovery
	gs     *gossip.Gossip
	srv    *p2p.Server
	store  *memHandler
	atts   *gossip.Subscription[gossip.Attestation]
	signer [codec.BLSPublicKeySize]byte
}

func loopbackHost(t testing.TB, quic bool) *host.Host {
	t.Helper()
	cfg := host.LoopbackConfig()
	cfg.DisableQUIC = !quic
	cfg.DisableTCP = quic
	h, err := host.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

func allowAll(context.Context, peer.ID, gossip.Notice) gossip.Verdict { return gossip.Accept }

func newNode(t *testing.T, ctx context.Context, network string, p codec.Params, boot []peer.AddrInfo, cm *committee, mode discovery.Mode) *node {
	t.Helper()
	n := &node{h: loopbackHost(t, false), store: newMemHandler()}
	dcfg := discovery.DefaultConfig(network, mode)
	dcfg.BootstrapPeers = boot
	dcfg.RetryInterval = 250 * time.Millisecond
	var err error
	if n.disc, err = discovery.New(n.h, dcfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.disc.Stop(context.Background()) })
	if err := n.disc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if n.gs, err = gossip.New(n.h, gossip.DefaultConfig(network, cm.validate, allowAll)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.gs.Close() })
	if n.atts, err = n.gs.SubscribeAttestations(); err != nil {
		t.Fatal(err)
	}
	if mode == discovery.ModeServer {
		if n.srv, err = p2p.NewServer(n.h, n.store, p2p.DefaultServerConfig(network, p)); err != nil {
			t.Fatal(err)
		}
		if err := n.srv.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = n.srv.Stop(context.Background()) })
	}
	return n
}

// waitFor polls cond every 25 ms until it holds or ctx ends.
func waitFor(ctx context.Context, what string, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(25 * time.Millisecond):
		}
	}
	return nil
}
