package node

import (
	"bytes"
	"context"
	"hash/crc32"
	"syscall"
	"testing"
	"time"

	"floe/codec"
)

// BenchmarkDevnetRead64MiB reads one 64 MiB blob back from a 7-node devnet
// at n = 1000, the read of `floe bench e2e`, without the store around it
// (so a CPU profile of it is the read path's alone):
//
//	go test ./node -run '^$' -bench DevnetRead64MiB -benchtime 5x -cpuprofile /tmp/read.prof
func BenchmarkDevnetRead64MiB(b *testing.B) {
	c, id, data := benchBlob(b, 64<<20)
	ctx := context.Background()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	var cpu time.Duration
	for range b.N {
		before := processCPU()
		r, err := c.Read(ctx, id, ReadOptions{})
		cpu += processCPU() - before
		if err != nil {
			b.Fatal(err)
		}
		// The check is not part of the read (about 10 ms per 64 MiB):
		// outside the timer, as in floe bench e2e.
		b.StopTimer()
		if !bytes.Equal(r.Data, data) {
			b.Fatal("read back different bytes")
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// processCPU is the CPU time (user and system) the process has used: the
// client's and the nodes', which share it. On a shared machine it moves
// less than the wall time, and it is what a change to the work done shows.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDevnetReadTo256MiB streams one 256 MiB blob from a 7-node
// devnet at n = 1000 into a discarding writer with a 128 MiB budget, so the
// read goes in windows of rows (readto.go) as a large blob's does:
//
//	go test ./node -run '^$' -bench DevnetReadTo256MiB -benchtime 5x
func BenchmarkDevnetReadTo256MiB(b *testing.B) {
	c, id, data := benchBlob(b, 256<<20)
	ctx := context.Background()
	// A cheap checksum (hardware CRC-32C), so the check costs the
	// benchmark little.
	table := crc32.MakeTable(crc32.Castagnoli)
	want := crc32.Checksum(data, table)
	data = nil // the read must not lean on the blob in memory
	b.SetBytes(256 << 20)
	b.ResetTimer()
	var cpu time.Duration
	for range b.N {
		h := crc32.New(table)
		before := processCPU()
		r, err := c.ReadTo(ctx, id, h, ReadOptions{MemoryBudget: 128 << 20})
		cpu += processCPU() - before
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := r.Phases["fetch-for-decode"]; ok {
			b.Fatalf("the read decoded (phases %v)", r.Phases)
		}
		if h.Sum32() != want {
			b.Fatal("read back different bytes")
		}
	}
	b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// benchBlob stores a random blob of size bytes on a 7-node devnet at
// n = 1000 and returns a client, its ID and its bytes.
func benchBlob(b *testing.B, size int) (*Client, codec.BlobID, []byte) {
	b.Helper()
	d := startDevnet(b, 7, 1000)
	c := newTestClient(b, d)
	data := randomBlob(uint64(size>>20), size)
	res, err := c.Store(context.Background(), data, StoreOptions{Epochs: 2})
	if err != nil {
		b.Fatal(err)
	}
	return c, res.BlobID, data
}
