package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"floe/chainlink"
	"floe/chainlink/account"
	"floe/chainlink/bls"
)

// startLedgerCmd runs `floe ledger serve --faucet` in process on a
// loopback port with 10 shards and epochs on request only, and returns its
// URL and a client holding the test keys (testKey, testBLSKey) and the
// admin token. $FLOE_ADMIN_TOKEN_FILE names the token for `floe ledger
// advance` in the test.
func startLedgerCmd(t *testing.T) (string, *chainlink.Client) {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cmd, _ := newRootCommand()
	cmd.SetArgs([]string{"ledger", "serve", "--listen", addr, "--dir", dir, "--shards", "10", "--epoch", "0", "--faucet"})
	cmd.SetOut(new(bytes.Buffer))
	cmd.SetErr(new(bytes.Buffer))
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("ledger serve did not stop")
		}
	})
	url := "http://" + addr
	probe := chainlink.NewClient(url, nil)
	for i := 0; ; i++ {
		_, err := probe.EpochState(ctx)
		if err == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("ledger serve: %v", err)
		default:
		}
		if i == 200 {
			t.Fatalf("ledger not reachable: %v", err)
		}
		time.Sleep(25 * time.Millisecond)
	}
	tokenPath := filepath.Join(dir, chainlink.AdminTokenFile)
	token, err := chainlink.ReadAdminToken(tokenPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(adminTokenEnv, tokenPath)
	return url, chainlink.NewClient(url, nil, chainlink.ClientKeyring(testKeyring()), chainlink.ClientAdminToken(token))
}

// testKey is test account i's key; testAccount(i) its address.
func testKey(i int) *account.Key {
	seed := sha256.Sum256(fmt.Appendf(nil, "floe/cmd/test/account/%d", i))
	k, err := account.FromSeed(seed[:])
	if err != nil {
		panic(err)
	}
	return k
}

func testAccount(i int) chainlink.ID { return chainlink.AccountID(testKey(i)) }

// testBLSKey is test node i's BLS key.
func testBLSKey(t testing.TB, i int) *bls.SecretKey {
	seed := sha256.Sum256(fmt.Appendf(nil, "floe/cmd/test/bls/%d", i))
	k, err := bls.KeyFromSeed(seed[:])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testKeyring holds testKey(0..99) and testBLSKey(0..19).
func testKeyring() *chainlink.Keyring {
	k := chainlink.NewKeyring()
	for i := range 100 {
		k.AddAccount(testKey(i))
	}
	for i := range 20 {
		k.AddNodeKey(testBLSKey(nil, i))
	}
	return k
}

// testKeyFile writes testKey(i) to a key file (mode 0600) and returns its
// path: what the CLI signs with (--key, --owner-key).
func testKeyFile(t *testing.T, i int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), fmt.Sprintf("account-%d.key", i))
	if err := account.Write(path, testKey(i)); err != nil {
		t.Fatal(err)
	}
	return path
}

// registerTestNode registers a node owned by testAccount(i) with stake.
func registerTestNode(t *testing.T, c chainlink.Chain, i int, name, peerID string, stake uint64) chainlink.Node {
	t.Helper()
	return registerOwnedNode(t, c, i, testAccount(i), name, peerID, stake)
}

