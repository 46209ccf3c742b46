package sui

import (
	"fmt"
	"math/big"

	"golang.org/x/crypto/blake2b"

	"floe/codec"
)

// The Walrus Move structs floe reads, in the field order of
// MystenLabs/walrus mainnet-contracts (= BCS order; @mysten/walrus 1.2.13
// generates the same layouts). Go field names are the Move names in
// CamelCase. Each type has an Unmarshal… function that decodes exactly one
// value with every length bounded and refuses trailing bytes, and a
// Marshal method (the stand-in serves objects in these layouts).

// Decoding bounds. They are looser than what the contracts allow today
// (names ≤ 100 bytes, addresses ≤ 259, 150 active nodes, 1000 epochs
// ahead) so that a committee of a real deployment always decodes, and
// tight enough that no input makes a decoder allocate more than a small
// multiple of its own size.
const (
	maxMembers       = 1024  // committee members / pools in a committee map
	maxShards        = 65535 // n_shards is a u16
	maxRingBuffer    = 1024  // MAX_MAX_EPOCHS_AHEAD is 1000
	maxVecMapEntries = 1024  // pending values, event blob weights, metadata
	maxStringBytes   = 4096  // node names, network addresses, metadata strings
	maxNetworkKey    = 256   // 33 bytes today (compressed secp256r1)
	maxDigestBytes   = 64    // package digests (32 today)

	// G1UncompressedSize is an Element<UncompressedG1> (StorageNodeInfo,
	// BlsCommitteeMember); G1CompressedSize an Element<G1>
	// (BlsCommittee.total_aggregated_key) and a registration's key.
	G1UncompressedSize = 96
	G1CompressedSize   = 48
)

// U256 is a Move u256 in its BCS form: 32 bytes, little-endian.
type U256 [32]byte

// Big returns the integer.
func (u U256) Big() *big.Int {
	var be [32]byte
	for i := range u {
		be[31-i] = u[i]
	}
	return new(big.Int).SetBytes(be[:])
}

// String is the decimal form.
func (u U256) String() string { return u.Big().String() }

// DynamicFieldID is the object ID of the dynamic field of parent whose
// key has type keyType and BCS keyBCS (sui-types dynamic_field.rs
// derive_dynamic_field_id).
func DynamicFieldID(parent Address, keyType TypeTag, keyBCS []byte) Address {
	h, _ := blake2b.New256(nil)
	h.Write([]byte{0xf0}) // HashingIntentScope::ChildObjectId
	h.Write(parent[:])
	var n [8]byte
	for i, l := 0, uint64(len(keyBCS)); i < 8; i, l = i+1, l>>8 {
		n[i] = byte(l)
	}
	h.Write(n[:])
	h.Write(keyBCS)
	var e encoder
	keyType.encode(&e)
	h.Write(e.bytes())
	var id Address
	h.Sum(id[:0])
	return id
}

// VersionedFieldID is the ID of the Field<u64, …> that holds the inner
// state of System or Staking at version.
func VersionedFieldID(parent Address, version uint64) Address {
	return DynamicFieldID(parent, TypeTag{Kind: TypeU64}, u64Bytes(version))
}

