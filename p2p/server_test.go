package p2p

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"floe/codec"
)

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestRoundTrip(t *testing.T) {
	p := newPair(t, nil)
	ctx := ctxT(t, 20*time.Second)
	srv := p.srvHost.ID()
	id := blobID(7)

	// Metadata.
	if _, err := p.cli.GetMetadata(ctx, srv, id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing metadata: %v, want ErrNotFound", err)
	}
	meta := bytes.Repeat([]byte{0xab}, p.cli.Limits().MaxMetadata)
	if err := p.cli.PutMetadata(ctx, srv, id, meta); err != nil {
		t.Fatal(err)
	}
	got, err := p.cli.GetMetadata(ctx, srv, id)
	if err != nil || !bytes.Equal(got, meta) {
		t.Fatalf("metadata: %v, %d bytes", err, len(got))
	}

	// Slivers: many in one stream, both small and large.
	lim := p.cli.Limits()
	var put []Sliver
	for pair := range 10 {
		for _, ty := range []codec.SliverType{codec.Primary, codec.Secondary} {
			n := 100 + pair*1000
			if pair == 9 {
				n = lim.MaxSliver[ty]
			}
			data := make([]byte, n)
			for i := range data {
				data[i] = byte(pair*7 + int(ty) + i)
			}
			put = append(put, Sliver{SliverRef{uint16(pair), ty}, data})
		}
	}
	errs, err := p.cli.PutSlivers(ctx, srv, id, put)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range errs {
		if e != nil {
			t.Fatalf("put %d: %v", i, e)
		}
	}
	refs := make([]SliverRef, 0, len(put)+1)
	for _, s := range put {
		refs = append(refs, s.SliverRef)
	}
	res, err := p.cli.GetSlivers(ctx, srv, id, refs)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil || !bytes.Equal(r.Data, put[i].Data) {
			t.Fatalf("sliver %d: %v (%d bytes, want %d)", i, r.Err, len(r.Data), len(put[i].Data))
		}
	}
	res, err = p.cli.GetSlivers(ctx, srv, blobID(8), refs[:2])
	if err != nil || !errors.Is(res[0].Err, ErrNotFound) || !errors.Is(res[1].Err, ErrNotFound) {
		t.Fatalf("unknown blob: %v %+v", err, res)
	}

	// Into the caller's buffers: every even item split over three
	// buffers, the odd ones into new slices.
	placed := make([][3][]byte, len(refs))
	res, err = p.cli.GetSliversInto(ctx, srv, id, refs, func(i, n int) [][]byte {
		if n != len(put[i].Data) {
			t.Errorf("item %d: asked for %d bytes", i, n)
			return nil
		}
		if i%2 == 1 {
			return nil
		}
		head, tail := min(n, 3), min(n-min(n, 3), 4)
		placed[i] = [3][]byte{make([]byte, head), make([]byte, n-head-tail), make([]byte, tail)}
		return placed[i][:]
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		got := r.Data
		if i%2 == 0 {
			got = slices.Concat(placed[i][:]...)
		}
		if r.Err != nil || r.Placed != (i%2 == 0) || (r.Placed && r.Data != nil) || !bytes.Equal(got, put[i].Data) {
			t.Fatalf("sliver %d into buffers: %v, placed %v (%d bytes, want %d)", i, r.Err, r.Placed, len(got), len(put[i].Data))
		}
	}
	// An item answered with an error asks for no buffers.
	res, err = p.cli.GetSliversInto(ctx, srv, blobID(8), refs[:2], func(i, n int) [][]byte {
		t.Errorf("buffers asked for item %d of an unknown blob", i)
		return nil
	})
	if err != nil || !errors.Is(res[0].Err, ErrNotFound) || res[0].Placed {
		t.Fatalf("unknown blob into buffers: %v %+v", err, res)
	}
	// Buffers that do not add up to the answer are the caller's mistake.
	_, err = p.cli.GetSliversInto(ctx, srv, id, refs[:1], func(i, n int) [][]byte { return [][]byte{make([]byte, n+1)} })
	if !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("buffers longer than the answer: %v", err)
	}

	// Per-item rejection.
	errs, err = p.cli.PutSlivers(ctx, srv, id, []Sliver{{SliverRef{1, codec.Primary}, nil}, {SliverRef{2, codec.Primary}, []byte{1}}})
	if err != nil || !errors.Is(errs[0], ErrInvalidRequest) || errs[1] != nil {
		t.Fatalf("per-item put: %v %v", err, errs)
	}

	// Confirmation.
	if _, err := p.cli.GetConfirmation(ctx, srv, ConfirmationRequest{ID: id}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("confirmation: %v", err)
	}
	sm := codec.SignedMessage{Message: codec.StorageConfirmationMessage(3, id, codec.BlobPersistence{Deletable: true, ObjectID: codec.ObjectID{9}})}
	sm.Signature[5] = 77
	p.h.mu.Lock()
	p.h.conf[id] = sm
	p.h.status[id] = []byte("certified")
	p.h.mu.Unlock()
	gotSM, err := p.cli.GetConfirmation(ctx, srv, ConfirmationRequest{ID: id, Persistence: codec.BlobPersistence{Deletable: true}})
	if err != nil || !bytes.Equal(gotSM.Message, sm.Message) || gotSM.Signature != sm.Signature {
		t.Fatalf("confirmation: %v", err)
	}

	// Status.
	st, err := p.cli.BlobStatus(ctx, srv, id)
	if err != nil || string(st) != "certified" {
		t.Fatalf("status: %v %q", err, st)
	}
	ns, err := p.cli.NodeStatus(ctx, srv)
	if err != nil || !strings.Contains(string(ns), p.cli.h.ID().String()) {
		t.Fatalf("node status: %v %q", err, ns)
	}

	// Recovery symbols, with a per-item miss.
	rs, err := p.cli.GetRecoverySymbols(ctx, srv, RecoveryRequest{ID: id, Target: SliverRef{3, codec.Secondary}, Sources: []uint16{0, 1, 2}})
	if err != nil || string(rs[0].Data) != "symbol 0->3" || !errors.Is(rs[1].Err, ErrNotFound) || string(rs[2].Data) != "symbol 2->3" {
		t.Fatalf("recovery: %v %+v", err, rs)
	}

	// A recovery batch: source-major, a miss for each target of an odd
	// source.
	rb, err := p.cli.GetRecoveryBatch(ctx, srv, RecoveryBatchRequest{ID: id, Type: codec.Secondary, Targets: []uint16{3, 7}, Sources: []uint16{0, 1, 2}})
	if err != nil || len(rb) != 6 || string(rb[0].Data) != "symbol 0->3" || string(rb[1].Data) != "symbol 0->7" ||
		!errors.Is(rb[2].Err, ErrNotFound) || !errors.Is(rb[3].Err, ErrNotFound) || string(rb[5].Data) != "symbol 2->7" {
		t.Fatalf("recovery batch: %v %+v", err, rb)
	}
	if _, err := p.cli.GetRecoveryBatch(ctx, srv, RecoveryBatchRequest{ID: id, Type: codec.Secondary, Targets: []uint16{3}}); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("a batch without sources: %v, want ErrInvalidRequest", err)
	}

	// Sync shard with a cursor, in batches of 2.
	for b := byte(1); b <= 5; b++ {
		if _, err := p.cli.PutSlivers(ctx, srv, blobID(b*10), []Sliver{{SliverRef{4, codec.Primary}, []byte{b}}}); err != nil {
			t.Fatal(err)
		}
	}
	var seen []codec.BlobID
	r := codec.SyncShardRequest{Shard: 4, Type: codec.Primary, Epoch: 1, Count: 2}
	for {
		batch, err := p.cli.SyncShard(ctx, srv, NewSyncRequest([48]byte{1}, r, func([]byte) (s [96]byte) { return s }))
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range batch.Items {
			seen = append(seen, it.ID)
		}
		if batch.Done {
			break
		}
		r.Start = batch.Items[len(batch.Items)-1].ID
		r.Start[31]++ // the test's blob IDs end in non-0xff bytes
	}
	// blobID(7) also holds pair 4 primary (from the first put).
	if len(seen) != 6 || seen[0] != blobID(7) || seen[5] != blobID(50) {
		t.Fatalf("sync saw %d slivers: %v", len(seen), seen)
	}
}

