package swarmtest

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	"floe/codec"
	"floe/p2p"
	"floe/p2p/discovery"
	"floe/p2p/gossip"
	"floe/p2p/host"
)

// TestSwarm20 runs 20 storage nodes and a light client on loopback TCP:
// every shard's holders are found through the DHT alone, metadata and
// slivers round-trip byte-exact through the stream protocols, every node's
// attestation reaches every subscribed host, and a forged attestation
// reaches none.
func TestSwarm20(t *testing.T) {
	if testing.Short() {
		t.Skip("20-host swarm")
	}
	const (
		nodes   = 20
		nShards = 40 // node i holds shards i and i+20
		network = "swarm20"
		epoch   = 3
	)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	p, err := codec.NewParams(nShards)
	if err != nil {
		t.Fatal(err)
	}
	cm := &committee{current: epoch, members: map[[codec.BLSPublicKeySize]byte]bool{}}

	swarm := make([]*node, nodes)
	var boot []peer.AddrInfo
	for i := range swarm {
		n := newNode(t, ctx, network, p, boot, cm, discovery.ModeServer)
		n.signer[0], n.signer[1] = 0xa7, byte(i)
		cm.members[n.signer] = true
		swarm[i] = n
		if i < 3 {
			boot = append(boot, n.h.AddrInfo())
		}
	}
	// Nodes 0..2 started before their bootstrap peers existed: link them.
	for i := range 3 {
		for j := range 3 {
			if i != j {
				if err := swarm[i].h.Connect(ctx, swarm[j].h.AddrInfo()); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	for i, n := range swarm {
		if err := n.disc.WaitReady(ctx, 5); err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		n.disc.SetShards([]uint16{uint16(i), uint16(i + nodes)})
	}
	for i, n := range swarm {
		if err := waitFor(ctx, "announcements", func() bool { return len(n.disc.Provided()) == 2 }); err != nil {
			t.Fatalf("node %d: %v (announced %v)", i, err, n.disc.Provided())
		}
	}

	// The light client knows one bootstrap node and nothing of the committee.
	lc := newNode(t, ctx, network, p, []peer.AddrInfo{swarm[7].h.AddrInfo()}, cm, discovery.ModeClient)
	if err := lc.disc.WaitReady(ctx, 1); err != nil {
		t.Fatal(err)
	}
	holder := make([]peer.ID, nShards)
	for s := range nShards {
		got, err := lc.disc.FindShardHolders(ctx, uint16(s), 0)
		if err != nil {
			t.Fatalf("shard %d: %v", s, err)
		}
		want := swarm[s%nodes].h.ID()
		if len(got) != 1 || got[0].ID != want {
			t.Fatalf("shard %d: holders %v, want [%s]", s, got, want)
		}
		holder[s] = got[0].ID
	}

	// Write a blob: metadata and each holder's whole set of pairs, one
	// stream per holder, in parallel; read everything back.
	blob := make([]byte, 300_000)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range blob {
		blob[i] = byte(r.Uint32())
	}
	enc, err := codec.Encode(p, blob)
	if err != nil {
		t.Fatal(err)
	}
	id := enc.BlobID
	cl, err := p2p.NewClient(lc.h, p2p.DefaultClientConfig(network, p))
	if err != nil {
		t.Fatal(err)
	}
	byHolder := map[peer.ID][]p2p.Sliver{}
	for s := range nShards {
		pair := p.PairOfShard(id, s)
		sp := enc.Pairs[pair]
		byHolder[holder[s]] = append(byHolder[holder[s]],
			p2p.Sliver{SliverRef: p2p.SliverRef{Pair: uint16(pair), Type: codec.Primary}, Data: sp.Primary.MarshalBCS()},
			p2p.Sliver{SliverRef: p2p.SliverRef{Pair: uint16(pair), Type: codec.Secondary}, Data: sp.Secondary.MarshalBCS()})
	}
	wantMeta := codec.MarshalMetadataWithID(id, &enc.Metadata)
	var wg sync.WaitGroup
	errs := make(chan error, len(byHolder))
	for pid, ss := range byHolder {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- roundTrip(ctx, cl, pid, id, enc.Metadata.MarshalBCS(), wantMeta, ss)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// A node asked for slivers it does not hold says so per item.
	res, err := cl.GetSlivers(ctx, swarm[0].h.ID(), id, []p2p.SliverRef{byHolder[swarm[1].h.ID()][0].SliverRef})
	if err != nil || len(res) != 1 || !errors.Is(res[0].Err, p2p.ErrNotFound) {
		t.Fatalf("foreign sliver: %v %+v", err, res)
	}

	// Attestations: each node confirms the blob; every subscriber (all
	// nodes and the light client) gets all of them. A forger with no
	// validator, connected to three nodes, publishes a bad signature first.
	forger := loopbackHost(t, false)
	fps, err := pubsub.NewGossipSub(ctx, forger, pubsub.WithMessageIdFn(gossip.MessageID))
	if err != nil {
		t.Fatal(err)
	}
	ft, err := fps.Join(gossip.AttestationsTopic(network))
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{4, 9, 14} {
		if err := forger.Connect(ctx, swarm[i].h.AddrInfo()); err != nil {
			t.Fatal(err)
		}
	}
	all := append(append([]*node(nil), swarm...), lc)
	for i, n := range all {
		if err := waitFor(ctx, "topic peers", func() bool { return len(n.gs.AttestationPeers()) >= 3 }); err != nil {
			t.Fatalf("host %d: %v", i, err)
		}
	}
	if err := waitFor(ctx, "forger topic peers", func() bool { return len(ft.ListPeers()) == 3 }); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond) // a few heartbeats: meshes form

	forged := attest(swarm[5].signer, epoch, id)
	forged.Signed.Signature[7] ^= 0x40
	if err := ft.Publish(ctx, forged.Marshal()); err != nil {
		t.Fatal(err)
	}
	for _, n := range swarm {
		if err := n.gs.PublishAttestation(ctx, attest(n.signer, epoch, id)); err != nil {
			t.Fatal(err)
		}
	}
	for i, n := range all {
		want := nodes // a host's own publication is delivered to it too
		seen := map[[codec.BLSPublicKeySize]byte]bool{}
		for len(seen) < want {
			a, _, err := n.atts.Next(ctx)
			if err != nil {
				t.Fatalf("host %d got %d of %d attestations: %v", i, len(seen), want, err)
			}
			if a.Signed.Signature == forged.Signed.Signature {
				t.Fatalf("host %d received the forged attestation", i)
			}
			if a.Confirmation.BlobID != id || !cm.members[a.Signer] || seen[a.Signer] {
				t.Fatalf("host %d: unexpected attestation %+v", i, a.Confirmation)
			}
			seen[a.Signer] = true
		}
	}
	// Whatever is still queued must not be the forgery.
	for i, n := range all {
		sctx, scancel := context.WithTimeout(ctx, 100*time.Millisecond)
		a, _, err := n.atts.Next(sctx)
		scancel()
		if err == nil {
			t.Fatalf("host %d: extra attestation from %x", i, a.Signer[:2])
		}
	}
}

// roundTrip stores metadata and slivers on pid and reads them back.
func roundTrip(ctx context.Context, cl *p2p.Client, pid peer.ID, id codec.BlobID, meta, wantMeta []byte, ss []p2p.Sliver) error {
	if err := cl.PutMetadata(ctx, pid, id, meta); err != nil {
		return err
	}
	errs, err := cl.PutSlivers(ctx, pid, id, ss)
	if err != nil {
		return err
	}
	for i, e := range errs {
		if e != nil {
			return errors.Join(errors.New("put sliver refused"), e, errors.New(pid.String()), errors.New(string(rune('0'+i))))
		}
	}
	got, err := cl.GetMetadata(ctx, pid, id)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, wantMeta) {
		return errors.New("metadata differs from what was stored")
	}
	refs := make([]p2p.SliverRef, len(ss))
	for i, s := range ss {
		refs[i] = s.SliverRef
	}
	res, err := cl.GetSlivers(ctx, pid, id, refs)
	if err != nil {
		return err
	}
	if len(res) != len(ss) {
		return errors.New("wrong number of slivers")
	}
	for i, r := range res {
		if r.Err != nil {
			return r.Err
		}
		if !bytes.Equal(r.Data, ss[i].Data) {
			return errors.New("sliver differs from what was stored")
		}
	}
	return nil
}

var _ = host.LoopbackConfig
