package p2p

import (
	"bytes"

	"errors"
	"io"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"floe/codec"
)

// fuzzLimits are the limits of a 10-shard committee with a small sliver
// bound, so the fuzzer can reach the edges.
func fuzzLimits(t testing.TB) Limits {
	l := LimitsFor(testParams(t))
	l.MaxSliver = [2]int{300, 200}
	l.MaxRecoverySymbol = 100
	l.MaxSyncItems = 8
	return l
}

func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{0, 0, 0, 3, 1, 2, 3}, 10)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, 1<<30)
	f.Add([]byte{0, 0, 0}, 10)
	f.Add([]byte{0, 0x50, 0, 0, 1}, 1<<30)
	f.Fuzz(func(t *testing.T, in []byte, max int) {
		if max < 0 {
			max = -max
		}
		b, err := readFrame(bytes.NewReader(in), max)
		if err != nil {
			return
		}
		if len(b) > max || !bytes.Equal(appendFrame(nil, b), in[:4+len(b)]) {
			t.Fatalf("frame of %d bytes from %x", len(b), in)
		}
	})
}

func FuzzDecodeBlobID(f *testing.F) {
	f.Add(make([]byte, 32))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, in []byte) {
		id, err := decodeBlobID(in)
		if err == nil && !bytes.Equal(encodeBlobID(id), in) {
			t.Fatal("not canonical")
		}
	})
}

func FuzzDecodeConfirmationRequest(f *testing.F) {
	f.Add(ConfirmationRequest{ID: blobID(1)}.encode())
	f.Add(ConfirmationRequest{ID: blobID(1), Persistence: codec.BlobPersistence{Deletable: true, ObjectID: codec.ObjectID{3}}}.encode())
	f.Add(append(make([]byte, 32), 2))
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := decodeConfirmationRequest(in)
		if err == nil && !bytes.Equal(r.encode(), in) {
			t.Fatalf("not canonical: %x", in)
		}
	})
}

func FuzzDecodeSliversRequest(f *testing.F) {
	f.Add(SliversRequest{ID: blobID(1), Items: []SliverRef{{1, codec.Primary}, {9, codec.Secondary}}}.encode())
	f.Add(append(make([]byte, 32), 0xff, 0xff, 0xff, 0xff))
	f.Add(append(make([]byte, 32), 1, 0, 0, 0, 10, 0, 0))
	f.Fuzz(func(t *testing.T, in []byte) {
		l := fuzzLimits(t)
		r, err := decodeSliversRequest(in, l)
		if err != nil {
			return
		}
		if len(r.Items) > l.MaxItems || !bytes.Equal(r.encode(), in) {
			t.Fatalf("bad decode of %x", in)
		}
		seen := map[SliverRef]bool{}
		for _, it := range r.Items {
			if seen[it] {
				t.Fatalf("duplicate %v accepted", it)
			}
			seen[it] = true
		}
	})
}

// The chunked, reserving frame reader returns what the plain one does,
// never reserves more than the frame's length, and holds no more than it
// reserved.
func FuzzReadFrameBodyReserving(f *testing.F) {
	f.Add([]byte{1, 2, 3}, 3)
	f.Add(make([]byte, 3<<20), 3<<20)
	f.Add([]byte{9}, 5)
	f.Fuzz(func(t *testing.T, in []byte, n int) {
		if n < 0 || n > 4<<20 {
			return
		}
		reserved := 0
		got, err := readFrameBodyReserving(bytes.NewReader(in), n, func(k int) error { reserved += k; return nil }, func(int) {})
		want, werr := readFrameBody(bytes.NewReader(in), n)
		if (err == nil) != (werr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("reserving reader: %d bytes, %v; plain: %d bytes, %v", len(got), err, len(want), werr)
		}
		if reserved > n {
			t.Fatalf("reserved %d for a frame of %d", reserved, n)
		}
		if err == nil && cap(got) > reserved && n > 0 {
			t.Fatalf("a buffer of %d bytes for %d reserved", cap(got), reserved)
		}
	})
}

func FuzzDecodePutSliversHeader(f *testing.F) {
	f.Add(putSliversHeader{ID: blobID(1), Count: 3}.encode())
	f.Add(append(make([]byte, 32), 0xff, 0xff, 0xff, 0x7f))
	f.Fuzz(func(t *testing.T, in []byte) {
		l := fuzzLimits(t)
		h, err := decodePutSliversHeader(in, l)
		if err != nil {
			return
		}
		if h.Count < 1 || h.Count > l.MaxItems || !bytes.Equal(h.encode(), in) {
			t.Fatalf("bad decode of %x", in)
		}
	})
}

func FuzzDecodeSliverItem(f *testing.F) {
	f.Add([]byte{3, 0, 0, 1, 2, 3})
	f.Add([]byte{3, 0, 1})
	f.Add(append([]byte{0, 0, 0}, make([]byte, 301)...))
	f.Fuzz(func(t *testing.T, in []byte) {
		l := fuzzLimits(t)
		s, err := decodeSliverItem(in, l)
		if err != nil {
			return
		}
		h := encodeSliverItemHeader(s.SliverRef)
		if len(s.Data) > l.MaxSliver[s.Type] || int(s.Pair) >= l.Params.NShards || !bytes.Equal(append(h[:], s.Data...), in) {
			t.Fatalf("bad decode of %x", in)
		}
	})
}

