package sui

import (
	"fmt"
	"strings"

	"floe/chainlink"
	"floe/codec"
)

// Walrus events, in the layouts of mainnet-contracts
// sources/system/events.move (field order = BCS order; the SDK does not
// generate them). DecodeEvent decodes one by its struct name; ToChainlink
// maps the ones floe nodes react to onto chainlink.Event.

// BlobRegistered: a blob object was registered.
type BlobRegistered struct {
	Epoch        uint32
	BlobID       codec.BlobID
	Size         uint64
	EncodingType uint8
	EndEpoch     uint32
	Deletable    bool
	ObjectID     Address
}

// BlobCertified: a blob object was certified (or, IsExtension, its
// certified storage extended).
type BlobCertified struct {
	Epoch       uint32
	BlobID      codec.BlobID
	EndEpoch    uint32
	Deletable   bool
	ObjectID    Address
	IsExtension bool
}

// BlobDeleted: a deletable blob object was deleted.
type BlobDeleted struct {
	Epoch        uint32
	BlobID       codec.BlobID
	EndEpoch     uint32
	ObjectID     Address
	WasCertified bool
}

// InvalidBlobID: a blob ID was marked invalid.
type InvalidBlobID struct {
	Epoch  uint32
	BlobID codec.BlobID
}

// EpochChangeStart: epoch began; nodes move shards.
type EpochChangeStart struct{ Epoch uint32 }

// EpochChangeDone: a quorum of shards reported sync done.
type EpochChangeDone struct{ Epoch uint32 }

// ShardsReceived: a node reported epoch_sync_done for its shards.
type ShardsReceived struct {
	Epoch  uint32
	Shards []uint16
}

// EpochParametersSelected: voting ended for NextEpoch.
type EpochParametersSelected struct{ NextEpoch uint32 }

// ShardRecoveryStart: recovery of shards began.
type ShardRecoveryStart struct {
	Epoch  uint32
	Shards []uint16
}

// ContractUpgraded: the package was upgraded.
type ContractUpgraded struct {
	Epoch     uint32
	PackageID Address
	Version   uint64
}

// RegisterDenyListUpdate: a node registered a deny list update.
type RegisterDenyListUpdate struct {
	Epoch          uint32
	Root           U256
	SequenceNumber uint64
	NodeID         Address
}

// DenyListUpdate: a node's deny list was updated.
type DenyListUpdate struct {
	Epoch          uint32
	Root           U256
	SequenceNumber uint64
	NodeID         Address
}

// DenyListBlobDeleted: a deny-listed blob was deleted.
type DenyListBlobDeleted struct {
	Epoch  uint32
	BlobID codec.BlobID
}

// ContractUpgradeProposed: an upgrade was proposed.
type ContractUpgradeProposed struct {
	Epoch         uint32
	PackageDigest []byte
}

// ContractUpgradeQuorumReached: an upgrade reached its quorum.
type ContractUpgradeQuorumReached struct {
	Epoch         uint32
	PackageDigest []byte
}

// ProtocolVersionUpdated: the protocol version changes at StartEpoch.
type ProtocolVersionUpdated struct {
	Epoch           uint32
	StartEpoch      uint32
	ProtocolVersion uint64
}

// PricesUpdated: the system prices changed.
type PricesUpdated struct {
	Epoch        uint32
	StoragePrice uint64
	WritePrice   uint64
}

// StoragePoolCreated: a storage pool was created.
type StoragePoolCreated struct {
	Epoch                        uint32
	StoragePoolID                Address
	ReservedEncodedCapacityBytes uint64
	StartEpoch                   uint32
	EndEpoch                     uint32
}

// PooledBlobRegistered: a blob was registered in a storage pool.
type PooledBlobRegistered struct {
	Epoch         uint32
	BlobID        codec.BlobID
	UnencodedSize uint64
	EncodingType  uint8
	Deletable     bool
	ObjectID      Address
	StoragePoolID Address
}

// PooledBlobCertified: a pooled blob was certified.
type PooledBlobCertified struct {
	Epoch         uint32
	BlobID        codec.BlobID
	Deletable     bool
	ObjectID      Address
	StoragePoolID Address
}

// PooledBlobDeleted: a pooled blob was deleted.
type PooledBlobDeleted struct {
	Epoch         uint32
	BlobID        codec.BlobID
	ObjectID      Address
	WasCertified  bool
	StoragePoolID Address
}

