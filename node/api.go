package node

import (
	"errors"
	"fmt"
	"time"

	"floe/chainlink"
	"floe/codec"
)

// Errors of the client roles. Callers (the CLI, the gateway) decide with
// errors.Is: whether to answer 404, 503, 403 or retry.
var (
	// ErrBlobNotFound: the chain knows no live, certified object of the
	// blob ID (or a quorum of nodes answered not-found).
	ErrBlobNotFound = errors.New("node: blob not found")
	// ErrBlobInvalid: the blob ID was proven inconsistently encoded.
	ErrBlobInvalid = errors.New("node: blob marked invalid")
	// ErrUnavailable: not enough nodes answered with valid data to
	// decode the blob, or to gather a quorum of confirmations.
	ErrUnavailable = errors.New("node: not enough nodes answered")
	// ErrTooLarge: the blob exceeds the protocol's (or the caller's)
	// maximum size.
	ErrTooLarge = errors.New("node: blob too large")
	// ErrChain: the chain (ledger) could not be reached or refused.
	ErrChain = errors.New("node: chain unavailable")
	// ErrNoCommittee: the current epoch has no committee (no nodes).
	ErrNoCommittee = errors.New("node: empty committee")
	// ErrInconsistent: the decoded blob failed the consistency check.
	ErrInconsistent = errors.New("node: blob inconsistently encoded")
	// ErrNoSpace: storage nodes refused the data for lack of space (their
	// space limit or free-disk reserve); retrying soon will not help.
	ErrNoSpace = errors.New("node: storage nodes out of space")
)

// InterruptedStoreError is a store that stopped (its context ended) after
// the blob was registered: the registration stays, and storing the same
// bytes again from the same account finishes it without paying again.
type InterruptedStoreError struct {
	BlobID   codec.BlobID
	ObjectID chainlink.ID
	Err      error // the context's error
}

func (e *InterruptedStoreError) Error() string { return fmt.Sprintf("%v: %s", e.Err, e.Left()) }

// Left says what the interrupted store left behind and how to finish it.
func (e *InterruptedStoreError) Left() string {
	return fmt.Sprintf("blob %s is registered (object %s) but not certified; storing the same bytes again finishes it without paying again",
		e.BlobID, e.ObjectID)
}

func (e *InterruptedStoreError) Unwrap() error { return e.Err }

// StoreOptions tune one store.
type StoreOptions struct {
	// Epochs is the storage period in epochs from the current one
	// (default 1).
	Epochs uint32
	// Deletable registers a deletable blob object.
	Deletable bool
	// Force stores a new object even if the blob is already certified.
	Force bool
	// SendObjectTo, if set, is recorded as the owner of the new blob
	// object instead of the client's account.
	SendObjectTo chainlink.ID
	// Progress, if set, is called as the store advances (from one
	// goroutine at a time).
	Progress func(Progress)
	// MemoryBudget bounds the sliver bytes a store loads and has in flight
	// at once, over all members (default DefaultStoreMemoryBudget). With
	// StoreFrom it bounds the store's memory, with the encoder's scratch;
	// Store holds the whole encoding anyway.
	MemoryBudget int64
	// SpillDir is where StoreFrom writes its temporary spill file (about
	// 5 times the blob); empty means os.TempDir.
	SpillDir string
}

// DefaultStoreMemoryBudget is StoreOptions.MemoryBudget's default.
const DefaultStoreMemoryBudget = 512 << 20

// Progress reports how far a store or read has come.
//
// In the phases "encode", "distribute", "fetch" and "decode", Done and
// Total count bytes: the blob's bytes encoded (or decoded), the sliver
// bytes pushed to the committee (Total: every member's slivers; the phase
// ends once the confirmations weigh a quorum, so usually before Done
// reaches Total) and the sliver bytes fetched and verified (Total: what
// decoding needs). In "register" and "certify" they count steps: 0 of 1,
// then 1 of 1.
type Progress struct {
	Phase string // "encode", "register", "distribute", "certify", "fetch", "decode"
	Done  int64
	Total int64
}

// StoreResult describes a finished store.
type StoreResult struct {
	BlobID codec.BlobID `json:"blob_id"`
	// AlreadyCertified is true when nothing was stored because the blob
	// was already certified long enough; then Blob is zero and EndEpoch
	// is the certified end epoch.
	AlreadyCertified bool   `json:"already_certified"`
	EndEpoch         uint32 `json:"end_epoch"`
	// Blob is the new blob object (newly created, or the caller's own
	// uncertified registration when ReusedRegistration).
	Blob chainlink.Blob `json:"blob"`
	// ReusedRegistration: an earlier, interrupted store of these bytes by
	// the same account had registered the blob; this store finished it and
	// paid nothing (Cost 0).
	ReusedRegistration bool                   `json:"reused_registration,omitempty"`
	Certificate        *chainlink.Certificate `json:"certificate,omitempty"`
	Cost               uint64                 `json:"cost"`
	EncodedLength      uint64                 `json:"encoded_length"`
	EpochsAhead        uint32                 `json:"epochs_ahead"`
	// ConfirmedShards is the weight of the confirmations aggregated.
	ConfirmedShards int `json:"confirmed_shards"`
	// Failed lists nodes that did not confirm and why.
	Failed []NodeFailure `json:"failed,omitempty"`
	// Phases are the durations of encode, register, distribute (until
	// quorum), certify.
	Phases map[string]time.Duration `json:"phases"`
}

// ReadOptions tune one read.
type ReadOptions struct {
	// Check is the consistency check after decoding (default: the
	// Walrus default check).
	Check codec.ConsistencyCheck
	// Progress, if set, is called as slivers arrive.
	Progress func(Progress)
	// MemoryBudget bounds the slivers ReadTo holds at once (default
	// DefaultReadMemoryBudget). Read holds the whole blob anyway.
	MemoryBudget int64
	// SpillDir is where ReadTo writes its temporary row spill when rows
	// must be decoded; empty means os.TempDir.
	SpillDir string
	// Size, if set, is called by ReadTo with the blob's length (from its
	// verified metadata) before any byte is written; an error it returns
	// ends the read.
	Size func(uint64) error
}

// ReadResult is a read blob and what was seen on the way.
type ReadResult struct {
	// Data is the blob (Read; ReadTo writes it out instead).
	Data []byte
	// Size is the blob's length.
	Size uint64
	// Liars are nodes that served data failing verification.
	Liars []NodeFailure
	// Phases are the durations of status, metadata, slivers, decode.
	Phases map[string]time.Duration
}

// NodeFailure names a node and what went wrong with it.
type NodeFailure struct {
	NodeID chainlink.ID `json:"node_id"`
	PeerID string       `json:"peer_id"`
	Reason string       `json:"reason"`
}
