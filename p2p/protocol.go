package p2p

import (
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/protocol"
)

// Request names. Each names one stream protocol
// /floe/<network>/<name>/1 (see ProtocolID).
const (
	NameGetMetadata        = "get-metadata"
	NamePutMetadata        = "put-metadata"
	NameGetSlivers         = "get-slivers"
	NamePutSlivers         = "put-slivers"
	NameGetConfirmation    = "get-confirmation"
	NameGetRecoverySymbols = "get-recovery-symbols"
	// NameGetRecoveryBatch asks for the symbols towards several slivers
	// of one type at once (RecoveryBatchRequest).
	NameGetRecoveryBatch = "get-recovery-batch"
	NameSyncShard        = "sync-shard"
	NameBlobStatus       = "blob-status"
	NameNodeStatus       = "node-status"
)

// protocolVersion is the version suffix of every stream protocol ID.
const protocolVersion = "1"

// requestNames lists every request name, in a stable order.
var requestNames = [...]string{
	NameGetMetadata, NamePutMetadata, NameGetSlivers, NamePutSlivers,
	NameGetConfirmation, NameGetRecoverySymbols, NameSyncShard, NameBlobStatus,
	NameNodeStatus, NameGetRecoveryBatch,
}

// ProtocolID returns the stream protocol ID /floe/<network>/<name>/1.
func ProtocolID(network, name string) protocol.ID {
	return protocol.ID("/floe/" + network + "/" + name + "/" + protocolVersion)
}

// ProtocolIDs returns the stream protocol IDs of every request type of a
// network.
func ProtocolIDs(network string) []protocol.ID {
	out := make([]protocol.ID, 0, len(requestNames))
	for _, n := range requestNames {
		out = append(out, ProtocolID(network, n))
	}
	return out
}

// Status is the first byte of every response (and of every per-item result):
// it tells the caller whether to use the answer, try another peer, or give up.
type Status byte

const (
	// StatusOK: the payload follows.
	StatusOK Status = 0
	// StatusNotFound: this peer does not have it; another peer may.
	StatusNotFound Status = 1
	// StatusInvalidRequest: the request is malformed or refers to something
	// impossible; asking another peer the same thing will not help.
	StatusInvalidRequest Status = 2
	// StatusRateLimited: the peer is overloaded or the caller is over its
	// quota; try another peer or later.
	StatusRateLimited Status = 3
	// StatusInternal: the peer failed; try another peer.
	StatusInternal Status = 4
	// StatusNoSpace: the peer is out of storage space (its space limit or
	// its disk's free-space reserve); retrying it will not help until its
	// operator frees or adds space.
	StatusNoSpace Status = 5
)

func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusNotFound:
		return "not found"
	case StatusInvalidRequest:
		return "invalid request"
	case StatusRateLimited:
		return "rate limited"
	case StatusInternal:
		return "internal error"
	case StatusNoSpace:
		return "out of space"
	}
	return fmt.Sprintf("status(%d)", byte(s))
}

func (s Status) valid() bool { return s <= StatusNoSpace }

// Errors returned by the client, and that a Handler returns (wrapped) to pick
// the status of its answer.
var (
	// ErrNotFound means the peer does not hold the requested data. Retry with
	// another peer.
	ErrNotFound = errors.New("p2p: not found")
	// ErrInvalidRequest means the request was malformed or impossible. Do not
	// retry the same request elsewhere.
	ErrInvalidRequest = errors.New("p2p: invalid request")
	// ErrRateLimited means the peer refused for lack of resources or quota.
	// Retry with another peer, or later.
	ErrRateLimited = errors.New("p2p: rate limited")
	// ErrInternal means the peer failed while serving. Retry with another peer.
	ErrInternal = errors.New("p2p: internal error at peer")
	// ErrFailedVerification is an ErrInvalidRequest a Handler returns for
	// data that fails verification against its commitments (a forged or
	// corrupted sliver or metadata): the server counts it against the
	// sender, where other invalid requests (a shard not held here) may be
	// honest races.
	ErrFailedVerification = fmt.Errorf("%w: data fails verification", ErrInvalidRequest)
	// ErrNoSpace means the peer is out of storage space. Retrying it will not
	// help; the data must go elsewhere or wait for its operator.
	ErrNoSpace = errors.New("p2p: peer out of storage space")
	// ErrTimeout means the peer did not answer within the deadline. Retry with
	// another peer.
	ErrTimeout = errors.New("p2p: timeout")
	// ErrProtocol means the peer sent a response that violates the protocol
	// (bad framing, oversized, unknown status). Retry with another peer and
	// consider the peer faulty.
	ErrProtocol = errors.New("p2p: protocol violation by peer")
	// ErrUnsupported means the peer does not speak the request's protocol
	// (an older version): use an older request, or another peer.
	ErrUnsupported = errors.New("p2p: protocol not supported by peer")
)

// statusOf maps a Handler error to a response status.
func statusOf(err error) Status {
	switch {
	case err == nil:
		return StatusOK
	case errors.Is(err, ErrNotFound):
		return StatusNotFound
	case errors.Is(err, ErrInvalidRequest):
		return StatusInvalidRequest
	case errors.Is(err, ErrRateLimited):
		return StatusRateLimited
	case errors.Is(err, ErrNoSpace):
		return StatusNoSpace
	}
	return StatusInternal
}

// errorOf maps a response status and the peer's message to a client error.
func errorOf(s Status, msg string) error {
	var base error
	switch s {
	case StatusOK:
		return nil
	case StatusNotFound:
		base = ErrNotFound
	case StatusInvalidRequest:
		base = ErrInvalidRequest
	case StatusRateLimited:
		base = ErrRateLimited
	case StatusNoSpace:
		base = ErrNoSpace
	default:
		base = ErrInternal
	}
	if msg == "" {
		return base
	}
	return fmt.Errorf("%w: %q", base, msg)
}
