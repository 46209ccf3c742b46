package store

import (
	"context"
	"fmt"
	"slices"

	"floe/codec"
)

// Shard migration reads: what a previous owner serves to the new owner of a
// shard (SyncSlivers), and what the new owner still lacks (ShardGaps). Both
// walk one key range in blob-ID order from a cursor and stop at a bound, so
// a shard of any size moves in pieces of bounded memory.

// SyncBatch is one batch of SyncSlivers.
type SyncBatch struct {
	Slivers []ShardSliver
	// Next is where the following call starts; meaningful when !Done.
	Next codec.BlobID
	Done bool
}

// SyncSlivers returns the slivers of type t held for shard, of blobs with
// IDs from `from` (inclusive) on, in blob-ID order, for which keep returns
// true given the blob's state (blobs without a state are skipped). It stops
// after maxSlivers slivers, or before the payload bytes would pass maxBytes
// (but always returns at least one sliver when there is one). A sliver that
// fails its checksum is returned with Err set and no data: the caller skips
// it (the new owner recovers it elsewhere).
func (s *Store) SyncSlivers(ctx context.Context, shard int, t codec.SliverType, from codec.BlobID, maxSlivers, maxBytes int, keep func(BlobState) bool) (SyncBatch, error) {
	var b SyncBatch
	if err := checkSliverAddr(shard, t); err != nil {
		return b, err
	}
	if maxSlivers <= 0 || maxBytes <= 0 {
		return b, fmt.Errorf("%w: max %d slivers, %d bytes", ErrInvalidArgument, maxSlivers, maxBytes)
	}
	if err := s.enter(); err != nil {
		return b, err
	}
	defer s.exit()
	prefix := shardPrefix(shard)
	bytes := 0
	more := false
	var stopAt codec.BlobID
	err := s.scan(ctx, prefix, prefix+"/"+blobHex(from), "", func(k string, v []byte) (bool, error) {
		p, ok := parseSliverKey(k)
		if !ok || p.Shard != shard || p.Type != t {
			return true, nil
		}
		if len(b.Slivers) == maxSlivers || (len(b.Slivers) > 0 && bytes+len(v)-headerLen > maxBytes) {
			more, stopAt = true, p.Blob
			return false, nil
		}
		st, found, err := s.readState(ctx, p.Blob)
		if err != nil || !found || !keep(st) {
			return true, nil // a corrupt state is the owner's problem, not the requester's
		}
		ss := ShardSliver{Blob: p.Blob, Type: t, Pair: -1}
		if st.Registered && shard < st.NShards {
			ss.Pair = codec.Params{NShards: st.NShards}.PairOfShard(p.Blob, shard)
		}
		if data, err := openValue(k, v); err != nil {
			ss.Err = err
		} else {
			ss.Data = slices.Clone(data)
			bytes += len(data)
		}
		b.Slivers = append(b.Slivers, ss)
		return true, nil
	})
	if err != nil {
		return SyncBatch{}, err
	}
	b.Done = !more
	b.Next = stopAt
	return b, nil
}

// ShardGap is a blob whose slivers on a shard are (partly) missing.
type ShardGap struct {
	Blob    codec.BlobID
	Pair    int
	Primary bool // the primary sliver is missing
	Second  bool // the secondary sliver is missing
}

// GapBatch is one batch of ShardGaps.
type GapBatch struct {
	Gaps []ShardGap
	// Checked counts the blobs that want slivers on the shard (keep
	// returned true), gaps or not.
	Checked int
	Next    codec.BlobID
	Done    bool
}

// ShardGaps walks the registered blobs from `from` (inclusive) in blob-ID
// order and, for those keep selects, reports which slivers of shard the
// store lacks. It looks at up to maxBlobs blobs per call.
func (s *Store) ShardGaps(ctx context.Context, shard int, from codec.BlobID, maxBlobs int, keep func(codec.BlobID, BlobState) bool) (GapBatch, error) {
	var b GapBatch
	if shard < 0 || shard > maxShard || maxBlobs <= 0 {
		return b, fmt.Errorf("%w: shard %d, max %d", ErrInvalidArgument, shard, maxBlobs)
	}
	if err := s.enter(); err != nil {
		return b, err
	}
	defer s.exit()
	seen := 0
	more := false
	var stopAt codec.BlobID
	var ids []codec.BlobID
	var states []BlobState
	err := s.scan(ctx, pfxState, pfxState+blobHex(from), "", func(k string, v []byte) (bool, error) {
		id, ok := parseBlobLeaf(k, pfxState)
		if !ok {
			return true, nil
		}
		if seen == maxBlobs {
			more, stopAt = true, id
			return false, nil
		}
		seen++
		st, err := decodeState(k, v)
		if err != nil || !st.Registered || shard >= st.NShards || !keep(id, st) {
			return true, nil
		}
		ids = append(ids, id)
		states = append(states, st)
		return true, nil
	})
	if err != nil {
		return GapBatch{}, err
	}
	for i, id := range ids {
		hasP, err := s.has(ctx, indexSliverKey(id, shard, codec.Primary))
		if err != nil {
			return GapBatch{}, err
		}
		hasS, err := s.has(ctx, indexSliverKey(id, shard, codec.Secondary))
		if err != nil {
			return GapBatch{}, err
		}
		b.Checked++
		if !hasP || !hasS {
			b.Gaps = append(b.Gaps, ShardGap{
				Blob: id, Pair: codec.Params{NShards: states[i].NShards}.PairOfShard(id, shard),
				Primary: !hasP, Second: !hasS,
			})
		}
	}
	b.Done = !more
	b.Next = stopAt
	return b, nil
}
