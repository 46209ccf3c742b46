package codec

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"testing"
)

func TestMetadataBCS(t *testing.T) {
	p, _ := NewParams(1000)
	eb, err := Encode(p, []byte("some other string"))
	if err != nil {
		t.Fatal(err)
	}
	b := eb.Metadata.MarshalBCS()
	if len(b) != 66012 {
		t.Fatalf("BlobMetadata is %d bytes, want 66012 (F4.9)", len(b))
	}
	if b[0] != 0 || b[1] != 1 || b[2] != 17 {
		t.Fatalf("header % x", b[:11])
	}
	withID := MarshalMetadataWithID(eb.BlobID, &eb.Metadata)
	if len(withID) != 66044 || withID[33] != 1 {
		t.Fatalf("BlobMetadataWithId: %d bytes, encoding type byte %d", len(withID), withID[33])
	}
	id, m, err := UnmarshalMetadataWithID(withID)
	if err != nil || id != eb.BlobID {
		t.Fatal(err)
	}
	if err := VerifyMetadata(p, id, &m); err != nil {
		t.Fatal(err)
	}
	// Encoding type 0 (RedStuffRaptorQ) is rejected.
	bad := bytes.Clone(withID)
	bad[33] = 0
	if _, _, err := UnmarshalMetadataWithID(bad); !errors.Is(err, ErrMalformed) {
		t.Fatalf("encoding type 0: %v", err)
	}
	for cut := range []int{0, 1, 33, 42, 100, len(withID) - 1} {
		if _, _, err := UnmarshalMetadataWithID(withID[:cut]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("truncated at %d: %v", cut, err)
		}
	}
	if _, _, err := UnmarshalMetadataWithID(append(bytes.Clone(withID), 0)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("trailing byte: %v", err)
	}
}

func TestSliverAndSymbolBCS(t *testing.T) {
	p, _ := NewParams(10)
	eb, _ := Encode(p, []byte("walrus blob id v1 regression test"))
	pr := eb.Pairs[0]
	// Upstream vector: pair 0's primary sliver and secondary sliver 9 (§16).
	if hex.EncodeToString(pr.Primary.Data) != "77616c72757320626c6f62206964" || hex.EncodeToString(pr.Secondary.Data) != "c2f80b0295ac0000" {
		t.Fatalf("pair 0 = %x / %x", pr.Primary.Data, pr.Secondary.Data)
	}
	if hex.EncodeToString(eb.Pairs[4].Primary.Data) != "cdab9372da2a311fb51600f68aec" || hex.EncodeToString(eb.Pairs[9].Secondary.Data) != "7761207620740000" {
		t.Fatal("pair 4 primary / pair 9 secondary differ from the upstream vector")
	}
	b := pr.Primary.MarshalBCS()
	want := "0e" + "77616c72757320626c6f62206964" + "0200" + "0000"
	if hex.EncodeToString(b) != want {
		t.Fatalf("SliverData BCS %x, want %s", b, want)
	}
	s, err := UnmarshalSliver(b, Primary)
	if err != nil || !bytes.Equal(s.Data, pr.Primary.Data) || s.Index != 0 || s.SymbolSize != 2 {
		t.Fatalf("round trip: %+v %v", s, err)
	}
	src, _ := NewSymbolSource(p, pr.Primary)
	sym, _ := src.Symbol(3)
	back, err := UnmarshalRecoverySymbol(sym.MarshalBCS(), Secondary)
	if err != nil || !bytes.Equal(back.Data, sym.Data) || back.Index != sym.Index || len(back.Proof.Path) != len(sym.Proof.Path) {
		t.Fatalf("recovery symbol round trip: %v", err)
	}
	if err := VerifyRecoverySymbol(p, &eb.Metadata, &back, 3); err != nil {
		t.Fatal(err)
	}
	g := []GeneralRecoverySymbol{{RecoverySymbol: sym, TargetIndex: 3}}
	gs, err := UnmarshalGeneralRecoverySymbols(MarshalGeneralRecoverySymbols(g), 10)
	if err != nil || len(gs) != 1 || gs[0].TargetIndex != 3 || gs[0].Target != Secondary {
		t.Fatalf("general symbols: %+v %v", gs, err)
	}
	if _, err := UnmarshalGeneralRecoverySymbols(MarshalGeneralRecoverySymbols(g), 0); !errors.Is(err, ErrMalformed) {
		t.Fatalf("limit not enforced: %v", err)
	}
}

