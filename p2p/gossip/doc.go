// Package gossip runs GossipSub (go-libp2p-pubsub) with floe's two topics:
//
//   - /floe/<network>/attestations/1: storage confirmations (availability
//     attestations), wire form signer BLS key (48) ‖ BCS SignedMessage of a
//     storage-confirmation message;
//   - /floe/<network>/notices/1: blob notices (certified, invalid) with
//     evidence the receiver checks against the chain.
//
// Message IDs are SHA-256 of the data, so a message relayed or republished
// by many peers is one message. Nothing is delivered or forwarded before
// the caller's validator accepts it: the validators call back into the
// committee view (signature and membership: Reject, which penalises the
// sender, for forgeries; Ignore, which does not, for stale epochs and
// unknown blobs). Peer scoring (DefaultScore) weighs invalid deliveries
// heavily, rewards first deliveries and ignores mesh-delivery deficits on
// these bursty topics; pubsub validates the parameters when the router
// starts. Own messages are flood-published, so an attestation does not wait
// for the mesh. Slivers never ride on gossip.
//
//	g, _ := gossip.New(h, gossip.DefaultConfig(network, committee.VerifyAttestation, chain.VerifyNotice))
//	defer g.Close()
//	sub, _ := g.SubscribeAttestations()
//	a, author, err := sub.Next(ctx)
//	g.PublishAttestation(ctx, gossip.Attestation{Signer: pk, Signed: sm})
package gossip
