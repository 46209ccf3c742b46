package chaintest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"floe/chainlink"
	"floe/chainlink/bls"
	"floe/codec"
)

// The differential test runs one operation program on two chains — the
// ledger in process and a second ledger behind the HTTP service, used
// through the client — and requires identical results, identical error
// sentinels, identical event logs and byte-identical state.

// sentinels are every error a caller decides on, in the order the
// differential test classifies errors by.
var sentinels = []error{
	chainlink.ErrNotFound, chainlink.ErrBadRequest, chainlink.ErrInsufficientFunds, chainlink.ErrNotOwner,
	chainlink.ErrAlreadyRegistered, chainlink.ErrNoStake, chainlink.ErrNoCommittee, chainlink.ErrWrongEpoch,
	chainlink.ErrBlobIDMismatch, chainlink.ErrEncodingType, chainlink.ErrBlobTooLarge, chainlink.ErrStorageTooSmall,
	chainlink.ErrTooFarAhead, chainlink.ErrMessageMismatch, chainlink.ErrBadMessage, chainlink.ErrAlreadyCertified,
	chainlink.ErrNotCertified, chainlink.ErrExpired, chainlink.ErrNotDeletable, chainlink.ErrSyncDone,
	chainlink.ErrNotInCommittee, chainlink.ErrQuorum, chainlink.ErrInvalidSignature, chainlink.ErrBadBitmap,
	chainlink.ErrInvalidPublicKey, chainlink.ErrClosed, chainlink.ErrUnavailable,
}

