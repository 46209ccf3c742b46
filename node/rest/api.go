package rest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"floe/codec"
	"floe/p2p"
)

// Backend is what the REST server asks of the storage node. It embeds the
// p2p.Handler the libp2p protocols use, so both transports apply one set of
// rules; the other methods are the few things the REST API has that the
// stream protocols lack (node/rest_node.go implements them).
//
// Errors wrap the p2p sentinels (ErrNotFound, ErrInvalidRequest,
// ErrFailedVerification, ErrRateLimited, ErrNoSpace) or the sentinels of
// this package; the server maps them to the statuses of F7.7.
type Backend interface {
	p2p.Handler
	// Params are the committee's encoding parameters.
	Params() codec.Params
	// Epoch is the epoch the node has applied.
	Epoch() uint32
	// Shards are the shards the node holds in its current epoch.
	Shards() []int
	// ServesShard reports whether the node serves reads of shard (held, or
	// lost and still retained).
	ServesShard(shard int) bool
	// StoreMetadata stores the metadata raw (BCS, with its blob ID, as
	// p2p.Handler.PutMetadata takes it). Without pending, a blob the node
	// has not seen registered is refused with ErrNotRegistered.
	StoreMetadata(ctx context.Context, from peer.ID, id codec.BlobID, raw []byte, pending bool) (Stored, error)
	// StoreSliver stores one sliver (s.Data is BCS SliverData), as
	// StoreMetadata.
	StoreSliver(ctx context.Context, from peer.ID, id codec.BlobID, s p2p.Sliver, pending bool) (Stored, error)
	// MetadataStatus and SliverStatus say whether the node stores the
	// metadata or sliver, holds it in its pending buffer, or has neither.
	MetadataStatus(ctx context.Context, id codec.BlobID) (StoredStatus, error)
	SliverStatus(ctx context.Context, id codec.BlobID, ref p2p.SliverRef) (StoredStatus, error)
	// Confirm signs a storage confirmation (F7.6) as
	// p2p.Handler.GetConfirmation does, but answers at once: a blob not
	// registered (after waiting up to wait for its registration) is
	// ErrNotRegistered, one with slivers missing ErrMissingSlivers.
	Confirm(ctx context.Context, from peer.ID, req p2p.ConfirmationRequest, wait time.Duration) (codec.SignedMessage, error)
	// DecodingSymbols returns, for each target sliver index of type target
	// (each below the source-symbol count of that type), the decoding
	// symbols the node's held slivers of the other type give for it;
	// ErrAnswerTooLarge if they would exceed maxBytes.
	DecodingSymbols(ctx context.Context, id codec.BlobID, target codec.SliverType, targets []int, maxBytes int) (map[int][]DecodingSymbol, error)
	// AttestInconsistency verifies an inconsistency proof against the
	// blob's stored metadata and signs an InvalidBlobID message (F8.4).
	AttestInconsistency(ctx context.Context, id codec.BlobID, proof *codec.InconsistencyProof) (codec.SignedMessage, error)
	// WalrusBlobStatus is the blob's status as Walrus reports it (F7.9).
	WalrusBlobStatus(ctx context.Context, id codec.BlobID) (BlobStatus, error)
	// Health is the node's health report (/v1/health).
	Health(ctx context.Context, detailed bool) (Health, error)
}

// Errors a Backend returns (wrapped) for what the p2p sentinels do not say.
var (
	// ErrNotRegistered: the node has not seen the blob registered (or it
	// expired); FAILED_PRECONDITION NOT_REGISTERED. Walrus clients retry
	// metadata uploads on it.
	ErrNotRegistered = errors.New("rest: the blob has not been registered or has already expired")
	// ErrMissingSlivers: a confirmation was asked for before every sliver
	// of the node's shards arrived; FAILED_PRECONDITION MISSING_SLIVERS.
	ErrMissingSlivers = errors.New("rest: the required slivers are not all stored")
	// ErrMetadataMissing: a sliver or an inconsistency proof came before
	// the blob's metadata; FAILED_PRECONDITION METADATA_NOT_FOUND.
	ErrMetadataMissing = errors.New("rest: blob metadata is required but missing")
	// ErrBlobInvalid: the blob was marked invalid; FAILED_PRECONDITION
	// INVALID_BLOB.
	ErrBlobInvalid = errors.New("rest: the blob is marked invalid")
	// ErrShardNotAssigned: the sliver's shard is not held here;
	// FAILED_PRECONDITION SHARD_NOT_ASSIGNED.
	ErrShardNotAssigned = errors.New("rest: the shard is not assigned to this node")
	// ErrIndexMismatch: a sliver's index does not belong to the pair of
	// the URL (F7.4); INVALID_ARGUMENT SLIVER_INDEX_MISMATCH.
	ErrIndexMismatch = errors.New("rest: sliver index inconsistent with the sliver pair index")
	// ErrInvalidProof: the inconsistency proof does not prove anything;
	// INVALID_ARGUMENT INVALID_PROOF.
	ErrInvalidProof = errors.New("rest: invalid inconsistency proof")
)

