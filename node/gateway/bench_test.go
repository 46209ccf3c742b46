package gateway

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"

	"floe/node"
)

// BenchmarkRead compares reading the same blob through the gateway (HTTP
// GET on loopback, body read to the end) with the direct read of the
// client the gateway uses (node.Client.Read, what `floe read` does), in
// the same run on the same devnet:
//
//	go test -run '^$' -bench BenchmarkRead -count 5 ./node/gateway/
func BenchmarkRead(b *testing.B) {
	s := startSwarm(b)
	base := s.serve(b, Config{})
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	b.Cleanup(hc.CloseIdleConnections)
	for _, size := range []int{64 << 10, 1 << 20, 4 << 20} {
		data := randomBytes(uint64(size), size)
		res, err := s.c.Store(context.Background(), data, node.StoreOptions{Epochs: 2})
		if err != nil {
			b.Fatal(err)
		}
		id := res.BlobID
		name := fmt.Sprintf("%dKiB", size>>10)
		b.Run("direct/"+name, func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				r, err := s.c.Read(b.Context(), id, node.ReadOptions{})
				if err != nil || len(r.Data) != size {
					b.Fatalf("read: %v", err)
				}
			}
		})
		b.Run("gateway/"+name, func(b *testing.B) {
			b.SetBytes(int64(size))
			u := base + "/v1/blobs/" + id.String()
			for b.Loop() {
				resp, err := hc.Get(u)
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || n != int64(size) || resp.StatusCode != 200 {
					b.Fatalf("GET: %d, %d bytes, %v", resp.StatusCode, n, err)
				}
			}
		})
	}
}
