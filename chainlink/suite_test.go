package chainlink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"floe/chainlink/bls"
	"floe/codec"
)

// harness is one way of reaching a ledger: in process or through the HTTP
// service. restart stops the ledger and reopens it on the same storage; the
// Chain it returns talks to the reopened ledger.
type harness struct {
	chain Chain
	// base is the service's URL (HTTP harnesses only).
	base    string
	restart func(t *testing.T) Chain
	digest  func(t *testing.T) string
}

type newHarness func(t *testing.T, opts ...Option) *harness

const testShards = 10

// suite runs every behavioural test against a harness factory.
func suite(t *testing.T, nh newHarness) {
	tests := []struct {
		name string
		f    func(t *testing.T, nh newHarness)
	}{
		{"NodesAndCommittee", testNodesAndCommittee},
		{"Certificates", testCertificates},
		{"CertifyDeletable", testCertifyDeletable},
		{"RegisterBlobRules", testRegisterBlobRules},
		{"DeleteExtendStatus", testDeleteExtendStatus},
		{"Invalidate", testInvalidate},
		{"FeesPaidToStakers", testFees},
		{"EpochSync", testEpochSync},
		{"Withdrawals", testWithdrawals},
		{"CommitteeStability", testCommitteeStability},
		{"EventsResumeAcrossRestart", testEventsResume},
		{"RestartKeepsState", testRestartKeepsState},
		{"StreamClose", testStreamClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.f(t, nh) })
	}
}

// fixture is a ledger with registered, staked nodes and a funded user.
type fixture struct {
	t     *testing.T
	ctx   context.Context
	h     *harness
	c     Chain
	keys  map[ID]*bls.SecretKey // by node ID
	nodes []Node
	user  ID
}

func seedKey(t testing.TB, i int) *bls.SecretKey {
	k, err := bls.KeyFromSeed(bytes.Repeat([]byte{byte(i), byte(i >> 8), 0x42}, 11))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newFixture(t *testing.T, nh newHarness, stakes []uint64, opts ...Option) *fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	h := nh(t, append([]Option{WithShards(testShards)}, opts...)...)
	f := &fixture{t: t, ctx: ctx, h: h, c: h.chain, keys: map[ID]*bls.SecretKey{}, user: acct(999)}
	if _, err := f.c.Faucet(ctx, f.user, 1e12); err != nil {
		t.Fatal(err)
	}
	for i, s := range stakes {
		f.addNode(i, s)
	}
	if len(stakes) > 0 {
		f.advance()
	}
	return f
}