func TestPutSliversBatches(t *testing.T) {
	p := newPair(t, func(c *ServerConfig) { c.PutBatchBytes = 1000 })
	ctx := ctxT(t, 20*time.Second)
	var put []Sliver
	for i := range 10 {
		put = append(put, Sliver{SliverRef{uint16(i), codec.Primary}, bytes.Repeat([]byte{byte(i)}, 600)})
	}
	errs, err := p.cli.PutSlivers(ctx, p.srvHost.ID(), blobID(1), put)
	if err != nil || len(errs) != 10 {
		t.Fatal(err, errs)
	}
	if p.h.putCalls != 10 {
		t.Fatalf("%d handler calls, want one per 600-byte sliver with a 1000-byte batch", p.h.putCalls)
	}
	// Duplicates are a malformed request.
	_, err = p.cli.PutSlivers(ctx, p.srvHost.ID(), blobID(1), []Sliver{put[0], put[0]})
	if !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("duplicate: %v", err)
	}
}

func TestStatusMapping(t *testing.T) {
	p := newPair(t, nil)
	ctx := ctxT(t, 20*time.Second)
	for _, tc := range []struct {
		err  error
		want error
	}{
		{fmt.Errorf("wrapped: %w", ErrNotFound), ErrNotFound},
		{ErrInvalidRequest, ErrInvalidRequest},
		{ErrRateLimited, ErrRateLimited},
		{errors.New("disk on fire"), ErrInternal},
	} {
		p.h.hook = func(context.Context) error { return tc.err }
		_, err := p.cli.GetMetadata(ctx, p.srvHost.ID(), blobID(1))
		if !errors.Is(err, tc.want) {
			t.Errorf("%v: got %v", tc.err, err)
		}
		if Retryable(err) == errors.Is(tc.want, ErrInvalidRequest) {
			t.Errorf("%v: Retryable = %v", err, Retryable(err))
		}
	}
}

