package p2p

import (
	"context"

	"github.com/libp2p/go-libp2p/core/peer"

	"floe/codec"
)

// Handler is the server side of the stream protocols; node/ implements it.
// The p2p layer has already bounded and decoded the request and checked the
// caller's rate limit; the handler decides everything about storage.
//
// Errors choose the response status: wrap ErrNotFound, ErrInvalidRequest or
// ErrRateLimited to send that status; any other error is sent as an internal
// error. The error text (truncated) travels to the caller, so it must not
// leak secrets. ctx ends when the server's handler timeout passes or the
// server stops.
type Handler interface {
	// GetMetadata returns the BCS metadata of a blob (with its blob ID, as
	// codec.MarshalMetadataWithID), at most Limits.MaxMetadata bytes.
	GetMetadata(ctx context.Context, from peer.ID, id codec.BlobID) ([]byte, error)
	// PutMetadata offers the BCS metadata of a blob.
	PutMetadata(ctx context.Context, from peer.ID, id codec.BlobID, metadata []byte) error
	// GetSlivers answers each requested sliver through send, in order,
	// exactly once each, loading one at a time: send writes the item to the
	// stream (with its memory reserved) before the next is loaded, so an
	// answer never sits in memory whole. A per-item error (ErrNotFound…)
	// answers that item only; an error returned before the first send
	// answers the whole request; send's error (the peer left) must be
	// returned. Items are distinct (the decoder refuses duplicates).
	GetSlivers(ctx context.Context, from peer.ID, id codec.BlobID, items []SliverRef, send func(Result) error) error
	// PutSlivers offers slivers of one blob and returns one error (nil when
	// stored) per sliver, in order. One stream may produce several calls with
	// consecutive batches when the slivers are large.
	PutSlivers(ctx context.Context, from peer.ID, id codec.BlobID, slivers []Sliver) ([]error, error)
	// GetConfirmation returns the node's signed storage confirmation.
	GetConfirmation(ctx context.Context, from peer.ID, req ConfirmationRequest) (codec.SignedMessage, error)
	// GetRecoverySymbols returns one Result (a BCS recovery symbol) per
	// source pair of req, in order.
	GetRecoverySymbols(ctx context.Context, from peer.ID, req RecoveryRequest) ([]Result, error)
	// GetRecoveryBatch returns req.Symbols() Results, source-major (for
	// each source pair, one per target pair, in order).
	GetRecoveryBatch(ctx context.Context, from peer.ID, req RecoveryBatchRequest) ([]Result, error)
	// SyncShard returns up to req.Request.Count slivers of the shard from
	// req.Request.Start on, in blob-ID order, within Limits.MaxSyncBytes in
	// total. The p2p layer has parsed req; authenticating it (the BLS
	// signature, the requester's assignment) is the handler's.
	SyncShard(ctx context.Context, from peer.ID, req SyncRequest) (SyncBatch, error)
	// BlobStatus returns the node's view of a blob's status, opaque to p2p
	// (the BCS BlobStatus of the spec), at most Limits.MaxBlobStatus bytes.
	BlobStatus(ctx context.Context, from peer.ID, id codec.BlobID) ([]byte, error)
	// NodeStatus returns the node's own status (epoch, shards, migration
	// and recovery progress), opaque to p2p, at most Limits.MaxNodeStatus
	// bytes.
	NodeStatus(ctx context.Context, from peer.ID) ([]byte, error)
}

// NotFoundHandler answers every request with ErrNotFound and refuses every
// put. Embed it to implement part of Handler.
type NotFoundHandler struct{}

var _ Handler = NotFoundHandler{}

func (NotFoundHandler) GetMetadata(context.Context, peer.ID, codec.BlobID) ([]byte, error) {
	return nil, ErrNotFound
}

func (NotFoundHandler) PutMetadata(context.Context, peer.ID, codec.BlobID, []byte) error {
	return ErrInvalidRequest
}

func (NotFoundHandler) GetSlivers(context.Context, peer.ID, codec.BlobID, []SliverRef, func(Result) error) error {
	return ErrNotFound
}

func (NotFoundHandler) PutSlivers(context.Context, peer.ID, codec.BlobID, []Sliver) ([]error, error) {
	return nil, ErrInvalidRequest
}

func (NotFoundHandler) GetConfirmation(context.Context, peer.ID, ConfirmationRequest) (codec.SignedMessage, error) {
	return codec.SignedMessage{}, ErrNotFound
}

func (NotFoundHandler) GetRecoverySymbols(context.Context, peer.ID, RecoveryRequest) ([]Result, error) {
	return nil, ErrNotFound
}

func (NotFoundHandler) GetRecoveryBatch(context.Context, peer.ID, RecoveryBatchRequest) ([]Result, error) {
	return nil, ErrNotFound
}

func (NotFoundHandler) SyncShard(context.Context, peer.ID, SyncRequest) (SyncBatch, error) {
	return SyncBatch{}, ErrNotFound
}

func (NotFoundHandler) NodeStatus(context.Context, peer.ID) ([]byte, error) {
	return nil, ErrNotFound
}

func (NotFoundHandler) BlobStatus(context.Context, peer.ID, codec.BlobID) ([]byte, error) {
	return nil, ErrNotFound
}
