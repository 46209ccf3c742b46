package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"floe/chainlink"
	"floe/chainlink/bls"
	"floe/codec"
	"floe/p2p"

	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/sync/semaphore"
)

// pushGrace is the least time pushes to slower nodes go on after the
// quorum of confirmations; what they miss, the nodes recover themselves.
const pushGrace = time.Second

// tailGrace is how long the pushes go on after a quorum that took
// untilQuorum: pushGrace plus half that time, as Walrus's client gives its
// sliver writes 0.5 s plus half the time to the quorum
// (SliverWriteExtraTime). A fixed second cut the pushes of large blobs, on
// which every member needs about as long as the quorum took, and left
// members recovering what the store had been about to send them.
func tailGrace(untilQuorum time.Duration) time.Duration {
	return pushGrace + untilQuorum/2
}

// Store encodes data, registers it on the chain, pushes every node the
// metadata and the sliver pairs of its shards, collects their signed
// confirmations and anchors the aggregate certificate. Storing bytes that
// are already certified long enough is a no-op (AlreadyCertified) unless
// opts.Force or opts.Deletable.
//
// Store holds the blob and all its slivers in memory (about 5.5 times the
// blob); StoreFrom bounds memory for blobs of any size.
func (c *Client) Store(ctx context.Context, data []byte, opts StoreOptions) (*StoreResult, error) {
	return c.store(ctx, uint64(len(data)), opts, func(_ context.Context, p codec.Params) (encoding, func(), error) {
		enc, err := codec.Encode(p, data)
		if err != nil {
			return nil, nil, err
		}
		return memEncoding{enc}, func() {}, nil
	})
}

// StoreFrom stores the size bytes r holds, as Store does, with memory
// bounded whatever the size: the blob is encoded from r in column blocks
// into a temporary spill file (codec.EncodeFrom: about 5 times the blob's
// size, in opts.SpillDir), and each member's slivers are read from it one
// batch at a time, at most opts.MemoryBudget bytes of them in flight. The
// spill is removed when StoreFrom returns, also on failure or
// cancellation. The blob ID is the one Store computes for the same bytes.
func (c *Client) StoreFrom(ctx context.Context, r io.ReaderAt, size int64, opts StoreOptions) (*StoreResult, error) {
	if size < 0 {
		return nil, fmt.Errorf("%w: negative blob size %d", ErrInvalidOptions, size)
	}
	return c.store(ctx, uint64(size), opts, func(ctx context.Context, p codec.Params) (encoding, func(), error) {
		spillSize, err := codec.SpillSize(p, uint64(size))
		if err != nil {
			return nil, nil, err
		}
		sp, err := newSpillFile(ctx, opts.SpillDir, spillSize)
		if err != nil {
			return nil, nil, err
		}
		stopReports := reportWhile(opts.Progress, "encode", func() int64 {
			// The encoding writes every spill byte once; the blob's
			// share of that is its progress.
			return int64(float64(sp.written.Load()) / float64(spillSize) * float64(size))
		}, size)
		b, err := codec.EncodeFrom(p, ctxReaderAt{ctx, r}, uint64(size), sp)
		stopReports()
		if err != nil {
			sp.close()
			return nil, nil, err
		}
		return spillEncoding{b}, func() { sp.close() }, nil
	})
}

// reportWhile reports progress of phase every 100 ms from done() until
// the returned stop is called (which waits for the reporter to end, so
// reports stay one at a time).
func reportWhile(f func(Progress), phase string, done func() int64, total int64) (stop func()) {
	if f == nil {
		return func() {}
	}
	quit, ended := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				report(f, phase, min(done(), total), total)
			}
		}
	}()
	return func() { close(quit); <-ended }
}

