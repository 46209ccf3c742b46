package node

import (
	"bytes"
	"context"
	"testing"
)

// BenchmarkDevnetRead64MiB reads one 64 MiB blob back from a 7-node devnet
// at n = 1000, the read of `floe bench e2e`, without the store around it
// (so a CPU profile of it is the read path's alone):
//
//	go test ./node -run '^$' -bench DevnetRead64MiB -benchtime 5x -cpuprofile /tmp/read.prof
func BenchmarkDevnetRead64MiB(b *testing.B) {
	d := startDevnet(b, 7, 1000)
	c := newTestClient(b, d)
	data := randomBlob(64, 64<<20)
	ctx := context.Background()
	res, err := c.Store(ctx, data, StoreOptions{Epochs: 2})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for range b.N {
		r, err := c.Read(ctx, res.BlobID, ReadOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if !bytes.Equal(r.Data, data) {
			b.Fatal("read back different bytes")
		}
	}
}