// StoragePoolExtended: a storage pool's end epoch moved.
type StoragePoolExtended struct {
	Epoch         uint32
	StoragePoolID Address
	NewEndEpoch   uint32
}

type eventCodec struct {
	decode func(*decoder) any
	encode func(*encoder, any)
}

func blobID(d *decoder) (id codec.BlobID) { d.fixed(id[:]); return }

// events maps struct names of walrus::events to their codecs.
var events = map[string]eventCodec{
	"BlobRegistered": {
		func(d *decoder) any {
			return &BlobRegistered{d.u32(), blobID(d), d.u64(), d.u8(), d.u32(), d.bool(), d.address()}
		},
		func(e *encoder, v any) {
			x := v.(*BlobRegistered)
			e.u32(x.Epoch)
			e.fixed(x.BlobID[:])
			e.u64(x.Size)
			e.u8(x.EncodingType)
			e.u32(x.EndEpoch)
			e.bool(x.Deletable)
			e.fixed(x.ObjectID[:])
		},
	},
	"BlobCertified": {
		func(d *decoder) any {
			return &BlobCertified{d.u32(), blobID(d), d.u32(), d.bool(), d.address(), d.bool()}
		},
		func(e *encoder, v any) {
			x := v.(*BlobCertified)
			e.u32(x.Epoch)
			e.fixed(x.BlobID[:])
			e.u32(x.EndEpoch)
			e.bool(x.Deletable)
			e.fixed(x.ObjectID[:])
			e.bool(x.IsExtension)
		},
	},
	"BlobDeleted": {
		func(d *decoder) any {
			return &BlobDeleted{d.u32(), blobID(d), d.u32(), d.address(), d.bool()}
		},
		func(e *encoder, v any) {
			x := v.(*BlobDeleted)
			e.u32(x.Epoch)
			e.fixed(x.BlobID[:])
			e.u32(x.EndEpoch)
			e.fixed(x.ObjectID[:])
			e.bool(x.WasCertified)
		},
	},
	"InvalidBlobID": {
		func(d *decoder) any { return &InvalidBlobID{d.u32(), blobID(d)} },
		func(e *encoder, v any) { x := v.(*InvalidBlobID); e.u32(x.Epoch); e.fixed(x.BlobID[:]) },
	},
	"EpochChangeStart": {
		func(d *decoder) any { return &EpochChangeStart{d.u32()} },
		func(e *encoder, v any) { e.u32(v.(*EpochChangeStart).Epoch) },
	},
	"EpochChangeDone": {
		func(d *decoder) any { return &EpochChangeDone{d.u32()} },
		func(e *encoder, v any) { e.u32(v.(*EpochChangeDone).Epoch) },
	},
	"ShardsReceived": {
		func(d *decoder) any { return &ShardsReceived{d.u32(), d.u16s("shards", maxShards)} },
		func(e *encoder, v any) { x := v.(*ShardsReceived); e.u32(x.Epoch); e.u16s(x.Shards) },
	},
	"EpochParametersSelected": {
		func(d *decoder) any { return &EpochParametersSelected{d.u32()} },
		func(e *encoder, v any) { e.u32(v.(*EpochParametersSelected).NextEpoch) },
	},
	"ShardRecoveryStart": {
		func(d *decoder) any { return &ShardRecoveryStart{d.u32(), d.u16s("shards", maxShards)} },
		func(e *encoder, v any) { x := v.(*ShardRecoveryStart); e.u32(x.Epoch); e.u16s(x.Shards) },
	},
	"ContractUpgraded": {
		func(d *decoder) any { return &ContractUpgraded{d.u32(), d.address(), d.u64()} },
		func(e *encoder, v any) {
			x := v.(*ContractUpgraded)
			e.u32(x.Epoch)
			e.fixed(x.PackageID[:])
			e.u64(x.Version)
		},
	},
	"RegisterDenyListUpdate": {
		func(d *decoder) any { return &RegisterDenyListUpdate{d.u32(), d.u256(), d.u64(), d.address()} },
		func(e *encoder, v any) {
			x := v.(*RegisterDenyListUpdate)
			e.u32(x.Epoch)
			e.fixed(x.Root[:])
			e.u64(x.SequenceNumber)
			e.fixed(x.NodeID[:])
		},
	},
	"DenyListUpdate": {
		func(d *decoder) any { return &DenyListUpdate{d.u32(), d.u256(), d.u64(), d.address()} },
		func(e *encoder, v any) {
			x := v.(*DenyListUpdate)
			e.u32(x.Epoch)
			e.fixed(x.Root[:])
			e.u64(x.SequenceNumber)
			e.fixed(x.NodeID[:])
		},
	},
	"DenyListBlobDeleted": {
		func(d *decoder) any { return &DenyListBlobDeleted{d.u32(), blobID(d)} },
		func(e *encoder, v any) { x := v.(*DenyListBlobDeleted); e.u32(x.Epoch); e.fixed(x.BlobID[:]) },
	},
	"ContractUpgradeProposed": {
		func(d *decoder) any {
			return &ContractUpgradeProposed{d.u32(), d.vecU8("package digest", maxDigestBytes)}
		},
		func(e *encoder, v any) { x := v.(*ContractUpgradeProposed); e.u32(x.Epoch); e.vecU8(x.PackageDigest) },
	},
	"ContractUpgradeQuorumReached": {
		func(d *decoder) any {
			return &ContractUpgradeQuorumReached{d.u32(), d.vecU8("package digest", maxDigestBytes)}
		},
		func(e *encoder, v any) {
			x := v.(*ContractUpgradeQuorumReached)
			e.u32(x.Epoch)
			e.vecU8(x.PackageDigest)
		},
	},
	"ProtocolVersionUpdated": {
		func(d *decoder) any { return &ProtocolVersionUpdated{d.u32(), d.u32(), d.u64()} },
		func(e *encoder, v any) {
			x := v.(*ProtocolVersionUpdated)
			e.u32(x.Epoch)
			e.u32(x.StartEpoch)
			e.u64(x.ProtocolVersion)
		},
	},
	"PricesUpdated": {
		func(d *decoder) any { return &PricesUpdated{d.u32(), d.u64(), d.u64()} },
		func(e *encoder, v any) {
			x := v.(*PricesUpdated)
			e.u32(x.Epoch)
			e.u64(x.StoragePrice)
			e.u64(x.WritePrice)
		},
	},
	"StoragePoolCreated": {
		func(d *decoder) any { return &StoragePoolCreated{d.u32(), d.address(), d.u64(), d.u32(), d.u32()} },
		func(e *encoder, v any) {
			x := v.(*StoragePoolCreated)
			e.u32(x.Epoch)
			e.fixed(x.StoragePoolID[:])
			e.u64(x.ReservedEncodedCapacityBytes)
			e.u32(x.StartEpoch)
			e.u32(x.EndEpoch)
		},
	},
	"PooledBlobRegistered": {
		func(d *decoder) any {
			return &PooledBlobRegistered{d.u32(), blobID(d), d.u64(), d.u8(), d.bool(), d.address(), d.address()}
		},
		func(e *encoder, v any) {
			x := v.(*PooledBlobRegistered)
			e.u32(x.Epoch)
			e.fixed(x.BlobID[:])
			e.u64(x.UnencodedSize)
			e.u8(x.EncodingType)
			e.bool(x.Deletable)
			e.fixed(x.ObjectID[:])
			e.fixed(x.StoragePoolID[:])
		},
	},
	"PooledBlobCertified": {
		func(d *decoder) any {
			return &PooledBlobCertified{d.u32(), blobID(d), d.bool(), d.address(), d.address()}
		},
		func(e *encoder, v any) {
			x := v.(*PooledBlobCertified)
			e.u32(x.Epoch)
			e.fixed(x.BlobID[:])
			e.bool(x.Deletable)
			e.fixed(x.ObjectID[:])
			e.fixed(x.StoragePoolID[:])
		},
	},
	"PooledBlobDeleted": {
		func(d *decoder) any {
			return &PooledBlobDeleted{d.u32(), blobID(d), d.address(), d.bool(), d.address()}
		},
		func(e *encoder, v any) {
			x := v.(*PooledBlobDeleted)
			e.u32(x.Epoch)
			e.fixed(x.BlobID[:])
			e.fixed(x.ObjectID[:])
			e.bool(x.WasCertified)
			e.fixed(x.StoragePoolID[:])
		},
	},
	"StoragePoolExtended": {
		func(d *decoder) any { return &StoragePoolExtended{d.u32(), d.address(), d.u32()} },
		func(e *encoder, v any) {
			x := v.(*StoragePoolExtended)
			e.u32(x.Epoch)
			e.fixed(x.StoragePoolID[:])
			e.u32(x.NewEndEpoch)
		},
	},
}

