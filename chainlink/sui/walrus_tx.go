package sui

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"floe/chainlink"
	"floe/codec"
)

// Deployment says where the Walrus contracts of a network live.
type Deployment struct {
	// Package is the Walrus package that calls go to: System.package_id
	// (the latest version of the package, not the one that first defined
	// the types).
	Package Address
	// System and Staking are the two shared objects.
	System  SharedObject
	Staking SharedObject
	// WAL is the WAL coin type, 0x…::wal::WAL.
	WAL TypeTag
	// Treasury is WAL's shared ProtectedTreasury, which the contracts'
	// current epoch change (initiate_epoch_change_v2) burns rewards
	// through; nil for deployments with the first initiate_epoch_change.
	Treasury *SharedObject
}

// Tx is what every transaction needs besides its calls: the sender and
// how gas is paid (coins, owner, price, budget). floe always sets them,
// so no transaction depends on a full node's gas selection.
type Tx struct {
	Sender Address
	Gas    GasData
}

// WALPayment says where a transaction's WAL comes from, as the SDK's
// walCoin option does: with Coin set, every payment is split off that
// coin (SplitCoins per payment); otherwise from Source, resolved as the
// SDK's coinWithBalance resolves it (ptb.resolveCoins).
type WALPayment struct {
	Coin   *ObjectRef
	Source CoinSource
}

// Encoding types (F3): RS2 is the only one the SDK registers.
const EncodingRS2 = 1

// BytesPerUnit is the storage unit of prices (1 MiB, F9.4).
const BytesPerUnit = 1 << 20

// EncodedBlobLength is the encoded size charged for a blob of size bytes
// on nShards shards, as @mysten/walrus computes it (utils/index.mjs
// encodedBlobLength, RS2): n·(n·64 + 32) + (nPrim + nSec)·S·n with the
// symbol size S = ceil(max(size, 1) / (nPrim·nSec)) rounded up to even.
// It equals codec.Params.EncodedLength.
func EncodedBlobLength(size uint64, nShards int) (uint64, error) {
	if nShards < 4 || nShards > 65535 {
		return 0, fmt.Errorf("%w: %d shards", chainlink.ErrBadRequest, nShards)
	}
	n := uint64(nShards)
	f := (n - 1) / 3
	prim, sec := n-2*f, n-f
	s := (max(size, 1)-1)/(prim*sec) + 1
	if s%2 == 1 {
		s++
	}
	hi, sliver := bits.Mul64((prim+sec)*s, n)
	meta := n * (n*2*32 + 32)
	total, carry := bits.Add64(sliver, meta, 0)
	if hi != 0 || carry != 0 {
		return 0, fmt.Errorf("%w: encoded length of %d bytes overflows", chainlink.ErrBlobTooLarge, size)
	}
	return total, nil
}

// StorageUnits is ceil(encoded / 1 MiB).
func StorageUnits(encoded uint64) uint64 { return (encoded + BytesPerUnit - 1) / BytesPerUnit }

// Prices are the per-unit prices of SystemStateInnerV1.
type Prices struct {
	NShards      int
	StoragePrice uint64 // storage_price_per_unit_size, per unit per epoch
	WritePrice   uint64 // write_price_per_unit_size, per unit
}

func mulCost(a, b, c uint64) (uint64, error) {
	hi, x := bits.Mul64(a, b)
	if hi != 0 {
		return 0, fmt.Errorf("%w: cost overflows u64", chainlink.ErrBadRequest)
	}
	hi, x = bits.Mul64(x, c)
	if hi != 0 {
		return 0, fmt.Errorf("%w: cost overflows u64", chainlink.ErrBadRequest)
	}
	return x, nil
}

// Costs returns the SDK's storageCost(size, epochs): the encoded length,
// the storage cost for epochs and the write cost.
func (p Prices) Costs(size uint64, epochs uint32) (encoded, storage, write uint64, err error) {
	if encoded, err = EncodedBlobLength(size, p.NShards); err != nil {
		return
	}
	units := StorageUnits(encoded)
	if storage, err = mulCost(units, p.StoragePrice, uint64(epochs)); err != nil {
		return
	}
	write, err = mulCost(units, p.WritePrice, 1)
	return
}

