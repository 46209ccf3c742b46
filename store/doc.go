// Package store is a storage node's durable state on go-datastore: blob
// metadata, slivers by shard, per-blob state fed from chain events, a
// bounded buffer for data that arrives before a blob's registration, space
// accounting, integrity checking and expiry.
//
// # Backend
//
// Open uses go-ds-pebble at Options.Path (synchronous commits: a write that
// returned survives a process or machine crash). Any ds.Batching can be
// passed instead in Options.Datastore; tests use
// dssync.MutexWrap(ds.NewMapDatastore()). With pebble, range scans use a
// native pebble iterator (a seek to the cursor) instead of a go-datastore
// prefix query, which cannot start at a cursor and hides iterator errors;
// other backends go through ds.Query. Pebble's default reaction to on-disk
// corruption (log.Fatalf, i.e. exit) is replaced by logging: the read that
// met it fails with an error instead.
//
// With pebble, values of 1 KiB and more (slivers, metadata) are separated
// into blob files at flush (pebble's value separation, format
// FormatValueSeparation, to which Open moves an older store once):
// compactions move only keys and references, so a sliver is written twice
// (the WAL, its blob file) instead of once more per level. Blob files with
// a fifth of their values deleted are rewritten after a minute. A commit
// goes straight to a presized pebble batch, each payload sealed in place.
//
// # Key layout
//
// Keys are go-datastore keys (strings). <blob> is the blob ID as 64
// lowercase hex digits, so string order is blob-ID order; <shard> and <pair>
// are 4 lowercase hex digits (0000-fffe); <t> is "p" (primary) or "s"
// (secondary); <epoch> is 16 hex digits.
//
//	/m/<blob>                   metadata (opaque bytes, BCS)           sealed
//	/s/<shard>/<blob>/<t>       sliver of type t of the pair that      sealed
//	                            blob maps to <shard>
//	/x/<blob>/<shard>/<t>       index entry of that sliver: its size   8-byte LE size
//	/x/<blob>/meta              index entry of the metadata            8-byte LE size
//	/b/<blob>                   blob state (below)                     sealed
//	/e/<epoch>/<blob>           expiry index: blob ends at <epoch>     empty
//	/q/<blob>/meta              pending metadata (blob not registered) sealed
//	/q/<blob>/<pair>/<t>        pending sliver, by pair index          sealed
//	/qt/<blob>                  first arrival time of pending data     sealed u64 unix ns
//	/c/shards                   the shards this node holds             sealed u16 count, u16 each
//
// "sealed" values are multihash(xxh-64, payload) ‖ payload (12-byte
// header: 0xe2 0xe7 0x02 0x08, then the digest big endian); values written
// before 2026-12-02 carry multihash(sha2-256, payload) (34-byte header
// 0x12 0x20 digest) and are still read. Every read recomputes the digest; a mismatch,
// a short value or an unexpected hash code is an error wrapping ErrCorrupt
// (a *CorruptError naming the key), never data. The node reacts by
// re-fetching and storing the value again, which overwrites it.
//
// The blob state payload (52 bytes): version (1) | flags (1: registered,
// certified, deletable, invalid, deleted) | n (u16 LE) | end epoch (u64 LE) |
// certified epoch (u64 LE) | object ID (32).
//
// Slivers are keyed by shard first, so "the slivers of shard s in blob-ID
// order from a cursor" (ScanShard: migration, recovery) is one range scan.
// The /x/<blob>/ entries make "everything of blob B" (expiry, deletion,
// MissingSlivers) a range scan too. A sliver and its index entry are always
// written and deleted in the same atomic batch, so after a crash either
// both exist or neither. n is recorded per blob at registration
// (Registration.NShards) and maps pair p to shard (p + rot(B)) mod n.
//
// # Chain events and the pending buffer
//
// Register, Certify, MarkInvalid and MarkDeleted record chain events.
// Metadata and slivers of a blob whose registration has not been seen go to
// the pending buffer (/q/), capped by Options.PendingMaxBytes and
// PendingMaxEntries (ErrPendingFull past them); they are invisible to reads
// and move into place in the same atomic batch that records the
// registration. PrunePending drops buffers whose registration never came.
// Invalid and deleted blobs have their data deleted and keep a tombstone
// state, so later data for them is refused (ErrBlobGone).
//
// # Expiry
//
// Expire(epoch) deletes everything of blobs whose end epoch is at or below
// epoch, walking /e/ in epoch order. Each committed batch deletes at most
// Options.BatchSize keys and holds only the one blob's lock (a stripe of
// 256), so reads, which take no lock, and writes of other blobs proceed.
// The expiry entry and state go in the blob's last batch, so an interrupted
// run is resumed by the next one. A registration that extends the end epoch
// moves the expiry entry atomically.
//
// # Space accounting
//
// Usage reports payload bytes (without keys, checksums or pebble overhead)
// per shard, for metadata, for the pending buffer and in total. The
// counters live in memory and are recomputed on Open from the index
// entries (/x/, which carry sizes) and the pending values; they are never
// persisted, so they cannot disagree with the data after a crash. Writes
// reserve their growth before committing: past Options.SpaceLimit they fail
// with ErrNoSpace, as they do when the disk would have less than
// Options.MinFreeDisk free. Usage.Disk is what pebble occupies on disk, its
// logs included: up to four write-ahead logs preallocated at 1.1 ×
// Options.MemTableSize. Deleted slivers give their space back when pebble
// compacts them away; Reclaim compacts now (the node calls it after large
// expiries and shard drops).
//
// # Concurrency
//
// A Store is safe for concurrent use. Writes to one blob are serialised by
// a striped lock; reads take no lock. Close waits for operations in
// flight, syncs and closes the datastore; later calls fail with ErrClosed.
//
// # Crash safety and corruption
//
// TestCrash re-executes the test binary as a child that writes slivers and
// prints each one after PutSliver returns; the parent SIGKILLs it at random
// moments 24 times, reopens, and checks every reported sliver is intact,
// nothing partial exists and data and index agree (Check). The corruption
// tests flip bytes in pebble's files after Close and in stored values:
// reads return ErrCorrupt, a pebble corruption error or ErrNotFound, never
// wrong bytes. Known limit: pebble treats a corrupt WAL record as a torn
// tail and drops it and later records, so writes since the last memtable
// flush can vanish (never turn into wrong data); Close flushes.
//
// # Benchmarks
//
// Pebble in a temporary directory, synced commits, 2 shared cores under
// heavy load from other jobs (load average ~15), so noisy; medians of 3 runs:
//
//	go test ./store/ -run '^$' -bench 'PutSliver$|GetSliver' -benchtime 200x -count 3
//	PutSliver (synced, one writer)   4 KiB: 152 µs/op   25.6 MB/s
//	                                64 KiB: 465 µs/op    141 MB/s
//	                                 1 MiB: 5.2 ms/op    201 MB/s
//	GetSliver (64 MiB working set)   4 KiB:  28 µs/op    147 MB/s
//	                                64 KiB: 206 µs/op    318 MB/s
//	                                 1 MiB: 1.60 ms/op   655 MB/s
//	rerun of GetSliver at 02:11 UTC (64 MiB cache default), medians:
//	4 KiB 36 µs/op (115 MB/s), 64 KiB 181 µs/op (362 MB/s), 1 MiB 1.62 ms/op (649 MB/s)
//
//	go test ./store/ -run '^$' -bench PutSliverParallel -benchtime 400x -count 3
//	PutSliver, 8 writers (pebble group commit)
//	                4 KiB: 32.9 MB/s; 64 KiB: 187 MB/s; 1 MiB: 261 MB/s
//
//	go test ./store/ -run '^$' -bench Expire100k -benchtime 1x -count 3
//	Expire of 100 000 slivers (50 blobs, n=1000, 256 B): 0.32 s (~310k slivers/s)
//
//	go test ./store/ -run '^$' -bench GetDuringExpire -benchtime 20000x -count 3
//	GetSliver of a live blob while that expiry runs: 21 µs/op (median)
//
//	go test ./store/ -run '^$' -bench PutSliversBatch -benchtime 200x
//	one put-slivers batch of a 64 MiB blob at n = 1000 (32 pairs, 9.6 MB per
//	commit), blob after blob (2026-12-02, old and new interleaved, load 2–5):
//	user+sys CPU of the run 12.4 s before value separation and the presized
//	batch, 7.9 s after (sys 7.0 → 3.9 s: fewer bytes written); 134–144 →
//	189–218 MB/s
//
// Reads spent a noticeable share in the sha2-256 check (1.2 GB/s here:
// 3.4 µs per 4 KiB, 0.84 ms per 1 MiB), and a 7-node devnet's 64 MiB
// store 6% of all its CPU. It guards against the disk, not against an
// adversary (slivers are verified against their metadata before they are
// stored and by every reader), so values are now sealed with xxh-64; the
// header is a multihash, so old values are told apart. The default
// 64 MiB block cache took 4 KiB gets from ~127 µs to ~22 µs against
// pebble's 8 MiB default.
package store
