package node

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"floe/chainlink"
	"floe/codec"
	"floe/p2p"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Read fetches a certified blob from the swarm: metadata from any node
// (verified against the blob ID), then primary slivers (systematic ones
// first, read straight into their rows of the blob, so decoding them is
// nothing) until n−2f verified ones arrived, falling
// back to secondary slivers (n−f) when primaries run short. Nodes that serve
// data failing verification are skipped and reported in Liars.
func (c *Client) Read(ctx context.Context, id codec.BlobID, opts ReadOptions) (*ReadResult, error) {
	res := &ReadResult{Phases: map[string]time.Duration{}}
	ctx, p, holders, m, cancel, err := c.readBegin(ctx, id, res)
	if err != nil {
		return res, err
	}
	defer cancel()

	data, _, err := c.readWhole(ctx, p, holders, id, m, res, opts.Progress, opts.Check)
	if err != nil {
		return res, err
	}
	res.Data = data
	return res, nil
}

// readWhole reads and decodes the whole blob once its metadata is known:
// primary slivers, systematic ones first and read straight into their
// rows of the blob (so decoding them is no copy), else secondary ones. It
// returns the blob and the slivers it was decoded from, and records the
// "slivers" and "decode" phases in res.
func (c *Client) readWhole(ctx context.Context, p codec.Params, holders [][]holder, id codec.BlobID, m *codec.Metadata, res *ReadResult,
	progress func(Progress), check codec.ConsistencyCheck) ([]byte, []codec.Sliver, error) {
	t := time.Now()
	rowBytes, err := p.SliverSize(codec.Primary, m.UnencodedLength)
	if err != nil {
		return nil, nil, err
	}
	out := make([]byte, p.Primary()*rowBytes)
	var slivers []codec.Sliver
	for _, typ := range []codec.SliverType{codec.Primary, codec.Secondary} {
		var pl *rowPlace
		if typ == codec.Primary {
			pl = &rowPlace{out: out, rowBytes: rowBytes, first: 0, rows: p.Primary()}
		}
		slivers, err = c.readSlivers(ctx, p, holders, id, m, typ, res, progress, pl)
		if err == nil {
			break
		}
		c.log.Debug("reading slivers", "type", typ, "err", err)
	}
	if err != nil {
		return nil, nil, err
	}
	res.Phases["slivers"] = time.Since(t)

	t = time.Now()
	report(progress, "decode", 0, int64(m.UnencodedLength))
	data, err := codec.DecodeInto(p, m, slivers, check, out)
	if err != nil {
		if errors.Is(err, codec.ErrInconsistentBlob) {
			return nil, nil, fmt.Errorf("%w: %s: %w", ErrInconsistent, id, err)
		}
		return nil, nil, err
	}
	res.Phases["decode"] = time.Since(t)
	report(progress, "decode", int64(len(data)), int64(len(data)))
	return data, slivers, nil
}

// readBegin is readStart under ClientConfig.Timeout; the context it
// returns (and cancel, to call when done) bounds the rest of the read by
// opTimeout of the blob's size, counted from the start.
func (c *Client) readBegin(parent context.Context, id codec.BlobID, res *ReadResult) (context.Context, codec.Params, [][]holder, *codec.Metadata, context.CancelFunc, error) {
	start := time.Now()
	mctx, mcancel := context.WithTimeout(parent, time.Duration(c.cfg.Timeout))
	p, holders, m, err := c.readStart(mctx, id, res)
	mcancel()
	if err != nil {
		return nil, p, nil, nil, nil, err
	}
	ctx, cancel := context.WithDeadline(parent, start.Add(c.opTimeout(m.UnencodedLength)))
	return ctx, p, holders, m, cancel, nil
}

