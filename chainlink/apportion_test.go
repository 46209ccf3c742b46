package chainlink

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestMaxShardsPerNode(t *testing.T) {
	for _, tc := range []struct{ nodes, n, want int }{
		{1, 10, 20},     // ceil(200/10)
		{4, 10, 5},      // ceil(200/40)
		{3, 10, 7},      // ceil(200/30)
		{19, 1000, 106}, // ceil(20000/190)
		{20, 1000, 100},
		{150, 1000, 100},
		{25, 100, 10},
	} {
		if got := MaxShardsPerNode(tc.nodes, tc.n); got != tc.want {
			t.Errorf("MaxShardsPerNode(%d, %d) = %d, want %d", tc.nodes, tc.n, got, tc.want)
		}
	}
}

func TestApportion(t *testing.T) {
	rep := func(v uint64, k int) []uint64 {
		s := make([]uint64, k)
		for i := range s {
			s[i] = v
		}
		return s
	}
	for _, tc := range []struct {
		name   string
		n      int
		stakes []uint64
		want   []int
	}{
		{"proportional", 10, []uint64{50, 30, 20}, []int{5, 3, 2}},
		{"ties go to earlier nodes", 10, []uint64{10, 10, 10, 10}, []int{3, 3, 2, 2}},
		{"tie at three-way", 5, []uint64{7, 7, 7}, []int{2, 2, 1}},
		{"cap under 20 nodes", 10, []uint64{1000, 1, 1, 1}, []int{5, 2, 2, 1}},
		{"single node takes all", 10, []uint64{5}, []int{10}},
		{"zero-stake node gets leftovers only by cap", 10, []uint64{9, 0}, []int{10, 0}},
		{"dhondt favours large", 7, []uint64{100, 80, 30, 20}, []int{3, 3, 1, 0}},
		{"huge stakes no overflow", 10, []uint64{1 << 62, 1 << 61, 1 << 61}, []int{6, 2, 2}},
		{"cap at 20 nodes: n/10", 100, append([]uint64{1e9}, rep(1, 19)...),
			append([]int{10}, append(rep2(5, 14), rep2(4, 5)...)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Apportion(tc.n, tc.stakes)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("Apportion(%d, %v) = %v, want %v", tc.n, tc.stakes, got, tc.want)
			}
			if want := bruteDHondt(tc.n, tc.stakes); !slices.Equal(got, want) {
				t.Fatalf("differs from sequential D'Hondt %v", want)
			}
		})
	}
	if _, err := Apportion(10, []uint64{0, 0}); err == nil {
		t.Fatal("zero stake accepted")
	}
	if _, err := Apportion(10, nil); err == nil {
		t.Fatal("no nodes accepted")
	}
}

func rep2(v, k int) []int {
	s := make([]int, k)
	for i := range s {
		s[i] = v
	}
	return s
}

// bruteDHondt hands out shards one at a time to the highest quotient
// stake/(seats+1) among nodes under the cap, ties to the lower index: the
// definition the Hagenbach-Bischoff start must not change.
func bruteDHondt(n int, stakes []uint64) []int {
	capN := MaxShardsPerNode(len(stakes), n)
	seats := make([]int, len(stakes))
	for range n {
		best := -1
		for i := range stakes {
			if seats[i] == capN {
				continue
			}
			if best < 0 {
				best = i
				continue
			}
			q := quotients{{stake: stakes[i], div: uint64(seats[i] + 1), prio: len(stakes) - i},
				{stake: stakes[best], div: uint64(seats[best] + 1), prio: len(stakes) - best}}
			if q.Less(0, 1) {
				best = i
			}
		}
		seats[best]++
	}
	return seats
}

