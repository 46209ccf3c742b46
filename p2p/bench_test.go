package p2p

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"

	"floe/codec"
)

// benchSlivers is what one GetSlivers call moves: 8 primary slivers of a
// 100-shard committee at the largest symbol size, 4.2 MiB each (≈ 34 MiB).
const benchSliverCount = 8

type sliverSource struct {
	NotFoundHandler
	data [][]byte
}

func (s sliverSource) GetSlivers(_ context.Context, _ peer.ID, _ codec.BlobID, items []SliverRef) ([]Result, error) {
	out := make([]Result, len(items))
	for i := range items {
		out[i].Data = s.data[i%len(s.data)]
	}
	return out, nil
}

func benchData(b *testing.B) (codec.Params, [][]byte, int) {
	p, err := codec.NewParams(100)
	if err != nil {
		b.Fatal(err)
	}
	size := p.MaxSliverSize(codec.Primary)
	data := make([][]byte, benchSliverCount)
	for i := range data {
		data[i] = make([]byte, size)
		for j := 0; j < size; j += 4096 {
			data[i][j] = byte(i + j)
		}
	}
	return p, data, size * benchSliverCount
}

// BenchmarkSliverThroughput moves the same bytes host-to-host over libp2p TCP
// (TLS or Noise, yamux), over libp2p QUIC, and over a plain TCP socket, all
// on loopback. Compare the MB/s columns.
func BenchmarkSliverThroughput(b *testing.B) {
	for _, tc := range []struct {
		name, addr string
		sec        libp2p.Option
	}{
		{"libp2p-tcp-tls", "/ip4/127.0.0.1/tcp/0", libp2p.Security(libp2ptls.ID, libp2ptls.New)},
		{"libp2p-tcp-noise", "/ip4/127.0.0.1/tcp/0", libp2p.Security(noise.ID, noise.New)},
		{"libp2p-quic", "/ip4/127.0.0.1/udp/0/quic-v1", libp2p.DefaultSecurity},
	} {
		b.Run(tc.name, func(b *testing.B) {
			p, data, total := benchData(b)
			opts := []libp2p.Option{libp2p.ListenAddrStrings(tc.addr), tc.sec, libp2p.DisableRelay(), libp2p.DisableMetrics()}
			sh, err := libp2p.New(opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer sh.Close()
			ch, err := libp2p.New(opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer ch.Close()
			connect(b, ch, sh)
			srv, err := NewServer(sh, sliverSource{data: data}, DefaultServerConfig(testNetwork, p))
			if err != nil {
				b.Fatal(err)
			}
			_ = srv.Start(context.Background())
			defer srv.Stop(context.Background())
			cli, err := NewClient(ch, DefaultClientConfig(testNetwork, p))
			if err != nil {
				b.Fatal(err)
			}
			refs := make([]SliverRef, benchSliverCount)
			for i := range refs {
				refs[i] = SliverRef{Pair: uint16(i), Type: codec.Primary}
			}
			ctx := context.Background()
			b.SetBytes(int64(total))
			b.ResetTimer()
			for range b.N {
				res, err := cli.GetSlivers(ctx, sh.ID(), blobID(1), refs)
				if err != nil {
					b.Fatal(err)
				}
				if len(res[benchSliverCount-1].Data) != len(data[0]) {
					b.Fatal("short sliver")
				}
			}
		})
	}
	b.Run("plain-tcp", func(b *testing.B) {
		_, data, total := benchData(b)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			var req [1]byte
			for {
				if _, err := io.ReadFull(c, req[:]); err != nil {
					return
				}
				for _, d := range data {
					var h [4]byte
					binary.BigEndian.PutUint32(h[:], uint32(len(d)))
					if _, err := c.Write(h[:]); err != nil {
						return
					}
					if _, err := c.Write(d); err != nil {
						return
					}
				}
			}
		}()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		b.SetBytes(int64(total))
		b.ResetTimer()
		for range b.N {
			if _, err := c.Write([]byte{1}); err != nil {
				b.Fatal(err)
			}
			for range data {
				var h [4]byte
				if _, err := io.ReadFull(c, h[:]); err != nil {
					b.Fatal(err)
				}
				buf := make([]byte, binary.BigEndian.Uint32(h[:]))
				if _, err := io.ReadFull(c, buf); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
