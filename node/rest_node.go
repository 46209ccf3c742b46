package node

import (
	"context"
	"crypto/ecdsa"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net"
	"path/filepath"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/crypto/blake2b"

	"floe/codec"
	"floe/node/rest"
	"floe/p2p"
	"floe/store"
)

// The node's side of the Walrus storage-node REST API (node/rest): the
// listener's start and stop, and the few node methods the API has beyond
// the stream protocols' p2p.Handler, which it shares with them.

// restState is the REST listener: bound by listenREST before the node
// registers (so the URL it publishes on chain is known), served by
// serveREST once the handler's dependencies exist.
type restState struct {
	srv *rest.Server
	key *ecdsa.PrivateKey
	url string
	ln  net.Listener // bound, not yet served (nil once serveREST ran)
}

// errRESTBind marks a REST listener that could not be bound (the devnet
// moves a restarted node whose port was taken to a free one).
var errRESTBind = errors.New("binding the REST listener")

// listenREST loads (or creates) the network key and binds
// Config.RestListen (nothing when it is empty). The URL is
// https://rest_announce when set, else https:// and the bound address.
func (n *Node) listenREST() error {
	if n.cfg.RestListen == "" {
		return nil
	}
	key, err := rest.LoadOrCreateNetworkKey(filepath.Join(n.cfg.DataDir, rest.NetworkKeyFile))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", n.cfg.RestListen)
	if err != nil {
		return fmt.Errorf("%w: rest_listen: %w: %w", ErrConfig, errRESTBind, err)
	}
	url := "https://" + ln.Addr().String()
	if n.cfg.RestAnnounce != "" {
		url = "https://" + n.cfg.RestAnnounce
	}
	n.rest = &restState{key: key, url: url, ln: ln}
	return nil
}

// serveREST serves the REST API on the listener listenREST bound, with
// the stream server's per-peer rate limit as its per-address one.
func (n *Node) serveREST(rl p2p.RateLimit) error {
	if n.rest == nil || n.rest.ln == nil {
		return nil
	}
	key := n.rest.key
	rc := rest.DefaultConfig(n.params, key)
	rc.RateLimit = rl
	rc.Logger = n.log
	rc.Registerer = n.metrics.reg
	if n.cfg.RestAnnounce != "" {
		rc.PublicHost, _, _ = net.SplitHostPort(n.cfg.RestAnnounce)
	}
	b := &restBackend{handler: &handler{n: n, maxSyncBytes: p2p.LimitsFor(n.params).MaxSyncBytes}, key: key, started: time.Now()}
	b.status.m = map[codec.BlobID]cachedStatus{}
	srv, err := rest.New(b, rc)
	if err != nil {
		return err
	}
	ln := n.rest.ln
	n.rest.ln = nil
	if err := srv.Serve(ln); err != nil { // closes ln on failure
		return fmt.Errorf("rest: %w", err)
	}
	n.rest.srv = srv
	n.log.Info("serving the Walrus storage-node REST API", "url", n.rest.url, "server_name", rest.ServerName(&key.PublicKey),
		"network_public_key", base64.StdEncoding.EncodeToString(rest.CompressedKey(&key.PublicKey)))
	return nil
}

// stopREST stops the REST listener, letting requests in flight finish
// until ctx ends.
func (n *Node) stopREST(ctx context.Context) error {
	if n.rest == nil {
		return nil
	}
	if n.rest.ln != nil {
		err := n.rest.ln.Close()
		n.rest.ln = nil
		return err
	}
	if n.rest.srv == nil {
		return nil
	}
	return n.rest.srv.Close(ctx)
}

// RESTURL is the base URL of the node's REST API ("" when it serves none).
func (n *Node) RESTURL() string {
	if n.rest == nil {
		return ""
	}
	return n.rest.url
}

// NetworkPublicKey is the node's network key (P-256, SEC 1 compressed, 33
// bytes) that clients of its REST API pin; nil when it serves none.
func (n *Node) NetworkPublicKey() []byte {
	if n.rest == nil {
		return nil
	}
	return rest.CompressedKey(&n.rest.key.PublicKey)
}

