package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"floe/codec"
	"floe/p2p"
)

// Attacks on storage nodes by an outsider with a laptop: a plain libp2p
// host (or many, with fresh peer IDs) on its own loopback address
// (127.0.0.2: another machine as far as the nodes can tell).

// attacker starts a plain libp2p host dialling from 127.0.0.2.
func attacker(t *testing.T) host.Host {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.2/tcp/0"), libp2p.DisableRelay(), libp2p.DisableMetrics())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// reach connects h to every node of d.
func reach(t *testing.T, h host.Host, d *Devnet) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, n := range d.Nodes() {
		if n != nil {
			if err := h.Connect(ctx, n.AddrInfo()); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func frame(b []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
}

// heapWatch samples the process's heap in use until stopped and returns
// the peak.
func heapWatch() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() uint64 { close(done); wg.Wait(); return peak.Load() }
}

func heapNow() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// Idle streams from 24 minted peer IDs on every protocol of every node:
// honest reads and stores keep succeeding.
//
// Some 12,000 attacking streams cycle for a minute or two, so it runs with
// FLOE_ATTACK=1 (.ci/run sets it); go test ./... skips it.
func TestAttackIdleStreams(t *testing.T) {
	if os.Getenv("FLOE_ATTACK") == "" {
		t.Skip("set FLOE_ATTACK=1 for the idle-stream attack (1–2 minutes)")
	}
	if raceEnabled {
		t.Skip("memory and load bounds, not races: too slow under -race")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d := startDevnet(t, 4, 100)
	c := newTestClient(t, d)
	blobs := storeBlobs(t, ctx, c, 31, 3, 200_000, 10)

	var hosts []host.Host
	for range 24 {
		h := attacker(t)
		reach(t, h, d)
		hosts = append(hosts, h)
	}
	actx, stopAttack := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var opened atomic.Int64
	for _, h := range hosts {
		for _, n := range d.Nodes() {
			for _, name := range []string{p2p.NameGetSlivers, p2p.NamePutSlivers, p2p.NameGetMetadata, p2p.NamePutMetadata,
				p2p.NameGetConfirmation, p2p.NameGetRecoverySymbols, p2p.NameSyncShard, p2p.NameBlobStatus} {
				for range 16 { // the per-peer stream cap of each protocol
					wg.Add(1)
					go func() {
						defer wg.Done()
						// Open, send one byte, sit; when cut off, again.
						for actx.Err() == nil {
							s, err := h.NewStream(actx, n.PeerID(), p2p.ProtocolID("devnet", name))
							if err != nil {
								sleep(actx, 50*time.Millisecond)
								continue
							}
							opened.Add(1)
							_, _ = s.Write([]byte{0})
							buf := make([]byte, 1)
							_ = s.SetReadDeadline(time.Now().Add(time.Minute))
							_, _ = s.Read(buf)
							_ = s.Reset()
						}
					}()
				}
			}
		}
	}
	defer func() { stopAttack(); wg.Wait() }()
	time.Sleep(time.Second) // let the idlers take the slots

	ok, tries := 0, 0
	for i := range 10 {
		tries += 2
		b := blobs[i%len(blobs)]
		got, err := c.Read(ctx, b.id, ReadOptions{})
		if err == nil && bytes.Equal(got.Data, b.data) {
			ok++
		} else {
			t.Logf("read %d under attack: %v", i, err)
		}
		if _, err := c.Store(ctx, randomBlob(uint64(500+i), 100_000), StoreOptions{Epochs: 3}); err == nil {
			ok++
		} else {
			t.Logf("store %d under attack: %v", i, err)
		}
	}
	t.Logf("%d of %d honest reads and stores succeeded while %d idle streams were opened", ok, tries, opened.Load())
	if ok*10 < tries*9 {
		t.Fatalf("only %d of %d honest operations succeeded under the idle-stream attack", ok, tries)
	}
}

// A small get-slivers request for many slivers, never read, on 48
// streams: the node's memory stays bounded.
func TestAttackGetSliversAmplification(t *testing.T) {
	if raceEnabled {
		t.Skip("memory and load bounds, not races: too slow under -race")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d := startDevnet(t, 4, 100)
	c := newTestClient(t, d)
	blob := storeBlobs(t, ctx, c, 41, 1, 14_000_000, 10)[0]
	target := d.Nodes()[0]

	// Every sliver of the blob, and (the old attack) one sliver 200 times.
	var all, dup []byte
	all = append(all, blob.id[:]...)
	all = binary.LittleEndian.AppendUint32(all, 200)
	dup = append(dup, all...)
	for pair := range 100 {
		for _, t := range []byte{0, 1} {
			all = append(all, byte(pair), 0, t)
			dup = append(dup, 0, 0, 0)
		}
	}
	before := heapNow()
	peak := heapWatch()
	var streams []network.Stream
	for range 3 {
		h := attacker(t)
		reach(t, h, d)
		for j := range 16 {
			s, err := h.NewStream(ctx, target.PeerID(), p2p.ProtocolID("devnet", p2p.NameGetSlivers))
			if err != nil {
				t.Fatal(err)
			}
			req := all
			if j%2 == 1 {
				req = dup
			}
			_, _ = s.Write(frame(req))
			_ = s.CloseWrite()
			streams = append(streams, s) // never read
		}
	}
	time.Sleep(3 * time.Second)
	grew := int64(peak()) - int64(before)
	for _, s := range streams {
		_ = s.Reset()
	}
	t.Logf("heap before %d MiB, peak growth %d MiB under the amplification attack", before>>20, grew>>20)
	if grew > 256<<20 {
		t.Fatalf("heap grew by %d MiB under the amplification attack", grew>>20)
	}
	// And the node still serves.
	got, err := c.Read(ctx, blob.id, ReadOptions{})
	if err != nil || !bytes.Equal(got.Data, blob.data) {
		t.Fatalf("read after the attack: %v", err)
	}
}

// 256 put-slivers streams from 16 minted peer IDs that declare the
// largest frames and stall: memory
// stays bounded and an honest 8 MiB push still goes through.
func TestAttackStalledPuts(t *testing.T) {
	if raceEnabled {
		t.Skip("memory and load bounds, not races: too slow under -race")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d := startDevnet(t, 4, 100)
	c := newTestClient(t, d)
	target := d.Nodes()[0]
	before := heapNow()
	peak := heapWatch()
	// Each item declares the largest sliver the committee allows.
	p, _ := codec.NewParams(100)
	declared := p2p.LimitsFor(p).MaxSliver[codec.Primary]
	var streams []network.Stream
	var h host.Host
	for i := range 256 {
		if i%16 == 0 { // 16: the per-peer stream cap of the protocol
			h = attacker(t)
			reach(t, h, d)
		}
		s, err := h.NewStream(ctx, target.PeerID(), p2p.ProtocolID("devnet", p2p.NamePutSlivers))
		if err != nil {
			continue // refused: fine
		}
		var id codec.BlobID
		rand.Read(id[:])
		hdr := binary.LittleEndian.AppendUint32(append([]byte(nil), id[:]...), 1)
		// One item declaring the largest sliver, of which 3 bytes arrive.
		_, _ = s.Write(append(append(frame(hdr), binary.BigEndian.AppendUint32(nil, uint32(declared))...), 1, 2, 3))
		streams = append(streams, s)
	}
	time.Sleep(time.Second)
	grew := int64(peak()) - int64(before)
	t.Logf("%d stalled put-slivers streams; heap growth %d MiB", len(streams), grew>>20)
	if grew > 128<<20 {
		t.Fatalf("heap grew by %d MiB under stalled puts", grew>>20)
	}
	// An honest 8 MiB store beside them.
	res, err := c.Store(ctx, randomBlob(77, 8<<20), StoreOptions{Epochs: 2})
	for _, s := range streams {
		_ = s.Reset()
	}
	if err != nil {
		t.Fatalf("an honest 8 MiB store beside %d stalled puts: %v", len(streams), err)
	}
	if _, err := c.Read(ctx, res.BlobID, ReadOptions{}); err != nil {
		t.Fatal(err)
	}
}

// Forged metadata for blobs nobody registered cannot fill the pending
// buffer; an honest push before the node has seen the registration is
// buffered.
func TestAttackPendingBuffer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d := startDevnet(t, 4, 100)
	c := newTestClient(t, d)
	target := d.Nodes()[0]
	p, _ := codec.NewParams(100)
	h := attacker(t)
	reach(t, h, d)
	cl, err := p2p.NewClient(h, p2p.DefaultClientConfig("devnet", p))
	if err != nil {
		t.Fatal(err)
	}
	// Random hashes and the blob ID they imply pass VerifyMetadata.
	forged := 0
	refused := 0
	for i := range 400 {
		data := randomBlob(uint64(9000+i), 64)
		m, id, err := codec.ComputeMetadata(p, data)
		if err != nil {
			t.Fatal(err)
		}
		err = cl.PutMetadata(ctx, target.PeerID(), id, codec.MarshalMetadataWithID(id, &m))
		switch {
		case err == nil:
			forged++
		case errors.Is(err, p2p.ErrNotFound), errors.Is(err, p2p.ErrRateLimited):
			refused++
		default:
			t.Fatalf("forged metadata %d: %v", i, err)
		}
	}
	if u := target.Store().Usage(); forged > 0 || u.PendingEntries > 0 {
		t.Fatalf("%d forged metadata accepted, %d pending entries", forged, u.PendingEntries)
	}
	t.Logf("%d forged metadata refused; pending buffer empty", refused)
	// An honest early push: registered on chain, pushed before the node
	// could have applied the event.
	data := randomBlob(31337, 10_000)
	enc, err := codec.Encode(p, data)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := c.register(ctx, memEncoding{enc}, uint64(len(data)), StoreOptions{Epochs: 2})
	if err != nil {
		t.Fatal(err)
	}
	honest := attacker(t) // another machine: its own lookup budget
	reach(t, honest, d)
	hc, err := p2p.NewClient(honest, p2p.DefaultClientConfig("devnet", p))
	if err != nil {
		t.Fatal(err)
	}
	if err := hc.PutMetadata(ctx, target.PeerID(), enc.BlobID, codec.MarshalMetadataWithID(enc.BlobID, &enc.Metadata)); err != nil {
		t.Fatalf("honest early metadata push: %v", err)
	}
	_ = reg
}

// A peer that keeps sending invalid requests is disconnected and cannot
// come back for the gating period.
func TestAttackInvalidRequestsGetPeerGated(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := startDevnet(t, 4, 20)
	target := d.Nodes()[0]
	h := attacker(t)
	reach(t, h, d)
	sent := 0
	for range 60 {
		s, err := h.NewStream(ctx, target.PeerID(), p2p.ProtocolID("devnet", p2p.NameGetMetadata))
		if err != nil {
			break
		}
		sent++
		_, _ = s.Write(frame([]byte("not a blob id")))
		_ = s.CloseWrite()
		buf := make([]byte, 64)
		_ = s.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, _ = s.Read(buf)
		_ = s.Reset()
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.Network().Connectedness(target.PeerID()) == network.Connected && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if h.Network().Connectedness(target.PeerID()) == network.Connected {
		t.Fatalf("still connected after %d invalid requests", sent)
	}
	cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
	defer ccancel()
	// Coming back: the node drops the connection once it sees who it is,
	// so no request gets through.
	_ = h.Connect(cctx, peer.AddrInfo{ID: target.PeerID(), Addrs: target.AddrInfo().Addrs})
	if s, err := h.NewStream(cctx, target.PeerID(), p2p.ProtocolID("devnet", p2p.NameBlobStatus)); err == nil {
		var id codec.BlobID
		_, _ = s.Write(frame(id[:]))
		_ = s.CloseWrite()
		buf := make([]byte, 1)
		_ = s.SetReadDeadline(time.Now().Add(2 * time.Second))
		if n, _ := s.Read(buf); n > 0 {
			t.Fatal("the gated peer got an answer")
		}
	}
	if !target.host.Gated(h.ID()) {
		t.Fatal("the node does not list the peer as gated")
	}
	t.Logf("disconnected after %d invalid requests; reconnecting refused", sent)
	// Honest clients are unaffected.
	c := newTestClient(t, d)
	if _, err := c.Store(ctx, randomBlob(5, 1000), StoreOptions{}); err != nil {
		t.Fatal(fmt.Errorf("honest store after the gating: %w", err))
	}
}
