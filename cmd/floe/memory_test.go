package main

import (
	"io"
	"log/slog"
	"runtime/debug"
	"testing"

	"floe/node"
)

// Under GOMEMLIMIT a node's Go heap gets the limit less what the node
// holds outside it, and libp2p's limits scale from the operator's figure
// (not from the lowered one); without GOMEMLIMIT nothing changes.
func TestBoundNodeMemory(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	before := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(before)

	t.Setenv("GOMEMLIMIT", "")
	cfg := node.Config{StoreMemTable: 8 << 20}
	if got := boundNodeMemory(cfg, log); got.MaxMemory != 0 || debug.SetMemoryLimit(-1) != before {
		t.Fatalf("without GOMEMLIMIT: max_memory %d, Go limit %d (was %d)", got.MaxMemory, debug.SetMemoryLimit(-1), before)
	}

	const limit = 768 << 20
	t.Setenv("GOMEMLIMIT", "768MiB")
	debug.SetMemoryLimit(limit)
	got := boundNodeMemory(cfg, log)
	if got.MaxMemory != limit {
		t.Fatalf("max_memory %d, want GOMEMLIMIT's %d", got.MaxMemory, limit)
	}
	// 64 MiB block cache, two 8 MiB memtables, sending budget 96 MiB.
	outside := got.OutsideGoHeap()
	if outside != (64+16+96)<<20 {
		t.Fatalf("outside the Go heap: %d MiB, want 176", outside>>20)
	}
	if goLimit := debug.SetMemoryLimit(-1); goLimit != limit-outside {
		t.Fatalf("Go limit %d MiB, want %d", goLimit>>20, (limit-outside)>>20)
	}

	// A limit too small for the outside share keeps half for Go.
	debug.SetMemoryLimit(200 << 20)
	boundNodeMemory(node.Config{}, log)
	if goLimit := debug.SetMemoryLimit(-1); goLimit != 100<<20 {
		t.Fatalf("Go limit %d MiB under GOMEMLIMIT=200MiB, want 100", goLimit>>20)
	}
}
