package chainlink

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"floe/chainlink/bls"
	"floe/codec"
)

// ID is a 32-byte Sui-style address or object ID: accounts, node IDs, blob
// and storage objects. Its text form is 0x-prefixed lowercase hex. IDs
// compare as big-endian u256 (F8.7).
type ID [32]byte

// String returns 0x-prefixed hex.
func (id ID) String() string { return "0x" + hex.EncodeToString(id[:]) }

// MarshalText implements encoding.TextMarshaler.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText accepts exactly 64 hex digits, with or without 0x.
func (id *ID) UnmarshalText(b []byte) error {
	p, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = p
	return nil
}

// ParseID parses 64 hex digits, optionally 0x-prefixed.
func ParseID(s string) (ID, error) {
	var id ID
	s = strings.TrimPrefix(s, "0x")
	if len(s) != 64 {
		return id, fmt.Errorf("%w: ID of %d hex digits, want 64", ErrBadRequest, len(s))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("%w: ID: %v", ErrBadRequest, err)
	}
	return id, nil
}

// Compare orders IDs as big-endian u256.
func (id ID) Compare(o ID) int { return bytes.Compare(id[:], o[:]) }

// IsZero reports whether id is all zeros.
func (id ID) IsZero() bool { return id == ID{} }

// ObjectID converts to the codec form used in messages.
func (id ID) ObjectID() codec.ObjectID { return codec.ObjectID(id) }

// Hash32 is a 32-byte hash (a blob's Merkle root) in hex text form.
type Hash32 [32]byte

// MarshalText implements encoding.TextMarshaler.
func (h Hash32) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(h[:])), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (h *Hash32) UnmarshalText(b []byte) error {
	if len(b) != 64 {
		return fmt.Errorf("%w: hash of %d hex digits, want 64", ErrBadRequest, len(b))
	}
	if _, err := hex.Decode(h[:], b); err != nil {
		return fmt.Errorf("%w: hash: %v", ErrBadRequest, err)
	}
	return nil
}

// Account is a ledger account.
type Account struct {
	Address ID     `json:"address"`
	Balance uint64 `json:"balance"`
	// Rewards is the total of storage fees paid out to this account as a
	// staker.
	Rewards uint64 `json:"rewards,omitzero"`
}

// Node is a registered storage node.
type Node struct {
	ID        ID            `json:"id"`
	Owner     ID            `json:"owner"`
	Name      string        `json:"name"`
	PeerID    string        `json:"peer_id"`
	Addresses []string      `json:"addresses"`
	PublicKey bls.PublicKey `json:"public_key"`
	// NetworkAddress is the base URL of the node's Walrus storage-node
	// REST API (https://host:port, spec F7.1), "" when it serves none.
	NetworkAddress string `json:"network_address,omitempty"`
	// NetworkPublicKey is the P-256 key (SEC 1 compressed, 33 bytes) whose
	// certificate the REST API presents: clients pin it. Empty when the
	// node serves no REST API.
	NetworkPublicKey []byte `json:"network_public_key,omitempty"`
	// Stake is the node's total stake: the owner's and its delegators'.
	Stake uint64 `json:"stake"`
	// Stakers maps staker addresses (hex) to their stake.
	Stakers         map[string]uint64 `json:"stakers,omitempty"`
	RegisteredEpoch uint32            `json:"registered_epoch"`
	// Withdrawals are stake withdrawn from the node (Unstake) and not yet
	// credited back to the stakers, ordered by credit epoch, then staker.
	// They no longer count in Stake, in committee selection or in rewards.
	Withdrawals []Withdrawal `json:"withdrawals,omitempty"`
}

// Withdrawal is stake on its way back to a staker's balance: Unstake in
// epoch e creates it with CreditEpoch e+2, and the advance to CreditEpoch
// credits it. By then the committee of e+1, selected without this stake,
// has taken over the node's shards, and the node has kept serving them
// through that change.
type Withdrawal struct {
	Staker      ID     `json:"staker"`
	Amount      uint64 `json:"amount"`
	CreditEpoch uint32 `json:"credit_epoch"`
}

