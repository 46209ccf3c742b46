package sui

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"floe/chainlink"
)

// Fuzz targets for every decoder. BCS is canonical and the decoders refuse
// everything non-canonical, so whatever decodes must re-encode to exactly
// the input; nothing may panic or allocate beyond the input's size. The
// seeds are the SDK's samples and transactions.

func sampleSeeds(f *testing.F, types ...string) {
	s := loadSamples(f)
	for _, x := range s.Samples {
		for _, t := range types {
			if x.Type == t || t == "events::" && strings.HasPrefix(x.Type, t) {
				f.Add(unhex(f, x.BCS))
			}
		}
	}
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
}

func fuzzDecoder(f *testing.F, typ string) {
	sampleSeeds(f, typ)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, again, err := decodeSample(typ, b)
		if err == nil && !bytes.Equal(again, b) {
			t.Fatalf("%s decoded but re-encodes differently\n in %x\nout %x", typ, b, again)
		}
	})
}

func FuzzTransactionData(f *testing.F) {
	fx := loadFixtures(f)
	for _, c := range fx.Cases {
		b, _ := base64.StdEncoding.DecodeString(c.TxBCS)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		td, err := UnmarshalTransactionData(b)
		if err != nil {
			return
		}
		if out := td.Marshal(); !bytes.Equal(out, b) {
			t.Fatalf("decoded but re-encodes differently\n in %x\nout %x", b, out)
		}
		// A signature check on arbitrary bytes never panics.
		VerifyTransactionSignature(b, make([]byte, SignatureSize))
	})
}

func FuzzParseTypeTag(f *testing.F) {
	for _, s := range []string{"u8", "vector<u64>", "0x2::coin::Coin<0x3::wal::WAL>", "0x1::a::B<u8, vector<0x2::c::D>>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tt, err := ParseTypeTag(s)
		if err != nil {
			return
		}
		back, err := ParseTypeTag(tt.String())
		if err != nil || back.String() != tt.String() {
			t.Fatalf("%q → %q does not parse back (%v)", s, tt, err)
		}
	})
}

func FuzzSystem(f *testing.F)             { fuzzDecoder(f, "System") }
func FuzzStaking(f *testing.F)            { fuzzDecoder(f, "Staking") }
func FuzzSystemStateInnerV1(f *testing.F) { fuzzDecoder(f, "SystemStateInnerV1") }
func FuzzSystemStateField(f *testing.F)   { fuzzDecoder(f, "Field<u64,SystemStateInnerV1>") }
func FuzzStakingInnerV1(f *testing.F)     { fuzzDecoder(f, "StakingInnerV1") }
func FuzzStakingField(f *testing.F)       { fuzzDecoder(f, "Field<u64,StakingInnerV1>") }
func FuzzBlsCommittee(f *testing.F)       { fuzzDecoder(f, "BlsCommittee") }
func FuzzCommittee(f *testing.F)          { fuzzDecoder(f, "Committee") }
func FuzzStakingPool(f *testing.F)        { fuzzDecoder(f, "StakingPool") }
func FuzzStorageNodeInfo(f *testing.F)    { fuzzDecoder(f, "StorageNodeInfo") }
func FuzzBlob(f *testing.F)               { fuzzDecoder(f, "Blob") }
func FuzzStorage(f *testing.F)            { fuzzDecoder(f, "Storage") }
func FuzzStorageNodeCap(f *testing.F)     { fuzzDecoder(f, "StorageNodeCap") }
func FuzzStakedWal(f *testing.F)          { fuzzDecoder(f, "StakedWal") }

// FuzzEvent decodes the bytes as each Walrus event in turn.
func FuzzEvent(f *testing.F) {
	sampleSeeds(f, "events::")
	names := EventNames()
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, name := range names {
			v, err := DecodeEvent(name, b)
			if err != nil {
				continue
			}
			out, got, err := EncodeEvent(v)
			if err != nil || got != name || !bytes.Equal(out, b) {
				t.Fatalf("%s decoded but re-encodes differently (%v)\n in %x\nout %x", name, err, b, out)
			}
		}
	})
}

// FuzzNetworkAddress: parsing never panics, and what it yields formats
// back to an address that parses to the same.
func FuzzNetworkAddress(f *testing.F) {
	f.Add("/ip4/10.0.0.1/tcp/9185/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA /dns4/a.example/tcp/1")
	f.Add("walrus.example.com:9185")
	f.Add("[::1]:80")
	f.Add("/ip4/10.0.0.1/tcp/9185/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA /ip4/127.0.0.1/tcp/9443/https")
	f.Fuzz(func(t *testing.T, s string) {
		peer, addrs := ParseNetworkAddress(s)
		if peer == "" {
			return
		}
		out, err := FormatNetworkAddress(peer, addrs)
		if err != nil {
			return // e.g. a non-canonical multiaddr the parser normalised
		}
		p2, a2 := ParseNetworkAddress(out)
		if p2 != peer || len(a2) > len(addrs) {
			t.Fatalf("%q → %q %v → %q → %q %v", s, peer, addrs, out, p2, a2)
		}
		// With the REST URL split out and put back.
		p3, a3, rest := ParseNodeAddress(s)
		if p3 != peer || (rest != "" && chainlink.CheckNetworkAddress(rest) != nil) {
			t.Fatalf("%q → REST %q", s, rest)
		}
		if out, err := FormatNodeAddress(p3, a3, rest); err == nil {
			if p4, _, r4 := ParseNodeAddress(out); p4 != peer || (r4 != rest && len(a3) > 0) {
				t.Fatalf("%q → %q %v %q → %q → %q %q", s, p3, a3, rest, out, p4, r4)
			}
		}
	})
}

func FuzzDigest(f *testing.F) {
	f.Add("Cxuiw6PzsqtFuTq8yBW9XakhSunwe1pi78tLu66MfPRd")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDigest(s)
		if err != nil {
			return
		}
		if back, err := ParseDigest(d.String()); err != nil || back != d {
			t.Fatalf("%q does not round-trip", s)
		}
	})
}
