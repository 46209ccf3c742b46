// Package gossip runs GossipSub (go-libp2p-pubsub) with floe's two topics:
//
//   - /floe/<network>/attestations/1: storage confirmations (availability
//     attestations);
//   - /floe/<network>/notices/1: blob notices (certified, invalid) with
//     evidence the receiver checks.
//
// Slivers never ride on gossip.
//
// # Wire format
//
// An attestation is the signer's BLS public key (48 bytes) ‖ a BCS
// SignedMessage (ULEB128 length, the storage-confirmation message: header,
// epoch, blob ID, persistence; then the 96-byte signature), at most
// MaxAttestationSize bytes. A notice is kind u8 (0 certified, 1 invalid) ‖
// blob ID (32) ‖ epoch u32 LE ‖ evidence length u16 LE ‖ evidence (at most
// MaxEvidenceSize). Storage nodes define the evidence: for an invalid
// notice, the signing member's BLS key (48) ‖ its signature (96) over the
// InvalidBlobID message of that epoch and blob; a certified notice carries
// none (the receiver asks the chain). Decoding is canonical: bytes that
// decode re-encode to themselves, so the message ID — the SHA-256 of the
// data — names one message however many peers relay or republish it.
// Messages are signed by their libp2p author (StrictSign) and at most
// 16 KiB on the wire.
//
// # Validation order
//
// Nothing is delivered or forwarded before it is accepted, and each step
// runs only if the ones before it passed, cheapest first:
//
//  1. pubsub drops every RPC from a graylisted peer, checks the libp2p
//     signature (a bad one counts as an invalid delivery) and drops message
//     IDs seen in the last two minutes;
//  2. decoding (sizes, framing, intent): Reject;
//  3. the forwarding peer's token bucket (Config.PeerRate, PeerBurst;
//     default 200/s, bursts of 1000; own messages exempt): Ignore, counted
//     as Throttled;
//  4. the caller's validator. Storage nodes (node/gossip.go) check the epoch
//     window (one epoch either side of theirs, else Ignore), then take the
//     committee of the stated epoch from a cache (no chain call for a known
//     epoch; an unknown one is fetched once and the miss remembered for 2 s,
//     Ignore), then the signer's membership (Reject: committees never change
//     once selected), then the BLS signature (Reject). Certified notices
//     cost a chain lookup, cached (certified for 10 minutes, not certified
//     for 2 s) and budgeted node-wide (5/s, bursts of 20; beyond: Ignore).
//
// Reject penalises the peer that forwarded the message; honest peers never
// forward what they have not accepted, so only the originator pays. Ignore
// (stale or future epochs, unknown committees, not yet certified, over
// budget, validator timeout) does not: it may be valid elsewhere or later.
//
// # Peer scoring
//
// DefaultScore: on both topics P1 (time in mesh) +0.01/s up to +36, P2
// (first deliveries) +1 each up to 100, P3 (mesh delivery deficits) off,
// P4 (invalid deliveries) −100 × count² with the count decaying to 1% in an
// hour; topic weights attestations 1, notices 0.5; positive topic score
// capped at 100; P6 IP colocation −5 × (peers beyond 10 on one IP)², with
// loopback exempt; P7 behaviour −10 × (penalty beyond 6)². Thresholds:
// gossip −500, publish −1000, graylist −2500. Six forged attestations
// (−3600), or eight forged notices (−3200), graylist a peer; with six it is
// heard again after about 2.4 minutes, with a hundred after 39; the score
// is kept 10 minutes after a disconnection. Gossip.PeerScore reads a peer's
// score (and its decaying invalid counts) from a snapshot refreshed every
// Config.ScorePeriod; Gossip.Stats counts what each validator step decided.
//
// Measured on loopback (go test ./p2p/gossip ./node -run 'Graylist|Flood'
// -v): a hostile plain GossipSub host sending forged attestations, garbage
// and forged notices to a devnet node is graylisted after 7 validated
// forgeries (score −2693: 5 invalid attestations, 2 invalid notices),
// after which 50 more reach no validator and no other node; 755 forged
// messages that each needed a chain read before (certified notices of
// random blobs, attestations and notices of an epoch without a committee)
// cost 27 chain reads instead of 770.
//
// # Publishing
//
// A publish reaches only peers known to be on the topic: own messages are
// flood-published to every such peer whose score is above the publish
// threshold, not only the mesh, so they do not wait for the mesh to form;
// a publish made before any peer is known reaches no one, and republishing
// the same bytes is then a no-op (the ID is seen), so storage nodes hold
// their attestations until the topic has a peer. A host relays a topic only
// while subscribed to it, and must drain the subscription.
//
//	g, _ := gossip.New(h, gossip.DefaultConfig(network, validateAttestation, validateNotice))
//	defer g.Close()
//	sub, _ := g.SubscribeAttestations()
//	a, author, err := sub.Next(ctx)
//	g.PublishAttestation(ctx, gossip.Attestation{Signer: pk, Signed: sm})
package gossip
