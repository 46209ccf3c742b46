package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"
	ds "github.com/ipfs/go-datastore"

	"floe/codec"
)

// Sliver is one sliver of a blob, addressed by pair index and type.
type Sliver struct {
	Pair int
	Type codec.SliverType
	Data []byte
}

func checkSliverAddr(pair int, t codec.SliverType) error {
	if pair < 0 || pair > maxShard {
		return fmt.Errorf("%w: pair index %d", ErrInvalidArgument, pair)
	}
	if t != codec.Primary && t != codec.Secondary {
		return fmt.Errorf("%w: sliver type %d", ErrInvalidArgument, t)
	}
	return nil
}

// PutMetadata stores a blob's (already verified) metadata. Before the
// blob's registration is seen it goes to the pending buffer (ErrPendingFull
// past its caps); it moves into place when Register arrives.
func (s *Store) PutMetadata(ctx context.Context, id codec.BlobID, data []byte) error {
	return s.put(ctx, id, nil, data)
}

// PutSliver stores one (already verified) sliver; see PutSlivers.
func (s *Store) PutSliver(ctx context.Context, id codec.BlobID, pair int, t codec.SliverType, data []byte) error {
	return s.put(ctx, id, []Sliver{{Pair: pair, Type: t, Data: data}}, nil)
}

// PutSlivers stores slivers of one blob in one atomic batch: each sliver
// together with its index entry, all or none. A sliver that exists is
// replaced (this is how a corrupt sliver is repaired after re-fetching).
// Slivers of a blob whose registration has not been seen go to the pending
// buffer. Errors: ErrBlobGone, ErrNoSpace, ErrPendingFull,
// ErrInvalidArgument, ErrClosed.
func (s *Store) PutSlivers(ctx context.Context, id codec.BlobID, slivers []Sliver) error {
	return s.put(ctx, id, slivers, nil)
}

