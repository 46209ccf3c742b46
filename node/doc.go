// Package node is floe's storage node and its client roles, wired from
// codec, store, chainlink and p2p.
//
// # Storage node
//
// New starts a node from a Config: it opens its store, creates its libp2p
// identity and BLS key on first start (identity.key, bls.key in the data
// dir), registers on the chain with a proof of possession (or updates its
// peer ID and addresses if its BLS key is registered already), starts the
// stream-protocol server, DHT discovery (server mode, one provider record
// per held shard) and gossip, and follows chain events from its persisted
// cursor (chain.cursor).
//
// Events drive the store: BlobRegistered registers the blob (metadata and
// slivers pushed before it wait in the store's bounded pending buffer),
// BlobCertified queues recovery, BlobDeleted and InvalidBlobID drop the
// data, and EpochChangeStart expires blobs whose storage ended and takes up
// the new committee's shards. Applying an event twice is harmless, so the
// cursor is saved once a second and on shutdown, held back before the
// oldest blob whose recovery has not finished: a crash never forgets work.
//
// The handler (p2p.Handler) accepts metadata only if it verifies against
// its blob ID, and slivers only for the node's own shards, with the index
// their pair implies, and after verifying them against the metadata. Once
// every sliver of its shards is stored for a registered blob, the node
// signs a storage confirmation (F8.3), answers confirmation requests (which
// wait up to 10 s for the registration to arrive) and gossips it as an
// attestation. Gossiped attestations are accepted only if the signer is in
// the committee of the message's epoch and the signature verifies.
//
// Recovery: for each missing sliver of a certified blob the node asks just
// enough committee members, by how many source slivers they hold, for
// recovery symbols (n−f for a primary sliver, n−2f for a secondary one),
// verifies each symbol's Merkle proof, asks more members if some fail or
// lie, rebuilds the sliver (codec.RecoverSliver) and stores it. Symbol
// sources are cached (128 MiB) so a peer rebuilding a whole shard does not
// make its helpers expand the same sliver once per target. It logs
// "recovered slivers" with the bytes fetched: about (n−f + n−2f) symbols
// and their proofs per pair, O(|blob|/n). An inconsistent encoding yields
// an inconsistency proof; the node signs an InvalidBlobID message, gossips
// it as a notice, and invalidates the blob on chain when its own weight
// reaches f+1 shards.
//
// Config.Byzantine = "corrupt" makes a node serve corrupted metadata,
// slivers and recovery symbols, for fault experiments.
//
// # Client roles
//
// Client.Store encodes, registers (reserving storage), pushes every member
// the metadata and its sliver pairs over one put-slivers stream per member,
// concurrently, collects confirmations from the replies and from gossip,
// verifies each against the member's key, aggregates once they weigh a
// quorum (3w ≥ 2n+1) and certifies. Pushes to slower nodes go on for a
// second after the quorum; what they miss, nodes recover. Bytes that are
// already certified long enough, by a permanent object or a deletable one
// the caller owns, are not stored again (AlreadyCertified).
//
// Client.Read is a light client: status and committee from the chain,
// metadata from any member (verified against the blob ID), then primary
// slivers, the systematic ones first, from their holders, verified as they
// arrive, until n−2f verified ones are in (falling back to secondary
// slivers, n−f); then decoding and the consistency check. A node whose data
// fails verification is skipped for the rest of the read and reported in
// ReadResult.Liars.
//
// # Devnet
//
// StartDevnet runs the embedded ledger (served over HTTP on loopback, so
// separate client processes can use it) and storage nodes on loopback in
// one process, and writes a client config. `floe devnet` is this.
//
// # Figures
//
// `floe bench e2e` (7 nodes, n = 1000, 64 MiB, fsync on, 2 cores shared by
// everything): store 1.88 s median (35.7 MB/s), read 232 ms (289 MB/s);
// see README.md for the phases.
package node