// Member is a committee member, in committee order (sorted by node ID).
type Member struct {
	NodeID    ID            `json:"node_id"`
	PeerID    string        `json:"peer_id"`
	Addresses []string      `json:"addresses"`
	PublicKey bls.PublicKey `json:"public_key"`
	// NetworkAddress and NetworkPublicKey are the node's REST API URL and
	// the network key clients pin (Node's; the node's current ones, as
	// its peer ID and addresses).
	NetworkAddress   string   `json:"network_address,omitempty"`
	NetworkPublicKey []byte   `json:"network_public_key,omitempty"`
	Shards           []uint16 `json:"shards"`
	// Weight is len(Shards).
	Weight int `json:"weight"`
	// Stake is the node's stake when the committee was selected.
	Stake uint64 `json:"stake"`
}

// Committee is the committee of one epoch.
type Committee struct {
	Epoch   uint32   `json:"epoch"`
	NShards int      `json:"n_shards"`
	Members []Member `json:"members"`
}

// Verifier returns the certificate verifier of this committee: the same
// code the ledger runs (package bls).
func (c *Committee) Verifier() (*bls.Verifier, error) {
	ms := make([]bls.Member, len(c.Members))
	for i, m := range c.Members {
		ms[i] = bls.Member{PublicKey: m.PublicKey, Weight: m.Weight}
	}
	return bls.NewVerifier(ms)
}

// Index returns the member index of a node, or -1.
func (c *Committee) Index(node ID) int {
	for i, m := range c.Members {
		if m.NodeID == node {
			return i
		}
	}
	return -1
}

// ShardOwners returns, for each shard, the index of the member holding it
// (-1 if none).
func (c *Committee) ShardOwners() []int {
	out := make([]int, c.NShards)
	for i := range out {
		out[i] = -1
	}
	for i, m := range c.Members {
		for _, s := range m.Shards {
			if int(s) < len(out) {
				out[s] = i
			}
		}
	}
	return out
}

// EpochPhase is where an epoch change stands (F13.3).
type EpochPhase string

// Phases.
const (
	// PhaseChangeSync: the epoch started; nodes are pulling shards.
	PhaseChangeSync EpochPhase = "change_sync"
	// PhaseChangeDone: members holding a quorum of shards reported done
	// (or there was nothing to hand over: the first committee, or an empty
	// one).
	PhaseChangeDone EpochPhase = "change_done"
)

// EpochState describes the current epoch and the system parameters.
type EpochState struct {
	Epoch uint32     `json:"epoch"`
	Phase EpochPhase `json:"phase"`
	// StartUnixMs is when the epoch began (wall clock of the ledger).
	StartUnixMs int64 `json:"start_unix_ms"`
	// DurationMs is the configured epoch duration; 0 means epochs only
	// advance on request.
	DurationMs          int64  `json:"duration_ms"`
	NShards             int    `json:"n_shards"`
	MaxEpochsAhead      uint32 `json:"max_epochs_ahead"`
	StoragePricePerUnit uint64 `json:"storage_price_per_unit"`
	WritePricePerUnit   uint64 `json:"write_price_per_unit"`
	// SyncDoneWeight is the number of shards held, in this epoch's
	// committee, by the members that reported EpochSyncDone in this epoch;
	// the change is done when it reaches a quorum of NShards.
	SyncDoneWeight int `json:"sync_done_weight"`
	// SyncDoneNodes are those members, sorted by node ID.
	SyncDoneNodes []ID `json:"sync_done_nodes,omitempty"`
}

// Storage is a storage resource: Size bytes for epochs [StartEpoch,
// EndEpoch) (F9.1, F9.6).
type Storage struct {
	ID         ID     `json:"id"`
	Owner      ID     `json:"owner"`
	StartEpoch uint32 `json:"start_epoch"`
	EndEpoch   uint32 `json:"end_epoch"`
	Size       uint64 `json:"size"`
}

