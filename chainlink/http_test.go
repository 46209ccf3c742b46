package chainlink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-datastore"
)

// overHTTP runs the ledger behind the HTTP service on loopback and hands
// the suite the HTTP client.
func overHTTP(t *testing.T, opts ...Option) *harness {
	ds := NewMemDatastore()
	opts = append(append(opts, WithLogger(quietLogger())), serviceOptions()...)
	srv := startHTTP(t, ds, "127.0.0.1:0", opts...)
	client := testClient("http://" + srv.addr)
	client.EventWait = 2 * time.Second
	h := &harness{chain: client, base: "http://" + srv.addr}
	h.restart = func(t *testing.T) Chain {
		srv.stop(t)
		srv = startHTTP(t, ds, srv.addr, opts...)
		// A mutation sent on a connection the old server was closing
		// fails with ErrUnavailable (its fate unknown to the client); a
		// process that restarts the ledger drops those connections.
		client.CloseIdleConnections()
		return client
	}
	h.digest = func(t *testing.T) string {
		d, err := srv.l.Digest(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		stored, _, err := StateDigest(context.Background(), ds)
		if err != nil {
			t.Fatal(err)
		}
		return d + " " + stored
	}
	t.Cleanup(func() { srv.stop(t) })
	return h
}

type httpServer struct {
	addr   string
	l      *Ledger
	cancel context.CancelFunc
	done   chan error
}

func startHTTP(t *testing.T, ds datastore.Batching, addr string, opts ...Option) *httpServer {
	t.Helper()
	l, err := Open(context.Background(), ds, opts...)
	if err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	for i := 0; ; i++ {
		ln, err = net.Listen("tcp", addr)
		if err == nil || i == 50 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &httpServer{addr: ln.Addr().String(), l: l, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- ServeListener(ctx, ln, l) }()
	return s
}

func (s *httpServer) stop(t *testing.T) {
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	// Close the ledger first so long-polls return and shutdown is quick.
	s.l.Close()
	if err := <-s.done; err != nil {
		t.Errorf("serve: %v", err)
	}
}

func TestHTTP(t *testing.T) { suite(t, overHTTP) }

// Malformed requests get a 4xx with a message and change nothing, signed
// by the account they name or not.
func TestHTTPMalformed(t *testing.T) {
	ds := NewMemDatastore()
	srv := startHTTP(t, ds, "127.0.0.1:0", append(serviceOptions(), WithLogger(quietLogger()), WithShards(testShards))...)
	defer srv.stop(t)
	base := "http://" + srv.addr
	ctx := context.Background()
	// Some state first.
	c := testClient(base)
	if _, err := c.Faucet(ctx, acct(1), 1000); err != nil {
		t.Fatal(err)
	}
	before, _, _ := StateDigest(ctx, ds)
	id := acct(1).String()
	big := `{"address":"` + id + `","amount":1,"x":"` + strings.Repeat("a", maxRequestBody) + `"}`
	const (
		unsigned = iota
		byAccount
	)
	for _, tc := range []struct {
		method, path, body string
		sign               int
		status             int
	}{
		{"POST", "/v1/faucet", `{`, unsigned, 400},
		{"POST", "/v1/faucet", `{"address":"` + id + `","amount":1,"extra":1}`, unsigned, 400},
		{"POST", "/v1/faucet", `{"address":"` + id + `","amount":1} {}`, unsigned, 400},
		{"POST", "/v1/faucet", `{"address":"0x12","amount":1}`, unsigned, 400},
		{"POST", "/v1/faucet", `{"address":"` + id + `","amount":-1}`, unsigned, 400},
		{"POST", "/v1/faucet", `{"address":"` + id + `","amount":0}`, unsigned, 400},
		{"POST", "/v1/faucet", big, unsigned, 400},
		{"GET", "/v1/accounts/zz", "", unsigned, 400},
		{"GET", "/v1/accounts/" + acct(2).String(), "", unsigned, 404},
		{"GET", "/v1/committees/x", "", unsigned, 400},
		{"GET", "/v1/committees/0", "", unsigned, 404},
		{"GET", "/v1/blob-status/notablobid", "", unsigned, 400},
		{"GET", "/v1/events?after=-1", "", unsigned, 400},
		{"GET", "/v1/events?wait=1h", "", unsigned, 400},
		{"GET", "/v1/events?limit=0", "", unsigned, 400},
		{"POST", "/v1/blobs", `{"owner":"` + id + `","blob_id":"AAAA"}`, byAccount, 400},
		{"POST", "/v1/blobs", `{"owner":"` + id + `","encoding_type":1,"size":5,"epochs_ahead":1}`, byAccount, 422},
		{"POST", "/v1/blobs", `{"owner":"` + id + `","encoding_type":1,"size":5,"epochs_ahead":1}`, unsigned, 401},
		{"POST", "/v1/blobs/" + id + "/certify", `{"signature":"00","signers":"","message":""}`, unsigned, 400},
		{"POST", "/v1/blobs/" + id + "/certify", `{}`, unsigned, 404},
		{"POST", "/v1/invalidate", `{"message":"AQID"}`, unsigned, 400},
		{"POST", "/v1/nodes", `{"owner":"` + id + `","peer_id":"p","public_key":"` + strings.Repeat("00", 48) + `"}`, byAccount, 422},
		{"POST", "/v1/nodes", `{"owner":"` + id + `","peer_id":"p","public_key":"` + strings.Repeat("00", 48) + `"}`, unsigned, 401},
		// Signed by an account, not by the node (which does not exist).
		{"POST", "/v1/nodes/" + id + "/update", `{"owner":"` + id + `","node_id":"` + acct(3).String() + `","peer_id":"p"}`, byAccount, 401},
		{"POST", "/v1/stake", `{"staker":"` + id + `","node":"` + id + `","amount":5}`, byAccount, 404},
		{"POST", "/v1/unstake", `{"staker":"` + id + `","node":"` + id + `","amount":0}`, byAccount, 400},
		{"POST", "/v1/storage", `{"owner":"` + id + `","size":1,"epochs_ahead":100}`, byAccount, 422},
		{"POST", "/v1/storage", `{"owner":"` + id + `","size":1,"epochs_ahead":1}`, unsigned, 401},
		{"POST", "/v1/storage", `{"owner":"` + id + `","size":1,"epochs_ahead":1}`, byAccount, 200}, // the one valid request: costs 100
		{"POST", "/v1/blobs/" + id + "/delete", `{"owner":"` + id + `"}`, byAccount, 404},
		{"POST", "/v1/blobs/" + id + "/extend", `{"payer":"` + id + `","epochs":0}`, byAccount, 400},
		{"POST", "/v1/epoch/sync-done", `{"node":"` + id + `","epoch":0}`, byAccount, 401},
		{"POST", "/v1/epoch/advance", ``, unsigned, 401},
		{"DELETE", "/v1/epoch", "", unsigned, 405},
		{"GET", "/v1/nope", "", unsigned, 404},
	} {
		var req *http.Request
		if tc.sign == byAccount {
			req = signedRequest(t, base, SchemeAccount, acct(1), acctSigner(acctKey(1)), tc.method, tc.path, []byte(tc.body), time.Now().Add(time.Minute))
		} else {
			req, _ = http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s %.60q: status %d, want %d: %s", tc.method, tc.path, tc.body, resp.StatusCode, tc.status, body)
		}
		if tc.status >= 400 && tc.status != 405 && !strings.Contains(string(body), `"error"`) && tc.path != "/v1/nope" {
			t.Errorf("%s %s: no error message: %s", tc.method, tc.path, body)
		}
		if tc.status == 200 {
			before, _, _ = StateDigest(ctx, ds) // the valid request changes state
		}
	}
	after, _, _ := StateDigest(ctx, ds)
	if before != after {
		t.Fatal("malformed requests changed the state")
	}
	// Errors come back as the same sentinels.
	if _, err := c.Account(ctx, acct(77)); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "account") {
		t.Fatalf("remote not found: %v", err)
	}
}

func TestServeRefusesNonLoopback(t *testing.T) {
	err := Serve(context.Background(), "0.0.0.0:0", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("non-loopback listen: %v", err)
	}
}

// Serve as `floe ledger serve` runs it: on disk, stopped by its context,
// state kept for the next start.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	run := func(f func(c *Client)) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- Serve(ctx, addr, dir, append(serviceOptions(), WithLogger(quietLogger()), WithShards(testShards))...)
		}()
		c := testClient("http://" + addr)
		for i := 0; ; i++ {
			if _, err := c.EpochState(ctx); err == nil {
				break
			} else if i > 200 {
				t.Fatal(err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		f(c)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	run(func(c *Client) {
		if _, err := c.Faucet(context.Background(), acct(1), 42); err != nil {
			t.Fatal(err)
		}
	})
	run(func(c *Client) {
		a, err := c.Account(context.Background(), acct(1))
		if err != nil || a.Balance != 42 {
			t.Fatalf("after restart: %+v %v", a, err)
		}
	})
	_ = fmt.Sprint()
}