// restBackend is the node's rest.Backend: the libp2p handler and the
// REST-only methods.
type restBackend struct {
	*handler
	key     *ecdsa.PrivateKey
	started time.Time
	status  statusCache
}

var _ rest.Backend = (*restBackend)(nil)

func (b *restBackend) Params() codec.Params       { return b.n.params }
func (b *restBackend) Epoch() uint32              { return b.n.Epoch() }
func (b *restBackend) Shards() []int              { return b.n.Shards() }
func (b *restBackend) ServesShard(shard int) bool { return b.n.mig.serves(shard) }

// registered reads the blob's state: whether it is known, registered and
// live, and whether it is invalid.
func (b *restBackend) state(ctx context.Context, id codec.BlobID) (st store.BlobState, known bool, err error) {
	st, err = b.n.store.State(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return st, false, nil
	}
	return st, err == nil, err
}

func (b *restBackend) StoreMetadata(ctx context.Context, from peer.ID, id codec.BlobID, raw []byte, pending bool) (rest.Stored, error) {
	n := b.n
	st, known, err := b.state(ctx, id)
	if err != nil {
		return 0, err
	}
	switch {
	case known && st.Invalid:
		return 0, fmt.Errorf("%w: %s", rest.ErrBlobInvalid, id)
	case known && st.Gone(uint64(n.Epoch())):
		return 0, fmt.Errorf("%w: blob %s is deleted or expired", rest.ErrNotRegistered, id)
	}
	stored, buffered, err := n.store.HasMetadata(ctx, id)
	if err != nil {
		return 0, err
	}
	if stored || buffered {
		return rest.StoredAlready, nil
	}
	if !(known && st.Registered) && !pending {
		return 0, fmt.Errorf("%w: this node has not seen blob %s registered (send ?pending=true to buffer it meanwhile)", rest.ErrNotRegistered, id)
	}
	if err := b.handler.PutMetadata(ctx, from, id, raw); err != nil {
		if errors.Is(err, p2p.ErrNotFound) {
			// The pending gate asked the chain: it does not know the blob.
			return 0, fmt.Errorf("%w: %v", rest.ErrNotRegistered, err)
		}
		return 0, err
	}
	if stored, _, err := n.store.HasMetadata(ctx, id); err == nil && stored {
		return rest.StoredNew, nil
	}
	return rest.StoredBuffered, nil
}

func (b *restBackend) StoreSliver(ctx context.Context, from peer.ID, id codec.BlobID, s p2p.Sliver, pending bool) (rest.Stored, error) {
	n := b.n
	shard := n.params.ShardOfPair(id, int(s.Pair))
	if !n.holds(shard) {
		return 0, fmt.Errorf("%w: pair %d of %s is on shard %d, not assigned to this node in epoch %d", rest.ErrShardNotAssigned, s.Pair, id, shard, n.Epoch())
	}
	st, known, err := b.state(ctx, id)
	if err != nil {
		return 0, err
	}
	if known && st.Gone(uint64(n.Epoch())) {
		return 0, fmt.Errorf("%w: blob %s is invalid, deleted or expired", rest.ErrNotRegistered, id)
	}
	stored, buffered, err := n.store.HasSliver(ctx, id, shard, int(s.Pair), s.Type)
	if err != nil {
		return 0, err
	}
	if stored || buffered {
		return rest.StoredAlready, nil
	}
	if !(known && st.Registered) && !pending {
		return 0, fmt.Errorf("%w: this node has not seen blob %s registered (send ?pending=true to buffer it meanwhile)", rest.ErrNotRegistered, id)
	}
	if _, err := n.metadata(ctx, id); errors.Is(err, store.ErrNotFound) {
		return 0, fmt.Errorf("%w: no metadata for %s: send it first", rest.ErrMetadataMissing, id)
	}
	errs, err := b.handler.PutSlivers(ctx, from, id, []p2p.Sliver{s})
	if err == nil && len(errs) != 1 {
		err = fmt.Errorf("%w: handler returned %d results for one sliver", p2p.ErrInternal, len(errs))
	}
	if err == nil {
		err = errs[0]
	}
	if err != nil {
		if errors.Is(err, p2p.ErrNotFound) {
			return 0, fmt.Errorf("%w: %v", rest.ErrNotRegistered, err)
		}
		return 0, err
	}
	if stored, _, err := n.store.HasSliver(ctx, id, shard, int(s.Pair), s.Type); err == nil && stored {
		return rest.StoredNew, nil
	}
	return rest.StoredBuffered, nil
}

