// Package chainlink is floe's only door to the chain: the Chain interface
// that storage nodes and clients use, and the embedded ledger that
// implements it with the Walrus system-contract rules that matter to them
// (shared/spec/walrus-compat.md §8, §9, §13).
//
// # The ledger
//
// Ledger keeps accounts (a devnet faucet funds them), storage nodes
// registered with a libp2p peer ID, announce addresses and a BLS12-381
// min_pk key proven by a proof of possession (F8.4) — and, for a node
// serving the Walrus REST API, its URL and the P-256 network key clients
// pin (network_address, network_public_key, F7.1) — stake and delegations,
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
// # Who may change what
//
// The Ledger's methods trust their caller (one process: a devnet, a test).
// The HTTP service does not: every state-changing request is signed by the
// key that acts, and the service checks the signature before the ledger
// sees the request. Reads (GET) are open.
//
//	POST /v1/nodes                 account key of Owner (the proof of possession binds the BLS key to it)
//	POST /v1/nodes/{id}/update     BLS key registered for node {id}
//	POST /v1/epoch/sync-done       BLS key registered for the reporting node
//	POST /v1/stake, /v1/unstake    account key of Staker
//	POST /v1/storage               account key of Owner
//	POST /v1/blobs                 account key of Payer, or of Owner when no payer is named
//	POST /v1/blobs/{obj}/delete    account key of Owner (the ledger checks it owns the blob)
//	POST /v1/blobs/{obj}/extend    account key of Payer
//	POST /v1/blobs/{obj}/attributes[/remove]  account key of Owner (the ledger checks it owns the blob)
//	POST /v1/blobs/{obj}/certify   none: the quorum certificate is the authorisation
//	POST /v1/invalidate            none: the certificate (one correct node's weight) is the authorisation
//	POST /v1/epoch/advance         the admin token: "Authorization: Bearer TOKEN" (WithAdminToken; none: refused)
//	POST /v1/faucet                unsigned, off unless WithFaucet; rate-limited per account and per client IP
//
// Certification and invalidation carry no account signature: the ledger
// verifies the BLS aggregate over a message that names the epoch, the blob
// ID and (for deletable blobs) the object, exactly as the Walrus contract
// does, so a submitter can only make happen what the committee attested,
// once (a second certification is ErrAlreadyCertified). That lets a
// publisher certify a blob it registered for another owner, and any node
// submit an invalid-blob certificate, as on Walrus.
//
// Account keys are ed25519 (package account): the address is
// blake2b-256(0x00 ‖ public key), as Sui derives it. A request signed by
// account A may only act for A: the acting field of the body (owner,
// staker, payer) must be A, or the request is refused.
//
// A signed request carries the header
//
//	Floe-Auth: v1 scheme=ed25519 signer=0x<address> key=<public key, 64 hex> session=<32 hex> nonce=<32 hex> expires=<Unix ms> sig=<128 hex>
//	Floe-Auth: v1 scheme=bls signer=0x<node ID> session=… nonce=… expires=… sig=<192 hex>
//
// and the signature covers (AuthMessage)
//
//	"floe/ledger-request/v1" 0x00 ‖ scheme u8 ‖ signer [32] ‖ session [16] ‖ nonce [16] ‖
//	expires_ms u64 BE ‖ u8 len ‖ method ‖ u16 BE len ‖ path (with query) ‖ sha256(body)
//
// The intent prefix starts with 'f' (0x66), no Walrus intent type, so a
// node's BLS signature over an envelope is never a storage confirmation,
// an invalid-blob attestation, a sync-shard request or a proof of
// possession, nor the other way round; and an account's envelope
// signature covers more than 32 bytes, so it is never a Sui signature
// (those cover 32-byte intent digests).
//
// Replays: the session is 16 random bytes the service draws at every start
// (GET /v1/auth also tells the service's clock, so a client with a skewed
// clock picks a valid expiry). The service refuses an expiry in the past
// or more than MaxAuthValidity (2 min) ahead, and remembers every accepted
// (scheme, signer, nonce) until its expiry: a captured request replayed
// within its window is refused, and after it is expired. The nonce cache
// is in memory; a restart forgets it, but it also draws a new session, so
// every signature made before the restart is refused (ErrStaleSession)
// and nothing captured earlier can be replayed. The Client then fetches
// the new session and signs again once, by itself: the refused request
// changed nothing. The cache holds at most Config.MaxNonces entries; past
// that, signed requests get ErrRateLimited until entries expire.
//
// Refusals are ErrUnauthorized (HTTP 401, code "unauthorized";
// ErrStaleSession "stale_session"), ErrFaucetDisabled (403) and
// ErrRateLimited (429), and change nothing. A Client asked for a mutation
// it holds no key for returns a *MissingKeyError (ErrNoKey) and sends
// nothing.
//
// The package keeps no mutable package-level state and logs with log/slog.
package chainlink