// CallerID is the identity a REST caller has in p2p.Handler calls: not a
// libp2p peer ID (it decodes as none, and no connection has it), one per
// client IP address, so the handler's per-caller quotas (the pending
// buffer's chain lookups and bytes) apply per address. p2p's gating and
// offence counting never see it: REST keeps its own per-IP limits.
func CallerID(ip netip.Addr) peer.ID { return peer.ID("rest/" + ip.Unmap().String()) }

// Stored is the outcome of a PUT: 201, 202 or 200 (F7.2).
type Stored int

const (
	// StoredNew: stored now (201 Created).
	StoredNew Stored = iota
	// StoredBuffered: buffered until the blob's registration is seen
	// (202 Accepted; only with ?pending=true).
	StoredBuffered
	// StoredAlready: it was stored already (200 OK).
	StoredAlready
)

// StoredStatus is Walrus's StoredOnNodeStatus: "nonexistent", "buffered"
// or "stored" (serde camelCase of the Rust enum).
type StoredStatus string

const (
	StatusNonexistent StoredStatus = "nonexistent"
	StatusBuffered    StoredStatus = "buffered"
	StatusStored      StoredStatus = "stored"
)

// DecodingSymbol is Walrus's EitherDecodingSymbol: a symbol towards a
// sliver of type Target, taken from the source sliver of the other type
// with index Index (F7.10).
type DecodingSymbol struct {
	Target codec.SliverType
	Index  int
	Data   []byte
}

// EventID names the chain event behind a status (F7.9). floe's ledger has
// no Sui transactions: its nodes answer a stable digest derived from the
// blob ID and the status (see doc.go).
type EventID struct {
	TxDigest string `json:"txDigest"`
	EventSeq string `json:"eventSeq"`
}

// BlobStatus is Walrus's BlobStatus (F7.9). Kind is "nonexistent",
// "invalid", "permanent" or "deletable".
type BlobStatus struct {
	Kind string
	// Event is the invalidation event (invalid) or the status event
	// (permanent).
	Event EventID
	// Permanent only.
	EndEpoch    uint32
	IsCertified bool
	// Permanent and deletable.
	DeletableTotal        uint32
	DeletableCertified    uint32
	InitialCertifiedEpoch *uint32
}

// Blob status kinds.
const (
	BlobNonexistent = "nonexistent"
	BlobInvalid     = "invalid"
	BlobPermanent   = "permanent"
	BlobDeletable   = "deletable"
)

type deletableCounts struct {
	Total     uint32 `json:"count_deletable_total"`
	Certified uint32 `json:"count_deletable_certified"`
}

type permanentJSON struct {
	EndEpoch              uint32          `json:"endEpoch"`
	IsCertified           bool            `json:"isCertified"`
	StatusEvent           EventID         `json:"statusEvent"`
	DeletableCounts       deletableCounts `json:"deletableCounts"`
	InitialCertifiedEpoch *uint32         `json:"initialCertifiedEpoch"`
}

type deletableJSON struct {
	InitialCertifiedEpoch *uint32         `json:"initialCertifiedEpoch"`
	DeletableCounts       deletableCounts `json:"deletableCounts"`
}

type invalidJSON struct {
	Event EventID `json:"event"`
}

// MarshalJSON writes the serde form of F7.9.
func (s BlobStatus) MarshalJSON() ([]byte, error) {
	dc := deletableCounts{s.DeletableTotal, s.DeletableCertified}
	switch s.Kind {
	case BlobNonexistent, "":
		return json.Marshal(BlobNonexistent)
	case BlobInvalid:
		return json.Marshal(map[string]invalidJSON{BlobInvalid: {s.Event}})
	case BlobPermanent:
		return json.Marshal(map[string]permanentJSON{BlobPermanent: {
			EndEpoch: s.EndEpoch, IsCertified: s.IsCertified, StatusEvent: s.Event,
			DeletableCounts: dc, InitialCertifiedEpoch: s.InitialCertifiedEpoch,
		}})
	case BlobDeletable:
		return json.Marshal(map[string]deletableJSON{BlobDeletable: {InitialCertifiedEpoch: s.InitialCertifiedEpoch, DeletableCounts: dc}})
	}
	return nil, fmt.Errorf("rest: blob status kind %q", s.Kind)
}

