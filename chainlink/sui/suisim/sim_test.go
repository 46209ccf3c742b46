package suisim_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/ipfs/go-datastore"

	"floe/chainlink"
	"floe/chainlink/bls"
	"floe/chainlink/chaintest"
	"floe/chainlink/sui"
	"floe/chainlink/sui/suisim"
	"floe/codec"
)

// suiEnv is chainlink/sui's Client talking gRPC to the stand-in over
// loopback, the stand-in running on an embedded ledger on an in-memory
// datastore. Restart stops client, servers and ledger and starts them
// again on the same datastore; the new Client replays its persisted event
// index and reads on from there.
type suiEnv struct {
	ds     datastore.Batching
	opts   []chainlink.Option
	netKey *ecdsa.PrivateKey
	index  string // the Client's event index directory
	l      *chainlink.Ledger
	srv    *suisim.Server
	c      *sui.Client
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newSuiEnv(t *testing.T, opts ...chainlink.Option) chaintest.Env {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e := &suiEnv{ds: chainlink.NewMemDatastore(), opts: append(opts, chainlink.WithLogger(quiet())), netKey: k, index: t.TempDir()}
	e.start(t)
	t.Cleanup(func() { e.stop(t) })
	return e
}

func (e *suiEnv) start(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	l, err := chainlink.Open(ctx, e.ds, e.opts...)
	if err != nil {
		t.Fatalf("open ledger: %v", err)
	}
	sim, err := suisim.New(ctx, l, e.ds, quiet())
	if err != nil {
		t.Fatalf("stand-in: %v", err)
	}
	rpc, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	faucet, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.l, e.srv = l, suisim.Serve(sim, rpc, faucet)
	c, err := sui.Dial(ctx, sui.Config{RPC: e.srv.RPCAddr, System: sim.System(), Staking: sim.Staking(),
		Keys: chaintest.Keys(), Key: chaintest.AccountKey(chaintest.Accounts - 1), NetworkKey: e.netKey,
		FaucetURL: e.srv.FaucetURL, PollInterval: 5 * time.Millisecond, IndexDir: e.index, Logger: quiet()})
	if err != nil {
		t.Fatalf("dial the stand-in: %v", err)
	}
	e.c = c
}

func (e *suiEnv) stop(t testing.TB) {
	t.Helper()
	if e.c == nil {
		return
	}
	if err := e.c.Close(); err != nil {
		t.Errorf("close client: %v", err)
	}
	if err := e.srv.Close(); err != nil {
		t.Errorf("close stand-in: %v", err)
	}
	if err := e.l.Close(); err != nil {
		t.Errorf("close ledger: %v", err)
	}
	e.c = nil
}

func (e *suiEnv) Chain() chainlink.Chain { return e.c }

func (e *suiEnv) Restart(t testing.TB) {
	t.Helper()
	e.stop(t)
	e.start(t)
}

// TestStandInRoundTrip drives one blob through its life over gRPC and
// checks what the chain, the decoded objects and the event index say.
func TestStandInRoundTrip(t *testing.T) {
	t.Parallel()
	fx := chaintest.NewFixture(t, newSuiEnv, 400_000, 300_000, 200_000, 100_000)
	c := fx.C()
	ctx := fx.Ctx
	es := fx.Epoch()
	if es.Epoch != 1 || es.NShards != 10 || es.StoragePricePerUnit != 100 || es.WritePricePerUnit != 20 || es.MaxEpochsAhead != 5 {
		t.Fatalf("epoch state %+v", es)
	}
	cm := fx.Committee()
	if len(cm.Members) != 4 {
		t.Fatalf("committee of %d", len(cm.Members))
	}
	user := chaintest.Account(7)
	r := fx.Register(user, 1, true, 2)
	if r.Blob.Owner != user || !r.Blob.Deletable || r.Blob.Storage.EndEpoch != es.Epoch+2 || r.StorageCost == 0 || r.WriteCost == 0 {
		t.Fatalf("registered %+v", r)
	}
	st, err := c.BlobStatus(ctx, r.Blob.BlobID)
	if err != nil || !st.Exists || st.DeletableRegistered != 1 || st.Certified() {
		t.Fatalf("status after register: %+v %v", st, err)
	}
	b := fx.Certify(r.Blob)
	if b.CertifiedEpoch == nil || *b.CertifiedEpoch != es.Epoch {
		t.Fatalf("certified %+v", b)
	}
	// A second certification aborts in blob::EAlreadyCertified, mapped back.
	reach, _ := chaintest.Subsets(cm, bls.Quorum)
	msg := codec.StorageConfirmationMessage(cm.Epoch, b.BlobID, b.Persistence())
	_, err = c.CertifyBlob(ctx, b.ObjectID, fx.Cert(cm, msg, reach...))
	var abort *sui.MoveAbortError
	if !errors.Is(err, chainlink.ErrAlreadyCertified) || !errors.As(err, &abort) || abort.Module != "blob" || abort.Code != 5 {
		t.Fatalf("second certify: %v", err)
	}
	owned, err := c.OwnedBlobs(ctx, user)
	if err != nil || len(owned) != 1 || owned[0].ObjectID != b.ObjectID {
		t.Fatalf("owned blobs %+v %v", owned, err)
	}
	// Someone else cannot delete it.
	if _, err := c.DeleteBlob(ctx, chaintest.Account(8), b.ObjectID); !errors.Is(err, chainlink.ErrNotOwner) {
		t.Fatalf("delete by another: %v", err)
	}
	storage, err := c.DeleteBlob(ctx, user, b.ObjectID)
	if err != nil || storage.Owner != user || storage.EndEpoch != es.Epoch+2 {
		t.Fatalf("delete: %+v %v", storage, err)
	}
	if _, err := c.Blob(ctx, b.ObjectID); !errors.Is(err, chainlink.ErrNotFound) {
		t.Fatalf("deleted blob: %v", err)
	}
	st, err = c.BlobStatus(ctx, r.Blob.BlobID)
	if err != nil || st.Exists {
		t.Fatalf("status after delete: %+v %v", st, err)
	}
	// The event stream: the registrations, the epoch change and the blob's
	// life, numbered 1, 2, 3, … in order.
	evs := chaintest.DrainEvents(t, ctx, c, 0, 300*time.Millisecond)
	chaintest.CheckContiguous(t, 0, evs)
	var kinds []chainlink.EventType
	for _, e := range evs {
		kinds = append(kinds, e.Type)
	}
	want := []chainlink.EventType{chainlink.EventNodeRegistered, chainlink.EventNodeRegistered, chainlink.EventNodeRegistered,
		chainlink.EventNodeRegistered, chainlink.EventEpochChangeStart, chainlink.EventEpochChangeDone,
		chainlink.EventBlobRegistered, chainlink.EventBlobCertified, chainlink.EventBlobDeleted}
	if len(kinds) != len(want) {
		t.Fatalf("events %v, want %v", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("events %v, want %v", kinds, want)
		}
	}
	if evs[6].ObjectID != b.ObjectID || evs[6].BlobID != b.BlobID || !evs[6].Deletable {
		t.Fatalf("BlobRegistered %+v", evs[6])
	}
	// Unstaking is two steps on Sui: the withdrawal is pending, and its
	// second step is not due before the withdraw epoch.
	owner0 := fx.Nodes[0].Owner
	n, err := c.Unstake(ctx, owner0, fx.Nodes[0].Node.ID, 1000)
	if err != nil || len(n.Withdrawals) != 1 || n.Withdrawals[0].Amount != 1000 || n.Withdrawals[0].CreditEpoch != es.Epoch+2 {
		t.Fatalf("unstake: %+v %v", n, err)
	}
	if _, err := c.(*sui.Client).WithdrawStake(ctx, owner0); !errors.Is(err, sui.ErrNotWithdrawable) {
		t.Fatalf("withdraw before the epoch: %v", err)
	}
	// Sui cannot end an epoch before its sync is done.
	fx.Advance()
	if _, err := c.AdvanceEpoch(ctx); !errors.Is(err, sui.ErrEpochNotOver) {
		t.Fatalf("advance during the sync: %v", err)
	}

	// Faucet without one configured is a typed error.
	c2, err := sui.Dial(ctx, sui.Config{RPC: fx.Env.(*suiEnv).srv.RPCAddr, System: fx.Env.(*suiEnv).srv.Sim.System(),
		Staking: fx.Env.(*suiEnv).srv.Sim.Staking(), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := c2.Faucet(ctx, user, 1); !errors.Is(err, sui.ErrNoFaucet) {
		t.Fatalf("faucet without one: %v", err)
	}
	if _, err := c2.RegisterNode(ctx, chainlink.RegisterNodeRequest{Owner: user}); !errors.Is(err, chainlink.ErrNoKey) {
		t.Fatalf("register without keys: %v", err)
	}
}

// TestSuiConformance runs chainlink/chaintest against chainlink/sui over
// the stand-in.
func TestSuiConformance(t *testing.T) {
	t.Parallel()
	chaintest.Run(t, newSuiEnv)
}

// Quirks: Sui's epoch change waits for the sync, only a blob's owner can
// extend it, and rewards stay in the pool (no Account.Rewards).
func (e *suiEnv) Quirks() chaintest.Quirks {
	return chaintest.Quirks{EpochChangeWaitsForSync: true, OwnerOnlyExtend: true, NoAccountRewards: true}
}