func storedStatus(stored, buffered bool) rest.StoredStatus {
	switch {
	case stored:
		return rest.StatusStored
	case buffered:
		return rest.StatusBuffered
	}
	return rest.StatusNonexistent
}

func (b *restBackend) MetadataStatus(ctx context.Context, id codec.BlobID) (rest.StoredStatus, error) {
	stored, buffered, err := b.n.store.HasMetadata(ctx, id)
	return storedStatus(stored, buffered), err
}

func (b *restBackend) SliverStatus(ctx context.Context, id codec.BlobID, ref p2p.SliverRef) (rest.StoredStatus, error) {
	shard := b.n.params.ShardOfPair(id, int(ref.Pair))
	stored, buffered, err := b.n.store.HasSliver(ctx, id, shard, int(ref.Pair), ref.Type)
	return storedStatus(stored, buffered), err
}

// Confirm is Walrus's compute_confirmation_with_wait (routes.rs): a blob
// not registered is refused at once unless the caller waits for its
// registration; a registered one with slivers missing is refused at once.
func (b *restBackend) Confirm(ctx context.Context, _ peer.ID, req p2p.ConfirmationRequest, wait time.Duration) (codec.SignedMessage, error) {
	n := b.n
	live := func() bool {
		st, known, err := b.state(ctx, req.ID)
		return err == nil && known && st.Registered && !st.Gone(uint64(n.Epoch()))
	}
	if !live() && wait > 0 {
		deadline := time.NewTimer(wait)
		defer deadline.Stop()
		tick := time.NewTicker(25 * time.Millisecond)
		defer tick.Stop()
	poll:
		for !live() {
			select {
			case <-ctx.Done():
				return codec.SignedMessage{}, ctx.Err()
			case <-deadline.C:
				break poll
			case <-tick.C:
			}
		}
	}
	if !live() {
		return codec.SignedMessage{}, fmt.Errorf("%w: blob %s", rest.ErrNotRegistered, req.ID)
	}
	msg, err := n.confirmation(ctx, req.ID, req.Persistence)
	switch {
	case errors.Is(err, errNotYet) && !live():
		return codec.SignedMessage{}, fmt.Errorf("%w: %v", rest.ErrNotRegistered, err)
	case errors.Is(err, errNotYet):
		return codec.SignedMessage{}, fmt.Errorf("%w: %v", rest.ErrMissingSlivers, err)
	case errors.Is(err, p2p.ErrInvalidRequest):
		// Invalid, deleted or expired; or no live object of that kind.
		return codec.SignedMessage{}, fmt.Errorf("%w: %v", rest.ErrNotRegistered, err)
	}
	return msg, err
}