// put stores slivers and/or metadata (meta != nil) of one blob.
func (s *Store) put(ctx context.Context, id codec.BlobID, slivers []Sliver, meta []byte) error {
	for _, sl := range slivers {
		if err := checkSliverAddr(sl.Pair, sl.Type); err != nil {
			return err
		}
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.exit()
	defer s.lockBlob(id)()
	st, found, err := s.readState(ctx, id)
	if err != nil {
		return err
	}
	if found && st.Gone(s.epoch.Load()) {
		return fmt.Errorf("%w: %s", ErrBlobGone, id)
	}
	puts := putSet{}
	d := &delta{}
	if !st.Registered {
		return s.putPending(ctx, id, slivers, meta, puts, d)
	}
	params := codec.Params{NShards: st.NShards}
	add := func(dataKey, idxKey string, data []byte, shard int) error {
		old, err := s.indexSize(ctx, idxKey)
		if err != nil {
			return err
		}
		if _, dup := puts[dataKey]; dup {
			return fmt.Errorf("%w: %s given twice", ErrInvalidArgument, dataKey)
		}
		puts[dataKey] = sealLater(data)
		puts[idxKey] = raw(encodeSize(len(data)))
		diff := int64(len(data)) - old
		if shard < 0 {
			d.meta += diff
			d.total += diff
		} else {
			d.addShard(shard, diff)
		}
		return nil
	}
	if meta != nil {
		if err := add(metaKey(id), indexMetaKey(id), meta, -1); err != nil {
			return err
		}
	}
	for _, sl := range slivers {
		if sl.Pair >= st.NShards {
			return fmt.Errorf("%w: pair %d of a blob with %d shards", ErrInvalidArgument, sl.Pair, st.NShards)
		}
		shard := params.ShardOfPair(id, sl.Pair)
		if err := add(sliverKey(shard, id, sl.Type), indexSliverKey(id, shard, sl.Type), sl.Data, shard); err != nil {
			return err
		}
	}
	return s.commit(ctx, puts, nil, d)
}

func (s *Store) putPending(ctx context.Context, id codec.BlobID, slivers []Sliver, meta []byte, puts putSet, d *delta) error {
	add := func(key string, data []byte) error {
		if _, dup := puts[key]; dup {
			return fmt.Errorf("%w: %s given twice", ErrInvalidArgument, key)
		}
		size, err := s.ds.GetSize(ctx, ds.RawKey(key))
		switch {
		case errors.Is(err, ds.ErrNotFound):
			d.pendEntries++
		case err != nil:
			return fmt.Errorf("store: %s: %w", key, err)
		default:
			d.pendBytes -= payloadLen(size)
			d.total -= payloadLen(size)
		}
		puts[key] = sealLater(data)
		d.pendBytes += int64(len(data))
		d.total += int64(len(data))
		return nil
	}
	if meta != nil {
		if err := add(pendingMetaKey(id), meta); err != nil {
			return err
		}
	}
	for _, sl := range slivers {
		if err := add(pendingSliverKey(id, sl.Pair, sl.Type), sl.Data); err != nil {
			return err
		}
	}
	ok, err := s.has(ctx, pendingTimeKey(id))
	if err != nil {
		return err
	}
	if !ok {
		puts[pendingTimeKey(id)] = raw(encodeTime(time.Now()))
	}
	return s.commit(ctx, puts, nil, d)
}

// readValue reads and checks a sealed value.
func (s *Store) readValue(ctx context.Context, key string) ([]byte, error) {
	v, err := s.get(ctx, key)
	if err != nil {
		return nil, err
	}
	return openValue(key, v)
}

// GetMetadata returns a registered blob's metadata. ErrNotFound if absent
// (or only pending); ErrCorrupt if it fails its checksum.
func (s *Store) GetMetadata(ctx context.Context, id codec.BlobID) ([]byte, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.exit()
	return s.readValue(ctx, metaKey(id))
}

// GetSliver returns a sliver by pair index. The blob must be registered
// (its shard count maps the pair to a shard). ErrNotFound if absent,
// ErrCorrupt (a *CorruptError) if it fails its checksum: re-fetch it and
// PutSliver it again.
func (s *Store) GetSliver(ctx context.Context, id codec.BlobID, pair int, t codec.SliverType) ([]byte, error) {
	if err := checkSliverAddr(pair, t); err != nil {
		return nil, err
	}
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.exit()
	st, found, err := s.readState(ctx, id)
	if err != nil {
		return nil, err
	}
	if !found || !st.Registered || pair >= st.NShards {
		return nil, fmt.Errorf("%w: sliver %s/%d/%s", ErrNotFound, id, pair, t)
	}
	shard := codec.Params{NShards: st.NShards}.ShardOfPair(id, pair)
	return s.readValue(ctx, sliverKey(shard, id, t))
}

// GetShardSliver returns the sliver of type t that blob id keeps on shard
// (no state lookup). Errors as GetSliver.
func (s *Store) GetShardSliver(ctx context.Context, shard int, id codec.BlobID, t codec.SliverType) ([]byte, error) {
	if err := checkSliverAddr(shard, t); err != nil {
		return nil, err
	}
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.exit()
	return s.readValue(ctx, sliverKey(shard, id, t))
}

// ViewShardSliver calls fn with the sliver held for shard, as
// GetShardSliver returns it, but without copying it out of the store:
// data is only valid during the call and must not be changed. It returns
// fn's error, or GetShardSliver's (and then fn is not called).
func (s *Store) ViewShardSliver(ctx context.Context, shard int, id codec.BlobID, t codec.SliverType, fn func(data []byte) error) error {
	if err := checkSliverAddr(shard, t); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.exit()
	key := sliverKey(shard, id, t)
	if s.pdb == nil {
		data, err := s.readValue(ctx, key)
		if err != nil {
			return err
		}
		return fn(data)
	}
	v, closer, err := s.pdb.Get([]byte(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	if err != nil {
		return fmt.Errorf("store: get %s: %w", key, err)
	}
	defer closer.Close()
	data, err := openValue(key, v)
	if err != nil {
		return err
	}
	return fn(data)
}

// SliverRef names a sliver of a blob.
type SliverRef struct {
	Shard int
	Pair  int
	Type  codec.SliverType
}

// MissingSlivers lists, for a registered blob, the slivers of the node's
// held shards (SetShards) that the store does not have: both slivers of the
// pair mapped to each held shard below n. The result is ordered by shard,
// then type.
func (s *Store) MissingSlivers(ctx context.Context, id codec.BlobID) ([]SliverRef, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.exit()
	st, found, err := s.readState(ctx, id)
	if err != nil {
		return nil, err
	}
	if !found || !st.Registered {
		return nil, fmt.Errorf("%w: blob %s is not registered", ErrNotFound, id)
	}
	have := map[SliverRef]bool{}
	err = s.scan(ctx, indexPrefix(id), "", "", func(k string, _ []byte) (bool, error) {
		if p, ok := parseIndexKey(k); ok && !p.Meta {
			have[SliverRef{Shard: p.Shard, Type: p.Type}] = true
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	params := codec.Params{NShards: st.NShards}
	var missing []SliverRef
	for _, sh := range s.Shards() {
		if sh >= st.NShards {
			break
		}
		for _, t := range []codec.SliverType{codec.Primary, codec.Secondary} {
			if !have[SliverRef{Shard: sh, Type: t}] {
				missing = append(missing, SliverRef{Shard: sh, Pair: params.PairOfShard(id, sh), Type: t})
			}
		}
	}
	return missing, nil
}

// ShardSliver is one sliver returned by ScanShard. Err, when set, wraps
// ErrCorrupt and Data is nil: the node should re-fetch that sliver.
type ShardSliver struct {
	Blob codec.BlobID
	Pair int // -1 if the blob's state is unknown
	Type codec.SliverType
	Data []byte
	Err  error
}

// ShardBatch is one batch of ScanShard.
type ShardBatch struct {
	Slivers []ShardSliver
	// Next is the cursor for the following call; meaningful when !Done.
	Next codec.BlobID
	Done bool
}

// ScanShard returns the slivers held for shard, in blob-ID order, starting
// at blob ID from (inclusive; the zero ID for the beginning), covering at
// most maxBlobs blobs (both slivers of a blob always come in the same
// batch). Pass Next as from to continue. This is what shard migration and
// recovery iterate with. Writes that happen during a scan may or may not be
// seen.
func (s *Store) ScanShard(ctx context.Context, shard int, from codec.BlobID, maxBlobs int) (ShardBatch, error) {
	var b ShardBatch
	if shard < 0 || shard > maxShard || maxBlobs <= 0 {
		return b, fmt.Errorf("%w: shard %d, max %d", ErrInvalidArgument, shard, maxBlobs)
	}
	if err := s.enter(); err != nil {
		return b, err
	}
	defer s.exit()
	prefix := shardPrefix(shard)
	blobs := 0
	var last codec.BlobID
	more := false
	err := s.scan(ctx, prefix, prefix+"/"+blobHex(from), "", func(k string, v []byte) (bool, error) {
		p, ok := parseSliverKey(k)
		if !ok || p.Shard != shard {
			s.log.Warn("store: malformed sliver key", "key", k)
			return true, nil
		}
		if blobs == 0 || p.Blob != last {
			if blobs == maxBlobs {
				more = true
				return false, nil
			}
			blobs++
			last = p.Blob
		}
		ss := ShardSliver{Blob: p.Blob, Pair: -1, Type: p.Type}
		if data, err := openValue(k, v); err != nil {
			ss.Err = err
		} else {
			ss.Data = slices.Clone(data)
		}
		b.Slivers = append(b.Slivers, ss)
		return true, nil
	})
	if err != nil {
		return b, err
	}
	// Pair indices from the blobs' shard counts.
	var cur codec.BlobID
	pair := -1
	for i := range b.Slivers {
		ss := &b.Slivers[i]
		if i == 0 || ss.Blob != cur {
			cur, pair = ss.Blob, -1
			if st, found, err := s.readState(ctx, cur); err == nil && found && st.Registered && shard < st.NShards {
				pair = codec.Params{NShards: st.NShards}.PairOfShard(cur, shard)
			}
		}
		ss.Pair = pair
	}
	b.Done = !more
	if more {
		b.Next = last
		b.Done = !increment(&b.Next)
	}
	return b, nil
}

// increment adds one to id as a big-endian number; false on overflow.
func increment(id *codec.BlobID) bool {
	for i := len(id) - 1; i >= 0; i-- {
		id[i]++
		if id[i] != 0 {
			return true
		}
	}
	return false
}

// DropShard deletes every sliver the store holds for shard (after the
// shard moved to another node), in batches of at most BatchSize keys, and
// removes it from the held shards. It returns what it removed.
func (s *Store) DropShard(ctx context.Context, shard int) (PurgeStats, error) {
	var stats PurgeStats
	if shard < 0 || shard > maxShard {
		return stats, fmt.Errorf("%w: shard %d", ErrInvalidArgument, shard)
	}
	if held := s.Shards(); slices.Contains(held, shard) {
		if err := s.SetShards(ctx, slices.DeleteFunc(held, func(x int) bool { return x == shard })); err != nil {
			return stats, err
		}
	}
	for {
		done, err := s.dropShardBatch(ctx, shard, &stats)
		if err != nil || done {
			return stats, err
		}
	}
}

func (s *Store) dropShardBatch(ctx context.Context, shard int, stats *PurgeStats) (bool, error) {
	if err := s.enter(); err != nil {
		return true, err
	}
	defer s.exit()
	var refs []sliverKeyParts
	limit := max(1, s.opts.BatchSize/2)
	err := s.scan(ctx, shardPrefix(shard), "", "", func(k string, _ []byte) (bool, error) {
		if p, ok := parseSliverKey(k); ok {
			refs = append(refs, p)
		}
		return len(refs) < limit, nil
	})
	if err != nil || len(refs) == 0 {
		return true, err
	}
	// Lock the stripes involved in ascending order (the only place that
	// takes more than one, so no deadlock).
	var stripes []int
	for _, r := range refs {
		stripes = append(stripes, int(r.Blob[0]))
	}
	slices.Sort(stripes)
	stripes = slices.Compact(stripes)
	for _, i := range stripes {
		s.stripes[i].Lock()
	}
	defer func() {
		for _, i := range stripes {
			s.stripes[i].Unlock()
		}
	}()
	var dels []string
	d := &delta{}
	for _, r := range refs {
		ik := indexSliverKey(r.Blob, shard, r.Type)
		n, err := s.indexSize(ctx, ik)
		if err != nil {
			return true, err
		}
		dels = append(dels, sliverKey(shard, r.Blob, r.Type), ik)
		d.addShard(shard, -n)
	}
	if err := s.commit(ctx, nil, dels, d); err != nil {
		return true, err
	}
	stats.Slivers += len(refs)
	stats.Bytes -= d.total
	return len(refs) < limit, nil
}
