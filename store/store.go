package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	pebbleds "github.com/ipfs/go-ds-pebble"

	"floe/codec"
)

// Options configure a Store. The zero value of every field but Path (or
// Datastore) is a sensible default.
type Options struct {
	// Path is the directory of the on-disk (pebble) datastore. Ignored when
	// Datastore is set.
	Path string
	// Datastore, when non-nil, is used instead of opening pebble at Path,
	// for example dssync.MutexWrap(ds.NewMapDatastore()) in tests. The Store
	// takes ownership and closes it. Batches of a datastore other than
	// pebble may not be atomic across a crash.
	Datastore ds.Batching
	// SpaceLimit caps the payload bytes held (slivers, metadata and the
	// pending buffer). Writes that would pass it fail with ErrNoSpace.
	// 0 means no limit.
	SpaceLimit int64
	// MinFreeDisk makes growing writes fail with ErrNoSpace when the file
	// system holding Path would have fewer free bytes than this (checked
	// with statfs at most every second or 64 MiB written, so pebble keeps
	// room for compactions and its WAL). Default 256 MiB; negative
	// disables. Only for the pebble backend at Path.
	MinFreeDisk int64
	// PendingMaxBytes and PendingMaxEntries cap the buffer for metadata and
	// slivers of blobs whose registration has not been seen. Defaults:
	// 256 MiB and 65536 entries.
	PendingMaxBytes   int64
	PendingMaxEntries int
	// BatchSize bounds the keys deleted per committed batch by expiry,
	// deletion and shard drops (default 1024).
	BatchSize int
	// NoSync disables fsync on commit (pebble only). Faster, but a machine
	// crash may lose recent writes; a process crash loses nothing.
	NoSync bool
	// CacheSize is pebble's block cache in bytes (default 64 MiB).
	CacheSize int64
	// MemTableSize is pebble's memtable in bytes (default 64 MiB: slivers
	// are large values, and a bigger memtable means fewer flushes). Pebble
	// preallocates up to four write-ahead logs of 1.1 × this on disk, so a
	// small node (a devnet's) wants less.
	MemTableSize int64
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.PendingMaxBytes <= 0 {
		o.PendingMaxBytes = 256 << 20
	}
	if o.PendingMaxEntries <= 0 {
		o.PendingMaxEntries = 1 << 16
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 1024
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.CacheSize <= 0 {
		o.CacheSize = 64 << 20
	}
	if o.MemTableSize <= 0 {
		o.MemTableSize = 64 << 20
	}
	if o.MinFreeDisk == 0 {
		o.MinFreeDisk = 256 << 20
	}
}

// Store is a storage node's durable state. It is safe for concurrent use.
type Store struct {
	ds   ds.Batching
	pdb  *pebble.DB // set when the backend is go-ds-pebble: native range scans
	opts Options
	log  *slog.Logger

	// closeMu: operations hold it for reading; Close takes it for writing.
	closeMu sync.RWMutex
	closed  bool

	// stripes serialise the read-check-write sequences of one blob (blob
	// IDs are hashes, so the first byte spreads them evenly). Reads take no
	// lock.
	stripes [256]sync.Mutex

	// acctMu guards the space counters below. They are recomputed from the
	// index and pending entries on Open, never persisted.
	acctMu      sync.Mutex
	total       int64 // committed + reserved payload bytes (slivers, metadata, pending)
	perShard    map[int]int64
	metaBytes   int64
	pendBytes   int64
	pendEntries int
	// Disk-free estimate (guarded by acctMu): free bytes at the last statfs
	// and bytes reserved since.
	diskChecked time.Time
	diskFree    int64
	diskSince   int64

	epoch atomic.Uint64 // highest epoch passed to Expire or SetEpoch

	shardsMu sync.RWMutex
	shards   []int
}

// Open opens (creating if needed) the store described by opts and recomputes
// its space counters.
func Open(ctx context.Context, opts Options) (*Store, error) {
	opts.setDefaults()
	s := &Store{opts: opts, log: opts.Logger, perShard: map[int]int64{}}
	if opts.Datastore != nil {
		s.ds = opts.Datastore
		if p, ok := opts.Datastore.(*pebbleds.Datastore); ok {
			s.pdb = p.DB
		}
	} else {
		if opts.Path == "" {
			return nil, fmt.Errorf("%w: Options.Path or Options.Datastore is required", ErrInvalidArgument)
		}
		wo := pebble.Sync
		if opts.NoSync {
			wo = pebble.NoSync
		}
		pds, err := pebbleds.NewDatastore(opts.Path,
			pebbleds.WithPebbleWriteOptions(wo),
			pebbleds.WithCacheSize(opts.CacheSize),
			pebbleds.WithPebbleOpts(s.pebbleOptions()))
		if err != nil {
			return nil, fmt.Errorf("store: open %s: %w", opts.Path, err)
		}
		s.ds, s.pdb = pds, pds.DB
	}
	if err := s.load(ctx); err != nil {
		_ = s.ds.Close()
		return nil, err
	}
	return s, nil
}

// pebbleOptions: pebble's default reaction to on-disk corruption is to
// call Logger.Fatalf (exit the process). A storage node should instead fail
// the read with an error, log it, and re-fetch the data, so corruption only
// logs here; the read that hit it returns pebble's corruption error.
func (s *Store) pebbleOptions() *pebble.Options {
	log := s.log
	o := &pebble.Options{
		MemTableSize: uint64(s.opts.MemTableSize),
		Logger:       quietLogger{log},
		EventListener: &pebble.EventListener{
			DataCorruption: func(info pebble.DataCorruptionInfo) {
				log.Error("store: pebble found on-disk corruption", "file", info.Path, "err", info.Details)
			},
			BackgroundError: func(err error) {
				log.Error("store: pebble background error", "err", err)
			},
		},
	}
	// Erasure-coded slivers do not compress; trying costs CPU on every
	// flush and compaction.
	o.ApplyCompressionSettings(func() pebble.DBCompressionSettings { return pebble.DBCompressionNone })
	// Value separation: a flush writes slivers (and metadata) into blob
	// files that compactions then reference instead of rewriting, so a
	// sliver is written about twice (the WAL, its blob file) rather than once
	// more per level it sinks through. On a 7-node devnet's 64 MiB store,
	// compactions were a sixth of all CPU. Blob files in which a fifth of the
	// values are deleted (expired blobs, dropped shards) are rewritten to
	// give the space back. It needs the newest format, to which Open moves
	// an older store once, and columnar blocks.
	o.FormatMajorVersion = pebble.FormatValueSeparation
	o.Experimental.EnableColumnarBlocks = func() bool { return true }
	o.Experimental.ValueSeparationPolicy = func() pebble.ValueSeparationPolicy {
		return pebble.ValueSeparationPolicy{
			Enabled:               true,
			MinimumSize:           separateValuesFrom,
			MaxBlobReferenceDepth: 10,
			RewriteMinimumAge:     time.Minute,
			TargetGarbageRatio:    0.2,
		}
	}
	return o
}

// separateValuesFrom is the smallest value kept in a blob file rather than
// in the LSM's tables: slivers and metadata are larger, states, index
// entries and markers smaller.
const separateValuesFrom = 1 << 10

// Reclaim compacts the whole store, so the space of deleted slivers (expired
// blobs, dropped shards) goes back to the file system now rather than when
// pebble's own heuristics get to it. It costs about a rewrite of what is
// left; the node calls it after large deletions. A no-op for backends other
// than pebble.
func (s *Store) Reclaim(ctx context.Context) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.exit()
	if s.pdb == nil {
		return nil
	}
	if err := s.pdb.Compact(ctx, []byte{0}, []byte{0xff}, false); err != nil {
		return fmt.Errorf("store: reclaiming space: %w", err)
	}
	return nil
}

