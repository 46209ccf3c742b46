package sui

import (
	"fmt"

	"floe/chainlink"
	"floe/codec"
)

// Builders the Chain implementation needs beyond the SDK's calls. The SDK
// has no bindings for them; they follow the Walrus contracts' signatures
// (mainnet-contracts, staking.move, staked_wal.move, system.move) and the
// argument forms of walrus-sui's Rust builder. The SDK cannot build them,
// so they are not among its fixtures; they are in testdata/go_signed.json,
// which @mysten/sui parses (bcs.TransactionData) and whose signatures it
// verifies (gen.mjs --verify).

var (
	sigVotingEnd         = []paramRef{byMutRef, byImmRef}
	sigInitiateChange    = []paramRef{byMutRef, byMutRef, byImmRef}
	sigInitiateChangeV2  = []paramRef{byMutRef, byMutRef, byMutRef, byImmRef}
	sigSetNetworkAddress = []paramRef{byMutRef, byImmRef, byValue}
	sigSplitStakedWal    = []paramRef{byMutRef, byValue}
)

func (b *txb) clock() Argument {
	return b.ptb.object(SharedArg(SharedObject{ObjectID: ClockObject, InitialSharedVersion: 1}), false)
}

// AdvanceEpochTx is staking::voting_end(Staking, Clock) when vote is set,
// then the epoch change when change is set: whichever of the two steps of
// an epoch change is due. The change is
// initiate_epoch_change_v2(Staking, System, ProtectedTreasury, Clock)
// when the deployment names its Treasury (the current contracts, which
// abort the first version with EDeprecatedFunction), else
// initiate_epoch_change(Staking, System, Clock).
func (d *Deployment) AdvanceEpochTx(t Tx, vote, change bool) (*TransactionData, error) {
	if !vote && !change {
		return nil, fmt.Errorf("%w: an epoch change transaction with no call", chainlink.ErrBadRequest)
	}
	b := d.newTx(nil)
	if vote {
		b.call("staking", "voting_end", []Argument{b.staking(), b.clock()}, sigVotingEnd)
	}
	if change && d.Treasury != nil {
		b.call("staking", "initiate_epoch_change_v2", []Argument{b.staking(), b.system(), b.ptb.sharedByID(*d.Treasury), b.clock()}, sigInitiateChangeV2)
	} else if change {
		b.call("staking", "initiate_epoch_change", []Argument{b.staking(), b.system(), b.clock()}, sigInitiateChange)
	}
	return b.build(t)
}

// SetNetworkAddressTx is staking::set_network_address(Staking, &cap,
// address): UpdateNode.
func (d *Deployment) SetNetworkAddressTx(t Tx, cap ObjectRef, address string) (*TransactionData, error) {
	if len(address) > MaxNetworkAddressLength {
		return nil, fmt.Errorf("%w: network address of %d bytes, at most %d", chainlink.ErrBadRequest, len(address), MaxNetworkAddressLength)
	}
	b := d.newTx(nil)
	b.call("staking", "set_network_address", []Argument{b.staking(), b.ptb.owned(cap), b.ptb.pure(strBytes(address))}, sigSetNetworkAddress)
	return b.build(t)
}

// SplitAndRequestWithdrawTx splits amount off a StakedWal
// (staked_wal::split), requests the withdrawal of the split part and
// transfers it to the sender; with amount equal to the principal it is
// RequestWithdrawStakeTx on the whole object.
func (d *Deployment) SplitAndRequestWithdrawTx(t Tx, stakedWal ObjectRef, amount, principal uint64) (*TransactionData, error) {
	if amount == 0 || amount > principal {
		return nil, fmt.Errorf("%w: withdrawing %d of a stake of %d", chainlink.ErrInsufficientFunds, amount, principal)
	}
	if amount == principal {
		return d.RequestWithdrawStakeTx(t, stakedWal)
	}
	b := d.newTx(nil)
	part := b.call("staked_wal", "split", []Argument{b.ptb.owned(stakedWal), b.ptb.pure(u64Bytes(amount))}, sigSplitStakedWal)
	b.call("staking", "request_withdraw_stake", []Argument{b.staking(), part}, sigRequestWithdr)
	b.ptb.transferObjects([]Argument{part}, b.ptb.pure(t.Sender[:]))
	return b.build(t)
}

// RegisterWithStorage is a blob registration on a Storage object the
// sender owns.
type RegisterWithStorage struct {
	Storage   ObjectRef
	BlobID    codec.BlobID
	RootHash  [32]byte
	Size      uint64
	Deletable bool
	Owner     Address
	// WriteCost is the write price × the encoded units.
	WriteCost uint64
}

// RegisterBlobWithStorageTx is system::register_blob(System, storage, …,
// write coin) with the Blob transferred to Owner: the SDK's
// registerBlobTransaction with its storage argument given.
func (d *Deployment) RegisterBlobWithStorageTx(t Tx, r RegisterWithStorage, wal WALPayment) (*TransactionData, error) {
	b := d.newTx(&wal)
	blob := b.withWAL(r.WriteCost, func(writeCoin Argument) Argument {
		return b.call("system", "register_blob", []Argument{
			b.system(), b.ptb.owned(r.Storage),
			b.ptb.pure(r.BlobID[:]), b.ptb.pure(r.RootHash[:]),
			b.ptb.pure(u64Bytes(r.Size)), b.ptb.pure(u8Bytes(EncodingRS2)), b.ptb.pure(boolBytes(r.Deletable)),
			writeCoin,
		}, sigRegisterBlob)
	})
	b.ptb.transferObjects([]Argument{blob}, b.ptb.pure(r.Owner[:]))
	return b.build(t)
}
