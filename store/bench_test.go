package store

// Benchmarks (helper B's file), on the default pebble backend with synced
// writes, in a temporary directory:
//
//	go test ./store/ -run '^$' -bench . -benchtime 200x -count 3
//
// BenchmarkPutSliver and BenchmarkGetSliver report MB/s of sliver payload;
// BenchmarkExpire100k deletes 100 000 slivers (50 blobs x n=1000 x 2).

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"testing"
	"time"

	"floe/codec"
)

const benchN = 1000

func benchBlob(i int) codec.BlobID {
	return sha256.Sum256(binary.LittleEndian.AppendUint64([]byte("bench"), uint64(i)))
}

func benchData(size int) []byte {
	out := make([]byte, 0, size+32)
	h := sha256.Sum256([]byte("bench data"))
	for len(out) < size {
		h = sha256.Sum256(h[:])
		out = append(out, h[:]...)
	}
	return out[:size]
}

func benchOpen(b *testing.B, o Options) *Store {
	b.Helper()
	o.Path = b.TempDir()
	o.Logger = discardLogger()
	s, err := Open(context.Background(), o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// benchAddr maps sliver number i to (blob, pair, type), registering blobs
// as needed: 2n slivers per blob.
func benchAddr(b *testing.B, s *Store, i int) (codec.BlobID, int, codec.SliverType) {
	j := i / (2 * benchN)
	id := benchBlob(j)
	if i%(2*benchN) == 0 {
		if err := s.Register(context.Background(), id, Registration{NShards: benchN, EndEpoch: 10}); err != nil {
			b.Fatal(err)
		}
	}
	return id, (i / 2) % benchN, codec.SliverType(i % 2)
}

var benchSizes = []struct {
	name string
	size int
}{{"4KiB", 4 << 10}, {"64KiB", 64 << 10}, {"1MiB", 1 << 20}}

func BenchmarkPutSliver(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			s := benchOpen(b, Options{})
			data := benchData(sz.size)
			ctx := context.Background()
			b.SetBytes(int64(sz.size))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				id, pair, t := benchAddr(b, s, i)
				if err := s.PutSliver(ctx, id, pair, t, data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPutSliverParallel: 8 writers at once (group commit).
func BenchmarkPutSliverParallel(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			s := benchOpen(b, Options{})
			data := benchData(sz.size)
			ctx := context.Background()
			// Register enough blobs up front.
			nb := b.N/(2*benchN) + 1
			for j := 0; j < nb; j++ {
				if err := s.Register(ctx, benchBlob(j), Registration{NShards: benchN, EndEpoch: 10}); err != nil {
					b.Fatal(err)
				}
			}
			next := make(chan int, 1024)
			go func() {
				for i := 0; i < b.N; i++ {
					next <- i
				}
				close(next)
			}()
			b.SetBytes(int64(sz.size))
			b.SetParallelism(4) // 4 x GOMAXPROCS goroutines
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := <-next
					if err := s.PutSliver(ctx, benchBlob(i/(2*benchN)), (i/2)%benchN, codec.SliverType(i%2), data); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func BenchmarkGetSliver(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			s := benchOpen(b, Options{NoSync: true})
			data := benchData(sz.size)
			ctx := context.Background()
			// A working set of up to 64 MiB, read round robin.
			n := max(1, min(2000, (64<<20)/sz.size))
			type addr struct {
				id   codec.BlobID
				pair int
				t    codec.SliverType
			}
			addrs := make([]addr, n)
			for i := range addrs {
				id, pair, t := benchAddr(b, s, i)
				addrs[i] = addr{id, pair, t}
				if err := s.PutSliver(ctx, id, pair, t, data); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(sz.size))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				a := addrs[i%n]
				got, err := s.GetSliver(ctx, a.id, a.pair, a.t)
				if err != nil || len(got) != sz.size {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkExpire100k: 50 blobs of n=1000, all 2000 slivers each (256 B),
// expired by one Expire call. Reports slivers/s.
func BenchmarkExpire100k(b *testing.B) {
	const blobs, size = 50, 256
	ctx := context.Background()
	data := benchData(size)
	for it := 0; it < b.N; it++ {
		b.StopTimer()
		s := benchOpen(b, Options{NoSync: true})
		for j := 0; j < blobs; j++ {
			id := benchBlob(j)
			if err := s.Register(ctx, id, Registration{NShards: benchN, EndEpoch: 10}); err != nil {
				b.Fatal(err)
			}
			sl := make([]Sliver, 0, 2*benchN)
			for p := 0; p < benchN; p++ {
				sl = append(sl, Sliver{Pair: p, Type: codec.Primary, Data: data}, Sliver{Pair: p, Type: codec.Secondary, Data: data})
			}
			if err := s.PutSlivers(ctx, id, sl); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		start := time.Now()
		st, err := s.Expire(ctx, 10)
		el := time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if st.Slivers != blobs*2*benchN {
			b.Fatalf("expired %d slivers, want %d", st.Slivers, blobs*2*benchN)
		}
		b.ReportMetric(float64(st.Slivers)/el.Seconds(), "slivers/s")
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetDuringExpire measures sliver reads while an Expire of 100k
// slivers of other blobs runs: reads must not wait for the expiry.
func BenchmarkGetDuringExpire(b *testing.B) {
	const blobs, size = 50, 256
	ctx := context.Background()
	s := benchOpen(b, Options{NoSync: true})
	data := benchData(size)
	for j := 0; j <= blobs; j++ {
		id := benchBlob(j)
		end := uint64(10)
		if j == blobs {
			end = 100 // the blob we read; it stays
		}
		if err := s.Register(ctx, id, Registration{NShards: benchN, EndEpoch: end}); err != nil {
			b.Fatal(err)
		}
		sl := make([]Sliver, 0, 2*benchN)
		for p := 0; p < benchN; p++ {
			sl = append(sl, Sliver{Pair: p, Type: codec.Primary, Data: data}, Sliver{Pair: p, Type: codec.Secondary, Data: data})
		}
		if err := s.PutSlivers(ctx, id, sl); err != nil {
			b.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { _, err := s.Expire(ctx, 10); done <- err }()
	keep := benchBlob(blobs)
	b.ResetTimer()
	var worst time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := s.GetSliver(ctx, keep, i%benchN, codec.Primary); err != nil {
			b.Fatal(err)
		}
		worst = max(worst, time.Since(t0))
	}
	b.StopTimer()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(worst.Microseconds()), "worst-µs")
}

// BenchmarkPutSliversBatch: what a storage node does for one put-slivers
// batch of a 64 MiB blob at n = 1000 (32 pairs, a 200 KB primary and a 100
// KB secondary sliver each, about 9.6 MB in one commit), blob after blob,
// so that flushes and compactions of the LSM run as they do on a node.
func BenchmarkPutSliversBatch(b *testing.B) {
	const pairs = 32
	s := benchOpen(b, Options{})
	ctx := context.Background()
	primary, secondary := benchData(200_000), benchData(100_000)
	batch := make([]Sliver, 0, 2*pairs)
	b.SetBytes(int64(pairs * (len(primary) + len(secondary))))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// benchN/pairs batches per blob.
		j, k := i/(benchN/pairs), i%(benchN/pairs)
		id := benchBlob(j)
		if k == 0 {
			if err := s.Register(ctx, id, Registration{NShards: benchN, EndEpoch: 10}); err != nil {
				b.Fatal(err)
			}
		}
		batch = batch[:0]
		for p := k * pairs; p < (k+1)*pairs; p++ {
			batch = append(batch, Sliver{Pair: p, Type: codec.Primary, Data: primary}, Sliver{Pair: p, Type: codec.Secondary, Data: secondary})
		}
		if err := s.PutSlivers(ctx, id, batch); err != nil {
			b.Fatal(err)
		}
	}
}
