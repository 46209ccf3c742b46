package sui

import (
	"fmt"
	"slices"

	blst "github.com/supranational/blst/bindings/go"

	"floe/chainlink"
	"floe/chainlink/bls"
)

// The mapping of Walrus state onto chainlink's types (doc.go, "Mapping
// onto chainlink").

// CompressG1 turns an on-chain Element<UncompressedG1> (96 bytes) into a
// compressed min_pk public key, refusing bytes that are not a point of the
// prime-order subgroup (or are the identity).
func CompressG1(uncompressed []byte) (bls.PublicKey, error) {
	var pk bls.PublicKey
	if len(uncompressed) != G1UncompressedSize {
		return pk, fmt.Errorf("%w: %d bytes, want %d", chainlink.ErrInvalidPublicKey, len(uncompressed), G1UncompressedSize)
	}
	p := new(blst.P1Affine).Deserialize(uncompressed)
	if p == nil || !p.KeyValidate() {
		return pk, fmt.Errorf("%w: not a G1 key", chainlink.ErrInvalidPublicKey)
	}
	copy(pk[:], p.Compress())
	return pk, nil
}

// UncompressG1 is the inverse: the 96-byte form the contract stores for a
// compressed key (g1_to_uncompressed_g1(g1_from_bytes(pk))).
func UncompressG1(pk bls.PublicKey) ([]byte, error) {
	p := new(blst.P1Affine).Uncompress(pk[:])
	if p == nil || !p.KeyValidate() {
		return nil, fmt.Errorf("%w: not a G1 key", chainlink.ErrInvalidPublicKey)
	}
	return p.Serialize(), nil
}

// EpochStateOf maps the two inner states onto chainlink.EpochState.
// SyncDoneNodes is left empty: the chain does not keep it (the event
// index rebuilds it from ShardsReceived).
func EpochStateOf(sys *SystemStateInnerV1, st *StakingInnerV1) chainlink.EpochState {
	es := chainlink.EpochState{
		Epoch:               st.Epoch,
		NShards:             int(st.NShards),
		DurationMs:          int64(min(st.EpochDuration, 1<<62)),
		MaxEpochsAhead:      sys.MaxEpochsAhead(),
		StoragePricePerUnit: sys.StoragePricePerUnitSize,
		WritePricePerUnit:   sys.WritePricePerUnitSize,
	}
	switch st.EpochState.Kind {
	case EpochStateSync:
		es.Phase = chainlink.PhaseChangeSync
		es.SyncDoneWeight = int(st.EpochState.Weight)
	default:
		es.Phase = chainlink.PhaseChangeDone
		es.StartUnixMs = int64(min(st.EpochState.Timestamp, 1<<62))
	}
	return es
}

// Which committee of StakingInnerV1 an epoch names.
func committeeOf(st *StakingInnerV1, epoch uint32) (Committee, bool) {
	switch {
	case epoch == st.Epoch:
		return st.Committee, true
	case st.Epoch > 0 && epoch == st.Epoch-1:
		return st.PreviousCommittee, true
	case epoch == st.Epoch+1 && st.NextCommittee != nil:
		return *st.NextCommittee, true
	}
	return nil, false
}

