package chainlink

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"

	"floe/chainlink/bls"
	"floe/codec"
)

// BytesPerUnit is the pricing unit of F9.4: 1 MiB.
const BytesPerUnit = 1 << 20

// Units returns ceil(bytes / 1 MiB) (F9.4).
func Units(bytes uint64) uint64 { return (bytes + BytesPerUnit - 1) / BytesPerUnit }

// Config holds the ledger's parameters. Those fixed at genesis (NShards,
// prices, MaxEpochsAhead) are stored with the state; on reopening an
// existing ledger the stored values win.
type Config struct {
	// NShards is the number of shards (default 100).
	NShards int
	// EpochDuration advances epochs on a timer; 0 means only on request.
	EpochDuration time.Duration
	// MaxEpochsAhead bounds storage periods (default 53, at most 1000, F9.6).
	MaxEpochsAhead uint32
	// StoragePricePerUnit is charged per MiB per epoch (default 100).
	StoragePricePerUnit uint64
	// WritePricePerUnit is charged once per MiB of encoded size (default 20).
	WritePricePerUnit uint64
	// MinStake is the stake a node needs to enter a committee (default 1).
	MinStake uint64
	// FaucetLimit caps one faucet call (default 1e15).
	FaucetLimit uint64
	// Logger receives structured logs (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// AllowRemote lets Serve listen on a non-loopback address.
	AllowRemote bool

	// The HTTP service's settings (Server); the in-process methods are
	// for trusted callers and ignore them.

	// Faucet serves POST /v1/faucet (devnets); off by default, when the
	// service refuses it with ErrFaucetDisabled.
	Faucet bool
	// FaucetLimits rate-limits the served faucet per account and per
	// client address (zero fields: DefaultFaucetLimits's).
	FaucetLimits FaucetLimits
	// AdminToken authorises the admin operations over HTTP (AdvanceEpoch,
	// as "Authorization: Bearer TOKEN"); empty: they are refused.
	AdminToken string
	// MaxNonces bounds the nonces of signed requests the service
	// remembers (default 1<<20): past it, new signed requests are refused
	// with ErrRateLimited until old ones expire.
	MaxNonces int
}

// FaucetLimits are token buckets: each account may take one faucet payment
// every AccountEvery with bursts of AccountBurst, each client IP address
// one every IPEvery with bursts of IPBurst. A negative Every turns that
// limit off.
type FaucetLimits struct {
	AccountEvery time.Duration
	AccountBurst int
	IPEvery      time.Duration
	IPBurst      int
}

// DefaultFaucetLimits: an account gets 20 payments at once and then one
// every 3 s; an IP address 200 at once and then 5 a second.
var DefaultFaucetLimits = FaucetLimits{AccountEvery: 3 * time.Second, AccountBurst: 20, IPEvery: 200 * time.Millisecond, IPBurst: 200}

// NoFaucetLimits turns the faucet's rate limits off (tests).
var NoFaucetLimits = FaucetLimits{AccountEvery: -1, IPEvery: -1}

// Option changes a Config.
type Option func(*Config)

// WithShards sets the number of shards of a new ledger.
func WithShards(n int) Option { return func(c *Config) { c.NShards = n } }

// WithEpochDuration sets the epoch timer.
func WithEpochDuration(d time.Duration) Option { return func(c *Config) { c.EpochDuration = d } }

// WithMaxEpochsAhead sets the maximum storage period of a new ledger.
func WithMaxEpochsAhead(n uint32) Option { return func(c *Config) { c.MaxEpochsAhead = n } }

// WithPrices sets the storage price per MiB per epoch and the write price
// per MiB of a new ledger.
func WithPrices(storage, write uint64) Option {
	return func(c *Config) { c.StoragePricePerUnit, c.WritePricePerUnit = storage, write }
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(c *Config) { c.Logger = l } }

// WithClock sets the clock.
func WithClock(now func() time.Time) Option { return func(c *Config) { c.Now = now } }

// WithAllowRemote lets Serve listen on a non-loopback address.
func WithAllowRemote() Option { return func(c *Config) { c.AllowRemote = true } }

// WithFaucet serves the faucet over HTTP (devnets) with limits (a zero
// value: DefaultFaucetLimits).
func WithFaucet(limits FaucetLimits) Option {
	return func(c *Config) { c.Faucet, c.FaucetLimits = true, limits }
}

