package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/multiformats/go-multicodec"
	"github.com/multiformats/go-multihash"

	"floe/codec"
)

const testN = 10

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func blob(i int) codec.BlobID {
	return sha256.Sum256(binary.LittleEndian.AppendUint64([]byte("blob"), uint64(i)))
}

func payload(seed string, n int) []byte {
	out := make([]byte, 0, n+32)
	h := sha256.Sum256([]byte(seed))
	for len(out) < n {
		out = append(out, h[:]...)
		h = sha256.Sum256(h[:])
	}
	return out[:n]
}

type backend struct {
	name string
	open func(t testing.TB, dir string, o Options) *Store
}

func memBackend() backend {
	return backend{"mem", func(t testing.TB, _ string, o Options) *Store {
		t.Helper()
		o.Datastore = dssync.MutexWrap(ds.NewMapDatastore())
		return mustOpen(t, o)
	}}
}

func diskBackend() backend {
	return backend{"pebble", func(t testing.TB, dir string, o Options) *Store {
		t.Helper()
		o.Path = dir
		return mustOpen(t, o)
	}}
}

func backends() []backend { return []backend{memBackend(), diskBackend()} }

func mustOpen(t testing.TB, o Options) *Store {
	t.Helper()
	if o.Logger == nil {
		o.Logger = quiet()
	}
	s, err := Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func register(t testing.TB, s *Store, id codec.BlobID, end uint64) {
	t.Helper()
	if err := s.Register(context.Background(), id, Registration{NShards: testN, EndEpoch: end}); err != nil {
		t.Fatal(err)
	}
}

// recount reopens nothing: it recomputes the counters the way Open does and
// compares them with the live ones.
func checkCounters(t testing.TB, s *Store) {
	t.Helper()
	fresh := &Store{ds: s.ds, pdb: s.pdb, opts: s.opts, log: s.log, perShard: map[int]int64{}}
	if err := fresh.load(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, want := s.Usage(), fresh.Usage()
	if got.Total != want.Total || got.Metadata != want.Metadata || got.PendingBytes != want.PendingBytes ||
		got.PendingEntries != want.PendingEntries || !maps.Equal(got.PerShard, want.PerShard) {
		t.Fatalf("live counters %+v, recount %+v", got, want)
	}
}

func TestSliverRoundTrip(t *testing.T) {
	ctx := context.Background()
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			s := be.open(t, t.TempDir(), Options{})
			id := blob(1)
			register(t, s, id, 100)
			params := codec.Params{NShards: testN}
			cases := []struct {
				name string
				pair int
				typ  codec.SliverType
				size int
			}{
				{"empty primary", 0, codec.Primary, 0},
				{"one byte secondary", 0, codec.Secondary, 1},
				{"4KiB primary", 3, codec.Primary, 4 << 10},
				{"64KiB secondary", 9, codec.Secondary, 64 << 10},
				{"odd size", 5, codec.Primary, 12345},
			}
			var total int64
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					data := payload(c.name, c.size)
					if err := s.PutSliver(ctx, id, c.pair, c.typ, data); err != nil {
						t.Fatal(err)
					}
					got, err := s.GetSliver(ctx, id, c.pair, c.typ)
					if err != nil || !bytes.Equal(got, data) {
						t.Fatalf("GetSliver = %d bytes, %v", len(got), err)
					}
					shard := params.ShardOfPair(id, c.pair)
					got, err = s.GetShardSliver(ctx, shard, id, c.typ)
					if err != nil || !bytes.Equal(got, data) {
						t.Fatalf("GetShardSliver = %d bytes, %v", len(got), err)
					}
					var viewed []byte
					if err := s.ViewShardSliver(ctx, shard, id, c.typ, func(b []byte) error { viewed = bytes.Clone(b); return nil }); err != nil || !bytes.Equal(viewed, data) {
						t.Fatalf("ViewShardSliver = %d bytes, %v", len(viewed), err)
					}
					stop := errors.New("stop")
					if err := s.ViewShardSliver(ctx, shard, id, c.typ, func([]byte) error { return stop }); err != stop {
						t.Fatalf("ViewShardSliver returned %v, not fn's error", err)
					}
					if _, err := s.GetSliver(ctx, id, c.pair, c.typ^1); !errors.Is(err, ErrNotFound) && c.name != "one byte secondary" {
						t.Fatalf("other type: %v", err)
					}
					if c.name != "one byte secondary" {
						called := false
						err := s.ViewShardSliver(ctx, shard, id, c.typ^1, func([]byte) error { called = true; return nil })
						if !errors.Is(err, ErrNotFound) || called {
							t.Fatalf("ViewShardSliver of the other type: %v (fn called: %v)", err, called)
						}
					}
					total += int64(c.size)
				})
			}
			if u := s.Usage(); u.Total != total {
				t.Fatalf("usage %d, want %d", u.Total, total)
			}
			// Overwrite with a smaller value adjusts the counters.
			if err := s.PutSliver(ctx, id, 3, codec.Primary, []byte("small")); err != nil {
				t.Fatal(err)
			}
			if u := s.Usage(); u.Total != total-(4<<10)+5 {
				t.Fatalf("after overwrite usage %d", u.Total)
			}
			// Metadata.
			meta := payload("meta", 66_000)
			if err := s.PutMetadata(ctx, id, meta); err != nil {
				t.Fatal(err)
			}
			if got, err := s.GetMetadata(ctx, id); err != nil || !bytes.Equal(got, meta) {
				t.Fatalf("GetMetadata: %v", err)
			}
			if _, err := s.GetMetadata(ctx, blob(2)); !errors.Is(err, ErrNotFound) {
				t.Fatalf("missing metadata: %v", err)
			}
			if u := s.Usage(); u.Metadata != int64(len(meta)) {
				t.Fatalf("metadata usage %d", u.Metadata)
			}
			checkCounters(t, s)
			if r, err := s.Check(ctx); err != nil || !r.OK() || r.Slivers != len(cases) || r.Metadata != 1 {
				t.Fatalf("Check = %+v, %v", r, err)
			}
		})
	}
}

