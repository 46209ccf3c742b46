package sui

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"testing"

	blst "github.com/supranational/blst/bindings/go"

	"floe/chainlink"
	"floe/chainlink/bls"
	"floe/codec"
)

func TestBase58(t *testing.T) {
	for _, s := range []string{"Cxuiw6PzsqtFuTq8yBW9XakhSunwe1pi78tLu66MfPRd", "11111111111111111111111111111111"} {
		d, err := ParseDigest(s)
		if err != nil {
			t.Fatal(err)
		}
		if d.String() != s {
			t.Errorf("%s round-trips to %s", s, d)
		}
	}
	var zero Digest
	if zero.String() != "11111111111111111111111111111111" {
		t.Errorf("zero digest %s", zero)
	}
	for _, bad := range []string{"", "0OIl", "abc", strings.Repeat("z", 65), "2"} {
		if _, err := ParseDigest(bad); err == nil {
			t.Errorf("ParseDigest(%q) succeeded", bad)
		}
	}
}

func TestTypeTag(t *testing.T) {
	for in, want := range map[string]string{
		"0x2::coin::Coin<0x356a26eb9e012a68958082340d4c4116e7f55615cf27affcff209cf0ae544f59::wal::WAL>": "0x0000000000000000000000000000000000000000000000000000000000000002::coin::Coin<0x356a26eb9e012a68958082340d4c4116e7f55615cf27affcff209cf0ae544f59::wal::WAL>",
		"vector<u8>": "vector<u8>",
		"u256":       "u256",
		"0x1::option::Option<vector<0x2::object::ID>>": "0x0000000000000000000000000000000000000000000000000000000000000001::option::Option<vector<0x0000000000000000000000000000000000000000000000000000000000000002::object::ID>>",
		"0x2::dynamic_field::Field<u64, 0x3::a::B>":    "0x0000000000000000000000000000000000000000000000000000000000000002::dynamic_field::Field<u64, 0x0000000000000000000000000000000000000000000000000000000000000003::a::B>",
	} {
		tt, err := ParseTypeTag(in)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if tt.String() != want {
			t.Errorf("%s → %s, want %s", in, tt, want)
		}
		var e encoder
		tt.encode(&e)
		d := newDecoder(e.bytes())
		var back TypeTag
		back.decode(d, 0)
		if err := d.done(); err != nil || back.String() != want {
			t.Errorf("%s: BCS round trip: %v %s", in, err, back)
		}
	}
	for _, bad := range []string{"", "u7", "vector<u8", "0x2::coin", "0x2::9coin::C", "0xzz::a::B", "0x2::a::B<>", "u8 u8",
		strings.Repeat("vector<", 20) + "u8" + strings.Repeat(">", 20)} {
		if _, err := ParseTypeTag(bad); err == nil {
			t.Errorf("ParseTypeTag(%q) succeeded", bad)
		}
	}
}

func TestEncodedBlobLength(t *testing.T) {
	for _, n := range []int{4, 7, 10, 100, 1000} {
		p, err := codec.NewParams(n)
		if err != nil {
			t.Fatal(err)
		}
		for _, size := range []uint64{0, 1, 2, 17, 1000, 1 << 20, 1_000_000, 13_000_001, 1 << 30} {
			want, err := p.EncodedLength(size)
			if err != nil {
				continue // beyond the codec's maximum blob
			}
			got, err := EncodedBlobLength(size, n)
			if err != nil || got != want {
				t.Errorf("n=%d size=%d: %d (%v), codec %d", n, size, got, err, want)
			}
		}
	}
	if _, err := EncodedBlobLength(1, 3); err == nil {
		t.Error("3 shards accepted")
	}
	if _, _, _, err := (Prices{NShards: 10, StoragePrice: 1 << 62}).Costs(1<<40, 1000); !errors.Is(err, chainlink.ErrBadRequest) {
		t.Errorf("cost overflow: %v", err)
	}
}