// readStart finds the committees that hold a certified blob (the current
// one, and the previous one across an epoch change), each shard's holders
// and the blob's metadata, verified against its ID: what every read does
// first. It records the "status" and "metadata" phases in res.
func (c *Client) readStart(ctx context.Context, id codec.BlobID, res *ReadResult) (codec.Params, [][]holder, *codec.Metadata, error) {
	t := time.Now()
	bs, err := c.chain.BlobStatus(ctx, id)
	if err != nil {
		return codec.Params{}, nil, nil, fmt.Errorf("%w: %w", ErrChain, err)
	}
	if bs.Invalid {
		return codec.Params{}, nil, nil, fmt.Errorf("%w: %s", ErrBlobInvalid, id)
	}
	if !bs.Certified() {
		return codec.Params{}, nil, nil, fmt.Errorf("%w: %s is not certified on chain", ErrBlobNotFound, id)
	}
	est, err := c.chain.EpochState(ctx)
	if err != nil {
		return codec.Params{}, nil, nil, fmt.Errorf("%w: %w", ErrChain, err)
	}
	v, prev, preferPrev, err := readCommittees(ctx, c.comms, est, bs.InitialCertifiedEpoch)
	if err != nil {
		return codec.Params{}, nil, nil, err
	}
	holders := shardHolders(v, prev, preferPrev)
	res.Phases["status"] = time.Since(t)

	t = time.Now()
	m, err := c.readMetadata(ctx, v, prev, preferPrev, id, res)
	if err != nil {
		return codec.Params{}, nil, nil, err
	}
	res.Phases["metadata"] = time.Since(t)
	return v.params, holders, m, nil
}