// store is Store and StoreFrom after their encodings: encode returns the
// encoding and what releases it.
func (c *Client) store(ctx context.Context, size uint64, opts StoreOptions, encode func(context.Context, codec.Params) (encoding, func(), error)) (_ *StoreResult, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.opTimeout(size))
	defer cancel()
	if opts.Epochs == 0 {
		opts.Epochs = 1
	}
	if opts.MemoryBudget <= 0 {
		opts.MemoryBudget = DefaultStoreMemoryBudget
	}
	phases := map[string]time.Duration{}
	st, v, err := c.comms.current(ctx)
	if err != nil {
		return nil, err
	}
	if size > v.params.MaxBlobSize() {
		return nil, fmt.Errorf("%w: %d bytes, the swarm's maximum is %d", ErrTooLarge, size, v.params.MaxBlobSize())
	}
	if opts.Epochs > st.MaxEpochsAhead {
		return nil, fmt.Errorf("%w: %d epochs, at most %d ahead", ErrInvalidOptions, opts.Epochs, st.MaxEpochsAhead)
	}
	report(opts.Progress, "encode", 0, int64(size))
	t := time.Now()
	enc, release, err := encode(ctx, v.params)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("encoding: %w", ctx.Err())
		}
		return nil, fmt.Errorf("encoding: %w", err)
	}
	// The encoding is released once the store and the pushes that go on
	// after it (distribute's tail) are done with it.
	held := &heldEncoding{release: release}
	held.hold()
	defer held.let()
	phases["encode"] = time.Since(t)
	report(opts.Progress, "encode", int64(size), int64(size))
	id := enc.id()
	res := &StoreResult{BlobID: id, Phases: phases}

	bs, err := c.chain.BlobStatus(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrChain, err)
	}
	if bs.Invalid {
		return nil, fmt.Errorf("%w: %s", ErrBlobInvalid, id)
	}
	if !opts.Force && bs.Certified() && bs.CertifiedEndEpoch >= st.Epoch+opts.Epochs {
		if b, ok := c.reusable(ctx, bs, st.Epoch+opts.Epochs, opts); ok {
			res.AlreadyCertified = true
			res.EndEpoch = b.Storage.EndEpoch
			res.Blob = b
			return res, nil
		}
	}

	t = time.Now()
	report(opts.Progress, "register", 0, 1)
	var reg chainlink.RegisterBlobResult
	if b, ok := c.pendingRegistration(ctx, bs, st.Epoch+opts.Epochs, opts); ok && !opts.Force {
		// An earlier store of these bytes by this caller was interrupted
		// after registering: finish that one instead of paying again
		// (Walrus's reuse of registrations).
		reg.Blob = b
		res.ReusedRegistration = true
	} else if reg, err = c.register(ctx, enc, size, opts); err != nil {
		return nil, err
	}
	phases["register"] = time.Since(t)
	res.Blob, res.Cost = reg.Blob, reg.StorageCost+reg.WriteCost
	// From here on an interruption leaves a registration that the next
	// store of the same bytes finishes.
	defer func() {
		if err != nil && ctx.Err() != nil {
			err = &InterruptedStoreError{BlobID: id, ObjectID: reg.Blob.ObjectID, Err: ctx.Err()}
		}
	}()
	res.EpochsAhead = opts.Epochs
	res.EndEpoch = reg.Blob.Storage.EndEpoch
	res.EncodedLength, _ = v.params.EncodedLength(size)

	// An epoch change between registration and certification makes the
	// confirmations of the old committee useless (a certificate must be of
	// the current epoch): distribute again to the new committee, which
	// takes writes at once (F13.3).
	var (
		cert chainlink.Certificate
		blob chainlink.Blob
	)
	for attempt := 0; ; attempt++ {
		t = time.Now()
		var weight int
		var failed []NodeFailure
		cert, weight, failed, err = c.distribute(ctx, v, enc, held, reg.Blob.Persistence(), opts)
		phases["distribute"] += time.Since(t)
		res.Failed = failed
		if err == nil {
			res.ConfirmedShards = weight
			t = time.Now()
			report(opts.Progress, "certify", 0, 1)
			blob, err = c.chain.CertifyBlob(ctx, reg.Blob.ObjectID, cert)
			phases["certify"] += time.Since(t)
			if errors.Is(err, chainlink.ErrAlreadyCertified) {
				// Someone certified it first (certification is open to
				// anyone holding a quorum certificate, e.g. from gossip):
				// the blob is certified, which is what the store wanted.
				blob, err = c.chain.Blob(ctx, reg.Blob.ObjectID)
			}
			if err == nil {
				break
			}
			err = fmt.Errorf("%w: certifying: %w", ErrChain, err)
		}
		if attempt == maxEpochRetries || ctx.Err() != nil {
			return res, err
		}
		nst, nv, cerr := c.comms.current(ctx)
		if cerr != nil || nst.Epoch == v.Epoch {
			return res, err
		}
		c.log.Info("the epoch changed during the store; distributing to the new committee", "blob", id, "from", v.Epoch, "to", nst.Epoch)
		v = nv
	}
	report(opts.Progress, "certify", 1, 1)
	res.Blob = blob
	res.Certificate = &cert
	return res, nil
}