// UnmarshalJSON reads the serde form of F7.9.
func (s *BlobStatus) UnmarshalJSON(b []byte) error {
	var kind string
	if json.Unmarshal(b, &kind) == nil {
		if kind != BlobNonexistent {
			return fmt.Errorf("rest: blob status %q", kind)
		}
		*s = BlobStatus{Kind: BlobNonexistent}
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	if len(m) != 1 {
		return fmt.Errorf("rest: blob status with %d variants", len(m))
	}
	for k, v := range m {
		switch k {
		case BlobInvalid:
			var x invalidJSON
			if err := json.Unmarshal(v, &x); err != nil {
				return err
			}
			*s = BlobStatus{Kind: k, Event: x.Event}
		case BlobPermanent:
			var x permanentJSON
			if err := json.Unmarshal(v, &x); err != nil {
				return err
			}
			*s = BlobStatus{Kind: k, Event: x.StatusEvent, EndEpoch: x.EndEpoch, IsCertified: x.IsCertified,
				DeletableTotal: x.DeletableCounts.Total, DeletableCertified: x.DeletableCounts.Certified,
				InitialCertifiedEpoch: x.InitialCertifiedEpoch}
		case BlobDeletable:
			var x deletableJSON
			if err := json.Unmarshal(v, &x); err != nil {
				return err
			}
			*s = BlobStatus{Kind: k, DeletableTotal: x.DeletableCounts.Total, DeletableCertified: x.DeletableCounts.Certified,
				InitialCertifiedEpoch: x.InitialCertifiedEpoch}
		default:
			return fmt.Errorf("rest: blob status variant %q", k)
		}
	}
	return nil
}

// Health is Walrus's ServiceHealthInfo (GET /v1/health), camelCase.
type Health struct {
	Uptime                         Uptime            `json:"uptime"`
	Epoch                          uint32            `json:"epoch"`
	PublicKey                      string            `json:"publicKey"` // base64 of the BLS public key
	NodeStatus                     string            `json:"nodeStatus"`
	EventProgress                  EventProgress     `json:"eventProgress"`
	ShardSummary                   ShardSummary      `json:"shardSummary"`
	ShardDetail                    *ShardDetail      `json:"shardDetail,omitempty"`
	LatestCheckpointSequenceNumber *uint64           `json:"latestCheckpointSequenceNumber,omitempty"`
	Floe                           *FloeHealthExtras `json:"floe,omitempty"`
}

// Uptime is a Rust Duration in serde's form.
type Uptime struct {
	Secs  uint64 `json:"secs"`
	Nanos uint32 `json:"nanos"`
}

// UptimeOf converts a duration.
func UptimeOf(d time.Duration) Uptime {
	return Uptime{Secs: uint64(d / time.Second), Nanos: uint32(d % time.Second)}
}

// EventProgress is how far the node has applied the chain's events.
type EventProgress struct {
	Persisted                 uint64  `json:"persisted"`
	Pending                   uint64  `json:"pending"`
	HighestFinishedEventIndex *uint64 `json:"highestFinishedEventIndex"`
}

// ShardSummary counts the node's shards by state.
type ShardSummary struct {
	Owned            int              `json:"owned"`
	OwnedShardStatus OwnedShardStatus `json:"ownedShardStatus"`
	ReadOnly         int              `json:"readOnly"`
}

// OwnedShardStatus counts owned shards by state.
type OwnedShardStatus struct {
	Unknown    int `json:"unknown"`
	Ready      int `json:"ready"`
	InTransfer int `json:"inTransfer"`
	InRecovery int `json:"inRecovery"`
}

// ShardDetail lists shards with their state (?detailed=true).
type ShardDetail struct {
	Owned []ShardHealth `json:"owned"`
	Other []ShardHealth `json:"other"`
}

// ShardHealth is a shard and its state: "unknown", "ready", "inTransfer",
// "inRecovery" or "readOnly".
type ShardHealth struct {
	Shard  int    `json:"shard"`
	Status string `json:"status"`
}

// FloeHealthExtras are floe's additions to the health report: how to pin
// and reach the node.
type FloeHealthExtras struct {
	NodeID           string `json:"nodeId,omitempty"`
	NetworkPublicKey string `json:"networkPublicKey,omitempty"` // base64 of the compressed P-256 key
}