// readMetadata asks members in random order, two at a time, and keeps the
// first metadata that verifies against the blob ID: first the members of
// the committee the blob should be read from, then the other one's.
func (c *Client) readMetadata(ctx context.Context, v, prev *committeeView, preferPrev bool, id codec.BlobID, res *ReadResult) (*codec.Metadata, error) {
	first, second := v, prev
	if preferPrev {
		first, second = prev, v
	}
	var order []holder
	asked := map[chainlink.ID]bool{}
	for _, cv := range []*committeeView{first, second} {
		if cv == nil {
			continue
		}
		for _, i := range rand.Perm(len(cv.Members)) {
			if id := cv.Members[i].NodeID; !asked[id] {
				asked[id] = true
				order = append(order, holder{cv, i})
			}
		}
	}
	notFound := 0
	var lastErr error
	for start := 0; start < len(order); start += 2 {
		type answer struct {
			h   holder
			m   *codec.Metadata
			err error
		}
		batch := order[start:min(start+2, len(order))]
		ch := make(chan answer, len(batch))
		for _, h := range batch {
			go func() {
				m, err := c.metadataFrom(ctx, h.v, h.i, id)
				ch <- answer{h, m, err}
			}()
		}
		var found *codec.Metadata
		for range batch {
			a := <-ch
			switch {
			case a.err == nil:
				if found == nil {
					found = a.m
				}
			case errors.Is(a.err, errLied):
				res.Liars = append(res.Liars, failure(a.h.v, a.h.i, "%v", a.err))
			case errors.Is(a.err, p2p.ErrNotFound):
				if a.h.v == first {
					notFound += a.h.v.Members[a.h.i].Weight
				}
			default:
				lastErr = a.err
			}
		}
		if found != nil {
			return found, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	if 3*notFound >= 2*first.NShards+1 {
		return nil, fmt.Errorf("%w: a quorum of nodes does not know %s", ErrBlobNotFound, id)
	}
	return nil, fmt.Errorf("%w: no node served valid metadata for %s (last error: %v)", ErrUnavailable, id, lastErr)
}

// errLied marks answers that failed verification.
var errLied = errors.New("served data that fails verification")

func (c *Client) metadataFrom(ctx context.Context, v *committeeView, i int, id codec.BlobID) (*codec.Metadata, error) {
	pid, err := c.connect(v, i)
	if err != nil {
		return nil, err
	}
	raw, err := c.p2p.GetMetadata(ctx, pid, id)
	if err != nil {
		return nil, err
	}
	gotID, m, err := codec.UnmarshalMetadataWithID(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: metadata: %v", errLied, err)
	}
	if gotID != id || len(m.Hashes) != v.params.NShards {
		return nil, fmt.Errorf("%w: metadata for another blob or committee", errLied)
	}
	if err := codec.VerifyMetadata(v.params, id, &m); err != nil {
		return nil, fmt.Errorf("%w: metadata: %v", errLied, err)
	}
	return &m, nil
}

// readSlivers fetches verified slivers of one type until enough to decode.
// It asks each holder for its share of the slivers still wanted, preferring
// the systematic ones. A sliver a holder does not have moves on to the
// shard's other holder (the previous or next owner across an epoch
// change); a member that fails or serves data failing verification is not
// asked again in this read, and liars are reported.
func (c *Client) readSlivers(ctx context.Context, p codec.Params, holders [][]holder, id codec.BlobID, m *codec.Metadata, typ codec.SliverType, res *ReadResult, progress func(Progress), pl *rowPlace) ([]codec.Sliver, error) {
	need := p.Primary()
	if typ == codec.Secondary {
		need = p.Secondary()
	}
	plan := newPairPlan(p, id, holders)
	// Candidate pairs in preference order: the systematic slivers first
	// (primary sliver i < nPrim, secondary sliver j < nSec), then the rest.
	var preferred, rest []int
	for pair := range p.NShards {
		if _, ok := plan.holderOf(pair); !ok {
			continue
		}
		if p.SliverIndex(typ, pair) < need {
			preferred = append(preferred, pair)
		} else {
			rest = append(rest, pair)
		}
	}
	rand.Shuffle(len(rest), func(a, b int) { rest[a], rest[b] = rest[b], rest[a] })
	queue := append(preferred, rest...)
	var got []codec.Sliver
	sliverBytes, _ := p.SliverSize(typ, m.UnencodedLength) // progress counts bytes
	report(progress, "fetch", 0, int64(need*sliverBytes))
	pauses := 0
	for len(got) < need {
		// Plan the next round: the next `need-len(got)` pairs that still
		// have a holder to ask, grouped by holder.
		round := sliverRound{}
		want := need - len(got)
		for len(queue) > 0 && want > 0 {
			pair := queue[0]
			queue = queue[1:]
			h, ok := plan.holderOf(pair)
			if !ok {
				continue
			}
			round.add(h, p2p.SliverRef{Pair: uint16(pair), Type: typ})
			want--
		}
		if len(round) == 0 {
			return nil, fmt.Errorf("%w: %d of %d %s slivers verified", ErrUnavailable, len(got), need, typ)
		}
		var (
			mu     sync.Mutex
			retry  []int
			failed bool
		)
		c.fetchRound(ctx, round, id, m, pl, func(a *sliverAsk, ok []codec.Sliver, missing []p2p.SliverRef, err error) {
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				if !plan.failed(a.h.nodeID(), err) {
					failed = true
				} else {
					c.log.Warn("read: not asking a member again in this read", "blob_id", id, "node_id", a.h.nodeID(), "slivers", len(a.refs), "err", err)
				}
				if errors.Is(err, errLied) {
					res.Liars = append(res.Liars, failure(a.h.v, a.h.i, "%v", err))
				}
				for _, r := range a.refs {
					retry = append(retry, int(r.Pair))
				}
			default:
				for _, r := range missing {
					plan.miss(int(r.Pair))
					retry = append(retry, int(r.Pair))
				}
			}
			got = append(got, ok...)
			report(progress, "fetch", int64(len(got)*sliverBytes), int64(need*sliverBytes))
		})
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// Pairs that failed go first in the next round, to their next holder
		// (or, after a pause, to the same one if it may retry).
		queue = append(retry, queue...)
		if failed {
			if err := retryPause(ctx, pauses); err != nil {
				return nil, err
			}
			pauses++
		}
	}
	return got, nil
}

// sliverAsk is one holder's share of a fetch round: the slivers asked of
// it over one stream.
type sliverAsk struct {
	h    holder
	refs []p2p.SliverRef
}

// sliverRound is a fetch round's asks by holder.
type sliverRound map[chainlink.ID]*sliverAsk

func (r sliverRound) add(h holder, ref p2p.SliverRef) {
	a := r[h.nodeID()]
	if a == nil {
		a = &sliverAsk{h: h}
		r[h.nodeID()] = a
	}
	a.refs = append(a.refs, ref)
}

// fetchRound asks every holder of the round at once, each over its own
// stream, and returns once all answered; done gets each answer of
// sliversFrom, from the asking goroutines (it locks what it shares).
//
// With pl, systematic primary slivers are read into their rows of pl.out:
// a round asks for each pair once, and a row is written only while its
// pair's ask runs.
func (c *Client) fetchRound(ctx context.Context, round sliverRound, id codec.BlobID, m *codec.Metadata, pl *rowPlace,
	done func(a *sliverAsk, ok []codec.Sliver, missing []p2p.SliverRef, err error)) {
	var wg sync.WaitGroup
	for _, a := range round {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, missing, err := c.sliversFrom(ctx, a.h.v, a.h.i, id, m, a.refs, pl)
			done(a, ok, missing, err)
		}()
	}
	wg.Wait()
}

