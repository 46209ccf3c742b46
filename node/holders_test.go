package node

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"floe/chainlink"
	"floe/codec"
	"floe/p2p"
)

// A member that fails a request is asked again, up to maxHolderFailures
// failures; a member that lies is dropped at once.
func TestPairPlanFailures(t *testing.T) {
	p, err := codec.NewParams(10)
	if err != nil {
		t.Fatal(err)
	}
	pp := newPairPlan(p, codec.BlobID{1}, nil)
	slow, liar := chainlink.ID{1}, chainlink.ID{2}
	for k := 1; k < maxHolderFailures; k++ {
		if pp.failed(slow, errors.New("stream reset")) || pp.skip[slow] {
			t.Fatalf("dropped after %d failures", k)
		}
	}
	if !pp.failed(slow, context.DeadlineExceeded) || !pp.skip[slow] {
		t.Fatalf("not dropped after %d failures", maxHolderFailures)
	}
	if !pp.failed(liar, fmt.Errorf("pair 3: %w", errLied)) || !pp.skip[liar] {
		t.Fatal("a liar was not dropped at once")
	}
}

func TestRetryPause(t *testing.T) {
	start := time.Now()
	if err := retryPause(context.Background(), 0); err != nil || time.Since(start) < 250*time.Millisecond {
		t.Fatalf("first pause: %v after %v", err, time.Since(start))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := retryPause(ctx, 10); !errors.Is(err, context.Canceled) {
		t.Fatalf("pause on a cancelled context: %v", err)
	}
}

// A recovery-symbols request names all of a holder's sources for small
// blobs and few enough for a blob of gigabytes that the holder's work per
// request stays bounded.
func TestRecoverySourcesPerRequest(t *testing.T) {
	p, err := codec.NewParams(1000)
	if err != nil {
		t.Fatal(err)
	}
	if k := recoverySourcesPerRequest(p, 1<<20); k < p.NShards {
		t.Errorf("1 MiB: %d sources a request, want all (%d)", k, p.NShards)
	}
	for _, size := range []uint64{1 << 30, 4 << 30, p.MaxBlobSize()} {
		k := recoverySourcesPerRequest(p, size)
		s, _ := p.SymbolSize(size)
		if k < 1 || int64(k)*int64(p.NShards*s) > recoveryExpansionPerRequest && k > 1 {
			t.Errorf("%d bytes: %d sources of %d-byte expansions a request", size, k, p.NShards*s)
		}
	}
}

// Every recovery batch a node builds is one its holders accept: within the
// protocol's symbol count and the answer bytes a holder allows, and its
// symbols within the requester's own bound, whatever the blob size and
// committee.
func TestRecoveryBatchShapes(t *testing.T) {
	for _, shards := range []int{4, 10, 100, 1000} {
		p, err := codec.NewParams(shards)
		if err != nil {
			t.Fatal(err)
		}
		l := p2p.LimitsFor(p)
		for _, size := range []uint64{1, 1 << 10, 1 << 20, 64 << 20, 1 << 30, p.MaxBlobSize()} {
			sym := recoverySymbolBytes(p, size)
			for _, typ := range []codec.SliverType{codec.Primary, codec.Secondary} {
				per := recoveryTargetsPerBatch(p, size, typ)
				if held := per * p.RecoverySymbolsNeeded(typ) * sym; per > 1 && held > recoveryBatchBytes {
					t.Fatalf("n=%d size=%d %s: %d targets hold %d bytes of symbols", shards, size, typ, per, held)
				}
				for _, targets := range []int{1, 7, min(per, shards), shards} {
					targets = min(targets, per, shards)
					k := recoverySourcesPerBatch(p, size, targets)
					req := p2p.RecoveryBatchRequest{Type: typ, Targets: make([]uint16, targets), Sources: make([]uint16, min(k, shards))}
					if err := req.Check(l); err != nil {
						t.Fatalf("n=%d size=%d %s %d targets: %d sources: %v", shards, size, typ, targets, k, err)
					}
					if b := req.Symbols() * sym; b > p2p.MaxRecoveryBatchBytes {
						t.Fatalf("n=%d size=%d %s %d targets: %d sources answer %d bytes", shards, size, typ, targets, k, b)
					}
				}
			}
		}
	}
}
