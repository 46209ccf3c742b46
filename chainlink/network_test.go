package chainlink

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"

	"floe/chainlink/bls"
)

func testNetworkKey(t *testing.T) []byte {
	t.Helper()
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u := k.PublicKey().Bytes()
	return append([]byte{2 | u[64]&1}, u[1:33]...)
}

// A node's REST API record (network_address, network_public_key) survives
// a restart and reaches the committee; a record written before the fields
// existed still loads (without them); a corrupt one is refused.
func TestNodeNetworkInfoPersists(t *testing.T) {
	ctx := context.Background()
	ds := NewMemDatastore()
	l, err := Open(ctx, ds, WithShards(testShards), WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	owner := acct(1)
	if _, err := l.Faucet(ctx, owner, 1000); err != nil {
		t.Fatal(err)
	}
	seed := bytes.Repeat([]byte{7}, 32)
	key, err := bls.KeyFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	netKey := testNetworkKey(t)
	n, err := l.RegisterNode(ctx, RegisterNodeRequest{Owner: owner, Name: "n", PeerID: "peer", Addresses: []string{"/ip4/127.0.0.1/tcp/1"},
		PublicKey: key.PublicKey(), ProofOfPossession: key.ProofOfPossession(0, owner), Stake: 100,
		NetworkAddress: "https://127.0.0.1:9185", NetworkPublicKey: netKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.AdvanceEpoch(ctx); err != nil {
		t.Fatal(err)
	}
	l.Close()

	l, err = Open(ctx, ds, WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	got, err := l.Node(ctx, n.ID)
	if err != nil || got.NetworkAddress != "https://127.0.0.1:9185" || !bytes.Equal(got.NetworkPublicKey, netKey) {
		t.Fatalf("after a restart: %+v %v", got, err)
	}
	c, err := l.Committee(ctx, 1)
	if err != nil || len(c.Members) != 1 || c.Members[0].NetworkAddress != got.NetworkAddress || !bytes.Equal(c.Members[0].NetworkPublicKey, netKey) {
		t.Fatalf("committee: %+v %v", c, err)
	}
	// The committee shows the node's current record.
	netKey2 := testNetworkKey(t)
	if _, err := l.UpdateNode(ctx, UpdateNodeRequest{Owner: owner, NodeID: n.ID, PeerID: "peer", Addresses: got.Addresses,
		NetworkAddress: "https://[::1]:443", NetworkPublicKey: netKey2}); err != nil {
		t.Fatal(err)
	}
	if c, err = l.Committee(ctx, 1); err != nil || c.Members[0].NetworkAddress != "https://[::1]:443" || !bytes.Equal(c.Members[0].NetworkPublicKey, netKey2) {
		t.Fatalf("committee after the update: %+v %v", c, err)
	}
	// The JSON names Walrus uses.
	b, _ := json.Marshal(c.Members[0])
	if !bytes.Contains(b, []byte(`"network_address":"https://[::1]:443"`)) || !bytes.Contains(b, []byte(`"network_public_key":"`)) {
		t.Fatalf("member JSON %s", b)
	}
	l.Close()

	editNode := func(edit func(m map[string]any)) { editRecord(t, ds, keyID(prefNode, n.ID), edit) }
	// An older record: neither field.
	editNode(func(m map[string]any) { delete(m, "network_address"); delete(m, "network_public_key") })
	l, err = Open(ctx, ds, WithLogger(quietLogger()))
	if err != nil {
		t.Fatalf("a record without the REST fields: %v", err)
	}
	if got, err := l.Node(ctx, n.ID); err != nil || got.NetworkAddress != "" || got.NetworkPublicKey != nil {
		t.Fatalf("old record: %+v %v", got, err)
	}
	l.Close()
	// An address without a key.
	editNode(func(m map[string]any) { m["network_address"] = "https://127.0.0.1:1" })
	if _, err := Open(ctx, ds, WithLogger(quietLogger())); err == nil || !strings.Contains(err.Error(), "corrupt node") {
		t.Fatalf("an address without a key: %v", err)
	}
}

func TestCheckNetworkInfo(t *testing.T) {
	k := testNetworkKey(t)
	for _, ok := range []struct {
		addr string
		key  []byte
	}{{"", nil}, {"", k}, {"https://127.0.0.1:1", k}, {"https://node.example:9185", k}, {"https://[2001:db8::1]:443", k}} {
		if err := CheckNetworkInfo(ok.addr, ok.key); err != nil {
			t.Errorf("%q %x: %v", ok.addr, ok.key, err)
		}
	}
	for _, bad := range []string{"https://127.0.0.1", "https://:1", "https://h:0", "https://h:65536", "https://h:1/", "https://h:1?x",
		"https://h:1#f", "http://h:1", "h:1", "https://h :1", "https://" + strings.Repeat("a", 260) + ":1"} {
		if err := CheckNetworkInfo(bad, k); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if err := CheckNetworkInfo("https://h:1", nil); err == nil {
		t.Error("an address without a key")
	}
	for _, bad := range [][]byte{k[:32], append(k, 0), append([]byte{4}, k[1:]...), make([]byte, 33)} {
		if err := CheckNetworkInfo("", bad); err == nil {
			t.Errorf("key %x accepted", bad)
		}
	}
}