func TestPutSliversAtomicBatch(t *testing.T) {
	ctx := context.Background()
	s := diskBackend().open(t, t.TempDir(), Options{})
	id := blob(1)
	register(t, s, id, 100)
	var sl []Sliver
	for p := range testN {
		sl = append(sl, Sliver{p, codec.Primary, payload(fmt.Sprint(p), 100)}, Sliver{p, codec.Secondary, payload(fmt.Sprint(-p), 50)})
	}
	if err := s.PutSlivers(ctx, id, sl); err != nil {
		t.Fatal(err)
	}
	// A batch with one bad sliver stores nothing.
	bad := []Sliver{{0, codec.Primary, []byte("x")}, {testN, codec.Primary, []byte("y")}}
	if err := s.PutSlivers(ctx, id, bad); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("bad batch: %v", err)
	}
	dup := []Sliver{{1, codec.Primary, []byte("x")}, {1, codec.Primary, []byte("y")}}
	if err := s.PutSlivers(ctx, id, dup); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("dup batch: %v", err)
	}
	for _, x := range sl {
		got, err := s.GetSliver(ctx, id, x.Pair, x.Type)
		if err != nil || !bytes.Equal(got, x.Data) {
			t.Fatalf("pair %d %v: %v", x.Pair, x.Type, err)
		}
	}
	if u := s.Usage(); u.Total != 1500 || len(u.PerShard) != testN {
		t.Fatalf("usage %+v", u)
	}
	checkCounters(t, s)
}

func TestPutErrors(t *testing.T) {
	ctx := context.Background()
	s := memBackend().open(t, "", Options{})
	reg, del, inv, exp := blob(1), blob(2), blob(3), blob(4)
	register(t, s, reg, 100)
	register(t, s, del, 100)
	register(t, s, exp, 5)
	if err := s.MarkDeleted(ctx, del); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkInvalid(ctx, inv); err != nil {
		t.Fatal(err)
	}
	s.SetEpoch(5)
	cases := []struct {
		name string
		id   codec.BlobID
		pair int
		typ  codec.SliverType
		want error
	}{
		{"ok", reg, 1, codec.Primary, nil},
		{"negative pair", reg, -1, codec.Primary, ErrInvalidArgument},
		{"pair too large for key", reg, 1 << 16, codec.Primary, ErrInvalidArgument},
		{"pair >= n", reg, testN, codec.Primary, ErrInvalidArgument},
		{"bad type", reg, 1, codec.SliverType(2), ErrInvalidArgument},
		{"deleted", del, 1, codec.Primary, ErrBlobGone},
		{"invalid", inv, 1, codec.Primary, ErrBlobGone},
		{"expired", exp, 1, codec.Primary, ErrBlobGone},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := s.PutSliver(ctx, c.id, c.pair, c.typ, []byte("data"))
			if !errors.Is(err, c.want) || (c.want == nil && err != nil) {
				t.Fatalf("PutSliver = %v, want %v", err, c.want)
			}
		})
	}
	if err := s.PutMetadata(ctx, inv, []byte("m")); !errors.Is(err, ErrBlobGone) {
		t.Fatalf("metadata of invalid blob: %v", err)
	}
	if _, err := s.GetSliver(ctx, reg, 0, codec.Primary); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}
	if _, err := s.GetSliver(ctx, blob(99), 0, codec.Primary); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get unknown blob: %v", err)
	}
	if err := s.Register(ctx, reg, Registration{NShards: testN + 1, EndEpoch: 100}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("re-register with other n: %v", err)
	}
	if err := s.Register(ctx, blob(5), Registration{NShards: 2}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("register n=2: %v", err)
	}
}

func TestClosed(t *testing.T) {
	ctx := context.Background()
	s := diskBackend().open(t, t.TempDir(), Options{})
	id := blob(1)
	register(t, s, id, 10)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	ops := map[string]error{
		"PutSliver":   s.PutSliver(ctx, id, 0, codec.Primary, nil),
		"PutMetadata": s.PutMetadata(ctx, id, nil),
		"Register":    s.Register(ctx, id, Registration{NShards: testN}),
		"Certify":     s.Certify(ctx, id, 1),
		"SetShards":   s.SetShards(ctx, []int{1}),
	}
	_, ops["GetSliver"] = s.GetSliver(ctx, id, 0, codec.Primary)
	_, ops["GetMetadata"] = s.GetMetadata(ctx, id)
	_, ops["State"] = s.State(ctx, id)
	_, ops["ScanShard"] = s.ScanShard(ctx, 0, codec.BlobID{}, 1)
	_, ops["Expire"] = s.Expire(ctx, 100)
	_, ops["MissingSlivers"] = s.MissingSlivers(ctx, id)
	_, ops["Check"] = s.Check(ctx)
	for name, err := range ops {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v", name, err)
		}
	}
}