func (b *restBackend) DecodingSymbols(ctx context.Context, id codec.BlobID, target codec.SliverType, targets []int, maxBytes int) (map[int][]rest.DecodingSymbol, error) {
	n := b.n
	st, known, err := b.state(ctx, id)
	if err != nil {
		return nil, storeErr(err)
	}
	if !known || !st.Registered || st.Gone(uint64(n.Epoch())) {
		return nil, fmt.Errorf("%w: blob %s is not stored here", p2p.ErrNotFound, id)
	}
	vm, err := n.metadata(ctx, id)
	if err != nil {
		return nil, storeErr(err)
	}
	s, err := n.params.SymbolSize(vm.m.UnencodedLength)
	if err != nil {
		return nil, err
	}
	shards := n.Shards()
	if total := len(targets) * len(shards) * (s + 8); total > maxBytes {
		return nil, fmt.Errorf("%w: %d targets × %d shards × %d-byte symbols", rest.ErrAnswerTooLarge, len(targets), len(shards), s)
	}
	src := target.Orthogonal()
	out := make(map[int][]rest.DecodingSymbol, len(targets))
	for _, shard := range shards {
		raw, err := n.store.GetShardSliver(ctx, shard, id, src)
		if err != nil {
			continue // Walrus skips the slivers it cannot read
		}
		sl, err := codec.UnmarshalSliver(raw, src)
		if err != nil || sl.SymbolSize != s || len(sl.Data) != s*n.params.SymbolsPerSliver(src) {
			continue
		}
		for _, t := range targets {
			out[t] = append(out[t], rest.DecodingSymbol{Target: target, Index: sl.Index, Data: n.corrupt(sl.Symbol(t))})
		}
	}
	return out, nil
}

func (b *restBackend) AttestInconsistency(ctx context.Context, id codec.BlobID, proof *codec.InconsistencyProof) (codec.SignedMessage, error) {
	n := b.n
	vm, err := n.metadata(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return codec.SignedMessage{}, fmt.Errorf("%w: %s", rest.ErrMetadataMissing, id)
	}
	if err != nil {
		return codec.SignedMessage{}, err
	}
	if err := codec.VerifyInconsistencyProof(n.params, vm.m, proof); err != nil {
		return codec.SignedMessage{}, fmt.Errorf("%w: %v", rest.ErrInvalidProof, err)
	}
	msg := codec.InvalidBlobIDMessage(n.Epoch(), id)
	n.log.Warn("signed an invalid-blob attestation for a verified inconsistency proof", "blob", id,
		"target", proof.Target, "index", proof.TargetIndex)
	return codec.SignedMessage{Message: msg, Signature: n.key.Sign(msg)}, nil
}

// statusCache keeps the chain's blob statuses briefly: a blob-status
// request costs one chain lookup per blob and statusTTL at most.
type statusCache struct {
	mu sync.Mutex
	m  map[codec.BlobID]cachedStatus
}

type cachedStatus struct {
	st rest.BlobStatus
	at time.Time
}

const (
	statusTTL      = 2 * time.Second
	statusCacheMax = 4096
)

func (b *restBackend) WalrusBlobStatus(ctx context.Context, id codec.BlobID) (rest.BlobStatus, error) {
	now := time.Now()
	b.status.mu.Lock()
	if c, ok := b.status.m[id]; ok && now.Sub(c.at) < statusTTL {
		b.status.mu.Unlock()
		return c.st, nil
	}
	b.status.mu.Unlock()
	bs, err := b.n.chain.BlobStatus(ctx, id)
	if err != nil {
		return rest.BlobStatus{}, fmt.Errorf("%w: %w", ErrChain, err)
	}
	var st rest.BlobStatus
	counts := func() {
		st.DeletableTotal, st.DeletableCertified = uint32(bs.DeletableRegistered), uint32(bs.DeletableCertified)
		st.InitialCertifiedEpoch = bs.InitialCertifiedEpoch
	}
	switch {
	case bs.Invalid:
		st = rest.BlobStatus{Kind: rest.BlobInvalid, Event: eventID(id, "invalid", 0)}
	case !bs.Exists:
		st = rest.BlobStatus{Kind: rest.BlobNonexistent}
	case bs.PermanentEndEpoch > 0:
		st = rest.BlobStatus{Kind: rest.BlobPermanent, EndEpoch: bs.PermanentEndEpoch, IsCertified: bs.PermanentCertified}
		kind := "registered"
		if bs.PermanentCertified {
			kind = "certified"
		}
		st.Event = eventID(id, kind, bs.PermanentEndEpoch)
		counts()
	default:
		st = rest.BlobStatus{Kind: rest.BlobDeletable}
		counts()
	}
	b.status.mu.Lock()
	if len(b.status.m) >= statusCacheMax {
		for k, c := range b.status.m {
			if now.Sub(c.at) >= statusTTL {
				delete(b.status.m, k)
			}
		}
		if len(b.status.m) >= statusCacheMax {
			b.status.m = map[codec.BlobID]cachedStatus{}
		}
	}
	b.status.m[id] = cachedStatus{st, now}
	b.status.mu.Unlock()
	return st, nil
}