// WithAdminToken sets the token that authorises admin operations over HTTP.
func WithAdminToken(token string) Option { return func(c *Config) { c.AdminToken = token } }

// WithConfig replaces the whole configuration (zero fields get defaults).
func WithConfig(cfg Config) Option { return func(c *Config) { *c = cfg } }

func (c *Config) defaults() {
	if c.NShards == 0 {
		c.NShards = 100
	}
	if c.MaxEpochsAhead == 0 {
		c.MaxEpochsAhead = 53
	}
	if c.StoragePricePerUnit == 0 {
		c.StoragePricePerUnit = 100
	}
	if c.WritePricePerUnit == 0 {
		c.WritePricePerUnit = 20
	}
	if c.MinStake == 0 {
		c.MinStake = 1
	}
	if c.FaucetLimit == 0 {
		c.FaucetLimit = 1e15
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	d := DefaultFaucetLimits
	if c.FaucetLimits.AccountEvery == 0 {
		c.FaucetLimits.AccountEvery = d.AccountEvery
	}
	if c.FaucetLimits.AccountBurst <= 0 {
		c.FaucetLimits.AccountBurst = d.AccountBurst
	}
	if c.FaucetLimits.IPEvery == 0 {
		c.FaucetLimits.IPEvery = d.IPEvery
	}
	if c.FaucetLimits.IPBurst <= 0 {
		c.FaucetLimits.IPBurst = d.IPBurst
	}
	if c.MaxNonces <= 0 {
		c.MaxNonces = 1 << 20
	}
}

// meta is the ledger's global record.
type meta struct {
	Version    int        `json:"version"`
	Epoch      EpochState `json:"epoch"`
	NextObject uint64     `json:"next_object"`
	LastEvent  uint64     `json:"last_event"`
	// Buckets holds the storage fees paid into each epoch (F9.4).
	Buckets map[uint32]uint64 `json:"buckets"`
	// OldSyncDone and OldSyncWeight are where ledgers written before
	// EpochState carried SyncDoneNodes and SyncDoneWeight kept them; load
	// moves them there, and they are never written again.
	OldSyncDone   []ID `json:"sync_done,omitempty"`
	OldSyncWeight int  `json:"sync_weight,omitempty"`
}

const stateVersion = 1

// Datastore keys.
var (
	keyMeta       = datastore.NewKey("/meta")
	prefAccount   = "/accounts/"
	prefNode      = "/nodes/"
	prefStorage   = "/storage/"
	prefBlob      = "/blobs/"
	prefInvalid   = "/invalid/"
	prefCommittee = "/committees/"
	prefEvent     = "/events/"
)

func keyID(prefix string, id ID) datastore.Key { return datastore.NewKey(prefix + id.String()) }
func keyEvent(seq uint64) datastore.Key {
	return datastore.NewKey(fmt.Sprintf("%s%016x", prefEvent, seq))
}
func keyCommittee(e uint32) datastore.Key {
	return datastore.NewKey(fmt.Sprintf("%s%08x", prefCommittee, e))
}
func keyInvalid(id codec.BlobID) datastore.Key {
	return datastore.NewKey(prefInvalid + ID(id).String())
}

// Ledger is the embedded ledger: the Walrus system-contract rules that
// matter to nodes and clients (spec §8, §9, §13), with its state on a
// go-datastore. It implements Chain.
type Ledger struct {
	cfg Config
	log *slog.Logger
	ds  datastore.Batching
	// closeDS closes ds on Close (OpenDir).
	closeDS func() error

	mu         sync.Mutex
	m          meta
	accounts   map[ID]*Account
	nodes      map[ID]*Node
	storages   map[ID]*Storage
	blobs      map[ID]*Blob
	invalid    map[codec.BlobID]uint32
	committees map[uint32]*Committee
	byBlobID   map[codec.BlobID]map[ID]struct{}
	verifier   *bls.Verifier // current committee's; nil if none
	notify     chan struct{}
	closed     bool
	broken     error

	stop chan struct{}
	wg   sync.WaitGroup
}

var _ Chain = (*Ledger)(nil)

// Open opens (or creates) a ledger on ds. Close the ledger when done; it
// does not close ds.
func Open(ctx context.Context, ds datastore.Batching, opts ...Option) (*Ledger, error) {
	var cfg Config
	for _, o := range opts {
		o(&cfg)
	}
	cfg.defaults()
	l := &Ledger{
		cfg: cfg, log: cfg.Logger, ds: ds,
		accounts: map[ID]*Account{}, nodes: map[ID]*Node{}, storages: map[ID]*Storage{},
		blobs: map[ID]*Blob{}, invalid: map[codec.BlobID]uint32{}, committees: map[uint32]*Committee{},
		byBlobID: map[codec.BlobID]map[ID]struct{}{},
		notify:   make(chan struct{}), stop: make(chan struct{}),
	}
	if err := l.load(ctx); err != nil {
		return nil, err
	}
	if cfg.EpochDuration > 0 {
		l.wg.Add(1)
		go l.epochTimer()
	}
	return l, nil
}

func (l *Ledger) load(ctx context.Context) error {
	b, err := l.ds.Get(ctx, keyMeta)
	switch {
	case errors.Is(err, datastore.ErrNotFound):
		return l.genesis(ctx)
	case err != nil:
		return fmt.Errorf("chainlink: read state: %w", err)
	}
	if err := json.Unmarshal(b, &l.m); err != nil {
		return fmt.Errorf("chainlink: corrupt state meta: %w", err)
	}
	if l.m.Version != stateVersion {
		return fmt.Errorf("chainlink: state version %d, want %d", l.m.Version, stateVersion)
	}
	if err := checkParams(l.m.Epoch.NShards, l.m.Epoch.MaxEpochsAhead); err != nil {
		return fmt.Errorf("chainlink: corrupt state meta: %w", err)
	}
	if l.m.Buckets == nil {
		l.m.Buckets = map[uint32]uint64{}
	}
	if err := loadAll(ctx, l.ds, prefAccount, func(a *Account) { l.accounts[a.Address] = a }); err != nil {
		return err
	}
	if err := loadAll(ctx, l.ds, prefNode, func(n *Node) { l.nodes[n.ID] = n }); err != nil {
		return err
	}
	if err := loadAll(ctx, l.ds, prefStorage, func(s *Storage) { l.storages[s.ID] = s }); err != nil {
		return err
	}
	if err := loadAll(ctx, l.ds, prefBlob, func(b *Blob) { l.blobs[b.ObjectID] = b; l.index(b) }); err != nil {
		return err
	}
	if err := loadAll(ctx, l.ds, prefCommittee, func(c *Committee) { l.committees[c.Epoch] = c }); err != nil {
		return err
	}
	type inv struct {
		BlobID codec.BlobID `json:"blob_id"`
		Epoch  uint32       `json:"epoch"`
	}
	if err := loadAll(ctx, l.ds, prefInvalid, func(i *inv) { l.invalid[i.BlobID] = i.Epoch }); err != nil {
		return err
	}
	for e, c := range l.committees {
		if err := checkCommittee(c, e, l.m.Epoch.NShards); err != nil {
			return fmt.Errorf("chainlink: corrupt committee of epoch %d: %w", e, err)
		}
	}
	if err := l.loadSyncDone(); err != nil {
		return fmt.Errorf("chainlink: corrupt state meta: %w", err)
	}
	for _, n := range l.nodes {
		if err := checkWithdrawals(n); err != nil {
			return fmt.Errorf("chainlink: corrupt node %s: %w", n.ID, err)
		}
		// Records from before the REST API have neither field.
		if err := CheckNetworkInfo(n.NetworkAddress, n.NetworkPublicKey); err != nil {
			return fmt.Errorf("chainlink: corrupt node %s: %w", n.ID, err)
		}
	}
	if err := l.refreshVerifier(); err != nil {
		return err
	}
	l.log.Info("ledger opened", "epoch", l.m.Epoch.Epoch, "events", l.m.LastEvent,
		"nodes", len(l.nodes), "blobs", len(l.blobs), "n_shards", l.m.Epoch.NShards)
	return nil
}

func loadAll[T any](ctx context.Context, ds datastore.Datastore, prefix string, f func(*T)) error {
	res, err := ds.Query(ctx, query.Query{Prefix: prefix[:len(prefix)-1]})
	if err != nil {
		return fmt.Errorf("chainlink: load %s: %w", prefix, err)
	}
	defer res.Close()
	for r := range res.Next() {
		if r.Error != nil {
			return fmt.Errorf("chainlink: load %s: %w", prefix, r.Error)
		}
		v := new(T)
		if err := json.Unmarshal(r.Value, v); err != nil {
			return fmt.Errorf("chainlink: corrupt record %s: %w", r.Key, err)
		}
		f(v)
	}
	return nil
}

func (l *Ledger) genesis(ctx context.Context) error {
	c := l.cfg
	if err := checkParams(c.NShards, c.MaxEpochsAhead); err != nil {
		return fmt.Errorf("chainlink: %w", err)
	}
	l.m = meta{
		Version: stateVersion,
		Epoch: EpochState{
			Epoch: 0, Phase: PhaseChangeDone, StartUnixMs: c.Now().UnixMilli(),
			DurationMs: c.EpochDuration.Milliseconds(), NShards: c.NShards, MaxEpochsAhead: c.MaxEpochsAhead,
			StoragePricePerUnit: c.StoragePricePerUnit, WritePricePerUnit: c.WritePricePerUnit,
		},
		Buckets: map[uint32]uint64{},
	}
	tx := l.begin()
	if err := l.commit(ctx, tx); err != nil {
		return err
	}
	l.log.Info("ledger created", "n_shards", c.NShards, "max_epochs_ahead", c.MaxEpochsAhead)
	return nil
}

// Close stops the epoch timer and wakes event streams. It does not close a
// datastore passed to Open.
func (l *Ledger) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.stop)
	l.mu.Unlock()
	l.wg.Wait()
	if l.closeDS != nil {
		return l.closeDS()
	}
	return nil
}

