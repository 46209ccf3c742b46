package store

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"floe/codec"
)

func TestSyncSliversAndShardGaps(t *testing.T) {
	ctx := context.Background()
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			s := be.open(t, t.TempDir(), Options{})
			params := codec.Params{NShards: testN}
			const shard = 3
			var ids, certified []codec.BlobID
			for i := range 30 {
				id := blob(i)
				register(t, s, id, 100)
				pair := params.PairOfShard(id, shard)
				var sl []Sliver
				// Every third blob lacks its secondary sliver, every fifth both.
				if i%5 != 0 {
					sl = append(sl, Sliver{pair, codec.Primary, payload(id.String()+"p", 100+i)})
					if i%3 != 0 {
						sl = append(sl, Sliver{pair, codec.Secondary, payload(id.String()+"s", 50)})
					}
				}
				if len(sl) > 0 {
					if err := s.PutSlivers(ctx, id, sl); err != nil {
						t.Fatal(err)
					}
				}
				if i%2 == 0 {
					if err := s.Certify(ctx, id, 1); err != nil {
						t.Fatal(err)
					}
					certified = append(certified, id)
				}
				ids = append(ids, id)
			}
			cmp := func(a, b codec.BlobID) int { return bytes.Compare(a[:], b[:]) }
			slices.SortFunc(certified, cmp)
			keep := func(st BlobState) bool { return st.Certified }

			// Walk the certified primaries in small byte-bounded batches.
			var got []codec.BlobID
			var cur codec.BlobID
			for calls := 0; ; calls++ {
				if calls > 100 {
					t.Fatal("sync scan does not end")
				}
				b, err := s.SyncSlivers(ctx, shard, codec.Primary, cur, 4, 250, keep)
				if err != nil {
					t.Fatal(err)
				}
				total := 0
				for _, ss := range b.Slivers {
					if ss.Err != nil || ss.Type != codec.Primary || ss.Pair != params.PairOfShard(ss.Blob, shard) {
						t.Fatalf("sliver %+v", ss)
					}
					if !bytes.Equal(ss.Data, payload(ss.Blob.String()+"p", len(ss.Data))) {
						t.Fatal("wrong data")
					}
					total += len(ss.Data)
					got = append(got, ss.Blob)
				}
				if len(b.Slivers) > 4 || (len(b.Slivers) > 1 && total > 250) {
					t.Fatalf("batch of %d slivers, %d bytes", len(b.Slivers), total)
				}
				if b.Done {
					break
				}
				cur = b.Next
			}
			var want []codec.BlobID
			for _, id := range certified {
				if i := slices.Index(ids, id); i%5 != 0 {
					want = append(want, id)
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("synced %d blobs, want %d", len(got), len(want))
			}

			// The gaps of the certified blobs on the shard.
			var gaps []ShardGap
			checked := 0
			cur = codec.BlobID{}
			for calls := 0; ; calls++ {
				if calls > 100 {
					t.Fatal("gap scan does not end")
				}
				b, err := s.ShardGaps(ctx, shard, cur, 7, func(_ codec.BlobID, st BlobState) bool { return st.Certified })
				if err != nil {
					t.Fatal(err)
				}
				gaps = append(gaps, b.Gaps...)
				checked += b.Checked
				if b.Done {
					break
				}
				cur = b.Next
			}
			if checked != len(certified) {
				t.Fatalf("checked %d of %d certified blobs", checked, len(certified))
			}
			wantGaps := 0
			for _, id := range certified {
				i := slices.Index(ids, id)
				if i%5 == 0 || i%3 == 0 {
					wantGaps++
				}
			}
			if len(gaps) != wantGaps {
				t.Fatalf("%d gaps, want %d", len(gaps), wantGaps)
			}
			for _, g := range gaps {
				i := slices.Index(ids, g.Blob)
				if g.Primary != (i%5 == 0) || g.Second != (i%5 == 0 || i%3 == 0) || g.Pair != params.PairOfShard(g.Blob, shard) {
					t.Fatalf("gap %+v of blob %d", g, i)
				}
			}
			if _, err := s.SyncSlivers(ctx, shard, codec.Primary, cur, 0, 1, keep); err == nil {
				t.Fatal("zero batch accepted")
			}
		})
	}
}

// Space of expired slivers goes back to the disk once Reclaim compacts.
func TestReclaimAfterExpiry(t *testing.T) {
	ctx := context.Background()
	s := diskBackend().open(t, t.TempDir(), Options{MemTableSize: 4 << 20})
	params := codec.Params{NShards: testN}
	for i := range 40 {
		id := blob(i)
		register(t, s, id, 3)
		pair := params.PairOfShard(id, 1)
		if err := s.PutSlivers(ctx, id, []Sliver{{pair, codec.Primary, payload(id.String(), 512<<10)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Reclaim(ctx); err != nil {
		t.Fatal(err)
	}
	full := s.Usage()
	if full.Total < 20<<20 || full.Disk < full.Total {
		t.Fatalf("usage before expiry %+v", full)
	}
	if ps, err := s.Expire(ctx, 3); err != nil || ps.Blobs != 40 {
		t.Fatalf("expire: %+v %v", ps, err)
	}
	if err := s.Reclaim(ctx); err != nil {
		t.Fatal(err)
	}
	// Obsolete files are deleted in the background.
	after := s.Usage()
	for deadline := time.Now().Add(10 * time.Second); after.Disk > full.Disk/2 && time.Now().Before(deadline); after = s.Usage() {
		time.Sleep(50 * time.Millisecond)
	}
	if after.Total != 0 || after.Disk > full.Disk/2 {
		t.Fatalf("after expiry and reclaim: payload %d, disk %d (was %d)", after.Total, after.Disk, full.Disk)
	}
	t.Logf("disk %d bytes with %d of payload; %d after expiry and reclaim", full.Disk, full.Total, after.Disk)
}

// A full pending buffer makes way, oldest first, for a new blob's entries.
func TestEvictPending(t *testing.T) {
	ctx := context.Background()
	s := memBackend().open(t, "", Options{PendingMaxBytes: 10_000, PendingMaxEntries: 100})
	for i := range 5 {
		if err := s.PutMetadata(ctx, blob(i), payload("m", 2000)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := s.PutMetadata(ctx, blob(9), payload("m", 3000)); !errors.Is(err, ErrPendingFull) {
		t.Fatalf("full buffer: %v", err)
	}
	n, err := s.EvictPending(ctx, 3000, blob(9))
	if err != nil || n != 2 {
		t.Fatalf("evicted %d: %v, want the 2 oldest", n, err)
	}
	if err := s.PutMetadata(ctx, blob(9), payload("m", 3000)); err != nil {
		t.Fatalf("after eviction: %v", err)
	}
	// The oldest two are gone: registering them finds no metadata.
	register(t, s, blob(0), 10)
	register(t, s, blob(4), 10)
	if _, err := s.GetMetadata(ctx, blob(0)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("oldest entry kept: %v", err)
	}
	if _, err := s.GetMetadata(ctx, blob(4)); err != nil {
		t.Fatalf("newest entry evicted: %v", err)
	}
	checkCounters(t, s)
}
