package p2p

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"floe/codec"
)

// TestMisbehavingServer checks that the client cuts off a server that sends
// garbage, oversized frames or nothing, within its deadlines.
func TestMisbehavingServer(t *testing.T) {
	p := testParams(t)
	sh, ch := newTestHost(t), newTestHost(t)
	connect(t, ch, sh)
	cfg := DefaultClientConfig(testNetwork, p)
	cfg.Timeouts = fastTimeouts()
	cli, err := NewClient(ch, cfg)
	if err != nil {
		t.Fatal(err)
	}
	idle := cfg.Timeouts.Idle
	b1, b5 := blobID(1), blobID(5)
	for _, tc := range []struct {
		name  string
		proto string
		reply []byte
		stall bool
		want  error
	}{
		{"unknown status", NameGetMetadata, []byte{77}, false, ErrProtocol},
		{"oversized answer", NameGetMetadata, []byte{0, 0x7f, 0xff, 0xff, 0xff}, false, ErrProtocol},
		{"oversized status message", NameGetMetadata, []byte{1, 0, 0, 0x10, 0}, false, ErrProtocol},
		{"truncated answer", NameGetMetadata, []byte{0, 0, 0, 0, 9, 1}, false, ErrProtocol},
		{"trailing bytes", NameBlobStatus, []byte{0, 0, 0, 0, 1, 'x', 'y'}, false, ErrProtocol},
		{"silence", NameGetMetadata, nil, true, ErrTimeout},
		{"stall mid-answer", NameGetMetadata, []byte{0, 0, 0, 0, 9, 1}, true, ErrTimeout},
		{"sync out of order", NameSyncShard, append(append(append([]byte{0}, appendFrame(nil, encodeSyncHeader(2, true))...),
			appendFrame(nil, append(b5[:], 1))...), appendFrame(nil, append(b1[:], 1))...), false, ErrProtocol},
		{"sync more than asked", NameSyncShard, append([]byte{0}, appendFrame(nil, encodeSyncHeader(99, true))...), false, ErrProtocol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sh.SetStreamHandler(ProtocolID(testNetwork, tc.proto), func(s network.Stream) {
				_, _ = io.ReadAll(s)
				_, _ = s.Write(tc.reply)
				if tc.stall {
					time.Sleep(10 * idle)
					_ = s.Reset()
					return
				}
				_ = s.Close()
			})
			start := time.Now()
			ctx := ctxT(t, 30*time.Second)
			switch tc.proto {
			case NameGetMetadata:
				_, err = cli.GetMetadata(ctx, sh.ID(), b1)
			case NameBlobStatus:
				_, err = cli.BlobStatus(ctx, sh.ID(), b1)
			case NameSyncShard:
				_, err = cli.SyncShard(ctx, sh.ID(), NewSyncRequest([48]byte{}, codec.SyncShardRequest{Shard: 1, Type: codec.Primary, Count: 4}, func([]byte) (s [96]byte) { return s }))
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if d := time.Since(start); d > 3*idle+time.Second {
				t.Fatalf("client took %v", d)
			}
		})
	}
}

func TestProtocolIDs(t *testing.T) {
	ids := ProtocolIDs("devnet")
	if len(ids) != 10 || ids[0] != "/floe/devnet/get-metadata/1" || ids[8] != "/floe/devnet/node-status/1" || ids[9] != "/floe/devnet/get-recovery-batch/1" {
		t.Fatal(ids)
	}
	if err := ValidateNetwork("dev/net"); err == nil {
		t.Fatal("slash accepted in a network name")
	}
}

func TestLimitsFor(t *testing.T) {
	p, _ := codec.NewParams(1000)
	l := LimitsFor(p)
	if l.MaxMetadata != 32+1+8+5+66*1000 || l.MaxItems != 2000 || l.MaxSliver[codec.Primary] != p.MaxSliverSize(codec.Primary)+16 {
		t.Fatalf("%+v", l)
	}
	if l.MaxSyncBytes < l.maxSliver() {
		t.Fatal("a sync batch cannot hold the largest sliver")
	}
}