func TestNetworkAddress(t *testing.T) {
	const peer = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"
	addrs := []string{"/ip4/10.0.0.1/tcp/9185", "/ip4/10.0.0.1/udp/9185/quic-v1", "/dns4/node0.floe.example/tcp/9185"}
	s, err := FormatNetworkAddress(peer, addrs)
	if err != nil {
		t.Fatal(err)
	}
	if s != "/ip4/10.0.0.1/tcp/9185/p2p/"+peer+" /ip4/10.0.0.1/udp/9185/quic-v1 /dns4/node0.floe.example/tcp/9185" {
		t.Errorf("formatted %q", s)
	}
	gotPeer, gotAddrs := ParseNetworkAddress(s)
	if gotPeer != peer || !slices.Equal(gotAddrs, addrs) {
		t.Errorf("parsed %q %v", gotPeer, gotAddrs)
	}
	// Too many addresses: the ones that do not fit are left out.
	many := []string{"/ip4/10.0.0.1/tcp/9185"}
	for i := range 20 {
		many = append(many, "/dns4/node"+strings.Repeat("x", 10)+string(rune('a'+i))+".example/tcp/9185")
	}
	s, err = FormatNetworkAddress(peer, many)
	if err != nil || len(s) > MaxNetworkAddressLength {
		t.Fatalf("%d bytes, %v", len(s), err)
	}
	if _, got := ParseNetworkAddress(s); !slices.Equal(got, many[:len(got)]) || len(got) < 2 {
		t.Errorf("kept %v", got)
	}
	for _, bad := range [][]string{nil, {"not a multiaddr"}, {"/ip4/1.2.3.4/tcp/1/p2p/" + peer}, {"/ip4/01.2.3.4/tcp/1"}} {
		if _, err := FormatNetworkAddress(peer, bad); err == nil {
			t.Errorf("FormatNetworkAddress(%v) succeeded", bad)
		}
	}
	if _, err := FormatNetworkAddress("not-a-peer", addrs); err == nil {
		t.Error("a bad peer ID was accepted")
	}
	// Walrus nodes' host:port.
	for in, want := range map[string]string{
		"walrus-node-1.example.com:9185": "/dns4/walrus-node-1.example.com/tcp/9185/https",
		"127.0.0.1:8080":                 "/ip4/127.0.0.1/tcp/8080/https",
		"[2001:db8::1]:443":              "/ip6/2001:db8::1/tcp/443/https",
	} {
		p, a := ParseNetworkAddress(in)
		if p != "" || !slices.Equal(a, []string{want}) {
			t.Errorf("%s → %q %v, want %s", in, p, a, want)
		}
	}
	for _, odd := range []string{"", "host", "host:0", "host:99999", ":80", "/ip4/1.2.3.4/tcp/1", "/garbage", "/p2p/" + peer} {
		if p, a := ParseNetworkAddress(odd); p != "" || a != nil {
			t.Errorf("%q → %q %v", odd, p, a)
		}
	}
}

func TestNetworkPublicKey(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NetworkPublicKey(&k.PublicKey)
	if err != nil || len(b) != NetworkPublicKeySize {
		t.Fatal(len(b), err)
	}
	back, err := ParseNetworkPublicKey(b)
	if err != nil || !back.Equal(&k.PublicKey) {
		t.Fatalf("round trip: %v", err)
	}
	bad := bytes.Clone(b)
	bad[0] = 0x04
	if _, err := ParseNetworkPublicKey(bad); !errors.Is(err, ErrNetworkKey) {
		t.Errorf("bad prefix: %v", err)
	}
	if _, err := ParseNetworkPublicKey(b[:32]); !errors.Is(err, ErrNetworkKey) {
		t.Errorf("short key: %v", err)
	}
}

func TestMapAbort(t *testing.T) {
	walrus := mustAddress("0x1234")
	other := mustAddress("0x99")
	for _, c := range []struct {
		pkg      Address
		module   string
		function string
		code     uint64
		want     error
	}{
		{walrus, "blob", "certify_with_certified_msg", 5, chainlink.ErrAlreadyCertified},
		{walrus, "blob", "new", 6, chainlink.ErrBlobIDMismatch},
		{walrus, "blob", "certify_with_certified_msg", 6, chainlink.ErrMessageMismatch},
		{walrus, "bls_aggregate", "verify_certificate", 2, chainlink.ErrQuorum},
		{walrus, "system_state_inner", "certify_blob", 3, chainlink.ErrWrongEpoch},
		{walrus, "staking_inner", "epoch_sync_done", 2, chainlink.ErrSyncDone},
		{walrus, "staking_inner", "voting_end", 0, ErrEpochNotOver},
		{walrus, "staking_pool", "withdraw_stake", 11, ErrNotWithdrawable},
		{SuiFramework, "balance", "split", 2, chainlink.ErrInsufficientFunds},
	} {
		err := MapAbort(c.pkg, c.module, c.function, c.code, walrus)
		if !errors.Is(err, c.want) {
			t.Errorf("%s::%s %d: %v, want %v", c.module, c.function, c.code, err, c.want)
		}
	}
	// Unknown codes and other packages map to nothing but still say what
	// aborted.
	for _, err := range []*MoveAbortError{MapAbort(walrus, "blob", "x", 99, walrus), MapAbort(other, "blob", "x", 5, walrus)} {
		if err.Unwrap() != nil || !strings.Contains(err.Error(), "Move abort") {
			t.Errorf("%v unwraps to %v", err, err.Unwrap())
		}
	}
	var e *EpochNotOverError = &EpochNotOverError{Epoch: 3}
	if !errors.Is(e, ErrEpochNotOver) {
		t.Error("EpochNotOverError is not ErrEpochNotOver")
	}
	if !errors.Is(ErrNoFaucet, chainlink.ErrFaucetDisabled) || !errors.Is(ErrIndexBehind, chainlink.ErrUnavailable) || !errors.Is(ErrNoNetworkKey, chainlink.ErrNoKey) {
		t.Error("sentinels do not wrap chainlink's")
	}
}

