package sui

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	pb "github.com/block-vision/sui-go-sdk/pb/sui/rpc/v2"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"floe/chainlink"
	"floe/codec"
)

// The event index (doc.go, "Events and cursors"): it reads every
// checkpoint from the start checkpoint on, in order, numbers the Walrus
// events floe reacts to 1, 2, 3, … and keeps what BlobStatus, Nodes and
// the node operations need (owners and capabilities of nodes, stakers,
// blob objects). It is rebuilt from the start checkpoint when a Client
// starts, so every Client started from the same checkpoint assigns the
// same cursors.

type nodeInfo struct {
	owner   Address
	cap     Address
	stakers []Address
}

type blobObj struct {
	blobID    codec.BlobID
	end       uint32
	deletable bool
	certified *uint32
}

// Bounds on what one checkpoint may carry into the index.
const (
	maxCheckpointTxs = 100_000
	maxTxEvents      = 1024
	maxEventBytes    = 256 << 10
)

type index struct {
	c    *Client
	kick chan struct{}
	ds   datastore.Batching // nil: memory only

	mu      sync.Mutex
	wake    chan struct{} // closed and replaced when the index moves on
	closed  bool
	events  []chainlink.Event
	next    uint64 // the next checkpoint to read
	epoch   uint32
	nodes   map[Address]*nodeInfo
	order   []Address
	caps    map[Address]Address
	blobs   map[Address]*blobObj
	byBlob  map[codec.BlobID]map[Address]bool
	invalid map[codec.BlobID]bool
	synced  map[uint32][]Address
	// digests are the transactions of the last checkpoints read, for
	// writers whose full node did not say which checkpoint theirs is in
	// (digestOrder bounds them, oldest first).
	digests     map[string]bool
	digestOrder []string
}

// maxDigests bounds the transaction digests the index remembers.
const maxDigests = 100_000

func newIndex(c *Client, start uint64, ds datastore.Batching) *index {
	return &index{c: c, ds: ds, next: start, kick: make(chan struct{}, 1), wake: make(chan struct{}),
		nodes: map[Address]*nodeInfo{}, caps: map[Address]Address{}, blobs: map[Address]*blobObj{},
		byBlob: map[codec.BlobID]map[Address]bool{}, invalid: map[codec.BlobID]bool{}, synced: map[uint32][]Address{},
		digests: map[string]bool{}}
}

func (x *index) broadcast() {
	close(x.wake)
	x.wake = make(chan struct{})
}

func (x *index) close() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.closed {
		x.closed = true
		x.broadcast()
	}
}

var checkpointMask = []string{"sequence_number", "transactions.digest", "transactions.transaction.bcs",
	"transactions.effects.status", "transactions.effects.epoch", "transactions.effects.changed_objects",
	"transactions.events.events"}

// run reads checkpoints from start until ctx ends: GetCheckpoint one by
// one to catch up, woken by SubscribeCheckpoints (and a poll, should the
// subscription be down) when it has read the latest.
func (x *index) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); x.subscribe(ctx) }()
	defer wg.Wait()
	for ctx.Err() == nil {
		x.mu.Lock()
		seq := x.next
		x.mu.Unlock()
		r, err := x.c.ledger.GetCheckpoint(ctx, &pb.GetCheckpointRequest{
			CheckpointId: &pb.GetCheckpointRequest_SequenceNumber{SequenceNumber: seq}, ReadMask: mask(checkpointMask...)})
		if err == nil {
			if err = x.apply(seq, r.GetCheckpoint()); err == nil {
				continue
			}
		}
		if st, _ := status.FromError(err); st.Code() != codes.NotFound && ctx.Err() == nil {
			x.c.log.Warn("sui: event index", "checkpoint", seq, "err", err)
		}
		select {
		case <-ctx.Done():
		case <-x.kick:
		case <-time.After(x.c.cfg.PollInterval):
		}
	}
}

// subscribe pokes run on every new checkpoint the full node announces,
// reconnecting (at most once a second) while ctx lasts. The checkpoints
// themselves are read by run, in order, so a lost notice costs only a
// poll interval.
func (x *index) subscribe(ctx context.Context) {
	sub := pb.NewSubscriptionServiceClient(x.c.conn)
	for ctx.Err() == nil {
		began := time.Now()
		st, err := sub.SubscribeCheckpoints(ctx, &pb.SubscribeCheckpointsRequest{ReadMask: mask("sequence_number")})
		for err == nil {
			if _, err = st.Recv(); err == nil {
				select {
				case x.kick <- struct{}{}:
				default:
				}
			}
		}
		if ctx.Err() == nil {
			x.c.log.Debug("sui: checkpoint subscription", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second - time.Since(began)):
		}
	}
}

