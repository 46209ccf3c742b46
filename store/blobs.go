package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"floe/codec"
)

// Registration is the content of a blob-registered chain event that the
// store keeps.
type Registration struct {
	// NShards is n of the committee the blob is encoded for.
	NShards   int
	EndEpoch  uint64
	Deletable bool
	ObjectID  [32]byte
}

// readState returns the blob's state and whether it exists.
func (s *Store) readState(ctx context.Context, id codec.BlobID) (BlobState, bool, error) {
	v, err := s.get(ctx, stateKey(id))
	if errors.Is(err, ErrNotFound) {
		return BlobState{}, false, nil
	}
	if err != nil {
		return BlobState{}, false, err
	}
	st, err := decodeState(stateKey(id), v)
	return st, err == nil, err
}

// State returns what the store knows about a blob from chain events, or
// ErrNotFound.
func (s *Store) State(ctx context.Context, id codec.BlobID) (BlobState, error) {
	if err := s.enter(); err != nil {
		return BlobState{}, err
	}
	defer s.exit()
	st, ok, err := s.readState(ctx, id)
	if err == nil && !ok {
		err = fmt.Errorf("%w: state of %s", ErrNotFound, id)
	}
	return st, err
}

// Register records a blob registration. A repeated registration extends
// the end epoch (it never shortens it) and must agree on NShards. Metadata
// and slivers buffered while the blob was unknown move into the main store
// in the same atomic batch. Registering a blob that is not yet expired again
// after deletion clears the deleted flag; an invalid blob stays invalid.
func (s *Store) Register(ctx context.Context, id codec.BlobID, reg Registration) error {
	if _, err := codec.NewParams(reg.NShards); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.exit()
	defer s.lockBlob(id)()
	old, found, err := s.readState(ctx, id)
	if err != nil {
		return err
	}
	if found && old.Registered && old.NShards != reg.NShards {
		return fmt.Errorf("%w: blob %s registered with %d shards, now %d", ErrInvalidArgument, id, old.NShards, reg.NShards)
	}
	st := old
	st.Registered, st.NShards, st.Deletable, st.ObjectID = true, reg.NShards, reg.Deletable, reg.ObjectID
	st.Deleted = false
	if !found || !old.Registered || reg.EndEpoch > old.EndEpoch {
		st.EndEpoch = reg.EndEpoch
	}
	puts := putSet{stateKey(id): raw(encodeState(st))}
	var dels []string
	if found && old.Registered && old.EndEpoch != st.EndEpoch {
		dels = append(dels, expiryKey(old.EndEpoch, id))
	}
	puts[expiryKey(st.EndEpoch, id)] = raw([]byte{})
	d := &delta{}
	if !old.Registered && !st.Invalid {
		if err := s.promotePending(ctx, id, st, puts, &dels, d); err != nil {
			return err
		}
	}
	return s.commit(ctx, puts, dels, d)
}

// promotePending adds to the batch the moves of the blob's pending entries
// into the main key space.
func (s *Store) promotePending(ctx context.Context, id codec.BlobID, st BlobState, puts putSet, dels *[]string, d *delta) error {
	params := codec.Params{NShards: st.NShards}
	type item struct {
		key   string
		value []byte
		p     pendingKeyParts
	}
	var items []item
	err := s.scan(ctx, pendingPrefix(id), "", "", func(k string, v []byte) (bool, error) {
		p, ok := parsePendingKey(k)
		if !ok {
			s.log.Warn("store: dropping malformed pending key", "key", k)
			p.Pair = -1
		}
		items = append(items, item{k, append([]byte(nil), v...), p})
		return true, nil
	})
	if err != nil {
		return err
	}
	for _, it := range items {
		*dels = append(*dels, it.key)
		n := payloadLen(len(it.value))
		d.pendBytes -= n
		d.pendEntries--
		d.total -= n
		data, err := openValue(it.key, it.value)
		if err != nil || it.p.Pair < 0 || (!it.p.Meta && it.p.Pair >= st.NShards) {
			s.log.Warn("store: dropping pending entry", "key", it.key, "err", err)
			continue
		}
		var dataKey, idxKey string
		shard := -1
		if it.p.Meta {
			dataKey, idxKey = metaKey(id), indexMetaKey(id)
		} else {
			shard = params.ShardOfPair(id, it.p.Pair)
			dataKey, idxKey = sliverKey(shard, id, it.p.Type), indexSliverKey(id, shard, it.p.Type)
		}
		oldN, err := s.indexSize(ctx, idxKey)
		if err != nil {
			return err
		}
		puts[dataKey] = raw(it.value)
		puts[idxKey] = raw(encodeSize(len(data)))
		diff := int64(len(data)) - oldN
		if it.p.Meta {
			d.meta += diff
			d.total += diff
		} else {
			d.addShard(shard, diff)
		}
	}
	if len(items) > 0 {
		*dels = append(*dels, pendingTimeKey(id))
	}
	return nil
}

