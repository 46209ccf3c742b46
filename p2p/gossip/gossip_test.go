package gossip

import (
	"bytes"
	"context"
	"crypto/sha256"
	"sync/atomic"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	"floe/codec"
	"floe/p2p/host"
)

// fakeCommittee stands in for the committee view: a signature is the
// SHA-256 of signer ‖ message, repeated; epochs before current are stale.
type fakeCommittee struct {
	current uint32
	members map[[codec.BLSPublicKeySize]byte]bool
	rejects atomic.Int64
	ignores atomic.Int64
}

func fakeSign(signer [codec.BLSPublicKeySize]byte, msg []byte) (sig [codec.BLSSignatureSize]byte) {
	h := sha256.Sum256(append(signer[:], msg...))
	for i := 0; i < len(sig); i += len(h) {
		copy(sig[i:], h[:])
	}
	return sig
}

func (c *fakeCommittee) validate(_ context.Context, _ peer.ID, a Attestation) Verdict {
	if !c.members[a.Signer] || a.Signed.Signature != fakeSign(a.Signer, a.Signed.Message) {
		c.rejects.Add(1)
		return Reject
	}
	if a.Confirmation.Epoch < c.current {
		c.ignores.Add(1)
		return Ignore
	}
	return Accept
}

func attestation(signer [codec.BLSPublicKeySize]byte, epoch uint32, id codec.BlobID, forge bool) Attestation {
	msg := codec.StorageConfirmationMessage(epoch, id, codec.BlobPersistence{})
	a := Attestation{Signer: signer, Signed: codec.SignedMessage{Message: msg, Signature: fakeSign(signer, msg)}}
	if forge {
		a.Signed.Signature[0] ^= 1
	}
	a.Confirmation, _ = codec.ParseStorageConfirmation(msg)
	return a
}

func TestAttestationRoundTrip(t *testing.T) {
	var signer [codec.BLSPublicKeySize]byte
	signer[3] = 9
	for _, p := range []codec.BlobPersistence{{}, {Deletable: true, ObjectID: codec.ObjectID{1, 2}}} {
		msg := codec.StorageConfirmationMessage(7, codec.BlobID{5}, p)
		a := Attestation{Signer: signer, Signed: codec.SignedMessage{Message: msg, Signature: fakeSign(signer, msg)}}
		b := a.Marshal()
		if len(b) > MaxAttestationSize {
			t.Fatalf("%d > MaxAttestationSize", len(b))
		}
		got, err := UnmarshalAttestation(b)
		if err != nil {
			t.Fatal(err)
		}
		if got.Confirmation.Epoch != 7 || got.Confirmation.BlobID != (codec.BlobID{5}) || got.Confirmation.Persistence != p ||
			!bytes.Equal(got.Marshal(), b) {
			t.Fatalf("round trip: %+v", got)
		}
		for i := range len(b) {
			if _, err := UnmarshalAttestation(b[:i]); err == nil {
				t.Fatalf("truncated to %d accepted", i)
			}
		}
	}
}

func TestNoticeRoundTrip(t *testing.T) {
	for _, n := range []Notice{
		{Kind: NoticeCertified, BlobID: codec.BlobID{1}, Epoch: 3},
		{Kind: NoticeInvalid, BlobID: codec.BlobID{2}, Epoch: 4, Evidence: bytes.Repeat([]byte{7}, MaxEvidenceSize)},
	} {
		b := n.Marshal()
		got, err := UnmarshalNotice(b)
		if err != nil || !bytes.Equal(got.Marshal(), b) {
			t.Fatalf("round trip: %v %+v", err, got)
		}
	}
	bad := Notice{Kind: 2}.Marshal()
	if _, err := UnmarshalNotice(bad); err == nil {
		t.Fatal("unknown kind accepted")
	}
	long := Notice{Evidence: make([]byte, MaxEvidenceSize+1)}.Marshal()
	if _, err := UnmarshalNotice(long); err == nil {
		t.Fatal("oversized evidence accepted")
	}
}

