package chaintest

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	p2pcrypto "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"floe/chainlink"
	"floe/chainlink/account"
	"floe/chainlink/bls"
	"floe/codec"
)

// Env is a Chain under test whose state survives Restart.
type Env interface {
	// Chain returns the current handle. After Restart it may be a new one.
	Chain() chainlink.Chain
	// Restart stops the chain (closing open event streams, dropping
	// connections) and starts it again on the same persisted state.
	Restart(t testing.TB)
}

// Factory creates a fresh, empty chain for one test. opts configure the
// ledger's genesis; implementations that cannot honour them skip the test.
// The environment is torn down with t.Cleanup.
type Factory func(t *testing.T, opts ...chainlink.Option) Env

// Genesis options every suite test uses: 10 shards (f = 3, quorum 7 shards,
// "one correct node" 4 shards), storage for at most 5 epochs ahead, and
// prices 100 per MiB per epoch and 20 per MiB written.
var suiteOptions = []chainlink.Option{
	chainlink.WithShards(suiteShards),
	chainlink.WithMaxEpochsAhead(suiteMaxAhead),
	chainlink.WithPrices(suiteStoragePrice, suiteWritePrice),
}

const (
	suiteShards       = 10
	suiteMaxAhead     = 5
	suiteStoragePrice = 100
	suiteWritePrice   = 20
	// waitEvent bounds every blocking read in the suite.
	waitEvent = 10 * time.Second
)

// Accounts is the number of deterministic accounts whose keys Keys holds
// (Account(0) to Account(Accounts-1)); NodeKeys the number of node keys.
const (
	Accounts = 1200
	NodeKeys = 128
)

// AdminToken is the admin token a Factory's HTTP service is started with.
const AdminToken = "chaintest-admin-token-0123456789abcdef"

func deriveAccountKey(i int) *account.Key {
	seed := sha256.Sum256(fmt.Appendf(nil, "chaintest/account/%d", i))
	k, err := account.FromSeed(seed[:])
	if err != nil {
		panic(err) // a 32-byte seed always gives a key
	}
	return k
}

var accountKeys = sync.OnceValue(func() []*account.Key {
	ks := make([]*account.Key, Accounts)
	for i := range ks {
		ks[i] = deriveAccountKey(i)
	}
	return ks
})

// AccountKey returns the deterministic account key of index i.
func AccountKey(i int) *account.Key {
	if i >= 0 && i < Accounts {
		return accountKeys()[i]
	}
	return deriveAccountKey(i)
}

// Account returns the address of AccountKey(i).
func Account(i int) chainlink.ID { return chainlink.AccountID(AccountKey(i)) }

// Keys returns a keyring with AccountKey(i) for i < Accounts and NodeKey(i)
// for i < NodeKeys: what an HTTP client under test signs with, as an
// operator's client holds its own keys. It is built once and shared.
var Keys = sync.OnceValue(func() *chainlink.Keyring {
	k := chainlink.NewKeyring()
	k.AddAccount(accountKeys()...)
	for i := range NodeKeys {
		k.AddNodeKey(NodeKey(i))
	}
	return k
})

// ServiceOptions are the settings a Factory's HTTP service runs with: the
// faucet without rate limits and AdminToken.
func ServiceOptions() []chainlink.Option {
	return []chainlink.Option{chainlink.WithFaucet(chainlink.NoFaucetLimits), chainlink.WithAdminToken(AdminToken)}
}

// NewClient is a client of a service under test holding Keys and
// AdminToken.
func NewClient(base string, hc *http.Client) *chainlink.Client {
	return chainlink.NewClient(base, hc, chainlink.ClientKeyring(Keys()), chainlink.ClientAdminToken(AdminToken))
}

// NodeKey returns a deterministic BLS key for index i.
func NodeKey(i int) *bls.SecretKey {
	seed := sha256.Sum256(fmt.Appendf(nil, "chaintest/bls/%d", i))
	k, err := bls.KeyFromSeed(seed[:])
	if err != nil {
		panic(err) // a 32-byte seed always gives a key
	}
	return k
}