// indexSize returns the payload size recorded in an index entry, 0 if
// there is none.
func (s *Store) indexSize(ctx context.Context, key string) (int64, error) {
	v, err := s.get(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := decodeSize(key, v)
	if err != nil {
		// A bad index entry is overwritten by the caller; count it as 0.
		s.log.Warn("store: bad index entry", "key", key, "err", err)
		return 0, nil
	}
	return n, nil
}

// Certify records a blob-certified event.
func (s *Store) Certify(ctx context.Context, id codec.BlobID, epoch uint64) error {
	return s.updateState(ctx, id, func(st *BlobState) {
		if !st.Certified || epoch < st.CertifiedEpoch {
			st.CertifiedEpoch = epoch
		}
		st.Certified = true
	})
}

// MarkInvalid records an invalid-blob event and deletes the blob's data
// (and pending entries) in bounded batches. The state is kept as a
// tombstone so that later data is refused with ErrBlobGone.
func (s *Store) MarkInvalid(ctx context.Context, id codec.BlobID) error {
	if err := s.updateState(ctx, id, func(st *BlobState) { st.Invalid = true }); err != nil {
		return err
	}
	_, err := s.purgeBlob(ctx, id, false, "", nil)
	return err
}

// MarkDeleted records a blob-deleted event (a deletable blob deleted by its
// owner) and deletes the blob's data in bounded batches. The state stays
// until the end epoch passes.
func (s *Store) MarkDeleted(ctx context.Context, id codec.BlobID) error {
	if err := s.updateState(ctx, id, func(st *BlobState) { st.Deleted = true }); err != nil {
		return err
	}
	_, err := s.purgeBlob(ctx, id, false, "", nil)
	return err
}

func (s *Store) updateState(ctx context.Context, id codec.BlobID, f func(*BlobState)) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.exit()
	defer s.lockBlob(id)()
	st, _, err := s.readState(ctx, id)
	if err != nil && !errors.Is(err, ErrCorrupt) {
		return err
	}
	f(&st)
	return s.commit(ctx, putSet{stateKey(id): raw(encodeState(st))}, nil, nil)
}

// PurgeStats counts what expiry or deletion removed.
type PurgeStats struct {
	Blobs   int
	Slivers int
	Bytes   int64
}

// purgeBlob deletes a blob's data, index and pending entries in batches of
// at most BatchSize keys, taking the blob's lock for one batch at a time so
// that other blobs, and reads, are never held up. With dropState the last
// batch also deletes the state and its expiry entry (and extraKey, a
// possibly stale expiry entry). keep, if non-nil, is checked under the lock
// before every batch; when it returns true the purge stops (the blob was
// extended or re-registered meanwhile).
func (s *Store) purgeBlob(ctx context.Context, id codec.BlobID, dropState bool, extraKey string, keep func(BlobState, bool) bool) (PurgeStats, error) {
	var stats PurgeStats
	for {
		if err := ctx.Err(); err != nil {
			return stats, err
		}
		done, err := s.purgeBatch(ctx, id, dropState, extraKey, keep, &stats)
		if err != nil || done {
			return stats, err
		}
	}
}