func TestMessages(t *testing.T) {
	var id BlobID
	for i := range id {
		id[i] = byte(i)
	}
	msg := StorageConfirmationMessage(7, id, BlobPersistence{})
	want := "010003" + "07000000" + hex.EncodeToString(id[:]) + "00"
	if hex.EncodeToString(msg) != want || len(msg) != 40 {
		t.Fatalf("permanent confirmation %x", msg)
	}
	var obj ObjectID
	obj[0] = 9
	del := StorageConfirmationMessage(7, id, BlobPersistence{Deletable: true, ObjectID: obj})
	if len(del) != 72 {
		t.Fatalf("deletable confirmation has %d bytes", len(del))
	}
	c, err := ParseStorageConfirmation(del)
	if err != nil || !c.Persistence.Deletable || c.Persistence.ObjectID != obj || c.Epoch != 7 || c.BlobID != id {
		t.Fatalf("parse: %+v %v", c, err)
	}
	if _, err := ParseStorageConfirmation(msg[:39]); !errors.Is(err, ErrMalformedMessage) {
		t.Fatalf("short message: %v", err)
	}
	inv := InvalidBlobIDMessage(3, id)
	if e, got, err := ParseInvalidBlobID(inv); err != nil || e != 3 || got != id || inv[0] != IntentInvalidBlobID {
		t.Fatalf("invalid blob id message: %v", err)
	}
	sm := SignedMessage{Message: msg}
	sm.Signature[95] = 1
	back, err := UnmarshalSignedMessage(sm.MarshalBCS(), 1024)
	if err != nil || !bytes.Equal(back.Message, msg) || back.Signature != sm.Signature {
		t.Fatalf("signed message: %v", err)
	}
}

func TestBlobIDText(t *testing.T) {
	id, err := ParseBlobID("RcU82Mwf-CFkv1LaI_2qcpANwpGUuG3TMwnVzZxD2kY")
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(id[:]) != "45c53cd8cc1ff82164bf52da23fdaa72900dc29194b86dd33309d5cd9c43da46" {
		t.Fatalf("bytes %x", id)
	}
	if id.U256().String() != "32047538705383907710745794627166216794695117628018721399077707816295890470213" {
		t.Fatalf("u256 %s", id.U256())
	}
	for _, bad := range []string{"", "abc", "RcU82Mwf-CFkv1LaI_2qcpANwpGUuG3TMwnVzZxD2k", "RcU82Mwf-CFkv1LaI_2qcpANwpGUuG3TMwnVzZxD2k+", "RcU82Mwf-CFkv1LaI_2qcpANwpGUuG3TMwnVzZxD2kY="} {
		if _, err := ParseBlobID(bad); !errors.Is(err, ErrInvalidBlobID) {
			t.Errorf("ParseBlobID(%q) = %v", bad, err)
		}
	}
}

func TestParams(t *testing.T) {
	for _, tc := range []struct{ n, prim, sec int }{
		{4, 2, 3}, {7, 3, 5}, {9, 5, 7}, {10, 4, 7}, {31, 11, 21}, {51, 19, 35},
		{100, 34, 67}, {101, 35, 68}, {301, 101, 201}, {1000, 334, 667},
	} {
		p, err := NewParams(tc.n)
		if err != nil || p.Primary() != tc.prim || p.Secondary() != tc.sec {
			t.Errorf("n=%d: (%d,%d) %v, want (%d,%d)", tc.n, p.Primary(), p.Secondary(), err, tc.prim, tc.sec)
		}
	}
	for _, n := range []int{0, 1, 3, 65536, -1} {
		if _, err := NewParams(n); !errors.Is(err, ErrShardCount) {
			t.Errorf("NewParams(%d) = %v", n, err)
		}
	}
	p1000, _ := NewParams(1000)
	if p1000.MaxBlobSize() != 14599533452 {
		t.Errorf("max blob size %d", p1000.MaxBlobSize())
	}
	if _, err := p1000.SymbolSize(p1000.MaxBlobSize() + 1); !errors.Is(err, ErrBlobTooLarge) {
		t.Error("oversized blob accepted")
	}
	p10, _ := NewParams(10)
	if l, _ := p10.EncodedLength(1); l != 6940 {
		t.Errorf("encoded length n=10 len=1: %d, want 6940", l)
	}
	if l, _ := p1000.EncodedLength(17); l != 66034000 {
		t.Errorf("encoded length n=1000 len=17: %d, want 66034000", l)
	}
	for _, tc := range []struct {
		n    int
		l    uint64
		want int
	}{{1000, 445556, 2}, {1000, 445557, 4}, {1000, 1 << 20, 6}, {1000, 64 << 20, 302}} {
		p, _ := NewParams(tc.n)
		if s, _ := p.SymbolSize(tc.l); s != tc.want {
			t.Errorf("symbol size n=%d len=%d: %d, want %d", tc.n, tc.l, s, tc.want)
		}
	}
	// Every n from 4 up to the largest the RS library supports is accepted
	// and has both codes; every n past it is refused.
	maxOK := 0
	for n := MinShards; n <= MaxShards; n++ {
		p, err := NewParams(n)
		if err != nil {
			if !errors.Is(err, ErrShardCount) {
				t.Fatalf("n=%d: %v", n, err)
			}
			continue
		}
		if maxOK != n-1 && n != MinShards {
			t.Fatalf("n=%d accepted after a refused n (largest accepted so far %d)", n, maxOK)
		}
		maxOK = n
		if n%97 == 0 || n < 200 {
			if _, err := p.codes(); err != nil {
				t.Fatalf("n=%d: %v", n, err)
			}
		}
	}
	if maxOK < 40000 {
		t.Fatalf("largest supported n is %d", maxOK)
	}
	t.Logf("largest supported n_shards: %d", maxOK)
	_ = rand.Int
}