// NetworkKey returns a node's network public key derived from i: a P-256
// point in compressed form (chainlink.Node.NetworkPublicKey).
func NetworkKey(i int) []byte {
	for ctr := 0; ; ctr++ {
		seed := sha256.Sum256(fmt.Appendf(nil, "chaintest/network/%d/%d", i, ctr))
		k, err := ecdh.P256().NewPrivateKey(seed[:])
		if err != nil {
			continue // a scalar of 0 or ≥ the order: next one
		}
		u := k.PublicKey().Bytes() // 0x04 ‖ X ‖ Y
		return append([]byte{2 | u[64]&1}, u[1:33]...)
	}
}

// RESTURL is the REST API URL the fixture registers node i with.
func RESTURL(i int) string { return fmt.Sprintf("https://127.0.0.1:%d", 5000+i) }

// PeerID returns a valid libp2p peer ID (of an ed25519 key) derived from
// name: chains that keep a node's address as a multiaddr with /p2p (Sui,
// chainlink/sui) accept only real peer IDs.
func PeerID(name string) string {
	seed := sha256.Sum256([]byte("chaintest/peer/" + name))
	k, _, err := p2pcrypto.GenerateEd25519Key(bytes.NewReader(seed[:]))
	if err != nil {
		panic(err) // 32 bytes of seed always give a key
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		panic(err)
	}
	return id.String()
}

// TestNode is a registered storage node and its keys.
type TestNode struct {
	Index int
	Key   *bls.SecretKey
	Owner chainlink.ID
	Node  chainlink.Node
}

// Fixture is a chain with registered nodes and the keys to sign for them.
type Fixture struct {
	T     *testing.T
	Env   Env
	Ctx   context.Context
	Nodes []*TestNode
	keys  map[chainlink.ID]*bls.SecretKey
}

// NewFixture starts a chain, registers one node per stake (owner i funded
// and self-staking stakes[i]) and advances to epoch 1 so that they form the
// committee.
func NewFixture(t *testing.T, f Factory, stakes ...uint64) *Fixture {
	t.Helper()
	fx := &Fixture{T: t, Env: f(t, suiteOptions...), Ctx: t.Context(), keys: map[chainlink.ID]*bls.SecretKey{}}
	for i, s := range stakes {
		fx.AddNode(i, s)
	}
	if len(stakes) > 0 {
		fx.Advance()
	}
	return fx
}

// C is the current chain handle.
func (fx *Fixture) C() chainlink.Chain { return fx.Env.Chain() }

// AddNode funds owner i and registers node i with self-stake.
func (fx *Fixture) AddNode(i int, stake uint64) *TestNode {
	t := fx.T
	t.Helper()
	owner := Account(1000 + i)
	if _, err := fx.C().Faucet(fx.Ctx, owner, stake+1_000_000); err != nil {
		t.Fatalf("faucet: %v", err)
	}
	key := NodeKey(i)
	es := fx.Epoch()
	n, err := fx.C().RegisterNode(fx.Ctx, chainlink.RegisterNodeRequest{
		Owner: owner, Name: fmt.Sprintf("node-%d", i), PeerID: PeerID(fmt.Sprintf("node-%d", i)),
		Addresses:         []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", 4000+i)},
		PublicKey:         key.PublicKey(),
		ProofOfPossession: key.ProofOfPossession(es.Epoch, owner),
		Stake:             stake,
		NetworkAddress:    RESTURL(i),
		NetworkPublicKey:  NetworkKey(i),
	})
	if err != nil {
		t.Fatalf("register node %d: %v", i, err)
	}
	tn := &TestNode{Index: i, Key: key, Owner: owner, Node: n}
	fx.Nodes = append(fx.Nodes, tn)
	fx.keys[n.ID] = key
	return tn
}

// Epoch returns the epoch state.
func (fx *Fixture) Epoch() chainlink.EpochState {
	fx.T.Helper()
	es, err := fx.C().EpochState(fx.Ctx)
	if err != nil {
		fx.T.Fatalf("epoch state: %v", err)
	}
	return es
}

