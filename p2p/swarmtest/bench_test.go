package swarmtest

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"io"
	"math/big"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"floe/codec"
	"floe/p2p"
)

// Sliver throughput between two hosts on loopback: one get-slivers request
// per op answering benchSlivers slivers of benchSliverSize bytes (a 4 MiB
// primary sliver is what a ~270 MB blob gives at n = 100), next to a plain
// TCP socket copying the same frames over one persistent connection.
const (
	benchShards     = 100
	benchSlivers    = 8
	benchSliverSize = 4 << 20
)

// staticHandler serves the same slivers for every request.
type staticHandler struct {
	p2p.NotFoundHandler
	slivers [][]byte
}

func (h *staticHandler) GetSlivers(_ context.Context, _ peer.ID, _ codec.BlobID, refs []p2p.SliverRef, send func(p2p.Result) error) error {
	for i := range refs {
		if err := send(p2p.Result{Data: h.slivers[i%len(h.slivers)]}); err != nil {
			return err
		}
	}
	return nil
}

func benchData() [][]byte {
	r := rand.New(rand.NewPCG(3, 4))
	s := make([][]byte, benchSlivers)
	for i := range s {
		s[i] = make([]byte, benchSliverSize)
		for j := 0; j < len(s[i]); j += 8 {
			binary.LittleEndian.PutUint64(s[i][j:], r.Uint64())
		}
	}
	return s
}

func BenchmarkSliverThroughput(b *testing.B) {
	data := benchData()
	b.Run("plain-tcp", func(b *testing.B) { benchPlain(b, data) })
	b.Run("plain-tls", func(b *testing.B) { benchPlainTLS(b, data) })
	b.Run("libp2p-tcp", func(b *testing.B) { benchLibp2p(b, data, false) })
	b.Run("libp2p-quic", func(b *testing.B) { benchLibp2p(b, data, true) })
}

func benchLibp2p(b *testing.B, data [][]byte, quic bool) {
	const network = "bench"
	p, err := codec.NewParams(benchShards)
	if err != nil {
		b.Fatal(err)
	}
	server, client := loopbackHost(b, quic), loopbackHost(b, quic)
	srv, err := p2p.NewServer(server, &staticHandler{slivers: data}, p2p.DefaultServerConfig(network, p))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := srv.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer srv.Stop(ctx)
	cl, err := p2p.NewClient(client, p2p.DefaultClientConfig(network, p))
	if err != nil {
		b.Fatal(err)
	}
	if err := client.Connect(ctx, server.AddrInfo()); err != nil {
		b.Fatal(err)
	}
	refs := make([]p2p.SliverRef, benchSlivers)
	for i := range refs {
		refs[i] = p2p.SliverRef{Pair: uint16(i), Type: codec.Primary}
	}
	get := func() {
		res, err := cl.GetSlivers(ctx, server.ID(), codec.BlobID{1}, refs)
		if err != nil {
			b.Fatal(err)
		}
		for i, r := range res {
			if r.Err != nil || len(r.Data) != benchSliverSize {
				b.Fatalf("item %d: %v, %d bytes", i, r.Err, len(r.Data))
			}
		}
	}
	get() // warm up: stream window growth, TLS session
	b.SetBytes(benchSlivers * benchSliverSize)
	b.ResetTimer()
	for b.Loop() {
		get()
	}
}

func benchPlain(b *testing.B, data [][]byte) { benchSocket(b, data, false) }

// benchPlainTLS is the plain socket under TLS 1.3 (AES-GCM, as libp2p's TLS
// negotiates here), separating the cost of encryption from that of libp2p.
func benchPlainTLS(b *testing.B, data [][]byte) { benchSocket(b, data, true) }

func selfSigned(b *testing.B) tls.Certificate {
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		b.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		b.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv}
}

func benchSocket(b *testing.B, data [][]byte, useTLS bool) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	if useTLS {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{selfSigned(b)}, MinVersion: tls.VersionTLS13})
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		var req [4]byte
		var hdr [4]byte
		for {
			if _, err := io.ReadFull(c, req[:]); err != nil {
				return
			}
			for i := range binary.LittleEndian.Uint32(req[:]) {
				d := data[int(i)%len(data)]
				binary.BigEndian.PutUint32(hdr[:], uint32(len(d)))
				if _, err := c.Write(hdr[:]); err != nil {
					return
				}
				if _, err := c.Write(d); err != nil {
					return
				}
			}
		}
	}()
	var c net.Conn
	if useTLS {
		c, err = tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
	} else {
		c, err = net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	}
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	get := func() {
		var req, hdr [4]byte
		binary.LittleEndian.PutUint32(req[:], benchSlivers)
		if _, err := c.Write(req[:]); err != nil {
			b.Fatal(err)
		}
		for range benchSlivers {
			if _, err := io.ReadFull(c, hdr[:]); err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, binary.BigEndian.Uint32(hdr[:]))
			if _, err := io.ReadFull(c, buf); err != nil {
				b.Fatal(err)
			}
		}
	}
	get()
	b.SetBytes(benchSlivers * benchSliverSize)
	b.ResetTimer()
	for b.Loop() {
		get()
	}
}