// maxEpochRetries bounds how often one store follows an epoch change to
// the new committee.
const maxEpochRetries = 2

// ErrInvalidOptions marks store or read options the swarm cannot honour.
var ErrInvalidOptions = errors.New("node: invalid options")

// register reserves storage and registers the blob, topping up the
// account from the faucet on devnets.
//
// The client's account pays (and, over HTTP, signs); the object goes to
// opts.SendObjectTo if set, else to the account.
func (c *Client) register(ctx context.Context, enc encoding, size uint64, opts StoreOptions) (chainlink.RegisterBlobResult, error) {
	payer := c.cfg.Account
	req := chainlink.RegisterBlobRequest{
		Owner: payer, BlobID: enc.id(), RootHash: chainlink.Hash32(enc.meta().RootHash()), Size: size,
		EncodingType: enc.meta().EncodingType, Deletable: opts.Deletable, EpochsAhead: opts.Epochs,
	}
	if !opts.SendObjectTo.IsZero() && opts.SendObjectTo != payer {
		req.Owner, req.Payer = opts.SendObjectTo, payer
	}
	for attempt := 0; ; attempt++ {
		reg, err := c.chain.RegisterBlob(ctx, req)
		if err == nil {
			return reg, nil
		}
		if attempt == 0 && c.cfg.Faucet && errors.Is(err, chainlink.ErrInsufficientFunds) {
			if _, ferr := c.chain.Faucet(ctx, payer, faucetAmount); ferr == nil {
				continue
			}
		}
		if errors.Is(err, chainlink.ErrNoKey) {
			return reg, fmt.Errorf("%w: registering: storing needs the account's key (account_key in the client config): %w", ErrConfig, err)
		}
		if errors.Is(err, chainlink.ErrTooFarAhead) || errors.Is(err, chainlink.ErrBlobTooLarge) {
			return reg, fmt.Errorf("%w: %w", ErrInvalidOptions, err)
		}
		return reg, fmt.Errorf("%w: registering: %w", ErrChain, err)
	}
}

// confirmed is one member's verified confirmation, or why there is none.
type confirmed struct {
	member int
	sig    bls.Signature
	err    error
}

