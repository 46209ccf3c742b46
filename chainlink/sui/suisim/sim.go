package suisim

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	blst "github.com/supranational/blst/bindings/go"
	"golang.org/x/crypto/blake2b"

	pb "github.com/block-vision/sui-go-sdk/pb/sui/rpc/v2"
	"google.golang.org/protobuf/proto"

	"floe/chainlink"
	"floe/chainlink/sui"
)

// Address is a Sui address or object ID.
type Address = sui.Address

// Sim is the stand-in's state: the ledger and the checkpoints built on it.
type Sim struct {
	l   *chainlink.Ledger
	ds  datastore.Batching
	log *slog.Logger

	pkg, system, staking Address

	mu       sync.Mutex
	meta     simMeta
	storages map[Address]*chainlink.Storage
	netKeys  map[Address][]byte
	notify   chan struct{}
	closed   bool
}

type simMeta struct {
	LastCheckpoint uint64 `json:"last_checkpoint"`
	LastCursor     uint64 `json:"last_cursor"`
}

// derive is a stand-in object ID: blake2b-256("floe/suisim/" ‖ tag ‖ parts).
func derive(tag string, parts ...[]byte) Address {
	h, _ := blake2b.New256(nil)
	h.Write([]byte("floe/suisim/" + tag))
	for _, p := range parts {
		h.Write(p)
	}
	var a Address
	copy(a[:], h.Sum(nil))
	return a
}

