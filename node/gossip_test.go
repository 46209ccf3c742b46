package node

import (
	"context"
	"crypto/rand"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	"floe/chainlink"
	"floe/chainlink/bls"
	"floe/codec"
	"floe/p2p/gossip"
	"floe/p2p/host"
)

// hostilePeer is an attacker's plain GossipSub router: no validator, no
// scoring, flood publishing (or publishes before its mesh forms are lost),
// a large outbound queue, subscribed to both topics so that it looks like
// any peer.
type hostilePeer struct {
	h      *host.Host
	att    *pubsub.Topic
	notice *pubsub.Topic
	sent   int
}

func newHostilePeer(t *testing.T, ctx context.Context, network string) *hostilePeer {
	t.Helper()
	h, err := host.New(host.LoopbackConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	ps, err := pubsub.NewGossipSub(ctx, h, pubsub.WithMessageIdFn(gossip.MessageID),
		pubsub.WithPeerOutboundQueueSize(8192), pubsub.WithFloodPublish(true))
	if err != nil {
		t.Fatal(err)
	}
	f := &hostilePeer{h: h}
	if f.att, err = ps.Join(gossip.AttestationsTopic(network)); err != nil {
		t.Fatal(err)
	}
	if f.notice, err = ps.Join(gossip.NoticesTopic(network)); err != nil {
		t.Fatal(err)
	}
	for _, tp := range []*pubsub.Topic{f.att, f.notice} {
		sub, err := tp.Subscribe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sub.Cancel)
	}
	return f
}

// waitTopicPeer waits until the hostile peer sees p on both topics: p has
// subscribed, so it validates what the hostile peer publishes.
func (f *hostilePeer) waitTopicPeer(t *testing.T, p peer.ID) {
	t.Helper()
	waitFor(t, 15*time.Second, "the node to subscribe to both gossip topics", func() bool {
		return slices.Contains(f.att.ListPeers(), p) && slices.Contains(f.notice.ListPeers(), p)
	})
}

func (f *hostilePeer) publish(t *testing.T, ctx context.Context, tp *pubsub.Topic, b []byte) {
	t.Helper()
	f.sent++
	if err := tp.Publish(ctx, b); err != nil {
		t.Fatal(err)
	}
}

func randomID() (id codec.BlobID) {
	_, _ = rand.Read(id[:])
	return id
}

