package store

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error the Store returns for one of these conditions
// wraps the sentinel, so test with errors.Is.
var (
	// ErrNotFound: no such metadata, sliver or blob state.
	ErrNotFound = errors.New("store: not found")
	// ErrCorrupt: a stored value failed its checksum (or could not be
	// decoded). The data must not be used; the node should re-fetch it and
	// store it again, which overwrites the bad value. Use errors.As with
	// *CorruptError to learn the key.
	ErrCorrupt = errors.New("store: corrupt value")
	// ErrNoSpace: the write would take the store past its space limit.
	ErrNoSpace = errors.New("store: space limit reached")
	// ErrPendingFull: the buffer for data of not-yet-registered blobs is at
	// its byte or entry cap.
	ErrPendingFull = errors.New("store: pending buffer full")
	// ErrClosed: the Store has been closed.
	ErrClosed = errors.New("store: closed")
	// ErrBlobGone: the blob is deleted, invalid or expired; its data is not
	// accepted any more.
	ErrBlobGone = errors.New("store: blob deleted, invalid or expired")
	// ErrInvalidArgument: a pair index, shard, sliver type or shard count is
	// out of range, or a registration contradicts an earlier one.
	ErrInvalidArgument = errors.New("store: invalid argument")
)

// CorruptError says which key held a corrupt value. It wraps ErrCorrupt.
type CorruptError struct {
	Key    string
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("store: corrupt value at %s: %s", e.Key, e.Reason)
}

func (e *CorruptError) Unwrap() error { return ErrCorrupt }

func corrupt(key, reason string) error { return &CorruptError{Key: key, Reason: reason} }
