// Package sui anchors floe on Sui with the Walrus contracts: the wire
// formats of the transactions floe signs and of the Walrus objects and
// events it reads, bit-exact with the official SDK, and the mapping
// between them and chainlink's types (shared/spec/walrus-compat.md §8,
// §9, §13, §14; shared/notes/sui.md).
//
// What is here: BCS of TransactionData (encode and bounded decode), Sui
// intent signing and digests, the Walrus transaction builders, the
// decoders of the Walrus objects and events, the abort-code table, the
// node-identity mapping, the Chain implementation over gRPC (Client,
// rpc.go, chain.go) with its event index (index.go), and a loopback
// sui.rpc.v2 stand-in whose state machine is the embedded ledger
// (suisim). chainlink/chaintest passes against Client over the stand-in
// (suisim's TestSuiConformance), and `floe devnet --chain sui-sim` runs a
// swarm on it. Move execution itself is never exercised here: no Sui node
// runs on this machine; the byte formats are checked against
// @mysten/walrus and @mysten/sui, which is what a Sui full node accepts,
// and the stand-in applies the ledger's rules, not the contracts' code.
//
// # Transactions
//
// A transaction is TransactionData::V1 (sui-types transaction.rs, the
// layout of @mysten/sui's bcs.TransactionData). Variant indices are
// ULEB128, integers little-endian, vectors a ULEB128 length and their
// elements:
//
//	TransactionData   = 0x00 (V1) ‖ kind ‖ sender [32] ‖ gas ‖ expiration
//	kind              = 0x00 (ProgrammableTransaction) ‖ vec<CallArg> ‖ vec<Command>
//	CallArg           = 0 Pure vec<u8> | 1 Object ObjectArg | 2 FundsWithdrawal
//	ObjectArg         = 0 ImmOrOwned ref | 1 Shared id [32] ‖ initial_shared_version u64 ‖ mutable bool | 2 Receiving ref
//	ref               = id [32] ‖ version u64 ‖ digest vec<u8> (32 bytes)
//	FundsWithdrawal   = 0 MaxAmountU64 u64 ‖ 0 Balance TypeTag ‖ (0 Sender | 1 Sponsor | 2 SenderAllowance [32] [32])
//	Command           = 0 MoveCall package [32] ‖ module str ‖ function str ‖ vec<TypeTag> ‖ vec<Argument>
//	                  | 1 TransferObjects vec<Argument> ‖ Argument  | 2 SplitCoins Argument ‖ vec<Argument>
//	                  | 3 MergeCoins Argument ‖ vec<Argument>      | 4 Publish | 5 MakeMoveVec Option<TypeTag> ‖ vec<Argument> | 6 Upgrade
//	Argument          = 0 GasCoin | 1 Input u16 | 2 Result u16 | 3 NestedResult u16 u16
//	TypeTag           = 0 bool | 1 u8 | 2 u64 | 3 u128 | 4 address | 5 signer | 6 vector TypeTag
//	                  | 7 struct (address [32] ‖ module str ‖ name str ‖ vec<TypeTag>) | 8 u16 | 9 u32 | 10 u256
//	gas               = vec<ref> payment ‖ owner [32] ‖ price u64 ‖ budget u64
//	expiration        = 0 None | 1 Epoch u64 | 2 ValidDuring | 3 Validity
//
// floe always names the gas coins, price and budget and sets no
// expiration, as the SDK does once gas is given; UnmarshalTransactionData
// refuses other kinds, trailing bytes and anything past Sui's limits
// (2048 inputs, 1024 commands, 16 KiB pure values, 256 gas coins, type
// nesting 16).
//
// Signing (sign.go): the signed digest is blake2b-256(0x00 0x00 0x00 ‖
// BCS), the signature flag 0x00 ‖ ed25519 signature ‖ public key (97
// bytes, base64 on the wire); the transaction digest is
// base58(blake2b-256("TransactionData::" ‖ BCS)). Accounts are
// chainlink/account keys: the same key names the same address on the
// embedded ledger and on Sui.
//
// The builders (walrus_tx.go) produce the calls of @mysten/walrus 1.2.13
// byte for byte, inputs in the SDK's order (objects deduplicated by ID,
// pure values never; a shared object mutable iff some use takes it by
// value or &mut):
//
//	RegisterBlobTx      [write coin] [storage coin] system::reserve_space, coin::destroy_zero,
//	                    system::register_blob, coin::destroy_zero, TransferObjects(blob → owner)
//	ReserveSpaceTx      [coin] system::reserve_space, coin::destroy_zero, TransferObjects
//	CertifyBlobTx       system::certify_blob(&System, &mut Blob, signature, bitmap, message)
//	DeleteBlobTx        system::delete_blob(&System, Blob), TransferObjects(storage → owner)
//	ExtendBlobTx        [coin] system::extend_blob(&mut System, &mut Blob, epochs, coin), coin::destroy_zero
//	InvalidateBlobIDTx  system::invalidate_blob_id(&System, signature, bitmap, message)
//	RegisterCandidateTx node_metadata::new, staking::register_candidate, TransferObjects(cap → sender)
//	StakeWithPoolTx     SplitCoins, staking::stake_with_pool, TransferObjects(StakedWal → sender)
//	RequestWithdrawStakeTx staking::request_withdraw_stake(&mut Staking, &mut StakedWal)
//	WithdrawStakeTx     staking::withdraw_stake, TransferObjects(WAL → sender)
//	EpochSyncDoneTx     staking::epoch_sync_done(&mut Staking, &mut StorageNodeCap, epoch, &Clock)
//
// WAL is paid as the SDK pays it (WALPayment): split off one named coin
// per payment (the SDK's walCoin), or from the sender's coins and WAL
// address balance exactly as @mysten/sui's coinWithBalance resolves it —
// all listed coins merged into the first, one SplitCoins for every
// payment, coin::redeem_funds from the address balance when it covers the
// total or the shortfall, coin::send_funds of the remainder back to the
// address balance when it was drawn on, coin::destroy_zero of the base
// when the coins held exactly the total. Each payment coin is destroyed
// by coin::destroy_zero after its call, so a wrong price aborts the
// transaction instead of leaving WAL behind. The SDK has no bindings for
// invalidate_blob_id, the staking calls and epoch_sync_done; those follow
// walrus-sui's Rust builder (crates/walrus-sui/src/client/
// transaction_builder.rs) in argument order and form.
//
// testdata/gen/gen.mjs (package.json pins @mysten/walrus 1.2.13,
// @mysten/sui 2.33.1, @mysten/bcs 2.1.2; package-lock.json is committed)
// builds every case offline with the SDK's own calls from fixed inputs —
// a stub client answers getObjects, getMoveFunction, listCoins and
// getBalance from a fixed world — and writes testdata/transactions.json;
// TestSDKTransactions rebuilds each case in Go and compares bytes, digest
// and signature. TestGoSignedFixture writes testdata/go_signed.json
// (transactions Go built and signed for a key only Go holds) and `node
// gen.mjs --verify` checks them with @mysten/sui's
// verifyTransactionSignature and bcs.TransactionData.parse. CI reruns the
// script and both checks.
//
// # Walrus objects
//
// Layouts are the Move structs of MystenLabs/walrus mainnet-contracts,
// field order = BCS order (move.go; the SDK generates the same types):
// System and Staking {id, version u64, package_id, new_package_id
// Option<ID>}; their state is the dynamic field keyed by the u64 version,
// an object whose ID is
//
//	blake2b-256(0xf0 ‖ parent [32] ‖ u64le(len(key BCS)) ‖ key BCS ‖ BCS(TypeTag u64))
//
// (DynamicFieldID) holding Field<u64, SystemStateInnerV1> and Field<u64,
// StakingInnerV1>. SystemStateInnerV1 holds the BlsCommittee (members in
// the contract's order — by node ID — with their uncompressed G1 keys and
// shard weights), capacity, the prices and the storage accounting ring
// buffer (its length is max_epochs_ahead). StakingInnerV1 holds n_shards,
// epoch_duration, first_epoch_start, epoch, the committees (current,
// previous, next: VecMap<node ID, shards>), the next epoch's parameters and
// the epoch state. Node details are StakingPool objects, whose object ID
// is the node ID (the pools ObjectTable keeps them as dynamic object
// fields): state, voting parameters, StorageNodeInfo {name, node_id,
// network_address, public_key (uncompressed G1, 96 bytes), next key,
// network_public_key, metadata}, stake. Blob, Storage, StorageNodeCap and
// StakedWal are owned objects. Every length a decoder reads is bounded
// (a committee of at most 65535 shards and 1000 members, names of 100
// bytes, network addresses of 259, keys of their fixed sizes) and the
// remaining bytes bound every allocation.
//
// # Mapping onto chainlink
//
// EpochState: epoch, n_shards, prices from SystemStateInnerV1 and
// StakingInnerV1; MaxEpochsAhead = the accounting ring buffer's length;
// DurationMs = epoch_duration. Phase: EpochChangeSync(weight) →
// PhaseChangeSync with SyncDoneWeight = weight; EpochChangeDone(t) and
// NextParamsSelected(t) → PhaseChangeDone, StartUnixMs = t (Walrus measures
// an epoch from the moment its change completed, not from a fixed grid).
// SyncDoneNodes is not kept on chain; it is rebuilt from ShardsReceived
// events of the epoch.
//
// Committee(epoch): the current, previous and next committees are on
// chain (StakingInnerV1); members in BlsCommittee order (node ID order,
// F8.7), Shards from the Committee VecMap, Weight = len(Shards), PublicKey
// = the compressed form of the on-chain uncompressed G1 key (a key that
// is not a valid G1 point makes the member undecodable, and the committee
// with it: a certificate against it could not be checked anyway), Stake
// from the pool. Older committees are ErrNotFound.
//
// Node identity. Walrus keeps one network_address string (≤ 259 bytes)
// and a 33-byte network_public_key (a compressed secp256r1 key, the TLS
// identity of a Walrus node's REST API; register_candidate refuses any
// other length) per node. A floe node writes a multiaddr ending in its
// peer ID as its network address,
//
//	/dns4/node0.example.com/tcp/9185/p2p/12D3KooW…   (or /ip4, /ip6, /dns, /dns6; /udp/…/quic-v1)
//
// and a P-256 key of its own as network key (identity.go); a node serving
// the REST API adds its URL as one more multiaddr, second,
// /ip4|ip6|dns4/host/tcp/port/https (FormatNodeAddress), which
// ParseNodeAddress takes out of the addresses into
// chainlink.Node.NetworkAddress (for a Walrus host:port, too). Decoding
// (ParseNetworkAddress) accepts both worlds: a multiaddr with /p2p gives
// PeerID and Addresses = [that multiaddr]; a Walrus "host:port" gives no
// PeerID and Addresses = [/dns4/host/tcp/port/https] (/ip4, /ip6 for IP
// literals), which the libp2p layer cannot dial and skips, and which
// names the node's Walrus REST endpoint; anything else gives no PeerID
// and no address but still decodes, so one odd node never hides a
// committee. Names longer than 100 bytes and addresses longer than 259
// are refused before a transaction is built (the contract would abort).
//
// Where Sui differs from the Chain interface — typed errors, never a
// silent no-op:
//
//   - Faucet: no faucet outside localnet/testnet, and Sui's faucet gives
//     SUI, not WAL. Faucet returns ErrNoFaucet unless a faucet is
//     configured; with one it asks the faucet (POST /v2/gas) and takes
//     WAL only from a faucet that says it credited WAL (the stand-in's):
//     a Sui faucet's SUI is not exchanged for WAL by floe, and Faucet
//     then returns ErrNoFaucet after the SUI arrived.
//   - Unstake is two steps: request_withdraw_stake now (the amount is
//     split off a StakedWal first with staked_wal::split), withdraw_stake
//     once its withdraw epoch has come. Unstake does the first step and
//     returns the Node with a pending Withdrawal whose CreditEpoch is the
//     StakedWal's withdraw_epoch; nothing is credited by itself. Chain
//     lacks the second step: Client.WithdrawStake(staker) withdraws every
//     StakedWal that is due, and returns ErrNotWithdrawable before. The
//     proposed interface change is a Chain.WithdrawStake(ctx, staker)
//     (the ledger's credits at e+2 would then also wait for it); until
//     then the stand-in credits at e+2 as the ledger does.
//   - AdvanceEpoch cannot force time: an epoch ends when voting_end
//     (half an epoch after the last change) and initiate_epoch_change_v2
//     (a whole epoch after it; it takes WAL's ProtectedTreasury, so
//     Config.Treasury must name it, else the first
//     initiate_epoch_change of older deployments is called) are allowed,
//     and only once the previous change's sync is done. AdvanceEpoch
//     calls whichever is due, both in one transaction if both are, and
//     otherwise returns an *EpochNotOverError (errors.Is
//     ErrEpochNotOver) saying when, or ErrEpochNotOver while the sync
//     runs. An epoch_duration of 0 (the stand-in's "on request") makes
//     both due at once.
//   - Stakers: stake is held in StakedWal objects owned by the stakers;
//     Node.Stakers and Node.Withdrawals are built from the StakedWal
//     objects of the stakers the index saw stake with the pool (a
//     StakedWal transferred to someone else is missed); Node.Stake is the
//     pool's WAL balance.
//   - Accounts: Account.Balance is the WAL balance (coins and address
//     balance); ErrNotFound when the address holds no WAL at all (Sui
//     cannot tell "never held" from "spent all"). Rewards is not filled.
//   - Blob status is not an object: BlobStatus and the event stream come
//     from the local event index (below); BlobStatus waits until the
//     index has read the latest checkpoint and returns ErrIndexBehind if
//     ctx ends first.
//   - Extensions: extend_blob takes the Blob by &mut, so only its owner
//     can extend it; ExtendBlob by another payer is ErrNotOwner.
//   - Node registration is two transactions (register_candidate, then
//     stake_with_pool); RegisterNode checks the stake against the owner's
//     WAL first, so a refused stake leaves no node behind.
//   - RegisterNode needs a network key; without one configured it returns
//     ErrNoNetworkKey. NodeRegistered has no Walrus event: the index emits
//     it for a StakingPool created by staking::register_candidate.
//   - ShardsReceived carries no node ID on chain: the index takes it from
//     the StorageNodeCap the emitting transaction passed to
//     epoch_sync_done.
//
// Move aborts (errors.go) map onto chainlink's sentinels by module and
// code, so errors.Is works as with the ledger: e.g. blob::EAlreadyCertified
// → ErrAlreadyCertified, bls_aggregate::ENotEnoughStake → ErrQuorum,
// system_state_inner::EInvalidIdEpoch → ErrWrongEpoch, balance::ENotEnough
// → ErrInsufficientFunds; an unknown abort is a *MoveAbortError.
//
// # Events and cursors
//
// Walrus events are read from checkpoints (gRPC SubscriptionService
// SubscribeCheckpoints, and LedgerService GetCheckpoint to catch up),
// never from queryEvents. An event is taken when its type is
// <package>::events::<Name> for a package of the deployment (the
// System's type-origin package, or System.package_id for types added by
// upgrades) and decoded with the layout of events.move (events.go).
//
// chainlink cursors are consecutive (1, 2, 3, …) and the conformance
// suite relies on it, while Sui positions events by (checkpoint,
// transaction, event). The Client therefore keeps an event index
// (index.go): starting from Config.StartCheckpoint it reads every
// checkpoint in order (GetCheckpoint, woken by SubscribeCheckpoints and a
// poll), numbers every Walrus event floe reacts to in checkpoint order
// (events of failed transactions and of other packages are skipped), and
// keeps what the chain does not serve directly: who registered each node
// (NodeRegistered is emitted for the StakingPool a successful
// register_candidate created, at the place of that transaction), its
// StorageNodeCap (ShardsReceived names the node through the cap passed to
// epoch_sync_done), the stakers of each pool (stake_with_pool senders),
// and per blob ID the live objects with end epochs and certification
// (BlobStatus, with the ledger's rules; expiry by the last
// EpochChangeStart). What it takes from each checkpoint (its events and
// node/stake changes) is one record; with Config.IndexDir the records and
// the next checkpoint persist in a pebble go-datastore (one batch per
// checkpoint; keys /suiidx/start, /suiidx/next, /suiidx/cp/<seq>), and a
// restarted Client replays them and reads on from the next checkpoint;
// without it the index is rebuilt from the start checkpoint. Every Client
// started from the same checkpoint assigns the same cursors (an index
// directory built from another start is refused), so a subscriber
// resuming from its cursor, across restarts of either side, misses
// nothing and sees nothing twice. A node's index lives in
// DATA_DIR/sui-index. On a real network set start_checkpoint to the
// deployment's first checkpoint, or later if older events do not matter.
// Every write waits until the index has read the checkpoint of
// its transaction, and BlobStatus, Node, Nodes and EpochState wait until
// it has read the node's latest checkpoint (ErrIndexBehind when ctx ends
// first), so a Client reads its own writes.
//
// # RPC
//
// sui.rpc.v2 over gRPC (JSON-RPC is off on public full nodes): stubs of
// github.com/block-vision/sui-go-sdk v1.2.1 (pb/sui/rpc/v2) on
// google.golang.org/grpc (v1.81.1, the version the rest of floe's
// dependencies select; the stubs need ≥ 1.75.0). Reads are LedgerService
// GetObject / BatchGetObjects (BCS contents), GetServiceInfo and
// GetCheckpoint, StateService ListOwnedObjects / GetBalance; writes are
// TransactionExecutionService ExecuteTransaction with the read mask
// digest, effects, checkpoint and objects: a failed status is mapped
// through the abort table (a Move abort by package, module, function and
// code), the created objects (Blob, Storage, StakingPool) are decoded
// from the response. Gas is the sender's first SUI coin at
// Config.GasPrice (default 1000) and GasBudget (default 0.05 SUI); WAL is
// paid from the sender's WAL coins as the SDK's coinWithBalance does.
// Transactions of one Client are serialized (it reuses gas coins).
// Configuration (node and client configs, node/config.go): "chain":
// {"kind": "sui", "rpc": …, "system_object": …, "staking_object": …,
// "key": …, "wal_type": …, "faucet": …, "start_checkpoint": …}; a node
// signs with its owner key (which holds its StorageNodeCap) and
// registers its REST network key (DATA_DIR/network.key), a client signs
// with its account key.
//
// suisim is the stand-in: a loopback server of the same services whose
// state machine is chainlink's embedded ledger. It decodes each submitted
// transaction (UnmarshalTransactionData), checks its signature
// (VerifyTransactionSignature), interprets its commands into one ledger
// operation and serves objects, dynamic fields and checkpoints in the
// layouts of move.go and events.go (its doc.go has the details and the
// limits). Ledger rules the contracts do not have (a BLS key registered
// twice, an epoch without committee, a malformed key) abort in its
// floe_sim module, which the abort table maps and no real deployment
// has. The conformance suite runs against Client over it with the quirks
// of Sui declared (chaintest.Quirks): epochs end only after the sync,
// only a blob's owner extends it, rewards are not on the account.
//
// # Runbook (for a machine with internet and a Sui binary)
//
// Localnet: `sui start --with-faucet --force-regenesis` (gRPC and
// JSON-RPC on 127.0.0.1:9000, faucet on :9123). Deploy the contracts from
// MystenLabs/walrus with `walrus-deploy deploy-system-contract
// --sui-network localnet --contract-dir ./contracts --n-shards N
// --host-addresses … --epoch-duration 60s --with-wal-exchange` and
// `walrus-deploy generate-dry-run-configs` (scripts/local-testbed.sh does
// both); its output names the System and Staking objects and the WAL
// package. Fund an account: `sui client faucet`, then exchange SUI for
// WAL with the deployed wal_exchange (the Sui faucet gives SUI only, so
// floe's Faucet returns ErrNoFaucet there). Then either run the check
//
//	FLOE_SUI_RPC=127.0.0.1:9000 FLOE_SUI_SYSTEM=0x… FLOE_SUI_STAKING=0x… \
//	FLOE_SUI_WAL=0x…::wal::WAL FLOE_SUI_KEY=suiprivkey1… go test ./chainlink/sui -run TestRealNode -v
//
// (epoch state, committee decoding and order, and with a key a
// reserve_space executed in Move), or give nodes and clients the chain in
// their config:
//
//	"chain": {"kind": "sui", "rpc": "127.0.0.1:9000", "system_object": "0x…",
//	          "staking_object": "0x…", "wal_type": "0x…::wal::WAL", "start_checkpoint": N}
//
// Testnet: the same with "rpc": "https://fullnode.testnet.sui.io:443" and
// the object IDs of spec §14 (they change on redeploys; check them
// against the Walrus docs), WAL from the testnet exchange. The full
// conformance suite needs a fresh chain per test and cannot run against a
// shared network; TestRealNode checks what a deployment gives instead.
// AdvanceEpoch on a real network only succeeds once voting_end and the
// epoch change are due (EpochNotOverError says when).
package sui