// indexChange is what a transaction tells the index besides events: a
// node registered (Owner, Cap) or a staker staked with Node.
type indexChange struct {
	Node   Address `json:"node"`
	Owner  Address `json:"owner,omitzero"`
	Cap    Address `json:"cap,omitzero"`
	Staker Address `json:"staker,omitzero"`
}

// cpRecord is what the index took from one checkpoint; it is persisted
// (Config.IndexDir) so that a restarted Client replays it instead of
// reading the checkpoint again.
type cpRecord struct {
	Seq     uint64            `json:"seq"`
	Events  []chainlink.Event `json:"events,omitempty"`
	Changes []indexChange     `json:"changes,omitempty"`
	Digests []string          `json:"-"`
}

// apply indexes one checkpoint.
func (x *index) apply(seq uint64, cp *pb.Checkpoint) error {
	rec, err := x.record(seq, cp)
	if err != nil {
		return err
	}
	if err := x.persist(rec); err != nil {
		return err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.commit(rec)
	return nil
}

// record reads one checkpoint into a record, changing nothing.
func (x *index) record(seq uint64, cp *pb.Checkpoint) (*cpRecord, error) {
	if cp == nil || cp.GetSequenceNumber() != seq {
		return nil, fmt.Errorf("%w: asked for checkpoint %d, got %d", chainlink.ErrUnavailable, seq, cp.GetSequenceNumber())
	}
	if len(cp.GetTransactions()) > maxCheckpointTxs {
		return nil, fmt.Errorf("%w: checkpoint %d has %d transactions", chainlink.ErrUnavailable, seq, len(cp.GetTransactions()))
	}
	rec := &cpRecord{Seq: seq}
	newCaps := map[Address]Address{} // caps registered in this checkpoint
	for _, t := range cp.GetTransactions() {
		if d := t.GetDigest(); d != "" && len(d) <= 64 {
			rec.Digests = append(rec.Digests, d)
		}
		if !t.GetEffects().GetStatus().GetSuccess() {
			continue
		}
		if len(t.GetEvents().GetEvents()) > maxTxEvents {
			return nil, fmt.Errorf("%w: transaction %s has %d events", chainlink.ErrUnavailable, t.GetDigest(), len(t.GetEvents().GetEvents()))
		}
		td, err := UnmarshalTransactionData(t.GetTransaction().GetBcs().GetValue())
		if err != nil {
			// Not a programmable transaction floe knows (system
			// transactions): it carries no Walrus call of a node.
			td = nil
		}
		epoch := uint32(t.GetEffects().GetEpoch())
		created := map[string][]Address{}
		for _, co := range t.GetEffects().GetChangedObjects() {
			if co.GetIdOperation() == pb.ChangedObject_CREATED {
				if id, err := ParseAddress(co.GetObjectId()); err == nil {
					created[co.GetObjectType()] = append(created[co.GetObjectType()], id)
				}
			}
		}
		var syncCap Address
		if td != nil {
			sender := td.Sender
			for _, cmd := range td.Kind.Commands {
				mc := cmd.Call
				if cmd.Kind != CmdMoveCall || mc == nil || !slices.Contains(x.c.packages, mc.Package) {
					continue
				}
				switch mc.Module + "::" + mc.Function {
				case "staking::register_candidate":
					pools := created[x.c.walrusType("staking_pool", "StakingPool")]
					caps := created[x.c.walrusType("storage_node", "StorageNodeCap")]
					if len(pools) == 1 {
						ch := indexChange{Node: pools[0], Owner: sender}
						if len(caps) == 1 {
							ch.Cap = caps[0]
							newCaps[ch.Cap] = ch.Node
						}
						rec.Events = append(rec.Events, chainlink.Event{Type: chainlink.EventNodeRegistered, Epoch: epoch, NodeID: ch.Node})
						rec.Changes = append(rec.Changes, ch)
					}
				case "staking::stake_with_pool":
					if len(mc.Args) == 3 {
						if a, ok := pureArg(td, mc.Args[2]); ok && len(a) == 32 {
							rec.Changes = append(rec.Changes, indexChange{Node: Address(a), Staker: sender})
						}
					}
				case "staking::epoch_sync_done":
					if len(mc.Args) >= 2 {
						if a, ok := objectArg(td, mc.Args[1]); ok {
							syncCap = a
						}
					}
				}
			}
		}
		for _, e := range t.GetEvents().GetEvents() {
			tag, err := ParseTypeTag(e.GetEventType())
			if err != nil || tag.Struct == nil {
				continue
			}
			name := EventStructName(*tag.Struct, x.c.packages...)
			if name == "" || len(e.GetContents().GetValue()) > maxEventBytes {
				continue
			}
			v, err := DecodeEvent(name, e.GetContents().GetValue())
			if err != nil {
				x.c.log.Warn("sui: undecodable Walrus event", "type", e.GetEventType(), "tx", t.GetDigest(), "err", err)
				continue
			}
			var node Address
			if _, ok := v.(*ShardsReceived); ok {
				node = newCaps[syncCap]
				if node.IsZero() {
					x.mu.Lock()
					node = x.caps[syncCap]
					x.mu.Unlock()
				}
				if node.IsZero() {
					x.c.log.Warn("sui: ShardsReceived of an unknown StorageNodeCap", "cap", syncCap, "tx", t.GetDigest())
				}
			}
			if ev, ok := ToChainlink(v, node); ok {
				rec.Events = append(rec.Events, ev)
			}
		}
	}
	return rec, nil
}

// Keys of the persisted index.
var (
	idxKeyStart = datastore.NewKey("/suiidx/start")
	idxKeyNext  = datastore.NewKey("/suiidx/next")
	idxPrefixCP = "/suiidx/cp/"
)

func idxKeyCP(seq uint64) datastore.Key {
	return datastore.NewKey(fmt.Sprintf("%s%020d", idxPrefixCP, seq))
}

// maxRecordBytes bounds a persisted record read back.
const maxRecordBytes = 64 << 20

// persist stores a record (if it holds anything) and the next
// checkpoint, in one batch.
func (x *index) persist(rec *cpRecord) error {
	if x.ds == nil {
		return nil
	}
	ctx := context.Background()
	b, err := x.ds.Batch(ctx)
	if err != nil {
		return fmt.Errorf("sui: index store: %w", err)
	}
	if len(rec.Events) > 0 || len(rec.Changes) > 0 {
		v, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		if err := b.Put(ctx, idxKeyCP(rec.Seq), v); err != nil {
			return fmt.Errorf("sui: index store: %w", err)
		}
	}
	if err := b.Put(ctx, idxKeyNext, binary.BigEndian.AppendUint64(nil, rec.Seq+1)); err != nil {
		return fmt.Errorf("sui: index store: %w", err)
	}
	if err := b.Commit(ctx); err != nil {
		return fmt.Errorf("sui: index store: %w", err)
	}
	return nil
}

// load replays the persisted index. An index persisted from another start
// checkpoint is refused: its cursors would not be this Client's.
func (x *index) load(ctx context.Context) error {
	if x.ds == nil {
		return nil
	}
	start := binary.BigEndian.AppendUint64(nil, x.next)
	got, err := x.ds.Get(ctx, idxKeyStart)
	switch {
	case errors.Is(err, datastore.ErrNotFound):
		return x.ds.Put(ctx, idxKeyStart, start)
	case err != nil:
		return fmt.Errorf("sui: index store: %w", err)
	case !bytes.Equal(got, start):
		return fmt.Errorf("%w: the event index was built from checkpoint %x, not %d (its cursors would differ): use another index directory", chainlink.ErrBadRequest, got, x.next)
	}
	res, err := x.ds.Query(ctx, query.Query{Prefix: idxPrefixCP, Orders: []query.Order{query.OrderByKey{}}})
	if err != nil {
		return fmt.Errorf("sui: index store: %w", err)
	}
	defer res.Close()
	x.mu.Lock()
	defer x.mu.Unlock()
	for r := range res.Next() {
		if r.Error != nil {
			return fmt.Errorf("sui: index store: %w", r.Error)
		}
		var rec cpRecord
		if len(r.Value) > maxRecordBytes || json.Unmarshal(r.Value, &rec) != nil || rec.Seq < x.next {
			return fmt.Errorf("%w: corrupt event index record %s", chainlink.ErrUnavailable, r.Key)
		}
		x.commit(&rec)
	}
	nb, err := x.ds.Get(ctx, idxKeyNext)
	if err == nil && len(nb) == 8 {
		x.next = max(x.next, binary.BigEndian.Uint64(nb))
	} else if err != nil && !errors.Is(err, datastore.ErrNotFound) {
		return fmt.Errorf("sui: index store: %w", err)
	}
	return nil
}

// commit applies a record; x.mu is held.
func (x *index) commit(rec *cpRecord) {
	for _, ch := range rec.Changes {
		switch {
		case !ch.Staker.IsZero():
			if n := x.nodes[ch.Node]; n != nil && !slices.Contains(n.stakers, ch.Staker) {
				n.stakers = append(n.stakers, ch.Staker)
			}
		default:
			if _, ok := x.nodes[ch.Node]; !ok {
				x.order = append(x.order, ch.Node)
			}
			x.nodes[ch.Node] = &nodeInfo{owner: ch.Owner, cap: ch.Cap}
			if !ch.Cap.IsZero() {
				x.caps[ch.Cap] = ch.Node
			}
		}
	}
	for _, d := range rec.Digests {
		if !x.digests[d] {
			x.digests[d] = true
			x.digestOrder = append(x.digestOrder, d)
		}
	}
	if n := len(x.digestOrder) - maxDigests; n > 0 {
		for _, d := range x.digestOrder[:n] {
			delete(x.digests, d)
		}
		x.digestOrder = slices.Clone(x.digestOrder[n:])
	}
	for _, e := range rec.Events {
		e.Cursor = uint64(len(x.events)) + 1
		x.events = append(x.events, e)
		x.applyEvent(e)
	}
	x.next = rec.Seq + 1
	x.broadcast()
}

func pureArg(td *TransactionData, a Argument) ([]byte, bool) {
	if a.Kind != ArgInput || int(a.Index) >= len(td.Kind.Inputs) {
		return nil, false
	}
	in := td.Kind.Inputs[a.Index]
	return in.Pure, in.Kind == CallArgPure
}

func objectArg(td *TransactionData, a Argument) (Address, bool) {
	if a.Kind != ArgInput || int(a.Index) >= len(td.Kind.Inputs) {
		return Address{}, false
	}
	in := td.Kind.Inputs[a.Index]
	if in.Kind != CallArgObject || in.ObjectKind != ObjectImmOrOwned {
		return Address{}, false
	}
	return in.Ref.ObjectID, true
}

// applyEvent updates the blob and epoch state; x.mu is held.
func (x *index) applyEvent(e chainlink.Event) {
	switch e.Type {
	case chainlink.EventEpochChangeStart:
		x.epoch = max(x.epoch, e.Epoch)
	case chainlink.EventBlobRegistered:
		x.blobs[e.ObjectID] = &blobObj{blobID: e.BlobID, end: e.EndEpoch, deletable: e.Deletable}
		if x.byBlob[e.BlobID] == nil {
			x.byBlob[e.BlobID] = map[Address]bool{}
		}
		x.byBlob[e.BlobID][e.ObjectID] = true
	case chainlink.EventBlobCertified:
		if b := x.blobs[e.ObjectID]; b != nil {
			b.end = e.EndEpoch
			if b.certified == nil {
				ep := e.Epoch
				b.certified = &ep
			}
		}
	case chainlink.EventBlobDeleted:
		if b := x.blobs[e.ObjectID]; b != nil {
			delete(x.byBlob[b.blobID], e.ObjectID)
			delete(x.blobs, e.ObjectID)
		}
	case chainlink.EventInvalidBlobID:
		x.invalid[e.BlobID] = true
	case chainlink.EventShardsReceived:
		if !e.NodeID.IsZero() && !slices.Contains(x.synced[e.Epoch], e.NodeID) {
			x.synced[e.Epoch] = append(x.synced[e.Epoch], e.NodeID)
		}
	}
}

// waitCheckpoint waits until checkpoint seq has been indexed.
func (x *index) waitCheckpoint(ctx context.Context, seq uint64) error {
	for {
		x.mu.Lock()
		done, closed, wake := x.next > seq, x.closed, x.wake
		x.mu.Unlock()
		if done {
			return nil
		}
		if closed {
			return chainlink.ErrClosed
		}
		select {
		case x.kick <- struct{}{}:
		default:
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return fmt.Errorf("%w: waiting for checkpoint %d: %w", ErrIndexBehind, seq, ctx.Err())
		}
	}
}

// waitDigest waits until the index has read the checkpoint holding the
// transaction with digest d.
func (x *index) waitDigest(ctx context.Context, d string) error {
	for {
		x.mu.Lock()
		done, closed, wake := x.digests[d], x.closed, x.wake
		x.mu.Unlock()
		if done {
			return nil
		}
		if closed {
			return chainlink.ErrClosed
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return fmt.Errorf("%w: waiting for transaction %s: %w", ErrIndexBehind, d, ctx.Err())
		}
	}
}

// catchUp waits until the index has read the full node's latest
// checkpoint.
func (x *index) catchUp(ctx context.Context) error {
	r, err := x.c.ledger.GetServiceInfo(ctx, &pb.GetServiceInfoRequest{})
	if err != nil {
		return rpcErr("service info", err)
	}
	return x.waitCheckpoint(ctx, r.GetCheckpointHeight())
}

func (x *index) node(id Address) (nodeInfo, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	n := x.nodes[id]
	if n == nil {
		return nodeInfo{}, false
	}
	return nodeInfo{owner: n.owner, cap: n.cap, stakers: slices.Clone(n.stakers)}, true
}

func (x *index) nodeIDs() []Address {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := slices.Clone(x.order)
	slices.SortFunc(out, Address.Compare)
	return out
}

func (x *index) syncDone(epoch uint32) []Address {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := slices.Clone(x.synced[epoch])
	slices.SortFunc(out, Address.Compare)
	return out
}

// blobStatus is the ledger's BlobStatus over the indexed objects.
func (x *index) blobStatus(id codec.BlobID) chainlink.BlobStatus {
	x.mu.Lock()
	defer x.mu.Unlock()
	cur := x.epoch
	st := chainlink.BlobStatus{BlobID: id, Invalid: x.invalid[id]}
	for oid := range x.byBlob[id] {
		b := x.blobs[oid]
		if b.end <= cur {
			st.ExpiredEndEpoch = max(st.ExpiredEndEpoch, b.end)
			continue
		}
		st.Exists = true
		st.Objects = append(st.Objects, oid)
		certified := b.certified != nil
		if b.deletable {
			st.DeletableRegistered++
			if certified {
				st.DeletableCertified++
			}
		} else {
			st.PermanentEndEpoch = max(st.PermanentEndEpoch, b.end)
			st.PermanentCertified = st.PermanentCertified || certified
		}
		if certified {
			st.CertifiedEndEpoch = max(st.CertifiedEndEpoch, b.end)
			if st.InitialCertifiedEpoch == nil || *b.certified < *st.InitialCertifiedEpoch {
				e := *b.certified
				st.InitialCertifiedEpoch = &e
			}
		}
	}
	slices.SortFunc(st.Objects, chainlink.ID.Compare)
	return st
}

// stream is an EventStream over the index.
type stream struct {
	x      *index
	next   uint64 // cursor of the next event
	mu     sync.Mutex
	closed chan struct{}
	once   sync.Once
}

func (x *index) stream(after uint64) *stream {
	return &stream{x: x, next: after + 1, closed: make(chan struct{})}
}

// Next implements chainlink.EventStream.
func (s *stream) Next(ctx context.Context) (chainlink.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		s.x.mu.Lock()
		n, closed, wake := uint64(len(s.x.events)), s.x.closed, s.x.wake
		var e chainlink.Event
		if s.next <= n {
			e = s.x.events[s.next-1]
			e.Shards = slices.Clone(e.Shards)
		}
		s.x.mu.Unlock()
		if s.next <= n {
			s.next++
			return e, nil
		}
		if closed {
			return chainlink.Event{}, chainlink.ErrClosed
		}
		select {
		case <-wake:
		case <-s.closed:
			return chainlink.Event{}, chainlink.ErrClosed
		case <-ctx.Done():
			return chainlink.Event{}, ctx.Err()
		}
	}
}

// Close implements chainlink.EventStream.
func (s *stream) Close() error {
	s.once.Do(func() { close(s.closed) })
	return nil
}
