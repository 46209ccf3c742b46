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
// data, EpochChangeStart expires blobs whose storage ended and plans the
// epoch change, EpochChangeDone starts the grace period of lost shards.
// Applying an event twice is harmless, so the cursor is saved once a second
// and on shutdown, held back before the oldest blob whose recovery has not
// finished: a crash never forgets work.
//
// # Epoch change (migrate.go, F13.3)
//
// At EpochChangeStart of the chain's current epoch e (older starts replayed
// after downtime only expire blobs) the node compares the shards the
// committee of e assigns it with the shards its store holds, and persists
// the plan in epoch-change.json before the event's cursor can be saved:
//
//   - Gained shard: pulled from its previous owner (the latest earlier
//     committee's owner that is not this node) over sync-shard, primary
//     then secondary slivers of blobs certified before e, 64 slivers or
//     16 MiB a batch, from a persisted per-type cursor. Requests are
//     Walrus's SyncShardMsg signed with the node's BLS key; the server
//     answers only the member its current committee assigns that shard.
//     Each sliver is checked against the blob's metadata (fetched first
//     from the source, then from the committees, verified against the blob
//     ID) before it is stored. A source that serves a sliver failing
//     verification is logged by name and not asked again in that change;
//     one unreachable past Config.ShardSyncFallback is given up. Then a gap
//     check (store.ShardGaps: both slivers of every certified, unexpired
//     blob) sends what is missing to recovery, until nothing is. Missing
//     slivers of a shard still syncing are not recovered meanwhile: a sync
//     moves about the shard's sliver bytes, recovery about n times more.
//   - Lost shard: retained and served (slivers, recovery symbols, sync to
//     its new owner) until EpochChangeDone of an epoch ≥ the one it was
//     lost at plus Config.ShardDropGrace, then dropped (store.DropShard).
//   - Sync done: the node calls EpochSyncDone once every gained shard is
//     complete by the gap check; a node that gained nothing reports at
//     once. The chain's EpochChangeDone needs reports of a quorum of shards.
//
// Across a change, readers (Client.Read) and recovering nodes ask for each
// shard the owner in the committee the data should be in — the previous
// one while the change is in progress for blobs certified before e (F6.1),
// else the current one — and the other owner when the first does not have
// a sliver: a miss is not a fault; only data failing verification, or a
// broken stream, drops a member from a read. Recovery runs from a queue:
// each blob at most once, retried with backoff (1 s doubling to 2 min) on
// failure, by up to Config.RecoveryWorkers workers started on demand.
//
// NodeStatus (the node-status protocol, `floe node status`) reports the
// epoch, the assigned shards, every gained shard's progress (slivers and
// bytes synced, metadata bytes, whether the source failed), retained
// shards, slivers held against assigned, recovery counts and the counters
// of Stats. Client.Audit (`floe audit`) asks a member for every sliver of
// its shards of some blobs and verifies each.
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
// Recovery: the missing slivers of a certified blob are rebuilt by type, in
// batches of as many as 64 MiB of their symbols allow (all of a node's for
// blobs up to a few hundred MiB at n = 1000). Every sliver of a batch is
// rebuilt from the symbols of the same source slivers (n−f for a primary
// sliver, n−2f for a secondary one), so the node asks just enough committee
// members, by how many source slivers they hold, for each source's symbols
// towards every target at once (get-recovery-batch; an older member is
// asked one target at a time), verifies each symbol's Merkle proof, asks
// more members if some fail or lie, rebuilds each sliver
// (codec.RecoverSliver) and stores it. A member expands each source sliver
// once per request and caches the expansion (128 MiB); with one target per
// request, concurrent recoveries overflowed that cache and made members
// expand the same source once per target. It logs
// "recovered slivers" with the bytes fetched: about (n−f + n−2f) symbols
// and their proofs per pair, O(|blob|/n). An inconsistent encoding yields
// an inconsistency proof; the node signs an InvalidBlobID message, gossips
// it as a notice, and invalidates the blob on chain when its own weight
// reaches f+1 shards.
//
// Data pushed before its registration waits in the store's pending buffer
// (pending.go) only if the chain knows the blob (cached lookups, a few a
// second per peer); while the chain cannot be asked, each peer and IP may
// buffer 32 MiB per 10 minutes; a full buffer evicts its oldest entries,
// and entries whose registration never came are pruned after 10 minutes.
// The stream server (p2p) gives the committees reserved slots and never
// gates them, caps streams per address, and cuts off peers whose invalid
// requests or failing slivers (p2p.ErrFailedVerification) add up.
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
// ReadResult.Liars. A store that an epoch change overtakes (its
// confirmations are of the old epoch) distributes again to the new
// committee and certifies there.
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