// errKept ends a purge whose blob was extended meanwhile.
var errKept = errors.New("store: blob kept")

func (s *Store) purgeBatch(ctx context.Context, id codec.BlobID, dropState bool, extraKey string, keep func(BlobState, bool) bool, stats *PurgeStats) (bool, error) {
	if err := s.enter(); err != nil {
		return true, err
	}
	defer s.exit()
	defer s.lockBlob(id)()
	st, found, err := s.readState(ctx, id)
	if err != nil && !errors.Is(err, ErrCorrupt) {
		return true, err
	}
	if keep != nil && keep(st, found) {
		return true, errKept
	}
	limit := s.opts.BatchSize
	var dels []string
	d := &delta{}
	slivers := 0
	full := false
	err = s.scan(ctx, indexPrefix(id), "", "", func(k string, v []byte) (bool, error) {
		if len(dels)+2 > limit && len(dels) > 0 {
			full = true
			return false, nil
		}
		dels = append(dels, k)
		n, derr := decodeSize(k, v)
		if derr != nil {
			n = 0
		}
		p, ok := parseIndexKey(k)
		switch {
		case !ok:
		case p.Meta:
			dels = append(dels, metaKey(id))
			d.meta -= n
			d.total -= n
		default:
			dels = append(dels, sliverKey(p.Shard, id, p.Type))
			d.addShard(p.Shard, -n)
			slivers++
		}
		return true, nil
	})
	if err != nil {
		return true, err
	}
	if !full {
		err = s.scan(ctx, pendingPrefix(id), "", "", func(k string, v []byte) (bool, error) {
			if len(dels) >= limit {
				full = true
				return false, nil
			}
			dels = append(dels, k)
			n := payloadLen(len(v))
			d.pendBytes -= n
			d.pendEntries--
			d.total -= n
			return true, nil
		})
		if err != nil {
			return true, err
		}
	}
	done := !full
	if done {
		dels = append(dels, pendingTimeKey(id))
		if dropState {
			dels = append(dels, stateKey(id))
			if found && st.Registered {
				dels = append(dels, expiryKey(st.EndEpoch, id))
			}
			if extraKey != "" {
				dels = append(dels, extraKey)
			}
		}
	}
	if err := s.commit(ctx, nil, dels, d); err != nil {
		return true, err
	}
	stats.Slivers += slivers
	stats.Bytes -= d.total
	return done, nil
}

// Expire deletes everything of blobs whose end epoch is at or below epoch:
// data, index, metadata, pending entries and state. It works in batches of
// at most BatchSize keys and holds no lock between batches, so reads and
// writes of other blobs proceed throughout. It records epoch as current
// first, so no data for an expiring blob is accepted meanwhile. If
// interrupted (ctx, crash) the next call continues where it stopped.
func (s *Store) Expire(ctx context.Context, epoch uint64) (PurgeStats, error) {
	s.SetEpoch(epoch)
	var stats PurgeStats
	end := ""
	if epoch < ^uint64(0) {
		end = pfxExpiry + hex16(epoch+1)
	}
	start := ""
	for {
		type ent struct {
			key string
			id  codec.BlobID
		}
		var batch []ent
		if err := s.enter(); err != nil {
			return stats, err
		}
		err := s.scan(ctx, pfxExpiry, start, end, func(k string, _ []byte) (bool, error) {
			if _, id, ok := parseExpiryKey(k); ok {
				batch = append(batch, ent{k, id})
			} else {
				s.log.Warn("store: malformed expiry key", "key", k)
			}
			start = k + "\x00"
			return len(batch) < s.opts.BatchSize, nil
		})
		s.exit()
		if err != nil {
			return stats, err
		}
		for _, e := range batch {
			st, err := s.purgeBlob(ctx, e.id, true, e.key, func(st BlobState, found bool) bool {
				return found && st.Registered && st.EndEpoch > epoch
			})
			stats.Slivers += st.Slivers
			stats.Bytes += st.Bytes
			if errors.Is(err, errKept) {
				continue
			}
			if err != nil {
				return stats, err
			}
			stats.Blobs++
		}
		if len(batch) < s.opts.BatchSize {
			if stats.Blobs > 0 {
				s.log.Info("store: expired blobs", "epoch", epoch, "blobs", stats.Blobs, "slivers", stats.Slivers, "bytes", stats.Bytes)
			}
			return stats, nil
		}
	}
}