// ---- transactions ----

// tx collects the writes of one operation; commit applies them atomically.
type tx struct {
	puts   map[datastore.Key][]byte
	dels   map[datastore.Key]bool
	events []Event
}

func (l *Ledger) begin() *tx {
	return &tx{puts: map[datastore.Key][]byte{}, dels: map[datastore.Key]bool{}}
}

func (t *tx) put(k datastore.Key, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("chainlink: marshal %s: %v", k, err)) // our own types always marshal
	}
	t.puts[k] = b
	delete(t.dels, k)
}

func (t *tx) del(k datastore.Key) {
	delete(t.puts, k)
	t.dels[k] = true
}

func (l *Ledger) emit(t *tx, e Event) {
	l.m.LastEvent++
	e.Cursor = l.m.LastEvent
	t.events = append(t.events, e)
	t.put(keyEvent(e.Cursor), e)
}

// commit writes the transaction and meta in one batch. A failed write leaves
// memory ahead of disk, so the ledger refuses further work until reopened.
func (l *Ledger) commit(ctx context.Context, t *tx) error {
	t.put(keyMeta, l.m)
	b, err := l.ds.Batch(ctx)
	if err == nil {
		for k, v := range t.puts {
			if err = b.Put(ctx, k, v); err != nil {
				break
			}
		}
	}
	if err == nil {
		for k := range t.dels {
			if err = b.Delete(ctx, k); err != nil {
				break
			}
		}
	}
	if err == nil {
		err = b.Commit(context.WithoutCancel(ctx))
	}
	if err != nil {
		l.broken = fmt.Errorf("%w: write failed, reopen the ledger: %v", ErrUnavailable, err)
		l.log.Error("ledger write failed", "err", err)
		return l.broken
	}
	if len(t.events) > 0 {
		close(l.notify)
		l.notify = make(chan struct{})
		for _, e := range t.events {
			l.log.Debug("event", "cursor", e.Cursor, "type", e.Type, "epoch", e.Epoch)
		}
	}
	return nil
}