// decodeAll runs f on b and requires it to consume b exactly.
func decodeAll(what string, b []byte, f func(*decoder)) error {
	d := newDecoder(b)
	f(d)
	if err := d.done(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func encodeWith(f func(*encoder)) []byte {
	var e encoder
	f(&e)
	return e.bytes()
}

func (d *decoder) address() (a Address) { d.fixed(a[:]); return }
func (d *decoder) u256() (u U256)       { d.fixed(u[:]); return }

// element reads a group_ops::Element {bytes: vector<u8>} of exactly size
// bytes.
func (d *decoder) element(what string, size int) []byte {
	b := d.vecU8(what, size)
	if d.err() == nil && len(b) != size {
		d.fail("%s of %d bytes, want %d", what, len(b), size)
	}
	return b
}

func (d *decoder) optAddress() *Address {
	if !d.option() {
		return nil
	}
	a := d.address()
	return &a
}

func (e *encoder) optAddress(a *Address) {
	e.option(a != nil)
	if a != nil {
		e.fixed(a[:])
	}
}

func (d *decoder) u16s(what string, max int) []uint16 {
	n := d.length(what, max, 2)
	if n == 0 {
		return []uint16{}
	}
	v := make([]uint16, n)
	for i := range v {
		v[i] = d.u16()
	}
	return v
}

func (e *encoder) u16s(v []uint16) {
	e.uleb(len(v))
	for _, x := range v {
		e.u16(x)
	}
}

// ---------------------------------------------------------------- System, Staking

// System is the shared System object; its state is the dynamic field
// keyed by Version (VersionedFieldID).
type System struct {
	ID           Address
	Version      uint64
	PackageID    Address
	NewPackageID *Address
}

// Staking is the shared Staking object, laid out as System.
type Staking System

func (s *System) decode(d *decoder) {
	s.ID = d.address()
	s.Version = d.u64()
	s.PackageID = d.address()
	s.NewPackageID = d.optAddress()
}

func (s *System) encode(e *encoder) {
	e.fixed(s.ID[:])
	e.u64(s.Version)
	e.fixed(s.PackageID[:])
	e.optAddress(s.NewPackageID)
}

// UnmarshalSystem decodes a System object's contents.
func UnmarshalSystem(b []byte) (*System, error) {
	s := new(System)
	return s, decodeAll("System", b, s.decode)
}

// UnmarshalStaking decodes a Staking object's contents.
func UnmarshalStaking(b []byte) (*Staking, error) {
	s := new(System)
	err := decodeAll("Staking", b, s.decode)
	return (*Staking)(s), err
}

// Marshal returns the BCS.
func (s *System) Marshal() []byte { return encodeWith(s.encode) }

// Marshal returns the BCS.
func (s *Staking) Marshal() []byte { return encodeWith((*System)(s).encode) }

// ---------------------------------------------------------------- BlsCommittee

// BlsCommitteeMember is one member of the certifying committee.
type BlsCommitteeMember struct {
	// PublicKey is the uncompressed G1 key (96 bytes).
	PublicKey []byte
	Weight    uint16
	NodeID    Address
}

// BlsCommittee is the committee certificates are checked against
// (SystemStateInnerV1.committee), members in contract order (node ID).
type BlsCommittee struct {
	Members []BlsCommitteeMember
	NShards uint16
	Epoch   uint32
	// TotalAggregatedKey is the sum of the members' keys, compressed.
	TotalAggregatedKey []byte
}

func (c *BlsCommittee) decode(d *decoder) {
	n := d.length("committee members", maxMembers, 1+G1UncompressedSize+2+32)
	c.Members = make([]BlsCommitteeMember, n)
	for i := range c.Members {
		m := &c.Members[i]
		m.PublicKey = d.element("member public key", G1UncompressedSize)
		m.Weight = d.u16()
		m.NodeID = d.address()
	}
	c.NShards = d.u16()
	c.Epoch = d.u32()
	c.TotalAggregatedKey = d.element("total aggregated key", G1CompressedSize)
}

func (c *BlsCommittee) encode(e *encoder) {
	e.uleb(len(c.Members))
	for _, m := range c.Members {
		e.vecU8(m.PublicKey)
		e.u16(m.Weight)
		e.fixed(m.NodeID[:])
	}
	e.u16(c.NShards)
	e.u32(c.Epoch)
	e.vecU8(c.TotalAggregatedKey)
}

// UnmarshalBlsCommittee decodes a BlsCommittee.
func UnmarshalBlsCommittee(b []byte) (*BlsCommittee, error) {
	c := new(BlsCommittee)
	return c, decodeAll("BlsCommittee", b, c.decode)
}

// Marshal returns the BCS.
func (c *BlsCommittee) Marshal() []byte { return encodeWith(c.encode) }

// ---------------------------------------------------------------- SystemStateInnerV1

// FutureAccounting is the storage sold for one future epoch.
type FutureAccounting struct {
	Epoch               uint32
	UsedCapacity        uint64
	RewardsToDistribute uint64 // Balance<WAL>
}

// FutureAccountingRingBuffer holds max_epochs_ahead (= Length) epochs.
type FutureAccountingRingBuffer struct {
	CurrentIndex uint32
	Length       uint32
	RingBuffer   []FutureAccounting
}

// EventBlob names a certified event blob.
type EventBlob struct {
	BlobID                         U256
	EndingCheckpointSequenceNumber uint64
}

// EventBlobWeight is one entry of the attestation weights.
type EventBlobWeight struct {
	Key   EventBlob
	Value uint16
}

// EventBlobCertificationState tracks event blob attestations.
type EventBlobCertificationState struct {
	LatestCertifiedBlob    *EventBlob
	AggregateWeightPerBlob []EventBlobWeight // VecMap<EventBlob, u16>
}

// SystemStateInnerV1 is the System object's state.
type SystemStateInnerV1 struct {
	Committee                   BlsCommittee
	TotalCapacitySize           uint64
	UsedCapacitySize            uint64
	StoragePricePerUnitSize     uint64
	WritePricePerUnitSize       uint64
	FutureAccounting            FutureAccountingRingBuffer
	EventBlobCertificationState EventBlobCertificationState
	// DenyListSizes is the ID of an ExtendedField.
	DenyListSizes Address
}

// MaxEpochsAhead is the length of the accounting ring buffer: how far
// ahead storage can be bought.
func (s *SystemStateInnerV1) MaxEpochsAhead() uint32 { return s.FutureAccounting.Length }

func (s *SystemStateInnerV1) decode(d *decoder) {
	s.Committee.decode(d)
	s.TotalCapacitySize = d.u64()
	s.UsedCapacitySize = d.u64()
	s.StoragePricePerUnitSize = d.u64()
	s.WritePricePerUnitSize = d.u64()
	f := &s.FutureAccounting
	f.CurrentIndex = d.u32()
	f.Length = d.u32()
	n := d.length("future accounting", maxRingBuffer, 20)
	f.RingBuffer = make([]FutureAccounting, n)
	for i := range f.RingBuffer {
		a := &f.RingBuffer[i]
		a.Epoch = d.u32()
		a.UsedCapacity = d.u64()
		a.RewardsToDistribute = d.u64()
	}
	ev := &s.EventBlobCertificationState
	if d.option() {
		ev.LatestCertifiedBlob = &EventBlob{BlobID: d.u256(), EndingCheckpointSequenceNumber: d.u64()}
	}
	n = d.length("event blob weights", maxVecMapEntries, 42)
	ev.AggregateWeightPerBlob = make([]EventBlobWeight, n)
	for i := range ev.AggregateWeightPerBlob {
		w := &ev.AggregateWeightPerBlob[i]
		w.Key.BlobID = d.u256()
		w.Key.EndingCheckpointSequenceNumber = d.u64()
		w.Value = d.u16()
	}
	s.DenyListSizes = d.address()
}

func (s *SystemStateInnerV1) encode(e *encoder) {
	s.Committee.encode(e)
	e.u64(s.TotalCapacitySize)
	e.u64(s.UsedCapacitySize)
	e.u64(s.StoragePricePerUnitSize)
	e.u64(s.WritePricePerUnitSize)
	f := &s.FutureAccounting
	e.u32(f.CurrentIndex)
	e.u32(f.Length)
	e.uleb(len(f.RingBuffer))
	for _, a := range f.RingBuffer {
		e.u32(a.Epoch)
		e.u64(a.UsedCapacity)
		e.u64(a.RewardsToDistribute)
	}
	ev := &s.EventBlobCertificationState
	e.option(ev.LatestCertifiedBlob != nil)
	if b := ev.LatestCertifiedBlob; b != nil {
		e.fixed(b.BlobID[:])
		e.u64(b.EndingCheckpointSequenceNumber)
	}
	e.uleb(len(ev.AggregateWeightPerBlob))
	for _, w := range ev.AggregateWeightPerBlob {
		e.fixed(w.Key.BlobID[:])
		e.u64(w.Key.EndingCheckpointSequenceNumber)
		e.u16(w.Value)
	}
	e.fixed(s.DenyListSizes[:])
}

// UnmarshalSystemStateInnerV1 decodes a SystemStateInnerV1.
func UnmarshalSystemStateInnerV1(b []byte) (*SystemStateInnerV1, error) {
	s := new(SystemStateInnerV1)
	return s, decodeAll("SystemStateInnerV1", b, s.decode)
}

// Marshal returns the BCS.
func (s *SystemStateInnerV1) Marshal() []byte { return encodeWith(s.encode) }

// ---------------------------------------------------------------- Committee, StakingInnerV1

// CommitteeEntry is a node and its shards.
type CommitteeEntry struct {
	NodeID Address
	Shards []uint16
}

// Committee is committee::Committee, a VecMap<ID, vector<u16>> of shard
// assignments in contract order.
type Committee []CommitteeEntry

func (c *Committee) decode(d *decoder) {
	n := d.length("committee", maxMembers, 33)
	*c = make(Committee, n)
	for i := range *c {
		m := &(*c)[i]
		m.NodeID = d.address()
		m.Shards = d.u16s("shards", maxShards)
	}
}

func (c Committee) encode(e *encoder) {
	e.uleb(len(c))
	for _, m := range c {
		e.fixed(m.NodeID[:])
		e.u16s(m.Shards)
	}
}

// UnmarshalCommittee decodes a committee::Committee.
func UnmarshalCommittee(b []byte) (Committee, error) {
	var c Committee
	return c, decodeAll("Committee", b, c.decode)
}

// Marshal returns the BCS.
func (c Committee) Marshal() []byte { return encodeWith(c.encode) }

// Shards returns the shards of node, or nil.
func (c Committee) Shards(node Address) []uint16 {
	for _, m := range c {
		if m.NodeID == node {
			return m.Shards
		}
	}
	return nil
}

// EpochParams are the next epoch's capacity and prices.
type EpochParams struct {
	TotalCapacitySize       uint64
	StoragePricePerUnitSize uint64
	WritePricePerUnitSize   uint64
}

// EpochStateKind is the variant of staking_inner::EpochState.
type EpochStateKind uint8

// EpochState variants.
const (
	// EpochChangeSync(weight): the change is in progress; weight is the
	// shards of the nodes that reported epoch_sync_done.
	EpochStateSync EpochStateKind = iota
	// EpochChangeDone(timestamp): the change completed at timestamp (ms).
	EpochStateDone
	// NextParamsSelected(timestamp): voting ended, the next committee is
	// chosen; timestamp is still the last change's.
	EpochStateParamsSelected
)

var epochStateNames = [...]string{"EpochChangeSync", "EpochChangeDone", "NextParamsSelected"}

func (k EpochStateKind) String() string {
	if int(k) < len(epochStateNames) {
		return epochStateNames[k]
	}
	return fmt.Sprintf("EpochState(%d)", k)
}

// EpochState is staking_inner::EpochState.
type EpochState struct {
	Kind EpochStateKind
	// Weight for EpochChangeSync, Timestamp (ms) for the others.
	Weight    uint16
	Timestamp uint64
}

// Table is a Table, ObjectTable or Bag handle: the ID its entries hang off
// and their number.
type Table struct {
	ID   Address
	Size uint64
}

// StakingInnerV1 is the Staking object's state.
type StakingInnerV1 struct {
	NShards         uint16
	EpochDuration   uint64
	FirstEpochStart uint64
	// Pools is the ObjectTable<ID, StakingPool>.
	Pools             Table
	Epoch             uint32
	ActiveSet         Address // ExtendedField<ActiveSet>
	NextCommittee     *Committee
	Committee         Committee
	PreviousCommittee Committee
	NextEpochParams   *EpochParams
	EpochState        EpochState
	// NextEpochPublicKeys is an ExtendedField.
	NextEpochPublicKeys Address
}

func (s *StakingInnerV1) decode(d *decoder) {
	s.NShards = d.u16()
	s.EpochDuration = d.u64()
	s.FirstEpochStart = d.u64()
	s.Pools.ID = d.address()
	s.Pools.Size = d.u64()
	s.Epoch = d.u32()
	s.ActiveSet = d.address()
	if d.option() {
		s.NextCommittee = new(Committee)
		s.NextCommittee.decode(d)
	}
	s.Committee.decode(d)
	s.PreviousCommittee.decode(d)
	if d.option() {
		s.NextEpochParams = &EpochParams{d.u64(), d.u64(), d.u64()}
	}
	s.EpochState.Kind = EpochStateKind(d.variant("EpochState", 3))
	if s.EpochState.Kind == EpochStateSync {
		s.EpochState.Weight = d.u16()
	} else {
		s.EpochState.Timestamp = d.u64()
	}
	s.NextEpochPublicKeys = d.address()
}

func (s *StakingInnerV1) encode(e *encoder) {
	e.u16(s.NShards)
	e.u64(s.EpochDuration)
	e.u64(s.FirstEpochStart)
	e.fixed(s.Pools.ID[:])
	e.u64(s.Pools.Size)
	e.u32(s.Epoch)
	e.fixed(s.ActiveSet[:])
	e.option(s.NextCommittee != nil)
	if s.NextCommittee != nil {
		s.NextCommittee.encode(e)
	}
	s.Committee.encode(e)
	s.PreviousCommittee.encode(e)
	e.option(s.NextEpochParams != nil)
	if p := s.NextEpochParams; p != nil {
		e.u64(p.TotalCapacitySize)
		e.u64(p.StoragePricePerUnitSize)
		e.u64(p.WritePricePerUnitSize)
	}
	e.uleb(int(s.EpochState.Kind))
	if s.EpochState.Kind == EpochStateSync {
		e.u16(s.EpochState.Weight)
	} else {
		e.u64(s.EpochState.Timestamp)
	}
	e.fixed(s.NextEpochPublicKeys[:])
}

// UnmarshalStakingInnerV1 decodes a StakingInnerV1.
func UnmarshalStakingInnerV1(b []byte) (*StakingInnerV1, error) {
	s := new(StakingInnerV1)
	return s, decodeAll("StakingInnerV1", b, s.decode)
}

// Marshal returns the BCS.
func (s *StakingInnerV1) Marshal() []byte { return encodeWith(s.encode) }

// Field is a dynamic field object's contents: Field<u64, V> as System and
// Staking keep their inner state.
type Field[V any] struct {
	ID    Address
	Name  uint64
	Value V
}

// UnmarshalSystemStateField decodes the Field<u64, SystemStateInnerV1>
// object of a System.
func UnmarshalSystemStateField(b []byte) (*Field[SystemStateInnerV1], error) {
	f := new(Field[SystemStateInnerV1])
	return f, decodeAll("Field<u64, SystemStateInnerV1>", b, func(d *decoder) {
		f.ID = d.address()
		f.Name = d.u64()
		f.Value.decode(d)
	})
}

// UnmarshalStakingField decodes the Field<u64, StakingInnerV1> object of a
// Staking.
func UnmarshalStakingField(b []byte) (*Field[StakingInnerV1], error) {
	f := new(Field[StakingInnerV1])
	return f, decodeAll("Field<u64, StakingInnerV1>", b, func(d *decoder) {
		f.ID = d.address()
		f.Name = d.u64()
		f.Value.decode(d)
	})
}

// MarshalSystemStateField returns the BCS of a Field<u64, SystemStateInnerV1>.
func MarshalSystemStateField(f *Field[SystemStateInnerV1]) []byte {
	return encodeWith(func(e *encoder) { e.fixed(f.ID[:]); e.u64(f.Name); f.Value.encode(e) })
}

// MarshalStakingField returns the BCS of a Field<u64, StakingInnerV1>.
func MarshalStakingField(f *Field[StakingInnerV1]) []byte {
	return encodeWith(func(e *encoder) { e.fixed(f.ID[:]); e.u64(f.Name); f.Value.encode(e) })
}

// ---------------------------------------------------------------- StakingPool, StorageNodeInfo

// StorageNodeInfo is a node's identity on chain.
type StorageNodeInfo struct {
	Name           string
	NodeID         Address
	NetworkAddress string
	// PublicKey is the uncompressed G1 key (96 bytes); NextEpochPublicKey
	// the key from the next epoch on (nil: None).
	PublicKey          []byte
	NextEpochPublicKey []byte
	NetworkPublicKey   []byte
	// Metadata is the ID of an ExtendedField<NodeMetadata>.
	Metadata Address
}

func (n *StorageNodeInfo) decode(d *decoder) {
	n.Name = d.str("node name", maxStringBytes)
	n.NodeID = d.address()
	n.NetworkAddress = d.str("network address", maxStringBytes)
	n.PublicKey = d.element("public key", G1UncompressedSize)
	if d.option() {
		n.NextEpochPublicKey = d.element("next epoch public key", G1UncompressedSize)
	}
	n.NetworkPublicKey = d.vecU8("network public key", maxNetworkKey)
	n.Metadata = d.address()
}

func (n *StorageNodeInfo) encode(e *encoder) {
	e.str(n.Name)
	e.fixed(n.NodeID[:])
	e.str(n.NetworkAddress)
	e.vecU8(n.PublicKey)
	e.option(n.NextEpochPublicKey != nil)
	if n.NextEpochPublicKey != nil {
		e.vecU8(n.NextEpochPublicKey)
	}
	e.vecU8(n.NetworkPublicKey)
	e.fixed(n.Metadata[:])
}

// UnmarshalStorageNodeInfo decodes a StorageNodeInfo.
func UnmarshalStorageNodeInfo(b []byte) (*StorageNodeInfo, error) {
	n := new(StorageNodeInfo)
	return n, decodeAll("StorageNodeInfo", b, n.decode)
}

// Marshal returns the BCS.
func (n *StorageNodeInfo) Marshal() []byte { return encodeWith(n.encode) }

// PoolStateKind is the variant of staking_pool::PoolState.
type PoolStateKind uint8

// PoolState variants.
const (
	PoolActive PoolStateKind = iota
	// PoolWithdrawing(epoch): the pool is withdrawn at epoch.
	PoolWithdrawing
	PoolWithdrawn
)

// PoolState is staking_pool::PoolState.
type PoolState struct {
	Kind  PoolStateKind
	Epoch uint32 // Withdrawing
}

// VotingParams are a node's votes.
type VotingParams struct {
	StoragePrice uint64
	WritePrice   uint64
	NodeCapacity uint64
}

// PendingValue is one entry of a PendingValues map.
type PendingValue struct {
	Epoch uint32
	Value uint64
}

// AuthorizedKind is the variant of auth::Authorized.
type AuthorizedKind uint8

// Authorized variants.
const (
	AuthorizedAddress AuthorizedKind = iota
	AuthorizedObject
)

// Authorized names an address or an object (capability) allowed to act.
type Authorized struct {
	Kind AuthorizedKind
	ID   Address
}

// StakingPool is a node's pool; its object ID is the node ID.
type StakingPool struct {
	ID                    Address
	State                 PoolState
	VotingParams          VotingParams
	NodeInfo              StorageNodeInfo
	ActivationEpoch       uint32
	LatestEpoch           uint32
	WalBalance            uint64
	NumShares             uint64
	PendingSharesWithdraw []PendingValue
	PreActiveWithdrawals  []PendingValue
	PendingCommissionRate []PendingValue
	CommissionRate        uint16
	ExchangeRates         Table
	PendingStake          []PendingValue
	RewardsPool           uint64 // Balance<WAL>
	Commission            uint64 // Balance<WAL>
	CommissionReceiver    Authorized
	GovernanceAuthorized  Authorized
	ExtraFields           Table // Bag
}

func (d *decoder) pendingValues(what string) []PendingValue {
	n := d.length(what, maxVecMapEntries, 12)
	v := make([]PendingValue, n)
	for i := range v {
		v[i].Epoch = d.u32()
		v[i].Value = d.u64()
	}
	return v
}

func (e *encoder) pendingValues(v []PendingValue) {
	e.uleb(len(v))
	for _, p := range v {
		e.u32(p.Epoch)
		e.u64(p.Value)
	}
}

func (d *decoder) authorized() Authorized {
	return Authorized{Kind: AuthorizedKind(d.variant("Authorized", 2)), ID: d.address()}
}

func (p *StakingPool) decode(d *decoder) {
	p.ID = d.address()
	p.State.Kind = PoolStateKind(d.variant("PoolState", 3))
	if p.State.Kind == PoolWithdrawing {
		p.State.Epoch = d.u32()
	}
	p.VotingParams = VotingParams{d.u64(), d.u64(), d.u64()}
	p.NodeInfo.decode(d)
	p.ActivationEpoch = d.u32()
	p.LatestEpoch = d.u32()
	p.WalBalance = d.u64()
	p.NumShares = d.u64()
	p.PendingSharesWithdraw = d.pendingValues("pending shares withdraw")
	p.PreActiveWithdrawals = d.pendingValues("pre-active withdrawals")
	p.PendingCommissionRate = d.pendingValues("pending commission rate")
	p.CommissionRate = d.u16()
	p.ExchangeRates = Table{d.address(), d.u64()}
	p.PendingStake = d.pendingValues("pending stake")
	p.RewardsPool = d.u64()
	p.Commission = d.u64()
	p.CommissionReceiver = d.authorized()
	p.GovernanceAuthorized = d.authorized()
	p.ExtraFields = Table{d.address(), d.u64()}
}

func (p *StakingPool) encode(e *encoder) {
	e.fixed(p.ID[:])
	e.uleb(int(p.State.Kind))
	if p.State.Kind == PoolWithdrawing {
		e.u32(p.State.Epoch)
	}
	e.u64(p.VotingParams.StoragePrice)
	e.u64(p.VotingParams.WritePrice)
	e.u64(p.VotingParams.NodeCapacity)
	p.NodeInfo.encode(e)
	e.u32(p.ActivationEpoch)
	e.u32(p.LatestEpoch)
	e.u64(p.WalBalance)
	e.u64(p.NumShares)
	e.pendingValues(p.PendingSharesWithdraw)
	e.pendingValues(p.PreActiveWithdrawals)
	e.pendingValues(p.PendingCommissionRate)
	e.u16(p.CommissionRate)
	e.fixed(p.ExchangeRates.ID[:])
	e.u64(p.ExchangeRates.Size)
	e.pendingValues(p.PendingStake)
	e.u64(p.RewardsPool)
	e.u64(p.Commission)
	for _, a := range []Authorized{p.CommissionReceiver, p.GovernanceAuthorized} {
		e.uleb(int(a.Kind))
		e.fixed(a.ID[:])
	}
	e.fixed(p.ExtraFields.ID[:])
	e.u64(p.ExtraFields.Size)
}

// UnmarshalStakingPool decodes a StakingPool.
func UnmarshalStakingPool(b []byte) (*StakingPool, error) {
	p := new(StakingPool)
	return p, decodeAll("StakingPool", b, p.decode)
}

// Marshal returns the BCS.
func (p *StakingPool) Marshal() []byte { return encodeWith(p.encode) }

// ---------------------------------------------------------------- Blob, Storage

// Storage is a storage resource: StorageSize bytes for [StartEpoch,
// EndEpoch).
type Storage struct {
	ID          Address
	StartEpoch  uint32
	EndEpoch    uint32
	StorageSize uint64
}

func (s *Storage) decode(d *decoder) {
	s.ID = d.address()
	s.StartEpoch = d.u32()
	s.EndEpoch = d.u32()
	s.StorageSize = d.u64()
}

func (s *Storage) encode(e *encoder) {
	e.fixed(s.ID[:])
	e.u32(s.StartEpoch)
	e.u32(s.EndEpoch)
	e.u64(s.StorageSize)
}

// UnmarshalStorage decodes a Storage object.
func UnmarshalStorage(b []byte) (*Storage, error) {
	s := new(Storage)
	return s, decodeAll("Storage", b, s.decode)
}

// Marshal returns the BCS.
func (s *Storage) Marshal() []byte { return encodeWith(s.encode) }

// Blob is a registered blob object. BlobID is the u256 in its BCS bytes,
// which are the blob ID's 32 raw bytes (F8.3).
type Blob struct {
	ID              Address
	RegisteredEpoch uint32
	BlobID          codec.BlobID
	Size            uint64
	EncodingType    uint8
	CertifiedEpoch  *uint32
	Storage         Storage
	Deletable       bool
}

func (b *Blob) decode(d *decoder) {
	b.ID = d.address()
	b.RegisteredEpoch = d.u32()
	d.fixed(b.BlobID[:])
	b.Size = d.u64()
	b.EncodingType = d.u8()
	if d.option() {
		v := d.u32()
		b.CertifiedEpoch = &v
	}
	b.Storage.decode(d)
	b.Deletable = d.bool()
}

func (b *Blob) encode(e *encoder) {
	e.fixed(b.ID[:])
	e.u32(b.RegisteredEpoch)
	e.fixed(b.BlobID[:])
	e.u64(b.Size)
	e.u8(b.EncodingType)
	e.option(b.CertifiedEpoch != nil)
	if b.CertifiedEpoch != nil {
		e.u32(*b.CertifiedEpoch)
	}
	b.Storage.encode(e)
	e.bool(b.Deletable)
}

// UnmarshalBlob decodes a Blob object.
func UnmarshalBlob(b []byte) (*Blob, error) {
	x := new(Blob)
	return x, decodeAll("Blob", b, x.decode)
}

// Marshal returns the BCS.
func (b *Blob) Marshal() []byte { return encodeWith(b.encode) }

// ---------------------------------------------------------------- StorageNodeCap, StakedWal

// EventBlobAttestation is a node's last event blob attestation.
type EventBlobAttestation struct {
	CheckpointSequenceNum uint64
	Epoch                 uint32
}

// StorageNodeCap is the capability a node operator holds.
type StorageNodeCap struct {
	ID                       Address
	NodeID                   Address
	LastEpochSyncDone        uint32
	LastEventBlobAttestation *EventBlobAttestation
	DenyListRoot             U256
	DenyListSequence         uint64
	DenyListSize             uint64
}

func (c *StorageNodeCap) decode(d *decoder) {
	c.ID = d.address()
	c.NodeID = d.address()
	c.LastEpochSyncDone = d.u32()
	if d.option() {
		c.LastEventBlobAttestation = &EventBlobAttestation{d.u64(), d.u32()}
	}
	c.DenyListRoot = d.u256()
	c.DenyListSequence = d.u64()
	c.DenyListSize = d.u64()
}

func (c *StorageNodeCap) encode(e *encoder) {
	e.fixed(c.ID[:])
	e.fixed(c.NodeID[:])
	e.u32(c.LastEpochSyncDone)
	e.option(c.LastEventBlobAttestation != nil)
	if a := c.LastEventBlobAttestation; a != nil {
		e.u64(a.CheckpointSequenceNum)
		e.u32(a.Epoch)
	}
	e.fixed(c.DenyListRoot[:])
	e.u64(c.DenyListSequence)
	e.u64(c.DenyListSize)
}

// UnmarshalStorageNodeCap decodes a StorageNodeCap.
func UnmarshalStorageNodeCap(b []byte) (*StorageNodeCap, error) {
	c := new(StorageNodeCap)
	return c, decodeAll("StorageNodeCap", b, c.decode)
}

// Marshal returns the BCS.
func (c *StorageNodeCap) Marshal() []byte { return encodeWith(c.encode) }

// StakedWalStateKind is the variant of staked_wal::StakedWalState.
type StakedWalStateKind uint8

// StakedWalState variants.
const (
	StakedWalStaked StakedWalStateKind = iota
	StakedWalWithdrawing
)

// StakedWalState is Staked, or Withdrawing until WithdrawEpoch.
type StakedWalState struct {
	Kind          StakedWalStateKind
	WithdrawEpoch uint32
}

// StakedWal is stake a staker holds with a node.
type StakedWal struct {
	ID              Address
	State           StakedWalState
	NodeID          Address
	Principal       uint64 // Balance<WAL>
	ActivationEpoch uint32
}

func (s *StakedWal) decode(d *decoder) {
	s.ID = d.address()
	s.State.Kind = StakedWalStateKind(d.variant("StakedWalState", 2))
	if s.State.Kind == StakedWalWithdrawing {
		s.State.WithdrawEpoch = d.u32()
	}
	s.NodeID = d.address()
	s.Principal = d.u64()
	s.ActivationEpoch = d.u32()
}

func (s *StakedWal) encode(e *encoder) {
	e.fixed(s.ID[:])
	e.uleb(int(s.State.Kind))
	if s.State.Kind == StakedWalWithdrawing {
		e.u32(s.State.WithdrawEpoch)
	}
	e.fixed(s.NodeID[:])
	e.u64(s.Principal)
	e.u32(s.ActivationEpoch)
}

// UnmarshalStakedWal decodes a StakedWal.
func UnmarshalStakedWal(b []byte) (*StakedWal, error) {
	s := new(StakedWal)
	return s, decodeAll("StakedWal", b, s.decode)
}

// Marshal returns the BCS.
func (s *StakedWal) Marshal() []byte { return encodeWith(s.encode) }