// PrunePending drops buffered entries of blobs whose first pending entry
// arrived before cutoff (their registration never came). It returns the
// number of blobs dropped.
func (s *Store) PrunePending(ctx context.Context, cutoff time.Time) (int, error) {
	var ids []codec.BlobID
	if err := s.enter(); err != nil {
		return 0, err
	}
	err := s.scan(ctx, pfxPendTime, "", "", func(k string, v []byte) (bool, error) {
		id, ok := parseBlobLeaf(k, pfxPendTime)
		if !ok {
			return true, nil
		}
		t, err := decodeTime(k, v)
		if err != nil || t.Before(cutoff) {
			ids = append(ids, id)
		}
		return true, nil
	})
	s.exit()
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		if err := s.DropPending(ctx, id); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// DropPending deletes the buffered entries of one blob.
func (s *Store) DropPending(ctx context.Context, id codec.BlobID) error {
	for {
		done, err := s.dropPendingBatch(ctx, id)
		if err != nil || done {
			return err
		}
	}
}

func (s *Store) dropPendingBatch(ctx context.Context, id codec.BlobID) (bool, error) {
	if err := s.enter(); err != nil {
		return true, err
	}
	defer s.exit()
	defer s.lockBlob(id)()
	var dels []string
	d := &delta{}
	err := s.scan(ctx, pendingPrefix(id), "", "", func(k string, v []byte) (bool, error) {
		dels = append(dels, k)
		n := payloadLen(len(v))
		d.pendBytes -= n
		d.pendEntries--
		d.total -= n
		return len(dels) < s.opts.BatchSize, nil
	})
	if err != nil {
		return true, err
	}
	done := len(dels) < s.opts.BatchSize
	if done {
		dels = append(dels, pendingTimeKey(id))
	}
	return done, s.commit(ctx, nil, dels, d)
}

// EvictPending drops the pending entries of the blobs buffered longest ago,
// other than keep, until need more bytes and one more entry fit in the
// buffer, or nothing else is pending. It returns the blobs dropped. A node
// calls it when the buffer is full, so that stale or forged entries make
// way for an honest early push instead of blocking it.
func (s *Store) EvictPending(ctx context.Context, need int64, keep codec.BlobID) (int, error) {
	type ent struct {
		id codec.BlobID
		t  time.Time
	}
	var ents []ent
	if err := s.enter(); err != nil {
		return 0, err
	}
	err := s.scan(ctx, pfxPendTime, "", "", func(k string, v []byte) (bool, error) {
		id, ok := parseBlobLeaf(k, pfxPendTime)
		if !ok || id == keep {
			return true, nil
		}
		t, _ := decodeTime(k, v) // a corrupt time sorts first: evicted first
		ents = append(ents, ent{id, t})
		return true, nil
	})
	s.exit()
	if err != nil {
		return 0, err
	}
	slices.SortFunc(ents, func(a, b ent) int { return a.t.Compare(b.t) })
	dropped := 0
	for _, e := range ents {
		s.acctMu.Lock()
		fits := s.pendBytes+need <= s.opts.PendingMaxBytes && s.pendEntries < s.opts.PendingMaxEntries
		s.acctMu.Unlock()
		if fits {
			break
		}
		if err := s.DropPending(ctx, e.id); err != nil {
			return dropped, err
		}
		dropped++
	}
	return dropped, nil
}
