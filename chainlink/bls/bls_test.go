package bls

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"floe/codec"
)

func testKeys(t testing.TB, n int) []*SecretKey {
	t.Helper()
	ks := make([]*SecretKey, n)
	for i := range ks {
		seed := bytes.Repeat([]byte{byte(i), byte(i >> 8), 0x5a}, 11)
		k, err := KeyFromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		ks[i] = k
	}
	return ks
}

func TestSignVerify(t *testing.T) {
	ks := testKeys(t, 2)
	msg := codec.StorageConfirmationMessage(3, codec.BlobID{1}, codec.BlobPersistence{})
	sig := ks[0].Sign(msg)
	if err := Verify(ks[0].PublicKey(), msg, sig); err != nil {
		t.Fatal(err)
	}
	if err := Verify(ks[1].PublicKey(), msg, sig); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("other key: %v", err)
	}
	msg[3]++
	if err := Verify(ks[0].PublicKey(), msg, sig); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("other message: %v", err)
	}
	if err := Verify(PublicKey{}, msg, sig); !errors.Is(err, ErrInvalidPublicKey) {
		t.Fatalf("zero key: %v", err)
	}
	var inf PublicKey
	inf[0] = 0xc0 // compressed identity
	if err := inf.Validate(); !errors.Is(err, ErrInvalidPublicKey) {
		t.Fatalf("identity key accepted: %v", err)
	}
	if err := Verify(ks[0].PublicKey(), msg, Signature{}); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("zero sig: %v", err)
	}
	// Round trip of the secret key.
	k2, err := ParseSecretKey(ks[0].Bytes())
	if err != nil || k2.PublicKey() != ks[0].PublicKey() {
		t.Fatalf("secret key round trip: %v", err)
	}
	if _, err := ParseSecretKey(make([]byte, 32)); err == nil {
		t.Fatal("zero secret key accepted")
	}
}

// Sizes and the DST are those of F8.1; the encodings are the ZCash compressed
// forms fastcrypto uses (top bits flag compression).
func TestEncodings(t *testing.T) {
	k := testKeys(t, 1)[0]
	pk := k.PublicKey()
	if pk[0]&0x80 == 0 {
		t.Fatal("public key not in compressed form")
	}
	sig := k.Sign([]byte("x"))
	if sig[0]&0x80 == 0 {
		t.Fatal("signature not in compressed form")
	}
	txt, _ := pk.MarshalText()
	var back PublicKey
	if err := back.UnmarshalText(txt); err != nil || back != pk {
		t.Fatal("public key text round trip")
	}
}

func TestProofOfPossession(t *testing.T) {
	k := testKeys(t, 1)[0]
	addr := [32]byte{7}
	pop := k.ProofOfPossession(5, addr)
	if err := VerifyProofOfPossession(k.PublicKey(), 5, addr, pop); err != nil {
		t.Fatal(err)
	}
	if err := VerifyProofOfPossession(k.PublicKey(), 6, addr, pop); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("wrong epoch: %v", err)
	}
	if err := VerifyProofOfPossession(k.PublicKey(), 5, [32]byte{8}, pop); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("wrong address: %v", err)
	}
}

func TestBitmap(t *testing.T) {
	for _, tc := range []struct {
		members int
		signers []uint16
		want    []byte
		err     error
	}{
		{members: 10, signers: []uint16{0, 3, 9}, want: []byte{0x09, 0x02}},
		{members: 8, signers: []uint16{7}, want: []byte{0x80}},
		{members: 9, signers: nil, want: []byte{0, 0}},
		{members: 10, signers: []uint16{3, 3}, err: ErrDuplicateSigner},
		{members: 10, signers: []uint16{10}, err: ErrSignerOutOfRange},
	} {
		got, err := SignersToBitmap(tc.members, tc.signers)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%v: err %v, want %v", tc.signers, err, tc.err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("%v: %x %v, want %x", tc.signers, got, err, tc.want)
		}
		back, err := BitmapToSigners(tc.members, got)
		if err != nil || fmt.Sprint(back) != fmt.Sprint(tc.signers) && len(tc.signers) > 0 {
			t.Errorf("back %v %v", back, err)
		}
	}
	for _, bad := range [][]byte{{0, 0, 0}, {0, 0x04}, {0, 0x80}} {
		if _, err := BitmapToSigners(10, bad); !errors.Is(err, ErrBadBitmap) {
			t.Errorf("%x: %v", bad, err)
		}
	}
	// A short bitmap is accepted: missing bytes are non-signers.
	if s, err := BitmapToSigners(10, []byte{1}); err != nil || len(s) != 1 {
		t.Errorf("short bitmap: %v %v", s, err)
	}
}

type committee struct {
	keys    []*SecretKey
	members []Member
	v       *Verifier
}

func newCommittee(t testing.TB, weights []int) committee {
	t.Helper()
	c := committee{keys: testKeys(t, len(weights))}
	for i, w := range weights {
		c.members = append(c.members, Member{PublicKey: c.keys[i].PublicKey(), Weight: w})
	}
	v, err := NewVerifier(c.members)
	if err != nil {
		t.Fatal(err)
	}
	c.v = v
	return c
}