// distribute pushes each member its metadata and slivers (one stream per
// member, concurrently), gathers verified confirmations and returns the
// certificate once they weigh a quorum (3w ≥ 2n+1).
//
// Once the quorum is reached, the pushes to the other members go on for up
// to tailGrace in the background (so they need not recover what they
// missed), holding the encoding until they end; Client.Close waits for
// them. On failure the pushes are stopped before distribute returns.
func (c *Client) distribute(ctx context.Context, v *committeeView, enc encoding, held *heldEncoding, pers codec.BlobPersistence, opts StoreOptions) (_ chainlink.Certificate, _ int, _ []NodeFailure, err error) {
	progress := opts.Progress
	started := time.Now()
	id := enc.id()
	msg := codec.StorageConfirmationMessage(v.Epoch, id, pers)
	meta := codec.MarshalMetadataWithID(id, enc.meta())
	var wg sync.WaitGroup
	pushCtx, stopPush := context.WithCancel(context.WithoutCancel(ctx))
	held.hold()
	defer func() {
		if err != nil {
			stopPush()
			wg.Wait()
			held.let()
		}
	}()
	results := make(chan confirmed, len(v.Members))
	// Progress counts the sliver bytes pushed, of every member's slivers.
	var sent atomic.Int64
	totalBytes := int64(v.NShards) * int64(enc.sliverBCSLen(codec.Primary)+enc.sliverBCSLen(codec.Secondary))
	// At most the budget's bytes of slivers are marshalled and in flight
	// at once, over all members.
	budget := semaphore.NewWeighted(opts.MemoryBudget)
	for i := range v.Members {
		if len(v.Members[i].Shards) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sig, err := c.pushMember(pushCtx, v, i, enc, meta, pers, msg, pushBudget{budget, opts.MemoryBudget}, &sent)
			results <- confirmed{member: i, sig: sig, err: err}
		}()
	}
	go func() { wg.Wait(); close(results) }()
	// Confirmations also arrive by gossip: a node attests once it holds
	// its slivers, also when the direct reply is lost.
	gossiped := make(chan confirmed, len(v.Members))
	if sub, err := c.attestations(); err != nil {
		c.log.Debug("attestation gossip unavailable", "err", err)
	} else {
		defer sub.Cancel()
		go func() {
			for {
				a, _, err := sub.Next(pushCtx)
				if err != nil {
					return
				}
				if i, ok := v.byKey[a.Signer]; ok && string(a.Signed.Message) == string(msg) {
					select {
					case gossiped <- confirmed{member: i, sig: bls.Signature(a.Signed.Signature)}:
					case <-pushCtx.Done():
						return
					}
				}
			}
		}()
	}

	var (
		sigs     []bls.Signature
		signers  []uint16
		weight   int
		noSpace  int // weight of members that refused for lack of space
		failures []NodeFailure
		counted  = map[int]bool{}
	)
	add := func(r confirmed) {
		if counted[r.member] {
			return
		}
		counted[r.member] = true
		sigs = append(sigs, r.sig)
		signers = append(signers, uint16(r.member))
		weight += v.Members[r.member].Weight
	}
	report(progress, "distribute", 0, totalBytes)
	var tick <-chan time.Time
	if progress != nil {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		tick = t.C
	}
	for weight == 0 || !bls.Quorum.Reached(weight, v.NShards) {
		select {
		case <-tick:
			report(progress, "distribute", sent.Load(), totalBytes)
		case r, ok := <-results:
			if !ok {
				// Every push ended; late gossip may still complete the
				// quorum, briefly.
				results = nil
				waitGossip := time.NewTimer(pushGrace)
				defer waitGossip.Stop()
				go func() {
					<-waitGossip.C
					stopPush()
				}()
				continue
			}
			if r.err != nil {
				failures = append(failures, failure(v, r.member, "%v", r.err))
				if errors.Is(r.err, p2p.ErrNoSpace) {
					noSpace += v.Members[r.member].Weight
				}
				continue
			}
			add(r)
			report(progress, "distribute", sent.Load(), totalBytes)
		case r := <-gossiped:
			// Verified by the gossip validator against the committee.
			add(r)
			report(progress, "distribute", sent.Load(), totalBytes)
		case <-pushCtx.Done():
			if noSpace > 0 && !bls.Quorum.Reached(v.NShards-noSpace, v.NShards) {
				// No retry gets a quorum while these nodes are full.
				return chainlink.Certificate{}, weight, failures, fmt.Errorf("%w: members holding %d of %d shards have no room for the blob, so no quorum is possible; confirmations cover %d%s",
					ErrNoSpace, noSpace, v.NShards, weight, firstFailure(failures))
			}
			return chainlink.Certificate{}, weight, failures, fmt.Errorf("%w: confirmations cover %d of %d shards, need %s%s", ErrUnavailable, weight, v.NShards, bls.Quorum, firstFailure(failures))
		case <-ctx.Done():
			return chainlink.Certificate{}, weight, failures, fmt.Errorf("%w: confirmations cover %d of %d shards: %w", ErrUnavailable, weight, v.NShards, ctx.Err())
		}
	}
	agg, err := bls.Aggregate(sigs)
	if err != nil {
		return chainlink.Certificate{}, weight, failures, err
	}
	idx := slices.Clone(signers)
	slices.Sort(idx)
	bitmap, err := bls.SignersToBitmap(len(v.Members), idx)
	if err != nil {
		return chainlink.Certificate{}, weight, failures, err
	}
	// Let the remaining pushes finish in the background.
	grace := tailGrace(time.Since(started))
	pushesDone := make(chan struct{})
	go func() { wg.Wait(); close(pushesDone) }()
	c.tails.Add(1)
	go func() {
		defer c.tails.Done()
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-t.C:
			c.log.Info("store: stopping the pushes to members still receiving their slivers; they recover them", "blob", id, "grace", grace)
		case <-pushesDone:
		}
		stopPush()
		<-pushesDone
		held.let()
	}()
	return certificate(agg, bitmap, msg), weight, failures, nil
}