func u32b(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

var (
	keyMeta       = datastore.NewKey("/suisim/meta")
	prefixCP      = "/suisim/cp/"
	prefixStorage = "/suisim/storage/"
	prefixNetKey  = "/suisim/netkey/"
)

func keyCP(seq uint64) datastore.Key { return datastore.NewKey(fmt.Sprintf("%s%020d", prefixCP, seq)) }

// New opens the stand-in on a ledger and the datastore the ledger lives
// on (its checkpoints go under /suisim/). The ledger should advance epochs
// on request only; events of an epoch timer are wrapped in system
// checkpoints.
func New(ctx context.Context, l *chainlink.Ledger, ds datastore.Batching, log *slog.Logger) (*Sim, error) {
	if log == nil {
		log = slog.Default()
	}
	s := &Sim{l: l, ds: ds, log: log, pkg: derive("package"), system: derive("system"), staking: derive("staking"),
		storages: map[Address]*chainlink.Storage{}, netKeys: map[Address][]byte{}, notify: make(chan struct{})}
	b, err := ds.Get(ctx, keyMeta)
	switch {
	case errors.Is(err, datastore.ErrNotFound):
		// Genesis: checkpoint 0 is empty, and events before the stand-in
		// (if the ledger had any) belong to it.
		_, last, err := l.EventsAfter(ctx, 0, 1)
		if err != nil {
			return nil, err
		}
		s.meta = simMeta{LastCursor: last}
		if err := s.putCheckpoint(ctx, &pb.Checkpoint{SequenceNumber: proto.Uint64(0)}); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("suisim: read meta: %w", err)
	default:
		if err := json.Unmarshal(b, &s.meta); err != nil {
			return nil, fmt.Errorf("suisim: corrupt meta: %w", err)
		}
	}
	if err := s.loadMaps(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Sim) loadMaps(ctx context.Context) error {
	for _, p := range []string{prefixStorage, prefixNetKey} {
		res, err := s.ds.Query(ctx, query.Query{Prefix: p})
		if err != nil {
			return fmt.Errorf("suisim: load %s: %w", p, err)
		}
		for r := range res.Next() {
			if r.Error != nil {
				res.Close()
				return fmt.Errorf("suisim: load %s: %w", p, r.Error)
			}
			id, err := sui.ParseAddress(datastore.NewKey(r.Key).BaseNamespace())
			if err != nil {
				continue
			}
			if p == prefixStorage {
				var st chainlink.Storage
				if json.Unmarshal(r.Value, &st) == nil {
					s.storages[id] = &st
				}
			} else {
				s.netKeys[id] = slices.Clone(r.Value)
			}
		}
		res.Close()
	}
	return nil
}

// Package, System and Staking name the stand-in's Walrus deployment.
func (s *Sim) Package() Address { return s.pkg }

// System is the System object's ID.
func (s *Sim) System() Address { return s.system }

// Staking is the Staking object's ID.
func (s *Sim) Staking() Address { return s.staking }

// WALType is the WAL coin type.
func (s *Sim) WALType() string { return s.pkg.String() + "::wal::WAL" }

// Ledger is the state machine.
func (s *Sim) Ledger() *chainlink.Ledger { return s.l }

func (s *Sim) typ(module, name string) string { return s.pkg.String() + "::" + module + "::" + name }

func (s *Sim) putCheckpoint(ctx context.Context, cp *pb.Checkpoint) error {
	b, err := proto.Marshal(cp)
	if err != nil {
		return err
	}
	meta := s.meta
	meta.LastCheckpoint = cp.GetSequenceNumber()
	mb, _ := json.Marshal(meta)
	batch, err := s.ds.Batch(ctx)
	if err != nil {
		return err
	}
	if err := batch.Put(ctx, keyCP(cp.GetSequenceNumber()), b); err != nil {
		return err
	}
	if err := batch.Put(ctx, keyMeta, mb); err != nil {
		return err
	}
	if err := batch.Commit(ctx); err != nil {
		return fmt.Errorf("suisim: write checkpoint: %w", err)
	}
	s.meta = meta
	close(s.notify)
	s.notify = make(chan struct{})
	return nil
}

func (s *Sim) checkpoint(ctx context.Context, seq uint64) (*pb.Checkpoint, error) {
	b, err := s.ds.Get(ctx, keyCP(seq))
	if err != nil {
		return nil, err
	}
	cp := new(pb.Checkpoint)
	if err := proto.Unmarshal(b, cp); err != nil {
		return nil, fmt.Errorf("suisim: corrupt checkpoint %d: %w", seq, err)
	}
	return cp, nil
}

// flush wraps ledger events that happened outside a transaction in a
// system checkpoint; s.mu is held.
func (s *Sim) flush(ctx context.Context) error {
	evs, _, err := s.l.EventsAfter(ctx, s.meta.LastCursor, chainlink.MaxEventBatch)
	if err != nil || len(evs) == 0 {
		return err
	}
	es, err := s.l.EpochState(ctx)
	if err != nil {
		return err
	}
	seq := s.meta.LastCheckpoint + 1
	t := &pb.ExecutedTransaction{
		Digest:      proto.String(sui.Digest(derive("systx", binary.LittleEndian.AppendUint64(nil, seq))).String()),
		Transaction: &pb.Transaction{Bcs: &pb.Bcs{Name: proto.String("TransactionData"), Value: nil}},
		Effects:     &pb.TransactionEffects{Status: &pb.ExecutionStatus{Success: proto.Bool(true)}, Epoch: proto.Uint64(uint64(es.Epoch))},
		Events:      &pb.TransactionEvents{Events: s.walrusEvents(evs)},
		Checkpoint:  proto.Uint64(seq),
	}
	s.meta.LastCursor = evs[len(evs)-1].Cursor
	return s.putCheckpoint(ctx, &pb.Checkpoint{SequenceNumber: proto.Uint64(seq), Transactions: []*pb.ExecutedTransaction{t}})
}

// walrusEvents encodes ledger events as Walrus events.
func (s *Sim) walrusEvents(evs []chainlink.Event) []*pb.Event {
	var out []*pb.Event
	for _, e := range evs {
		var v any
		switch e.Type {
		case chainlink.EventBlobRegistered:
			v = &sui.BlobRegistered{Epoch: e.Epoch, BlobID: e.BlobID, Size: e.Size, EncodingType: e.EncodingType, EndEpoch: e.EndEpoch, Deletable: e.Deletable, ObjectID: e.ObjectID}
		case chainlink.EventBlobCertified:
			v = &sui.BlobCertified{Epoch: e.Epoch, BlobID: e.BlobID, EndEpoch: e.EndEpoch, Deletable: e.Deletable, ObjectID: e.ObjectID, IsExtension: e.IsExtension}
		case chainlink.EventBlobDeleted:
			v = &sui.BlobDeleted{Epoch: e.Epoch, BlobID: e.BlobID, EndEpoch: e.EndEpoch, ObjectID: e.ObjectID, WasCertified: e.WasCertified}
		case chainlink.EventInvalidBlobID:
			v = &sui.InvalidBlobID{Epoch: e.Epoch, BlobID: e.BlobID}
		case chainlink.EventEpochChangeStart:
			v = &sui.EpochChangeStart{Epoch: e.Epoch}
		case chainlink.EventEpochChangeDone:
			v = &sui.EpochChangeDone{Epoch: e.Epoch}
		case chainlink.EventShardsReceived:
			v = &sui.ShardsReceived{Epoch: e.Epoch, Shards: e.Shards}
		default:
			continue // NodeRegistered: no Walrus event
		}
		b, name, err := sui.EncodeEvent(v)
		if err != nil {
			s.log.Error("suisim: encode event", "type", e.Type, "err", err)
			continue
		}
		out = append(out, &pb.Event{PackageId: proto.String(s.pkg.String()), Module: proto.String("events"),
			EventType: proto.String(s.typ("events", name)), Contents: &pb.Bcs{Name: proto.String(name), Value: b}})
	}
	return out
}

// ---------------------------------------------------------------- objects

// object is a synthesized object.
type object struct {
	id      Address
	typ     string
	owner   *pb.Owner
	bcs     []byte
	address Address // address owner (zero if not address-owned)
}

func addrOwner(a Address) *pb.Owner {
	return &pb.Owner{Kind: pb.Owner_ADDRESS.Enum(), Address: proto.String(a.String())}
}

func (s *Sim) toPB(o *object) *pb.Object {
	version := s.meta.LastCheckpoint + 1
	h := blake2b.Sum256(append(append(o.id[:0:0], o.id[:]...), o.bcs...))
	return &pb.Object{ObjectId: proto.String(o.id.String()), Version: proto.Uint64(version),
		Digest: proto.String(sui.Digest(h).String()), Owner: o.owner, ObjectType: proto.String(o.typ),
		Contents: &pb.Bcs{Name: proto.String(o.typ), Value: o.bcs}}
}

func coinBCS(id Address, bal uint64) []byte {
	return binary.LittleEndian.AppendUint64(append([]byte(nil), id[:]...), bal)
}

// GasBalance is what every address's SUI gas coin holds (gas is not
// charged).
const GasBalance = 1 << 60

func (s *Sim) gasCoin(a Address) *object {
	id := derive("gas", a[:])
	return &object{id: id, typ: "0x2::coin::Coin<0x2::sui::SUI>", owner: addrOwner(a), address: a, bcs: coinBCS(id, GasBalance)}
}

func (s *Sim) walCoin(ctx context.Context, a Address) (*object, error) {
	acc, err := s.l.Account(ctx, a)
	if errors.Is(err, chainlink.ErrNotFound) || (err == nil && acc.Balance == 0) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	id := derive("wal", a[:])
	return &object{id: id, typ: "0x2::coin::Coin<" + s.WALType() + ">", owner: addrOwner(a), address: a, bcs: coinBCS(id, acc.Balance)}, nil
}

func (s *Sim) capOf(n *chainlink.Node, lastSync uint32) *object {
	id := derive("cap", n.ID[:])
	c := &sui.StorageNodeCap{ID: id, NodeID: n.ID, LastEpochSyncDone: lastSync}
	return &object{id: id, typ: s.typ("storage_node", "StorageNodeCap"), owner: addrOwner(n.Owner), address: n.Owner, bcs: c.Marshal()}
}

// stakedWals are a staker's StakedWal objects with node: the active stake
// and one per pending withdrawal.
type stakedWal struct {
	obj       *object
	node      Address
	principal uint64
	staked    bool
}

func (s *Sim) stakedWalsOf(n *chainlink.Node, staker Address) []stakedWal {
	var out []stakedWal
	if amt := n.Stakers[staker.String()]; amt > 0 {
		id := derive("staked", staker[:], n.ID[:])
		sw := &sui.StakedWal{ID: id, NodeID: n.ID, Principal: amt, ActivationEpoch: n.RegisteredEpoch}
		out = append(out, stakedWal{&object{id: id, typ: s.typ("staked_wal", "StakedWal"), owner: addrOwner(staker), address: staker, bcs: sw.Marshal()}, n.ID, amt, true})
	}
	for i, w := range n.Withdrawals {
		if w.Staker != staker {
			continue
		}
		id := derive("withdrawing", staker[:], n.ID[:], u32b(w.CreditEpoch), u32b(uint32(i)))
		sw := &sui.StakedWal{ID: id, NodeID: n.ID, Principal: w.Amount,
			State: sui.StakedWalState{Kind: sui.StakedWalWithdrawing, WithdrawEpoch: w.CreditEpoch}}
		out = append(out, stakedWal{&object{id: id, typ: s.typ("staked_wal", "StakedWal"), owner: addrOwner(staker), address: staker, bcs: sw.Marshal()}, n.ID, w.Amount, false})
	}
	return out
}

func (s *Sim) storageObj(st *chainlink.Storage) *object {
	so := &sui.Storage{ID: st.ID, StartEpoch: st.StartEpoch, EndEpoch: st.EndEpoch, StorageSize: st.Size}
	return &object{id: st.ID, typ: s.typ("storage_resource", "Storage"), owner: addrOwner(st.Owner), address: st.Owner, bcs: so.Marshal()}
}

func (s *Sim) blobObj(b *chainlink.Blob) *object {
	sb := &sui.Blob{ID: b.ObjectID, RegisteredEpoch: b.RegisteredEpoch, BlobID: b.BlobID, Size: b.Size, EncodingType: b.EncodingType,
		CertifiedEpoch: b.CertifiedEpoch, Deletable: b.Deletable,
		Storage: sui.Storage{ID: b.Storage.ID, StartEpoch: b.Storage.StartEpoch, EndEpoch: b.Storage.EndEpoch, StorageSize: b.Storage.Size}}
	return &object{id: b.ObjectID, typ: s.typ("blob", "Blob"), owner: addrOwner(b.Owner), address: b.Owner, bcs: sb.Marshal()}
}

func (s *Sim) poolObj(n *chainlink.Node, es chainlink.EpochState) (*object, error) {
	pk, err := sui.UncompressG1(n.PublicKey)
	if err != nil {
		return nil, err
	}
	addr, err := sui.FormatNodeAddress(n.PeerID, n.Addresses, n.NetworkAddress)
	if err != nil {
		addr = "" // registered around the stand-in with an address Walrus could not hold
	}
	netKey := s.netKeys[n.ID]
	if len(netKey) == 0 {
		netKey = make([]byte, sui.NetworkPublicKeySize)
	}
	p := &sui.StakingPool{ID: n.ID,
		VotingParams: sui.VotingParams{StoragePrice: es.StoragePricePerUnit, WritePrice: es.WritePricePerUnit, NodeCapacity: 1 << 40},
		NodeInfo: sui.StorageNodeInfo{Name: n.Name, NodeID: n.ID, NetworkAddress: addr, PublicKey: pk, NetworkPublicKey: netKey,
			Metadata: derive("metadata", n.ID[:])},
		ActivationEpoch: n.RegisteredEpoch, LatestEpoch: es.Epoch, WalBalance: n.Stake, NumShares: n.Stake,
		ExchangeRates:        sui.Table{ID: derive("rates", n.ID[:])},
		CommissionReceiver:   sui.Authorized{Kind: sui.AuthorizedAddress, ID: n.Owner},
		GovernanceAuthorized: sui.Authorized{Kind: sui.AuthorizedAddress, ID: n.Owner},
	}
	return &object{id: n.ID, typ: s.typ("staking_pool", "StakingPool"), owner: &pb.Owner{Kind: pb.Owner_OBJECT.Enum(),
		Address: proto.String(derive("pools").String())}, bcs: p.Marshal()}, nil
}

func (s *Sim) shared(id Address, typ string, bcs []byte) *object {
	return &object{id: id, typ: typ, owner: &pb.Owner{Kind: pb.Owner_SHARED.Enum(), Version: proto.Uint64(1)}, bcs: bcs}
}

func committeeMap(c *chainlink.Committee) sui.Committee {
	if c == nil {
		return nil
	}
	out := make(sui.Committee, len(c.Members))
	for i, m := range c.Members {
		out[i] = sui.CommitteeEntry{NodeID: m.NodeID, Shards: slices.Clone(m.Shards)}
	}
	return out
}

// inner builds SystemStateInnerV1 and StakingInnerV1 from the ledger.
func (s *Sim) inner(ctx context.Context) (*sui.SystemStateInnerV1, *sui.StakingInnerV1, error) {
	es, err := s.l.EpochState(ctx)
	if err != nil {
		return nil, nil, err
	}
	cur, err := s.l.Committee(ctx, es.Epoch)
	if err != nil && !errors.Is(err, chainlink.ErrNotFound) {
		return nil, nil, err
	}
	var prev *chainlink.Committee
	if es.Epoch > 0 {
		if prev, err = s.l.Committee(ctx, es.Epoch-1); err != nil && !errors.Is(err, chainlink.ErrNotFound) {
			return nil, nil, err
		}
	}
	nodes, err := s.l.Nodes(ctx)
	if err != nil {
		return nil, nil, err
	}
	bc := sui.BlsCommittee{NShards: uint16(es.NShards), Epoch: es.Epoch}
	var keys []*blst.P1Affine
	if cur != nil {
		for _, m := range cur.Members {
			pk, err := sui.UncompressG1(m.PublicKey)
			if err != nil {
				return nil, nil, err
			}
			bc.Members = append(bc.Members, sui.BlsCommitteeMember{PublicKey: pk, Weight: uint16(m.Weight), NodeID: m.NodeID})
			keys = append(keys, new(blst.P1Affine).Uncompress(m.PublicKey[:]))
		}
	}
	bc.TotalAggregatedKey = make([]byte, sui.G1CompressedSize)
	if len(keys) > 0 {
		var agg blst.P1Aggregate
		if agg.Aggregate(keys, false) {
			bc.TotalAggregatedKey = agg.ToAffine().Compress()
		}
	}
	sys := &sui.SystemStateInnerV1{Committee: bc, TotalCapacitySize: 1 << 50,
		StoragePricePerUnitSize: es.StoragePricePerUnit, WritePricePerUnitSize: es.WritePricePerUnit,
		FutureAccounting: sui.FutureAccountingRingBuffer{Length: es.MaxEpochsAhead},
		DenyListSizes:    derive("denylist")}
	for i := range es.MaxEpochsAhead {
		sys.FutureAccounting.RingBuffer = append(sys.FutureAccounting.RingBuffer, sui.FutureAccounting{Epoch: es.Epoch + i})
	}
	st := &sui.StakingInnerV1{NShards: uint16(es.NShards), EpochDuration: uint64(max(es.DurationMs, 0)),
		Pools: sui.Table{ID: derive("pools"), Size: uint64(len(nodes))}, Epoch: es.Epoch, ActiveSet: derive("active"),
		Committee: committeeMap(cur), PreviousCommittee: committeeMap(prev), NextEpochPublicKeys: derive("nextkeys")}
	if cur == nil {
		st.Committee = sui.Committee{}
	}
	if prev == nil {
		st.PreviousCommittee = sui.Committee{}
	}
	if es.Phase == chainlink.PhaseChangeSync {
		st.EpochState = sui.EpochState{Kind: sui.EpochStateSync, Weight: uint16(es.SyncDoneWeight)}
	} else {
		st.EpochState = sui.EpochState{Kind: sui.EpochStateDone, Timestamp: uint64(max(es.StartUnixMs, 0))}
	}
	return sys, st, nil
}

// objectByID synthesizes an object; chainlink.ErrNotFound if none.
func (s *Sim) objectByID(ctx context.Context, id Address) (*object, error) {
	switch id {
	case s.system:
		return s.shared(id, s.typ("system", "System"), (&sui.System{ID: id, Version: 1, PackageID: s.pkg}).Marshal()), nil
	case s.staking:
		st := sui.Staking{ID: id, Version: 1, PackageID: s.pkg}
		return s.shared(id, s.typ("staking", "Staking"), st.Marshal()), nil
	case sui.VersionedFieldID(s.system, 1):
		sys, _, err := s.inner(ctx)
		if err != nil {
			return nil, err
		}
		b := sui.MarshalSystemStateField(&sui.Field[sui.SystemStateInnerV1]{ID: id, Name: 1, Value: *sys})
		return &object{id: id, typ: "0x2::dynamic_field::Field<u64, " + s.typ("system_state_inner", "SystemStateInnerV1") + ">",
			owner: &pb.Owner{Kind: pb.Owner_OBJECT.Enum(), Address: proto.String(s.system.String())}, bcs: b}, nil
	case sui.VersionedFieldID(s.staking, 1):
		_, st, err := s.inner(ctx)
		if err != nil {
			return nil, err
		}
		b := sui.MarshalStakingField(&sui.Field[sui.StakingInnerV1]{ID: id, Name: 1, Value: *st})
		return &object{id: id, typ: "0x2::dynamic_field::Field<u64, " + s.typ("staking_inner", "StakingInnerV1") + ">",
			owner: &pb.Owner{Kind: pb.Owner_OBJECT.Enum(), Address: proto.String(s.staking.String())}, bcs: b}, nil
	}
	if st := s.storages[id]; st != nil {
		return s.storageObj(st), nil
	}
	if n, err := s.l.Node(ctx, id); err == nil {
		es, err := s.l.EpochState(ctx)
		if err != nil {
			return nil, err
		}
		return s.poolObj(&n, es)
	}
	if b, err := s.l.Blob(ctx, id); err == nil {
		return s.blobObj(&b), nil
	}
	return nil, fmt.Errorf("%w: object %s", chainlink.ErrNotFound, id)
}

// owned lists the objects of typ an address owns ("" for all types).
func (s *Sim) owned(ctx context.Context, a Address, typ string) ([]*object, error) {
	var out []*object
	want := func(t string) bool { return typ == "" || typ == t }
	if want("0x2::coin::Coin<0x2::sui::SUI>") {
		out = append(out, s.gasCoin(a))
	}
	if want("0x2::coin::Coin<" + s.WALType() + ">") {
		w, err := s.walCoin(ctx, a)
		if err != nil {
			return nil, err
		}
		if w != nil {
			out = append(out, w)
		}
	}
	if want(s.typ("blob", "Blob")) {
		bs, err := s.l.OwnedBlobs(ctx, a)
		if err != nil {
			return nil, err
		}
		for i := range bs {
			out = append(out, s.blobObj(&bs[i]))
		}
	}
	if want(s.typ("storage_resource", "Storage")) {
		var ids []Address
		for id, st := range s.storages {
			if st.Owner == a {
				ids = append(ids, id)
			}
		}
		slices.SortFunc(ids, Address.Compare)
		for _, id := range ids {
			out = append(out, s.storageObj(s.storages[id]))
		}
	}
	if want(s.typ("storage_node", "StorageNodeCap")) || want(s.typ("staked_wal", "StakedWal")) {
		nodes, err := s.l.Nodes(ctx)
		if err != nil {
			return nil, err
		}
		for i := range nodes {
			n := &nodes[i]
			if n.Owner == a && want(s.typ("storage_node", "StorageNodeCap")) {
				out = append(out, s.capOf(n, 0))
			}
			if want(s.typ("staked_wal", "StakedWal")) {
				for _, sw := range s.stakedWalsOf(n, a) {
					out = append(out, sw.obj)
				}
			}
		}
	}
	return out, nil
}
