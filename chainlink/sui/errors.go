package sui

import (
	"errors"
	"fmt"
	"time"

	"floe/chainlink"
)

// Where Sui differs from chainlink.Chain (doc.go): typed errors a caller
// decides on with errors.Is. Each wraps the chainlink sentinel closest to
// it, so code written against the ledger keeps working.
var (
	// ErrNoFaucet: no faucet is configured (Sui has faucets only on
	// localnet and testnet, and they give SUI, not WAL).
	ErrNoFaucet = fmt.Errorf("%w: no Sui faucet configured (only localnet and testnet have one)", chainlink.ErrFaucetDisabled)
	// ErrEpochNotOver: the epoch cannot end yet (EpochNotOverError says
	// when it can). Retry at that time.
	ErrEpochNotOver = errors.New("sui: the epoch cannot end yet")
	// ErrNotWithdrawable: stake whose withdraw epoch has not come (or
	// that was never requested) cannot be withdrawn yet.
	ErrNotWithdrawable = errors.New("sui: stake not withdrawable yet")
	// ErrIndexBehind: the local event index has not caught up with the
	// chain, so a blob status or an event stream position it would give
	// may be stale. Retry once it has.
	ErrIndexBehind = fmt.Errorf("%w: the Walrus event index is behind the chain", chainlink.ErrUnavailable)
	// ErrNoNetworkKey: registering a node needs the 33-byte network key
	// Walrus requires, and none is configured.
	ErrNoNetworkKey = fmt.Errorf("%w: no network key (a P-256 key) configured for node registration", chainlink.ErrNoKey)
)

// EpochNotOverError says when the epoch can end: voting ends half an
// epoch after the last epoch change, the epoch a whole epoch after it.
type EpochNotOverError struct {
	Epoch uint32
	Until time.Time
}