// readRunBytes: a holder's slivers are asked for in runs of about this
// many bytes, each on its own stream, the next ones in flight while the
// last one verifies. Verification (each sliver expanded to n symbols and
// hashed, F5.1) then overlaps the transfer instead of following it; on a
// 64 MiB read it is about a quarter of an encode.
const readRunBytes = 4 << 20

// busyRetries is how many times sliversFrom asks a member again for the
// slivers it answered "rate-limited" (it had no memory to send them then:
// large slivers under a burst of reads). Pauses start at busyPause and
// double, about 6 s in all. Only then do they count as misses, which for a
// shard's only holder sends a streamed read to decoding.
const (
	busyRetries = 6
	busyPause   = 100 * time.Millisecond
)

// sliversFrom fetches slivers from member i and returns the verified ones
// and those the member does not have (a miss, not a fault). Any sliver
// failing verification makes the member a liar (errLied); a stream failure
// or a whole-request refusal is an error too. Slivers the member could
// not send for load are asked for again after a pause (busyRetries).
func (c *Client) sliversFrom(ctx context.Context, v *committeeView, i int, id codec.BlobID, m *codec.Metadata, refs []p2p.SliverRef, pl *rowPlace) ([]codec.Sliver, []p2p.SliverRef, error) {
	if len(refs) == 0 {
		return nil, nil, nil
	}
	pid, err := c.connect(v, i)
	if err != nil {
		return nil, nil, err
	}
	var parsed []codec.Sliver
	var missing []p2p.SliverRef
	for attempt := 0; ; attempt++ {
		ok, miss, busy, err := c.sliverRuns(ctx, pid, v, id, m, refs, pl)
		if err != nil {
			return nil, nil, err
		}
		parsed = append(parsed, ok...)
		missing = append(missing, miss...)
		if len(busy) == 0 {
			return parsed, missing, nil
		}
		if attempt == busyRetries {
			c.log.Warn("read: a member stayed too busy to send some slivers; treating them as missing",
				"blob_id", id, "member", i, "slivers", len(busy))
			return parsed, append(missing, busy...), nil
		}
		if err := pause(ctx, busyPause<<attempt); err != nil {
			return nil, nil, err
		}
		refs = busy
	}
}

// sliverRuns asks the member at pid for refs in runs (readRunBytes) and
// returns the verified slivers, those it does not have, and those it was
// too busy to send.
func (c *Client) sliverRuns(ctx context.Context, pid peer.ID, v *committeeView, id codec.BlobID, m *codec.Metadata, refs []p2p.SliverRef, pl *rowPlace) ([]codec.Sliver, []p2p.SliverRef, []p2p.SliverRef, error) {
	size := func(r p2p.SliverRef) int {
		n, err := v.params.SliverSize(r.Type, m.UnencodedLength)
		if err != nil {
			return math.MaxInt // unreachable for verified metadata: one run per sliver
		}
		return n
	}
	runBytes := c.readRun
	if runBytes <= 0 {
		runBytes = readRunBytes
	}
	runs := splitRefs(refs, size, runBytes)
	ctx, cancel := context.WithCancel(ctx)
	type answer struct {
		run     int
		results []p2p.Result
		parts   []placedSliver
		err     error
	}
	answers := make(chan answer, len(runs))
	fetch := func(k int) {
		into, parts := pl.into(v.params, runs[k])
		res, err := c.p2p.GetSliversInto(ctx, pid, id, runs[k], into)
		answers <- answer{k, res, parts, err}
	}
	// Two runs in flight, so the link does not idle for a round trip
	// between runs; the next is asked for as each one arrives. Answers are
	// taken in the order they come.
	inFlight, asked := 0, 0
	for ; asked < min(2, len(runs)); asked++ {
		inFlight++
		go fetch(asked)
	}
	defer func() {
		// Runs still in flight end with the context.
		cancel()
		for ; inFlight > 0; inFlight-- {
			<-answers
		}
	}()
	var parsed []codec.Sliver
	var missing, busy []p2p.SliverRef
	for range runs {
		a := <-answers
		inFlight--
		if a.err != nil {
			return nil, nil, nil, a.err
		}
		if asked < len(runs) {
			inFlight++
			go fetch(asked)
			asked++
		}
		ok, miss, later, err := c.checkSlivers(v, m, runs[a.run], a.results, a.parts)
		if err != nil {
			return nil, nil, nil, err
		}
		parsed = append(parsed, ok...)
		missing = append(missing, miss...)
		busy = append(busy, later...)
	}
	return parsed, missing, busy, nil
}