func newBLSKey(t *testing.T) *bls.SecretKey {
	t.Helper()
	k, err := bls.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// signedAttestation is an attestation of epoch and id signed by key but
// claiming signer's public key.
func signedAttestation(signer bls.PublicKey, key *bls.SecretKey, epoch uint32, id codec.BlobID) []byte {
	msg := codec.StorageConfirmationMessage(epoch, id, codec.BlobPersistence{})
	a := gossip.Attestation{Signer: signer, Signed: codec.SignedMessage{Message: msg, Signature: key.Sign(msg)}}
	return a.Marshal()
}

// TestGossipNodeGraylistsForger: a storage node subscribes to both topics;
// a hostile peer that sends it forged attestations (a member's key with a
// bad signature, a signer outside the committee), garbage and forged
// invalid-blob notices is rejected, its score as the node sees it falls
// below the graylist threshold, and from then on nothing it sends reaches
// the node's validators. Nothing forged reaches the other nodes. On the
// code before (nodes joined the topics without subscribing) the hostile
// peer never sees the node on the topics and nothing is validated.
func TestGossipNodeGraylistsForger(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	d := startDevnet(t, 4, 20)
	n0 := d.Nodes()[0]
	st, err := d.Ledger.EpochState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	epoch := st.Epoch
	member := d.Nodes()[1].pk
	forger, outsider := newBLSKey(t), newBLSKey(t)

	f := newHostilePeer(t, ctx, "devnet")
	if err := f.h.Connect(ctx, n0.AddrInfo()); err != nil {
		t.Fatal(err)
	}
	f.waitTopicPeer(t, n0.PeerID())
	forge := func() {
		id := randomID()
		switch f.sent % 5 {
		case 0: // a member's key, signed by another key
			f.publish(t, ctx, f.att, signedAttestation(member, forger, epoch, id))
		case 1: // correctly signed by a key outside the committee
			f.publish(t, ctx, f.att, signedAttestation(outsider.PublicKey(), outsider, epoch, id))
		case 2: // garbage
			f.publish(t, ctx, f.att, append([]byte("not an attestation"), id[:]...))
		case 3: // an invalid-blob notice, a member's key, a forged signature
			nt := gossip.Notice{Kind: gossip.NoticeInvalid, BlobID: id, Epoch: epoch,
				Evidence: invalidEvidence(member, forger.Sign(codec.InvalidBlobIDMessage(epoch, id)))}
			f.publish(t, ctx, f.notice, nt.Marshal())
		case 4: // malformed evidence
			nt := gossip.Notice{Kind: gossip.NoticeInvalid, BlobID: id, Epoch: epoch, Evidence: id[:]}
			f.publish(t, ctx, f.notice, nt.Marshal())
		}
	}
	start := time.Now()
	var score gossip.PeerScore
	for {
		score, _ = n0.GossipPeerScore(f.h.ID())
		if score.Graylisted {
			break
		}
		if f.sent >= 200 || ctx.Err() != nil {
			t.Fatalf("not graylisted after %d forgeries: %+v; node stats %+v", f.sent, score, n0.GossipStats())
		}
		forge()
		time.Sleep(25 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // what was in flight is validated
	before := n0.GossipStats()
	thr := n0.gossip.Thresholds()
	t.Logf("graylisted after %d forgeries validated (%d sent before the 1-s score snapshot showed it, %v): score %.0f (graylist %.0f, publish %.0f, gossip %.0f), invalid attestations %.1f, notices %.1f",
		before.Attestations.Received+before.Notices.Received, f.sent, time.Since(start).Round(time.Millisecond),
		score.Score, thr.GraylistThreshold, thr.PublishThreshold, thr.GossipThreshold, score.InvalidAttestations, score.InvalidNotices)
	if before.Attestations.Rejected == 0 || before.Attestations.Malformed == 0 || before.Notices.Rejected == 0 ||
		before.Attestations.Accepted != 0 || before.Notices.Accepted != 0 {
		t.Fatalf("forgeries not all rejected: %+v", before.Stats)
	}
	for range 50 {
		forge()
	}
	time.Sleep(1500 * time.Millisecond)
	after := n0.GossipStats()
	if after.Attestations.Received != before.Attestations.Received || after.Notices.Received != before.Notices.Received {
		t.Fatalf("the graylisted peer's messages were still validated: %+v → %+v", before.Stats, after.Stats)
	}
	t.Logf("node 0 after 50 more forgeries: %+v", after.Stats)
	for i, n := range d.Nodes()[1:] {
		if st := n.GossipStats(); st.Attestations.Rejected+st.Notices.Rejected != 0 {
			t.Fatalf("node %d validated forwarded forgeries: %+v", i+1, st.Stats)
		}
		if s, ok := n0.GossipPeerScore(n.PeerID()); ok && s.Score < 0 {
			t.Fatalf("node 0 penalises honest node %d: %+v", i+1, s)
		}
	}
}

// TestGossipAttestationsRelayedToPublisher: a publisher connected to one
// storage node only still receives every node's attestation of a stored
// blob, relayed by that node. Before, nodes did not subscribe, so only
// that node's own attestation reached it.
func TestGossipAttestationsRelayedToPublisher(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	d := startDevnet(t, 4, 20)
	n0 := d.Nodes()[0]
	observer := newTestClient(t, d)
	sub, err := observer.attestations()
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Cancel()
	if err := observer.host.Connect(ctx, n0.AddrInfo()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "gossip peers", func() bool {
		return slices.Contains(observer.gossip.AttestationPeers(), n0.PeerID()) &&
			slices.Contains(n0.gossip.AttestationPeers(), observer.host.ID())
	})
	time.Sleep(1500 * time.Millisecond) // heartbeats: the meshes take the observer in

	c := newTestClient(t, d)
	res, err := c.Store(ctx, randomBlob(77, 30_000), StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	signers := map[bls.PublicKey]bool{}
	want := map[bls.PublicKey]bool{}
	for _, n := range d.Nodes() {
		want[n.pk] = true
	}
	start := time.Now()
	actx, acancel := context.WithTimeout(ctx, 20*time.Second)
	defer acancel()
	for len(signers) < len(want) {
		a, _, err := sub.Next(actx)
		if err != nil {
			t.Fatalf("observer got %d of %d attestations of the blob: %v", len(signers), len(want), err)
		}
		if a.Confirmation.BlobID == res.BlobID && want[a.Signer] {
			signers[a.Signer] = true
		}
	}
	t.Logf("observer connected to %d peer(s) got all %d attestations within %v of the store's end",
		len(observer.host.Network().Peers()), len(want), time.Since(start).Round(time.Millisecond))
	if ps := observer.host.Network().Peers(); len(ps) != 1 || ps[0] != n0.PeerID() {
		t.Fatalf("observer connected to %v, want node 0 only (the test needs relaying)", ps)
	}
	relayed := int64(0)
	for _, n := range d.Nodes() {
		relayed += n.GossipStats().AttestationsSeen
	}
	if relayed < int64(len(want)) {
		t.Fatalf("nodes delivered %d attestations to their subscriptions", relayed)
	}
}

// countingChain counts the chain reads a gossip validator could make.
type countingChain struct {
	chainlink.Chain
	calls atomic.Int64
}

func (c *countingChain) EpochState(ctx context.Context) (chainlink.EpochState, error) {
	c.calls.Add(1)
	return c.Chain.EpochState(ctx)
}

func (c *countingChain) Committee(ctx context.Context, epoch uint32) (*chainlink.Committee, error) {
	c.calls.Add(1)
	return c.Chain.Committee(ctx, epoch)
}

func (c *countingChain) BlobStatus(ctx context.Context, id codec.BlobID) (chainlink.BlobStatus, error) {
	c.calls.Add(1)
	return c.Chain.BlobStatus(ctx, id)
}

// TestGossipFloodCostsNoChainLookups: a node's validators, behind a chain
// that counts its reads, take a flood of forged messages that all need the
// chain on the code before (certified notices of random blobs: a blob
// status each; attestations and invalid notices naming the next epoch,
// whose committee does not exist yet: a committee fetch each; attestations
// by outsiders), and make a bounded number of chain reads: the committee
// once, an unknown epoch once per missTTL, certified notices within the
// lookup budget.
func TestGossipFloodCostsNoChainLookups(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	d := startDevnet(t, 4, 20)
	st, err := d.Ledger.EpochState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	epoch := st.Epoch
	cc := &countingChain{Chain: d.Ledger}
	n := &Node{log: testLogger(t), chain: cc, comms: newCommittees(cc), epoch: epoch}
	g := newNodeGossip(n)
	n.gsp = g
	hcfg := host.LoopbackConfig()
	hcfg.DisableQUIC = true
	h, err := host.New(hcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	gcfg := gossip.DefaultConfig("devnet", g.validateAttestation, g.validateNotice)
	gcfg.ScorePeriod = 100 * time.Millisecond
	if n.gossip, err = gossip.New(h, gcfg); err != nil {
		t.Fatal(err)
	}
	defer n.gossip.Close()
	if err := g.start(n.gossip); err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); g.run(rctx) }()
	defer func() { stop(); wg.Wait() }()

	f := newHostilePeer(t, ctx, "devnet")
	if err := f.h.Connect(ctx, h.AddrInfo()); err != nil {
		t.Fatal(err)
	}
	f.waitTopicPeer(t, h.ID())
	member := d.Nodes()[1].pk
	forger := newBLSKey(t)
	var junk [codec.BLSPublicKeySize + codec.BLSSignatureSize]byte
	const rounds = 250
	start := time.Now()
	for i := range rounds {
		id := randomID()
		_, _ = rand.Read(junk[:])
		// Certified: a blob the chain has never seen.
		f.publish(t, ctx, f.notice, gossip.Notice{Kind: gossip.NoticeCertified, BlobID: id, Epoch: epoch}.Marshal())
		// The next epoch, which has no committee yet.
		f.publish(t, ctx, f.att, signedAttestation(member, forger, epoch+1, id))
		f.publish(t, ctx, f.notice, gossip.Notice{Kind: gossip.NoticeInvalid, BlobID: id, Epoch: epoch + 1, Evidence: junk[:]}.Marshal())
		if i%50 == 49 {
			// Outsiders in the current epoch: Reject (a few before the
			// flood's sender is graylisted).
			f.publish(t, ctx, f.att, signedAttestation(forger.PublicKey(), forger, epoch, id))
		}
		time.Sleep(3 * time.Millisecond)
	}
	var last gossip.Stats
	for {
		time.Sleep(300 * time.Millisecond)
		s := n.gossip.Stats()
		if s == last {
			break
		}
		last = s
	}
	elapsed := time.Since(start)
	calls := cc.calls.Load()
	validated := last.Attestations.Accepted + last.Attestations.Ignored + last.Attestations.Rejected +
		last.Notices.Accepted + last.Notices.Ignored + last.Notices.Rejected
	gst := n.GossipStats()
	t.Logf("%d forgeries in %v: %d validated (%+v), %d chain reads (notice lookups %d, refused %d)",
		f.sent, elapsed.Round(time.Millisecond), validated, last, calls, gst.NoticeLookups, gst.NoticeLookupsRefused)
	if validated < 3*rounds/2 {
		t.Fatalf("only %d of %d forgeries validated: the flood did not arrive", validated, f.sent)
	}
	if last.Attestations.Accepted+last.Notices.Accepted != 0 {
		t.Fatalf("forgeries accepted: %+v", last)
	}
	// The committee of the epoch once, the next epoch once per missTTL
	// (two kinds of message may race for it), certified notices within
	// the budget.
	bound := int64(1 + 2*(elapsed/missTTL+1) + noticeLookupBurst + noticeLookupRate*(elapsed/time.Second+1))
	if calls > bound {
		t.Fatalf("%d chain reads for %d forgeries, want at most %d", calls, f.sent, bound)
	}
}

// TestGossipInvalidNoticesDropBlob: an invalid-blob notice is one member's
// verified signature; nodes count it but keep the blob until the gossiped
// signatures weigh what an invalidation certificate needs (3w ≥ n+1), then
// drop it as the chain event would, and a signer submits the certificate.
func TestGossipInvalidNoticesDropBlob(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	d := startDevnet(t, 4, 20)
	c := newTestClient(t, d)
	res, err := c.Store(ctx, randomBlob(91, 20_000), StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id := res.BlobID
	st, err := d.Ledger.EpochState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nodes := d.Nodes()
	for _, n := range nodes {
		waitFor(t, 15*time.Second, "gossip peers", func() bool {
			return len(n.gossip.NoticePeers()) >= len(nodes)-1
		})
	}
	time.Sleep(1500 * time.Millisecond) // heartbeats: meshes form
	notice := func(signer *Node) gossip.Notice {
		msg := codec.InvalidBlobIDMessage(st.Epoch, id)
		return gossip.Notice{Kind: gossip.NoticeInvalid, BlobID: id, Epoch: st.Epoch, Evidence: invalidEvidence(signer.pk, signer.key.Sign(msg))}
	}
	invalid := func(n *Node) bool {
		bs, err := n.store.State(ctx, id)
		return err == nil && bs.Invalid
	}
	// Node 3 relays node 0's signature: weight 5 of 20, below 7.
	if err := nodes[3].gossip.PublishNotice(ctx, notice(nodes[0])); err != nil {
		t.Fatal(err)
	}
	for i, n := range nodes {
		waitFor(t, 10*time.Second, "the first vote counted", func() bool { return n.GossipStats().InvalidVotes == 1 })
		if invalid(n) {
			t.Fatalf("node %d dropped the blob on one member's word", i)
		}
	}
	if err := nodes[3].gossip.PublishNotice(ctx, notice(nodes[1])); err != nil {
		t.Fatal(err)
	}
	for i, n := range nodes {
		waitFor(t, 10*time.Second, "node "+string(rune('0'+i))+" to drop the blob", func() bool { return invalid(n) })
	}
	waitFor(t, 10*time.Second, "the chain to record the invalidation", func() bool {
		bs, err := d.Ledger.BlobStatus(ctx, id)
		return err == nil && bs.Invalid
	})
	var dropped, submitted int64
	for _, n := range nodes {
		gs := n.GossipStats()
		dropped += gs.BlobsInvalidated
		submitted += gs.InvalidationsSubmitted
	}
	t.Logf("nodes that dropped the blob on gossip: %d, certificates submitted: %d", dropped, submitted)
	if dropped == 0 || submitted == 0 {
		t.Fatalf("dropped %d, submitted %d: want both positive", dropped, submitted)
	}
}