func TestStateEvents(t *testing.T) {
	ctx := context.Background()
	s := memBackend().open(t, "", Options{})
	id := blob(1)
	if _, err := s.State(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("state of unknown: %v", err)
	}
	steps := []struct {
		name string
		do   func() error
		want BlobState
	}{
		{"register", func() error {
			return s.Register(ctx, id, Registration{NShards: testN, EndEpoch: 10, Deletable: true, ObjectID: [32]byte{7}})
		}, BlobState{Registered: true, Deletable: true, NShards: testN, EndEpoch: 10, ObjectID: [32]byte{7}}},
		{"certify", func() error { return s.Certify(ctx, id, 3) },
			BlobState{Registered: true, Certified: true, Deletable: true, NShards: testN, EndEpoch: 10, CertifiedEpoch: 3, ObjectID: [32]byte{7}}},
		{"extend", func() error {
			return s.Register(ctx, id, Registration{NShards: testN, EndEpoch: 20, Deletable: true, ObjectID: [32]byte{7}})
		},
			BlobState{Registered: true, Certified: true, Deletable: true, NShards: testN, EndEpoch: 20, CertifiedEpoch: 3, ObjectID: [32]byte{7}}},
		{"no shortening", func() error {
			return s.Register(ctx, id, Registration{NShards: testN, EndEpoch: 15, Deletable: true, ObjectID: [32]byte{7}})
		},
			BlobState{Registered: true, Certified: true, Deletable: true, NShards: testN, EndEpoch: 20, CertifiedEpoch: 3, ObjectID: [32]byte{7}}},
		{"delete", func() error { return s.MarkDeleted(ctx, id) },
			BlobState{Registered: true, Certified: true, Deletable: true, Deleted: true, NShards: testN, EndEpoch: 20, CertifiedEpoch: 3, ObjectID: [32]byte{7}}},
		{"invalid", func() error { return s.MarkInvalid(ctx, id) },
			BlobState{Registered: true, Certified: true, Deletable: true, Deleted: true, Invalid: true, NShards: testN, EndEpoch: 20, CertifiedEpoch: 3, ObjectID: [32]byte{7}}},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got, err := s.State(ctx, id)
		if err != nil || got != st.want {
			t.Fatalf("%s: state %+v, %v; want %+v", st.name, got, err, st.want)
		}
	}
	// Only one expiry entry, at the latest end epoch.
	var keys []string
	if err := s.scan(ctx, pfxExpiry, "", "", func(k string, _ []byte) (bool, error) { keys = append(keys, k); return true, nil }); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != expiryKey(20, id) {
		t.Fatalf("expiry keys %v", keys)
	}
}

func TestPendingBuffer(t *testing.T) {
	ctx := context.Background()
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			s := be.open(t, t.TempDir(), Options{PendingMaxBytes: 1000, PendingMaxEntries: 4})
			id := blob(1)
			meta := payload("meta", 100)
			if err := s.PutMetadata(ctx, id, meta); err != nil {
				t.Fatal(err)
			}
			p0, p9 := payload("p0", 300), payload("s9", 300)
			if err := s.PutSliver(ctx, id, 0, codec.Primary, p0); err != nil {
				t.Fatal(err)
			}
			if err := s.PutSliver(ctx, id, 9, codec.Secondary, p9); err != nil {
				t.Fatal(err)
			}
			// Invisible until registered.
			if _, err := s.GetMetadata(ctx, id); !errors.Is(err, ErrNotFound) {
				t.Fatalf("pending metadata visible: %v", err)
			}
			if u := s.Usage(); u.PendingBytes != 700 || u.PendingEntries != 3 || u.Total != 700 {
				t.Fatalf("usage %+v", u)
			}
			// Byte cap.
			if err := s.PutSliver(ctx, id, 1, codec.Primary, payload("x", 301)); !errors.Is(err, ErrPendingFull) {
				t.Fatalf("over byte cap: %v", err)
			}
			// Replacing an entry counts only the difference.
			if err := s.PutSliver(ctx, id, 0, codec.Primary, payload("p0", 301)); err != nil {
				t.Fatalf("replace: %v", err)
			}
			// Entry cap.
			other := blob(2)
			if err := s.PutSliver(ctx, other, 1, codec.Primary, []byte("a")); err != nil {
				t.Fatal(err)
			}
			if err := s.PutSliver(ctx, other, 2, codec.Primary, []byte("b")); !errors.Is(err, ErrPendingFull) {
				t.Fatalf("over entry cap: %v", err)
			}
			checkCounters(t, s)
			// Registration promotes: pair 9 of n=10 is fine.
			p0 = payload("p0", 301)
			register(t, s, id, 100)
			if got, err := s.GetMetadata(ctx, id); err != nil || !bytes.Equal(got, meta) {
				t.Fatalf("promoted metadata: %v", err)
			}
			if got, err := s.GetSliver(ctx, id, 0, codec.Primary); err != nil || !bytes.Equal(got, p0) {
				t.Fatalf("promoted p0: %v", err)
			}
			if got, err := s.GetSliver(ctx, id, 9, codec.Secondary); err != nil || !bytes.Equal(got, p9) {
				t.Fatalf("promoted s9: %v", err)
			}
			if u := s.Usage(); u.PendingBytes != 1 || u.PendingEntries != 1 || u.Total != 702 || u.Metadata != 100 {
				t.Fatalf("usage after promotion %+v", u)
			}
			checkCounters(t, s)
			// Prune: the other blob's entry is older than now.
			if n, err := s.PrunePending(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
				t.Fatalf("prune old: %d %v", n, err)
			}
			if n, err := s.PrunePending(ctx, time.Now().Add(time.Second)); err != nil || n != 1 {
				t.Fatalf("prune: %d %v", n, err)
			}
			if u := s.Usage(); u.PendingBytes != 0 || u.PendingEntries != 0 || u.Total != 701 {
				t.Fatalf("usage after prune %+v", u)
			}
			checkCounters(t, s)
			if r, err := s.Check(ctx); err != nil || !r.OK() {
				t.Fatalf("check %+v %v", r, err)
			}
		})
	}
}

