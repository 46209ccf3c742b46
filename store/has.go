package store

import (
	"context"

	"floe/codec"
)

// HasMetadata reports whether a registered blob's metadata is stored
// (without reading it), and whether metadata of a blob not yet seen
// registered waits in the pending buffer.
func (s *Store) HasMetadata(ctx context.Context, id codec.BlobID) (stored, pending bool, err error) {
	if err := s.enter(); err != nil {
		return false, false, err
	}
	defer s.exit()
	if stored, err = s.has(ctx, metaKey(id)); err != nil || stored {
		return stored, false, err
	}
	pending, err = s.has(ctx, pendingMetaKey(id))
	return false, pending, err
}

// HasSliver reports whether the sliver of type t of blob id on shard is
// stored (without reading it), and whether the sliver of pair waits in
// the pending buffer.
func (s *Store) HasSliver(ctx context.Context, id codec.BlobID, shard, pair int, t codec.SliverType) (stored, pending bool, err error) {
	if err := checkSliverAddr(shard, t); err != nil {
		return false, false, err
	}
	if err := checkSliverAddr(pair, t); err != nil {
		return false, false, err
	}
	if err := s.enter(); err != nil {
		return false, false, err
	}
	defer s.exit()
	if stored, err = s.has(ctx, sliverKey(shard, id, t)); err != nil || stored {
		return stored, false, err
	}
	pending, err = s.has(ctx, pendingSliverKey(id, pair, t))
	return false, pending, err
}
