package chainlink

import (
	"errors"
	"fmt"

	"floe/chainlink/bls"
)

// Errors a caller decides on. They survive the HTTP hop: the client maps
// the server's error code back to the same sentinel.
var (
	ErrNotFound          = errors.New("chainlink: not found")
	ErrBadRequest        = errors.New("chainlink: bad request")
	ErrInsufficientFunds = errors.New("chainlink: insufficient funds")
	ErrNotOwner          = errors.New("chainlink: not the owner")
	ErrAlreadyRegistered = errors.New("chainlink: already registered")
	ErrNoStake           = errors.New("chainlink: no stake")
	ErrNoCommittee       = errors.New("chainlink: no committee in this epoch")
	ErrWrongEpoch        = errors.New("chainlink: message epoch is not the current epoch")
	ErrBlobIDMismatch    = errors.New("chainlink: blob ID does not match root hash, size and encoding type")
	ErrEncodingType      = errors.New("chainlink: unsupported encoding type")
	ErrBlobTooLarge      = errors.New("chainlink: blob too large")
	ErrStorageTooSmall   = errors.New("chainlink: storage too small for the encoded blob")
	ErrTooFarAhead       = errors.New("chainlink: storage period exceeds the maximum epochs ahead")
	ErrMessageMismatch   = errors.New("chainlink: certified message does not match the blob")
	ErrBadMessage        = errors.New("chainlink: malformed protocol message")
	ErrAlreadyCertified  = errors.New("chainlink: blob already certified")
	ErrNotCertified      = errors.New("chainlink: blob not certified")
	ErrExpired           = errors.New("chainlink: expired")
	ErrNotDeletable      = errors.New("chainlink: blob is not deletable")
	ErrSyncDone          = errors.New("chainlink: epoch sync already reported")
	ErrNotInCommittee    = errors.New("chainlink: node not in the committee")
	ErrClosed            = errors.New("chainlink: closed")
	ErrUnavailable       = errors.New("chainlink: ledger unavailable")

	// ErrUnauthorized: the HTTP service refused a request that is not
	// signed, not signed by the key that may act (the account named in the
	// request, the node itself), expired, replayed, or an admin operation
	// without the admin token. Nothing was changed.
	ErrUnauthorized = errors.New("chainlink: unauthorized")
	// ErrStaleSession: the request was signed for an earlier session of
	// the service (it restarted since); the Client fetches the new session
	// and signs again once by itself. It is an ErrUnauthorized.
	ErrStaleSession = fmt.Errorf("%w: signed for another session of the ledger service", ErrUnauthorized)
	// ErrFaucetDisabled: the service was started without its faucet
	// (`floe ledger serve` without --faucet).
	ErrFaucetDisabled = errors.New("chainlink: the ledger's faucet is disabled")
	// ErrRateLimited: too many requests (the faucet's limits per account
	// and per client address); retry later.
	ErrRateLimited = errors.New("chainlink: rate limited")
	// ErrNoKey: the Client holds no key (or admin token) for the
	// operation; nothing was sent (MissingKeyError says which key).
	ErrNoKey = errors.New("chainlink: no key to sign with")

	// Certificate errors are those of package bls, so a node verifying with
	// bls gets the same sentinels.
	ErrQuorum           = bls.ErrQuorum
	ErrInvalidSignature = bls.ErrInvalidSignature
	ErrBadBitmap        = bls.ErrBadBitmap
	ErrInvalidPublicKey = bls.ErrInvalidPublicKey
)

// errorCodes maps sentinels to stable wire codes (HTTP service).
var errorCodes = []struct {
	err    error
	code   string
	status int
}{
	{ErrNotFound, "not_found", 404},
	{ErrBadRequest, "bad_request", 400},
	{ErrInsufficientFunds, "insufficient_funds", 402},
	{ErrNotOwner, "not_owner", 403},
	{ErrAlreadyRegistered, "already_registered", 409},
	{ErrNoStake, "no_stake", 409},
	{ErrNoCommittee, "no_committee", 409},
	{ErrWrongEpoch, "wrong_epoch", 409},
	{ErrBlobIDMismatch, "blob_id_mismatch", 422},
	{ErrEncodingType, "encoding_type", 422},
	{ErrBlobTooLarge, "blob_too_large", 422},
	{ErrStorageTooSmall, "storage_too_small", 422},
	{ErrTooFarAhead, "too_far_ahead", 422},
	{ErrMessageMismatch, "message_mismatch", 422},
	{ErrBadMessage, "bad_message", 400},
	{ErrAlreadyCertified, "already_certified", 409},
	{ErrNotCertified, "not_certified", 409},
	{ErrExpired, "expired", 410},
	{ErrNotDeletable, "not_deletable", 409},
	{ErrSyncDone, "sync_done", 409},
	{ErrNotInCommittee, "not_in_committee", 409},
	{ErrQuorum, "quorum", 422},
	{ErrInvalidSignature, "invalid_signature", 422},
	{ErrBadBitmap, "bad_bitmap", 422},
	{ErrInvalidPublicKey, "invalid_public_key", 422},
	{ErrClosed, "closed", 503},
	{ErrUnavailable, "unavailable", 503},
	{ErrStaleSession, "stale_session", 401}, // before ErrUnauthorized, which it wraps
	{ErrUnauthorized, "unauthorized", 401},
	{ErrFaucetDisabled, "faucet_disabled", 403},
	{ErrRateLimited, "rate_limited", 429},
	{ErrNoKey, "no_key", 400}, // client side only; never sent
}
