package node

import (
	"context"
	"errors"
	"sync/atomic"

	"floe/store"
)

// Space: a node out of room refuses new slivers with its own status
// (p2p.ErrNoSpace: a client must store elsewhere, not retry here soon) and
// says so once per episode in its log; large deletions give their space
// back to the disk in the background.

// spaceWatch tracks out-of-space episodes and pending reclaims.
type spaceWatch struct {
	full    atomic.Bool
	reclaim chan struct{} // cap 1: a reclaim is wanted
}

func newSpaceWatch() *spaceWatch { return &spaceWatch{reclaim: make(chan struct{}, 1)} }

// noteWrite records the outcome of a write to the store: the first refusal
// for lack of space logs a warning, the first success after it an info.
func (n *Node) noteWrite(err error) {
	switch {
	case errors.Is(err, store.ErrNoSpace):
		if !n.space.full.Swap(true) {
			u := n.store.Usage()
			n.log.Warn("out of storage space: refusing new slivers until space is freed",
				"stored_bytes", u.Total, "space_limit", u.Limit, "disk_bytes", u.Disk, "err", err)
		}
	case err == nil:
		if n.space.full.Swap(false) {
			n.log.Info("storage space available again; accepting slivers", "stored_bytes", n.store.Usage().Total)
		}
	}
}

// reclaimThreshold is the freed payload at which a reclaim is worth its
// cost (a rewrite of what is left), unless it is a quarter of the store.
const reclaimThreshold = 256 << 20

// freed records a deletion of freed payload bytes, leaving left.
func (n *Node) freed(freed, left int64) {
	if freed <= 0 || (freed < reclaimThreshold && 3*freed < left) {
		return
	}
	select {
	case n.space.reclaim <- struct{}{}:
	default:
	}
}

// reclaimLoop compacts the store when a large deletion asked for it.
func (n *Node) reclaimLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.space.reclaim:
		}
		before := n.store.Usage().Disk
		if err := n.store.Reclaim(ctx); err != nil {
			if ctx.Err() == nil {
				n.log.Warn("reclaiming disk space", "err", err)
			}
			continue
		}
		n.log.Info("reclaimed disk space", "disk_bytes_before", before, "disk_bytes", n.store.Usage().Disk)
	}
}