// lock takes the ledger lock for an operation, refusing when closed or
// broken.
func (l *Ledger) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	if l.broken != nil {
		err := l.broken
		l.mu.Unlock()
		return err
	}
	return nil
}

func (l *Ledger) newObjectID() ID {
	l.m.NextObject++
	var b [8 + 16]byte
	copy(b[:16], "floe/object/v1\x00\x00")
	binary.BigEndian.PutUint64(b[16:], l.m.NextObject)
	return ID(sha256.Sum256(b[:]))
}

func (l *Ledger) index(b *Blob) {
	s := l.byBlobID[b.BlobID]
	if s == nil {
		s = map[ID]struct{}{}
		l.byBlobID[b.BlobID] = s
	}
	s[b.ObjectID] = struct{}{}
}

func (l *Ledger) unindex(b *Blob) {
	if s := l.byBlobID[b.BlobID]; s != nil {
		delete(s, b.ObjectID)
		if len(s) == 0 {
			delete(l.byBlobID, b.BlobID)
		}
	}
}

func (l *Ledger) refreshVerifier() error {
	l.verifier = nil
	c := l.committees[l.m.Epoch.Epoch]
	if c == nil || len(c.Members) == 0 {
		return nil
	}
	v, err := c.Verifier()
	if err != nil {
		return fmt.Errorf("chainlink: committee of epoch %d: %w", c.Epoch, err)
	}
	l.verifier = v
	return nil
}

