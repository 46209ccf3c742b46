package chainlink

import (
	"container/heap"
	"fmt"
	"math/bits"
)

// Constants of the Walrus staking contract (F13.1).
const (
	// MaxActiveSetSize caps the number of nodes considered for a committee
	// (TEMP_ACTIVE_SET_SIZE_LIMIT).
	MaxActiveSetSize       = 150
	minNodesForShardsLimit = 20
	shardsLimitDenominator = 10
)

// MaxShardsPerNode is the per-node cap of F13.1: n/10 with at least 20 nodes,
// else ceil(n·20 / (nodes·10)).
func MaxShardsPerNode(nodes, nShards int) int {
	if nodes <= 0 {
		return 0
	}
	if nodes >= minNodesForShardsLimit {
		return nShards / shardsLimitDenominator
	}
	num := nShards * minNodesForShardsLimit
	den := nodes * shardsLimitDenominator
	return (num + den - 1) / den
}

// Apportion distributes nShards over nodes by stake with the D'Hondt
// (Jefferson) method of the Walrus staking contract (F13.1): Hagenbach-Bischoff
// initial seats stake/(total/(n+1)+1), capped at MaxShardsPerNode, then one
// shard at a time to the highest quotient stake/(seats+1). Ties go to the
// node that comes first in stakes (higher priority). Nodes at the cap receive
// no more. It returns an error when total stake is zero or the caps cannot
// hold nShards.
func Apportion(nShards int, stakes []uint64) ([]int, error) {
	n := len(stakes)
	if n == 0 {
		return nil, fmt.Errorf("%w: no nodes to apportion shards to", ErrNoStake)
	}
	var total uint64
	for _, s := range stakes {
		sum, carry := bits.Add64(total, s, 0)
		if carry != 0 {
			return nil, fmt.Errorf("chainlink: total stake overflows u64")
		}
		total = sum
	}
	if total == 0 {
		return nil, ErrNoStake
	}
	capN := MaxShardsPerNode(n, nShards)
	if capN*n < nShards {
		return nil, fmt.Errorf("chainlink: %d nodes with cap %d cannot hold %d shards", n, capN, nShards)
	}
	dist := total/uint64(nShards+1) + 1
	seats := make([]int, n)
	given := 0
	q := make(quotients, 0, n)
	for i, s := range stakes {
		seats[i] = int(min(s/dist, uint64(capN)))
		given += seats[i]
		if seats[i] != capN {
			q = append(q, quotient{stake: s, div: uint64(seats[i] + 1), prio: n - i, idx: i})
		}
	}
	heap.Init(&q)
	for given < nShards {
		top := &q[0]
		i := top.idx
		seats[i]++
		given++
		if seats[i] == capN {
			heap.Pop(&q)
		} else {
			top.div = uint64(seats[i] + 1)
			heap.Fix(&q, 0)
		}
	}
	return seats, nil
}

type quotient struct {
	stake, div uint64 // quotient = stake/div, compared exactly
	prio       int
	idx        int
}

type quotients []quotient

func (q quotients) Len() int { return len(q) }

// Less orders by larger quotient first, then by higher priority.
func (q quotients) Less(i, j int) bool {
	// a/b > c/d  ⇔  a·d > c·b (128-bit products).
	h1, l1 := bits.Mul64(q[i].stake, q[j].div)
	h2, l2 := bits.Mul64(q[j].stake, q[i].div)
	if h1 != h2 {
		return h1 > h2
	}
	if l1 != l2 {
		return l1 > l2
	}
	return q[i].prio > q[j].prio
}
func (q quotients) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *quotients) Push(x any)   { *q = append(*q, x.(quotient)) }
func (q *quotients) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// Assignment is a node's concrete shard list.
type Assignment struct {
	Node   ID
	Shards []uint16
}

// InitialShards assigns shards sequentially to nodes sorted by node ID
// (F13.2). ids must be sorted; counts[i] is node i's number of shards.
func InitialShards(ids []ID, counts []int) []Assignment {
	out := make([]Assignment, 0, len(ids))
	next := 0
	for i, id := range ids {
		if counts[i] == 0 {
			continue
		}
		a := Assignment{Node: id, Shards: make([]uint16, counts[i])}
		for j := range a.Shards {
			a.Shards[j] = uint16(next)
			next++
		}
		out = append(out, a)
	}
	return out
}

// TransitionShards moves from the previous assignment prev (sorted by node
// ID) to new shard counts, keeping every shard in place that can stay, as
// committee::transition does (F13.2): nodes that leave or shrink give up
// shards (shrinking nodes from the end of their list), and nodes that join
// or grow take them from the end of the pool. ids are in active-set order,
// counts[i] belongs to ids[i]; the total must equal prev's. The result is
// sorted by node ID and omits nodes with no shards.
func TransitionShards(prev []Assignment, ids []ID, counts []int) ([]Assignment, error) {
	type want struct {
		id ID
		n  int
	}
	pending := make([]want, 0, len(ids))
	for i, id := range ids {
		pending = append(pending, want{id, counts[i]})
	}
	find := func(id ID) int {
		for i := range pending {
			if pending[i].id == id {
				return i
			}
		}
		return -1
	}
	var pool []uint16
	kept := map[ID][]uint16{}
	prevTotal, newTotal := 0, 0
	for _, c := range counts {
		newTotal += c
	}
	for _, a := range prev {
		prevTotal += len(a.Shards)
		j := find(a.Node)
		if j < 0 || pending[j].n == 0 {
			if j >= 0 {
				pending = append(pending[:j], pending[j+1:]...)
			}
			pool = append(pool, a.Shards...)
			continue
		}
		n := pending[j].n
		pending = append(pending[:j], pending[j+1:]...)
		cur := len(a.Shards)
		switch {
		case cur == n:
			kept[a.Node] = append([]uint16(nil), a.Shards...)
		case cur > n:
			s := append([]uint16(nil), a.Shards...)
			for len(s) > n {
				pool = append(pool, s[len(s)-1])
				s = s[:len(s)-1]
			}
			kept[a.Node] = s
		default:
			pending = append(pending, want{a.Node, n})
		}
	}
	if prevTotal != newTotal {
		return nil, fmt.Errorf("chainlink: shard transition from %d to %d shards", prevTotal, newTotal)
	}
	prevOf := map[ID][]uint16{}
	for _, a := range prev {
		prevOf[a.Node] = a.Shards
	}
	for _, w := range pending {
		if w.n == 0 {
			continue
		}
		s := append([]uint16(nil), prevOf[w.id]...)
		for len(s) < w.n {
			s = append(s, pool[len(pool)-1])
			pool = pool[:len(pool)-1]
		}
		kept[w.id] = s
	}
	out := make([]Assignment, 0, len(kept))
	for id, s := range kept {
		out = append(out, Assignment{Node: id, Shards: s})
	}
	sortAssignments(out)
	return out, nil
}