// Move parameter references of the functions called (mainnet-contracts,
// TxContext dropped).
var (
	sigReserveSpace   = []paramRef{byMutRef, byValue, byValue, byMutRef}
	sigRegisterBlob   = []paramRef{byMutRef, byValue, byValue, byValue, byValue, byValue, byValue, byMutRef}
	sigCertifyBlob    = []paramRef{byImmRef, byMutRef, byValue, byValue, byValue}
	sigDeleteBlob     = []paramRef{byImmRef, byValue}
	sigExtendBlob     = []paramRef{byMutRef, byMutRef, byValue, byMutRef}
	sigInvalidateBlob = []paramRef{byImmRef, byValue, byValue, byValue}
	sigRegisterCand   = []paramRef{byMutRef, byValue, byValue, byValue, byValue, byValue, byValue, byValue, byValue, byValue, byValue}
	sigStakeWithPool  = []paramRef{byMutRef, byValue, byValue}
	sigRequestWithdr  = []paramRef{byMutRef, byMutRef}
	sigWithdrawStake  = []paramRef{byMutRef, byValue}
	sigEpochSyncDone  = []paramRef{byMutRef, byMutRef, byValue, byImmRef}
)

func u8Bytes(v uint8) []byte   { return []byte{v} }
func u16Bytes(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
func u32Bytes(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func u64Bytes(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
func boolBytes(v bool) []byte {
	if v {
		return []byte{1}
	}
	return []byte{0}
}
func vecBytes(b []byte) []byte { var e encoder; e.vecU8(b); return e.bytes() }
func strBytes(s string) []byte { var e encoder; e.str(s); return e.bytes() }

// txb is one transaction under construction for a deployment.
type txb struct {
	d   *Deployment
	ptb ptb
	wal *WALPayment
}

func (d *Deployment) newTx(wal *WALPayment) *txb {
	b := &txb{d: d, wal: wal}
	if wal != nil && wal.Coin != nil {
		// The SDK's walCoin, named before the calls (tx.object(coin)).
		b.ptb.owned(*wal.Coin)
	}
	return b
}

func (b *txb) build(t Tx) (*TransactionData, error) {
	var sources map[string]CoinSource
	if b.wal != nil && b.wal.Coin == nil {
		sources = map[string]CoinSource{b.d.WAL.String(): b.wal.Source}
	}
	return b.ptb.build(t.Sender, t.Gas, sources)
}

func (b *txb) system() Argument  { return b.ptb.sharedByID(b.d.System) }
func (b *txb) staking() Argument { return b.ptb.sharedByID(b.d.Staking) }

func (b *txb) call(module, function string, args []Argument, sig []paramRef) Argument {
	return b.ptb.moveCall(b.d.Package, module, function, nil, args, sig)
}

// withWAL is the SDK's #withWal: a coin of amount (split off the named
// coin, or a coin-with-balance placeholder), fn using it, then
// 0x2::coin::destroy_zero of what is left of it.
func (b *txb) withWAL(amount uint64, fn func(coin Argument) Argument) Argument {
	var coin Argument
	if b.wal.Coin != nil {
		src := b.ptb.owned(*b.wal.Coin)
		coin = NestedResult(int(b.ptb.splitCoins(src, b.ptb.pure(u64Bytes(amount))).Index), 0)
	} else {
		coin = b.ptb.coinWithBalance(b.d.WAL, amount)
	}
	r := fn(coin)
	b.ptb.moveCall(SuiFramework, "coin", "destroy_zero", []TypeTag{b.d.WAL}, []Argument{coin}, nil)
	return r
}

// RegisterBlob is a blob registration with fresh storage: the SDK's
// registerBlobTransaction({size, epochs, blobId, rootHash, deletable,
// owner, walCoin}).
type RegisterBlob struct {
	BlobID    codec.BlobID
	RootHash  [32]byte
	Size      uint64
	Deletable bool
	// Epochs is the storage period from the current epoch
	// (reserve_space's epochs_ahead).
	Epochs uint32
	// Owner receives the Blob object.
	Owner  Address
	Prices Prices
}

// RegisterBlobTx builds reserve_space + register_blob, paying WAL for the
// write and the storage, and transfers the Blob to Owner: the commands and
// inputs of @mysten/walrus 1.2.13, in its order:
//
//	[coin for the write cost]           SplitCoins or placeholder
//	[coin for the storage cost]         SplitCoins or placeholder
//	system::reserve_space(System, encoded length, epochs, coin)
//	0x2::coin::destroy_zero<WAL>(storage coin)
//	system::register_blob(System, storage, blob ID, root hash, size, 1, deletable, write coin)
//	0x2::coin::destroy_zero<WAL>(write coin)
//	TransferObjects([blob], owner)
func (d *Deployment) RegisterBlobTx(t Tx, r RegisterBlob, wal WALPayment) (*TransactionData, error) {
	if r.Epochs == 0 {
		return nil, fmt.Errorf("%w: a blob needs at least one epoch of storage", chainlink.ErrBadRequest)
	}
	encoded, storageCost, writeCost, err := r.Prices.Costs(r.Size, r.Epochs)
	if err != nil {
		return nil, err
	}
	b := d.newTx(&wal)
	blob := b.withWAL(writeCost, func(writeCoin Argument) Argument {
		self := b.system()
		storage := b.withWAL(storageCost, func(coin Argument) Argument {
			return b.call("system", "reserve_space", []Argument{
				b.system(), b.ptb.pure(u64Bytes(encoded)), b.ptb.pure(u32Bytes(r.Epochs)), coin,
			}, sigReserveSpace)
		})
		return b.call("system", "register_blob", []Argument{
			self, storage,
			b.ptb.pure(r.BlobID[:]), b.ptb.pure(r.RootHash[:]),
			b.ptb.pure(u64Bytes(r.Size)), b.ptb.pure(u8Bytes(EncodingRS2)), b.ptb.pure(boolBytes(r.Deletable)),
			writeCoin,
		}, sigRegisterBlob)
	})
	b.ptb.transferObjects([]Argument{blob}, b.ptb.pure(r.Owner[:]))
	return b.build(t)
}

// ReserveSpaceTx buys storage alone and transfers the Storage to owner: the
// SDK's createStorageTransaction({size, epochs, owner}).
func (d *Deployment) ReserveSpaceTx(t Tx, size uint64, epochs uint32, owner Address, prices Prices, wal WALPayment) (*TransactionData, error) {
	if epochs == 0 {
		return nil, fmt.Errorf("%w: storage needs at least one epoch", chainlink.ErrBadRequest)
	}
	encoded, storageCost, _, err := prices.Costs(size, epochs)
	if err != nil {
		return nil, err
	}
	b := d.newTx(&wal)
	storage := b.withWAL(storageCost, func(coin Argument) Argument {
		return b.call("system", "reserve_space", []Argument{
			b.system(), b.ptb.pure(u64Bytes(encoded)), b.ptb.pure(u32Bytes(epochs)), coin,
		}, sigReserveSpace)
	})
	b.ptb.transferObjects([]Argument{storage}, b.ptb.pure(owner[:]))
	return b.build(t)
}

// CertifyBlobTx is system::certify_blob(System, blob, signature, signers
// bitmap, message): the SDK's certifyBlobTransaction with a certificate.
// The bitmap is F8.7's (chainlink.Certificate.Signers).
func (d *Deployment) CertifyBlobTx(t Tx, blob ObjectRef, cert chainlink.Certificate) (*TransactionData, error) {
	b := d.newTx(nil)
	// The SDK serializes the three vectors before it names the objects.
	sig := b.ptb.pure(vecBytes(cert.Signature[:]))
	bitmap := b.ptb.pure(vecBytes(cert.Signers))
	msg := b.ptb.pure(vecBytes(cert.Message))
	b.call("system", "certify_blob", []Argument{b.system(), b.ptb.owned(blob), sig, bitmap, msg}, sigCertifyBlob)
	return b.build(t)
}

// InvalidateBlobIDTx is system::invalidate_blob_id(System, signature,
// members bitmap, message), as walrus-sui's Rust builder makes it (the SDK
// has no binding).
func (d *Deployment) InvalidateBlobIDTx(t Tx, cert chainlink.Certificate) (*TransactionData, error) {
	b := d.newTx(nil)
	self := b.system()
	b.call("system", "invalidate_blob_id", []Argument{
		self, b.ptb.pure(vecBytes(cert.Signature[:])), b.ptb.pure(vecBytes(cert.Signers)), b.ptb.pure(vecBytes(cert.Message)),
	}, sigInvalidateBlob)
	return b.build(t)
}

// DeleteBlobTx is system::delete_blob(System, blob) with the returned
// Storage transferred to owner: the SDK's deleteBlobTransaction.
func (d *Deployment) DeleteBlobTx(t Tx, blob ObjectRef, owner Address) (*TransactionData, error) {
	b := d.newTx(nil)
	storage := b.call("system", "delete_blob", []Argument{b.system(), b.ptb.owned(blob)}, sigDeleteBlob)
	b.ptb.transferObjects([]Argument{storage}, b.ptb.pure(owner[:]))
	return b.build(t)
}

// ExtendBlob extends a blob's storage by Epochs.
type ExtendBlob struct {
	Blob ObjectRef
	// StorageSize is Blob.storage.storage_size (the encoded length paid
	// for); the cost is its units × storage price × Epochs.
	StorageSize  uint64
	Epochs       uint32
	StoragePrice uint64
}

// ExtendBlobTx is system::extend_blob(System, blob, epochs, coin) and the
// destroy_zero of the payment: the SDK's extendBlobTransaction({epochs}).
// Zero epochs is refused (the SDK silently adds nothing).
func (d *Deployment) ExtendBlobTx(t Tx, x ExtendBlob, wal WALPayment) (*TransactionData, error) {
	if x.Epochs == 0 {
		return nil, fmt.Errorf("%w: extending by zero epochs", chainlink.ErrBadRequest)
	}
	cost, err := mulCost(StorageUnits(x.StorageSize), x.StoragePrice, uint64(x.Epochs))
	if err != nil {
		return nil, err
	}
	b := d.newTx(&wal)
	b.withWAL(cost, func(coin Argument) Argument {
		return b.call("system", "extend_blob", []Argument{
			b.system(), b.ptb.owned(x.Blob), b.ptb.pure(u32Bytes(x.Epochs)), coin,
		}, sigExtendBlob)
	})
	return b.build(t)
}

// Candidate is a storage node's registration (staking::register_candidate).
type Candidate struct {
	Name string
	// NetworkAddress is where the node is reached (doc.go: a floe node's
	// multiaddr with /p2p/<peer ID>).
	NetworkAddress string
	// Metadata (node_metadata::new).
	ImageURL, ProjectURL, Description string
	// PublicKey is the compressed BLS12-381 key (48 bytes),
	// ProofOfPossession its signature over F8.4's message (96 bytes).
	PublicKey         []byte
	ProofOfPossession []byte
	// NetworkPublicKey is the 33-byte compressed secp256r1 key Walrus
	// requires (its TLS key; see doc.go).
	NetworkPublicKey []byte
	// CommissionRate in basis points; the prices and capacity are the
	// node's votes.
	CommissionRate uint16
	StoragePrice   uint64
	WritePrice     uint64
	NodeCapacity   uint64
}

// Contract limits checked before building (staking_pool.move,
// storage_node.move).
const (
	MaxNodeNameLength       = 100
	MaxNetworkAddressLength = 259
	NetworkPublicKeySize    = 33
	MaxCommissionRate       = 10000
)

// RegisterCandidateTx is node_metadata::new + staking::register_candidate,
// with the StorageNodeCap transferred to the sender, as walrus-sui's Rust
// builder makes it.
func (d *Deployment) RegisterCandidateTx(t Tx, c Candidate) (*TransactionData, error) {
	switch {
	case len(c.Name) > MaxNodeNameLength:
		return nil, fmt.Errorf("%w: node name of %d bytes, at most %d", chainlink.ErrBadRequest, len(c.Name), MaxNodeNameLength)
	case len(c.NetworkAddress) > MaxNetworkAddressLength:
		return nil, fmt.Errorf("%w: network address of %d bytes, at most %d", chainlink.ErrBadRequest, len(c.NetworkAddress), MaxNetworkAddressLength)
	case len(c.NetworkPublicKey) != NetworkPublicKeySize:
		return nil, fmt.Errorf("%w: network public key of %d bytes, want %d", chainlink.ErrBadRequest, len(c.NetworkPublicKey), NetworkPublicKeySize)
	case c.CommissionRate > MaxCommissionRate:
		return nil, fmt.Errorf("%w: commission rate %d above %d basis points", chainlink.ErrBadRequest, c.CommissionRate, MaxCommissionRate)
	}
	b := d.newTx(nil)
	meta := b.call("node_metadata", "new", []Argument{
		b.ptb.pure(strBytes(c.ImageURL)), b.ptb.pure(strBytes(c.ProjectURL)), b.ptb.pure(strBytes(c.Description)),
	}, nil)
	cap := b.call("staking", "register_candidate", []Argument{
		b.staking(), b.ptb.pure(strBytes(c.Name)), b.ptb.pure(strBytes(c.NetworkAddress)), meta,
		b.ptb.pure(vecBytes(c.PublicKey)), b.ptb.pure(vecBytes(c.NetworkPublicKey)), b.ptb.pure(vecBytes(c.ProofOfPossession)),
		b.ptb.pure(u16Bytes(c.CommissionRate)), b.ptb.pure(u64Bytes(c.StoragePrice)), b.ptb.pure(u64Bytes(c.WritePrice)),
		b.ptb.pure(u64Bytes(c.NodeCapacity)),
	}, sigRegisterCand)
	b.ptb.transferObjects([]Argument{cap}, b.ptb.pure(t.Sender[:]))
	return b.build(t)
}

// StakeWithPoolTx splits amount off a WAL coin, stakes it with node and
// transfers the StakedWal to the sender (walrus-sui's stake_with_pool).
func (d *Deployment) StakeWithPoolTx(t Tx, node Address, amount uint64, walCoin ObjectRef) (*TransactionData, error) {
	if amount == 0 {
		return nil, fmt.Errorf("%w: staking zero", chainlink.ErrBadRequest)
	}
	b := d.newTx(nil)
	src := b.ptb.owned(walCoin)
	split := b.ptb.splitCoins(src, b.ptb.pure(u64Bytes(amount)))
	staked := b.call("staking", "stake_with_pool", []Argument{b.staking(), NestedResult(int(split.Index), 0), b.ptb.pure(node[:])}, sigStakeWithPool)
	b.ptb.transferObjects([]Argument{staked}, b.ptb.pure(t.Sender[:]))
	return b.build(t)
}

// RequestWithdrawStakeTx is staking::request_withdraw_stake(Staking,
// &mut StakedWal): the first of the two steps of unstaking.
func (d *Deployment) RequestWithdrawStakeTx(t Tx, stakedWal ObjectRef) (*TransactionData, error) {
	b := d.newTx(nil)
	b.call("staking", "request_withdraw_stake", []Argument{b.staking(), b.ptb.owned(stakedWal)}, sigRequestWithdr)
	return b.build(t)
}

// WithdrawStakeTx is staking::withdraw_stake(Staking, StakedWal) with the
// returned WAL transferred to the sender: the second step.
func (d *Deployment) WithdrawStakeTx(t Tx, stakedWal ObjectRef) (*TransactionData, error) {
	b := d.newTx(nil)
	coin := b.call("staking", "withdraw_stake", []Argument{b.staking(), b.ptb.owned(stakedWal)}, sigWithdrawStake)
	b.ptb.transferObjects([]Argument{coin}, b.ptb.pure(t.Sender[:]))
	return b.build(t)
}

// EpochSyncDoneTx is staking::epoch_sync_done(Staking, cap, epoch, Clock).
func (d *Deployment) EpochSyncDoneTx(t Tx, cap ObjectRef, epoch uint32) (*TransactionData, error) {
	b := d.newTx(nil)
	b.call("staking", "epoch_sync_done", []Argument{
		b.staking(), b.ptb.owned(cap), b.ptb.pure(u32Bytes(epoch)),
		b.ptb.object(SharedArg(SharedObject{ObjectID: ClockObject, InitialSharedVersion: 1}), false),
	}, sigEpochSyncDone)
	return b.build(t)
}
