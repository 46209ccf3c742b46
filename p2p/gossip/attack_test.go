package gossip

import (
	"context"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	"floe/codec"
	"floe/p2p/host"
)

// hostileRouter is a plain GossipSub router with no validator and no
// scoring: what an attacker runs to publish whatever bytes it likes. Its
// outbound queue is large so that a burst of publishes is sent, not
// dropped at the source, and it flood-publishes.
type hostileRouter struct {
	h      *host.Host
	att    *pubsub.Topic
	notice *pubsub.Topic
}

func newHostileRouter(t *testing.T, ctx context.Context, network string) *hostileRouter {
	t.Helper()
	h, err := host.New(host.LoopbackConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	ps, err := pubsub.NewGossipSub(ctx, h, pubsub.WithMessageIdFn(MessageID), pubsub.WithPeerOutboundQueueSize(4096),
		pubsub.WithFloodPublish(true)) // or publishes before its mesh forms are lost
	if err != nil {
		t.Fatal(err)
	}
	r := &hostileRouter{h: h}
	if r.att, err = ps.Join(AttestationsTopic(network)); err != nil {
		t.Fatal(err)
	}
	if r.notice, err = ps.Join(NoticesTopic(network)); err != nil {
		t.Fatal(err)
	}
	// Subscribed, so that it is a topic peer like any other (its
	// subscriptions are never read: pubsub drops what they miss).
	for _, tp := range []*pubsub.Topic{r.att, r.notice} {
		sub, err := tp.Subscribe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sub.Cancel)
	}
	return r
}