func TestCompressG1(t *testing.T) {
	sk, err := bls.KeyFromSeed(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	pk := sk.PublicKey()
	u, err := UncompressG1(pk)
	if err != nil || len(u) != G1UncompressedSize {
		t.Fatal(len(u), err)
	}
	back, err := CompressG1(u)
	if err != nil || back != pk {
		t.Fatalf("round trip: %v", err)
	}
	u[95] ^= 1
	if _, err := CompressG1(u); !errors.Is(err, chainlink.ErrInvalidPublicKey) {
		t.Errorf("a point off the curve: %v", err)
	}
	if _, err := CompressG1(make([]byte, 96)); err == nil {
		t.Error("zero bytes accepted")
	}
}

// TestMappingFromSamples maps the SDK's committee samples onto chainlink:
// their keys came from @noble/curves, so this also checks the uncompressed
// → compressed conversion against another implementation.
func TestMappingFromSamples(t *testing.T) {
	f := loadSamples(t)
	var (
		sys   *SystemStateInnerV1
		st    *StakingInnerV1
		pools = map[Address]*StakingPool{}
		infos []*StorageNodeInfo
	)
	for _, s := range f.Samples {
		b := unhex(t, s.BCS)
		var err error
		switch s.Name {
		case "system_state_inner":
			sys, err = UnmarshalSystemStateInnerV1(b)
		case "staking_inner/params_selected":
			st, err = UnmarshalStakingInnerV1(b)
		case "staking_pool/active", "staking_pool/withdrawing", "staking_pool/withdrawn":
			var p *StakingPool
			p, err = UnmarshalStakingPool(b)
			if err == nil {
				pools[p.ID] = p
			}
		case "storage_node_info/floe", "storage_node_info/walrus":
			var n *StorageNodeInfo
			n, err = UnmarshalStorageNodeInfo(b)
			infos = append(infos, n)
		}
		if err != nil {
			t.Fatal(s.Name, err)
		}
	}
	// The samples have three pools; the fourth member's info is a copy.
	for _, m := range sys.Committee.Members {
		if pools[m.NodeID] == nil {
			p := *pools[sys.Committee.Members[0].NodeID]
			p.ID = m.NodeID
			p.NodeInfo.PublicKey = m.PublicKey
			p.NodeInfo.NextEpochPublicKey = nil
			pools[m.NodeID] = &p
		}
	}
	c, err := CommitteeOf(st, sys, pools, st.Epoch)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Members) != 4 || c.NShards != 1000 {
		t.Fatalf("committee %+v", c)
	}
	total := 0
	for i, m := range c.Members {
		if i > 0 && c.Members[i-1].NodeID.Compare(m.NodeID) >= 0 {
			t.Error("members not in node ID order")
		}
		if err := m.PublicKey.Validate(); err != nil {
			t.Errorf("member %d: %v", i, err)
		}
		total += m.Weight
	}
	if total != 1000 {
		t.Errorf("weights sum to %d", total)
	}
	if _, err := c.Verifier(); err != nil {
		t.Errorf("verifier: %v", err)
	}
	// The aggregate key the SDK wrote is the sum of the members' keys.
	var sum blst.P1Aggregate
	for _, m := range c.Members {
		sum.Add(new(blst.P1Affine).Uncompress(m.PublicKey[:]), false)
	}
	if !bytes.Equal(sum.ToAffine().Compress(), sys.Committee.TotalAggregatedKey) {
		t.Error("the total aggregated key is not the sum of the members' keys")
	}
	for _, e := range []uint32{st.Epoch - 1, st.Epoch + 1} {
		if _, err := CommitteeOf(st, sys, pools, e); err != nil {
			t.Errorf("epoch %d: %v", e, err)
		}
	}
	if _, err := CommitteeOf(st, sys, pools, st.Epoch+2); !errors.Is(err, chainlink.ErrNotFound) {
		t.Errorf("epoch +2: %v", err)
	}
	// A floe node's and a Walrus node's identity.
	if p, a := ParseNetworkAddress(infos[0].NetworkAddress); p == "" || len(a) != 1 {
		t.Errorf("floe node: %q %v", p, a)
	}
	if p, a := ParseNetworkAddress(infos[1].NetworkAddress); p != "" || len(a) != 1 || !strings.HasSuffix(a[0], "/https") {
		t.Errorf("Walrus node: %q %v", p, a)
	}
	es := EpochStateOf(sys, st)
	if es.Epoch != st.Epoch || es.Phase != chainlink.PhaseChangeDone || es.MaxEpochsAhead != 3 || es.StoragePricePerUnit != sys.StoragePricePerUnitSize {
		t.Errorf("epoch state %+v", es)
	}
}

