package syncsvc

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/testground/sdk-go/runtime"
	"github.com/testground/sdk-go/sync"
	"go.uber.org/zap"
)

// The server against sdk-go's own sync client (the one every plan
// instance uses): barriers, signals, publish and subscribe, and the state
// keys the runner's schedule watches.
func TestWithSDKClient(t *testing.T) {
	srv := New(nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	t.Setenv(sync.EnvServiceHost, "127.0.0.1")
	t.Setenv(sync.EnvServicePort, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))

	rp := &runtime.RunParams{TestRun: "r1", TestPlan: "floe", TestCase: "smoke"}
	ctx, cancel := context.WithTimeout(sync.WithRunParams(context.Background(), rp), 20*time.Second)
	defer cancel()
	a, err := sync.NewGenericClient(ctx, zap.NewNop().Sugar())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := sync.NewGenericClient(ctx, zap.NewNop().Sugar())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	// A barrier on a state another client signals.
	bar, err := a.Barrier(ctx, "ready", 2)
	if err != nil {
		t.Fatal(err)
	}
	for want := int64(1); want <= 2; want++ {
		seq, err := b.SignalEntry(ctx, "ready")
		if err != nil {
			t.Fatal(err)
		}
		if seq != want {
			t.Fatalf("signal %d: seq %d", want, seq)
		}
	}
	select {
	case err := <-bar.C:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("barrier never released")
	}
	// The key sdk-go gives the state is the one the runner watches.
	if n := srv.Count("run:r1:plan:floe:case:smoke:states:ready"); n != 2 {
		t.Fatalf("server counts %d entries of the state, want 2", n)
	}

	// A barrier that is not reached yet stays closed.
	early, err := a.Barrier(ctx, "ready", 3)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-early.C:
		t.Fatalf("barrier at 3 released at 2 entries (err %v)", err)
	case <-time.After(200 * time.Millisecond):
	}

	// Publish and subscribe, in order, including what was published
	// before the subscription.
	type msg struct{ N int }
	topic := sync.NewTopic("t", &msg{})
	if _, err := b.Publish(ctx, topic, &msg{N: 1}); err != nil {
		t.Fatal(err)
	}
	ch := make(chan *msg, 4)
	if _, err := a.Subscribe(ctx, topic, ch); err != nil {
		t.Fatal(err)
	}
	for n := 2; n <= 3; n++ {
		seq, err := b.Publish(ctx, topic, &msg{N: n})
		if err != nil {
			t.Fatal(err)
		}
		if seq != int64(n) {
			t.Fatalf("publish %d: seq %d", n, seq)
		}
	}
	for want := 1; want <= 3; want++ {
		select {
		case m := <-ch:
			if m.N != want {
				t.Fatalf("message %d, want %d", m.N, want)
			}
		case <-ctx.Done():
			t.Fatalf("message %d never came", want)
		}
	}

	// The runner's side: WaitState ends when the state is signalled.
	done := make(chan error, 1)
	go func() { done <- srv.WaitState(ctx, "run:r1:plan:floe:case:smoke:states:ready", 3) }()
	srv.Signal("run:r1:plan:floe:case:smoke:states:ready")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-early.C:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("barrier at 3 not released by the runner's signal")
	}
}