func (c committee) sign(t testing.TB, msg []byte, signers ...uint16) (Signature, []byte) {
	t.Helper()
	var sigs []Signature
	for _, s := range signers {
		sigs = append(sigs, c.keys[s].Sign(msg))
	}
	agg, err := Aggregate(sigs)
	if err != nil {
		t.Fatal(err)
	}
	bm, err := SignersToBitmap(len(c.keys), signers)
	if err != nil {
		t.Fatal(err)
	}
	return agg, bm
}

func TestVerifier(t *testing.T) {
	// 10 shards over 4 members: weights 4,3,2,1. Quorum: 3w ≥ 21 → w ≥ 7.
	c := newCommittee(t, []int{4, 3, 2, 1})
	msg := codec.StorageConfirmationMessage(1, codec.BlobID{9}, codec.BlobPersistence{})

	sig, bm := c.sign(t, msg, 0, 1)
	if w, err := c.v.Verify(Quorum, msg, sig, bm); err != nil || w != 7 {
		t.Fatalf("valid: %d %v", w, err)
	}
	sig, bm = c.sign(t, msg, 0, 2)
	if _, err := c.v.Verify(Quorum, msg, sig, bm); !errors.Is(err, ErrQuorum) {
		t.Fatalf("weight 6: %v", err)
	}
	// One correct: 3w ≥ 11 → w ≥ 4.
	if _, err := c.v.Verify(OneCorrect, msg, sig, bm); err != nil {
		t.Fatalf("one correct: %v", err)
	}
	sig, bm = c.sign(t, msg, 3)
	if _, err := c.v.Verify(OneCorrect, msg, sig, bm); !errors.Is(err, ErrQuorum) {
		t.Fatalf("one correct, weight 1: %v", err)
	}
	// Forged signer: claims member 2 signed but it did not.
	sig, _ = c.sign(t, msg, 0, 1)
	bm, _ = SignersToBitmap(4, []uint16{0, 1, 2})
	if _, err := c.v.Verify(Quorum, msg, sig, bm); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("forged signer: %v", err)
	}
	// Member 1's signature counted twice in the aggregate.
	dup, _ := Aggregate([]Signature{c.keys[0].Sign(msg), c.keys[1].Sign(msg), c.keys[1].Sign(msg)})
	bm, _ = SignersToBitmap(4, []uint16{0, 1})
	if _, err := c.v.Verify(Quorum, msg, dup, bm); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("duplicated signature: %v", err)
	}
	// Stray bits / long bitmap.
	sig, bm = c.sign(t, msg, 0, 1)
	if _, err := c.v.Verify(Quorum, msg, sig, []byte{bm[0] | 0x10}); !errors.Is(err, ErrBadBitmap) {
		t.Fatalf("stray bit: %v", err)
	}
	if _, err := c.v.Verify(Quorum, msg, sig, []byte{bm[0], 0}); !errors.Is(err, ErrBadBitmap) {
		t.Fatalf("long bitmap: %v", err)
	}
	// Different message.
	other := codec.StorageConfirmationMessage(1, codec.BlobID{8}, codec.BlobPersistence{})
	if _, err := c.v.Verify(Quorum, other, sig, bm); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("other message: %v", err)
	}
	// Garbage signature.
	if _, err := c.v.Verify(Quorum, msg, Signature{1}, bm); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("garbage sig: %v", err)
	}
	// All signers.
	sig, bm = c.sign(t, msg, 0, 1, 2, 3)
	if w, err := c.v.Verify(Quorum, msg, sig, bm); err != nil || w != 10 {
		t.Fatalf("all: %d %v", w, err)
	}
}

func TestQuorumBoundary(t *testing.T) {
	for n := 1; n <= 1000; n++ {
		f := (n - 1) / 3
		// n - f shards always reach quorum; one less never does when f > 0
		// (Walrus's quorum is exactly n-f: 3(n-f) ≥ 2n+1 ⇔ n ≥ 3f+1).
		if !Quorum.Reached(n-f, n) {
			t.Fatalf("n=%d: n-f=%d not a quorum", n, n-f)
		}
		if Quorum.Reached(n-f-1, n) {
			t.Fatalf("n=%d: n-f-1 is a quorum", n)
		}
		if n == 3*f+1 && (!OneCorrect.Reached(f+1, n) || OneCorrect.Reached(f, n)) {
			t.Fatalf("n=%d: f+1 threshold", n)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, size := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("members=%d", size), func(b *testing.B) {
			weights := make([]int, size)
			for i := range weights {
				weights[i] = 1
			}
			c := newCommittee(b, weights)
			msg := codec.StorageConfirmationMessage(1, codec.BlobID{9}, codec.BlobPersistence{})
			f := (size - 1) / 3
			signers := make([]uint16, 0, size-f)
			for i := f; i < size; i++ { // the first f members do not sign
				signers = append(signers, uint16(i))
			}
			sig, bm := c.sign(b, msg, signers...)
			b.ResetTimer()
			for b.Loop() {
				if _, err := c.v.Verify(Quorum, msg, sig, bm); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