// Advance ends the epoch and returns the new state.
func (fx *Fixture) Advance() chainlink.EpochState {
	fx.T.Helper()
	if fx.Quirks().EpochChangeWaitsForSync {
		fx.syncAll()
	}
	before := fx.Epoch().Epoch
	es, err := fx.C().AdvanceEpoch(fx.Ctx)
	if err != nil {
		fx.T.Fatalf("advance epoch: %v", err)
	}
	if es.Epoch != before+1 {
		fx.T.Fatalf("advance: epoch %d → %d", before, es.Epoch)
	}
	return es
}

// Committee returns the current committee.
func (fx *Fixture) Committee() *chainlink.Committee {
	fx.T.Helper()
	c, err := fx.C().Committee(fx.Ctx, fx.Epoch().Epoch)
	if err != nil {
		fx.T.Fatalf("committee: %v", err)
	}
	return c
}

// Sign returns the signatures of the committee members at idx over msg, in
// idx order.
func (fx *Fixture) Sign(c *chainlink.Committee, msg []byte, idx ...int) []bls.Signature {
	fx.T.Helper()
	out := make([]bls.Signature, len(idx))
	for j, i := range idx {
		k := fx.keys[c.Members[i].NodeID]
		if k == nil {
			fx.T.Fatalf("no key for member %d", i)
		}
		out[j] = k.Sign(msg)
	}
	return out
}

// Cert aggregates the signatures of the members at idx over msg into a
// certificate with the bitmap of F8.7.
func (fx *Fixture) Cert(c *chainlink.Committee, msg []byte, idx ...int) chainlink.Certificate {
	fx.T.Helper()
	agg, err := bls.Aggregate(fx.Sign(c, msg, idx...))
	if err != nil {
		fx.T.Fatalf("aggregate: %v", err)
	}
	return chainlink.Certificate{Signature: agg, Signers: fx.Bitmap(c, idx...), Message: msg}
}

// Bitmap is the signer bitmap of the members at idx.
func (fx *Fixture) Bitmap(c *chainlink.Committee, idx ...int) []byte {
	fx.T.Helper()
	s := make([]uint16, len(idx))
	for j, i := range idx {
		s[j] = uint16(i)
	}
	b, err := bls.SignersToBitmap(len(c.Members), s)
	if err != nil {
		fx.T.Fatalf("bitmap: %v", err)
	}
	return b
}

// Subsets returns, for threshold th over committee c, a smallest-weight
// signer set that reaches it and a largest-weight signer set that does not
// (nil if none), as member indices. The committee must be small (≤ 16).
func Subsets(c *chainlink.Committee, th bls.Threshold) (reach, short []int) {
	m := len(c.Members)
	bestReach, bestShort := -1, -1
	var rMask, sMask int
	for mask := 1; mask < 1<<m; mask++ {
		w := 0
		for i := range m {
			if mask&(1<<i) != 0 {
				w += c.Members[i].Weight
			}
		}
		if th.Reached(w, c.NShards) {
			if bestReach < 0 || w < bestReach {
				bestReach, rMask = w, mask
			}
		} else if w > bestShort {
			bestShort, sMask = w, mask
		}
	}
	idx := func(mask int) []int {
		var out []int
		for i := range m {
			if mask&(1<<i) != 0 {
				out = append(out, i)
			}
		}
		return out
	}
	if bestReach >= 0 {
		reach = idx(rMask)
	}
	if bestShort >= 0 {
		short = idx(sMask)
	}
	return reach, short
}

// Weight sums the weights of the members at idx.
func Weight(c *chainlink.Committee, idx []int) int {
	w := 0
	for _, i := range idx {
		w += c.Members[i].Weight
	}
	return w
}

// TestBlob returns a blob ID, root hash and size that derive correctly.
func TestBlob(i int, size uint64) (codec.BlobID, chainlink.Hash32, uint64) {
	root := sha256.Sum256(fmt.Appendf(nil, "chaintest/root/%d", i))
	return codec.DeriveBlobID(codec.EncodingTypeRS2, size, root), chainlink.Hash32(root), size
}