// EventNames lists the walrus::events structs DecodeEvent knows.
func EventNames() []string {
	names := make([]string, 0, len(events))
	for n := range events {
		names = append(names, n)
	}
	return names
}

// DecodeEvent decodes the BCS contents of the walrus::events struct name.
// The result is a pointer to the struct of that name.
func DecodeEvent(name string, b []byte) (any, error) {
	c, ok := events[name]
	if !ok {
		return nil, fmt.Errorf("%w: unknown Walrus event %q", ErrBCS, name)
	}
	var v any
	err := decodeAll("event "+name, b, func(d *decoder) { v = c.decode(d) })
	if err != nil {
		return nil, err
	}
	return v, nil
}

// EncodeEvent returns the BCS of an event struct from this file.
func EncodeEvent(v any) ([]byte, string, error) {
	name := eventName(v)
	c, ok := events[name]
	if !ok {
		return nil, "", fmt.Errorf("sui: %T is not a Walrus event", v)
	}
	return encodeWith(func(e *encoder) { c.encode(e, v) }), name, nil
}

func eventName(v any) string {
	s := fmt.Sprintf("%T", v)
	s = strings.TrimPrefix(s, "*")
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// EventStructName returns the struct name of a Walrus event type tag
// <package>::events::<Name> when its address is one of packages (the
// deployment's type-origin package and its upgrades), or "".
func EventStructName(t StructTag, packages ...Address) string {
	if t.Module != "events" || len(t.TypeParams) != 0 {
		return ""
	}
	for _, p := range packages {
		if t.Address == p {
			if _, ok := events[t.Name]; ok {
				return t.Name
			}
			return ""
		}
	}
	return ""
}

// ToChainlink maps a decoded event onto chainlink's Event, for the kinds
// nodes react to (F9.5): BlobRegistered, BlobCertified, BlobDeleted,
// InvalidBlobID, EpochChangeStart, EpochChangeDone, ShardsReceived. ok is
// false for the others. The Cursor is the event index's to set; node is
// the node of a ShardsReceived (taken from the StorageNodeCap of the
// emitting transaction: the event itself does not name it).
func ToChainlink(v any, node Address) (ev chainlink.Event, ok bool) {
	switch x := v.(type) {
	case *BlobRegistered:
		return chainlink.Event{Type: chainlink.EventBlobRegistered, Epoch: x.Epoch, BlobID: x.BlobID, Size: x.Size,
			EncodingType: x.EncodingType, EndEpoch: x.EndEpoch, Deletable: x.Deletable, ObjectID: x.ObjectID}, true
	case *BlobCertified:
		return chainlink.Event{Type: chainlink.EventBlobCertified, Epoch: x.Epoch, BlobID: x.BlobID, EndEpoch: x.EndEpoch,
			Deletable: x.Deletable, ObjectID: x.ObjectID, IsExtension: x.IsExtension}, true
	case *BlobDeleted:
		return chainlink.Event{Type: chainlink.EventBlobDeleted, Epoch: x.Epoch, BlobID: x.BlobID, EndEpoch: x.EndEpoch,
			ObjectID: x.ObjectID, WasCertified: x.WasCertified}, true
	case *InvalidBlobID:
		return chainlink.Event{Type: chainlink.EventInvalidBlobID, Epoch: x.Epoch, BlobID: x.BlobID}, true
	case *EpochChangeStart:
		return chainlink.Event{Type: chainlink.EventEpochChangeStart, Epoch: x.Epoch}, true
	case *EpochChangeDone:
		return chainlink.Event{Type: chainlink.EventEpochChangeDone, Epoch: x.Epoch}, true
	case *ShardsReceived:
		return chainlink.Event{Type: chainlink.EventShardsReceived, Epoch: x.Epoch, NodeID: node,
			Shards: append([]uint16(nil), x.Shards...)}, true
	}
	return chainlink.Event{}, false
}