func waitUntil(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func honestGossip(t *testing.T, network string, va AttestationValidator, vn NoticeValidator, adjust func(*Config)) (*host.Host, *Gossip, *Subscription[Attestation], *Subscription[Notice]) {
	t.Helper()
	cfg := host.LoopbackConfig()
	cfg.DisableQUIC = true
	h, err := host.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	gcfg := DefaultConfig(network, va, vn)
	gcfg.ScorePeriod = 50 * time.Millisecond
	if adjust != nil {
		adjust(&gcfg)
	}
	g, err := New(h, gcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	sa, err := g.SubscribeAttestations()
	if err != nil {
		t.Fatal(err)
	}
	sn, err := g.SubscribeNotices()
	if err != nil {
		t.Fatal(err)
	}
	return h, g, sa, sn
}

// TestGossipForgerGraylisted: a peer publishing forged attestations (bad
// signature, signer outside the committee), forged notices and garbage is
// rejected, its score as seen by the honest peer it is connected to falls
// below the graylist threshold, after which nothing it sends reaches a
// validator; honest attestations still cross that peer.
func TestGossipForgerGraylisted(t *testing.T) {
	const network = "gossip-attack"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var members [3][codec.BLSPublicKeySize]byte
	fc := &fakeCommittee{current: 5, members: map[[codec.BLSPublicKeySize]byte]bool{}}
	for i := range members {
		members[i][0] = byte(i + 1)
		fc.members[members[i]] = true
	}
	badNotice := func(_ context.Context, _ peer.ID, n Notice) Verdict {
		if string(n.Evidence) == "signed" {
			return Accept
		}
		return Reject
	}
	// A line A — B — C; the forger is connected to B only.
	var hs [3]*host.Host
	var gs [3]*Gossip
	var subs [3]*Subscription[Attestation]
	for i := range hs {
		hs[i], gs[i], subs[i], _ = honestGossip(t, network, fc.validate, badNotice, nil)
	}
	for _, e := range [][2]int{{0, 1}, {1, 2}} {
		if err := hs[e[0]].Connect(ctx, hs[e[1]].AddrInfo()); err != nil {
			t.Fatal(err)
		}
	}
	f := newHostileRouter(t, ctx, network)
	if err := f.h.Connect(ctx, hs[1].AddrInfo()); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, ctx, "topic peers", func() bool {
		return len(gs[1].AttestationPeers()) == 3 && len(gs[1].NoticePeers()) == 3 &&
			len(f.att.ListPeers()) == 1 && len(f.notice.ListPeers()) == 1 &&
			len(gs[0].AttestationPeers()) == 1 && len(gs[2].AttestationPeers()) == 1
	})
	time.Sleep(1500 * time.Millisecond) // heartbeats: meshes form

	thr := gs[1].Thresholds()
	sent := 0
	forge := func() {
		sent++
		id := codec.BlobID{0xf0, byte(sent), byte(sent >> 8)}
		var msg []byte
		switch sent % 4 {
		case 0: // a member's key, a bad signature
			msg = attestation(members[2], 5, id, true).Marshal()
		case 1: // a signer outside the committee
			var outsider [codec.BLSPublicKeySize]byte
			outsider[0] = 0xee
			msg = attestation(outsider, 5, id, false).Marshal()
		case 2: // garbage
			msg = append([]byte("garbage"), id[:]...)
		case 3: // a notice with forged evidence
			n := Notice{Kind: NoticeInvalid, BlobID: id, Epoch: 5, Evidence: []byte("forged")}
			if err := f.notice.Publish(ctx, n.Marshal()); err != nil {
				t.Fatal(err)
			}
			return
		}
		if err := f.att.Publish(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	for {
		s, _ := gs[1].PeerScore(f.h.ID())
		if s.Graylisted {
			t.Logf("forger graylisted after %d forgeries in %v: score %.0f (threshold %.0f), invalid attestations %.1f, notices %.1f",
				sent, time.Since(start).Round(time.Millisecond), s.Score, thr.GraylistThreshold, s.InvalidAttestations, s.InvalidNotices)
			break
		}
		if ctx.Err() != nil || sent > 200 {
			t.Fatalf("forger not graylisted after %d forgeries: %+v", sent, s)
		}
		forge()
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // what was in flight is validated
	before := gs[1].Stats()
	if before.Attestations.Rejected == 0 || before.Attestations.Malformed == 0 || before.Notices.Rejected == 0 {
		t.Fatalf("forgeries not rejected: %+v", before)
	}
	for range 40 {
		forge()
	}
	time.Sleep(time.Second)
	after := gs[1].Stats()
	if after.Attestations.Received != before.Attestations.Received || after.Notices.Received != before.Notices.Received {
		t.Fatalf("a graylisted peer's messages were still validated: %+v → %+v", before, after)
	}
	if s, _ := gs[1].PeerScore(f.h.ID()); !s.Graylisted {
		t.Fatalf("forger no longer graylisted: %+v", s)
	}
	// Nothing forged was relayed: A and C validated nothing.
	for _, i := range []int{0, 2} {
		if st := gs[i].Stats(); st.Attestations.Received+st.Notices.Received != 0 {
			t.Fatalf("host %d saw forwarded forgeries: %+v", i, st)
		}
	}
	good := attestation(members[0], 5, codec.BlobID{0x60}, false)
	if err := gs[0].PublishAttestation(ctx, good); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{1, 2} {
		a, _, err := subs[i].Next(ctx)
		if err != nil || a.Confirmation.BlobID != good.Confirmation.BlobID {
			t.Fatalf("host %d: honest attestation not delivered: %v %v", i, a.Confirmation.BlobID, err)
		}
	}
	for i := range gs {
		for j := range hs {
			if s, ok := gs[i].PeerScore(hs[j].ID()); ok && s.Score < 0 {
				t.Fatalf("host %d penalises honest host %d: %+v", i, j, s)
			}
		}
	}
}

// TestGossipPeerRateLimit: beyond its budget a peer's messages are dropped
// unvalidated, as Ignore (no penalty: they may be valid).
func TestGossipPeerRateLimit(t *testing.T) {
	const network = "gossip-rate"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	accept := func(context.Context, peer.ID, Attestation) Verdict { return Accept }
	h, g, _, _ := honestGossip(t, network, accept, func(context.Context, peer.ID, Notice) Verdict { return Accept },
		func(c *Config) { c.PeerRate, c.PeerBurst = 1, 10 })
	f := newHostileRouter(t, ctx, network)
	if err := f.h.Connect(ctx, h.AddrInfo()); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, ctx, "topic peers", func() bool { return len(f.att.ListPeers()) == 1 && len(g.AttestationPeers()) == 1 })
	var signer [codec.BLSPublicKeySize]byte
	for i := range 60 {
		if err := f.att.Publish(ctx, attestation(signer, 5, codec.BlobID{byte(i), 1}, false).Marshal()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	// Wait until the count settles (a burst that overflows pubsub's
	// validation queue is dropped before it: RejectValidationQueueFull).
	for last := int64(-1); ; {
		time.Sleep(300 * time.Millisecond)
		r := g.Stats().Attestations.Received
		if r == last {
			break
		}
		last = r
	}
	st := g.Stats().Attestations
	t.Logf("60 sent at 500/s against 1/s, burst 10: %+v", st)
	if st.Received < 50 || st.Throttled < st.Received-15 || st.Accepted > 15 || st.Rejected != 0 {
		t.Fatalf("rate limit not applied: %+v", st)
	}
	time.Sleep(200 * time.Millisecond)
	if s, ok := g.PeerScore(f.h.ID()); !ok || s.Score < 0 {
		t.Fatalf("throttled peer penalised: %+v %v", s, ok)
	}
}