// rowPlace is where a read puts the systematic primary slivers it fetches:
// row r (primary sliver r, rowBytes long) of first ≤ r < first+rows at
// out[(r−first)·rowBytes:].
type rowPlace struct {
	out         []byte
	rowBytes    int
	first, rows int
}

// placedSliver is the BCS of a sliver read into place: its head and tail,
// and its symbols at their row.
type placedSliver struct{ head, data, tail []byte }

// into returns the GetSliversInto function for one run of refs (nil
// without a place) and where it records the parts of each sliver it
// placed: a systematic primary sliver of the expected length goes to its
// row, anything else to a slice of its own.
func (pl *rowPlace) into(p codec.Params, refs []p2p.SliverRef) (func(i, n int) [][]byte, []placedSliver) {
	if pl == nil {
		return nil, nil
	}
	parts := make([]placedSliver, len(refs))
	head := codec.SliverBCSHeadLen(pl.rowBytes)
	return func(i, n int) [][]byte {
		if refs[i].Type != codec.Primary || n != head+pl.rowBytes+codec.SliverBCSTailLen {
			return nil
		}
		r := p.SliverIndex(codec.Primary, int(refs[i].Pair)) - pl.first
		if r < 0 || r >= pl.rows {
			return nil
		}
		parts[i] = placedSliver{head: make([]byte, head), data: pl.out[r*pl.rowBytes : (r+1)*pl.rowBytes], tail: make([]byte, codec.SliverBCSTailLen)}
		return [][]byte{parts[i].head, parts[i].data, parts[i].tail}
	}, parts
}

// checkSlivers decodes and verifies one answer of a holder to refs: the
// verified slivers, those the holder does not have, and those it was too
// busy to send (rate-limited items: ask again later).
func (c *Client) checkSlivers(v *committeeView, m *codec.Metadata, refs []p2p.SliverRef, results []p2p.Result, parts []placedSliver) ([]codec.Sliver, []p2p.SliverRef, []p2p.SliverRef, error) {
	var parsed []codec.Sliver
	var missing, busy []p2p.SliverRef
	for j, r := range results {
		var (
			sl  codec.Sliver
			err error
		)
		switch {
		case r.Placed:
			pp := parts[j]
			c.fetched.Add(int64(len(pp.head) + len(pp.data) + len(pp.tail)))
			sl, err = codec.SliverFromBCSParts(refs[j].Type, pp.head, pp.data, pp.tail)
		case errors.Is(r.Err, p2p.ErrRateLimited):
			busy = append(busy, refs[j])
			continue
		case r.Err != nil:
			c.log.Debug("read: a member does not give a sliver", "type", refs[j].Type, "pair", refs[j].Pair, "err", r.Err)
			missing = append(missing, refs[j])
			continue
		default:
			c.fetched.Add(int64(len(r.Data))) // FetchedSliverBytes (readrange.go)
			sl, err = codec.UnmarshalSliver(r.Data, refs[j].Type)
		}
		if err != nil || sl.Index != v.params.SliverIndex(refs[j].Type, int(refs[j].Pair)) {
			return nil, nil, nil, fmt.Errorf("%w: %s sliver of pair %d does not decode or has the wrong index", errLied, refs[j].Type, refs[j].Pair)
		}
		parsed = append(parsed, sl)
	}
	for j, err := range codec.VerifySlivers(v.params, m, parsed) {
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%w: %s sliver %d: %v", errLied, parsed[j].Type, parsed[j].Index, err)
		}
	}
	return parsed, missing, busy, nil
}