func (l *Ledger) debit(t *tx, addr ID, amount uint64) error {
	if amount == 0 {
		return nil
	}
	a := l.accounts[addr]
	if a == nil || a.Balance < amount {
		have := uint64(0)
		if a != nil {
			have = a.Balance
		}
		return fmt.Errorf("%w: %s has %d, needs %d", ErrInsufficientFunds, addr, have, amount)
	}
	a.Balance -= amount
	t.put(keyID(prefAccount, addr), a)
	return nil
}

func (l *Ledger) credit(t *tx, addr ID, amount uint64) *Account {
	a := l.accounts[addr]
	if a == nil {
		a = &Account{Address: addr}
		l.accounts[addr] = a
	}
	a.Balance += amount
	t.put(keyID(prefAccount, addr), a)
	return a
}

func (l *Ledger) balance(addr ID) uint64 {
	if a := l.accounts[addr]; a != nil {
		return a.Balance
	}
	return 0
}

// mulOK multiplies without overflow.
func mulOK(a, b uint64) (uint64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	c := a * b
	return c, c/b == a
}

// ---- queries ----

// EpochState implements Chain.
func (l *Ledger) EpochState(ctx context.Context) (EpochState, error) {
	if err := l.lock(ctx); err != nil {
		return EpochState{}, err
	}
	defer l.mu.Unlock()
	return l.epochState(), nil
}

// epochState returns a copy of the current epoch state.
func (l *Ledger) epochState() EpochState {
	es := l.m.Epoch
	es.SyncDoneNodes = slices.Clone(es.SyncDoneNodes)
	return es
}

// Committee implements Chain.
func (l *Ledger) Committee(ctx context.Context, epoch uint32) (*Committee, error) {
	if err := l.lock(ctx); err != nil {
		return nil, err
	}
	defer l.mu.Unlock()
	c := l.committees[epoch]
	if c == nil {
		return nil, fmt.Errorf("%w: no committee for epoch %d", ErrNotFound, epoch)
	}
	out := cloneCommittee(c)
	// Network information is the node's current one (UpdateNode); keys,
	// shards and weights are those fixed at selection.
	for i := range out.Members {
		if n := l.nodes[out.Members[i].NodeID]; n != nil {
			out.Members[i].PeerID = n.PeerID
			out.Members[i].Addresses = slices.Clone(n.Addresses)
			out.Members[i].NetworkAddress = n.NetworkAddress
			out.Members[i].NetworkPublicKey = slices.Clone(n.NetworkPublicKey)
		}
	}
	return out, nil
}

func cloneCommittee(c *Committee) *Committee {
	out := *c
	out.Members = make([]Member, len(c.Members))
	for i, m := range c.Members {
		m.Addresses = slices.Clone(m.Addresses)
		m.NetworkPublicKey = slices.Clone(m.NetworkPublicKey)
		m.Shards = slices.Clone(m.Shards)
		out.Members[i] = m
	}
	return &out
}

func cloneNode(n *Node) Node {
	out := *n
	out.Addresses = slices.Clone(n.Addresses)
	out.NetworkPublicKey = slices.Clone(n.NetworkPublicKey)
	out.Stakers = maps.Clone(n.Stakers)
	out.Withdrawals = slices.Clone(n.Withdrawals)
	return out
}