// Blob is a registered blob object (F9.1).
type Blob struct {
	ObjectID        ID           `json:"object_id"`
	Owner           ID           `json:"owner"`
	RegisteredEpoch uint32       `json:"registered_epoch"`
	BlobID          codec.BlobID `json:"blob_id"`
	Size            uint64       `json:"size"`
	EncodingType    byte         `json:"encoding_type"`
	// CertifiedEpoch is nil until certified.
	CertifiedEpoch *uint32 `json:"certified_epoch,omitempty"`
	Storage        Storage `json:"storage"`
	Deletable      bool    `json:"deletable"`
	// Attributes are the blob's attributes (Walrus's metadata dynamic
	// field, F9.1), nil when it has none. Read and change them through
	// the optional BlobAttributes interface; an implementation may leave
	// this nil.
	Attributes map[string]string `json:"attributes,omitempty"`
}

// Persistence returns the persistence the storage confirmations of this
// blob carry (F8.3).
func (b *Blob) Persistence() codec.BlobPersistence {
	if !b.Deletable {
		return codec.BlobPersistence{}
	}
	return codec.BlobPersistence{Deletable: true, ObjectID: b.ObjectID.ObjectID()}
}

// RegisterNodeRequest registers a storage node. The proof of possession
// signs codec.ProofOfPossessionMessage(current epoch, Owner, PublicKey)
// (F8.4). Stake, if non-zero, is moved from the owner's balance to the
// node as self-stake.
type RegisterNodeRequest struct {
	Owner             ID            `json:"owner"`
	Name              string        `json:"name"`
	PeerID            string        `json:"peer_id"`
	Addresses         []string      `json:"addresses"`
	PublicKey         bls.PublicKey `json:"public_key"`
	ProofOfPossession bls.Signature `json:"proof_of_possession"`
	Stake             uint64        `json:"stake"`
	// NetworkAddress and NetworkPublicKey publish the node's REST API
	// (Node.NetworkAddress, Node.NetworkPublicKey); an address needs a
	// key.
	NetworkAddress   string `json:"network_address,omitempty"`
	NetworkPublicKey []byte `json:"network_public_key,omitempty"`
}

// UpdateNodeRequest changes a node's network information (all of it: an
// empty NetworkAddress and NetworkPublicKey withdraw its REST API); only
// its owner may.
type UpdateNodeRequest struct {
	Owner            ID       `json:"owner"`
	NodeID           ID       `json:"node_id"`
	PeerID           string   `json:"peer_id"`
	Addresses        []string `json:"addresses"`
	NetworkAddress   string   `json:"network_address,omitempty"`
	NetworkPublicKey []byte   `json:"network_public_key,omitempty"`
}

// RegisterBlobRequest reserves storage (or uses StorageID) and registers a
// blob (F9.2).
type RegisterBlobRequest struct {
	// Owner owns the new blob object (and its storage once deleted).
	Owner ID `json:"owner"`
	// Payer, if set, pays for the storage and the write instead of Owner,
	// and a StorageID must be the payer's: a publisher storing for a user
	// (Walrus's send_object_to). Over HTTP the payer (else the owner)
	// signs.
	Payer        ID           `json:"payer,omitzero"`
	BlobID       codec.BlobID `json:"blob_id"`
	RootHash     Hash32       `json:"root_hash"`
	Size         uint64       `json:"size"`
	EncodingType byte         `json:"encoding_type"`
	Deletable    bool         `json:"deletable"`
	// EpochsAhead is the storage period when StorageID is zero:
	// [current, current+EpochsAhead).
	EpochsAhead uint32 `json:"epochs_ahead,omitzero"`
	// StorageID, if set, is an owned storage resource to use instead.
	StorageID ID `json:"storage_id,omitzero"`
}