func TestApportionMatchesSequential(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for iter := range 300 {
		nodes := 1 + r.IntN(40)
		n := []int{4, 10, 100, 1000}[r.IntN(4)]
		stakes := make([]uint64, nodes)
		for i := range stakes {
			switch r.IntN(4) {
			case 0:
				stakes[i] = 1000 // ties
			default:
				stakes[i] = uint64(r.IntN(1e6))
			}
		}
		stakes[0]++ // total > 0
		got, err := Apportion(n, stakes)
		if MaxShardsPerNode(nodes, n)*nodes < n {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		sum := 0
		for _, s := range got {
			sum += s
		}
		if sum != n {
			t.Fatalf("iter %d: %d shards distributed, want %d", iter, sum, n)
		}
		if want := bruteDHondt(n, stakes); !slices.Equal(got, want) {
			t.Fatalf("iter %d: n=%d stakes %v: %v, sequential %v", iter, n, stakes, got, want)
		}
	}
}

func nid(b byte) ID { return ID{31: b} }

func TestInitialShards(t *testing.T) {
	got := InitialShards([]ID{nid(1), nid(2), nid(3)}, []int{2, 0, 3})
	want := []Assignment{{nid(1), []uint16{0, 1}}, {nid(3), []uint16{2, 3, 4}}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%v, want %v", got, want)
	}
}

func TestTransitionShards(t *testing.T) {
	prev := InitialShards([]ID{nid(1), nid(2), nid(3)}, []int{4, 3, 3})
	for _, tc := range []struct {
		name   string
		ids    []ID
		counts []int
		want   string
	}{
		{"unchanged", []ID{nid(1), nid(2), nid(3)}, []int{4, 3, 3},
			"[{0x…01 [0 1 2 3]} {0x…02 [4 5 6]} {0x…03 [7 8 9]}]"},
		// Node 1 shrinks by 1: its last shard (3) moves to node 3.
		{"shrink and grow", []ID{nid(1), nid(2), nid(3)}, []int{3, 3, 4},
			"[{0x…01 [0 1 2]} {0x…02 [4 5 6]} {0x…03 [7 8 9 3]}]"},
		// Node 2 leaves: its shards go to node 4 (new) and node 1 (grows),
		// taken from the end of the pool.
		{"leave and join", []ID{nid(1), nid(3), nid(4)}, []int{5, 3, 2},
			"[{0x…01 [0 1 2 3 4]} {0x…03 [7 8 9]} {0x…04 [6 5]}]"},
		{"node with zero shards leaves", []ID{nid(1), nid(2), nid(3)}, []int{5, 0, 5},
			"[{0x…01 [0 1 2 3 6]} {0x…03 [7 8 9 5 4]}]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := TransitionShards(prev, tc.ids, tc.counts)
			if err != nil {
				t.Fatal(err)
			}
			if s := fmtAssign(got); s != tc.want {
				t.Fatalf("got  %s\nwant %s", s, tc.want)
			}
			checkPartition(t, got, 10)
			if moved, min := movedShards(prev, got), minMoves(prev, got); moved != min {
				t.Fatalf("moved %d shards, minimum %d", moved, min)
			}
		})
	}
	if _, err := TransitionShards(prev, []ID{nid(1)}, []int{9}); err == nil {
		t.Fatal("changing the shard total accepted")
	}
}

func fmtAssign(a []Assignment) string {
	s := "["
	for i, x := range a {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("{0x…%02x %v}", x.Node[31], x.Shards)
	}
	return s + "]"
}

func checkPartition(t *testing.T, a []Assignment, n int) {
	t.Helper()
	seen := make([]bool, n)
	for i, x := range a {
		if i > 0 && a[i-1].Node.Compare(x.Node) >= 0 {
			t.Fatal("not sorted by node ID")
		}
		for _, s := range x.Shards {
			if int(s) >= n || seen[s] {
				t.Fatalf("shard %d out of range or assigned twice", s)
			}
			seen[s] = true
		}
	}
	for s, ok := range seen {
		if !ok {
			t.Fatalf("shard %d unassigned", s)
		}
	}
}

func movedShards(prev, next []Assignment) int {
	owner := map[uint16]ID{}
	for _, a := range prev {
		for _, s := range a.Shards {
			owner[s] = a.Node
		}
	}
	moved := 0
	for _, a := range next {
		for _, s := range a.Shards {
			if owner[s] != a.Node {
				moved++
			}
		}
	}
	return moved
}

// minMoves is Σ max(0, new − old) over nodes: the fewest shards any
// transition must move.
func minMoves(prev, next []Assignment) int {
	old := map[ID]int{}
	for _, a := range prev {
		old[a.Node] = len(a.Shards)
	}
	m := 0
	for _, a := range next {
		m += max(0, len(a.Shards)-old[a.Node])
	}
	return m
}

// Across many epochs of random stake changes, each transition moves only
// the shards it must.
func TestTransitionStability(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const n = 100
	ids := make([]ID, 12)
	for i := range ids {
		ids[i] = nid(byte(i + 1))
	}
	stakes := make([]uint64, len(ids))
	for i := range stakes {
		stakes[i] = uint64(1 + r.IntN(1000))
	}
	counts, _ := Apportion(n, stakes)
	cur := InitialShards(ids, counts)
	for epoch := range 50 {
		for range 3 {
			i := r.IntN(len(stakes))
			stakes[i] = uint64(r.IntN(1000)) // may drop to zero: leaves
		}
		stakes[r.IntN(len(stakes))] += 1
		counts, err := Apportion(n, stakes)
		if err != nil {
			t.Fatal(err)
		}
		next, err := TransitionShards(cur, ids, counts)
		if err != nil {
			t.Fatal(err)
		}
		checkPartition(t, next, n)
		if moved, min := movedShards(cur, next), minMoves(cur, next); moved != min {
			t.Fatalf("epoch %d: moved %d, minimum %d", epoch, moved, min)
		}
		for _, a := range next {
			i := slices.Index(ids, a.Node)
			if len(a.Shards) != counts[i] {
				t.Fatalf("epoch %d: node %d has %d shards, apportioned %d", epoch, i, len(a.Shards), counts[i])
			}
		}
		cur = next
	}
}
