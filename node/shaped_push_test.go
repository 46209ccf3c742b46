package node

import (
	"context"
	"errors"
	"testing"
)

// The push window lets pushWindowStart large parts out at once until it
// has measured the uplink, then as many as the measured aggregate rate
// feeds at the servers' floor; small parts never wait.
func TestPushWindow(t *testing.T) {
	var w pushWindow
	ctx := context.Background()
	done, cancel := context.WithCancel(ctx)
	cancel()
	large := 8 * pushSmallPart

	var held []*pushTicket
	for range pushWindowStart {
		tk, err := w.acquire(ctx, large)
		if err != nil || tk == nil {
			t.Fatalf("slot %d: %v %v", len(held), tk, err)
		}
		held = append(held, tk)
	}
	if _, err := w.acquire(done, large); !errors.Is(err, context.Canceled) {
		t.Fatalf("a large part past the window: %v, want to wait", err)
	}
	if tk, err := w.acquire(done, pushSmallPart); err != nil || tk != nil {
		t.Fatalf("a small part: %v %v, want no slot and no wait", tk, err)
	}
	held[0].release(false)
	tk, err := w.acquire(ctx, large)
	if err != nil {
		t.Fatalf("after a release: %v", err)
	}
	held[0] = tk

	// A 20 Mbit/s uplink (2.5 MB/s) feeds four parts at the 512 KiB/s
	// floor; a 100 Mbit/s one more than ten.
	w.mu.Lock()
	w.observeLocked(2.5e6)
	got20 := w.limit
	w.rate = 0
	w.observeLocked(12.5e6)
	got100 := w.limit
	w.rate = 0
	w.observeLocked(100e3)
	gotSlow := w.limit
	w.mu.Unlock()
	if got20 != 4 || got100 != 23 || gotSlow != 1 {
		t.Fatalf("windows for 2.5 MB/s, 12.5 MB/s, 100 kB/s: %d, %d, %d; want 4, 23, 1", got20, got100, gotSlow)
	}
	for _, tk := range held {
		tk.release(false)
	}
}