func cloneBlob(b *Blob) Blob {
	out := *b
	if b.CertifiedEpoch != nil {
		e := *b.CertifiedEpoch
		out.CertifiedEpoch = &e
	}
	out.Attributes = maps.Clone(b.Attributes)
	return out
}

// Account implements Chain.
func (l *Ledger) Account(ctx context.Context, addr ID) (Account, error) {
	if err := l.lock(ctx); err != nil {
		return Account{}, err
	}
	defer l.mu.Unlock()
	a := l.accounts[addr]
	if a == nil {
		return Account{}, fmt.Errorf("%w: account %s", ErrNotFound, addr)
	}
	return *a, nil
}

// Node implements Chain.
func (l *Ledger) Node(ctx context.Context, id ID) (Node, error) {
	if err := l.lock(ctx); err != nil {
		return Node{}, err
	}
	defer l.mu.Unlock()
	n := l.nodes[id]
	if n == nil {
		return Node{}, fmt.Errorf("%w: node %s", ErrNotFound, id)
	}
	return cloneNode(n), nil
}

// Nodes implements Chain.
func (l *Ledger) Nodes(ctx context.Context) ([]Node, error) {
	if err := l.lock(ctx); err != nil {
		return nil, err
	}
	defer l.mu.Unlock()
	out := make([]Node, 0, len(l.nodes))
	for _, n := range l.nodes {
		out = append(out, cloneNode(n))
	}
	slices.SortFunc(out, func(a, b Node) int { return a.ID.Compare(b.ID) })
	return out, nil
}

// Blob implements Chain.
func (l *Ledger) Blob(ctx context.Context, id ID) (Blob, error) {
	if err := l.lock(ctx); err != nil {
		return Blob{}, err
	}
	defer l.mu.Unlock()
	b := l.blobs[id]
	if b == nil {
		return Blob{}, fmt.Errorf("%w: blob object %s", ErrNotFound, id)
	}
	return cloneBlob(b), nil
}

// OwnedBlobs implements Chain.
func (l *Ledger) OwnedBlobs(ctx context.Context, owner ID) ([]Blob, error) {
	if err := l.lock(ctx); err != nil {
		return nil, err
	}
	defer l.mu.Unlock()
	out := []Blob{}
	for _, b := range l.blobs {
		if b.Owner == owner {
			out = append(out, cloneBlob(b))
		}
	}
	slices.SortFunc(out, func(a, b Blob) int { return a.ObjectID.Compare(b.ObjectID) })
	return out, nil
}

// BlobStatus implements Chain.
func (l *Ledger) BlobStatus(ctx context.Context, id codec.BlobID) (BlobStatus, error) {
	if err := l.lock(ctx); err != nil {
		return BlobStatus{}, err
	}
	defer l.mu.Unlock()
	cur := l.m.Epoch.Epoch
	st := BlobStatus{BlobID: id}
	_, st.Invalid = l.invalid[id]
	for oid := range l.byBlobID[id] {
		b := l.blobs[oid]
		if b == nil {
			continue
		}
		if b.Storage.EndEpoch <= cur {
			st.ExpiredEndEpoch = max(st.ExpiredEndEpoch, b.Storage.EndEpoch)
			continue
		}
		st.Exists = true
		st.Objects = append(st.Objects, oid)
		certified := b.CertifiedEpoch != nil
		if b.Deletable {
			st.DeletableRegistered++
			if certified {
				st.DeletableCertified++
			}
		} else {
			st.PermanentEndEpoch = max(st.PermanentEndEpoch, b.Storage.EndEpoch)
			st.PermanentCertified = st.PermanentCertified || certified
		}
		if certified {
			st.CertifiedEndEpoch = max(st.CertifiedEndEpoch, b.Storage.EndEpoch)
			if st.InitialCertifiedEpoch == nil || *b.CertifiedEpoch < *st.InitialCertifiedEpoch {
				e := *b.CertifiedEpoch
				st.InitialCertifiedEpoch = &e
			}
		}
	}
	slices.SortFunc(st.Objects, ID.Compare)
	return st, nil
}

// maxMaxEpochsAhead is the contract's hard cap (MAX_MAX_EPOCHS_AHEAD, F9.6).
const maxMaxEpochsAhead = 1000