func registerOwnedNode(t *testing.T, c chainlink.Chain, i int, owner chainlink.ID, name, peerID string, stake uint64) chainlink.Node {
	t.Helper()
	ctx := context.Background()
	if stake > 0 {
		if _, err := c.Faucet(ctx, owner, stake); err != nil {
			t.Fatal(err)
		}
	}
	k := testBLSKey(t, i)
	es, err := c.EpochState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n, err := c.RegisterNode(ctx, chainlink.RegisterNodeRequest{
		Owner: owner, Name: name, PeerID: peerID, Addresses: []string{"/ip4/127.0.0.1/tcp/1"},
		PublicKey: k.PublicKey(), ProofOfPossession: k.ProofOfPossession(es.Epoch, owner), Stake: stake,
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func balanceOf(t *testing.T, c chainlink.Chain, a chainlink.ID) uint64 {
	t.Helper()
	acct, err := c.Account(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	return acct.Balance
}

// runJSON runs a command with --json and decodes its output into *v,
// zeroed first.
func runJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	reflect.ValueOf(v).Elem().SetZero()
	cmd, _ := newRootCommand()
	var out, errb bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetArgs(append(args, "--json"))
	if err := cmd.Execute(); err != nil {
		t.Fatalf("%v: %v (%s)", args, err, errb.String())
	}
	if err := json.Unmarshal(out.Bytes(), v); err != nil {
		t.Fatalf("%v: output %q: %v", args, out.String(), err)
	}
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := run(t, args...)
	if err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
	return out
}

// TestStakeUnstakeLedgerStatus drains a node as an operator does: a
// delegator stakes and withdraws again, the owner withdraws everything; the
// next committee excludes the node, the change waits for sync reports, and
// the funds arrive at the advance to e+2, not before.
func TestStakeUnstakeLedgerStatus(t *testing.T) {
	url, c := startLedgerCmd(t)
	ctx := context.Background()
	var nodes []chainlink.Node
	for i, s := range []uint64{400, 300, 200, 100} {
		nodes = append(nodes, registerTestNode(t, c, i, fmt.Sprintf("node-%d", i), fmt.Sprintf("peer-%d", i), s))
	}
	if out := mustRun(t, "ledger", "advance", "--ledger", url); strings.TrimSpace(out) != "epoch 1" {
		t.Fatalf("advance: %q", out)
	}
	leaver := nodes[3]
	del, delKey := testAccount(50), testKeyFile(t, 50)

	var r stakeResult
	runJSON(t, &r, "stake", "--ledger", url, "--key", delKey, "--node", leaver.ID.String(), "--amount", "500", "--faucet")
	if r.Action != "stake" || r.Node != leaver.ID || r.Name != "node-3" || r.NodeStake != 600 || r.StakerStake != 500 ||
		r.Balance != 0 || r.Epoch != 1 || r.EffectiveEpoch != 2 {
		t.Fatalf("stake: %+v", r)
	}
	runJSON(t, &r, "unstake", "--ledger", url, "--staker", del.String(), "--key", delKey, "--node", leaver.ID.String(), "--all")
	if r.Action != "unstake" || r.Amount != 500 || r.NodeStake != 100 || r.StakerStake != 0 || r.Balance != 0 ||
		r.Epoch != 1 || r.EffectiveEpoch != 2 || r.CreditEpoch != 3 || r.Pending != 500 || r.LeavesCommittee {
		t.Fatalf("unstake --all: %+v", r)
	}
	// The owner drains the node, in text.
	owner := testAccount(3)
	ownerBal := balanceOf(t, c, owner)
	out := mustRun(t, "unstake", "--ledger", url, "--key", testKeyFile(t, 3), "--node", leaver.ID.String(), "--all")
	for _, want := range []string{"unstaked 100 of " + owner.String(), "leaves the committee at epoch 2",
		"keep it running until epoch 3", "credited to " + owner.String() + " at the advance to epoch 3"} {
		if !strings.Contains(out, want) {
			t.Fatalf("unstake output lacks %q:\n%s", want, out)
		}
	}
	if balanceOf(t, c, owner) != ownerBal || balanceOf(t, c, del) != 0 {
		t.Fatal("unstake credited at once")
	}

	mustRun(t, "ledger", "advance", "--ledger", url) // epoch 2
	c2, err := c.Committee(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if c2.Index(leaver.ID) >= 0 || len(c2.Members) != 3 {
		t.Fatalf("committee of epoch 2 has the drained node: %+v", c2.Members)
	}
	if balanceOf(t, c, owner) != ownerBal || balanceOf(t, c, del) != 0 {
		t.Fatal("withdrawal credited at e+1")
	}
	var st ledgerStatus
	runJSON(t, &st, "ledger", "status", "--ledger", url)
	if st.Epoch.Epoch != 2 || st.Epoch.Phase != chainlink.PhaseChangeSync || st.Epoch.SyncDoneWeight != 0 || st.QuorumWeight != 7 ||
		st.Committee == nil || len(st.Committee.Members) != 3 || len(st.Withdrawals) != 2 {
		t.Fatalf("status in epoch 2: %+v", st)
	}
	for _, w := range st.Withdrawals {
		if w.NodeID != leaver.ID || w.CreditEpoch != 3 || (w.Staker == del) != (w.Amount == 500) {
			t.Fatalf("withdrawal %+v", w)
		}
	}
	for _, m := range st.Committee.Members {
		if m.SyncDone == nil || *m.SyncDone {
			t.Fatalf("member %+v before any report", m)
		}
	}
	// One member reports: the status shows it.
	first := c2.Members[0]
	if err := c.EpochSyncDone(ctx, first.NodeID, 2); err != nil {
		t.Fatal(err)
	}
	out = mustRun(t, "ledger", "status", "--ledger", url)
	for _, want := range []string{"epoch 2, phase change_sync", fmt.Sprintf("sync done: %d of 10 shards reported by 1 members (the change is done at 7)", first.Weight),
		first.NodeID.String(), "done", "pending", "pending withdrawals: 2", del.String()} {
		if !strings.Contains(out, want) {
			t.Fatalf("status lacks %q:\n%s", want, out)
		}
	}
	runJSON(t, &st, "ledger", "status", "--ledger", url)
	if st.Epoch.SyncDoneWeight != first.Weight || len(st.Epoch.SyncDoneNodes) != 1 || !*st.Committee.Members[0].SyncDone {
		t.Fatalf("status after a report: %+v", st)
	}
	// The previous epoch's committee, on request.
	runJSON(t, &st, "ledger", "status", "--ledger", url, "--epoch", "1")
	if st.Committee.Epoch != 1 || len(st.Committee.Members) != 4 || st.Committee.Members[0].SyncDone != nil {
		t.Fatalf("status of epoch 1: %+v", st.Committee)
	}

	mustRun(t, "ledger", "advance", "--ledger", url) // epoch 3: credited
	if balanceOf(t, c, owner) != ownerBal+100 || balanceOf(t, c, del) != 500 {
		t.Fatalf("at e+2: owner +%d, delegator %d", balanceOf(t, c, owner)-ownerBal, balanceOf(t, c, del))
	}
	out = mustRun(t, "ledger", "status", "--ledger", url)
	if !strings.Contains(out, "pending withdrawals: none") || !strings.Contains(out, "committee of epoch 3: 3 members") {
		t.Fatalf("status at e+2:\n%s", out)
	}
}

// writeNodeConfig writes a node.json with `floe node init` into dir.
// The owner is the account of the key file ownerKey.
func writeNodeConfig(t *testing.T, dir, url, ownerKey string) string {
	t.Helper()
	out := mustRun(t, "node", "init", "--dir", dir, "--owner-key", ownerKey, "--ledger", url)
	path, _, _ := strings.Cut(out, "\n") // then the owner key, on stderr
	return path
}

// writeIdentity writes a libp2p identity into dir and returns its peer ID.
func writeIdentity(t *testing.T, dir string) string {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := crypto.MarshalPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "identity.key"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return id.String()
}

// TestStakeNodeConfig finds the node from its node.json: by the peer ID of
// its identity, else by owner and name; the staker and the ledger default
// to the config's.
func TestStakeNodeConfig(t *testing.T) {
	url, c := startLedgerCmd(t)
	ctx := context.Background()
	owner, ownerKey := testAccount(7), testKeyFile(t, 7)
	root := t.TempDir()

	// By peer ID: the chain knows the node under another name.
	dir := filepath.Join(root, "alpha")
	cfg := writeNodeConfig(t, dir, url, ownerKey)
	pid := writeIdentity(t, dir)
	n := registerOwnedNode(t, c, 1, owner, "renamed", pid, 100)
	registerOwnedNode(t, c, 2, owner, "alpha", "peer-other", 100) // owner+name would pick this one
	var r stakeResult
	runJSON(t, &r, "stake", "--node-config", cfg, "--amount", "40", "--faucet")
	if r.Node != n.ID || r.Staker != owner || r.NodeStake != 140 || r.StakerStake != 140 || !strings.HasPrefix(r.FoundBy, "peer ID") {
		t.Fatalf("stake by config: %+v", r)
	}
	// Another staker, from the same config.
	other := testAccount(8)
	runJSON(t, &r, "stake", "--node-config", cfg, "--key", testKeyFile(t, 8), "--amount", "5", "--faucet")
	if r.Node != n.ID || r.Staker != other || r.NodeStake != 145 {
		t.Fatalf("stake by config for another staker: %+v", r)
	}
	runJSON(t, &r, "unstake", "--node-config", cfg, "--amount", "40")
	if r.Node != n.ID || r.NodeStake != 105 || r.StakerStake != 100 || r.CreditEpoch != 2 {
		t.Fatalf("unstake by config: %+v", r)
	}

	// By owner and name: no identity yet.
	dir = filepath.Join(root, "beta")
	cfg = writeNodeConfig(t, dir, url, ownerKey)
	beta := registerOwnedNode(t, c, 3, owner, "beta", "peer-beta", 10)
	runJSON(t, &r, "stake", "--node-config", cfg, "--amount", "1", "--faucet")
	if r.Node != beta.ID || r.NodeStake != 11 || r.FoundBy != "owner and name" {
		t.Fatalf("stake by owner and name: %+v", r)
	}

	// Ambiguous: two nodes of the owner with that name.
	registerOwnedNode(t, c, 4, owner, "beta", "peer-beta-2", 10)
	if _, err := run(t, "stake", "--node-config", cfg, "--amount", "1", "--faucet"); err == nil || !strings.Contains(err.Error(), "give --node") {
		t.Fatalf("ambiguous config: %v", err)
	}
	// Not registered at all.
	cfg = writeNodeConfig(t, filepath.Join(root, "gamma"), url, ownerKey)
	if _, err := run(t, "stake", "--node-config", cfg, "--amount", "1"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("unregistered node: %v", err)
	}
	if got, _ := c.Node(ctx, beta.ID); got.Stake != 11 {
		t.Fatalf("refused commands changed the stake: %d", got.Stake)
	}
}

// TestStakeBadInput: every mistake is one clear line and a failure, and
// nothing changes on the ledger.
func TestStakeBadInput(t *testing.T) {
	url, c := startLedgerCmd(t)
	n := registerTestNode(t, c, 0, "node-0", "peer-0", 100)
	staker, key := testAccount(9), testKeyFile(t, 9)
	ownerKey := testKeyFile(t, 0)
	id := n.ID.String()
	dead := "http://127.0.0.1:" + strconv.Itoa(freePort(t))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"stake", "--ledger", url, "--staker", staker.String(), "--amount", "1"}, "--node NODE_ID or --node-config"},
		{[]string{"stake", "--ledger", url, "--staker", staker.String(), "--node", id, "--node-config", "x.json", "--amount", "1"}, "exclude each other"},
		{[]string{"stake", "--ledger", url, "--staker", staker.String(), "--node", id}, "--amount must be positive"},
		{[]string{"stake", "--ledger", url, "--staker", "0x12", "--key", key, "--node", id, "--amount", "1"}, "--staker"},
		{[]string{"stake", "--ledger", url, "--node", id, "--amount", "1"}, "say whose key signs"},
		{[]string{"stake", "--ledger", url, "--staker", staker.String(), "--node", id, "--amount", "1"}, "say whose key signs"},
		{[]string{"stake", "--ledger", url, "--staker", testAccount(0).String(), "--key", key, "--node", id, "--amount", "1"}, "the signing key is the key of"},
		{[]string{"stake", "--ledger", url, "--key", filepath.Join(t.TempDir(), "nokey"), "--node", id, "--amount", "1"}, "--key"},
		{[]string{"stake", "--ledger", url, "--key", key, "--config", "c.json", "--node", id, "--amount", "1"}, "exclude each other"},
		{[]string{"stake", "--ledger", url, "--key", key, "--node", "nope", "--amount", "1"}, "--node"},
		{[]string{"stake", "--ledger", url, "--key", key, "--node", testAccount(99).String(), "--amount", "1"}, "not found"},
		{[]string{"stake", "--ledger", url, "--key", key, "--node", id, "--amount", "1"}, "insufficient funds"},
		{[]string{"stake", "--ledger", url, "--key", key, "--node", id, "--amount", "-1"}, "invalid argument"},
		{[]string{"stake", "--ledger", dead, "--key", key, "--node", id, "--amount", "1"}, "unavailable"},
		{[]string{"stake", "--node-config", filepath.Join(t.TempDir(), "missing.json"), "--amount", "1"}, "no such file"},
		{[]string{"unstake", "--ledger", url, "--staker", staker.String(), "--node", id}, "--amount N (positive) or --all"},
		{[]string{"unstake", "--ledger", url, "--staker", staker.String(), "--node", id, "--all", "--amount", "3"}, "exclude each other"},
		{[]string{"unstake", "--ledger", url, "--key", key, "--node", id, "--all"}, "no stake"},
		{[]string{"unstake", "--ledger", url, "--key", ownerKey, "--node", id, "--amount", "101"}, "insufficient funds"},
		{[]string{"ledger", "status", "--ledger", url, "--epoch", "7"}, "not found"},
		{[]string{"ledger", "status", "--ledger", dead}, "unavailable"},
	} {
		out, err := run(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %v (output %q), want one line containing %q", tc.args, err, out, tc.want)
		}
	}
	if got, _ := c.Node(context.Background(), n.ID); got.Stake != 100 || got.Withdrawals != nil {
		t.Fatalf("refused commands changed the node: %+v", got)
	}
	// The status of a new ledger: no committee yet.
	out := mustRun(t, "ledger", "status", "--ledger", url)
	if !strings.Contains(out, "epoch 0, phase change_done") || !strings.Contains(out, "no committee in epoch 0") {
		t.Fatalf("status of a new ledger:\n%s", out)
	}
}

// TestUnstakeExitStatus: the binary exits non-zero with one "floe: " line.
func TestUnstakeExitStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the floe binary")
	}
	url, c := startLedgerCmd(t)
	n := registerTestNode(t, c, 0, "node-0", "peer-0", 100)
	cmd := exec.Command(floeBinary(t), "unstake", "--ledger", url, "--key", testKeyFile(t, 5), "--node", n.ID.String(), "--all")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v", err)
	}
	if s := strings.TrimSpace(stderr.String()); strings.Count(s, "\n") != 0 || !strings.HasPrefix(s, "floe: ") || !strings.Contains(s, "no stake") || stdout.Len() != 0 {
		t.Fatalf("stderr %q, stdout %q", stderr.String(), stdout.String())
	}
}