// CommitteeOf builds the chainlink committee of epoch from the staking
// state (shards), the pools of its members (keys, addresses, stake) and,
// for the current epoch, the BlsCommittee of the system state, whose
// member order and weights certificates are checked against. ErrNotFound
// for an epoch the chain no longer (or does not yet) hold.
//
// Members are in node ID order (F8.7), which is the contract's order for
// both the BlsCommittee and the Committee map; a BlsCommittee in any other
// order, or whose weights are not the shard counts, is refused
// (ErrBadRequest), since certificates against it would be misread.
func CommitteeOf(st *StakingInnerV1, sys *SystemStateInnerV1, pools map[Address]*StakingPool, epoch uint32) (*chainlink.Committee, error) {
	cm, ok := committeeOf(st, epoch)
	if !ok {
		return nil, fmt.Errorf("%w: committee of epoch %d (the chain holds %d±1)", chainlink.ErrNotFound, epoch, st.Epoch)
	}
	out := &chainlink.Committee{Epoch: epoch, NShards: int(st.NShards)}
	entries := slices.Clone(cm)
	slices.SortFunc(entries, func(a, b CommitteeEntry) int { return a.NodeID.Compare(b.NodeID) })
	for i, e := range entries {
		if i > 0 && entries[i-1].NodeID == e.NodeID {
			return nil, fmt.Errorf("%w: node %s twice in the committee of epoch %d", chainlink.ErrBadRequest, e.NodeID, epoch)
		}
		pool := pools[e.NodeID]
		if pool == nil {
			return nil, fmt.Errorf("%w: no staking pool for committee member %s", chainlink.ErrNotFound, e.NodeID)
		}
		m := chainlink.Member{NodeID: e.NodeID, Shards: slices.Clone(e.Shards), Weight: len(e.Shards), Stake: pool.WalBalance}
		key := pool.NodeInfo.PublicKey
		if epoch == st.Epoch+1 && pool.NodeInfo.NextEpochPublicKey != nil {
			key = pool.NodeInfo.NextEpochPublicKey
		}
		pk, err := CompressG1(key)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", e.NodeID, err)
		}
		m.PublicKey = pk
		m.PeerID, m.Addresses, m.NetworkAddress = ParseNodeAddress(pool.NodeInfo.NetworkAddress)
		m.NetworkPublicKey = networkKeyOf(pool.NodeInfo.NetworkPublicKey)
		out.Members = append(out.Members, m)
	}
	if epoch == st.Epoch && sys != nil {
		bc := &sys.Committee
		if bc.Epoch != epoch || len(bc.Members) != len(out.Members) {
			return nil, fmt.Errorf("%w: the system's committee (epoch %d, %d members) is not the staking committee of epoch %d (%d members)",
				chainlink.ErrUnavailable, bc.Epoch, len(bc.Members), epoch, len(out.Members))
		}
		for i, bm := range bc.Members {
			m := &out.Members[i]
			if bm.NodeID != m.NodeID || int(bm.Weight) != m.Weight {
				return nil, fmt.Errorf("%w: committee member %d of epoch %d is %s with weight %d in the system, %s with %d shards in staking",
					chainlink.ErrBadRequest, i, epoch, bm.NodeID, bm.Weight, m.NodeID, m.Weight)
			}
			// The key certificates are checked against.
			pk, err := CompressG1(bm.PublicKey)
			if err != nil {
				return nil, fmt.Errorf("node %s: %w", bm.NodeID, err)
			}
			m.PublicKey = pk
		}
	}
	return out, nil
}

// NodeOf maps a staking pool onto chainlink.Node. Owner is the address
// the caller knows holds the StorageNodeCap (the chain does not link a
// pool to it); Stakers stays empty (stake lives in StakedWal objects of
// the stakers).
func NodeOf(p *StakingPool, owner Address) (chainlink.Node, error) {
	pk, err := CompressG1(p.NodeInfo.PublicKey)
	if err != nil {
		return chainlink.Node{}, fmt.Errorf("node %s: %w", p.ID, err)
	}
	n := chainlink.Node{
		ID:              p.ID,
		Owner:           owner,
		Name:            p.NodeInfo.Name,
		PublicKey:       pk,
		Stake:           p.WalBalance,
		RegisteredEpoch: p.ActivationEpoch,
	}
	n.PeerID, n.Addresses, n.NetworkAddress = ParseNodeAddress(p.NodeInfo.NetworkAddress)
	n.NetworkPublicKey = networkKeyOf(p.NodeInfo.NetworkPublicKey)
	return n, nil
}

// networkKeyOf is a node's on-chain network_public_key when it is a
// compressed P-256 point (the contract checks only its length), else nil:
// no client could pin it.
func networkKeyOf(b []byte) []byte {
	if _, err := ParseNetworkPublicKey(b); err != nil {
		return nil
	}
	return slices.Clone(b)
}

// BlobOf maps a Blob object onto chainlink.Blob.
func BlobOf(b *Blob, owner Address) chainlink.Blob {
	out := chainlink.Blob{
		ObjectID:        b.ID,
		Owner:           owner,
		RegisteredEpoch: b.RegisteredEpoch,
		BlobID:          b.BlobID,
		Size:            b.Size,
		EncodingType:    b.EncodingType,
		Storage:         StorageOf(&b.Storage, owner),
		Deletable:       b.Deletable,
	}
	if b.CertifiedEpoch != nil {
		e := *b.CertifiedEpoch
		out.CertifiedEpoch = &e
	}
	return out
}

// StorageOf maps a Storage object onto chainlink.Storage.
func StorageOf(s *Storage, owner Address) chainlink.Storage {
	return chainlink.Storage{ID: s.ID, Owner: owner, StartEpoch: s.StartEpoch, EndEpoch: s.EndEpoch, Size: s.StorageSize}
}

// WithdrawalOf maps a withdrawing StakedWal onto a pending Withdrawal.
func WithdrawalOf(s *StakedWal, staker Address) (chainlink.Withdrawal, bool) {
	if s.State.Kind != StakedWalWithdrawing {
		return chainlink.Withdrawal{}, false
	}
	return chainlink.Withdrawal{Staker: staker, Amount: s.Principal, CreditEpoch: s.State.WithdrawEpoch}, true
}