// heldEncoding releases an encoding when its last holder lets go: the
// store, and each distribute's pushes.
type heldEncoding struct {
	n       atomic.Int32
	release func()
}

func (h *heldEncoding) hold() { h.n.Add(1) }

func (h *heldEncoding) let() {
	if h.n.Add(-1) == 0 {
		h.release()
	}
}

// pushBudget bounds the sliver bytes all pushes of a store hold.
type pushBudget struct {
	sem   *semaphore.Weighted
	bytes int64
}

// pushMember sends member i the metadata and its sliver pairs, then asks
// for its confirmation and verifies it.
func (c *Client) pushMember(ctx context.Context, v *committeeView, i int, enc encoding, meta []byte, pers codec.BlobPersistence, msg []byte, budget pushBudget, sent *atomic.Int64) (bls.Signature, error) {
	pid, err := c.connect(v, i)
	if err != nil {
		return bls.Signature{}, err
	}
	id := enc.id()
	// Every member is asked once per store: a dial that failed before (a
	// node that was restarting) must not keep it out of this one.
	c.host.ForgetDialFailures(pid)
	if err := c.p2p.PutMetadata(ctx, pid, id, meta); err != nil {
		return bls.Signature{}, fmt.Errorf("put metadata: %w", err)
	}
	pairs := v.pairsOf(i, id)
	refs := make([]p2p.SliverRef, 0, 2*len(pairs))
	for _, p := range pairs {
		refs = append(refs,
			p2p.SliverRef{Pair: uint16(p), Type: codec.Primary},
			p2p.SliverRef{Pair: uint16(p), Type: codec.Secondary})
	}
	// One stream carries at most two of the server's batches, so each
	// stream's work fits the server's per-request bound whatever the blob
	// and committee sizes; the streams to one member go one after another,
	// each loaded just before it is sent.
	size := func(r p2p.SliverRef) int { return enc.sliverBCSLen(r.Type) }
	for _, part := range splitRefs(refs, size, 2*p2p.PutBatchFor(v.params)) {
		if err := c.pushPart(ctx, pid, enc, part, budget, sent); err != nil {
			return bls.Signature{}, err
		}
	}
	sm, err := c.p2p.GetConfirmation(ctx, pid, p2p.ConfirmationRequest{ID: id, Persistence: pers})
	if err != nil {
		return bls.Signature{}, fmt.Errorf("confirmation: %w", err)
	}
	if string(sm.Message) != string(msg) {
		return bls.Signature{}, fmt.Errorf("confirmation for another message (epoch, blob or persistence differ)")
	}
	if err := v.verifySigned(i, sm.Message, sm.Signature); err != nil {
		return bls.Signature{}, fmt.Errorf("confirmation signature: %w", err)
	}
	return bls.Signature(sm.Signature), nil
}