// The SyncShardMsg layout of F7.11: the header of intent 3 with the epoch,
// then SyncShardRequest::V1 in serde field order.
func TestSyncShardMessage(t *testing.T) {
	var start BlobID
	for i := range start {
		start[i] = byte(i)
	}
	r := SyncShardRequest{Shard: 0x0102, Type: Secondary, Start: start, Count: 1000, Epoch: 0x0a0b0c0d}
	msg := SyncShardMessage(r)
	want := "030003" + "0d0c0b0a" + "00" + "0201" + "01" + hex.EncodeToString(start[:]) + "e803000000000000" + "0d0c0b0a"
	if hex.EncodeToString(msg) != want || len(msg) != SyncShardMessageSize {
		t.Fatalf("sync-shard message %x\nwant %s", msg, want)
	}
	back, err := ParseSyncShardMessage(msg)
	if err != nil || back != r {
		t.Fatalf("parse: %+v %v", back, err)
	}
	bad := func(name string, f func([]byte)) {
		b := bytes.Clone(msg)
		f(b)
		if _, err := ParseSyncShardMessage(b); !errors.Is(err, ErrMalformedMessage) {
			t.Errorf("%s: %v", name, err)
		}
	}
	bad("intent", func(b []byte) { b[0] = IntentBlobCertification })
	bad("variant", func(b []byte) { b[7] = 1 })
	bad("sliver type", func(b []byte) { b[10] = 2 })
	bad("epochs disagree", func(b []byte) { b[len(b)-1] ^= 1 })
	if _, err := ParseSyncShardMessage(msg[:len(msg)-1]); !errors.Is(err, ErrMalformedMessage) {
		t.Errorf("short: %v", err)
	}
	if _, err := ParseSyncShardMessage(append(bytes.Clone(msg), 0)); !errors.Is(err, ErrMalformedMessage) {
		t.Errorf("long: %v", err)
	}
}

// A sliver's BCS splits into SliverBCSHeadLen, the symbols and
// SliverBCSTailLen bytes, and SliverFromBCSParts reads it back from the
// parts; a head that names another length, or short parts, are refused.
func TestSliverFromBCSParts(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 16383, 16384, 1 << 21} {
		sl := Sliver{Type: Secondary, Index: 513, SymbolSize: 2, Data: bytes.Repeat([]byte{7, 9}, n/2)}
		sl.Data = append(sl.Data, make([]byte, n%2)...)
		b := sl.MarshalBCS()
		h := SliverBCSHeadLen(n)
		if len(b) != h+n+SliverBCSTailLen {
			t.Fatalf("%d bytes of symbols: BCS of %d bytes, head %d", n, len(b), h)
		}
		got, err := SliverFromBCSParts(Secondary, b[:h], b[h:h+n], b[h+n:])
		if err != nil || got.Index != sl.Index || got.SymbolSize != sl.SymbolSize || got.Type != Secondary || !bytes.Equal(got.Data, sl.Data) {
			t.Fatalf("%d bytes of symbols: %+v, %v", n, got.Index, err)
		}
		if n > 0 {
			if _, err := SliverFromBCSParts(Secondary, b[:h], b[h:h+n-1], b[h+n-1:len(b)-1]); !errors.Is(err, ErrMalformed) {
				t.Fatalf("%d bytes of symbols, one short: %v", n, err)
			}
		}
		if _, err := SliverFromBCSParts(Secondary, b[:h], b[h:h+n], b[h+n:len(b)-1]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%d bytes of symbols, short tail: %v", n, err)
		}
	}
}
