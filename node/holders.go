package node

import (
	"context"
	"errors"
	"time"

	"floe/chainlink"
	"floe/codec"
)

// Who holds a shard across an epoch change (F6.1, F13.3). While a change is
// in progress the new owner of a moved shard may still be syncing, and the
// previous owner keeps serving what it held; so readers and recovering
// nodes ask, for each shard, the owner in the committee that should have the
// data first and the other one when the first does not have a sliver.

// holder is a committee member expected to hold some slivers.
type holder struct {
	v *committeeView
	i int
}

func (h holder) nodeID() chainlink.ID { return h.v.Members[h.i].NodeID }

// shardHolders returns, per shard, the members to ask in order: the owner
// in cur and the owner in prev (when prev is not nil and differs), the
// previous one first if preferPrev.
func shardHolders(cur, prev *committeeView, preferPrev bool) [][]holder {
	out := make([][]holder, cur.NShards)
	for s := range out {
		var hs []holder
		if o := cur.owners[s]; o >= 0 {
			hs = append(hs, holder{cur, o})
		}
		if prev != nil && prev.NShards == cur.NShards {
			if o := prev.owners[s]; o >= 0 && (len(hs) == 0 || prev.Members[o].NodeID != hs[0].nodeID()) {
				if preferPrev {
					hs = append([]holder{{prev, o}}, hs...)
				} else {
					hs = append(hs, holder{prev, o})
				}
			}
		}
		out[s] = hs
	}
	return out
}

// readCommittees returns the current committee and, for a blob certified
// before the current epoch, the previous one, and whether the previous one
// is where the data should be read first (the change is in progress).
func readCommittees(ctx context.Context, comms *committees, st chainlink.EpochState, certifiedEpoch *uint32) (cur, prev *committeeView, preferPrev bool, err error) {
	cur, err = comms.get(ctx, st.Epoch)
	if err != nil {
		return nil, nil, false, err
	}
	if st.Epoch == 0 || (certifiedEpoch != nil && *certifiedEpoch >= st.Epoch) {
		return cur, nil, false, nil
	}
	prev, err = comms.get(ctx, st.Epoch-1)
	if errors.Is(err, ErrNoCommittee) {
		return cur, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, err
	}
	return cur, prev, st.Phase == chainlink.PhaseChangeSync, nil
}

// pairPlan hands sliver pairs of one blob to their holders, moving a pair
// on to its next holder when one does not have it, and skipping members
// that failed or lied.
type pairPlan struct {
	id      codec.BlobID
	params  codec.Params
	holders [][]holder
	next    map[int]int // pair → index of the holder to ask
	skip    map[chainlink.ID]bool
	fails   map[chainlink.ID]int // failed requests by member (failed)
}

func newPairPlan(p codec.Params, id codec.BlobID, holders [][]holder, skip ...chainlink.ID) *pairPlan {
	pp := &pairPlan{id: id, params: p, holders: holders, next: map[int]int{}, skip: map[chainlink.ID]bool{}}
	for _, s := range skip {
		pp.skip[s] = true
	}
	return pp
}

// holderOf returns the member to ask for pair, if any is left.
func (pp *pairPlan) holderOf(pair int) (holder, bool) {
	hs := pp.holders[pp.params.ShardOfPair(pp.id, pair)]
	for k := pp.next[pair]; k < len(hs); k++ {
		if !pp.skip[hs[k].nodeID()] {
			pp.next[pair] = k
			return hs[k], true
		}
	}
	pp.next[pair] = len(hs)
	return holder{}, false
}

// miss records that the current holder of pair does not have it.
func (pp *pairPlan) miss(pair int) { pp.next[pair]++ }

// drop stops asking member for anything.
func (pp *pairPlan) drop(id chainlink.ID) { pp.skip[id] = true }

// maxHolderFailures is how many failed requests (streams cut, timeouts,
// refusals for load) a member may have in one read before it is dropped:
// a member is often the only holder of its shards' primary slivers, and
// one slow answer under load must not cost a read all of them.
const maxHolderFailures = 3

// failed records that a request to member failed with err and reports
// whether the member is dropped: at once for a lie, else after
// maxHolderFailures failures.
func (pp *pairPlan) failed(id chainlink.ID, err error) bool {
	if errors.Is(err, errLied) {
		pp.drop(id)
		return true
	}
	if pp.fails == nil {
		pp.fails = map[chainlink.ID]int{}
	}
	pp.fails[id]++
	if pp.fails[id] >= maxHolderFailures {
		pp.drop(id)
		return true
	}
	return false
}

// retryPause waits before a round that retries members which failed
// (250 ms, doubling each time, at most 4 s), so a member shedding load has
// time to recover.
func retryPause(ctx context.Context, n int) error {
	return pause(ctx, min(250*time.Millisecond<<min(n, 4), 4*time.Second))
}