// pushPart loads the slivers of refs from the encoding, within the
// budget, and sends them on one put-slivers stream.
func (c *Client) pushPart(ctx context.Context, pid peer.ID, enc encoding, refs []p2p.SliverRef, budget pushBudget, sent *atomic.Int64) error {
	var need int64
	for _, r := range refs {
		need += int64(enc.sliverBCSLen(r.Type))
	}
	need = min(need, budget.bytes) // a part larger than the budget runs alone
	if err := budget.sem.Acquire(ctx, need); err != nil {
		return err
	}
	defer budget.sem.Release(need)
	// Large parts take a slot of the client's push window (pushWindow):
	// no more of them at once than the uplink feeds at the servers' floor.
	var total int64
	for _, r := range refs {
		total += int64(enc.sliverBCSLen(r.Type))
	}
	ticket, err := c.pushes.acquire(ctx, total)
	if err != nil {
		return err
	}
	delivered := false
	defer func() { ticket.release(delivered) }()
	slivers := make([]p2p.Sliver, len(refs))
	for j, r := range refs {
		data, err := enc.sliverBCS(int(r.Pair), r.Type)
		if err != nil {
			return fmt.Errorf("loading the %s sliver of pair %d: %w", r.Type, r.Pair, err)
		}
		slivers[j] = p2p.Sliver{SliverRef: r, Data: data}
	}
	for attempt := 0; ; attempt++ {
		errs, err := c.p2p.PutSlivers(ctx, pid, enc.id(), slivers)
		if err != nil {
			if errors.Is(err, p2p.ErrRateLimited) && attempt < pushRetries {
				if err := pause(ctx, pushRetryPause); err != nil {
					return fmt.Errorf("put slivers: %w", err)
				}
				continue
			}
			return fmt.Errorf("put slivers: %w", err)
		}
		// Slivers refused as "retry later" (a node still taking up the
		// committee's shards, handler.go) go again after a pause.
		var again []p2p.Sliver
		for j, e := range errs {
			switch {
			case e == nil:
				sent.Add(int64(len(slivers[j].Data)))
			case errors.Is(e, p2p.ErrRateLimited) && attempt < pushRetries:
				again = append(again, slivers[j])
			default:
				return fmt.Errorf("%s sliver of pair %d refused: %w", slivers[j].Type, slivers[j].Pair, e)
			}
		}
		if len(again) == 0 {
			// Only a part delivered at the first attempt, without
			// waits at the server, measures the uplink.
			delivered = attempt == 0
			return nil
		}
		if err := pause(ctx, pushRetryPause); err != nil {
			return fmt.Errorf("%s sliver of pair %d refused (retry later) until: %w", again[0].Type, again[0].Pair, err)
		}
		slivers = again
	}
}

// pushRetries is how often a part refused as "retry later" (rate limited,
// or a node that has not yet taken up its shards) is sent again, after
// pushRetryPause each time.
const (
	pushRetries    = 5
	pushRetryPause = 500 * time.Millisecond
)

// pause waits d or until ctx ends.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// splitRefs cuts refs into runs whose slivers (of size(ref) bytes each)
// take at most maxBytes (at least one sliver each), in order.
func splitRefs(refs []p2p.SliverRef, size func(p2p.SliverRef) int, maxBytes int) [][]p2p.SliverRef {
	var out [][]p2p.SliverRef
	start, total := 0, 0
	for i, r := range refs {
		n := size(r)
		if i > start && total+n > maxBytes {
			out = append(out, refs[start:i])
			start, total = i, 0
		}
		total += n
	}
	if start < len(refs) {
		out = append(out, refs[start:])
	}
	return out
}

// faucetAmount is what a devnet client asks the faucet for when its
// account runs dry (the ledger caps one call at 1e15).
const faucetAmount = 1_000_000_000_000

// firstFailure summarises failures for an error message.
func firstFailure(fs []NodeFailure) string {
	if len(fs) == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d nodes failed; first: %s: %s)", len(fs), fs[0].PeerID, fs[0].Reason)
}

// pendingRegistration finds an uncertified registration of the blob that
// the caller owns, with the requested persistence, lasting until at least
// endEpoch: what an interrupted store left behind.
func (c *Client) pendingRegistration(ctx context.Context, bs chainlink.BlobStatus, endEpoch uint32, opts StoreOptions) (chainlink.Blob, bool) {
	owner := c.cfg.Account
	if !opts.SendObjectTo.IsZero() {
		owner = opts.SendObjectTo
	}
	for i, o := range bs.Objects {
		if i == maxObjectsChecked {
			break
		}
		b, err := c.chain.Blob(ctx, o)
		if err != nil || b.CertifiedEpoch != nil || b.Owner != owner || b.Deletable != opts.Deletable || b.Storage.EndEpoch < endEpoch {
			continue
		}
		return b, true
	}
	return chainlink.Blob{}, false
}

// maxObjectsChecked bounds the chain lookups when looking for a reusable
// certified object.
const maxObjectsChecked = 32