func TestSpaceLimit(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	be := diskBackend()
	s := be.open(t, dir, Options{SpaceLimit: 1000})
	id := blob(1)
	register(t, s, id, 100)
	steps := []struct {
		pair int
		size int
		want error
	}{
		{0, 400, nil},
		{1, 400, nil},
		{2, 201, ErrNoSpace},
		{2, 200, nil},
		{3, 1, ErrNoSpace},
		{0, 300, nil}, // shrinking frees space
		{3, 100, nil},
	}
	for i, st := range steps {
		err := s.PutSliver(ctx, id, st.pair, codec.Primary, make([]byte, st.size))
		if !errors.Is(err, st.want) || (st.want == nil && err != nil) {
			t.Fatalf("step %d: %v, want %v", i, err, st.want)
		}
	}
	if err := s.PutMetadata(ctx, id, []byte("x")); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("metadata over limit: %v", err)
	}
	u := s.Usage()
	params := codec.Params{NShards: testN}
	want := map[int]int64{params.ShardOfPair(id, 0): 300, params.ShardOfPair(id, 1): 400, params.ShardOfPair(id, 2): 200, params.ShardOfPair(id, 3): 100}
	if u.Total != 1000 || !maps.Equal(u.PerShard, want) || u.Limit != 1000 {
		t.Fatalf("usage %+v want per shard %v", u, want)
	}
	// Counters survive a reopen (recomputed from the index).
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = be.open(t, dir, Options{SpaceLimit: 1000})
	if u2 := s.Usage(); u2.Total != 1000 || !maps.Equal(u2.PerShard, want) {
		t.Fatalf("after reopen %+v", u2)
	}
}

func TestScanShard(t *testing.T) {
	ctx := context.Background()
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			s := be.open(t, t.TempDir(), Options{})
			params := codec.Params{NShards: testN}
			const shard = 4
			var ids []codec.BlobID
			for i := range 25 {
				id := blob(i)
				register(t, s, id, 100)
				pair := params.PairOfShard(id, shard)
				if err := s.PutSlivers(ctx, id, []Sliver{{pair, codec.Primary, payload(id.String()+"p", 10)}, {pair, codec.Secondary, payload(id.String()+"s", 20)}}); err != nil {
					t.Fatal(err)
				}
				// A sliver on another shard is not part of the scan.
				if err := s.PutSliver(ctx, id, (pair+1)%testN, codec.Primary, []byte("other")); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
			}
			slices.SortFunc(ids, func(a, b codec.BlobID) int { return bytes.Compare(a[:], b[:]) })
			for _, batch := range []int{1, 2, 7, 25, 100} {
				t.Run(fmt.Sprint("batch", batch), func(t *testing.T) {
					var got []codec.BlobID
					var cur codec.BlobID
					for calls := 0; ; calls++ {
						if calls > 100 {
							t.Fatal("scan does not end")
						}
						b, err := s.ScanShard(ctx, shard, cur, batch)
						if err != nil {
							t.Fatal(err)
						}
						if len(b.Slivers) > 2*batch {
							t.Fatalf("%d slivers in a batch of %d blobs", len(b.Slivers), batch)
						}
						for i, ss := range b.Slivers {
							if ss.Err != nil {
								t.Fatal(ss.Err)
							}
							want := payload(ss.Blob.String()+typeChar(ss.Type), 10*(1+int(ss.Type)))
							if !bytes.Equal(ss.Data, want) || ss.Pair != params.PairOfShard(ss.Blob, shard) {
								t.Fatalf("sliver %d of batch: pair %d, %d bytes", i, ss.Pair, len(ss.Data))
							}
							if ss.Type == codec.Primary {
								got = append(got, ss.Blob)
							}
						}
						if b.Done {
							break
						}
						cur = b.Next
					}
					if !slices.Equal(got, ids) {
						t.Fatalf("scan order/coverage wrong: %d blobs, want %d", len(got), len(ids))
					}
				})
			}
			// From a cursor in the middle.
			b, err := s.ScanShard(ctx, shard, ids[10], 3)
			if err != nil || len(b.Slivers) != 6 || b.Slivers[0].Blob != ids[10] || b.Done || b.Next == ids[12] {
				t.Fatalf("cursor scan: %d slivers, %v", len(b.Slivers), err)
			}
			// Empty shard.
			if b, err := s.ScanShard(ctx, 9999, codec.BlobID{}, 3); err != nil || len(b.Slivers) != 0 || !b.Done {
				t.Fatalf("empty shard: %+v %v", b, err)
			}
			if _, err := s.ScanShard(ctx, -1, codec.BlobID{}, 3); !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("bad shard: %v", err)
			}
		})
	}
}