func (e *EpochNotOverError) Error() string {
	return fmt.Sprintf("sui: epoch %d cannot end before %s", e.Epoch, e.Until.UTC().Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrEpochNotOver) true.
func (e *EpochNotOverError) Is(target error) bool { return target == ErrEpochNotOver }

// MoveAbortError is a transaction that aborted in Move. Unwrap returns the
// chainlink sentinel the abort means (MapAbort), nil for an abort this
// package does not know.
type MoveAbortError struct {
	Package  Address
	Module   string
	Function string
	Code     uint64
	sentinel error
}

func (e *MoveAbortError) Error() string {
	s := fmt.Sprintf("sui: Move abort %d in %s::%s", e.Code, e.Package, e.Module)
	if e.Function != "" {
		s += "::" + e.Function
	}
	if e.sentinel != nil {
		s += ": " + e.sentinel.Error()
	}
	return s
}

// Unwrap returns the sentinel.
func (e *MoveAbortError) Unwrap() error { return e.sentinel }

// Abort codes of the stand-in's floe_sim module.
const (
	SimAbortUnknown           = 0
	SimAbortAlreadyRegistered = 1
	SimAbortNoCommittee       = 2
	SimAbortInvalidPublicKey  = 3
)

type abortKey struct {
	framework bool // module of 0x2, else a Walrus module
	module    string
	code      uint64
}

// aborts maps abort codes of mainnet-contracts (and the Sui framework
// modules Walrus calls) onto chainlink's sentinels.
var aborts = map[abortKey]error{
	// system_state_inner.move
	{false, "system_state_inner", 0}:  chainlink.ErrBadRequest,       // EInvalidMaxEpochsAhead
	{false, "system_state_inner", 1}:  chainlink.ErrBlobTooLarge,     // EStorageExceeded: the system's capacity
	{false, "system_state_inner", 2}:  chainlink.ErrTooFarAhead,      // EInvalidEpochsAhead
	{false, "system_state_inner", 3}:  chainlink.ErrWrongEpoch,       // EInvalidIdEpoch
	{false, "system_state_inner", 8}:  chainlink.ErrNotInCommittee,   // ENotCommitteeMember
	{false, "system_state_inner", 11}: chainlink.ErrBadRequest,       // EInvalidResourceSize
	{false, "system_state_inner", 12}: chainlink.ErrWrongEpoch,       // EInvalidStartEpoch
	{false, "storage_accounting", 0}:  chainlink.ErrTooFarAhead,      // ETooFarInFuture
	{false, "encoding", 0}:            chainlink.ErrEncodingType,     // EInvalidEncodingType
	{false, "storage_resource", 0}:    chainlink.ErrBadRequest,       // EInvalidEpoch
	{false, "storage_resource", 3}:    chainlink.ErrBadRequest,       // EInvalidEpochRange
	{false, "system", 1}:              chainlink.ErrUnavailable,      // EWrongVersion: the package was upgraded
	{false, "system", 2}:              chainlink.ErrBadRequest,       // EZeroExtractSize
	{false, "blob", 0}:                chainlink.ErrNotCertified,     // ENotCertified
	{false, "blob", 1}:                chainlink.ErrNotDeletable,     // EBlobNotDeletable
	{false, "blob", 2}:                chainlink.ErrExpired,          // EResourceBounds
	{false, "blob", 3}:                chainlink.ErrStorageTooSmall,  // EResourceSize
	{false, "blob", 5}:                chainlink.ErrAlreadyCertified, // EAlreadyCertified
	{false, "blob", 6}:                chainlink.ErrMessageMismatch,  // EInvalidBlobId (certify; see MapAbort for blob::new)
	{false, "blob", 9}:                chainlink.ErrMessageMismatch,  // EInvalidBlobPersistenceType
	{false, "blob", 10}:               chainlink.ErrMessageMismatch,  // EInvalidBlobObject
	// bls_aggregate.move
	{false, "bls_aggregate", 0}: chainlink.ErrBadBitmap,        // EInvalidBitmap
	{false, "bls_aggregate", 1}: chainlink.ErrInvalidSignature, // ESigVerification
	{false, "bls_aggregate", 2}: chainlink.ErrQuorum,           // ENotEnoughStake
	{false, "bls_aggregate", 3}: chainlink.ErrBadRequest,       // EIncorrectCommittee
	// messages.move
	{false, "messages", 0}: chainlink.ErrBadMessage,      // EIncorrectAppId
	{false, "messages", 1}: chainlink.ErrWrongEpoch,      // EIncorrectEpoch
	{false, "messages", 2}: chainlink.ErrBadMessage,      // EInvalidMsgType
	{false, "messages", 3}: chainlink.ErrBadMessage,      // EIncorrectIntentVersion
	{false, "messages", 4}: chainlink.ErrBadMessage,      // EInvalidBlobPersistenceType
	{false, "messages", 5}: chainlink.ErrMessageMismatch, // ENotDeletable
	{false, "messages", 6}: chainlink.ErrBadMessage,      // EInvalidKeyLength
	// staking_inner.move
	{false, "staking_inner", 0}: ErrEpochNotOver,             // EWrongEpochState
	{false, "staking_inner", 1}: chainlink.ErrWrongEpoch,     // EInvalidSyncEpoch
	{false, "staking_inner", 2}: chainlink.ErrSyncDone,       // EDuplicateSyncDone
	{false, "staking_inner", 3}: chainlink.ErrNoStake,        // ENoStake
	{false, "staking_inner", 4}: chainlink.ErrNotInCommittee, // ENotInCommittee
	{false, "staking_inner", 8}: chainlink.ErrNotFound,       // EPoolNotFound
	// staking_pool.move
	{false, "staking_pool", 4}:  chainlink.ErrInvalidSignature, // EInvalidProofOfPossession
	{false, "staking_pool", 5}:  chainlink.ErrBadRequest,       // EPoolAlreadyWithdrawing
	{false, "staking_pool", 6}:  chainlink.ErrBadRequest,       // EPoolIsNotActive
	{false, "staking_pool", 7}:  chainlink.ErrNoStake,          // EZeroStake
	{false, "staking_pool", 8}:  chainlink.ErrBadRequest,       // ENotStaked
	{false, "staking_pool", 9}:  chainlink.ErrBadRequest,       // EIncorrectPoolId
	{false, "staking_pool", 10}: ErrNotWithdrawable,            // ENotWithdrawing
	{false, "staking_pool", 11}: ErrNotWithdrawable,            // EWithdrawEpochNotReached
	{false, "staking_pool", 12}: ErrNotWithdrawable,            // EActivationEpochNotReached
	{false, "staking_pool", 13}: chainlink.ErrBadRequest,       // EWithdrawDirectly
	{false, "staking_pool", 14}: chainlink.ErrBadRequest,       // EIncorrectCommissionRate
	{false, "staking_pool", 15}: chainlink.ErrNotOwner,         // EAuthorizationFailure
	{false, "staking_pool", 16}: chainlink.ErrBadRequest,       // EInvalidNetworkAddressLength
	{false, "staking_pool", 17}: chainlink.ErrBadRequest,       // EInvalidNameLength
	{false, "staking_pool", 18}: chainlink.ErrBadRequest,       // EZeroShares
	// staked_wal.move, storage_node.move
	{false, "staked_wal", 0}:   ErrNotWithdrawable,             // ENotWithdrawing
	{false, "staked_wal", 2}:   chainlink.ErrInsufficientFunds, // EInvalidAmount (split beyond the principal)
	{false, "staked_wal", 6}:   chainlink.ErrBadRequest,        // EAlreadyWithdrawing
	{false, "staked_wal", 7}:   chainlink.ErrBadRequest,        // EStakeBelowThreshold
	{false, "storage_node", 0}: chainlink.ErrBadRequest,        // EInvalidNetworkPublicKey
	// floe_sim: the loopback stand-in's (chainlink/sui/suisim) aborts for
	// ledger rules the Walrus contracts do not have. No Walrus deployment
	// has this module, so on a real network these never match.
	{false, "floe_sim", SimAbortAlreadyRegistered}: chainlink.ErrAlreadyRegistered,
	{false, "floe_sim", SimAbortNoCommittee}:       chainlink.ErrNoCommittee,
	{false, "floe_sim", SimAbortInvalidPublicKey}:  chainlink.ErrInvalidPublicKey,
	// Sui framework: balance.move
	{true, "balance", 0}: chainlink.ErrBadRequest,        // ENonZero: a payment coin was not used up
	{true, "balance", 2}: chainlink.ErrInsufficientFunds, // ENotEnough
}

// MapAbort returns the error of a Move abort at package::module::function
// with code. walrusPackages are the deployment's packages (the original and
// its upgrades): aborts in other packages (except the Sui framework's
// balance) map to nothing.
func MapAbort(pkg Address, module, function string, code uint64, walrusPackages ...Address) *MoveAbortError {
	e := &MoveAbortError{Package: pkg, Module: module, Function: function, Code: code}
	framework := pkg == SuiFramework
	walrus := false
	for _, p := range walrusPackages {
		walrus = walrus || p == pkg
	}
	if !framework && !walrus {
		return e
	}
	e.sentinel = aborts[abortKey{framework, module, code}]
	if walrus && module == "blob" && code == 6 && function == "new" {
		// blob::new re-derives the blob ID at registration.
		e.sentinel = chainlink.ErrBlobIDMismatch
	}
	return e
}
