package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"floe/chainlink"
	"floe/chainlink/account"
	"floe/codec"
	"floe/node"
	"floe/node/gateway"
)

// TestDevnetSuiSim runs a devnet on the Sui stand-in (`floe devnet
// --chain sui-sim`): its nodes and clients reach the chain only through
// chainlink/sui over gRPC. `floe store` registers and certifies a blob
// with Walrus transactions, `floe read` reads it back, the gateway
// stores and reads another, and the chain's event stream (from
// checkpoints) shows the blob's registration and certification.
func TestDevnetSuiSim(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a swarm")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	d, err := node.StartDevnet(ctx, node.DevnetConfig{Nodes: 4, Shards: 10, Dir: dir, Chain: node.DevnetSuiSim, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if d.SuiRPC() == "" || d.LedgerURL() != "" {
		t.Fatalf("sui-sim devnet: rpc %q, ledger %q", d.SuiRPC(), d.LedgerURL())
	}
	// The client config names the Sui chain, not a ledger.
	b, err := os.ReadFile(d.ClientConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	var cc node.ClientConfig
	if err := json.Unmarshal(b, &cc); err != nil {
		t.Fatal(err)
	}
	if !cc.Chain.IsSui() || cc.Chain.RPC != d.SuiRPC() || cc.Ledger != "" || cc.Chain.Validate() != nil {
		t.Fatalf("client config %s", b)
	}

	for _, bad := range []*node.ChainConfig{{Kind: "sui"}, {Kind: "eth"}, {Kind: "sui", RPC: "127.0.0.1:1", SystemObject: cc.Chain.SystemObject}} {
		if err := bad.Validate(); !errors.Is(err, node.ErrConfig) {
			t.Errorf("chain config %+v: %v", bad, err)
		}
	}

	data := bytes.Repeat([]byte("floe on the sui stand-in "), 4000)
	file := filepath.Join(t.TempDir(), "blob.bin")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runSplit(t, "store", "--config", d.ClientConfigPath(), "--epochs", "2", file)
	if err != nil {
		t.Fatalf("floe store: %v\n%s", err, stderr)
	}
	id, err := codec.ParseBlobID(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("store printed %q: %v", out, err)
	}
	got, stderr, err := runSplit(t, "read", "--config", d.ClientConfigPath(), id.String())
	if err != nil {
		t.Fatalf("floe read: %v\n%s", err, stderr)
	}
	if !bytes.Equal([]byte(got), data) {
		t.Fatalf("read %d bytes, stored %d", len(got), len(data))
	}
	// Through the nodes' REST APIs, found and pinned from their Sui
	// records: the REST URL rides in network_address, the key is the
	// pool's network_public_key.
	got, stderr, err = runSplit(t, "read", "--config", d.ClientConfigPath(), "--transport", "rest", id.String())
	if err != nil {
		t.Fatalf("floe read --transport rest: %v\n%s", err, stderr)
	}
	if !bytes.Equal([]byte(got), data) {
		t.Fatalf("read --transport rest: %d bytes, stored %d", len(got), len(data))
	}

	// The gateway on the same config: PUT /v1/blobs stores through the Sui
	// adapter, GET /v1/blobs/{id} reads it back.
	gctx, gcancel := context.WithCancel(ctx)
	var gout bytes.Buffer
	wait, err := startGateway(gctx, d.ClientConfig(), "127.0.0.1:0", "--gateway", false, gateway.Config{Logger: slog.New(slog.DiscardHandler)}, &gout)
	if err != nil {
		gcancel()
		t.Fatal(err)
	}
	base := strings.TrimSpace(strings.TrimPrefix(strings.SplitN(gout.String(), "\n", 2)[0], "gateway: "))
	gwData := []byte("through the gateway, on the sui stand-in")
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, base+"/v1/blobs?epochs=1", bytes.NewReader(gwData))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		gcancel()
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var put struct {
		NewlyCreated *struct {
			BlobObject struct {
				BlobID string `json:"blobId"`
			} `json:"blobObject"`
		} `json:"newlyCreated"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &put) != nil || put.NewlyCreated == nil {
		gcancel()
		t.Fatalf("gateway PUT: %d %s", resp.StatusCode, body)
	}
	resp, err = http.Get(base + "/v1/blobs/" + put.NewlyCreated.BlobObject.BlobID)
	if err != nil {
		gcancel()
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	gcancel()
	if err := wait(); err != nil {
		t.Errorf("gateway: %v", err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, gwData) {
		t.Fatalf("gateway GET: %d %q", resp.StatusCode, body)
	}

	// `floe node run` with "chain": {"kind": "sui"} in its config: a fifth
	// node funds itself at the stand-in's faucet and registers with
	// register_candidate + stake_with_pool through the Sui adapter.
	ndir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(ndir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	owner, _, err := account.LoadOrCreate(filepath.Join(ndir, "data", node.OwnerKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	ncfg := node.Config{Name: "sui-node", Network: "devnet", DataDir: "data", Listen: []string{"/ip4/127.0.0.1/tcp/0"},
		Bootstrap: cc.Bootstrap, Owner: chainlink.AccountID(owner), Stake: 500_000, Faucet: true, Chain: cc.Chain, StoreMemTable: 8 << 20}
	if err := node.WriteJSON(filepath.Join(ndir, "node.json"), ncfg); err != nil {
		t.Fatal(err)
	}
	nctx, ncancel := context.WithCancel(ctx)
	cmd, _ := newRootCommand()
	cmd.SetArgs([]string{"node", "run", "--config", filepath.Join(ndir, "node.json")})
	var nout syncBuffer
	cmd.SetOut(&nout)
	cmd.SetErr(io.Discard)
	ran := make(chan error, 1)
	go func() { ran <- cmd.ExecuteContext(nctx) }()
	var registered *chainlink.Node
	for registered == nil || !strings.Contains(nout.String(), "serving on") {
		nodes, err := d.Ledger.Nodes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range nodes {
			if nodes[i].Owner == ncfg.Owner {
				registered = &nodes[i]
			}
		}
		if registered == nil && strings.Contains(nout.String(), "serving on") {
			ncancel()
			t.Fatal("the node serves but is not registered on the stand-in's ledger")
		}
		select {
		case err := <-ran:
			ncancel()
			t.Fatalf("floe node run ended: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	ncancel()
	if err := <-ran; err != nil {
		t.Fatalf("floe node run: %v", err)
	}
	// The record as it is now: the one read above may predate the stake
	// (a second transaction on Sui) when "serving on" came meanwhile.
	if n, err := d.Ledger.Node(ctx, registered.ID); err != nil {
		t.Fatal(err)
	} else {
		registered = &n
	}
	if registered.Name != "sui-node" || registered.Stake != 500_000 || registered.PeerID == "" || len(registered.Addresses) == 0 {
		t.Fatalf("registered %+v", registered)
	}

	// The stand-in's ledger agrees, and a Sui client's event stream (from
	// checkpoints) carries the registration and the certification.
	st, err := d.Ledger.BlobStatus(ctx, id)
	if err != nil || !st.Certified() {
		t.Fatalf("ledger status %+v %v", st, err)
	}
	sc, err := dialSui(ctx, cc.Chain, slog.New(slog.DiscardHandler), "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	// The committee as a Sui client maps it names each node's REST API.
	es, err := sc.EpochState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	com, err := sc.Committee(ctx, es.Epoch)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range com.Members {
		for _, n := range d.Nodes() {
			if n != nil && n.ID() == m.NodeID && (m.NetworkAddress != n.RESTURL() || !bytes.Equal(m.NetworkPublicKey, n.NetworkPublicKey()) || n.RESTURL() == "") {
				t.Fatalf("member %s on Sui names REST API %q key %x; the node serves %q with %x", m.NodeID, m.NetworkAddress, m.NetworkPublicKey, n.RESTURL(), n.NetworkPublicKey())
			}
		}
		if slices.ContainsFunc(m.Addresses, func(a string) bool { return strings.HasSuffix(a, "/https") }) {
			t.Fatalf("member %s: the REST multiaddr is left in its libp2p addresses %v", m.NodeID, m.Addresses)
		}
		// and so does the stand-in's ledger.
		if ln, err := d.Ledger.Node(ctx, m.NodeID); err != nil || ln.NetworkAddress != m.NetworkAddress || !bytes.Equal(ln.NetworkPublicKey, m.NetworkPublicKey) ||
			!slices.Equal(ln.Addresses, m.Addresses) {
			t.Fatalf("the stand-in's record of %s: %+v %v; on Sui %+v", m.NodeID, ln, err, m)
		}
	}
	s, err := sc.Events(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	seen := map[chainlink.EventType]bool{}
	for !seen[chainlink.EventBlobCertified] {
		rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
		e, err := s.Next(rctx)
		rcancel()
		if err != nil {
			t.Fatalf("events: %v (seen %v)", err, seen)
		}
		if e.BlobID == id || e.BlobID == (codec.BlobID{}) {
			seen[e.Type] = true
		}
	}
	if !seen[chainlink.EventNodeRegistered] || !seen[chainlink.EventEpochChangeStart] || !seen[chainlink.EventBlobRegistered] {
		t.Fatalf("events seen: %v", seen)
	}
}