// checkParams validates the genesis parameters, also when read back.
func checkParams(nShards int, maxAhead uint32) error {
	if _, err := codec.NewParams(nShards); err != nil {
		return err
	}
	if maxAhead == 0 || maxAhead > maxMaxEpochsAhead {
		return fmt.Errorf("max epochs ahead %d not in [1, %d]", maxAhead, maxMaxEpochsAhead)
	}
	return nil
}

// checkCommittee validates a committee read back from disk: its epoch,
// shard count, and a partition of the shards among members in node-ID
// order.
func checkCommittee(c *Committee, epoch uint32, nShards int) error {
	if c.Epoch != epoch || c.NShards != nShards {
		return fmt.Errorf("epoch %d / %d shards", c.Epoch, c.NShards)
	}
	if len(c.Members) == 0 {
		return nil
	}
	seen := make([]bool, nShards)
	total := 0
	for i, m := range c.Members {
		if i > 0 && c.Members[i-1].NodeID.Compare(m.NodeID) >= 0 {
			return fmt.Errorf("members not sorted by node ID")
		}
		if m.Weight != len(m.Shards) {
			return fmt.Errorf("member %d: weight %d for %d shards", i, m.Weight, len(m.Shards))
		}
		for _, s := range m.Shards {
			if int(s) >= nShards || seen[s] {
				return fmt.Errorf("member %d: shard %d out of range or repeated", i, s)
			}
			seen[s] = true
		}
		total += m.Weight
	}
	if total != nShards {
		return fmt.Errorf("%d of %d shards assigned", total, nShards)
	}
	return nil
}

// loadSyncDone moves the sync reports of a ledger written before they were
// part of EpochState, and checks them against the current committee: sorted
// members, each once, and the weight their shards.
func (l *Ledger) loadSyncDone() error {
	es := &l.m.Epoch
	if len(l.m.OldSyncDone) > 0 && len(es.SyncDoneNodes) == 0 {
		es.SyncDoneNodes = slices.Clone(l.m.OldSyncDone)
		slices.SortFunc(es.SyncDoneNodes, ID.Compare)
		es.SyncDoneNodes = slices.Compact(es.SyncDoneNodes)
		es.SyncDoneWeight = 0
		if c := l.committees[es.Epoch]; c != nil {
			for _, id := range es.SyncDoneNodes {
				if i := c.Index(id); i >= 0 {
					es.SyncDoneWeight += c.Members[i].Weight
				}
			}
		}
	}
	l.m.OldSyncDone, l.m.OldSyncWeight = nil, 0
	if len(es.SyncDoneNodes) == 0 {
		es.SyncDoneNodes = nil
		if es.SyncDoneWeight != 0 {
			return fmt.Errorf("sync done weight %d without reports", es.SyncDoneWeight)
		}
		return nil
	}
	c := l.committees[es.Epoch]
	if c == nil {
		return fmt.Errorf("sync reports in epoch %d without a committee", es.Epoch)
	}
	w := 0
	for i, id := range es.SyncDoneNodes {
		if i > 0 && es.SyncDoneNodes[i-1].Compare(id) >= 0 {
			return fmt.Errorf("sync reports not sorted or repeated")
		}
		j := c.Index(id)
		if j < 0 {
			return fmt.Errorf("sync report by %s, not a member of epoch %d", id, es.Epoch)
		}
		w += c.Members[j].Weight
	}
	if w != es.SyncDoneWeight {
		return fmt.Errorf("sync done weight %d, reports hold %d shards", es.SyncDoneWeight, w)
	}
	return nil
}

// checkWithdrawals validates a node's pending withdrawals read back from
// disk: positive amounts, ordered by credit epoch and staker, each pair
// once.
func checkWithdrawals(n *Node) error {
	for i, w := range n.Withdrawals {
		if w.Amount == 0 {
			return fmt.Errorf("withdrawal %d of zero", i)
		}
		if i > 0 && compareWithdrawals(n.Withdrawals[i-1], w) >= 0 {
			return fmt.Errorf("withdrawals not ordered by credit epoch and staker")
		}
	}
	return nil
}

func compareWithdrawals(a, b Withdrawal) int {
	if a.CreditEpoch != b.CreditEpoch {
		if a.CreditEpoch < b.CreditEpoch {
			return -1
		}
		return 1
	}
	return a.Staker.Compare(b.Staker)
}