func FuzzDecodeRecoveryRequest(f *testing.F) {
	f.Add(RecoveryRequest{ID: blobID(2), Target: SliverRef{4, codec.Secondary}, Sources: []uint16{0, 1, 9}}.encode())
	f.Add(append(make([]byte, 35), 0xff, 0xff, 0xff, 0xff))
	f.Fuzz(func(t *testing.T, in []byte) {
		l := fuzzLimits(t)
		r, err := decodeRecoveryRequest(in, l)
		if err != nil {
			return
		}
		if len(r.Sources) > l.Params.NShards || !bytes.Equal(r.encode(), in) {
			t.Fatalf("bad decode of %x", in)
		}
	})
}

func FuzzDecodeRecoveryBatchRequest(f *testing.F) {
	f.Add(RecoveryBatchRequest{ID: blobID(2), Type: codec.Primary, Targets: []uint16{4, 5}, Sources: []uint16{0, 1, 9}}.encode())
	f.Add(append(make([]byte, 33), 0xff, 0xff, 0xff, 0xff))
	f.Add(append(append(make([]byte, 33), 1, 0, 0, 0, 3, 0), 0xff, 0xff, 0xff, 0x7f))
	f.Fuzz(func(t *testing.T, in []byte) {
		l := fuzzLimits(t)
		r, err := decodeRecoveryBatchRequest(in, l)
		if err != nil {
			return
		}
		if r.Check(l) != nil || r.Symbols() > l.MaxBatchSymbols || !bytes.Equal(r.encode(), in) {
			t.Fatalf("bad decode of %x", in)
		}
	})
}

func FuzzDecodeSyncRequest(f *testing.F) {
	noSig := func([]byte) (s [96]byte) { return s }
	f.Add(NewSyncRequest([48]byte{7}, codec.SyncShardRequest{Shard: 3, Type: codec.Secondary, Epoch: 9, Count: 4}, noSig).encode())
	f.Add(NewSyncRequest([48]byte{}, codec.SyncShardRequest{Shard: 3, Start: blobID(5), Count: 8}, noSig).encode())
	f.Add(make([]byte, syncRequestSize))
	f.Fuzz(func(t *testing.T, in []byte) {
		l := fuzzLimits(t)
		r, err := decodeSyncRequest(in, l)
		if err != nil {
			return
		}
		if r.Request.Count > uint64(l.MaxSyncItems) || int(r.Request.Shard) >= l.Params.NShards || !bytes.Equal(r.encode(), in) {
			t.Fatalf("bad decode of %x", in)
		}
	})
}

func FuzzDecodeSyncHeader(f *testing.F) {
	f.Add(encodeSyncHeader(3, true), 4)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0}, 8)
	f.Fuzz(func(t *testing.T, in []byte, limit int) {
		n, done, err := decodeSyncHeader(in, limit)
		if err != nil {
			return
		}
		if n > limit || !bytes.Equal(encodeSyncHeader(n, done), in) {
			t.Fatalf("bad decode of %x", in)
		}
	})
}

func FuzzDecodeSyncItem(f *testing.F) {
	f.Add(append(make([]byte, 32), 1, 2, 3))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, in []byte) {
		it, err := decodeSyncItem(in, 100)
		if err != nil {
			return
		}
		if len(it.Data) > 100 || !bytes.Equal(append(it.ID[:], it.Data...), in) {
			t.Fatalf("bad decode of %x", in)
		}
	})
}

// fakeStream is a network.Stream reading from a byte slice, for fuzzing the
// client's response decoders without a host.
type fakeStream struct {
	network.Stream
	r io.Reader
}

func (s *fakeStream) Read(b []byte) (int, error)       { return s.r.Read(b) }
func (s *fakeStream) Write(b []byte) (int, error)      { return len(b), nil }
func (s *fakeStream) SetReadDeadline(time.Time) error  { return nil }
func (s *fakeStream) SetWriteDeadline(time.Time) error { return nil }
func (s *fakeStream) SetDeadline(time.Time) error      { return nil }
func fakeConn(in []byte) frameConn {
	return frameConn{s: &fakeStream{r: bytes.NewReader(in)}, t: DefaultTimeouts()}
}

// FuzzReadResults fuzzes the decoder of every response: a status, then
// per-item statuses and frames.
func FuzzReadResults(f *testing.F) {
	ok := appendFrame([]byte{0, 0}, []byte("abc"))
	f.Add(append(ok, appendStatus(nil, StatusNotFound, "gone", maxItemMessage)...), 2)
	f.Add([]byte{9}, 1)
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff}, 1)
	f.Add([]byte{0, 0, 0, 0, 0, 0x10}, 1)
	f.Fuzz(func(t *testing.T, in []byte, n int) {
		n = min(max(n, 0), 64)
		c := fakeConn(in)
		peerErr, err := c.readStatus(maxStatusMessage)
		if err != nil || peerErr != nil {
			if err != nil && !errors.Is(err, ErrProtocol) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		res, err := readResults(c, n, func(int) int { return 50 })
		if err != nil {
			return
		}
		for _, r := range res {
			if len(r.Data) > 50 {
				t.Fatal("item over its limit")
			}
			if r.Err != nil && !errors.Is(r.Err, ErrNotFound) && !errors.Is(r.Err, ErrInvalidRequest) &&
				!errors.Is(r.Err, ErrRateLimited) && !errors.Is(r.Err, ErrInternal) {
				t.Fatalf("unmapped item error %v", r.Err)
			}
		}
	})
}
