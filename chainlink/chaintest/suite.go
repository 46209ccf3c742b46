package chaintest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"floe/chainlink"
	"floe/chainlink/bls"
	"floe/codec"
)

// Run runs the conformance suite against the chains made by f.
func Run(t *testing.T, f Factory) {
	tests := []struct {
		name string
		fn   func(*testing.T, Factory)
	}{
		{"Committee", testCommittee},
		{"RegisterNode", testRegisterNode},
		{"ShardStability", testShardStability},
		{"EpochSync", testEpochSync},
		{"Withdrawals", testWithdrawals},
		{"StoragePricing", testStoragePricing},
		{"RegisterBlobRules", testRegisterBlobRules},
		{"Certify", testCertify},
		{"CertifyExpired", testCertifyExpired},
		{"Invalidate", testInvalidate},
		{"DeleteAndExtend", testDeleteAndExtend},
		{"OwnedBlobsAndExpiry", testOwnedBlobs},
		{"Payout", testPayout},
		{"BlobAttributes", testBlobAttributes},
		{"EventsLive", testEventsLive},
		{"EventsResumeAcrossRestart", testEventsResume},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, f) })
	}
}

// stakes4 gives a 10-shard committee of weights 4, 3, 2, 1 (D'Hondt with
// Hagenbach-Bischoff seats), so quorum (7) and one-correct (4) subsets and
// the sets one shard short of them all exist.
var stakes4 = []uint64{400_000, 300_000, 200_000, 100_000}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func checkCommitteeShape(t *testing.T, c *chainlink.Committee) {
	t.Helper()
	if c.NShards != suiteShards {
		t.Fatalf("committee has %d shards, want %d", c.NShards, suiteShards)
	}
	seen := make([]bool, c.NShards)
	for i, m := range c.Members {
		if i > 0 && c.Members[i-1].NodeID.Compare(m.NodeID) >= 0 {
			t.Fatalf("members not sorted by node ID at %d (F8.7)", i)
		}
		if m.Weight != len(m.Shards) || m.Weight == 0 {
			t.Fatalf("member %d weight %d with %d shards", i, m.Weight, len(m.Shards))
		}
		for _, s := range m.Shards {
			if int(s) >= c.NShards || seen[s] {
				t.Fatalf("shard %d assigned twice or out of range", s)
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

func testCommittee(t *testing.T, f Factory) {
	fx := NewFixture(t, f, stakes4...)
	c := fx.Committee()
	if c.Epoch != 1 || len(c.Members) != 4 {
		t.Fatalf("committee epoch %d with %d members", c.Epoch, len(c.Members))
	}
	checkCommitteeShape(t, c)
	// D'Hondt over stakes in node-ID order (F13.1).
	byID := map[chainlink.ID]*TestNode{}
	for _, n := range fx.Nodes {
		byID[n.Node.ID] = n
	}
	stakes := make([]uint64, len(c.Members))
	for i, m := range c.Members {
		n := byID[m.NodeID]
		if n == nil {
			t.Fatalf("member %s is not a registered node", m.NodeID)
		}
		if m.PublicKey != n.Key.PublicKey() || m.PeerID != n.Node.PeerID || !slices.Equal(m.Addresses, n.Node.Addresses) {
			t.Fatalf("member %d does not carry its node's keys and addresses", i)
		}
		// The REST API's URL and the network key clients pin (F7.1).
		if m.NetworkAddress != RESTURL(n.Index) || !bytes.Equal(m.NetworkPublicKey, NetworkKey(n.Index)) ||
			n.Node.NetworkAddress != m.NetworkAddress || !bytes.Equal(n.Node.NetworkPublicKey, m.NetworkPublicKey) {
			t.Fatalf("member %d carries REST API %q key %x, registered %q %x", i, m.NetworkAddress, m.NetworkPublicKey,
				RESTURL(n.Index), NetworkKey(n.Index))
		}
		stakes[i] = m.Stake
	}
	want, err := chainlink.Apportion(c.NShards, stakes)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range c.Members {
		if m.Weight != want[i] {
			t.Fatalf("member %d has %d shards, D'Hondt gives %d", i, m.Weight, want[i])
		}
		// Stake 4:3:2:1 over 10 shards gives exactly 4, 3, 2, 1.
		if int(m.Stake/100_000) != m.Weight {
			t.Fatalf("member %d stake %d got %d shards", i, m.Stake, m.Weight)
		}
	}
	// First committee: shards sequential in node-ID order (F13.2).
	next := uint16(0)
	for _, m := range c.Members {
		for _, s := range m.Shards {
			if s != next {
				t.Fatalf("first committee shards not sequential: %v", c.Members)
			}
			next++
		}
	}
	if _, err := fx.C().Committee(fx.Ctx, 7); !errors.Is(err, chainlink.ErrNotFound) {
		t.Fatalf("committee of a future epoch: %v", err)
	}
	// Node-side verifier built from the committee.
	v, err := c.Verifier()
	if err != nil || v.Size() != 4 || v.NShards() != suiteShards {
		t.Fatalf("verifier: %v", err)
	}
	es := fx.Epoch()
	if es.Epoch != 1 || es.NShards != suiteShards || es.MaxEpochsAhead != suiteMaxAhead ||
		es.StoragePricePerUnit != suiteStoragePrice || es.WritePricePerUnit != suiteWritePrice {
		t.Fatalf("epoch state %+v", es)
	}
}

func testRegisterNode(t *testing.T, f Factory) {
	fx := NewFixture(t, f)
	ctx, c := fx.Ctx, fx.C()
	owner, other := Account(1), Account(2)
	fx.Fund(owner, 1000)
	key := NodeKey(1)
	req := chainlink.RegisterNodeRequest{
		Owner: owner, Name: "n1", PeerID: PeerID("peer-1"), Addresses: []string{"/ip4/127.0.0.1/tcp/1"},
		PublicKey: key.PublicKey(), ProofOfPossession: key.ProofOfPossession(0, owner), Stake: 500,
	}
	bad := req
	bad.ProofOfPossession = key.ProofOfPossession(0, other)
	_, err := c.RegisterNode(ctx, bad)
	wantErr(t, "proof of possession for another address", err, chainlink.ErrInvalidSignature)
	bad.ProofOfPossession = key.ProofOfPossession(1, owner)
	_, err = c.RegisterNode(ctx, bad)
	wantErr(t, "proof of possession for another epoch", err, chainlink.ErrInvalidSignature)
	bad.ProofOfPossession = NodeKey(2).ProofOfPossession(0, owner)
	_, err = c.RegisterNode(ctx, bad)
	wantErr(t, "proof of possession by another key", err, chainlink.ErrInvalidSignature)
	bad = req
	bad.PublicKey = bls.PublicKey{}
	_, err = c.RegisterNode(ctx, bad)
	wantErr(t, "invalid public key", err, chainlink.ErrInvalidPublicKey)
	bad = req
	bad.Stake = 1001
	_, err = c.RegisterNode(ctx, bad)
	wantErr(t, "stake above balance", err, chainlink.ErrInsufficientFunds)
	bad = req
	bad.PeerID = ""
	_, err = c.RegisterNode(ctx, bad)
	wantErr(t, "empty peer ID", err, chainlink.ErrBadRequest)
	for _, na := range []struct {
		addr string
		key  []byte
	}{
		{"https://127.0.0.1:9", nil},                                    // an address without a key
		{"http://127.0.0.1:9", NetworkKey(1)},                           // not https
		{"https://127.0.0.1", NetworkKey(1)},                            // no port
		{"https://127.0.0.1:9/v1", NetworkKey(1)},                       // a path
		{"https://u@127.0.0.1:9", NetworkKey(1)},                        // a user
		{"https://127.0.0.1:9", NetworkKey(1)[:32]},                     // a short key
		{"https://127.0.0.1:9", append([]byte{4}, make([]byte, 32)...)}, // not compressed
	} {
		bad = req
		bad.NetworkAddress, bad.NetworkPublicKey = na.addr, na.key
		_, err = c.RegisterNode(ctx, bad)
		wantErr(t, fmt.Sprintf("network address %q key %x", na.addr, na.key), err, chainlink.ErrBadRequest)
	}
	if nodes, _ := c.Nodes(ctx); len(nodes) != 0 {
		t.Fatalf("rejected registrations left %d nodes", len(nodes))
	}
	if fx.Balance(owner) != 1000 {
		t.Fatalf("rejected registrations moved funds")
	}

	req.NetworkAddress, req.NetworkPublicKey = "https://127.0.0.1:9", NetworkKey(1)
	n, err := c.RegisterNode(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if n.NetworkAddress != req.NetworkAddress || !bytes.Equal(n.NetworkPublicKey, req.NetworkPublicKey) {
		t.Fatalf("registered REST API %q key %x", n.NetworkAddress, n.NetworkPublicKey)
	}
	if n.Stake != 500 || n.Owner != owner || n.PublicKey != key.PublicKey() || fx.Balance(owner) != 500 {
		t.Fatalf("registered node %+v, balance %d", n, fx.Balance(owner))
	}
	dup := req
	dup.PeerID = PeerID("peer-other")
	dup.Stake = 0
	_, err = c.RegisterNode(ctx, dup)
	wantErr(t, "same BLS key twice", err, chainlink.ErrAlreadyRegistered)

	got, err := c.Node(ctx, n.ID)
	if err != nil || got.PeerID != PeerID("peer-1") {
		t.Fatalf("node: %+v %v", got, err)
	}
	_, err = c.Node(ctx, Account(99))
	wantErr(t, "unknown node", err, chainlink.ErrNotFound)

	// Delegation and withdrawal.
	fx.Fund(other, 300)
	_, err = c.Stake(ctx, other, n.ID, 301)
	wantErr(t, "stake above balance", err, chainlink.ErrInsufficientFunds)
	_, err = c.Stake(ctx, other, Account(99), 1)
	wantErr(t, "stake to unknown node", err, chainlink.ErrNotFound)
	n, err = c.Stake(ctx, other, n.ID, 200)
	if err != nil || n.Stake != 700 || fx.Balance(other) != 100 {
		t.Fatalf("delegate: stake %d balance %d err %v", n.Stake, fx.Balance(other), err)
	}
	_, err = c.Unstake(ctx, other, n.ID, 201)
	wantErr(t, "withdraw more than delegated", err, chainlink.ErrInsufficientFunds)
	_, err = c.Unstake(ctx, other, n.ID, 0)
	wantErr(t, "withdraw nothing", err, chainlink.ErrBadRequest)
	_, err = c.Unstake(ctx, other, Account(99), 1)
	wantErr(t, "withdraw from unknown node", err, chainlink.ErrNotFound)
	// A withdrawal leaves the stake at once and reaches the balance two
	// epochs later.
	e := fx.Epoch().Epoch
	n, err = c.Unstake(ctx, other, n.ID, 50)
	wantW := []chainlink.Withdrawal{{Staker: other, Amount: 50, CreditEpoch: e + 2}}
	if err != nil || n.Stake != 650 || n.Stakers[other.String()] != 150 || !slices.Equal(n.Withdrawals, wantW) || fx.Balance(other) != 100 {
		t.Fatalf("unstake: %+v balance %d err %v", n, fx.Balance(other), err)
	}
	fx.Advance()
	if fx.Balance(other) != 100 {
		t.Fatalf("withdrawal credited at e+1: balance %d", fx.Balance(other))
	}
	fx.Advance()
	if n, err = c.Node(ctx, n.ID); err != nil || fx.Balance(other) != 150 || n.Withdrawals != nil {
		t.Fatalf("at e+2: balance %d, node %+v %v", fx.Balance(other), n, err)
	}

	// Update network info: owner only.
	_, err = c.UpdateNode(ctx, chainlink.UpdateNodeRequest{Owner: other, NodeID: n.ID, PeerID: PeerID("p"), Addresses: nil})
	wantErr(t, "update by non-owner", err, chainlink.ErrNotOwner)
	_, err = c.UpdateNode(ctx, chainlink.UpdateNodeRequest{Owner: owner, NodeID: n.ID, PeerID: PeerID("peer-1b"),
		Addresses: []string{"/ip4/127.0.0.1/tcp/2"}, NetworkAddress: "ftp://127.0.0.1:10", NetworkPublicKey: NetworkKey(1)})
	wantErr(t, "update to a bad network address", err, chainlink.ErrBadRequest)
	u, err := c.UpdateNode(ctx, chainlink.UpdateNodeRequest{Owner: owner, NodeID: n.ID, PeerID: PeerID("peer-1b"),
		Addresses: []string{"/ip4/127.0.0.1/tcp/2"}, NetworkAddress: "https://node1.example:10", NetworkPublicKey: NetworkKey(1)})
	if err != nil || u.PeerID != PeerID("peer-1b") || u.NetworkAddress != "https://node1.example:10" || !bytes.Equal(u.NetworkPublicKey, NetworkKey(1)) {
		t.Fatalf("update: %+v %v", u, err)
	}
	if got, err := c.Node(ctx, n.ID); err != nil || got.NetworkAddress != u.NetworkAddress || !slices.Equal(got.Addresses, u.Addresses) {
		t.Fatalf("node after update: %+v %v", got, err)
	}
	_, err = c.Account(ctx, Account(98))
	wantErr(t, "unknown account", err, chainlink.ErrNotFound)
}

func shardSet(m chainlink.Member) map[uint16]bool {
	s := map[uint16]bool{}
	for _, x := range m.Shards {
		s[x] = true
	}
	return s
}

// checkStable checks F13.2 between consecutive committees: every node
// present in both keeps min(old, new) of its old shards, so only
// surplus/deficit shards move.
func checkStable(t *testing.T, prev, next *chainlink.Committee) (moved int) {
	t.Helper()
	old := map[chainlink.ID]map[uint16]bool{}
	for _, m := range prev.Members {
		old[m.NodeID] = shardSet(m)
	}
	owner := map[uint16]chainlink.ID{}
	for _, m := range prev.Members {
		for _, s := range m.Shards {
			owner[s] = m.NodeID
		}
	}
	for _, m := range next.Members {
		kept := 0
		for _, s := range m.Shards {
			if old[m.NodeID][s] {
				kept++
			}
			if owner[s] != m.NodeID {
				moved++
			}
		}
		if want := min(len(old[m.NodeID]), len(m.Shards)); kept != want {
			t.Fatalf("node %s kept %d of its %d shards with %d now, want %d", m.NodeID, kept, len(old[m.NodeID]), len(m.Shards), want)
		}
	}
	return moved
}

func testShardStability(t *testing.T, f Factory) {
	fx := NewFixture(t, f, stakes4...)
	c1 := fx.Committee()

	// Same stakes: nothing moves.
	fx.Advance()
	c2 := fx.Committee()
	if moved := checkStable(t, c1, c2); moved != 0 {
		t.Fatalf("%d shards moved with unchanged stakes", moved)
	}

	// A fifth node joins with the largest stake, and a delegator moves
	// stake to the smallest node.
	fx.AddNode(4, 500_000)
	small := fx.Nodes[3]
	fx.Fund(Account(7), 200_000)
	if _, err := fx.C().Stake(fx.Ctx, Account(7), small.Node.ID, 200_000); err != nil {
		t.Fatal(err)
	}
	fx.Advance()
	c3 := fx.Committee()
	checkCommitteeShape(t, c3)
	if len(c3.Members) != 5 {
		t.Fatalf("%d members after a join", len(c3.Members))
	}
	moved := checkStable(t, c2, c3)
	// Minimal movement: exactly the shards the losers gave up.
	lost := 0
	w2 := map[chainlink.ID]int{}
	for _, m := range c2.Members {
		w2[m.NodeID] = m.Weight
	}
	for _, m := range c3.Members {
		if d := w2[m.NodeID] - m.Weight; d > 0 {
			lost += d
		}
	}
	if moved != lost {
		t.Fatalf("%d shards moved, only %d needed to", moved, lost)
	}

	// The owner of the second node withdraws everything: it leaves the
	// committee and only its shards move.
	leaver := fx.Nodes[1]
	if _, err := fx.C().Unstake(fx.Ctx, leaver.Owner, leaver.Node.ID, stakes4[1]); err != nil {
		t.Fatal(err)
	}
	fx.Advance()
	c4 := fx.Committee()
	checkCommitteeShape(t, c4)
	if c4.Index(leaver.Node.ID) >= 0 {
		t.Fatalf("node without stake stayed in the committee")
	}
	checkStable(t, c3, c4)
}

// syncState reads the epoch state and checks its sync fields.
func syncState(t *testing.T, fx *Fixture, phase chainlink.EpochPhase, weight int, nodes []chainlink.ID) chainlink.EpochState {
	t.Helper()
	es := fx.Epoch()
	if es.Phase != phase || es.SyncDoneWeight != weight || !slices.Equal(es.SyncDoneNodes, nodes) {
		t.Fatalf("epoch %d: phase %s, sync done weight %d by %v; want %s, %d by %v",
			es.Epoch, es.Phase, es.SyncDoneWeight, es.SyncDoneNodes, phase, weight, nodes)
	}
	return es
}

func testEpochSync(t *testing.T, f Factory) {
	fx := NewFixture(t, f, stakes4...)
	ctx, c := fx.Ctx, fx.C()
	// The first committee has nothing to fetch: the change is done at once,
	// and nobody counts as reported.
	syncState(t, fx, chainlink.PhaseChangeDone, 0, nil)
	start := DrainEvents(t, ctx, c, 0, 200*time.Millisecond)
	if n := len(findEvents(start, chainlink.EventEpochChangeStart)); n != 1 {
		t.Fatalf("%d EpochChangeStart events", n)
	}
	if n := len(findEvents(start, chainlink.EventEpochChangeDone)); n != 1 {
		t.Fatalf("%d EpochChangeDone events", n)
	}
	last := start[len(start)-1].Cursor

	// Unchanged stakes: no shard moves, and still nobody is counted until
	// it reports (staking_inner.move::epoch_sync_done).
	es := fx.Advance()
	cm := fx.Committee()
	if es.Phase != chainlink.PhaseChangeSync || es.SyncDoneWeight != 0 || len(es.SyncDoneNodes) != 0 {
		t.Fatalf("advance with a previous committee: %+v", es)
	}
	syncState(t, fx, chainlink.PhaseChangeSync, 0, nil)
	// Report the heaviest first (weights 4, 3, 2, 1): the quorum of 7
	// falls on the second report, and two reports come after it.
	order := make([]int, len(cm.Members))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cm.Members[b].Weight - cm.Members[a].Weight })
	var reported []chainlink.ID
	w := 0
	quorumAt := -1
	for k, i := range order {
		m := cm.Members[i]
		if err := c.EpochSyncDone(ctx, m.NodeID, es.Epoch); err != nil {
			t.Fatalf("report %d: %v", k, err)
		}
		w += m.Weight
		reported = append(reported, m.NodeID)
		slices.SortFunc(reported, chainlink.ID.Compare)
		phase := chainlink.PhaseChangeSync
		if bls.Quorum.Reached(w, suiteShards) {
			phase = chainlink.PhaseChangeDone
			if quorumAt < 0 {
				quorumAt = k
			}
		}
		syncState(t, fx, phase, w, reported)
		wantErr(t, "sync done twice", c.EpochSyncDone(ctx, m.NodeID, es.Epoch), chainlink.ErrSyncDone)
	}
	if quorumAt == len(order)-1 {
		t.Fatal("the test needs a report after the quorum")
	}
	evs := DrainEvents(t, ctx, c, last, 200*time.Millisecond)
	var kinds []chainlink.EventType
	for _, e := range evs {
		kinds = append(kinds, e.Type)
	}
	want := []chainlink.EventType{chainlink.EventEpochChangeStart}
	for k := range order {
		want = append(want, chainlink.EventShardsReceived)
		if k == quorumAt {
			want = append(want, chainlink.EventEpochChangeDone)
		}
	}
	if !slices.Equal(kinds, want) {
		t.Fatalf("events %v, want %v", kinds, want)
	}
	for k, e := range findEvents(evs, chainlink.EventShardsReceived) {
		m := cm.Members[order[k]]
		if e.NodeID != m.NodeID || e.Epoch != es.Epoch || !slices.Equal(e.Shards, m.Shards) {
			t.Fatalf("ShardsReceived %+v for member %+v", e, m)
		}
	}
	last = evs[len(evs)-1].Cursor

	// A big newcomer takes shards from everyone: the epoch waits for it
	// and for the members that only lost shards.
	newcomer := fx.AddNode(4, 4_000_000)
	es = fx.Advance()
	cm = fx.Committee()
	if es.Phase != chainlink.PhaseChangeSync {
		t.Fatalf("phase %s while the newcomer fetches %d shards", es.Phase, cm.Members[cm.Index(newcomer.Node.ID)].Weight)
	}
	err := c.EpochSyncDone(ctx, newcomer.Node.ID, es.Epoch-1)
	wantErr(t, "sync done for an old epoch", err, chainlink.ErrWrongEpoch)
	err = c.EpochSyncDone(ctx, newcomer.Node.ID, es.Epoch+1)
	wantErr(t, "sync done for a future epoch", err, chainlink.ErrWrongEpoch)
	// A registered node outside the committee (no stake), reporting
	// with its own key.
	stranger := fx.AddNode(5, 0)
	err = c.EpochSyncDone(ctx, stranger.Node.ID, es.Epoch)
	wantErr(t, "sync done by a stranger", err, chainlink.ErrNotInCommittee)
	if err := c.EpochSyncDone(ctx, newcomer.Node.ID, es.Epoch); err != nil {
		t.Fatal(err)
	}
	nw := cm.Members[cm.Index(newcomer.Node.ID)].Weight
	if !bls.Quorum.Reached(nw, suiteShards) {
		syncState(t, fx, chainlink.PhaseChangeSync, nw, []chainlink.ID{newcomer.Node.ID})
	}
	err = c.EpochSyncDone(ctx, newcomer.Node.ID, es.Epoch)
	wantErr(t, "sync done twice", err, chainlink.ErrSyncDone)
	// Report the rest; the change completes once, at quorum.
	for _, m := range cm.Members {
		if err := c.EpochSyncDone(ctx, m.NodeID, es.Epoch); err != nil && !errors.Is(err, chainlink.ErrSyncDone) {
			t.Fatal(err)
		}
	}
	all := make([]chainlink.ID, len(cm.Members))
	for i, m := range cm.Members {
		all[i] = m.NodeID
	}
	syncState(t, fx, chainlink.PhaseChangeDone, suiteShards, all)
	evs = DrainEvents(t, ctx, c, last, 200*time.Millisecond)
	done := findEvents(evs, chainlink.EventEpochChangeDone)
	if len(done) != 1 || done[0].Epoch != es.Epoch {
		t.Fatalf("EpochChangeDone events %+v", done)
	}
	recv := findEvents(evs, chainlink.EventShardsReceived)
	if len(recv) != len(cm.Members) || recv[0].NodeID != newcomer.Node.ID || len(recv[0].Shards) != nw {
		t.Fatalf("ShardsReceived events %+v", recv)
	}
	// The reports survive a restart.
	fx.Env.Restart(t)
	syncState(t, fx, chainlink.PhaseChangeDone, suiteShards, all)
}

// testWithdrawals: Unstake in epoch e takes the stake out of the next
// committee selection at once and credits the balance at the advance to
// e+2, not before; a node with no stake left leaves the committee of e+1;
// pending withdrawals are on the node and survive a restart.
func testWithdrawals(t *testing.T, f Factory) {
	fx := NewFixture(t, f, stakes4...)
	ctx, c := fx.Ctx, fx.C()
	leaver := fx.Nodes[3] // weight 1
	delegator := Account(9)
	fx.Fund(delegator, 50_000)
	if _, err := c.Stake(ctx, delegator, leaver.Node.ID, 50_000); err != nil {
		t.Fatal(err)
	}
	owner0, del0 := fx.Balance(leaver.Owner), fx.Balance(delegator)
	e := fx.Epoch().Epoch
	n, err := c.Unstake(ctx, leaver.Owner, leaver.Node.ID, stakes4[3])
	if err != nil {
		t.Fatal(err)
	}
	if n, err = c.Unstake(ctx, delegator, leaver.Node.ID, 20_000); err != nil {
		t.Fatal(err)
	}
	if n, err = c.Unstake(ctx, delegator, leaver.Node.ID, 30_000); err != nil {
		t.Fatal(err)
	}
	want := []chainlink.Withdrawal{
		{Staker: leaver.Owner, Amount: stakes4[3], CreditEpoch: e + 2},
		{Staker: delegator, Amount: 50_000, CreditEpoch: e + 2},
	}
	slices.SortFunc(want, func(a, b chainlink.Withdrawal) int { return a.Staker.Compare(b.Staker) })
	if n.Stake != 0 || len(n.Stakers) != 0 || !slices.Equal(n.Withdrawals, want) {
		t.Fatalf("node after withdrawing everything: %+v, want withdrawals %+v", n, want)
	}
	if fx.Balance(leaver.Owner) != owner0 || fx.Balance(delegator) != del0 {
		t.Fatal("Unstake credited the balance at once")
	}
	_, err = c.Unstake(ctx, delegator, leaver.Node.ID, 1)
	wantErr(t, "withdraw a pending withdrawal again", err, chainlink.ErrInsufficientFunds)

	// e+1: the leaver is out of the new committee but the funds are not
	// back: it still has to hand its shard over.
	fx.Advance()
	c1 := fx.Committee()
	checkCommitteeShape(t, c1)
	if c1.Index(leaver.Node.ID) >= 0 || len(c1.Members) != 3 {
		t.Fatalf("node without stake in the committee of e+1: %+v", c1.Members)
	}
	if fx.Balance(leaver.Owner) != owner0 || fx.Balance(delegator) != del0 {
		t.Fatal("withdrawal credited at e+1")
	}
	got, err := c.Node(ctx, leaver.Node.ID)
	if err != nil || !slices.Equal(got.Withdrawals, want) {
		t.Fatalf("pending withdrawals at e+1: %+v %v", got.Withdrawals, err)
	}
	fx.Env.Restart(t)
	c = fx.C()
	if got, err = c.Node(ctx, leaver.Node.ID); err != nil || !slices.Equal(got.Withdrawals, want) {
		t.Fatalf("pending withdrawals after restart: %+v %v", got.Withdrawals, err)
	}

	// e+2: credited, exactly once.
	fx.Advance()
	if fx.Balance(leaver.Owner) != owner0+stakes4[3] || fx.Balance(delegator) != del0+50_000 {
		t.Fatalf("at e+2: owner +%d, delegator +%d", fx.Balance(leaver.Owner)-owner0, fx.Balance(delegator)-del0)
	}
	if got, err = c.Node(ctx, leaver.Node.ID); err != nil || got.Withdrawals != nil {
		t.Fatalf("withdrawals after the credit: %+v %v", got.Withdrawals, err)
	}
	fx.Advance()
	if fx.Balance(leaver.Owner) != owner0+stakes4[3] || fx.Balance(delegator) != del0+50_000 {
		t.Fatal("credited twice")
	}
}

func encodedLen(t *testing.T, size uint64) uint64 {
	t.Helper()
	p, err := codec.NewParams(suiteShards)
	if err != nil {
		t.Fatal(err)
	}
	n, err := p.EncodedLength(size)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func testStoragePricing(t *testing.T, f Factory) {
	fx := NewFixture(t, f, stakes4...)
	ctx, c := fx.Ctx, fx.C()
	owner := Account(3)
	fx.Fund(owner, 1_000_000)
	cur := fx.Epoch().Epoch

	// Reserve 5 MiB + 1 byte for 3 epochs: 6 units × 100 × 3 (F9.4).
	st, cost, err := c.ReserveSpace(ctx, owner, 5<<20+1, 3)
	if err != nil {
		t.Fatal(err)
	}
	if cost != 6*suiteStoragePrice*3 || st.StartEpoch != cur || st.EndEpoch != cur+3 || st.Size != 5<<20+1 || st.Owner != owner {
		t.Fatalf("reserve: %+v cost %d", st, cost)
	}
	if b := fx.Balance(owner); b != 1_000_000-cost {
		t.Fatalf("balance %d after paying %d", b, cost)
	}
	_, _, err = c.ReserveSpace(ctx, owner, 1, suiteMaxAhead+1)
	wantErr(t, "reserve beyond max epochs ahead", err, chainlink.ErrTooFarAhead)
	_, _, err = c.ReserveSpace(ctx, owner, 1, 0)
	wantErr(t, "reserve for zero epochs", err, chainlink.ErrBadRequest)
	_, _, err = c.ReserveSpace(ctx, Account(77), 1, 1)
	wantErr(t, "reserve without funds", err, chainlink.ErrInsufficientFunds)

	// Register with fresh storage: storage for the encoded length plus the
	// write price (F9.4, F3.7).
	before := fx.Balance(owner)
	id, root, size := TestBlob(1, 1<<20+7)
	enc := encodedLen(t, size)
	units := (enc + chainlink.BytesPerUnit - 1) / chainlink.BytesPerUnit
	r, err := c.RegisterBlob(ctx, chainlink.RegisterBlobRequest{Owner: owner, BlobID: id, RootHash: root, Size: size,
		EncodingType: codec.EncodingTypeRS2, EpochsAhead: 2})
	if err != nil {
		t.Fatal(err)
	}
	if r.StorageCost != units*suiteStoragePrice*2 || r.WriteCost != units*suiteWritePrice {
		t.Fatalf("costs %d + %d for %d units", r.StorageCost, r.WriteCost, units)
	}
	if fx.Balance(owner) != before-r.StorageCost-r.WriteCost {
		t.Fatalf("balance %d, want %d", fx.Balance(owner), before-r.StorageCost-r.WriteCost)
	}
	b := r.Blob
	if b.BlobID != id || b.Size != size || b.EncodingType != codec.EncodingTypeRS2 || b.RegisteredEpoch != cur ||
		b.Storage.Size != enc || b.Storage.EndEpoch != cur+2 || b.CertifiedEpoch != nil || b.Deletable || b.Owner != owner {
		t.Fatalf("registered blob %+v", b)
	}

	// Register into the reserved storage: only the write price is paid.
	id2, root2, size2 := TestBlob(2, 1000)
	before = fx.Balance(owner)
	r2, err := c.RegisterBlob(ctx, chainlink.RegisterBlobRequest{Owner: owner, BlobID: id2, RootHash: root2, Size: size2,
		EncodingType: codec.EncodingTypeRS2, StorageID: st.ID})
	if err != nil {
		t.Fatal(err)
	}
	if r2.StorageCost != 0 || r2.Blob.Storage.ID != st.ID || r2.Blob.Storage.EndEpoch != st.EndEpoch ||
		fx.Balance(owner) != before-r2.WriteCost {
		t.Fatalf("register into storage: %+v", r2)
	}
	// The storage object was consumed.
	_, err = c.RegisterBlob(ctx, chainlink.RegisterBlobRequest{Owner: owner, BlobID: id2, RootHash: root2, Size: size2,
		EncodingType: codec.EncodingTypeRS2, StorageID: st.ID})
	wantErr(t, "reuse of consumed storage", err, chainlink.ErrNotFound)
}

func testRegisterBlobRules(t *testing.T, f Factory) {
	fx := NewFixture(t, f, stakes4...)
	ctx, c := fx.Ctx, fx.C()
	owner := Account(3)
	fx.Fund(owner, 1_000_000)
	id, root, size := TestBlob(1, 4096)
	ok := chainlink.RegisterBlobRequest{Owner: owner, BlobID: id, RootHash: root, Size: size,
		EncodingType: codec.EncodingTypeRS2, EpochsAhead: 1}

	cases := []struct {
		name string
		mod  func(*chainlink.RegisterBlobRequest)
		want error
	}{
		{"blob ID of another root", func(r *chainlink.RegisterBlobRequest) { r.RootHash[0] ^= 1 }, chainlink.ErrBlobIDMismatch},
		{"blob ID of another size", func(r *chainlink.RegisterBlobRequest) { r.Size++ }, chainlink.ErrBlobIDMismatch},
		{"blob ID flipped", func(r *chainlink.RegisterBlobRequest) { r.BlobID[31] ^= 0x80 }, chainlink.ErrBlobIDMismatch},
		{"RaptorQ encoding type", func(r *chainlink.RegisterBlobRequest) {
			r.EncodingType = 0
			r.BlobID = codec.DeriveBlobID(0, r.Size, r.RootHash)
		}, chainlink.ErrEncodingType},
		{"too far ahead", func(r *chainlink.RegisterBlobRequest) { r.EpochsAhead = suiteMaxAhead + 1 }, chainlink.ErrTooFarAhead},
		{"too large", func(r *chainlink.RegisterBlobRequest) {
			p, _ := codec.NewParams(suiteShards)
			r.Size = p.MaxBlobSize() + 1
			r.BlobID = codec.DeriveBlobID(codec.EncodingTypeRS2, r.Size, r.RootHash)
		}, chainlink.ErrBlobTooLarge},
		{"no funds", func(r *chainlink.RegisterBlobRequest) { r.Owner = Account(66) }, chainlink.ErrInsufficientFunds},
		{"unknown storage", func(r *chainlink.RegisterBlobRequest) { r.StorageID = Account(65) }, chainlink.ErrNotFound},
	}
	for _, tc := range cases {
		r := ok
		tc.mod(&r)
		_, err := c.RegisterBlob(ctx, r)
		wantErr(t, tc.name, err, tc.want)
	}
	// Storage too small for the encoded length (F3.7), and someone else's.
	small, _, err := c.ReserveSpace(ctx, owner, encodedLen(t, size)-1, 2)
	if err != nil {
		t.Fatal(err)
	}
	r := ok
	r.StorageID = small.ID
	_, err = c.RegisterBlob(ctx, r)
	wantErr(t, "storage too small", err, chainlink.ErrStorageTooSmall)
	fx.Fund(Account(4), 1_000_000)
	r.Owner = Account(4)
	_, err = c.RegisterBlob(ctx, r)
	wantErr(t, "someone else's storage", err, chainlink.ErrNotOwner)

	if st, err := c.BlobStatus(ctx, id); err != nil || st.Exists {
		t.Fatalf("rejected registrations left status %+v (%v)", st, err)
	}
	if b := fx.Balance(owner); b != 1_000_000-suiteStoragePrice*2 {
		t.Fatalf("rejected registrations charged: balance %d", b)
	}
	// The valid request succeeds; the same blob can be registered twice
	// (two objects), as on Walrus.
	r1, err := c.RegisterBlob(ctx, ok)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := c.RegisterBlob(ctx, ok)
	if err != nil {
		t.Fatal(err)
	}
	if r1.Blob.ObjectID == r2.Blob.ObjectID {
		t.Fatal("two registrations share an object ID")
	}
	st, err := c.BlobStatus(ctx, id)
	if err != nil || !st.Exists || st.Certified() || len(st.Objects) != 2 || st.PermanentEndEpoch != fx.Epoch().Epoch+1 {
		t.Fatalf("status %+v (%v)", st, err)
	}
	evs := DrainEvents(t, ctx, c, 0, 200*time.Millisecond)
	reg := findEvents(evs, chainlink.EventBlobRegistered)
	if len(reg) != 2 {
		t.Fatalf("%d BlobRegistered events", len(reg))
	}
	e := reg[0]
	b := r1.Blob
	if e.Epoch != b.RegisteredEpoch || e.BlobID != id || e.Size != size || e.EncodingType != codec.EncodingTypeRS2 ||
		e.EndEpoch != b.Storage.EndEpoch || e.Deletable || e.ObjectID != b.ObjectID {
		t.Fatalf("BlobRegistered %+v for %+v (F9.5)", e, b)
	}
}