func TestIncrement(t *testing.T) {
	cases := []struct {
		in, want codec.BlobID
		ok       bool
	}{
		{codec.BlobID{}, codec.BlobID{31: 1}, true},
		{codec.BlobID{31: 0xff}, codec.BlobID{30: 1}, true},
		{func() (b codec.BlobID) {
			for i := range b {
				b[i] = 0xff
			}
			return
		}(), codec.BlobID{}, false},
	}
	for _, c := range cases {
		got := c.in
		if ok := increment(&got); ok != c.ok || (ok && got != c.want) {
			t.Fatalf("increment(%x) = %x %v", c.in, got, ok)
		}
	}
}

func TestMissingSlivers(t *testing.T) {
	ctx := context.Background()
	s := memBackend().open(t, "", Options{})
	id := blob(1)
	params := codec.Params{NShards: testN}
	if _, err := s.MissingSlivers(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unregistered: %v", err)
	}
	register(t, s, id, 100)
	if err := s.SetShards(ctx, []int{7, 2, 2, 15}); err != nil { // 15 >= n is ignored
		t.Fatal(err)
	}
	if got := s.Shards(); !slices.Equal(got, []int{2, 7, 15}) {
		t.Fatalf("shards %v", got)
	}
	ref := func(sh int, ty codec.SliverType) SliverRef {
		return SliverRef{Shard: sh, Pair: params.PairOfShard(id, sh), Type: ty}
	}
	cases := []struct {
		name string
		put  []SliverRef
		want []SliverRef
	}{
		{"nothing stored", nil, []SliverRef{ref(2, codec.Primary), ref(2, codec.Secondary), ref(7, codec.Primary), ref(7, codec.Secondary)}},
		{"one primary", []SliverRef{ref(7, codec.Primary)}, []SliverRef{ref(2, codec.Primary), ref(2, codec.Secondary), ref(7, codec.Secondary)}},
		{"a shard not held does not help", []SliverRef{ref(3, codec.Primary)}, []SliverRef{ref(2, codec.Primary), ref(2, codec.Secondary), ref(7, codec.Secondary)}},
		{"all", []SliverRef{ref(2, codec.Primary), ref(2, codec.Secondary), ref(7, codec.Secondary)}, nil},
	}
	for _, c := range cases {
		for _, r := range c.put {
			if err := s.PutSliver(ctx, id, r.Pair, r.Type, []byte("x")); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.MissingSlivers(ctx, id)
		if err != nil || !slices.Equal(got, c.want) {
			t.Fatalf("%s: %v %v, want %v", c.name, got, err, c.want)
		}
	}
	// The shard list persists.
	if err := s.SetShards(ctx, []int{-1}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("bad shard: %v", err)
	}
}

func TestShardsPersist(t *testing.T) {
	dir := t.TempDir()
	s := diskBackend().open(t, dir, Options{})
	if err := s.SetShards(context.Background(), []int{5, 1}); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	s = diskBackend().open(t, dir, Options{})
	if got := s.Shards(); !slices.Equal(got, []int{1, 5}) {
		t.Fatalf("shards after reopen %v", got)
	}
}

func TestDropShard(t *testing.T) {
	ctx := context.Background()
	s := diskBackend().open(t, t.TempDir(), Options{BatchSize: 4})
	params := codec.Params{NShards: testN}
	if err := s.SetShards(ctx, []int{3, 4}); err != nil {
		t.Fatal(err)
	}
	for i := range 9 {
		id := blob(i)
		register(t, s, id, 100)
		for _, sh := range []int{3, 4} {
			p := params.PairOfShard(id, sh)
			if err := s.PutSlivers(ctx, id, []Sliver{{p, codec.Primary, []byte("abc")}, {p, codec.Secondary, []byte("de")}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	st, err := s.DropShard(ctx, 3)
	if err != nil || st.Slivers != 18 || st.Bytes != 45 {
		t.Fatalf("DropShard = %+v, %v", st, err)
	}
	if u := s.Usage(); u.PerShard[3] != 0 || u.PerShard[4] != 45 || u.Total != 45 {
		t.Fatalf("usage %+v", u)
	}
	if got := s.Shards(); !slices.Equal(got, []int{4}) {
		t.Fatalf("shards %v", got)
	}
	if b, _ := s.ScanShard(ctx, 3, codec.BlobID{}, 100); len(b.Slivers) != 0 {
		t.Fatalf("shard 3 still has %d slivers", len(b.Slivers))
	}
	checkCounters(t, s)
	if r, err := s.Check(ctx); err != nil || !r.OK() || r.Slivers != 18 {
		t.Fatalf("check %+v %v", r, err)
	}
}

func TestExpire(t *testing.T) {
	ctx := context.Background()
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			s := be.open(t, t.TempDir(), Options{BatchSize: 5})
			// Blob i ends at epoch i+1; each has 2*testN slivers and metadata.
			const blobs = 8
			for i := range blobs {
				id := blob(i)
				register(t, s, id, uint64(i+1))
				var sl []Sliver
				for p := range testN {
					sl = append(sl, Sliver{p, codec.Primary, []byte("prim")}, Sliver{p, codec.Secondary, []byte("sec")})
				}
				if err := s.PutSlivers(ctx, id, sl); err != nil {
					t.Fatal(err)
				}
				if err := s.PutMetadata(ctx, id, []byte("meta")); err != nil {
					t.Fatal(err)
				}
			}
			// Blob 2 is extended to epoch 50 before expiry.
			if err := s.Register(ctx, blob(2), Registration{NShards: testN, EndEpoch: 50}); err != nil {
				t.Fatal(err)
			}
			cases := []struct {
				epoch     uint64
				gone      []int
				wantBlobs int
			}{
				{0, nil, 0},
				{1, []int{0}, 1},
				{4, []int{0, 1, 3}, 2},
				{4, []int{0, 1, 3}, 0}, // idempotent
				{8, []int{0, 1, 3, 4, 5, 6, 7}, 4},
				{49, []int{0, 1, 3, 4, 5, 6, 7}, 0},
				{50, []int{0, 1, 2, 3, 4, 5, 6, 7}, 1},
			}
			for _, c := range cases {
				st, err := s.Expire(ctx, c.epoch)
				if err != nil || st.Blobs != c.wantBlobs || st.Slivers != c.wantBlobs*2*testN || st.Bytes != int64(c.wantBlobs*(testN*7+4)) {
					t.Fatalf("Expire(%d) = %+v, %v; want %d blobs", c.epoch, st, err, c.wantBlobs)
				}
				for i := range blobs {
					id := blob(i)
					_, err := s.GetSliver(ctx, id, 0, codec.Primary)
					_, serr := s.State(ctx, id)
					_, merr := s.GetMetadata(ctx, id)
					gone := slices.Contains(c.gone, i)
					if gone != errors.Is(err, ErrNotFound) || gone != errors.Is(serr, ErrNotFound) || gone != errors.Is(merr, ErrNotFound) {
						t.Fatalf("epoch %d blob %d: gone=%v but get %v, state %v, meta %v", c.epoch, i, gone, err, serr, merr)
					}
				}
				checkCounters(t, s)
			}
			if u := s.Usage(); u.Total != 0 {
				t.Fatalf("usage after expiring all %+v", u)
			}
			var left []string
			for _, pfx := range []string{pfxSliver, pfxIndex, pfxMeta, pfxState, pfxExpiry} {
				_ = s.scan(ctx, pfx, "", "", func(k string, _ []byte) (bool, error) { left = append(left, k); return true, nil })
			}
			if len(left) != 0 {
				t.Fatalf("keys left after expiry: %v", left)
			}
		})
	}
}

func TestMarkDeletedPurges(t *testing.T) {
	ctx := context.Background()
	s := memBackend().open(t, "", Options{BatchSize: 3})
	id, other := blob(1), blob(2)
	register(t, s, id, 10)
	register(t, s, other, 10)
	for p := range testN {
		for _, b := range []codec.BlobID{id, other} {
			if err := s.PutSliver(ctx, b, p, codec.Primary, []byte("abcd")); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.MarkDeleted(ctx, id); err != nil {
		t.Fatal(err)
	}
	for p := range testN {
		if _, err := s.GetSliver(ctx, id, p, codec.Primary); !errors.Is(err, ErrNotFound) {
			t.Fatalf("deleted blob sliver %d: %v", p, err)
		}
		if _, err := s.GetSliver(ctx, other, p, codec.Primary); err != nil {
			t.Fatalf("other blob sliver %d: %v", p, err)
		}
	}
	if u := s.Usage(); u.Total != 4*testN {
		t.Fatalf("usage %+v", u)
	}
	// The tombstone stays until the end epoch and then goes.
	if st, err := s.State(ctx, id); err != nil || !st.Deleted {
		t.Fatalf("state %+v %v", st, err)
	}
	if _, err := s.Expire(ctx, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := s.State(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("tombstone after end epoch: %v", err)
	}
	checkCounters(t, s)
}

func TestCorruptValue(t *testing.T) {
	ctx := context.Background()
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			s := be.open(t, t.TempDir(), Options{})
			id := blob(1)
			register(t, s, id, 100)
			data := payload("sliver", 4096)
			params := codec.Params{NShards: testN}
			shard := params.ShardOfPair(id, 2)
			key := sliverKey(shard, id, codec.Primary)
			if err := s.PutSliver(ctx, id, 2, codec.Primary, data); err != nil {
				t.Fatal(err)
			}
			if err := s.PutMetadata(ctx, id, data); err != nil {
				t.Fatal(err)
			}
			raw, err := s.ds.Get(ctx, ds.RawKey(key))
			if err != nil {
				t.Fatal(err)
			}
			mutations := []struct {
				name string
				f    func([]byte) []byte
			}{
				{"flip data bit", func(v []byte) []byte { v = slices.Clone(v); v[len(v)-100] ^= 1; return v }},
				{"flip digest bit", func(v []byte) []byte { v = slices.Clone(v); v[5] ^= 0x80; return v }},
				{"bad hash code", func(v []byte) []byte { v = slices.Clone(v); v[0] = 0x13; return v }},
				{"truncate data", func(v []byte) []byte { return slices.Clone(v[:len(v)-1]) }},
				{"extend data", func(v []byte) []byte { return append(slices.Clone(v), 0) }},
				{"shorter than header", func(v []byte) []byte { return slices.Clone(v[:10]) }},
				{"empty", func(v []byte) []byte { return []byte{} }},
				{"zeroed", func(v []byte) []byte { return make([]byte, len(v)) }},
			}
			for _, m := range mutations {
				t.Run(m.name, func(t *testing.T) {
					if err := s.ds.Put(ctx, ds.RawKey(key), m.f(raw)); err != nil {
						t.Fatal(err)
					}
					got, err := s.GetSliver(ctx, id, 2, codec.Primary)
					var ce *CorruptError
					if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) || ce.Key != key || got != nil {
						t.Fatalf("GetSliver = %d bytes, %v", len(got), err)
					}
					called := false
					err = s.ViewShardSliver(ctx, shard, id, codec.Primary, func([]byte) error { called = true; return nil })
					if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) || ce.Key != key || called {
						t.Fatalf("ViewShardSliver: %v (fn called: %v)", err, called)
					}
					b, err := s.ScanShard(ctx, shard, codec.BlobID{}, 10)
					if err != nil || len(b.Slivers) != 1 || !errors.Is(b.Slivers[0].Err, ErrCorrupt) || b.Slivers[0].Data != nil {
						t.Fatalf("ScanShard = %+v, %v", b, err)
					}
					if r, err := s.Check(ctx); err != nil || len(r.Corrupt) != 1 {
						t.Fatalf("Check = %+v, %v", r, err)
					}
				})
			}
			// Repair: storing the sliver again fixes it.
			if err := s.PutSliver(ctx, id, 2, codec.Primary, data); err != nil {
				t.Fatal(err)
			}
			if got, err := s.GetSliver(ctx, id, 2, codec.Primary); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("after repair: %v", err)
			}
			// Metadata and state values are checked too.
			mk := metaKey(id)
			mraw, _ := s.ds.Get(ctx, ds.RawKey(mk))
			mraw[headerLen] ^= 4
			_ = s.ds.Put(ctx, ds.RawKey(mk), mraw)
			if _, err := s.GetMetadata(ctx, id); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("corrupt metadata: %v", err)
			}
			sk := stateKey(id)
			sraw, _ := s.ds.Get(ctx, ds.RawKey(sk))
			sraw[len(sraw)-1] ^= 4
			_ = s.ds.Put(ctx, ds.RawKey(sk), sraw)
			if _, err := s.State(ctx, id); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("corrupt state: %v", err)
			}
			if _, err := s.GetSliver(ctx, id, 2, codec.Primary); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("sliver of blob with corrupt state: %v", err)
			}
		})
	}
}

