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
// the stakers of its committee in proportion to stake (F9.4), the next
// committee is chosen from the 150 largest stakes, shards are apportioned
// with D'Hondt and the per-node cap (Apportion, F13.1) and assigned keeping
// existing shards in place (InitialShards, TransitionShards, F13.2), and
// EpochChangeStart is emitted; EpochChangeDone follows when members holding
// a quorum of shards report EpochSyncDone (members that gained no shard
// count at once, F13.3).
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
