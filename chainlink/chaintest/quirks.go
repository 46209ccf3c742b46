package chaintest

import (
	"errors"

	"floe/chainlink"
)

// Quirks are the documented ways a chain legitimately differs from the
// embedded ledger's rules; the suite adapts to them and checks the
// chain's typed error instead. An Env declares them by implementing
// QuirksEnv; the zero value is the ledger's behaviour.
type Quirks struct {
	// EpochChangeWaitsForSync: an epoch cannot end while the previous
	// change is still syncing (Sui: initiate_epoch_change needs
	// EpochChangeDone). Fixture.Advance first reports EpochSyncDone for
	// every member of the current committee that has not, as its nodes
	// would.
	EpochChangeWaitsForSync bool
	// OwnerOnlyExtend: only a blob's owner can extend it (Sui:
	// extend_blob takes the Blob by &mut); an extension paid by anyone
	// else fails with ErrNotOwner.
	OwnerOnlyExtend bool
	// NoAccountRewards: Account.Rewards is not kept (Sui: a staker's
	// rewards stay in the staking pool until withdraw_stake).
	NoAccountRewards bool
}

// QuirksEnv is an Env with Quirks.
type QuirksEnv interface {
	Env
	Quirks() Quirks
}

// Quirks returns the quirks of the fixture's chain.
func (fx *Fixture) Quirks() Quirks {
	if q, ok := fx.Env.(QuirksEnv); ok {
		return q.Quirks()
	}
	return Quirks{}
}

// syncAll reports EpochSyncDone for every member of the current
// committee that has not reported yet, if the epoch is still changing.
func (fx *Fixture) syncAll() {
	fx.T.Helper()
	es := fx.Epoch()
	if es.Phase != chainlink.PhaseChangeSync {
		return
	}
	c, err := fx.C().Committee(fx.Ctx, es.Epoch)
	if err != nil {
		fx.T.Fatalf("committee: %v", err)
	}
	for _, m := range c.Members {
		if err := fx.C().EpochSyncDone(fx.Ctx, m.NodeID, es.Epoch); err != nil && !errors.Is(err, chainlink.ErrSyncDone) {
			fx.T.Fatalf("sync done of %s before the epoch change: %v", m.NodeID, err)
		}
	}
}