// TestConcurrent runs writers, readers, scanners and expiry at once (run
// with -race) and then checks the counters against a recount.
func TestConcurrent(t *testing.T) {
	ctx := context.Background()
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			s := be.open(t, t.TempDir(), Options{BatchSize: 7, NoSync: true, SpaceLimit: 1 << 30})
			if err := s.SetShards(ctx, []int{0, 1, 2}); err != nil {
				t.Fatal(err)
			}
			const workers, blobsPer = 4, 12
			var wg sync.WaitGroup
			errs := make(chan error, 100)
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range blobsPer {
						id := blob(w*1000 + i)
						if err := s.Register(ctx, id, Registration{NShards: testN, EndEpoch: uint64(1 + i%4)}); err != nil {
							errs <- err
							return
						}
						for p := range testN {
							err := s.PutSliver(ctx, id, p, codec.SliverType(p%2), payload(fmt.Sprint(w, i, p), 64+p))
							if err != nil && !errors.Is(err, ErrBlobGone) {
								errs <- err
								return
							}
						}
						if _, err := s.GetSliver(ctx, id, 1, codec.Secondary); err != nil && !errors.Is(err, ErrNotFound) {
							errs <- err
						}
						if _, err := s.MissingSlivers(ctx, id); err != nil && !errors.Is(err, ErrNotFound) {
							errs <- err
						}
					}
				}()
			}
			wg.Add(2)
			go func() {
				defer wg.Done()
				for e := range uint64(4) {
					if _, err := s.Expire(ctx, e); err != nil {
						errs <- err
					}
					time.Sleep(time.Millisecond)
				}
			}()
			go func() {
				defer wg.Done()
				for range 20 {
					for sh := range 3 {
						var cur codec.BlobID
						for {
							b, err := s.ScanShard(ctx, sh, cur, 3)
							if err != nil {
								errs <- err
								return
							}
							for _, x := range b.Slivers {
								if x.Err != nil {
									errs <- x.Err
								}
							}
							if b.Done {
								break
							}
							cur = b.Next
						}
					}
				}
			}()
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			checkCounters(t, s)
			if r, err := s.Check(ctx); err != nil || !r.OK() {
				t.Fatalf("check %+v %v", r, err)
			}
		})
	}
}