// quietLogger sends pebble's informational logs to slog at debug level.
type quietLogger struct{ l *slog.Logger }

func (q quietLogger) Infof(format string, args ...any) {
	q.l.Debug("pebble: " + fmt.Sprintf(format, args...))
}
func (q quietLogger) Errorf(format string, args ...any) {
	q.l.Error("pebble: " + fmt.Sprintf(format, args...))
}
func (q quietLogger) Fatalf(format string, args ...any) {
	// pebble expects Fatalf not to return.
	panic(fmt.Sprintf("pebble: "+format, args...))
}

// load reads the held shards and recomputes the counters.
func (s *Store) load(ctx context.Context) error {
	v, err := s.ds.Get(ctx, ds.RawKey(keyShards))
	switch {
	case errors.Is(err, ds.ErrNotFound):
	case err != nil:
		return fmt.Errorf("store: read shard list: %w", err)
	default:
		if s.shards, err = decodeShards(keyShards, v); err != nil {
			return err
		}
	}
	err = s.scan(ctx, pfxIndex, "", "", func(k string, v []byte) (bool, error) {
		p, ok := parseIndexKey(k)
		if !ok {
			s.log.Warn("store: ignoring malformed index key", "key", k)
			return true, nil
		}
		n, err := decodeSize(k, v)
		if err != nil {
			s.log.Warn("store: ignoring bad index entry", "key", k, "err", err)
			return true, nil
		}
		s.total += n
		if p.Meta {
			s.metaBytes += n
		} else {
			s.perShard[p.Shard] += n
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("store: recount index: %w", err)
	}
	err = s.scan(ctx, pfxPending, "", "", func(k string, v []byte) (bool, error) {
		n := payloadLen(len(v))
		s.total += n
		s.pendBytes += n
		s.pendEntries++
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("store: recount pending: %w", err)
	}
	return nil
}

// Close flushes everything to disk and closes the datastore. Operations
// in flight finish first; later ones fail with ErrClosed.
func (s *Store) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.ds.Sync(context.Background(), ds.RawKey("/"))
	return errors.Join(err, s.ds.Close())
}

// enter marks an operation in flight; it fails once the store is closed.
func (s *Store) enter() error {
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return ErrClosed
	}
	return nil
}

func (s *Store) exit() { s.closeMu.RUnlock() }

func (s *Store) lockBlob(id codec.BlobID) func() {
	m := &s.stripes[id[0]]
	m.Lock()
	return m.Unlock
}

// Usage is a snapshot of the space counters (payload bytes, excluding keys,
// checksums and the backend's own overhead).
type Usage struct {
	Total          int64
	PerShard       map[int]int64
	Metadata       int64
	PendingBytes   int64
	PendingEntries int
	Limit          int64 // 0: none
	// Disk is what the datastore occupies on disk (pebble's files,
	// including its logs and not yet compacted deletions); 0 for other
	// backends.
	Disk int64
}

// Usage returns the current space counters.
func (s *Store) Usage() Usage {
	var disk int64
	if s.pdb != nil {
		disk = int64(s.pdb.Metrics().DiskSpaceUsage())
	}
	s.acctMu.Lock()
	defer s.acctMu.Unlock()
	u := Usage{Total: s.total, PerShard: maps.Clone(s.perShard), Metadata: s.metaBytes,
		PendingBytes: s.pendBytes, PendingEntries: s.pendEntries, Limit: s.opts.SpaceLimit}
	u.Disk = disk
	for k, v := range u.PerShard {
		if v == 0 {
			delete(u.PerShard, k)
		}
	}
	return u
}

// delta is a change to the counters.
type delta struct {
	total, meta, pendBytes int64
	pendEntries            int
	shard                  map[int]int64
}

func (d *delta) addShard(shard int, n int64) {
	if d.shard == nil {
		d.shard = map[int]int64{}
	}
	d.shard[shard] += n
	d.total += n
}

// reserve applies the growth in d (total and pending) after checking the
// limits, so that concurrent writers can never overshoot them together.
// Call settle with the same delta after the commit, whatever its outcome.
func (s *Store) reserve(d *delta) error {
	s.acctMu.Lock()
	defer s.acctMu.Unlock()
	if d.total > 0 && s.opts.SpaceLimit > 0 && s.total+d.total > s.opts.SpaceLimit {
		return fmt.Errorf("%w: %d + %d bytes > limit %d", ErrNoSpace, s.total, d.total, s.opts.SpaceLimit)
	}
	if d.pendBytes > 0 && s.pendBytes+d.pendBytes > s.opts.PendingMaxBytes {
		return fmt.Errorf("%w: %d + %d bytes > %d", ErrPendingFull, s.pendBytes, d.pendBytes, s.opts.PendingMaxBytes)
	}
	if d.pendEntries > 0 && s.pendEntries+d.pendEntries > s.opts.PendingMaxEntries {
		return fmt.Errorf("%w: %d entries", ErrPendingFull, s.pendEntries)
	}
	if d.total > 0 && s.opts.MinFreeDisk > 0 && s.opts.Datastore == nil {
		if now := time.Now(); now.Sub(s.diskChecked) > time.Second || s.diskSince > 64<<20 {
			if free, ok := diskFree(s.opts.Path); ok {
				s.diskFree, s.diskSince, s.diskChecked = free, 0, now
			}
		}
		if !s.diskChecked.IsZero() && s.diskFree-s.diskSince-d.total < s.opts.MinFreeDisk {
			return fmt.Errorf("%w: about %d bytes free on disk, keeping %d", ErrNoSpace, s.diskFree-s.diskSince, s.opts.MinFreeDisk)
		}
		s.diskSince += d.total
	}
	if d.total > 0 {
		s.total += d.total
	}
	if d.pendBytes > 0 {
		s.pendBytes += d.pendBytes
	}
	if d.pendEntries > 0 {
		s.pendEntries += d.pendEntries
	}
	return nil
}

// settle completes a reservation: on success it applies the rest of d
// (shrinkage and per-shard figures); on failure it returns the reserved
// growth.
func (s *Store) settle(d *delta, ok bool) {
	s.acctMu.Lock()
	defer s.acctMu.Unlock()
	if !ok {
		if d.total > 0 {
			s.total -= d.total
		}
		if d.pendBytes > 0 {
			s.pendBytes -= d.pendBytes
		}
		if d.pendEntries > 0 {
			s.pendEntries -= d.pendEntries
		}
		return
	}
	if d.total < 0 {
		s.total += d.total
	}
	if d.pendBytes < 0 {
		s.pendBytes += d.pendBytes
	}
	if d.pendEntries < 0 {
		s.pendEntries += d.pendEntries
	}
	s.metaBytes += d.meta
	for sh, n := range d.shard {
		s.perShard[sh] += n
		if s.perShard[sh] == 0 {
			delete(s.perShard, sh)
		}
	}
}

// commit writes a batch of puts and deletes atomically, updating the
// counters by d (which may be nil).
func (s *Store) commit(ctx context.Context, puts putSet, dels []string, d *delta) error {
	if d == nil {
		d = &delta{}
	}
	if err := s.reserve(d); err != nil {
		return err
	}
	err := s.writeBatch(ctx, puts, dels)
	s.settle(d, err == nil)
	return err
}

func (s *Store) writeBatch(ctx context.Context, puts putSet, dels []string) error {
	if s.pdb != nil {
		return s.writePebbleBatch(puts, dels)
	}
	b, err := s.ds.Batch(ctx)
	if err != nil {
		return fmt.Errorf("store: batch: %w", err)
	}
	for _, k := range dels {
		if err := b.Delete(ctx, ds.RawKey(k)); err != nil {
			return fmt.Errorf("store: batch delete: %w", err)
		}
	}
	// Deterministic order: easier to reason about, cheap.
	for _, k := range slices.Sorted(maps.Keys(puts)) {
		v := puts[k].b
		if puts[k].seal {
			v = sealValue(v)
		}
		if err := b.Put(ctx, ds.RawKey(k), v); err != nil {
			return fmt.Errorf("store: batch put: %w", err)
		}
	}
	if err := b.Commit(ctx); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// writePebbleBatch writes the batch straight to pebble, with the keys
// go-ds-pebble would use (a datastore key's bytes are its string). The
// batch is sized up front and each sealed payload is copied once, into
// the batch, with its checksum written in front: through the datastore
// a sliver was copied three times (sealing, Batch.Set, and each time the
// batch grew), the largest CPU cost of a node's write path after the
// LSM's own writes.
func (s *Store) writePebbleBatch(puts putSet, dels []string) error {
	size := 0
	for _, k := range dels {
		size += len(k) + 2*binary.MaxVarintLen32 + 1
	}
	for k, v := range puts {
		n := len(v.b)
		if v.seal {
			n += headerLen
		}
		size += len(k) + n + 2*binary.MaxVarintLen32 + 1
	}
	b := s.pdb.NewBatchWithSize(size)
	defer b.Close()
	for _, k := range dels {
		if err := b.Delete([]byte(k), nil); err != nil {
			return fmt.Errorf("store: batch delete: %w", err)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(puts)) {
		v := puts[k]
		if !v.seal {
			if err := b.Set([]byte(k), v.b, nil); err != nil {
				return fmt.Errorf("store: batch put: %w", err)
			}
			continue
		}
		op := b.SetDeferred(len(k), headerLen+len(v.b))
		copy(op.Key, k)
		sealInto(op.Value, v.b)
		if err := op.Finish(); err != nil {
			return fmt.Errorf("store: batch put: %w", err)
		}
	}
	wo := pebble.Sync
	if s.opts.NoSync {
		wo = pebble.NoSync
	}
	if err := b.Commit(wo); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// get reads a raw value; a missing key is ErrNotFound.
func (s *Store) get(ctx context.Context, key string) ([]byte, error) {
	v, err := s.ds.Get(ctx, ds.RawKey(key))
	if errors.Is(err, ds.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get %s: %w", key, err)
	}
	return v, nil
}

func (s *Store) has(ctx context.Context, key string) (bool, error) {
	ok, err := s.ds.Has(ctx, ds.RawKey(key))
	if err != nil {
		return false, fmt.Errorf("store: has %s: %w", key, err)
	}
	return ok, nil
}

// scan calls fn for every key under prefix (a key prefix ending without
// "/", e.g. "/s/0001", or with it, e.g. "/x/") in key order, from start
// (inclusive, "" = the beginning) to end (exclusive, "" = the end). The
// value passed to fn is only valid during the call. fn returns false to
// stop.
func (s *Store) scan(ctx context.Context, prefix, start, end string, fn func(k string, v []byte) (bool, error)) error {
	dir := prefix
	if len(dir) > 1 && dir[len(dir)-1] == '/' {
		dir = dir[:len(dir)-1]
	}
	lower := dir + "/"
	if start > lower {
		lower = start
	}
	upper := dir + "0" // '0' is the byte after '/'
	if end != "" && end < upper {
		upper = end
	}
	if s.pdb != nil {
		it, err := s.pdb.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: []byte(lower), UpperBound: []byte(upper)})
		if err != nil {
			return fmt.Errorf("store: iterate %s: %w", dir, err)
		}
		for it.First(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				_ = it.Close()
				return err
			}
			v, err := it.ValueAndErr()
			if err != nil {
				_ = it.Close()
				return fmt.Errorf("store: iterate %s: %w", dir, err)
			}
			more, err := fn(string(it.Key()), v)
			if err != nil || !more {
				_ = it.Close()
				return err
			}
		}
		if err := it.Error(); err != nil {
			_ = it.Close()
			return fmt.Errorf("store: iterate %s: %w", dir, err)
		}
		return it.Close()
	}
	// Generic datastores: a prefix query in key order, skipping to start.
	res, err := s.ds.Query(ctx, query.Query{Prefix: dir, Orders: []query.Order{query.OrderByKey{}}})
	if err != nil {
		return fmt.Errorf("store: query %s: %w", dir, err)
	}
	defer res.Close()
	for {
		r, ok := res.NextSync()
		if !ok {
			return nil
		}
		if r.Error != nil {
			return fmt.Errorf("store: query %s: %w", dir, r.Error)
		}
		if r.Key < lower {
			continue
		}
		if r.Key >= upper {
			return nil
		}
		more, err := fn(r.Key, r.Value)
		if err != nil || !more {
			return err
		}
	}
}

// SetEpoch records the current epoch: blobs whose end epoch is at or below
// it stop accepting data. Expire also sets it. The epoch never goes back.
func (s *Store) SetEpoch(epoch uint64) {
	for {
		cur := s.epoch.Load()
		if epoch <= cur || s.epoch.CompareAndSwap(cur, epoch) {
			return
		}
	}
}

// Epoch returns the highest epoch seen by SetEpoch or Expire.
func (s *Store) Epoch() uint64 { return s.epoch.Load() }

// SetShards records the shards this node holds (persisted). It is what
// MissingSlivers checks against; it does not move or delete data (see
// DropShard).
func (s *Store) SetShards(ctx context.Context, shards []int) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.exit()
	sorted := slices.Clone(shards)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	for _, sh := range sorted {
		if sh < 0 || sh > maxShard {
			return fmt.Errorf("%w: shard %d", ErrInvalidArgument, sh)
		}
	}
	s.shardsMu.Lock()
	defer s.shardsMu.Unlock()
	if err := s.commit(ctx, putSet{keyShards: raw(encodeShards(sorted))}, nil, nil); err != nil {
		return err
	}
	s.shards = sorted
	return nil
}

// Shards returns the held shards, ascending.
func (s *Store) Shards() []int {
	s.shardsMu.RLock()
	defer s.shardsMu.RUnlock()
	return slices.Clone(s.shards)
}

// DiskFree returns the free bytes of the file system holding the store, 0
// when unknown (not pebble, or no statfs).
func (s *Store) DiskFree() int64 {
	if s.opts.Path == "" || s.pdb == nil {
		return 0
	}
	n, _ := diskFree(s.opts.Path)
	return n
}