func TestDefaultScoreValid(t *testing.T) {
	// pubsub validates score parameters when the router is built.
	h, err := host.New(host.LoopbackConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	g, err := New(h, DefaultConfig("score", func(context.Context, peer.ID, Attestation) Verdict { return Accept },
		func(context.Context, peer.ID, Notice) Verdict { return Accept }))
	if err != nil {
		t.Fatal(err)
	}
	g.Close()
}

// TestGossipSwarm: an attestation reaches every subscribed host, a stale
// one is ignored without penalty, a forged one from a validator-less peer
// reaches none and costs that peer score.
func TestGossipSwarm(t *testing.T) {
	const n = 6
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var members [n][codec.BLSPublicKeySize]byte
	fc := &fakeCommittee{current: 5, members: map[[codec.BLSPublicKeySize]byte]bool{}}
	for i := range members {
		members[i][0] = byte(i + 1)
		fc.members[members[i]] = true
	}
	hosts := make([]*host.Host, n)
	gs := make([]*Gossip, n)
	subs := make([]*Subscription[Attestation], n)
	for i := range hosts {
		cfg := host.LoopbackConfig()
		cfg.DisableQUIC = true
		h, err := host.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = h.Close() })
		hosts[i] = h
		gcfg := DefaultConfig("gossip-test", fc.validate, func(context.Context, peer.ID, Notice) Verdict { return Accept })
		gcfg.ScorePeriod = 100 * time.Millisecond
		g, err := New(h, gcfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = g.Close() })
		gs[i] = g
		if subs[i], err = g.SubscribeAttestations(); err != nil {
			t.Fatal(err)
		}
	}
	// A line with chords: not everyone is a direct neighbour of the publisher.
	for i := 1; i < n; i++ {
		for _, j := range []int{i - 1, (i + 2) % n} {
			if j != i {
				if err := hosts[i].Connect(ctx, hosts[j].AddrInfo()); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	// The forger: a plain router with no validator, connected to host 1.
	fh, err := host.New(host.LoopbackConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	fps, err := pubsub.NewGossipSub(ctx, fh, pubsub.WithMessageIdFn(MessageID))
	if err != nil {
		t.Fatal(err)
	}
	ft, err := fps.Join(AttestationsTopic("gossip-test"))
	if err != nil {
		t.Fatal(err)
	}
	if err := fh.Connect(ctx, hosts[1].AddrInfo()); err != nil {
		t.Fatal(err)
	}
	for i, g := range gs {
		for len(g.AttestationPeers()) < len(hosts[i].Network().Peers())-1 || len(g.AttestationPeers()) == 0 {
			select {
			case <-ctx.Done():
				t.Fatalf("host %d sees %d topic peers", i, len(g.AttestationPeers()))
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	for len(ft.ListPeers()) == 0 {
		select {
		case <-ctx.Done():
			t.Fatal("forger sees no topic peers")
		case <-time.After(20 * time.Millisecond):
		}
	}
	time.Sleep(2 * time.Second) // two heartbeats: meshes form

	forged := attestation(members[2], 5, codec.BlobID{0xf0}, true)
	if err := ft.Publish(ctx, forged.Marshal()); err != nil {
		t.Fatal(err)
	}
	stale := attestation(members[3], 4, codec.BlobID{0x57}, false)
	if err := gs[3].PublishAttestation(ctx, stale); err == nil {
		t.Fatal("stale attestation published locally")
	}
	good := attestation(members[0], 5, codec.BlobID{0x60}, false)
	if err := gs[0].PublishAttestation(ctx, good); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < n; i++ {
		a, from, err := subs[i].Next(ctx)
		if err != nil {
			t.Fatalf("host %d: %v", i, err)
		}
		if a.Confirmation.BlobID != good.Confirmation.BlobID || from != hosts[0].ID() {
			t.Fatalf("host %d got %v from %s, want the good attestation (forgery delivered?)", i, a.Confirmation.BlobID, from)
		}
	}
	// Nothing else arrives: the forgery reached no one.
	for i := range n {
		sctx, scancel := context.WithTimeout(ctx, 300*time.Millisecond)
		a, _, err := subs[i].Next(sctx)
		scancel()
		if err == nil && i == 0 && a.Confirmation.BlobID == good.Confirmation.BlobID {
			continue // the publisher sees its own
		}
		if err == nil {
			t.Fatalf("host %d received %v", i, a.Confirmation.BlobID)
		}
	}
	if fc.rejects.Load() == 0 {
		t.Fatal("forgery never reached a validator")
	}
	time.Sleep(300 * time.Millisecond)
	if s, ok := gs[1].PeerScore(fh.ID()); !ok || s.Score >= 0 || s.InvalidAttestations < 0.5 {
		t.Fatalf("forger score %+v (%v), want negative with an invalid delivery", s, ok)
	}
	for i, g := range gs {
		for j, h := range hosts {
			if s, ok := g.PeerScore(h.ID()); ok && s.Score < 0 {
				t.Fatalf("host %d penalises honest host %d: %+v", i, j, s)
			}
		}
	}
}