// eventID names the event behind a status. floe's ledger has no Sui
// transactions, so the digest is BLAKE2b-256("floe/event" ‖ blob ID ‖ kind
// ‖ end epoch) in base58, stable for a status: the same status gives the
// same ID on every node.
func eventID(id codec.BlobID, kind string, endEpoch uint32) rest.EventID {
	h, _ := blake2b.New256(nil)
	h.Write([]byte("floe/event"))
	h.Write(id[:])
	h.Write([]byte(kind))
	h.Write([]byte{byte(endEpoch), byte(endEpoch >> 8), byte(endEpoch >> 16), byte(endEpoch >> 24)})
	return rest.EventID{TxDigest: base58(h.Sum(nil)), EventSeq: "0"}
}

const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

func base58(b []byte) string {
	x := new(big.Int).SetBytes(b)
	var out []byte
	mod, base := new(big.Int), big.NewInt(58)
	for x.Sign() > 0 {
		x.DivMod(x, base, mod)
		out = append(out, base58Alphabet[mod.Int64()])
	}
	for _, c := range b {
		if c != 0 {
			break
		}
		out = append(out, '1')
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return string(out)
}

func (b *restBackend) Health(ctx context.Context, detailed bool) (rest.Health, error) {
	n := b.n
	ms := n.mig.snapshot()
	shards := n.Shards()
	h := rest.Health{
		Uptime: rest.UptimeOf(time.Since(b.started)), Epoch: n.Epoch(),
		PublicKey: base64.StdEncoding.EncodeToString(n.pk[:]),
	}
	n.mu.Lock()
	applied := n.applied
	n.mu.Unlock()
	h.EventProgress = rest.EventProgress{Persisted: applied, HighestFinishedEventIndex: &applied}
	var detail rest.ShardDetail
	for _, s := range shards {
		status := "ready"
		if g, ok := ms.Gained[s]; ok && !g.Complete {
			status = "inTransfer"
			h.ShardSummary.OwnedShardStatus.InTransfer++
			if g.SourceFailed {
				status = "inRecovery"
				h.ShardSummary.OwnedShardStatus.InTransfer--
				h.ShardSummary.OwnedShardStatus.InRecovery++
			}
		} else {
			h.ShardSummary.OwnedShardStatus.Ready++
		}
		detail.Owned = append(detail.Owned, rest.ShardHealth{Shard: s, Status: status})
	}
	h.ShardSummary.Owned = len(shards)
	h.ShardSummary.ReadOnly = len(ms.Retained)
	for _, r := range ms.retainedList() {
		detail.Other = append(detail.Other, rest.ShardHealth{Shard: r.Shard, Status: "readOnly"})
	}
	switch {
	case len(shards) == 0:
		h.NodeStatus = "Standby"
	case h.ShardSummary.OwnedShardStatus.InTransfer+h.ShardSummary.OwnedShardStatus.InRecovery > 0:
		h.NodeStatus = "RecoveryInProgress"
	default:
		h.NodeStatus = "Active"
	}
	if detailed {
		if detail.Owned == nil {
			detail.Owned = []rest.ShardHealth{}
		}
		if detail.Other == nil {
			detail.Other = []rest.ShardHealth{}
		}
		h.ShardDetail = &detail
	}
	h.Floe = &rest.FloeHealthExtras{NodeID: n.id.String(),
		NetworkPublicKey: base64.StdEncoding.EncodeToString(rest.CompressedKey(&b.key.PublicKey))}
	return h, nil
}