// TestPTBRules checks the SDK rules the fixtures do not all reach.
func TestPTBRules(t *testing.T) {
	wal, _ := StructType("0x356a26eb9e012a68958082340d4c4116e7f55615cf27affcff209cf0ae544f59::wal::WAL")
	sys := SharedObject{ObjectID: mustAddress("0x5"), InitialSharedVersion: 9}
	// A shared object used only by & stays immutable; one & and one &mut
	// use make it mutable.
	var p ptb
	a := p.sharedByID(sys)
	p.moveCall(SuiFramework, "m", "f", nil, []Argument{a}, []paramRef{byImmRef})
	if _, err := p.build(Address{}, GasData{}, nil); err != nil || p.inputs[0].arg.Shared.Mutable {
		t.Fatalf("immutable use: %v %v", err, p.inputs[0].arg.Shared.Mutable)
	}
	p = ptb{}
	a = p.sharedByID(sys)
	p.moveCall(SuiFramework, "m", "f", nil, []Argument{a}, []paramRef{byImmRef})
	p.moveCall(SuiFramework, "m", "g", nil, []Argument{p.sharedByID(sys)}, []paramRef{byMutRef})
	if _, err := p.build(Address{}, GasData{}, nil); err != nil || len(p.inputs) != 1 || !p.inputs[0].arg.Shared.Mutable {
		t.Fatalf("mutable use: %v %+v", err, p.inputs)
	}
	// A zero-amount coin becomes coin::zero; not enough WAL is refused.
	p = ptb{}
	c := p.coinWithBalance(wal, 0)
	p.transferObjects([]Argument{c}, p.pure(make([]byte, 32)))
	td, err := p.build(Address{}, GasData{}, nil)
	if err != nil || td.Kind.Commands[0].Call.Function != "zero" {
		t.Fatalf("zero coin: %v", err)
	}
	p = ptb{}
	p.coinWithBalance(wal, 100)
	_, err = p.build(Address{}, GasData{}, map[string]CoinSource{wal.String(): {Coins: []Coin{{Balance: 60}}, AddressBalance: 39}})
	if !errors.Is(err, chainlink.ErrInsufficientFunds) {
		t.Fatalf("insufficient: %v", err)
	}
	// More than 500 coins: merged 500 at a time.
	p = ptb{}
	p.coinWithBalance(wal, 1001)
	var coins []Coin
	for i := range 1001 {
		var id Address
		id[0], id[1] = byte(i>>8), byte(i)
		id[31] = 1
		coins = append(coins, Coin{Ref: ObjectRef{ObjectID: id}, Balance: 1})
	}
	td, err = p.build(Address{}, GasData{}, map[string]CoinSource{wal.String(): {Coins: coins}})
	if err != nil {
		t.Fatal(err)
	}
	var merges []int
	for _, c := range td.Kind.Commands {
		if c.Kind == CmdMergeCoins {
			merges = append(merges, len(c.Objects))
		}
	}
	if !slices.Equal(merges, []int{500, 500}) || td.Kind.Commands[len(td.Kind.Commands)-1].Call.Function != "destroy_zero" {
		t.Errorf("merges %v", merges)
	}
}