func TestMinFreeDisk(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	free, ok := diskFree(dir)
	if !ok {
		t.Skip("statfs unsupported")
	}
	// Demand more free space than the disk has: every growing write fails.
	s := diskBackend().open(t, dir, Options{MinFreeDisk: free + 1<<40})
	id := blob(1)
	register(t, s, id, 10) // the state record is not counted
	if err := s.PutSliver(ctx, id, 0, codec.Primary, []byte("x")); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("PutSliver with a full disk: %v", err)
	}
	_ = s.Close()
	s = diskBackend().open(t, dir, Options{MinFreeDisk: -1})
	if err := s.PutSliver(ctx, id, 0, codec.Primary, []byte("x")); err != nil {
		t.Fatalf("check disabled: %v", err)
	}
}

// TestReadsDuringPurge: a purge batch holds only its blob's write lock;
// reads of that very blob (and everything else) do not wait for it.
func TestReadsDuringPurge(t *testing.T) {
	ctx := context.Background()
	s := memBackend().open(t, "", Options{})
	id := blob(1)
	register(t, s, id, 10)
	if err := s.PutSliver(ctx, id, 1, codec.Primary, []byte("data")); err != nil {
		t.Fatal(err)
	}
	unlock := s.lockBlob(id) // as a purge batch (or a write) in progress would
	defer unlock()
	done := make(chan error, 1)
	go func() {
		_, err := s.GetSliver(ctx, id, 1, codec.Primary)
		if err == nil {
			_, err = s.ScanShard(ctx, codec.Params{NShards: testN}.ShardOfPair(id, 1), codec.BlobID{}, 10)
		}
		if err == nil {
			_, err = s.MissingSlivers(ctx, id)
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a read waited for the blob's write lock")
	}
}

// TestExpireResumes: a blob whose purge stopped after one batch (crash,
// cancellation) is consistent on reopen and finished by the next Expire.
func TestExpireResumes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	be := diskBackend()
	s := be.open(t, dir, Options{BatchSize: 4})
	id, keep := blob(1), blob(2)
	register(t, s, id, 3)
	register(t, s, keep, 30)
	for p := range testN {
		for _, b := range []codec.BlobID{id, keep} {
			if err := s.PutSliver(ctx, b, p, codec.Secondary, []byte("abc")); err != nil {
				t.Fatal(err)
			}
		}
	}
	var st PurgeStats
	if done, err := s.purgeBatch(ctx, id, true, "", nil, &st); err != nil || done || st.Slivers != 2 {
		t.Fatalf("one batch: done=%v %+v %v", done, st, err)
	}
	_ = s.Close()
	s = be.open(t, dir, Options{BatchSize: 4})
	if r, err := s.Check(ctx); err != nil || !r.OK() || r.Slivers != 2*testN-2 {
		t.Fatalf("after partial purge: %+v %v", r, err)
	}
	if u := s.Usage(); u.Total != int64(3*(2*testN-2)) {
		t.Fatalf("usage after partial purge %+v", u)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Expire(cctx, 3); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Expire: %v", err)
	}
	got, err := s.Expire(ctx, 3)
	if err != nil || got.Blobs != 1 || got.Slivers != testN-2 {
		t.Fatalf("Expire = %+v, %v", got, err)
	}
	if u := s.Usage(); u.Total != 3*testN {
		t.Fatalf("usage %+v", u)
	}
	if _, err := s.State(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("state after expiry: %v", err)
	}
	checkCounters(t, s)
}

