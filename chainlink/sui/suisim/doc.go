// Package suisim is a loopback Sui stand-in for tests and `floe devnet
// --chain sui-sim`: a gRPC server of the sui.rpc.v2 services the floe Sui
// adapter (chainlink/sui) uses, whose state machine is chainlink's
// embedded ledger. No Move runs here: the stand-in reads each submitted
// transaction as the Walrus contracts would execute it and applies the
// same rules through the ledger.
//
// # Wire format
//
// gRPC, package sui.rpc.v2 (the stubs of github.com/block-vision/
// sui-go-sdk pb/sui/rpc/v2), plaintext on 127.0.0.1:
//
//   - LedgerService: GetServiceInfo (chain "floe-sui-sim", the latest
//     checkpoint as checkpoint_height), GetObject, BatchGetObjects and
//     GetCheckpoint by sequence number. Objects carry object_id, version,
//     digest, owner, object_type and contents = the BCS of the Move
//     struct in the layouts of chainlink/sui (move.go).
//   - StateService: ListOwnedObjects (by owner and exact object_type),
//     GetBalance (WAL: the ledger balance; SUI: a fixed large gas
//     balance), ListDynamicFields of the System and Staking objects.
//   - TransactionExecutionService: ExecuteTransaction. The request
//     carries transaction.bcs = TransactionData (chainlink/sui tx.go) and
//     one signature (0x00 ‖ ed25519 sig ‖ public key). The stand-in
//     decodes the data, checks the signature against the sender, checks
//     that every owned input belongs to the sender, interprets the
//     commands (below) into one ledger operation, runs it, and answers
//     with effects (status; a Move abort with the Walrus module and
//     code of the ledger's error, exec.go's abortTable, the inverse of
//     chainlink/sui's), the changed objects and their contents, and the
//     checkpoint the transaction landed in.
//   - SubscriptionService: SubscribeCheckpoints streams each new
//     checkpoint.
//
// Every executed transaction is one checkpoint (sequence numbers 1, 2, …;
// 0 is genesis) holding that transaction and its events: the ledger's
// events of the operation, encoded as the Walrus events of
// events.move with type <package>::events::<Name>. The ledger's
// NodeRegistered has no Walrus event and is left out (the adapter derives
// it from the StakingPool the transaction created). Ledger events that
// happen outside a transaction (an epoch timer) are wrapped in a
// checkpoint with a system transaction whose BCS is empty.
// Checkpoints persist in the ledger's datastore under /suisim/, so a
// stand-in reopened on the same datastore serves the same history.
//
// # Objects
//
// The System and Staking objects (initial shared version 1, version 1)
// and their versioned dynamic fields are rebuilt from the ledger's
// epoch state and committees on every read. A node's StakingPool has the
// node ID as object ID; Blob objects the ledger's object IDs. Objects the
// ledger has no ID for get IDs derived with blake2b-256 from a tag and
// their owner: each address's SUI gas coin and WAL coin (balance = the
// ledger balance), each node's StorageNodeCap, a staker's StakedWal per
// node (and one per pending withdrawal). Storage objects are remembered
// from the transactions that return them. Object versions are the
// checkpoint sequence number of the latest transaction; the stand-in
// checks owners, not versions.
//
// # Commands
//
// Commands are interpreted symbolically (SplitCoins, MergeCoins,
// TransferObjects, coin::destroy_zero/redeem_funds/send_funds and the
// Walrus calls of chainlink/sui's builders) and must add up to exactly one
// ledger operation: reserve_space → ReserveSpace; reserve_space +
// register_blob → RegisterBlob (the Blob's recipient is the owner, the
// sender the payer); register_blob on an owned Storage → RegisterBlob
// with StorageID; certify_blob, invalidate_blob_id, delete_blob,
// extend_blob; register_candidate → RegisterNode; stake_with_pool →
// Stake; request_withdraw_stake (after staked_wal::split) → Unstake;
// voting_end + initiate_epoch_change (or _v2 with a treasury) →
// AdvanceEpoch; epoch_sync_done;
// set_network_address → UpdateNode. Anything else fails with
// FEATURE_NOT_YET_SUPPORTED. WAL amounts are not checked against the
// price: the ledger debits its own price. Gas is not charged.
// withdraw_stake fails with staking_pool::ENotWithdrawing: the ledger
// credits withdrawn stake by itself at the second epoch change.
//
// # Faucet
//
// An HTTP faucet in the shape of Sui's (POST /v2/gas with
// {"FixedAmountRequest":{"recipient":"0x…"}}) that also takes
// "wal_amount" and credits that much WAL through the ledger's faucet,
// answering {"status":"Success","wal_credited":n}.
package suisim
