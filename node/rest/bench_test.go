package rest_test

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"floe/node"
)

// BenchmarkStoreRead64MiB stores and reads a 64 MiB blob over REST (as
// Walrus's SDK does: metadata and slivers to every member over HTTPS,
// confirmations verified, the certificate to the ledger; primary slivers
// read back and decoded) and over libp2p (floe's client), on the same
// devnet of 4 nodes and 100 shards. Each iteration stores a fresh blob.
// FLOE_BENCH_MIB changes the size.
//
//	go test ./node/rest -run '^$' -bench StoreRead64MiB -benchtime 1x
func BenchmarkStoreRead64MiB(b *testing.B) {
	size := 64 << 20
	if v, err := strconv.Atoi(os.Getenv("FLOE_BENCH_MIB")); err == nil && v > 0 {
		size = v << 20
	}
	d := startDevnet(b, 4, 100)
	ctx := context.Background()
	c, err := node.NewClient(ctx, d.ClientConfig())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	seed := uint64(100)
	blob := func() []byte {
		seed++
		return randomBlob(seed, size)
	}
	// report records one phase's time per operation.
	report := func(b *testing.B, phase string, elapsed time.Duration) {
		b.ReportMetric(float64(size)/(1<<20)/elapsed.Seconds(), phase+"-MiB/s")
		b.ReportMetric(elapsed.Seconds(), phase+"-s/op")
	}
	b.Run("rest", func(b *testing.B) {
		var store, read time.Duration
		for range b.N {
			data := blob()
			start := time.Now()
			id, _ := restStore(b, d, data, false)
			store += time.Since(start)
			_, _, ms := committee(b, d)
			waitCertified(b, ms, id)
			start = time.Now()
			got := restRead(b, d, id)
			read += time.Since(start)
			if !bytes.Equal(got, data) {
				b.Fatal("the REST read returned other bytes")
			}
		}
		b.SetBytes(int64(size))
		report(b, "store", store/time.Duration(b.N))
		report(b, "read", read/time.Duration(b.N))
	})
	b.Run("libp2p", func(b *testing.B) {
		var store, read time.Duration
		for range b.N {
			data := blob()
			start := time.Now()
			sr, err := c.Store(ctx, data, node.StoreOptions{Epochs: 2})
			if err != nil {
				b.Fatal(err)
			}
			store += time.Since(start)
			start = time.Now()
			res, err := c.Read(ctx, sr.BlobID, node.ReadOptions{})
			if err != nil {
				b.Fatal(err)
			}
			read += time.Since(start)
			if !bytes.Equal(res.Data, data) {
				b.Fatal("the libp2p read returned other bytes")
			}
		}
		b.SetBytes(int64(size))
		report(b, "store", store/time.Duration(b.N))
		report(b, "read", read/time.Duration(b.N))
	})
}