func TestHandlerAnswerTooLarge(t *testing.T) {
	p := newPair(t, nil)
	ctx := ctxT(t, 20*time.Second)
	p.h.meta[blobID(1)] = make([]byte, p.cli.Limits().MaxMetadata+1)
	if _, err := p.cli.GetMetadata(ctx, p.srvHost.ID(), blobID(1)); !errors.Is(err, ErrInternal) {
		t.Fatalf("oversized handler answer: %v", err)
	}
}

func TestRateLimit(t *testing.T) {
	p := newPair(t, func(c *ServerConfig) { c.RateLimit = RateLimit{Rate: 0.001, Burst: 3} })
	ctx := ctxT(t, 20*time.Second)
	for i := range 3 {
		if _, err := p.cli.BlobStatus(ctx, p.srvHost.ID(), blobID(1)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if _, err := p.cli.BlobStatus(ctx, p.srvHost.ID(), blobID(1)); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("over the limit: %v", err)
	}
	// Another request type has its own bucket.
	if _, err := p.cli.GetMetadata(ctx, p.srvHost.ID(), blobID(1)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other type: %v", err)
	}
	// A rate-limited put is refused early and the client still learns why.
	p.cli.cfg.Timeouts.Idle = 2 * time.Second
	for range 3 {
		_, _ = p.cli.PutSlivers(ctx, p.srvHost.ID(), blobID(1), []Sliver{{SliverRef{0, codec.Primary}, []byte{1}}})
	}
	_, err := p.cli.PutSlivers(ctx, p.srvHost.ID(), blobID(1), []Sliver{{SliverRef{0, codec.Primary}, make([]byte, 400_000)}})
	if !errors.Is(err, ErrRateLimited) {
		t.Fatalf("rate-limited put: %v", err)
	}
}

// TestClientContextResetsStream: the client gives up when its context ends;
// the server's handler is released by the handler timeout at the latest.
func TestClientContextResetsStream(t *testing.T) {
	p := newPair(t, func(c *ServerConfig) { c.Timeouts.Handler = time.Second })
	released := make(chan struct{})
	p.h.hook = func(ctx context.Context) error {
		<-ctx.Done() // the server's ctx ends when the stream is reset or times out
		close(released)
		return ctx.Err()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.cli.GetMetadata(ctx, p.srvHost.ID(), blobID(1))
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("got %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("client returned after %v", d)
	}
	select {
	case <-released:
	case <-time.After(10 * time.Second):
		t.Fatal("server handler never released")
	}
}

// rawStream opens a stream of a request type and returns it for hand-made
// bytes.
func rawStream(t *testing.T, p *pair, name string) network.Stream {
	t.Helper()
	s, err := p.cliHost.NewStream(ctxT(t, 5*time.Second), p.srvHost.ID(), ProtocolID(testNetwork, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Reset() })
	return s
}

// cutOff waits until the server ends the stream and returns how long it
// took and the bytes it sent.
func cutOff(t *testing.T, s network.Stream, limit time.Duration) (time.Duration, []byte) {
	t.Helper()
	start := time.Now()
	_ = s.SetReadDeadline(start.Add(limit))
	b, err := io.ReadAll(s)
	d := time.Since(start)
	if isTimeout(err) {
		t.Fatalf("server kept the stream open for %v", d)
	}
	return d, b
}

func frameBytes(payload []byte) []byte { return appendFrame(nil, payload) }

func TestMisbehavingPeers(t *testing.T) {
	b1 := blobID(1)
	p := newPair(t, nil)
	idle := fastTimeouts().Idle
	for _, tc := range []struct {
		name   string
		proto  string
		send   []byte
		close  bool
		status Status // expected status, or 255 for a plain reset
	}{
		{"oversized length", NameGetMetadata, []byte{0xff, 0xff, 0xff, 0xff}, false, StatusInvalidRequest},
		{"length above metadata limit", NamePutMetadata, append(frameBytes(b1[:]), 0, 0x10, 0, 0), false, StatusInvalidRequest},
		{"short blob ID", NameGetMetadata, frameBytes([]byte{1, 2, 3}), true, StatusInvalidRequest},
		{"trailing bytes", NameBlobStatus, append(frameBytes(b1[:]), 9), true, StatusInvalidRequest},
		{"bad sliver type", NameGetSlivers, frameBytes(append(append(b1[:], 1, 0, 0, 0), 0, 0, 7)), true, StatusInvalidRequest},
		{"pair out of range", NameGetSlivers, frameBytes(append(append(b1[:], 1, 0, 0, 0), 200, 0, 0)), true, StatusInvalidRequest},
		{"zero items", NamePutSlivers, frameBytes(append(b1[:], 0, 0, 0, 0)), true, StatusInvalidRequest},
		{"sync request not a signed message", NameSyncShard, frameBytes(make([]byte, syncRequestSize)), true, StatusInvalidRequest},
		{"truncated frame then EOF", NameGetMetadata, []byte{0, 0, 0, 32, 1, 2}, true, 255},
		{"stall before the request", NameGetSlivers, nil, false, 255},
		{"stall inside the length", NameGetMetadata, []byte{0, 0}, false, 255},
		{"stall mid-frame", NameGetSlivers, []byte{0, 0, 0, 39, 1, 2, 3}, false, 255},
		{"stall mid put-slivers item", NamePutSlivers, append(frameBytes(append(b1[:], 2, 0, 0, 0)), 0, 0, 1, 0, 0, 0), false, 255},
		{"stall without half-close", NameGetMetadata, frameBytes(b1[:]), false, 255},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := rawStream(t, p, tc.proto)
			if len(tc.send) > 0 {
				if _, err := s.Write(tc.send); err != nil {
					t.Fatal(err)
				}
			}
			if tc.close {
				_ = s.CloseWrite()
			}
			d, b := cutOff(t, s, 10*idle)
			if d > 3*idle+time.Second {
				t.Errorf("cut off after %v, idle timeout %v", d, idle)
			}
			switch {
			case tc.status == 255:
				if len(b) != 0 {
					t.Errorf("server sent %x to a stalled/broken stream", b)
				}
			case len(b) == 0 || Status(b[0]) != tc.status:
				t.Errorf("server answered %x, want status %v", b, tc.status)
			}
		})
	}
	// The server keeps serving well-behaved peers throughout.
	if err := p.cli.PutMetadata(ctxT(t, 5*time.Second), p.srvHost.ID(), blobID(2), []byte("m")); err != nil {
		t.Fatal(err)
	}
}