func TestBuilderRefusals(t *testing.T) {
	f := loadFixtures(t)
	d := f.deployment(t)
	tx := f.tx(t)
	if _, err := d.RegisterBlobTx(tx, RegisterBlob{Size: 1, Prices: f.prices(t)}, WALPayment{}); !errors.Is(err, chainlink.ErrBadRequest) {
		t.Errorf("zero epochs: %v", err)
	}
	if _, err := d.ExtendBlobTx(tx, ExtendBlob{}, WALPayment{}); !errors.Is(err, chainlink.ErrBadRequest) {
		t.Errorf("extend by zero: %v", err)
	}
	if _, err := d.StakeWithPoolTx(tx, Address{}, 0, ObjectRef{}); !errors.Is(err, chainlink.ErrBadRequest) {
		t.Errorf("stake zero: %v", err)
	}
	good := Candidate{Name: "n", NetworkAddress: "/ip4/1.2.3.4/tcp/1", NetworkPublicKey: make([]byte, 33)}
	for _, c := range []Candidate{
		{Name: strings.Repeat("n", 101), NetworkPublicKey: good.NetworkPublicKey},
		{Name: "n", NetworkAddress: strings.Repeat("a", 260), NetworkPublicKey: good.NetworkPublicKey},
		{Name: "n", NetworkPublicKey: make([]byte, 32)},
		{Name: "n", NetworkPublicKey: good.NetworkPublicKey, CommissionRate: 10001},
	} {
		if _, err := d.RegisterCandidateTx(tx, c); !errors.Is(err, chainlink.ErrBadRequest) {
			t.Errorf("%+v: %v", c, err)
		}
	}
	if _, err := d.RegisterCandidateTx(tx, good); err != nil {
		t.Error(err)
	}
}

// TestUnmarshalTransactionDataRefuses checks the decoder's bounds on
// crafted inputs.
func TestUnmarshalTransactionDataRefuses(t *testing.T) {
	f := loadFixtures(t)
	good := buildCase(t, f, &f.Cases[0]).Marshal()
	cases := map[string][]byte{
		"empty":             nil,
		"version 1":         append([]byte{1}, good[1:]...),
		"system kind":       append([]byte{0, 1}, good[2:]...),
		"trailing":          append(bytes.Clone(good), 0),
		"truncated":         good[:len(good)-1],
		"huge input count":  {0, 0, 0xff, 0xff, 0xff, 0xff, 0x07},
		"non-canonical len": {0, 0, 0x80, 0x00},
		"too large":         make([]byte, MaxTxBytes+1),
	}
	for name, b := range cases {
		if _, err := UnmarshalTransactionData(b); !errors.Is(err, ErrBCS) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A floe node's REST URL rides in its network_address as an /https
// multiaddr after the first address, and comes back out of the addresses;
// a Walrus node's host:port is its REST URL.
func TestNodeAddress(t *testing.T) {
	const peer = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"
	addrs := []string{"/ip4/10.0.0.1/tcp/9185", "/ip4/10.0.0.1/udp/9185/quic-v1"}
	for rest, ma := range map[string]string{
		"https://127.0.0.1:9443":      "/ip4/127.0.0.1/tcp/9443/https",
		"https://node0.example:443":   "/dns4/node0.example/tcp/443/https",
		"https://[2001:db8::1]:10443": "/ip6/2001:db8::1/tcp/10443/https",
	} {
		s, err := FormatNodeAddress(peer, addrs, rest)
		if err != nil {
			t.Fatal(err)
		}
		if want := addrs[0] + "/p2p/" + peer + " " + ma + " " + addrs[1]; s != want {
			t.Errorf("formatted %q, want %q", s, want)
		}
		p, a, r := ParseNodeAddress(s)
		if p != peer || !slices.Equal(a, addrs) || r != rest {
			t.Errorf("%q parsed to %q %v %q", s, p, a, r)
		}
	}
	if s, err := FormatNodeAddress(peer, addrs, ""); err != nil || strings.Contains(s, "https") {
		t.Errorf("no REST API: %q %v", s, err)
	}
	if _, err := FormatNodeAddress(peer, addrs, "http://127.0.0.1:1"); err == nil {
		t.Error("an http URL was accepted")
	}
	if p, a, r := ParseNodeAddress("walrus.example:9185"); p != "" || len(a) != 1 || r != "https://walrus.example:9185" {
		t.Errorf("Walrus host:port: %q %v %q", p, a, r)
	}
	if _, _, r := ParseNodeAddress(addrs[0] + "/p2p/" + peer); r != "" {
		t.Errorf("no REST multiaddr gave %q", r)
	}
}