func TestDecodeShards(t *testing.T) {
	cases := []struct {
		name string
		in   []int
		ok   bool
	}{
		{"empty", nil, true},
		{"ascending", []int{0, 1, 999}, true},
		{"max", []int{maxShard}, true},
		{"past max", []int{maxShard + 1}, false},
		{"duplicate", []int{3, 3}, false},
		{"descending", []int{4, 3}, false},
	}
	for _, c := range cases {
		got, err := decodeShards("k", encodeShards(c.in))
		if (err == nil) != c.ok || (c.ok && len(c.in) > 0 && !slices.Equal(got, c.in)) {
			t.Errorf("%s: %v, %v", c.name, got, err)
		}
	}
}

// legacySeal is a value as stores before xxh-64 sealed it:
// multihash(sha2-256, data) ‖ data, made with go-multihash.
func legacySeal(t testing.TB, data []byte) []byte {
	mh, err := multihash.Sum(data, multihash.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return append(slices.Clip([]byte(mh)), data...)
}

// A sealed value's header is multihash's own encoding of an xxh-64 digest
// (code 0xb3e2, 8 bytes, big endian as xxHash writes its canonical form),
// and values sealed with sha2-256 by older stores still open, and fail on
// any flipped bit.
func TestSealFormat(t *testing.T) {
	data := []byte("sliver data")
	sum := xxhash.Sum64(data)
	mh, err := multihash.Encode(binary.BigEndian.AppendUint64(nil, sum), uint64(multicodec.Xxh64))
	if err != nil {
		t.Fatal(err)
	}
	if got := sealValue(data); !bytes.Equal(got, append(mh, data...)) {
		t.Fatalf("sealValue = %x, want multihash %x then the payload", got, mh)
	}
	for _, v := range [][]byte{sealValue(data), legacySeal(t, data)} {
		p, err := openValue("k", v)
		if err != nil || !bytes.Equal(p, data) {
			t.Fatalf("openValue(%x) = %q, %v", v, p, err)
		}
		for i := range len(v) * 8 {
			w := slices.Clone(v)
			w[i/8] ^= 1 << (i % 8)
			if _, err := openValue("k", w); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("bit %d flipped in %x: %v, want ErrCorrupt", i, v, err)
			}
		}
	}
}

// The batch path writes a sealed payload in place: the same bytes as
// sealValue, which every reader checks with openValue.
func TestSealIntoMatchesSealValue(t *testing.T) {
	for _, n := range []int{0, 1, 31, 32, 33, 4096, 200_000} {
		data := benchData(n)
		want := sealValue(data)
		got := make([]byte, headerLen+n)
		sealInto(got, data)
		if !bytes.Equal(got, want) {
			t.Fatalf("%d bytes: sealInto differs from sealValue", n)
		}
		if p, err := openValue("k", got); err != nil || !bytes.Equal(p, data) {
			t.Fatalf("%d bytes: openValue: %v", n, err)
		}
	}
}