// reusable finds a certified object of the blob that makes a new store
// pointless: one lasting until at least endEpoch that cannot vanish under
// the caller (permanent), or, for a deletable store, a deletable one the
// caller owns (only its owner can delete it).
func (c *Client) reusable(ctx context.Context, bs chainlink.BlobStatus, endEpoch uint32, opts StoreOptions) (chainlink.Blob, bool) {
	owner := c.cfg.Account
	if !opts.SendObjectTo.IsZero() {
		owner = opts.SendObjectTo
	}
	for i, o := range bs.Objects {
		if i == maxObjectsChecked {
			break
		}
		b, err := c.chain.Blob(ctx, o)
		if err != nil || b.CertifiedEpoch == nil || b.Storage.EndEpoch < endEpoch {
			continue
		}
		if !b.Deletable || (opts.Deletable && b.Owner == owner) {
			return b, true
		}
	}
	return chainlink.Blob{}, false
}

// pushWindow bounds how many large put-slivers parts a client sends at
// once, so that each gets at least the servers' floor rate
// (p2p.Timeouts.MinRate) out of the client's uplink. Ten pushes sharing a
// 20 Mbit/s uplink get about 2 Mbit/s each, below the 4 Mbit/s floor the
// servers' deadlines are sized for (a part of two batches must arrive
// within the server's per-request bound): they time out, where four at a
// time finish in the same total time, since the uplink is the bottleneck
// either way. The window starts at pushWindowStart parts and then follows
// the measured aggregate rate: each finished part's rate times the mean
// number of parts in flight during it, divided by the floor. Parts of at
// most pushSmallPart bytes (a second at the floor) pass without a slot:
// they cannot miss a deadline and a small store must not pay round trips
// for them. The zero value is ready for use.
type pushWindow struct {
	mu      sync.Mutex
	limit   int // 0: not measured yet (pushWindowStart)
	active  int
	changed chan struct{}
	// integral is ∫ active dt in parts·seconds, up to at.
	integral float64
	at       time.Time
	rate     float64 // measured aggregate bytes/s (EWMA), 0: none yet
}

const (
	pushWindowStart = 4
	pushWindowMax   = 256
)

// pushFloor is the servers' floor rate in bytes per second.
var pushFloor = p2p.DefaultTimeouts().MinRate

// pushSmallPart is the largest part that needs no slot.
var pushSmallPart = int64(pushFloor)

// pushTicket is a slot held by one part.
type pushTicket struct {
	w        *pushWindow
	start    time.Time
	integral float64
	bytes    int64
}

func (w *pushWindow) advanceLocked(now time.Time) {
	if !w.at.IsZero() {
		w.integral += float64(w.active) * now.Sub(w.at).Seconds()
	}
	w.at = now
}

func (w *pushWindow) limitLocked() int {
	if w.limit <= 0 {
		return pushWindowStart
	}
	return w.limit
}

// acquire waits for a slot for a part of bytes bytes.
func (w *pushWindow) acquire(ctx context.Context, bytes int64) (*pushTicket, error) {
	if bytes <= pushSmallPart {
		return nil, nil
	}
	for {
		w.mu.Lock()
		if w.active < w.limitLocked() {
			now := time.Now()
			w.advanceLocked(now)
			w.active++
			t := &pushTicket{w: w, start: now, integral: w.integral, bytes: bytes}
			w.mu.Unlock()
			return t, nil
		}
		if w.changed == nil {
			w.changed = make(chan struct{})
		}
		ch := w.changed
		w.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// release frees t's slot; ok says the part was delivered, so its rate
// counts towards the window.
func (t *pushTicket) release(ok bool) {
	if t == nil {
		return
	}
	w := t.w
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	w.advanceLocked(now)
	w.active--
	if d := now.Sub(t.start).Seconds(); ok && d > 0 {
		inFlight := max(1, (w.integral-t.integral)/d)
		w.observeLocked(float64(t.bytes) / d * inFlight)
	}
	if w.changed != nil {
		close(w.changed)
		w.changed = nil
	}
}

// observeLocked takes in one measurement of the aggregate rate.
func (w *pushWindow) observeLocked(agg float64) {
	if w.rate == 0 {
		w.rate = agg
	} else {
		w.rate = 0.5*w.rate + 0.5*agg
	}
	w.limit = min(pushWindowMax, max(1, int(w.rate/float64(pushFloor))))
}
