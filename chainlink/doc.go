// Package chainlink is floe's only door to the chain: the Chain interface
// that storage nodes and clients use, and the embedded ledger that
// implements it with the Walrus system-contract rules that matter to them
// (shared/spec/walrus-compat.md §8, §9, §13).
//
// # The ledger
//
// Ledger keeps accounts (a devnet faucet funds them), storage nodes
// registered with a libp2p peer ID, announce addresses and a BLS12-381
// min_pk key proven by a proof of possession (F8.4), stake and delegations,
// epochs, committees, storage resources and blob objects. Its state lives on
// a go-datastore (OpenDir: pebble with synced writes; Open: any datastore,
// NewMemDatastore for tests). Each operation validates everything first and
// then writes all its records, the events it emits and the global record in
// one batch, so nothing malformed changes state and a restart restores the
// same bytes (Digest, StateDigest).
//
// Epochs advance on a timer (WithEpochDuration) or on request
// (AdvanceEpoch). At each change the fees paid into the ending epoch go to
// the stakers of its committee in proportion to their stake at that time
// (F9.4), the next committee is chosen from the 150 largest stakes, shards
// are apportioned with D'Hondt and the per-node cap (Apportion, F13.1) and
// assigned keeping existing shards in place (InitialShards,
// TransitionShards, F13.2), and EpochChangeStart is emitted.
//
// The change then waits for the new committee (F13.3, as
// staking_inner.move::epoch_sync_done): every member reports EpochSyncDone
// once it holds all its shards, also a member whose shards did not move
// (it reports at once). Each report emits ShardsReceived and adds the
// member's whole weight in the new committee to EpochState.SyncDoneWeight
// (the reporters are EpochState.SyncDoneNodes); EpochChangeDone is emitted
// once, by the report that brings the weight to a quorum (3w ≥ 2n+1), and
// later reports still emit ShardsReceived. Nobody is counted without
// reporting. Only when there is nothing to hand over — no previous
// committee (or an empty one: the first committee), or an empty new
// committee — is EpochChangeDone emitted at the advance itself.
//
// Stake moves to a node at once and counts from the next committee
// selection. Unstake is a withdrawal request: the amount leaves the node's
// stake at once (a node left with no stake is not selected for the next
// committee) and earns nothing more, and it is credited back to the
// staker's balance at the advance to epoch e+2, e being the epoch of the
// request: by then the committee of e+1, selected without that stake, has
// taken over the node's shards while the node kept serving them. Pending
// withdrawals are listed on the node (Node.Withdrawals) and credited in the
// advance's own batch, nodes in ID order.
//
// Blob registration re-derives the blob ID from root hash, size and
// encoding type (F4.8), charges storage per MiB per epoch and a write price
// per MiB of the encoded length (F3.7, F9.4). Certification verifies the
// aggregate signature exactly as the contract does (F8.7, package bls: the
// signer bitmap, total key minus non-signers, 3·w ≥ 2n+1, message epoch ==
// current epoch) and then the message against the blob (F9.3).
// Invalidation needs 3·w ≥ n+1. Deletion (deletable blobs, owner only)
// returns the storage; extension (certified blobs) pays for more epochs.
//
// # Events
//
// Every state change a node reacts to is an Event in one ordered log with a
// u64 cursor (1, 2, 3, …). Events(ctx, after) streams the events after a
// cursor and then waits for new ones; a subscriber that stores the cursor
// of the last event it handled and resumes from it misses nothing and sees
// nothing twice, across ledger restarts too.
//
// # Over HTTP
//
// Serve runs a ledger stored in a directory as a small HTTP/JSON service on
// a loopback address (the `floe ledger serve` command), and Client
// implements Chain over it, so several processes share one ledger. Errors
// carry a stable code that Client maps back to the same sentinel, so
// errors.Is works the same in process and over HTTP. Events are long-polled
// (GET /v1/events?after=C&wait=20s).
//
// The package keeps no mutable package-level state and logs with log/slog.
package chainlink
