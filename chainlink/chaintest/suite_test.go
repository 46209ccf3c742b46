package chaintest

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/ipfs/go-datastore"

	"floe/chainlink"
)

func quiet() chainlink.Option { return chainlink.WithLogger(slog.New(slog.DiscardHandler)) }

// ledgerEnv is the embedded ledger in process on an in-memory datastore;
// Restart closes it and reopens it on the same datastore.
type ledgerEnv struct {
	ds   datastore.Batching
	opts []chainlink.Option
	l    *chainlink.Ledger
}

func newLedgerEnv(t *testing.T, opts ...chainlink.Option) Env {
	e := &ledgerEnv{ds: chainlink.NewMemDatastore(), opts: append(opts, quiet())}
	e.open(t)
	t.Cleanup(func() { e.l.Close() })
	return e
}

func (e *ledgerEnv) open(t testing.TB) {
	t.Helper()
	l, err := chainlink.Open(context.Background(), e.ds, e.opts...)
	if err != nil {
		t.Fatalf("open ledger: %v", err)
	}
	e.l = l
}

func (e *ledgerEnv) Chain() chainlink.Chain { return e.l }

func (e *ledgerEnv) Restart(t testing.TB) {
	t.Helper()
	before, err := e.l.Digest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.l.Close(); err != nil {
		t.Fatal(err)
	}
	e.open(t)
	after, err := e.l.Digest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if before != after {
		t.Fatalf("state digest %s before restart, %s after", before, after)
	}
}

// httpEnv is the same ledger behind the HTTP service (what `floe ledger
// serve` runs), used only through chainlink.Client. Restart stops the
// service and the ledger and starts both again on the same address, so the
// same client reconnects.
type httpEnv struct {
	ledgerEnv
	addr   string
	hc     *http.Client
	client *chainlink.Client
	cancel context.CancelFunc
	done   chan error
}

func newHTTPEnv(t *testing.T, opts ...chainlink.Option) Env {
	e := &httpEnv{ledgerEnv: ledgerEnv{ds: chainlink.NewMemDatastore(), opts: append(append(opts, quiet()), ServiceOptions()...)}}
	e.open(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	e.serve(ln)
	e.hc = &http.Client{Transport: &http.Transport{}}
	e.client = NewClient("http://"+e.addr, e.hc)
	e.client.EventWait = 2 * time.Second
	t.Cleanup(func() { e.stop(t) })
	return e
}

func (e *httpEnv) serve(ln net.Listener) {
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan error, 1)
	go func() { e.done <- chainlink.ServeListener(ctx, ln, e.l) }()
}

func (e *httpEnv) stop(t testing.TB) {
	t.Helper()
	if e.cancel == nil {
		return
	}
	e.l.Close() // wakes long-polls first
	e.cancel()
	if err := <-e.done; err != nil {
		t.Errorf("serve: %v", err)
	}
	e.cancel = nil
	e.hc.CloseIdleConnections()
}

func (e *httpEnv) Chain() chainlink.Chain { return e.client }

func (e *httpEnv) Restart(t testing.TB) {
	t.Helper()
	e.stop(t)
	// The service is down: the client says so with ErrUnavailable.
	if _, err := e.client.EpochState(context.Background()); !errors.Is(err, chainlink.ErrUnavailable) {
		t.Fatalf("client with the service down: %v", err)
	}
	e.open(t)
	var ln net.Listener
	var err error
	for range 50 { // the port may linger briefly
		if ln, err = net.Listen("tcp", e.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("listen again on %s: %v", e.addr, err)
	}
	e.serve(ln)
}

func TestLedgerConformance(t *testing.T) {
	t.Parallel()
	Run(t, newLedgerEnv)
}

func TestHTTPConformance(t *testing.T) {
	t.Parallel()
	Run(t, newHTTPEnv)
}

// serveEnv runs the exact function behind `floe ledger serve`:
// chainlink.Serve on a loopback address with its state in a pebble
// directory. Restart stops the service and serves the same directory on the
// same address again.
type serveEnv struct {
	addr, dir string
	opts      []chainlink.Option
	hc        *http.Client
	client    *chainlink.Client
	cancel    context.CancelFunc
	done      chan error
}

func newServeEnv(t *testing.T, opts ...chainlink.Option) Env {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &serveEnv{addr: ln.Addr().String(), dir: t.TempDir(), opts: append(append(opts, quiet()), ServiceOptions()...)}
	ln.Close()
	e.hc = &http.Client{Transport: &http.Transport{}}
	e.client = NewClient("http://"+e.addr, e.hc)
	e.client.EventWait = 2 * time.Second
	e.start(t)
	t.Cleanup(func() { e.stop(t) })
	return e
}

func (e *serveEnv) start(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan error, 1)
	go func() { e.done <- chainlink.Serve(ctx, e.addr, e.dir, e.opts...) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := e.client.EpochState(context.Background())
		if err == nil {
			return
		}
		select {
		case err := <-e.done:
			t.Fatalf("serve: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("service on %s not ready: %v", e.addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *serveEnv) stop(t testing.TB) {
	t.Helper()
	if e.cancel == nil {
		return
	}
	e.cancel()
	if err := <-e.done; err != nil {
		t.Errorf("serve: %v", err)
	}
	e.cancel = nil
	e.client.CloseIdleConnections()
}

func (e *serveEnv) Chain() chainlink.Chain { return e.client }

func (e *serveEnv) Restart(t testing.TB) {
	t.Helper()
	e.stop(t)
	e.start(t)
}

func TestServeConformance(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("pebble on disk per subtest")
	}
	Run(t, newServeEnv)
}