// payer is who pays for (and, over HTTP, signs) the registration.
func (r *RegisterBlobRequest) payer() ID {
	if r.Payer.IsZero() {
		return r.Owner
	}
	return r.Payer
}

// RegisterBlobResult is the registered blob and what it cost.
type RegisterBlobResult struct {
	Blob        Blob   `json:"blob"`
	StorageCost uint64 `json:"storage_cost"`
	WriteCost   uint64 `json:"write_cost"`
}

// Certificate is an aggregate signature of committee members over Message
// (F8.5, F8.7).
type Certificate struct {
	Signature bls.Signature `json:"signature"`
	// Signers is the bitmap of F8.7 (bls.SignersToBitmap).
	Signers []byte `json:"signers"`
	Message []byte `json:"message"`
}

// BlobStatus summarizes every live (non-expired, non-deleted) object of a
// blob ID, as a storage node needs it.
type BlobStatus struct {
	BlobID codec.BlobID `json:"blob_id"`
	// Exists is true if any live object has this blob ID.
	Exists bool `json:"exists"`
	// Invalid is true if the blob ID was invalidated (F9.2).
	Invalid bool `json:"invalid"`
	// Permanent objects: the latest end epoch among them and whether any is
	// certified (then CertifiedEndEpoch counts it).
	PermanentEndEpoch  uint32 `json:"permanent_end_epoch,omitzero"`
	PermanentCertified bool   `json:"permanent_certified,omitzero"`
	// Deletable objects registered and certified.
	DeletableRegistered int `json:"deletable_registered,omitzero"`
	DeletableCertified  int `json:"deletable_certified,omitzero"`
	// CertifiedEndEpoch is the latest end epoch among certified objects: the
	// blob must stay available until then.
	CertifiedEndEpoch uint32 `json:"certified_end_epoch,omitzero"`
	// InitialCertifiedEpoch is the earliest certification among live
	// objects.
	InitialCertifiedEpoch *uint32 `json:"initial_certified_epoch,omitempty"`
	// Objects are the live object IDs.
	Objects []ID `json:"objects,omitempty"`
	// ExpiredEndEpoch is the latest end epoch among the objects of this
	// blob ID whose storage has ended (expired, not deleted; they are not
	// in Objects): with Exists false, non-zero means the blob was stored
	// and expired, zero that it never was (or every object was deleted).
	ExpiredEndEpoch uint32 `json:"expired_end_epoch,omitzero"`
}

// Certified reports whether some live object of the blob is certified.
func (s BlobStatus) Certified() bool { return s.CertifiedEndEpoch != 0 }