// TestStallingPeerDoesNotBlockOthers holds several stalled streams open while
// another client is served, and checks they are all cut off.
func TestStallingPeerDoesNotBlockOthers(t *testing.T) {
	b1 := blobID(1)
	p := newPair(t, nil)
	other := newTestHost(t)
	connect(t, other, p.srvHost)
	cfg := DefaultClientConfig(testNetwork, testParams(t))
	cfg.Timeouts = fastTimeouts()
	good, err := NewClient(other, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var stalled []network.Stream
	for range 8 {
		s := rawStream(t, p, NamePutSlivers)
		// A put-slivers header and half of a large item, then silence.
		hdr := frameBytes(append(b1[:], 1, 0, 0, 0))
		item := binary.BigEndian.AppendUint32(nil, 3+50000)
		if _, err := s.Write(append(append(hdr, item...), make([]byte, 20000)...)); err != nil {
			t.Fatal(err)
		}
		stalled = append(stalled, s)
	}
	ctx := ctxT(t, 10*time.Second)
	for i := range 20 {
		if _, err := good.BlobStatus(ctx, p.srvHost.ID(), blobID(byte(i))); !errors.Is(err, ErrNotFound) {
			t.Fatalf("good client request %d: %v", i, err)
		}
	}
	for _, s := range stalled {
		cutOff(t, s, 10*fastTimeouts().Idle)
	}
}

func TestServerStop(t *testing.T) {
	p := newPair(t, nil)
	ctx := ctxT(t, 10*time.Second)
	if _, err := p.cli.BlobStatus(ctx, p.srvHost.ID(), blobID(1)); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if err := p.srv.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := p.cli.BlobStatus(ctx, p.srvHost.ID(), blobID(1))
	if err == nil || !Retryable(err) {
		t.Fatalf("after Stop: %v", err)
	}
}

// panicky panics on metadata requests for one blob ID.
type panicky struct {
	*memHandler
	boom codec.BlobID
}

func (p panicky) GetMetadata(ctx context.Context, from peer.ID, id codec.BlobID) ([]byte, error) {
	if id == p.boom {
		var m map[string]int
		m["a handler bug"]++ // nil map write: a real runtime panic
	}
	return p.memHandler.GetMetadata(ctx, from, id)
}

// A handler that panics answers that request with an internal error, and
// the server goes on serving.
func TestHandlerPanicIsContained(t *testing.T) {
	p := testParams(t)
	sh, ch := newTestHost(t), newTestHost(t)
	connect(t, ch, sh)
	h := panicky{memHandler: newMemHandler(), boom: blobID(1)}
	cfg := DefaultServerConfig(testNetwork, p)
	cfg.Timeouts = fastTimeouts()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := NewServer(sh, h, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop(context.Background())
	ccfg := DefaultClientConfig(testNetwork, p)
	ccfg.Timeouts = fastTimeouts()
	cli, err := NewClient(ch, ccfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 20*time.Second)
	for range 3 {
		if _, err := cli.GetMetadata(ctx, sh.ID(), blobID(1)); !errors.Is(err, ErrInternal) {
			t.Fatalf("request that panics the handler: %v, want ErrInternal", err)
		}
	}
	if _, err := cli.GetMetadata(ctx, sh.ID(), blobID(2)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the server after a panic: %v, want it still serving (not found)", err)
	}
}

// Idle streams take no slot from a real request: the oldest stream still
// waiting for its request is shed, and the request deadline ends the rest.
func TestAdmissionShedsIdlers(t *testing.T) {
	p := newPair(t, func(c *ServerConfig) {
		c.Admission = AdmissionConfig{PerIP: 1000, PerSubnet: 1000, Outsiders: 4, Reserved: 2}
		c.Timeouts.Request = 2 * time.Second
		c.Timeouts.Idle = 5 * time.Second
	})
	ctx := ctxT(t, 20*time.Second)
	id := blobID(3)
	if err := p.cli.PutMetadata(ctx, p.srvHost.ID(), id, []byte("meta")); err != nil {
		t.Fatal(err)
	}
	var idlers []network.Stream
	for range 8 {
		s, err := p.cliHost.NewStream(ctx, p.srvHost.ID(), ProtocolID(testNetwork, NameGetMetadata))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = s.Write([]byte{0}) // a byte of a frame header, then nothing
		idlers = append(idlers, s)
	}
	time.Sleep(200 * time.Millisecond)
	for i := range 5 {
		if m, err := p.cli.GetMetadata(ctx, p.srvHost.ID(), id); err != nil || string(m) != "meta" {
			t.Fatalf("request %d beside idle streams: %q %v", i, m, err)
		}
	}
	if st := p.srv.AdmissionStats(); st.Shed == 0 {
		t.Fatalf("no idler shed: %+v", st)
	}
	// The request deadline closes the idlers that were not shed.
	start := time.Now()
	buf := make([]byte, 1)
	for _, s := range idlers {
		_ = s.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _ = s.Read(buf)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("idle streams lived %v past the 2 s request deadline", d)
	}
}

// Streams from one address are capped.
func TestAdmissionPerIP(t *testing.T) {
	p := newPair(t, func(c *ServerConfig) {
		c.Admission = AdmissionConfig{PerIP: 3, PerSubnet: 100, Outsiders: 50, Reserved: 10}
		c.Timeouts.Request = 5 * time.Second
	})
	ctx := ctxT(t, 20*time.Second)
	for range 3 {
		s, err := p.cliHost.NewStream(ctx, p.srvHost.ID(), ProtocolID(testNetwork, NameGetMetadata))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = s.Write([]byte{0})
		defer s.Reset()
	}
	time.Sleep(200 * time.Millisecond)
	if _, err := p.cli.GetMetadata(ctx, p.srvHost.ID(), blobID(1)); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("a fourth stream from one address: %v, want rate limited", err)
	}
}

// Invalid requests past the threshold hand the peer to Gate.
func TestInvalidRequestsGate(t *testing.T) {
	var gated atomic.Int32
	p := newPair(t, func(c *ServerConfig) {
		c.GateAfter = 5
		c.Gate = func(peer.ID, time.Duration, string) bool { gated.Add(1); return true }
	})
	ctx := ctxT(t, 20*time.Second)
	for i := 0; i < 8 && gated.Load() == 0; i++ {
		s, err := p.cliHost.NewStream(ctx, p.srvHost.ID(), ProtocolID(testNetwork, NameGetMetadata))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = s.Write(frameBytes([]byte("short")))
		_ = s.CloseWrite()
		_, _ = io.ReadAll(s)
	}
	if gated.Load() == 0 {
		t.Fatalf("not gated; offences %.1f", p.srv.Offences(p.cliHost.ID()))
	}
}

// A peer that does not speak a protocol (an older node) answers a typed
// ErrUnsupported, on which a caller falls back to an older request.
func TestUnsupportedProtocolIsTyped(t *testing.T) {
	p := newPair(t, nil)
	p.srvHost.RemoveStreamHandler(ProtocolID(testNetwork, NameGetRecoveryBatch))
	_, err := p.cli.GetRecoveryBatch(context.Background(), p.srvHost.ID(), RecoveryBatchRequest{
		ID: blobID(1), Type: codec.Primary, Targets: []uint16{1}, Sources: []uint16{2},
	})
	if !errors.Is(err, ErrUnsupported) {
		t.Fatalf("batch to a peer without the protocol: %v, want ErrUnsupported", err)
	}
	// The older request still works there.
	if _, err := p.cli.GetRecoverySymbols(context.Background(), p.srvHost.ID(), RecoveryRequest{
		ID: blobID(1), Target: SliverRef{1, codec.Primary}, Sources: []uint16{2},
	}); err != nil {
		t.Fatalf("single-target request: %v", err)
	}
}