func errClass(err error) string {
	if err == nil {
		return "ok"
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	return "unclassified: " + err.Error()
}

// pair is the two chains under comparison.
type pair struct {
	t      testing.TB
	ctx    context.Context
	local  *chainlink.Ledger
	remote *chainlink.Ledger // behind the HTTP service
	client *chainlink.Client
	keys   map[chainlink.ID]*bls.SecretKey
	nodes  []chainlink.ID
	blobs  []chainlink.Blob
	stor   []chainlink.ID
	step   int
	stats  map[string]int
}

var fixedClock = func() time.Time { return time.Unix(1_800_000_000, 0) }

func newPair(t testing.TB) *pair {
	opts := append(slices.Clone(suiteOptions), quiet(), chainlink.WithClock(fixedClock))
	ctx := context.Background()
	a, err := chainlink.Open(ctx, chainlink.NewMemDatastore(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	b, err := chainlink.Open(ctx, chainlink.NewMemDatastore(), append(opts, ServiceOptions()...)...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(chainlink.NewServer(b))
	t.Cleanup(func() {
		b.Close() // wakes long-polls before the server waits for them
		srv.Close()
		a.Close()
	})
	c := NewClient(srv.URL, srv.Client())
	c.EventWait = time.Second
	return &pair{t: t, ctx: ctx, local: a, remote: b, client: c, keys: map[chainlink.ID]*bls.SecretKey{}, stats: map[string]int{}}
}

// same runs op on both chains and compares the JSON of the results and
// the error classes.
func same[T any](p *pair, what string, op func(chainlink.Chain) (T, error)) (T, error) {
	p.t.Helper()
	r1, e1 := op(p.local)
	r2, e2 := op(p.client)
	if c1, c2 := errClass(e1), errClass(e2); c1 != c2 {
		p.t.Fatalf("step %d %s: in process %q (%v), over HTTP %q (%v)", p.step, what, c1, e1, c2, e2)
	}
	p.stats[what+": "+errClass(e1)]++
	if e1 == nil {
		j1, _ := json.Marshal(r1)
		j2, _ := json.Marshal(r2)
		if string(j1) != string(j2) {
			p.t.Fatalf("step %d %s: in process %s, over HTTP %s", p.step, what, j1, j2)
		}
	}
	return r1, e1
}

// prog reads operation arguments from a byte string (zeros when exhausted).
type prog struct {
	b []byte
	i int
}

// balance returns an account's balance on the in-process chain (0 if none).
func (p *pair) balance(a chainlink.ID) uint64 {
	acct, _ := p.local.Account(p.ctx, a)
	return acct.Balance
}

func (g *prog) byte() byte {
	if g.i >= len(g.b) {
		return 0
	}
	g.i++
	return g.b[g.i-1]
}

func (g *prog) done() bool { return g.i >= len(g.b) }

func (g *prog) u64(scale uint64) uint64 { return uint64(g.byte()) * scale }

func pick[T any](g *prog, xs []T) (T, bool) {
	var zero T
	x := int(g.byte())
	if len(xs) == 0 {
		return zero, false
	}
	return xs[x%len(xs)], true
}

// run interprets the program: one opcode byte then its arguments.
func (p *pair) run(g *prog) {
	for !g.done() && p.step < 200 {
		p.step++
		// One record per operation: the opcode and six argument bytes,
		// so that every operation starts at a fixed offset.
		end := min(g.i+7, len(g.b))
		p.op(&prog{b: g.b[g.i:end]})
		g.i = end
	}
	p.compareAll()
}

func (p *pair) op(g *prog) {
	ctx := p.ctx
	acct := func() chainlink.ID { return Account(int(g.byte() % 5)) }
	switch g.byte() % 13 {
	case 0:
		a, amt := acct(), g.u64(10_000)
		same(p, "faucet", func(c chainlink.Chain) (chainlink.Account, error) { return c.Faucet(ctx, a, amt) })
	case 1:
		i := int(g.byte() % 8)
		owner, stake, flags := acct(), g.u64(1000), g.byte()
		key := NodeKey(i)
		es, _ := p.local.EpochState(ctx)
		popEpoch := es.Epoch
		if flags&1 != 0 {
			popEpoch++ // a stale or future proof of possession
		}
		req := chainlink.RegisterNodeRequest{Owner: owner, Name: fmt.Sprint("n", i), PeerID: fmt.Sprint("peer", i),
			Addresses: []string{"/ip4/127.0.0.1/tcp/1"}, PublicKey: key.PublicKey(),
			ProofOfPossession: key.ProofOfPossession(popEpoch, owner), Stake: stake}
		n, err := same(p, "register node", func(c chainlink.Chain) (chainlink.Node, error) { return c.RegisterNode(ctx, req) })
		if err == nil {
			p.nodes = append(p.nodes, n.ID)
			p.keys[n.ID] = key
		}
	case 2, 3:
		staker, amt := acct(), g.u64(500)
		node, ok := pick(g, p.nodes)
		if !ok {
			return
		}
		unstake := g.b[0]%13 == 3
		before := p.balance(staker)
		n, err := same(p, "stake/unstake", func(c chainlink.Chain) (chainlink.Node, error) {
			if unstake {
				return c.Unstake(ctx, staker, node, amt)
			}
			return c.Stake(ctx, staker, node, amt)
		})
		if err == nil && unstake {
			// A withdrawal request: the balance is untouched, the amount is
			// pending on the node until the advance to e+2.
			es, _ := p.local.EpochState(ctx)
			i := slices.IndexFunc(n.Withdrawals, func(w chainlink.Withdrawal) bool {
				return w.Staker == staker && w.CreditEpoch == es.Epoch+2
			})
			if p.balance(staker) != before || i < 0 || n.Withdrawals[i].Amount < amt {
				p.t.Fatalf("step %d: unstake of %d: balance %d → %d, withdrawals %+v", p.step, amt, before, p.balance(staker), n.Withdrawals)
			}
		}
	case 4:
		// Model: at the advance to epoch e+1 each account gains its rewards
		// plus exactly the withdrawals due in e+1.
		es, _ := p.local.EpochState(ctx)
		due := map[chainlink.ID]uint64{}
		nodes, _ := p.local.Nodes(ctx)
		for _, n := range nodes {
			for _, w := range n.Withdrawals {
				if w.CreditEpoch <= es.Epoch+1 {
					due[w.Staker] += w.Amount
				}
			}
		}
		before := make([]chainlink.Account, 5)
		for i := range before {
			before[i], _ = p.local.Account(ctx, Account(i))
		}
		_, err := same(p, "advance", func(c chainlink.Chain) (chainlink.EpochState, error) { return c.AdvanceEpoch(ctx) })
		if err != nil {
			return
		}
		for i := range before {
			after, _ := p.local.Account(ctx, Account(i))
			if got := (after.Balance - before[i].Balance) - (after.Rewards - before[i].Rewards); got != due[Account(i)] {
				p.t.Fatalf("step %d: advance to %d credited account %d with %d besides rewards, withdrawals due %d",
					p.step, es.Epoch+1, i, got, due[Account(i)])
			}
		}
	case 5:
		owner, size, epochs := acct(), g.u64(50_000), uint32(g.byte()%8)
		st, err := same(p, "reserve", func(c chainlink.Chain) (chainlink.Storage, error) {
			s, _, err := c.ReserveSpace(ctx, owner, size, epochs)
			return s, err
		})
		if err == nil {
			p.stor = append(p.stor, st.ID)
		}
	case 6:
		owner, i, size, flags := acct(), int(g.byte()%6), g.u64(3000), g.byte()
		id, root, _ := TestBlob(i, size)
		req := chainlink.RegisterBlobRequest{Owner: owner, BlobID: id, RootHash: root, Size: size,
			EncodingType: codec.EncodingTypeRS2, Deletable: flags&1 != 0, EpochsAhead: uint32(flags>>1) % 7}
		if flags&0x10 != 0 {
			req.BlobID[0] ^= 1
		}
		if flags&0x20 != 0 {
			if s, ok := pick(g, p.stor); ok {
				req.StorageID = s
			}
		}
		r, err := same(p, "register blob", func(c chainlink.Chain) (chainlink.RegisterBlobResult, error) { return c.RegisterBlob(ctx, req) })
		if err == nil {
			p.blobs = append(p.blobs, r.Blob)
		}
	case 7, 8:
		invalidate := g.b[0]%13 == 8
		b, ok := pick(g, p.blobs)
		mask, flags := g.byte(), g.byte()
		es, _ := p.local.EpochState(ctx)
		cm, err := p.local.Committee(ctx, es.Epoch)
		if !ok || err != nil || len(cm.Members) == 0 {
			return
		}
		epoch := es.Epoch
		if flags&1 != 0 {
			epoch--
		}
		pers := b.Persistence()
		if flags&2 != 0 {
			pers.Deletable = !pers.Deletable
		}
		msg := codec.StorageConfirmationMessage(epoch, b.BlobID, pers)
		if invalidate {
			msg = codec.InvalidBlobIDMessage(epoch, b.BlobID)
		}
		var idx []uint16
		var sigs []bls.Signature
		for i := range cm.Members {
			if mask&(1<<(i%8)) != 0 {
				idx = append(idx, uint16(i))
				sigs = append(sigs, p.keys[cm.Members[i].NodeID].Sign(msg))
			}
		}
		if len(sigs) == 0 {
			return
		}
		if flags&4 != 0 {
			sigs[0] = NodeKey(99).Sign(msg) // forged
		}
		agg, _ := bls.Aggregate(sigs)
		bm, _ := bls.SignersToBitmap(len(cm.Members), idx)
		if flags&8 != 0 {
			bm = append(bm, 0) // too long
		}
		cert := chainlink.Certificate{Signature: agg, Signers: bm, Message: msg}
		if invalidate {
			same(p, "invalidate", func(c chainlink.Chain) (codec.BlobID, error) { return c.InvalidateBlobID(ctx, cert) })
		} else {
			same(p, "certify", func(c chainlink.Chain) (chainlink.Blob, error) { return c.CertifyBlob(ctx, b.ObjectID, cert) })
		}
	case 9:
		owner := acct()
		b, ok := pick(g, p.blobs)
		if !ok {
			return
		}
		st, err := same(p, "delete", func(c chainlink.Chain) (chainlink.Storage, error) { return c.DeleteBlob(ctx, owner, b.ObjectID) })
		if err == nil {
			p.stor = append(p.stor, st.ID)
		}
	case 10:
		payer, epochs := acct(), uint32(g.byte()%6)
		b, ok := pick(g, p.blobs)
		if !ok {
			return
		}
		same(p, "extend", func(c chainlink.Chain) (chainlink.Blob, error) {
			bl, _, err := c.ExtendBlob(ctx, payer, b.ObjectID, epochs)
			return bl, err
		})
	case 11:
		node, ok := pick(g, p.nodes)
		delta := uint32(g.byte() % 2)
		if !ok {
			return
		}
		es, _ := p.local.EpochState(ctx)
		same(p, "sync done", func(c chainlink.Chain) (struct{}, error) {
			return struct{}{}, c.EpochSyncDone(ctx, node, es.Epoch+delta)
		})
	case 12:
		owner := acct()
		node, ok := pick(g, p.nodes)
		peer := fmt.Sprint("peer-upd-", g.byte()%4)
		if !ok {
			return
		}
		same(p, "update node", func(c chainlink.Chain) (chainlink.Node, error) {
			return c.UpdateNode(ctx, chainlink.UpdateNodeRequest{Owner: owner, NodeID: node, PeerID: peer})
		})
	}
}

func (p *pair) compareAll() {
	t, ctx := p.t, p.ctx
	t.Helper()
	es, _ := same(p, "epoch state", func(c chainlink.Chain) (chainlink.EpochState, error) { return c.EpochState(ctx) })
	for e := uint32(0); e <= es.Epoch+1; e++ {
		same(p, fmt.Sprint("committee ", e), func(c chainlink.Chain) (*chainlink.Committee, error) { return c.Committee(ctx, e) })
	}
	nodes, _ := same(p, "nodes", func(c chainlink.Chain) ([]chainlink.Node, error) { return c.Nodes(ctx) })
	for _, n := range nodes {
		var sum uint64
		for _, s := range n.Stakers {
			sum += s
		}
		if sum != n.Stake {
			t.Fatalf("node %s: stake %d, stakers hold %d", n.ID, n.Stake, sum)
		}
		for _, w := range n.Withdrawals {
			if w.CreditEpoch <= es.Epoch || w.CreditEpoch > es.Epoch+2 {
				t.Fatalf("node %s: withdrawal %+v pending in epoch %d", n.ID, w, es.Epoch)
			}
		}
	}
	for i := range 5 {
		same(p, "account", func(c chainlink.Chain) (chainlink.Account, error) { return c.Account(ctx, Account(i)) })
		same(p, "owned blobs", func(c chainlink.Chain) ([]chainlink.Blob, error) { return c.OwnedBlobs(ctx, Account(i)) })
	}
	for _, b := range p.blobs {
		same(p, "blob", func(c chainlink.Chain) (chainlink.Blob, error) { return c.Blob(ctx, b.ObjectID) })
		same(p, "blob status", func(c chainlink.Chain) (chainlink.BlobStatus, error) { return c.BlobStatus(ctx, b.BlobID) })
	}
	e1 := DrainEvents(t, ctx, p.local, 0, 50*time.Millisecond)
	e2 := DrainEvents(t, ctx, p.client, 0, 50*time.Millisecond)
	CheckContiguous(t, 0, e1)
	j1, _ := json.Marshal(e1)
	j2, _ := json.Marshal(e2)
	if string(j1) != string(j2) {
		t.Fatalf("event logs differ:\n%s\n%s", j1, j2)
	}
	d1, err1 := p.local.Digest(ctx)
	d2, err2 := p.remote.Digest(ctx)
	if err1 != nil || err2 != nil || d1 != d2 {
		t.Fatalf("state digests differ: %s (%v) vs %s (%v)", d1, err1, d2, err2)
	}
}

// program returns a random program that first builds a committee, so that
// certificates have something to verify against.
func program(r *rand.Rand, ops int) []byte {
	var b []byte
	for i := range 4 { // four funded nodes with stake, then a committee
		b = append(b, 0, byte(i), 255, 0, 0, 0, 0, 1, byte(i), byte(i), byte(50+i*40), 0, 0, 0)
	}
	b = append(b, 4, 0, 0, 0, 0, 0, 0)
	rb := func() byte { return byte(r.Uint32()) }
	for range ops {
		op := byte(r.IntN(13))
		if op == 4 && r.IntN(3) != 0 { // advance less often, so blobs live
			op = 6
		}
		if r.IntN(3) == 0 { // lean on blobs and certificates
			op = []byte{6, 7, 7, 8}[r.IntN(4)]
		}
		args := []byte{rb(), rb(), rb(), rb(), rb(), rb()}
		switch op {
		case 6: // owner, blob, size, flags: mostly valid, 1..4 epochs
			if r.IntN(4) != 0 {
				args[3] = byte(r.IntN(2)) | byte(2*(1+r.IntN(4)))
			}
		case 7, 8: // blob, signer mask, flags: mostly everyone, clean
			if r.IntN(2) == 0 {
				args[1] = 0xff
			}
			if r.IntN(3) != 0 {
				args[2] = 0
			}
		}
		b = append(b, op)
		b = append(b, args...)
	}
	return b
}

func TestDifferentialLedgerVsHTTP(t *testing.T) {
	t.Parallel()
	programs := 12
	if testing.Short() {
		programs = 3
	}
	for i := range programs {
		t.Run(fmt.Sprint("program", i), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(i), 0xf10e))
			p := newPair(t)
			p.run(&prog{b: program(r, 60)})
			if testing.Verbose() {
				keys := slices.Sorted(maps.Keys(p.stats))
				for _, k := range keys {
					if !strings.HasPrefix(k, "blob") && !strings.HasPrefix(k, "committee") && !strings.HasPrefix(k, "account") {
						t.Logf("%4d %s", p.stats[k], k)
					}
				}
			}
			if p.stats["certify: ok"] == 0 {
				t.Fatalf("no certificate succeeded: %v", p.stats)
			}
			if len(p.nodes) < 4 {
				t.Fatalf("the program registered only %d nodes", len(p.nodes))
			}
		})
	}
}

// FuzzDifferential runs fuzzed programs on both chains.
func FuzzDifferential(f *testing.F) {
	r := rand.New(rand.NewPCG(1, 2))
	f.Add(program(r, 20))
	f.Add(program(r, 40))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 600 {
			b = b[:600]
		}
		p := newPair(t)
		p.run(&prog{b: b})
	})
}