// Chain is the only door to the chain for nodes and clients. All methods are
// safe for concurrent use. Errors wrap the sentinels of this package, also
// across the HTTP client, so callers decide with errors.Is.
type Chain interface {
	// EpochState returns the current epoch and system parameters.
	EpochState(ctx context.Context) (EpochState, error)
	// Committee returns the committee of epoch (members sorted by node ID,
	// F8.7), ErrNotFound if there was none.
	Committee(ctx context.Context, epoch uint32) (*Committee, error)

	// Faucet credits a devnet account (created on first use).
	Faucet(ctx context.Context, addr ID, amount uint64) (Account, error)
	// Account returns an account, ErrNotFound if it never held funds.
	Account(ctx context.Context, addr ID) (Account, error)

	// RegisterNode registers a node with a proof of possession of its BLS
	// key (F8.4).
	RegisterNode(ctx context.Context, req RegisterNodeRequest) (Node, error)
	// UpdateNode changes a node's peer ID, addresses, REST URL and
	// network key.
	UpdateNode(ctx context.Context, req UpdateNodeRequest) (Node, error)
	// Node returns a registered node.
	Node(ctx context.Context, id ID) (Node, error)
	// Nodes returns all registered nodes sorted by ID.
	Nodes(ctx context.Context) ([]Node, error)
	// Stake moves amount from staker's balance to node's stake; it counts
	// from the next committee selection.
	Stake(ctx context.Context, staker, node ID, amount uint64) (Node, error)
	// Unstake requests the withdrawal of amount of staker's stake in node.
	// The amount leaves the node's stake at once, so the next committee
	// selection no longer counts it (a node left with no stake leaves the
	// committee at the next epoch), and it earns no more rewards. It is
	// credited to staker's balance only at the advance to epoch e+2, e
	// being the current epoch: by then the committee of e+1 has taken over
	// the node's shards while the node kept serving them. Until then it is
	// a pending Withdrawal of the returned Node. ErrInsufficientFunds if
	// staker has less than amount staked with node.
	Unstake(ctx context.Context, staker, node ID, amount uint64) (Node, error)

	// AdvanceEpoch ends the current epoch now: fees are paid out, the next
	// committee is selected, withdrawals due in the new epoch are credited
	// and EpochChangeStart is emitted. EpochChangeDone follows at once only
	// when nothing is handed over (no previous committee, or an empty new
	// one); otherwise the phase is PhaseChangeSync until EpochSyncDone
	// reports reach a quorum.
	AdvanceEpoch(ctx context.Context) (EpochState, error)
	// EpochSyncDone records that node, a member of epoch's committee, holds
	// every shard it has in that committee; a member whose shards did not
	// change reports too. Each report emits ShardsReceived and adds the
	// member's whole weight to SyncDoneWeight; EpochChangeDone is emitted
	// once, when that reaches a quorum (3w ≥ 2n+1, F13.3). ErrWrongEpoch if
	// epoch is not the current one, ErrNotInCommittee for a non-member,
	// ErrSyncDone for a second report.
	EpochSyncDone(ctx context.Context, node ID, epoch uint32) error

	// ReserveSpace buys size bytes for epochs [current, current+epochsAhead).
	ReserveSpace(ctx context.Context, owner ID, size uint64, epochsAhead uint32) (Storage, uint64, error)
	// RegisterBlob registers a blob, reserving storage unless a storage
	// resource is given.
	RegisterBlob(ctx context.Context, req RegisterBlobRequest) (RegisterBlobResult, error)
	// CertifyBlob certifies a registered blob with a quorum certificate
	// over its storage confirmation (F8.7, F9.3).
	CertifyBlob(ctx context.Context, blob ID, cert Certificate) (Blob, error)
	// InvalidateBlobID marks a blob ID invalid with a certificate of weight
	// 3·w ≥ n+1 over an InvalidBlobID message.
	InvalidateBlobID(ctx context.Context, cert Certificate) (codec.BlobID, error)
	// DeleteBlob deletes a deletable blob and returns its storage to owner.
	DeleteBlob(ctx context.Context, owner, blob ID) (Storage, error)
	// ExtendBlob extends a certified blob's storage by epochs, paid by payer.
	ExtendBlob(ctx context.Context, payer, blob ID, epochs uint32) (Blob, uint64, error)
	// Blob returns a blob object that was not deleted (an expired one
	// too: its Storage.EndEpoch is at most the current epoch).
	Blob(ctx context.Context, blob ID) (Blob, error)
	// OwnedBlobs returns the blob objects owned by owner that were not
	// deleted, expired ones included, sorted by object ID.
	OwnedBlobs(ctx context.Context, owner ID) ([]Blob, error)
	// BlobStatus summarizes the live objects of a blob ID.
	BlobStatus(ctx context.Context, id codec.BlobID) (BlobStatus, error)

	// Events returns the events after cursor, in order, blocking for new
	// ones. Cursor 0 starts at the beginning.
	Events(ctx context.Context, after uint64) (EventStream, error)
}

// EventStream is an ordered, resumable stream of events. Next blocks until
// an event arrives, ctx ends or the stream is closed. Close releases it.
type EventStream interface {
	Next(ctx context.Context) (Event, error)
	Close() error
}

func sortAssignments(a []Assignment) {
	slices.SortFunc(a, func(x, y Assignment) int { return x.Node.Compare(y.Node) })
}
