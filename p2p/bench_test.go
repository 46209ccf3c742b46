package p2p

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"io"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"floe/codec"
	"floe/p2p/host"
)

// benchSliverCount is what one GetSlivers call moves: 8 primary slivers of a
// 100-shard committee at the largest symbol size, 4.2 MiB each (≈ 34 MiB).
const benchSliverCount = 8

type sliverSource struct {
	NotFoundHandler
	data [][]byte
}

func (s sliverSource) GetSlivers(_ context.Context, _ peer.ID, _ codec.BlobID, items []SliverRef, send func(Result) error) error {
	for i := range items {
		if err := send(Result{Data: s.data[i%len(s.data)]}); err != nil {
			return err
		}
	}
	return nil
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

// BenchmarkSliverThroughput moves the same bytes between two hosts on
// loopback over libp2p TCP (TLS 1.3 or Noise, yamux) and libp2p QUIC, built
// by host.New from host.LoopbackConfig as a node builds them, and over a
// plain TCP socket and a plain TLS 1.3 socket.
//
// Every libp2p op is followed (timer stopped) by one op on each plain
// socket, so the libp2p figure and the socket figures it is compared with
// come from the same moments of the same run, whatever else the machine is
// doing. Besides its own MB/s, each libp2p case reports plain-MB/s and
// tls-MB/s (the sockets, interleaved) and %plain and %tls (its throughput as
// a percentage of theirs).
//
// libp2p-tcp-tls-yamux256k is the TLS path with yamux's own window and
// frame size (256 KiB, 64 KiB), for comparison with host's defaults.
func BenchmarkSliverThroughput(b *testing.B) {
	b.Run("plain-tcp", func(b *testing.B) { benchSocketOnly(b, false) })
	b.Run("plain-tls", func(b *testing.B) { benchSocketOnly(b, true) })
	for _, tc := range []struct {
		name string
		mod  func(*host.Config)
	}{
		{"libp2p-tcp-tls", func(c *host.Config) { c.DisableQUIC = true }},
		{"libp2p-tcp-tls-yamux256k", func(c *host.Config) {
			c.DisableQUIC = true
			c.StreamWindow, c.MuxerFrameSize = 256<<10, 64<<10
		}},
		{"libp2p-tcp-noise", func(c *host.Config) { c.DisableQUIC, c.PreferNoise = true, true }},
		{"libp2p-quic", func(c *host.Config) { c.DisableTCP = true }},
	} {
		b.Run(tc.name, func(b *testing.B) { benchLibp2p(b, tc.mod) })
	}
}

func benchHost(b *testing.B, mod func(*host.Config)) *host.Host {
	cfg := host.LoopbackConfig()
	mod(&cfg)
	h, err := host.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = h.Close() })
	return h
}

func benchLibp2p(b *testing.B, mod func(*host.Config)) {
	p, data, total := benchData(b)
	sh, ch := benchHost(b, mod), benchHost(b, mod)
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
	get := func() {
		res, err := cli.GetSlivers(ctx, sh.ID(), blobID(1), refs)
		if err != nil {
			b.Fatal(err)
		}
		for i, r := range res {
			if r.Err != nil || len(r.Data) != len(data[i]) {
				b.Fatalf("item %d: %v, %d bytes", i, r.Err, len(r.Data))
			}
		}
	}
	plain, plainTLS := newSocketPair(b, data, false), newSocketPair(b, data, true)
	get() // warm up: connection, TLS session, first window updates
	plain.get(b)
	plainTLS.get(b)
	var plainDur, tlsDur time.Duration
	b.SetBytes(int64(total))
	b.ResetTimer()
	for range b.N {
		get()
		b.StopTimer()
		t0 := time.Now()
		plain.get(b)
		t1 := time.Now()
		plainTLS.get(b)
		plainDur += t1.Sub(t0)
		tlsDur += time.Since(t1)
		b.StartTimer()
	}
	bytes := float64(total) * float64(b.N)
	own := bytes / b.Elapsed().Seconds()
	plainRate, tlsRate := bytes/plainDur.Seconds(), bytes/tlsDur.Seconds()
	b.ReportMetric(plainRate/1e6, "plain-MB/s")
	b.ReportMetric(tlsRate/1e6, "tls-MB/s")
	b.ReportMetric(100*own/plainRate, "%plain")
	b.ReportMetric(100*own/tlsRate, "%tls")
}

// benchSocketOnly measures a plain socket alone.
func benchSocketOnly(b *testing.B, useTLS bool) {
	_, data, total := benchData(b)
	s := newSocketPair(b, data, useTLS)
	s.get(b)
	b.SetBytes(int64(total))
	b.ResetTimer()
	for range b.N {
		s.get(b)
	}
}

// socketPair is a plain TCP connection on loopback, optionally under TLS 1.3
// (AES-GCM, as libp2p's TLS negotiates here), whose server answers each
// request byte with the slivers as length-prefixed frames, written one
// Write per header and per sliver like the stream server does.
type socketPair struct {
	c    net.Conn
	data [][]byte
}

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

func newSocketPair(b *testing.B, data [][]byte, useTLS bool) *socketPair {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	if useTLS {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{selfSigned(b)}, MinVersion: tls.VersionTLS13})
	}
	b.Cleanup(func() { _ = ln.Close() })
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
	var c net.Conn
	if useTLS {
		c, err = tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
	} else {
		c, err = net.Dial("tcp", ln.Addr().String())
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	return &socketPair{c: c, data: data}
}

// get requests the slivers and reads each into its own new buffer, as the
// client does.
func (s *socketPair) get(b *testing.B) {
	if _, err := s.c.Write([]byte{1}); err != nil {
		b.Fatal(err)
	}
	for range s.data {
		var h [4]byte
		if _, err := io.ReadFull(s.c, h[:]); err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, binary.BigEndian.Uint32(h[:]))
		if _, err := io.ReadFull(s.c, buf); err != nil {
			b.Fatal(err)
		}
	}
}