// Register registers test blob i for owner with epochsAhead of storage.
func (fx *Fixture) Register(owner chainlink.ID, i int, deletable bool, epochsAhead uint32) chainlink.RegisterBlobResult {
	fx.T.Helper()
	fx.Fund(owner, 10_000_000)
	id, root, size := TestBlob(i, 1000+uint64(i))
	r, err := fx.C().RegisterBlob(fx.Ctx, chainlink.RegisterBlobRequest{
		Owner: owner, BlobID: id, RootHash: root, Size: size, EncodingType: codec.EncodingTypeRS2,
		Deletable: deletable, EpochsAhead: epochsAhead,
	})
	if err != nil {
		fx.T.Fatalf("register blob %d: %v", i, err)
	}
	return r
}

// Fund tops up an account.
func (fx *Fixture) Fund(addr chainlink.ID, amount uint64) {
	fx.T.Helper()
	if _, err := fx.C().Faucet(fx.Ctx, addr, amount); err != nil {
		fx.T.Fatalf("faucet: %v", err)
	}
}

// Certify certifies a registered blob with a quorum of the current
// committee.
func (fx *Fixture) Certify(b chainlink.Blob) chainlink.Blob {
	fx.T.Helper()
	c := fx.Committee()
	reach, _ := Subsets(c, bls.Quorum)
	msg := codec.StorageConfirmationMessage(c.Epoch, b.BlobID, b.Persistence())
	out, err := fx.C().CertifyBlob(fx.Ctx, b.ObjectID, fx.Cert(c, msg, reach...))
	if err != nil {
		fx.T.Fatalf("certify: %v", err)
	}
	return out
}

// Balance returns an account's balance (0 if it does not exist).
func (fx *Fixture) Balance(addr chainlink.ID) uint64 {
	fx.T.Helper()
	a, err := fx.C().Account(fx.Ctx, addr)
	if errors.Is(err, chainlink.ErrNotFound) {
		return 0
	}
	if err != nil {
		fx.T.Fatalf("account: %v", err)
	}
	return a.Balance
}

// ReadEvents opens a stream after cursor and reads n events.
func ReadEvents(t testing.TB, ctx context.Context, c chainlink.Chain, after uint64, n int) []chainlink.Event {
	t.Helper()
	s, err := c.Events(ctx, after)
	if err != nil {
		t.Fatalf("events: %v", err)
	}
	defer s.Close()
	out := make([]chainlink.Event, 0, n)
	for len(out) < n {
		rctx, cancel := context.WithTimeout(ctx, waitEvent)
		e, err := s.Next(rctx)
		cancel()
		if err != nil {
			t.Fatalf("event %d of %d after %d: %v", len(out)+1, n, after, err)
		}
		out = append(out, e)
	}
	return out
}

// DrainEvents reads every event after cursor until none arrives for idle.
func DrainEvents(t testing.TB, ctx context.Context, c chainlink.Chain, after uint64, idle time.Duration) []chainlink.Event {
	t.Helper()
	s, err := c.Events(ctx, after)
	if err != nil {
		t.Fatalf("events: %v", err)
	}
	defer s.Close()
	var out []chainlink.Event
	for {
		rctx, cancel := context.WithTimeout(ctx, idle)
		e, err := s.Next(rctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			return out
		}
		if err != nil {
			t.Fatalf("drain after %d (%d read): %v", after, len(out), err)
		}
		out = append(out, e)
	}
}

// CheckContiguous fails unless events carry cursors after+1, after+2, …
func CheckContiguous(t testing.TB, after uint64, evs []chainlink.Event) {
	t.Helper()
	for i, e := range evs {
		if e.Cursor != after+uint64(i)+1 {
			t.Fatalf("event %d has cursor %d, want %d (types %v)", i, e.Cursor, after+uint64(i)+1, types(evs))
		}
	}
}

func types(evs []chainlink.Event) []chainlink.EventType {
	out := make([]chainlink.EventType, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

// findEvents returns the events of type typ.
func findEvents(evs []chainlink.Event, typ chainlink.EventType) []chainlink.Event {
	return slices.DeleteFunc(slices.Clone(evs), func(e chainlink.Event) bool { return e.Type != typ })
}