func (f *fixture) addNode(i int, stake uint64) Node {
	f.t.Helper()
	owner := acct(i)
	if _, err := f.c.Faucet(f.ctx, owner, 1e9); err != nil {
		f.t.Fatal(err)
	}
	st, err := f.c.EpochState(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	k := seedKey(f.t, i)
	n, err := f.c.RegisterNode(f.ctx, RegisterNodeRequest{
		Owner: owner, Name: fmt.Sprintf("node-%d", i), PeerID: fmt.Sprintf("12D3KooWpeer%d", i),
		Addresses: []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", 4000+i)},
		PublicKey: k.PublicKey(), ProofOfPossession: k.ProofOfPossession(st.Epoch, owner), Stake: stake,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	f.keys[n.ID] = k
	f.nodes = append(f.nodes, n)
	return n
}

func (f *fixture) advance() EpochState {
	f.t.Helper()
	st, err := f.c.AdvanceEpoch(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	return st
}

func (f *fixture) epoch() uint32 {
	f.t.Helper()
	st, err := f.c.EpochState(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	return st.Epoch
}

func (f *fixture) committee() *Committee {
	f.t.Helper()
	c, err := f.c.Committee(f.ctx, f.epoch())
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// cert signs msg by the given committee member indices.
func (f *fixture) cert(c *Committee, msg []byte, members ...int) Certificate {
	f.t.Helper()
	var sigs []bls.Signature
	var idx []uint16
	for _, i := range members {
		sigs = append(sigs, f.keys[c.Members[i].NodeID].Sign(msg))
		idx = append(idx, uint16(i))
	}
	agg, err := bls.Aggregate(sigs)
	if err != nil {
		f.t.Fatal(err)
	}
	bm, err := bls.SignersToBitmap(len(c.Members), idx)
	if err != nil {
		f.t.Fatal(err)
	}
	return Certificate{Signature: agg, Signers: bm, Message: msg}
}

// quorumSigners returns the fewest leading members whose weight reaches
// quorum, and the set one member short of it.
func quorumSigners(c *Committee) (enough, short []int) {
	w := 0
	// Take members from the lightest so "one short" is meaningful.
	order := make([]int, len(c.Members))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return c.Members[a].Weight - c.Members[b].Weight })
	for _, i := range order {
		enough = append(enough, i)
		w += c.Members[i].Weight
		if bls.Quorum.Reached(w, c.NShards) {
			break
		}
	}
	short = enough[:len(enough)-1]
	slices.Sort(enough)
	slices.Sort(short)
	return enough, short
}

type testBlob struct {
	root Hash32
	size uint64
	id   codec.BlobID
}

func mkBlob(i int, size uint64) testBlob {
	var root Hash32
	root[0], root[1] = byte(i), byte(i>>8)
	root[31] = 0x77
	return testBlob{root: root, size: size, id: codec.DeriveBlobID(codec.EncodingTypeRS2, size, root)}
}

func (f *fixture) register(b testBlob, deletable bool, epochs uint32) RegisterBlobResult {
	f.t.Helper()
	r, err := f.c.RegisterBlob(f.ctx, RegisterBlobRequest{
		Owner: f.user, BlobID: b.id, RootHash: b.root, Size: b.size, EncodingType: codec.EncodingTypeRS2,
		Deletable: deletable, EpochsAhead: epochs,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

func (f *fixture) certify(b Blob) Blob {
	f.t.Helper()
	c := f.committee()
	enough, _ := quorumSigners(c)
	msg := codec.StorageConfirmationMessage(f.epoch(), b.BlobID, b.Persistence())
	out, err := f.c.CertifyBlob(f.ctx, b.ObjectID, f.cert(c, msg, enough...))
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got %v, want %v", what, err, target)
	}
}

func testNodesAndCommittee(t *testing.T, nh newHarness) {
	f := newFixture(t, nh, nil)
	ctx := f.ctx
	if _, err := f.c.Committee(ctx, 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("committee of genesis: %v", err)
	}
	for i, s := range []uint64{400, 300, 200, 100} {
		f.addNode(i, s)
	}
	// Bad proof of possession: signed for another owner.
	k := seedKey(t, 50)
	_, err := f.c.RegisterNode(ctx, RegisterNodeRequest{Owner: acct(50), PeerID: "p50", PublicKey: k.PublicKey(),
		ProofOfPossession: k.ProofOfPossession(0, acct(51))})
	wantErr(t, "forged proof of possession", err, ErrInvalidSignature)
	// Wrong epoch in the proof.
	_, err = f.c.RegisterNode(ctx, RegisterNodeRequest{Owner: acct(50), PeerID: "p50", PublicKey: k.PublicKey(),
		ProofOfPossession: k.ProofOfPossession(1, acct(50))})
	wantErr(t, "proof for another epoch", err, ErrInvalidSignature)
	// Invalid key bytes.
	_, err = f.c.RegisterNode(ctx, RegisterNodeRequest{Owner: acct(50), PeerID: "p50", PublicKey: bls.PublicKey{1}})
	wantErr(t, "invalid key", err, ErrInvalidPublicKey)
	// Key reuse.
	k0 := seedKey(t, 0)
	_, err = f.c.RegisterNode(ctx, RegisterNodeRequest{Owner: acct(50), PeerID: "p50", PublicKey: k0.PublicKey(),
		ProofOfPossession: k0.ProofOfPossession(0, acct(50))})
	wantErr(t, "key reuse", err, ErrAlreadyRegistered)
	// Staking more than the balance.
	k5 := seedKey(t, 51)
	_, err = f.c.RegisterNode(ctx, RegisterNodeRequest{Owner: acct(51), PeerID: "p51", PublicKey: k5.PublicKey(),
		ProofOfPossession: k5.ProofOfPossession(0, acct(51)), Stake: 5})
	wantErr(t, "stake without funds", err, ErrInsufficientFunds)
	_, err = f.c.RegisterNode(ctx, RegisterNodeRequest{Owner: acct(51), PeerID: "", PublicKey: k5.PublicKey()})
	wantErr(t, "empty peer ID", err, ErrBadRequest)

	// Delegation: account 7 delegates to node 3.
	if _, err := f.c.Faucet(ctx, acct(7), 1000); err != nil {
		t.Fatal(err)
	}
	n3, err := f.c.Stake(ctx, acct(7), f.nodes[3].ID, 250)
	if err != nil || n3.Stake != 350 {
		t.Fatalf("delegate: %+v %v", n3, err)
	}
	_, err = f.c.Stake(ctx, acct(7), f.nodes[3].ID, 10_000)
	wantErr(t, "delegate beyond balance", err, ErrInsufficientFunds)
	_, err = f.c.Unstake(ctx, acct(7), f.nodes[3].ID, 251)
	wantErr(t, "unstake beyond stake", err, ErrInsufficientFunds)
	_, err = f.c.Stake(ctx, acct(7), ID{1}, 1)
	wantErr(t, "stake with unknown node", err, ErrNotFound)

	st := f.advance()
	if st.Epoch != 1 {
		t.Fatalf("epoch %d", st.Epoch)
	}
	c := f.committee()
	if c.Epoch != 1 || c.NShards != testShards || len(c.Members) != 4 {
		t.Fatalf("committee %+v", c)
	}
	// Stakes 400, 300, 200, 350 over 10 shards, cap 5: D'Hondt in node-ID order.
	stakes := map[ID]uint64{}
	for _, n := range f.nodes {
		stakes[n.ID] = n.Stake
	}
	stakes[f.nodes[3].ID] = 350
	total := 0
	for i, m := range c.Members {
		if i > 0 && c.Members[i-1].NodeID.Compare(m.NodeID) >= 0 {
			t.Fatal("members not sorted by node ID")
		}
		if m.Weight != len(m.Shards) || m.Stake != stakes[m.NodeID] {
			t.Fatalf("member %d: %+v", i, m)
		}
		n, err := f.c.Node(ctx, m.NodeID)
		if err != nil || n.PeerID != m.PeerID || n.PublicKey != m.PublicKey || !slices.Equal(n.Addresses, m.Addresses) {
			t.Fatalf("member %d does not match node: %+v %v", i, n, err)
		}
		total += m.Weight
	}
	if total != testShards {
		t.Fatalf("%d shards assigned", total)
	}
	ss := make([]uint64, len(c.Members))
	for i, m := range c.Members {
		ss[i] = m.Stake
	}
	want, _ := Apportion(testShards, ss)
	for i, m := range c.Members {
		if m.Weight != want[i] {
			t.Fatalf("weights differ from Apportion: member %d has %d, want %d", i, m.Weight, want[i])
		}
	}
	// First committee: shards sequential in node-ID order (F13.2).
	next := 0
	for _, m := range c.Members {
		for _, s := range m.Shards {
			if int(s) != next {
				t.Fatalf("first committee not sequential: %v", c.Members)
			}
			next++
		}
	}
	ns, err := f.c.Nodes(ctx)
	if err != nil || len(ns) != 4 {
		t.Fatalf("nodes: %d %v", len(ns), err)
	}
	// Update network info (owner only).
	up, err := f.c.UpdateNode(ctx, UpdateNodeRequest{Owner: acct(0), NodeID: f.nodes[0].ID, PeerID: "newpeer", Addresses: []string{"/dns/x/tcp/1"}})
	if err != nil || up.PeerID != "newpeer" {
		t.Fatalf("update: %+v %v", up, err)
	}
	if m := f.committee().Members; m[f.committee().Index(f.nodes[0].ID)].PeerID != "newpeer" {
		t.Fatalf("committee does not show the updated peer ID: %+v", m)
	}
	_, err = f.c.UpdateNode(ctx, UpdateNodeRequest{Owner: acct(1), NodeID: f.nodes[0].ID, PeerID: "x"})
	wantErr(t, "update by non-owner", err, ErrNotOwner)
}

func testCertificates(t *testing.T, nh newHarness) {
	f := newFixture(t, nh, []uint64{100, 100, 100, 100, 100})
	ctx := f.ctx
	c := f.committee()
	v, err := c.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	r := f.register(mkBlob(1, 1000), false, 3)
	b := r.Blob
	epoch := f.epoch()
	msg := codec.StorageConfirmationMessage(epoch, b.BlobID, b.Persistence())
	enough, short := quorumSigners(c)

	// Each rejected certificate: the node-side verifier (Committee.Verifier,
	// as node/ uses it) must agree with the ledger on the certificate part.
	type bad struct {
		name string
		cert Certificate
		want error
	}
	forged := f.cert(c, msg, enough...)
	other := enough[0]
	for slices.Contains(enough, other) {
		other = (other + 1) % len(c.Members)
	}
	forged.Signers, _ = bls.SignersToBitmap(len(c.Members), toU16(append(slices.Clone(enough[1:]), other)))
	dup := f.cert(c, msg, enough...)
	{ // the first signer's signature aggregated twice
		sigs := []bls.Signature{dup.Signature, f.keys[c.Members[enough[0]].NodeID].Sign(msg)}
		dup.Signature, _ = bls.Aggregate(sigs)
	}
	stray := f.cert(c, msg, enough...)
	stray.Signers = slices.Clone(stray.Signers)
	stray.Signers[len(stray.Signers)-1] |= 0x80 // 5 members: bit 7 is past the end
	long := f.cert(c, msg, enough...)
	long.Signers = append(slices.Clone(long.Signers), 0)
	otherMsg := codec.StorageConfirmationMessage(epoch, mkBlob(2, 5).id, codec.BlobPersistence{})
	swapped := f.cert(c, msg, enough...)
	swapped.Message = otherMsg // signature over msg, message claims another blob
	cases := []bad{
		{"one short of quorum", f.cert(c, msg, short...), ErrQuorum},
		{"wrong epoch", f.cert(c, codec.StorageConfirmationMessage(epoch+1, b.BlobID, b.Persistence()), enough...), ErrWrongEpoch},
		{"old epoch", f.cert(c, codec.StorageConfirmationMessage(epoch-1, b.BlobID, b.Persistence()), enough...), ErrWrongEpoch},
		{"forged signer", forged, ErrInvalidSignature},
		{"duplicated signer", dup, ErrInvalidSignature},
		{"stray bitmap bit", stray, ErrBadBitmap},
		{"bitmap too long", long, ErrBadBitmap},
		{"message of another blob, validly signed", f.cert(c, otherMsg, enough...), ErrMessageMismatch},
		{"message differs from the signed one", swapped, ErrInvalidSignature},
		{"deletable confirmation for a permanent blob",
			f.cert(c, codec.StorageConfirmationMessage(epoch, b.BlobID, codec.BlobPersistence{Deletable: true, ObjectID: b.ObjectID.ObjectID()}), enough...),
			ErrMessageMismatch},
		{"invalid-blob message", f.cert(c, codec.InvalidBlobIDMessage(epoch, b.BlobID), enough...), ErrBadMessage},
		{"garbage message", Certificate{Signature: forged.Signature, Signers: forged.Signers, Message: []byte{1, 2}}, ErrBadMessage},
	}
	for _, tc := range cases {
		_, err := f.c.CertifyBlob(ctx, b.ObjectID, tc.cert)
		wantErr(t, tc.name, err, tc.want)
		// Node-side verification of the certificate itself.
		_, verr := v.Verify(bls.Quorum, tc.cert.Message, tc.cert.Signature, tc.cert.Signers)
		switch tc.want {
		case ErrQuorum, ErrInvalidSignature, ErrBadBitmap:
			if !errors.Is(verr, tc.want) {
				t.Fatalf("%s: node verifier says %v, ledger %v", tc.name, verr, tc.want)
			}
		case ErrMessageMismatch, ErrWrongEpoch:
			if verr != nil {
				t.Fatalf("%s: node verifier rejects a valid signature: %v", tc.name, verr)
			}
		}
	}
	_, err = f.c.CertifyBlob(ctx, ID{9}, f.cert(c, msg, enough...))
	wantErr(t, "unknown object", err, ErrNotFound)
	// Nothing above changed the blob.
	got, err := f.c.Blob(ctx, b.ObjectID)
	if err != nil || got.CertifiedEpoch != nil {
		t.Fatalf("rejected certificates changed the blob: %+v %v", got, err)
	}

	good := f.cert(c, msg, enough...)
	if _, err := v.Verify(bls.Quorum, good.Message, good.Signature, good.Signers); err != nil {
		t.Fatalf("node verifier rejects a valid certificate: %v", err)
	}
	cb, err := f.c.CertifyBlob(ctx, b.ObjectID, good)
	if err != nil || cb.CertifiedEpoch == nil || *cb.CertifiedEpoch != epoch {
		t.Fatalf("certify: %+v %v", cb, err)
	}
	_, err = f.c.CertifyBlob(ctx, b.ObjectID, good)
	wantErr(t, "certify twice", err, ErrAlreadyCertified)

	// All members also certify (another blob).
	r2 := f.register(mkBlob(3, 10), false, 1)
	all := make([]int, len(c.Members))
	for i := range all {
		all[i] = i
	}
	if _, err := f.c.CertifyBlob(ctx, r2.Blob.ObjectID, f.cert(c, codec.StorageConfirmationMessage(epoch, r2.Blob.BlobID, codec.BlobPersistence{}), all...)); err != nil {
		t.Fatal(err)
	}
	// After expiry certification fails.
	r3 := f.register(mkBlob(4, 10), false, 1)
	f.advance()
	c2 := f.committee()
	e2, _ := quorumSigners(c2)
	_, err = f.c.CertifyBlob(ctx, r3.Blob.ObjectID, f.cert(c2, codec.StorageConfirmationMessage(f.epoch(), r3.Blob.BlobID, codec.BlobPersistence{}), e2...))
	wantErr(t, "certify expired", err, ErrExpired)
	// A certificate of last epoch's committee is refused by epoch.
	r4 := f.register(mkBlob(5, 10), false, 2)
	_, err = f.c.CertifyBlob(ctx, r4.Blob.ObjectID, f.cert(c, codec.StorageConfirmationMessage(epoch, r4.Blob.BlobID, codec.BlobPersistence{}), enough...))
	wantErr(t, "previous epoch's certificate", err, ErrWrongEpoch)

	// Events of the certification carry the F9.5 fields.
	evs := collect(t, f.c, 0, EventBlobCertified)
	if len(evs) != 2 || evs[0].BlobID != b.BlobID || evs[0].ObjectID != b.ObjectID || evs[0].EndEpoch != b.Storage.EndEpoch || evs[0].Epoch != epoch || evs[0].IsExtension {
		t.Fatalf("certified events: %+v", evs)
	}
}

func toU16(xs []int) []uint16 {
	out := make([]uint16, len(xs))
	for i, x := range xs {
		out[i] = uint16(x)
	}
	return out
}

func testCertifyDeletable(t *testing.T, nh newHarness) {
	f := newFixture(t, nh, []uint64{100, 100, 100, 100})
	c := f.committee()
	enough, _ := quorumSigners(c)
	epoch := f.epoch()
	r := f.register(mkBlob(1, 100), true, 2)
	b := r.Blob
	// Permanent message for a deletable blob, then the wrong object ID.
	_, err := f.c.CertifyBlob(f.ctx, b.ObjectID, f.cert(c, codec.StorageConfirmationMessage(epoch, b.BlobID, codec.BlobPersistence{}), enough...))
	wantErr(t, "permanent message for deletable blob", err, ErrMessageMismatch)
	_, err = f.c.CertifyBlob(f.ctx, b.ObjectID, f.cert(c, codec.StorageConfirmationMessage(epoch, b.BlobID, codec.BlobPersistence{Deletable: true, ObjectID: codec.ObjectID{1}}), enough...))
	wantErr(t, "other object ID", err, ErrMessageMismatch)
	if got := f.certify(b); got.CertifiedEpoch == nil {
		t.Fatal("not certified")
	}
	st, err := f.c.BlobStatus(f.ctx, b.BlobID)
	if err != nil || st.DeletableRegistered != 1 || st.DeletableCertified != 1 || !st.Certified() || st.PermanentEndEpoch != 0 {
		t.Fatalf("status %+v %v", st, err)
	}
}

func testRegisterBlobRules(t *testing.T, nh newHarness) {
	f := newFixture(t, nh, []uint64{100, 100, 100, 100}, WithPrices(7, 3), WithMaxEpochsAhead(5))
	ctx := f.ctx
	b := mkBlob(1, 1<<20)
	req := RegisterBlobRequest{Owner: f.user, BlobID: b.id, RootHash: b.root, Size: b.size, EncodingType: codec.EncodingTypeRS2, EpochsAhead: 2}

	bad := req
	bad.Size++
	_, err := f.c.RegisterBlob(ctx, bad)
	wantErr(t, "size not matching the blob ID", err, ErrBlobIDMismatch)
	bad = req
	bad.RootHash[5] ^= 1
	_, err = f.c.RegisterBlob(ctx, bad)
	wantErr(t, "root hash not matching", err, ErrBlobIDMismatch)
	bad = req
	bad.EncodingType = 0
	_, err = f.c.RegisterBlob(ctx, bad)
	wantErr(t, "encoding type", err, ErrEncodingType)
	bad = req
	bad.EpochsAhead = 6
	_, err = f.c.RegisterBlob(ctx, bad)
	wantErr(t, "too far ahead", err, ErrTooFarAhead)
	bad = req
	bad.EpochsAhead = 0
	_, err = f.c.RegisterBlob(ctx, bad)
	wantErr(t, "zero epochs", err, ErrBadRequest)
	bad = req
	bad.Owner = acct(1023)
	_, err = f.c.RegisterBlob(ctx, bad)
	wantErr(t, "no funds", err, ErrInsufficientFunds)
	huge := mkBlob(9, 1<<40)
	_, err = f.c.RegisterBlob(ctx, RegisterBlobRequest{Owner: f.user, BlobID: huge.id, RootHash: huge.root, Size: huge.size, EncodingType: codec.EncodingTypeRS2, EpochsAhead: 1})
	wantErr(t, "too large", err, ErrBlobTooLarge)

	before, _ := f.c.Account(ctx, f.user)
	r, err := f.c.RegisterBlob(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := codec.NewParams(testShards)
	enc, _ := p.EncodedLength(b.size)
	units := (enc + BytesPerUnit - 1) / BytesPerUnit
	if r.StorageCost != 7*units*2 || r.WriteCost != 3*units {
		t.Fatalf("costs %d/%d, want %d/%d (encoded %d)", r.StorageCost, r.WriteCost, 7*units*2, 3*units, enc)
	}
	after, _ := f.c.Account(ctx, f.user)
	if before.Balance-after.Balance != r.StorageCost+r.WriteCost {
		t.Fatalf("charged %d", before.Balance-after.Balance)
	}
	bl := r.Blob
	if bl.Storage.Size != enc || bl.Storage.StartEpoch != f.epoch() || bl.Storage.EndEpoch != f.epoch()+2 || bl.Size != b.size || bl.BlobID != b.id || bl.RegisteredEpoch != f.epoch() {
		t.Fatalf("blob %+v", bl)
	}
	evs := collect(t, f.c, 0, EventBlobRegistered)
	if len(evs) != 1 {
		t.Fatalf("events %+v", evs)
	}
	e := evs[0]
	if e.BlobID != b.id || e.Size != b.size || e.EncodingType != codec.EncodingTypeRS2 || e.EndEpoch != bl.Storage.EndEpoch || e.Deletable || e.ObjectID != bl.ObjectID || e.Epoch != f.epoch() {
		t.Fatalf("BlobRegistered %+v", e)
	}

	// Own storage: too small, then enough.
	small, cost, err := f.c.ReserveSpace(ctx, f.user, enc-1, 3)
	if err != nil || cost != 7*units*3 && (enc-1+BytesPerUnit-1)/BytesPerUnit == units {
		t.Fatalf("reserve: %v %d", err, cost)
	}
	b2 := mkBlob(2, 1<<20)
	_, err = f.c.RegisterBlob(ctx, RegisterBlobRequest{Owner: f.user, BlobID: b2.id, RootHash: b2.root, Size: b2.size, EncodingType: codec.EncodingTypeRS2, StorageID: small.ID})
	wantErr(t, "storage too small", err, ErrStorageTooSmall)
	_, _, err = f.c.ReserveSpace(ctx, f.user, enc, 6)
	wantErr(t, "reserve too far", err, ErrTooFarAhead)
	fit, _, err := f.c.ReserveSpace(ctx, f.user, enc, 3)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.c.RegisterBlob(ctx, RegisterBlobRequest{Owner: acct(0), BlobID: b2.id, RootHash: b2.root, Size: b2.size, EncodingType: codec.EncodingTypeRS2, StorageID: fit.ID})
	wantErr(t, "someone else's storage", err, ErrNotOwner)
	r2, err := f.c.RegisterBlob(ctx, RegisterBlobRequest{Owner: f.user, BlobID: b2.id, RootHash: b2.root, Size: b2.size, EncodingType: codec.EncodingTypeRS2, StorageID: fit.ID})
	if err != nil || r2.StorageCost != 0 || r2.Blob.Storage != fit {
		t.Fatalf("register on own storage: %+v %v", r2, err)
	}
	_, err = f.c.RegisterBlob(ctx, RegisterBlobRequest{Owner: f.user, BlobID: b2.id, RootHash: b2.root, Size: b2.size, EncodingType: codec.EncodingTypeRS2, StorageID: fit.ID})
	wantErr(t, "storage used twice", err, ErrNotFound)
	// The same blob can be registered twice (two objects).
	r3 := f.register(b, false, 1)
	st, err := f.c.BlobStatus(ctx, b.id)
	if err != nil || !st.Exists || len(st.Objects) != 2 || st.Certified() || st.PermanentEndEpoch != bl.Storage.EndEpoch || !slices.Contains(st.Objects, r3.Blob.ObjectID) {
		t.Fatalf("status %+v %v", st, err)
	}
	st, err = f.c.BlobStatus(ctx, mkBlob(77, 1).id)
	if err != nil || st.Exists {
		t.Fatalf("status of unknown blob %+v %v", st, err)
	}
}

func testDeleteExtendStatus(t *testing.T, nh newHarness) {
	f := newFixture(t, nh, []uint64{100, 100, 100, 100}, WithMaxEpochsAhead(4))
	ctx := f.ctx
	perm := f.register(mkBlob(1, 10), false, 2).Blob
	del := f.register(mkBlob(2, 10), true, 2).Blob
	_, err := f.c.DeleteBlob(ctx, f.user, perm.ObjectID)
	wantErr(t, "delete permanent", err, ErrNotDeletable)
	_, err = f.c.DeleteBlob(ctx, acct(3), del.ObjectID)
	wantErr(t, "delete by non-owner", err, ErrNotOwner)
	_, _, err = f.c.ExtendBlob(ctx, f.user, perm.ObjectID, 1)
	wantErr(t, "extend uncertified", err, ErrNotCertified)

	del = f.certify(del)
	st, err := f.c.DeleteBlob(ctx, f.user, del.ObjectID)
	if err != nil || st != del.Storage {
		t.Fatalf("delete: %+v %v", st, err)
	}
	_, err = f.c.Blob(ctx, del.ObjectID)
	wantErr(t, "deleted blob", err, ErrNotFound)
	_, err = f.c.DeleteBlob(ctx, f.user, del.ObjectID)
	wantErr(t, "delete twice", err, ErrNotFound)
	evs := collect(t, f.c, 0, EventBlobDeleted)
	if len(evs) != 1 || evs[0].BlobID != del.BlobID || evs[0].ObjectID != del.ObjectID || !evs[0].WasCertified || evs[0].EndEpoch != del.Storage.EndEpoch {
		t.Fatalf("BlobDeleted %+v", evs)
	}
	// The returned storage is reusable.
	b3 := mkBlob(3, 10)
	if _, err := f.c.RegisterBlob(ctx, RegisterBlobRequest{Owner: f.user, BlobID: b3.id, RootHash: b3.root, Size: b3.size, EncodingType: codec.EncodingTypeRS2, StorageID: st.ID}); err != nil {
		t.Fatalf("reuse returned storage: %v", err)
	}

	perm = f.certify(perm)
	_, _, err = f.c.ExtendBlob(ctx, f.user, perm.ObjectID, 3) // end 1+2+3 - 1 = 5 > 4
	wantErr(t, "extend too far", err, ErrTooFarAhead)
	_, _, err = f.c.ExtendBlob(ctx, acct(1022), perm.ObjectID, 1)
	wantErr(t, "extend without funds", err, ErrInsufficientFunds)
	ext, cost, err := f.c.ExtendBlob(ctx, f.user, perm.ObjectID, 2)
	if err != nil || ext.Storage.EndEpoch != perm.Storage.EndEpoch+2 || cost == 0 {
		t.Fatalf("extend: %+v %d %v", ext, cost, err)
	}
	evs = collect(t, f.c, 0, EventBlobCertified)
	last := evs[len(evs)-1]
	if !last.IsExtension || last.EndEpoch != ext.Storage.EndEpoch || last.ObjectID != perm.ObjectID {
		t.Fatalf("extension event %+v", last)
	}
	s, err := f.c.BlobStatus(ctx, perm.BlobID)
	if err != nil || !s.PermanentCertified || s.CertifiedEndEpoch != ext.Storage.EndEpoch || s.InitialCertifiedEpoch == nil || *s.InitialCertifiedEpoch != 1 {
		t.Fatalf("status %+v %v", s, err)
	}
	// Run the blob out: after its end epoch it is expired everywhere.
	for f.epoch() < ext.Storage.EndEpoch {
		f.advance()
	}
	s, _ = f.c.BlobStatus(ctx, perm.BlobID)
	if s.Exists || s.Certified() {
		t.Fatalf("expired blob still live: %+v", s)
	}
	_, _, err = f.c.ExtendBlob(ctx, f.user, perm.ObjectID, 1)
	wantErr(t, "extend expired", err, ErrExpired)
}

func testInvalidate(t *testing.T, nh newHarness) {
	// Weights over 10 shards with 4 equal nodes: 3,3,2,2. f+1 rule: 3w ≥ 11.
	f := newFixture(t, nh, []uint64{100, 100, 100, 100})
	c := f.committee()
	epoch := f.epoch()
	b := f.register(mkBlob(1, 10), false, 2).Blob
	msg := codec.InvalidBlobIDMessage(epoch, b.BlobID)
	light := -1
	for i, m := range c.Members {
		if m.Weight*3 < testShards+1 {
			light = i
		}
	}
	_, err := f.c.InvalidateBlobID(f.ctx, f.cert(c, msg, light))
	wantErr(t, "below f+1", err, ErrQuorum)
	_, err = f.c.InvalidateBlobID(f.ctx, f.cert(c, codec.InvalidBlobIDMessage(epoch+1, b.BlobID), 0, 1))
	wantErr(t, "wrong epoch", err, ErrWrongEpoch)
	_, err = f.c.InvalidateBlobID(f.ctx, f.cert(c, codec.StorageConfirmationMessage(epoch, b.BlobID, codec.BlobPersistence{}), 0, 1))
	wantErr(t, "confirmation instead of invalid", err, ErrBadMessage)
	heavy := []int{}
	w := 0
	for i, m := range c.Members {
		if !bls.OneCorrect.Reached(w, testShards) {
			heavy = append(heavy, i)
			w += m.Weight
		}
	}
	id, err := f.c.InvalidateBlobID(f.ctx, f.cert(c, msg, heavy...))
	if err != nil || id != b.BlobID {
		t.Fatalf("invalidate: %v", err)
	}
	st, _ := f.c.BlobStatus(f.ctx, b.BlobID)
	if !st.Invalid {
		t.Fatalf("status %+v", st)
	}
	evs := collect(t, f.c, 0, EventInvalidBlobID)
	if len(evs) != 1 || evs[0].BlobID != b.BlobID || evs[0].Epoch != epoch {
		t.Fatalf("InvalidBlobID events %+v", evs)
	}
}

func testFees(t *testing.T, nh newHarness) {
	f := newFixture(t, nh, []uint64{300, 100}, WithPrices(1000, 0))
	ctx := f.ctx
	// A delegator with 100 on node 1: stakes 300 / 100+100.
	if _, err := f.c.Faucet(ctx, acct(77), 100); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.Stake(ctx, acct(77), f.nodes[1].ID, 100); err != nil {
		t.Fatal(err)
	}
	f.advance() // epoch 2: the committee counts the delegation
	balances := func() []uint64 {
		var out []uint64
		for _, a := range []ID{acct(0), acct(1), acct(77)} {
			x, _ := f.c.Account(ctx, a)
			out = append(out, x.Balance)
		}
		return out
	}
	b0 := balances()
	// 1 unit for 2 epochs: 1000 per epoch into epochs 2 and 3.
	if _, cost, err := f.c.ReserveSpace(ctx, f.user, 1, 2); err != nil || cost != 2000 {
		t.Fatalf("reserve: %d %v", cost, err)
	}
	f.advance() // pays epoch 2's 1000: 600 / 200 / 200
	b1 := balances()
	want := []uint64{600, 200, 200}
	for i := range want {
		if b1[i]-b0[i] != want[i] {
			t.Fatalf("payout %v → %v, want +%v", b0, b1, want)
		}
	}
	a, _ := f.c.Account(ctx, acct(77))
	if a.Rewards != 200 {
		t.Fatalf("rewards %d", a.Rewards)
	}
	f.advance()
	b2 := balances()
	for i := range want {
		if b2[i]-b1[i] != want[i] {
			t.Fatalf("second payout %v → %v", b1, b2)
		}
	}
	f.advance()
	if b3 := balances(); !slices.Equal(b3, b2) {
		t.Fatalf("paid after the storage ended: %v → %v", b2, b3)
	}
	// Unstake is a withdrawal request: the stake leaves the node at once
	// and earns nothing more; the balance is credited at the advance to
	// e+2.
	e := f.epoch()
	n1, err := f.c.Unstake(ctx, acct(77), f.nodes[1].ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Withdrawal{{Staker: acct(77), Amount: 100, CreditEpoch: e + 2}}; n1.Stake != 100 || !slices.Equal(n1.Withdrawals, want) {
		t.Fatalf("after unstake: stake %d, withdrawals %+v, want %+v", n1.Stake, n1.Withdrawals, want)
	}
	if b := balances(); !slices.Equal(b, b2) {
		t.Fatalf("unstake credited at once: %v → %v", b2, b)
	}
	// Fees paid into epoch e go to the stake still staked: 300 / 100.
	if _, cost, err := f.c.ReserveSpace(ctx, f.user, 1, 1); err != nil || cost != 1000 {
		t.Fatalf("reserve: %d %v", cost, err)
	}
	f.advance() // e+1: epoch e's fees paid, the withdrawal still pending
	b4 := balances()
	if want := []uint64{b2[0] + 750, b2[1] + 250, b2[2]}; !slices.Equal(b4, want) {
		t.Fatalf("payout with a pending withdrawal: %v, want %v", b4, want)
	}
	if n, _ := f.c.Node(ctx, f.nodes[1].ID); len(n.Withdrawals) != 1 {
		t.Fatalf("withdrawal gone before e+2: %+v", n.Withdrawals)
	}
	f.advance() // e+2: credited
	b5 := balances()
	if want := []uint64{b4[0], b4[1], b4[2] + 100}; !slices.Equal(b5, want) {
		t.Fatalf("at e+2: %v, want %v", b5, want)
	}
	if a, _ := f.c.Account(ctx, acct(77)); a.Balance != 100+400 || a.Rewards != 400 {
		t.Fatalf("after the credit: %+v", a)
	}
	if n, _ := f.c.Node(ctx, f.nodes[1].ID); n.Withdrawals != nil {
		t.Fatalf("credited withdrawal still pending: %+v", n.Withdrawals)
	}
}

func testEpochSync(t *testing.T, nh newHarness) {
	f := newFixture(t, nh, []uint64{100, 100, 100, 100})
	ctx := f.ctx
	state := func() EpochState {
		t.Helper()
		s, err := f.c.EpochState(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	epochEvents := func(evs []Event) []EventType {
		var out []EventType
		for _, e := range evs {
			switch e.Type {
			case EventEpochChangeStart, EventEpochChangeDone, EventShardsReceived:
				out = append(out, e.Type)
			}
		}
		return out
	}
	// The first committee has nobody to fetch from: the change is done at
	// the advance, with no report counted.
	evs := collect(t, f.c, 0, "")
	if got := epochEvents(evs); !slices.Equal(got, []EventType{EventEpochChangeStart, EventEpochChangeDone}) {
		t.Fatalf("epoch events %v", got)
	}
	if s := state(); s.Phase != PhaseChangeDone || s.SyncDoneWeight != 0 || s.SyncDoneNodes != nil {
		t.Fatalf("first epoch: %+v", s)
	}
	// A member may still report: ShardsReceived, no second EpochChangeDone.
	c1 := f.committee()
	if err := f.c.EpochSyncDone(ctx, c1.Members[2].NodeID, c1.Epoch); err != nil {
		t.Fatal(err)
	}
	if s := state(); s.Phase != PhaseChangeDone || s.SyncDoneWeight != c1.Members[2].Weight ||
		!slices.Equal(s.SyncDoneNodes, []ID{c1.Members[2].NodeID}) {
		t.Fatalf("after a report in the first epoch: %+v", s)
	}
	last := evs[len(evs)-1].Cursor
	if got := epochEvents(collect(t, f.c, last, "")); !slices.Equal(got, []EventType{EventShardsReceived}) {
		t.Fatalf("events of a report in the first epoch: %v", got)
	}

	// A registered node outside the committee (no stake): its report,
	// signed by its own key, is refused by the ledger's rule.
	sk := seedKey(t, 9)
	stranger, err := f.c.RegisterNode(ctx, RegisterNodeRequest{Owner: acct(9), Name: "stranger", PeerID: "12D3KooWstranger",
		PublicKey: sk.PublicKey(), ProofOfPossession: sk.ProofOfPossession(f.epoch(), acct(9))})
	if err != nil {
		t.Fatal(err)
	}
	// Same stakes: no shard moves, yet nobody is counted at the advance.
	last = lastCursor(t, f.c)
	st := f.advance()
	if st.Phase != PhaseChangeSync || st.SyncDoneWeight != 0 || st.SyncDoneNodes != nil {
		t.Fatalf("advance with a previous committee: %+v", st)
	}
	c := f.committee()
	err = f.c.EpochSyncDone(ctx, c.Members[0].NodeID, st.Epoch-1)
	wantErr(t, "sync for old epoch", err, ErrWrongEpoch)
	err = f.c.EpochSyncDone(ctx, c.Members[0].NodeID, st.Epoch+1)
	wantErr(t, "sync for a future epoch", err, ErrWrongEpoch)
	err = f.c.EpochSyncDone(ctx, stranger.ID, st.Epoch)
	wantErr(t, "sync by non-member", err, ErrNotInCommittee)
	// Report from the last member down: the phase turns exactly at quorum,
	// and every report, also after it, emits ShardsReceived.
	var want []EventType
	w := 0
	var reported []ID
	for i := len(c.Members) - 1; i >= 0; i-- {
		m := c.Members[i]
		if err := f.c.EpochSyncDone(ctx, m.NodeID, st.Epoch); err != nil {
			t.Fatalf("report of member %d: %v", i, err)
		}
		wasDone := bls.Quorum.Reached(w, testShards)
		w += m.Weight
		reported = append([]ID{m.NodeID}, reported...) // members are in ID order
		want = append(want, EventShardsReceived)
		if !wasDone && bls.Quorum.Reached(w, testShards) {
			want = append(want, EventEpochChangeDone)
		}
		s := state()
		wantPhase := PhaseChangeSync
		if bls.Quorum.Reached(w, testShards) {
			wantPhase = PhaseChangeDone
		}
		if s.Phase != wantPhase || s.SyncDoneWeight != w || !slices.Equal(s.SyncDoneNodes, reported) {
			t.Fatalf("after %d reports (%d shards): %+v, want phase %s", len(reported), w, s, wantPhase)
		}
		err := f.c.EpochSyncDone(ctx, m.NodeID, st.Epoch)
		wantErr(t, "second report", err, ErrSyncDone)
	}
	evs = collect(t, f.c, last, "")
	if got := epochEvents(evs); !slices.Equal(got, append([]EventType{EventEpochChangeStart}, want...)) {
		t.Fatalf("epoch events %v, want start then %v", got, want)
	}
	for _, e := range evs {
		if e.Type == EventShardsReceived {
			m := c.Members[c.Index(e.NodeID)]
			if e.Epoch != st.Epoch || !slices.Equal(e.Shards, m.Shards) {
				t.Fatalf("ShardsReceived %+v for member %+v", e, m)
			}
		}
	}

	// A fifth node with a big stake takes shards from everyone: the same
	// rule, with members that lost shards counting their new weight.
	n5 := f.addNode(5, 1000)
	st = f.advance()
	if st.Phase != PhaseChangeSync || st.SyncDoneWeight != 0 {
		t.Fatalf("advance with a newcomer: %+v", st)
	}
	c = f.committee()
	if c.Index(n5.ID) < 0 {
		t.Fatal("new node not in committee")
	}
	for _, m := range c.Members {
		if err := f.c.EpochSyncDone(ctx, m.NodeID, st.Epoch); err != nil {
			t.Fatal(err)
		}
	}
	if s := state(); s.Phase != PhaseChangeDone || s.SyncDoneWeight != testShards || len(s.SyncDoneNodes) != len(c.Members) {
		t.Fatalf("after all reported: %+v", s)
	}
	err = f.c.EpochSyncDone(ctx, n5.ID, st.Epoch)
	wantErr(t, "second sync done", err, ErrSyncDone)
}

// lastCursor returns the cursor of the last event so far (0 if none).
func lastCursor(t *testing.T, c Chain) uint64 {
	t.Helper()
	evs := collect(t, c, 0, "")
	if len(evs) == 0 {
		return 0
	}
	return evs[len(evs)-1].Cursor
}

// testWithdrawals: Unstake takes the stake out of the next committee
// selection at once and credits it at the advance to e+2; a node with no
// stake left leaves the next committee; an empty committee completes its
// change at once.
func testWithdrawals(t *testing.T, nh newHarness) {
	f := newFixture(t, nh, []uint64{100, 100, 100, 100})
	ctx := f.ctx
	node0 := f.nodes[0].ID
	del := acct(77)
	if _, err := f.c.Faucet(ctx, del, 1000); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.Stake(ctx, del, node0, 300); err != nil {
		t.Fatal(err)
	}
	bal := func(a ID) uint64 {
		t.Helper()
		x, err := f.c.Account(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		return x.Balance
	}
	withdrawals := func() []Withdrawal {
		t.Helper()
		n, err := f.c.Node(ctx, node0)
		if err != nil {
			t.Fatal(err)
		}
		return n.Withdrawals
	}
	delBal, ownerBal := bal(del), bal(acct(0))
	e := f.epoch()
	// Two requests in one epoch merge; another staker's sorts by address.
	for _, amt := range []uint64{100, 50} {
		if _, err := f.c.Unstake(ctx, del, node0, amt); err != nil {
			t.Fatal(err)
		}
	}
	n, err := f.c.Unstake(ctx, acct(0), node0, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := []Withdrawal{{acct(0), 100, e + 2}, {del, 150, e + 2}}
	if n.Stake != 150 || !slices.Equal(n.Withdrawals, want) || !slices.Equal(withdrawals(), want) {
		t.Fatalf("node after unstaking: stake %d, withdrawals %+v, want %+v", n.Stake, n.Withdrawals, want)
	}
	if bal(del) != delBal || bal(acct(0)) != ownerBal {
		t.Fatal("unstake credited the balance at once")
	}
	_, err = f.c.Unstake(ctx, acct(0), node0, 1)
	wantErr(t, "unstake of a pending withdrawal", err, ErrInsufficientFunds)

	f.advance() // e+1: the committee counts 150 for node 0
	c1 := f.committee()
	if i := c1.Index(node0); i < 0 || c1.Members[i].Stake != 150 {
		t.Fatalf("committee of e+1: %+v", c1.Members)
	}
	if bal(del) != delBal || !slices.Equal(withdrawals(), want) {
		t.Fatal("withdrawal credited before e+2")
	}
	// The rest in e+1: node 0 has no stake left.
	if _, err := f.c.Unstake(ctx, del, node0, 150); err != nil {
		t.Fatal(err)
	}
	want = append(want, Withdrawal{del, 150, e + 3})
	if !slices.Equal(withdrawals(), want) {
		t.Fatalf("withdrawals %+v, want %+v", withdrawals(), want)
	}
	f.c = f.h.restart(t)
	if !slices.Equal(withdrawals(), want) {
		t.Fatalf("withdrawals after restart %+v, want %+v", withdrawals(), want)
	}

	f.advance() // e+2: the first two credited; node 0 leaves the committee
	if bal(del) != delBal+150 || bal(acct(0)) != ownerBal+100 {
		t.Fatalf("at e+2: balances %d, %d", bal(del)-delBal, bal(acct(0))-ownerBal)
	}
	if w := withdrawals(); !slices.Equal(w, want[2:]) {
		t.Fatalf("withdrawals at e+2 %+v", w)
	}
	if c := f.committee(); c.Index(node0) >= 0 || len(c.Members) != 3 {
		t.Fatalf("node without stake in the committee of e+2: %+v", c.Members)
	}
	f.advance() // e+3
	if bal(del) != delBal+300 || withdrawals() != nil {
		t.Fatalf("at e+3: balance +%d, withdrawals %+v", bal(del)-delBal, withdrawals())
	}

	// Everyone leaves: the empty committee completes its change at once.
	for i := 1; i < 4; i++ {
		if _, err := f.c.Unstake(ctx, acct(i), f.nodes[i].ID, 100); err != nil {
			t.Fatal(err)
		}
	}
	last := lastCursor(t, f.c)
	st := f.advance()
	if c := f.committee(); len(c.Members) != 0 || st.Phase != PhaseChangeDone {
		t.Fatalf("empty committee: %d members, phase %s", len(c.Members), st.Phase)
	}
	if got := collect(t, f.c, last, ""); len(got) != 2 || got[1].Type != EventEpochChangeDone {
		t.Fatalf("events of an empty committee %+v", got)
	}
}

func testCommitteeStability(t *testing.T, nh newHarness) {
	f := newFixture(t, nh, []uint64{100, 200, 300, 400})
	prev := f.committee()
	owner := func(c *Committee) map[uint16]ID {
		m := map[uint16]ID{}
		for _, x := range c.Members {
			for _, s := range x.Shards {
				m[s] = x.NodeID
			}
		}
		return m
	}
	for step := range 4 {
		switch step {
		case 0: // nothing changes
		case 1:
			if _, err := f.c.Stake(f.ctx, acct(0), f.nodes[0].ID, 300); err != nil {
				t.Fatal(err)
			}
		case 2:
			f.addNode(8, 250)
		case 3:
			if _, err := f.c.Unstake(f.ctx, acct(3), f.nodes[3].ID, 400); err != nil {
				t.Fatal(err)
			}
		}
		f.advance()
		next := f.committee()
		po, no := owner(prev), owner(next)
		moved := 0
		for s := range no {
			if po[s] != no[s] {
				moved++
			}
		}
		old := map[ID]int{}
		for _, m := range prev.Members {
			old[m.NodeID] = m.Weight
		}
		min := 0
		for _, m := range next.Members {
			min += max(0, m.Weight-old[m.NodeID])
		}
		if moved != min || len(no) != testShards {
			t.Fatalf("step %d: moved %d shards, minimum %d", step, moved, min)
		}
		if step == 0 && moved != 0 {
			t.Fatal("unchanged stake moved shards")
		}
		if step == 3 && next.Index(f.nodes[3].ID) >= 0 {
			t.Fatal("node without stake still in committee")
		}
		prev = next
	}
}

// collect reads all current events (of type typ, or all if empty) from
// cursor after, without blocking past the last one.
func collect(t *testing.T, c Chain, after uint64, typ EventType) []Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Learn the last cursor by appending nothing: read until a short
	// timeout finds no more.
	s, err := c.Events(ctx, after)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out []Event
	next := after + 1
	for {
		nctx, ncancel := context.WithTimeout(ctx, 300*time.Millisecond)
		e, err := s.Next(nctx)
		ncancel()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return out
			}
			t.Fatal(err)
		}
		if e.Cursor != next {
			t.Fatalf("cursor %d, want %d", e.Cursor, next)
		}
		next++
		if typ == "" || e.Type == typ {
			out = append(out, e)
		}
	}
}

func testEventsResume(t *testing.T, nh newHarness) {
	f := newFixture(t, nh, []uint64{100, 100, 100, 100})
	ctx := f.ctx
	var seen []Event
	s, err := f.c.Events(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	read := func(s EventStream, k int) {
		t.Helper()
		for range k {
			e, err := s.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			seen = append(seen, e)
		}
	}
	read(s, 3)
	s.Close()
	// Activity while disconnected.
	for i := range 3 {
		f.register(mkBlob(10+i, 100), i%2 == 0, 2)
	}
	cursor := seen[len(seen)-1].Cursor
	s, _ = f.c.Events(ctx, cursor)
	read(s, 2)
	s.Close()
	cursor = seen[len(seen)-1].Cursor

	f.c = f.h.restart(t)
	// More activity after the restart; then resume.
	b := f.register(mkBlob(20, 100), false, 2).Blob
	f.certify(b)
	f.advance()
	s, err = f.c.Events(ctx, cursor)
	if err != nil {
		t.Fatal(err)
	}
	// A blocked Next wakes for an event appended later.
	got := make(chan error, 1)
	go func() {
		for {
			e, err := s.Next(ctx)
			if err != nil {
				got <- err
				return
			}
			seen = append(seen, e)
			if e.Type == EventBlobDeleted {
				got <- nil
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	d := f.register(mkBlob(21, 100), true, 2).Blob
	if _, err := f.c.DeleteBlob(ctx, f.user, d.ObjectID); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("stream did not deliver the new event")
	}
	s.Close()
	all := collect(t, f.c, 0, "")
	if len(seen) != len(all) {
		t.Fatalf("resumed reader saw %d events, log has %d", len(seen), len(all))
	}
	for i := range all {
		if fmt.Sprint(seen[i]) != fmt.Sprint(all[i]) || seen[i].Cursor != uint64(i+1) {
			t.Fatalf("event %d: %+v vs %+v", i, seen[i], all[i])
		}
	}
}

func testRestartKeepsState(t *testing.T, nh newHarness) {
	f := newFixture(t, nh, []uint64{100, 200, 300, 400}, WithPrices(50, 5))
	ctx := f.ctx
	b := f.register(mkBlob(1, 5000), true, 3).Blob
	f.certify(b)
	f.register(mkBlob(2, 10), false, 2)
	if _, _, err := f.c.ReserveSpace(ctx, f.user, 99, 1); err != nil {
		t.Fatal(err)
	}
	f.advance()
	// A sync report and a pending withdrawal are state too.
	c1 := f.committee()
	if err := f.c.EpochSyncDone(ctx, c1.Members[0].NodeID, c1.Epoch); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.Unstake(ctx, acct(1), f.nodes[1].ID, 50); err != nil {
		t.Fatal(err)
	}
	before := f.h.digest(t)
	st1, _ := f.c.EpochState(ctx)
	n1, _ := f.c.Node(ctx, f.nodes[1].ID)
	if st1.SyncDoneWeight != c1.Members[0].Weight || len(n1.Withdrawals) != 1 {
		t.Fatalf("before restart: %+v, withdrawals %+v", st1, n1.Withdrawals)
	}
	f.c = f.h.restart(t)
	if after := f.h.digest(t); after != before {
		t.Fatalf("state digest changed across restart:\n%s\n%s", before, after)
	}
	c2 := f.committee()
	st2, _ := f.c.EpochState(ctx)
	n2, _ := f.c.Node(ctx, f.nodes[1].ID)
	if fmt.Sprint(c1) != fmt.Sprint(c2) || !reflect.DeepEqual(st1, st2) || !reflect.DeepEqual(n1, n2) {
		t.Fatalf("committee, epoch or node changed across restart: %+v / %+v, %+v / %+v", st1, st2, n1, n2)
	}
	// The reopened ledger still certifies with the restored committee.
	b2 := f.register(mkBlob(3, 10), false, 2).Blob
	f.certify(b2)
}

func testStreamClose(t *testing.T, nh newHarness) {
	f := newFixture(t, nh, nil)
	s, err := f.c.Events(f.ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := s.Next(f.ctx); done <- err }()
	time.Sleep(20 * time.Millisecond)
	s.Close()
	select {
	case err := <-done:
		wantErr(t, "next after close", err, ErrClosed)
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake Next")
	}
	ctx, cancel := context.WithTimeout(f.ctx, 50*time.Millisecond)
	defer cancel()
	s2, _ := f.c.Events(ctx, 1000)
	defer s2.Close()
	if _, err := s2.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("next at deadline: %v", err)
	}
}
