package chainlink

import "floe/codec"

// EventType names an event kind (F9.5).
type EventType string

// Event kinds.
const (
	EventBlobRegistered   EventType = "BlobRegistered"
	EventBlobCertified    EventType = "BlobCertified"
	EventBlobDeleted      EventType = "BlobDeleted"
	EventInvalidBlobID    EventType = "InvalidBlobID"
	EventEpochChangeStart EventType = "EpochChangeStart"
	EventEpochChangeDone  EventType = "EpochChangeDone"
	EventShardsReceived   EventType = "ShardsReceived"
	EventNodeRegistered   EventType = "NodeRegistered"
)

// Event is one ledger event. Cursor is its position in the log: 1, 2, 3, …
// A stream resumed after cursor c delivers c+1 next. Which fields are set
// depends on Type, following F9.5:
//
//	BlobRegistered   Epoch BlobID Size EncodingType EndEpoch Deletable ObjectID
//	BlobCertified    Epoch BlobID EndEpoch Deletable ObjectID IsExtension
//	BlobDeleted      Epoch BlobID EndEpoch ObjectID WasCertified
//	InvalidBlobID    Epoch BlobID
//	EpochChangeStart Epoch
//	EpochChangeDone  Epoch
//	ShardsReceived   Epoch NodeID Shards
//	NodeRegistered   Epoch NodeID
type Event struct {
	Cursor       uint64       `json:"cursor"`
	Type         EventType    `json:"type"`
	Epoch        uint32       `json:"epoch"`
	BlobID       codec.BlobID `json:"blob_id,omitzero"`
	Size         uint64       `json:"size,omitzero"`
	EncodingType byte         `json:"encoding_type,omitzero"`
	EndEpoch     uint32       `json:"end_epoch,omitzero"`
	Deletable    bool         `json:"deletable,omitzero"`
	ObjectID     ID           `json:"object_id,omitzero"`
	IsExtension  bool         `json:"is_extension,omitzero"`
	WasCertified bool         `json:"was_certified,omitzero"`
	NodeID       ID           `json:"node_id,omitzero"`
	Shards       []uint16     `json:"shards,omitempty"`
}
